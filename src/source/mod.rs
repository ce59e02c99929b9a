//! Sources of document snapshots: the 1C database (PostgreSQL or MS SQL) read through mapped
//! queries, or memory in tests. A source reports what changed since a checkpoint; it never
//! writes to the 1C database.

pub mod decode;
pub mod memory;
pub mod mssql;
pub mod namemap;
pub mod postgres;
pub mod queries;
pub mod template;
pub mod window;

use chrono::{NaiveDate, NaiveDateTime};

use crate::config::{Config, SourceKind};
use crate::db::mssql::MssqlTarget;
use crate::db::postgres::PgTarget;
use crate::db::Endpoint;

use crate::snapshot::{DocKind, DocRef, DocumentSnapshot};

/// Where a cycle starts reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadFrom {
    /// No checkpoint yet (first run or after `reset-checkpoint`): every document dated on or
    /// after the cut-off.
    Start,
    /// The opaque checkpoint a previous cycle returned.
    Checkpoint(String),
}

/// A document that could not be turned into a snapshot (bad data), named for the register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedDocument {
    pub kind: DocKind,
    pub reference: DocRef,
    /// The number if it could be read.
    pub number: Option<String>,
    /// The 1C field at fault, e.g. `Дата`.
    pub field: String,
    pub reason: String,
}

/// What one read returned.
#[derive(Debug, Clone)]
pub struct ChangeSet {
    /// Documents changed since the checkpoint, bookings before work orders.
    pub documents: Vec<DocumentSnapshot>,
    /// Changed documents whose rows could not be decoded.
    pub rejected: Vec<RejectedDocument>,
    /// The checkpoint to store once every document above is recorded.
    pub checkpoint: String,
    /// The database server's local time at the read: "now" in the 1C base's time.
    pub read_at: NaiveDateTime,
}

/// A source failure that stops the cycle (connection, mapping, SQL); bad data of one document
/// is a `RejectedDocument` instead.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot connect to the 1C database: {0}")]
    Connect(String),
    /// A connection that failed, in the words of the server or the network.
    #[error(transparent)]
    Connection(#[from] crate::db::ConnectError),
    #[error("name map: {0}")]
    NameMap(String),
    #[error("query {query} failed: {message}")]
    Query { query: String, message: String },
    #[error("checkpoint {0:?} is not valid for this source; run `reset-checkpoint`")]
    BadCheckpoint(String),
}

/// A reader of changed 1C documents.
#[allow(async_fn_in_trait)]
pub trait Source {
    /// Documents changed since `from`, dated on or after `cutoff`.
    async fn changes(
        &mut self,
        from: &ReadFrom,
        cutoff: NaiveDate,
    ) -> Result<ChangeSet, SourceError>;

    /// Documents with this number (any date, both kinds), for `preview`.
    async fn find_by_number(&mut self, number: &str) -> Result<Vec<DocumentSnapshot>, SourceError>;
}

/// The source the configuration names.
pub enum AnySource {
    Postgres(postgres::PostgresSource),
    Mssql(mssql::MssqlSource),
}

impl Source for AnySource {
    async fn changes(
        &mut self,
        from: &ReadFrom,
        cutoff: NaiveDate,
    ) -> Result<ChangeSet, SourceError> {
        match self {
            AnySource::Postgres(source) => source.changes(from, cutoff).await,
            AnySource::Mssql(source) => source.changes(from, cutoff).await,
        }
    }

    async fn find_by_number(&mut self, number: &str) -> Result<Vec<DocumentSnapshot>, SourceError> {
        match self {
            AnySource::Postgres(source) => source.find_by_number(number).await,
            AnySource::Mssql(source) => source.find_by_number(number).await,
        }
    }
}

/// Loads the name map and checks it has every entry the preset's queries use, with storage
/// names for the configured database.
pub fn load_name_map(config: &Config) -> Result<namemap::NameMap, SourceError> {
    let path = config.name_map_path();
    if !path.exists() {
        return Err(SourceError::NameMap(format!(
            "{} does not exist; write it with `alfa-calltouch --config <this config> discover` \
             (it reads the names from the 1C database's own metadata, see docs/name-map.md), \
             or set source.name_map to where it is",
            path.display()
        )));
    }
    let map = namemap::NameMap::load(&path)
        .map_err(|e| SourceError::NameMap(format!("{}: {e}", path.display())))?;
    match config.source.kind {
        SourceKind::Postgres => postgres::check_name_map(config.source.preset, &map)?,
        SourceKind::Mssql => mssql::check_name_map(config.source.preset, &map)?,
    }
    Ok(map)
}

/// Connects to the 1C database the configuration names.
pub async fn open(config: &Config) -> Result<AnySource, SourceError> {
    let map = load_name_map(config)?;
    let endpoint = Endpoint::source(config)?;
    match config.source.kind {
        SourceKind::Postgres => {
            let target = PgTarget::new(&endpoint, "alfa-calltouch")?;
            let source = postgres::PostgresSource::connect(&config.source, target, map).await?;
            Ok(AnySource::Postgres(source))
        }
        SourceKind::Mssql => {
            let target = MssqlTarget::new(&endpoint, "alfa-calltouch")?;
            let source = mssql::MssqlSource::connect(&config.source, target, map).await?;
            Ok(AnySource::Mssql(source))
        }
    }
}
