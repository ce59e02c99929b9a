//! Sources of document snapshots: the 1C database (PostgreSQL or MS SQL) read through mapped
//! queries, or memory in tests. A source reports what changed since a checkpoint; it never
//! writes to the 1C database.

pub mod decode;
pub mod memory;
pub mod mssql;
pub mod namemap;
pub mod postgres;
pub mod queries;
pub mod settings;
pub mod template;
pub mod window;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use crate::db::mssql::MssqlTarget;
use crate::db::postgres::PgTarget;
use settings::{NameMapSettings, SourceKind, SourceSettings};

use crate::domain::snapshot::{DocKind, DocRef, DocumentSnapshot};

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

/// Where a cycle's read stands between chunks. The bounds are fixed when the read opens: the
/// previous checkpoint below, this cycle's own snapshot (or row version) above. A row version
/// written while the cycle runs lies above the upper bound, so no chunk reads it and the next
/// cycle does: a change is read whole by one cycle, never half by two. Each chunk is its own
/// short read; no transaction stays open between chunks.
#[derive(Debug, Clone)]
pub struct CycleRead {
    /// The checkpoint to store once every chunk is recorded.
    pub checkpoint: String,
    /// The database server's local time when the read opened.
    pub read_at: NaiveDateTime,
    /// What this cycle reads (first read, exact scan or window), below `bound`.
    pub plan: window::ReadPlan,
    /// This cycle's upper bound, in the source's own checkpoint form.
    pub bound: String,
    /// The cut-off date of the read.
    pub cutoff: NaiveDate,
    /// The keyset position: the last document returned, in read order.
    pub after: Option<ChunkKey>,
    /// A source that reads everything at once keeps its read here until the first chunk.
    pub whole: Option<(Vec<DocumentSnapshot>, Vec<RejectedDocument>)>,
    /// A source that finds the change set's keys once when the read opens keeps them here;
    /// the chunks then read the documents by key.
    pub pending: Option<PendingKeys>,
    /// No more chunks.
    pub done: bool,
}

/// A document's place in the read order: kind (bookings first), stored date, reference bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChunkKey {
    pub kind: DocKind,
    pub date: NaiveDateTime,
    pub reference: Vec<u8>,
}

impl ChunkKey {
    /// The key before every document of a kind in the read order.
    pub fn first(kind: DocKind) -> ChunkKey {
        ChunkKey {
            kind,
            // 1C's empty date; the cut-off excludes it anyway.
            date: NaiveDate::from_ymd_opt(1, 1, 1)
                .unwrap_or_default()
                .and_time(NaiveTime::MIN),
            reference: Vec::new(),
        }
    }
}

/// The references of a change set, found once when the read opened and read by chunks after:
/// per kind, in read order, 16 bytes each (a 1C reference), so that the change filter runs once
/// per cycle whatever the number of chunks, in memory bounded by the keys alone (16 MB for a
/// million changed documents).
#[derive(Debug, Clone, Default)]
pub struct PendingKeys {
    pub bookings: Vec<[u8; 16]>,
    pub work_orders: Vec<[u8; 16]>,
    /// Keys of the current kind already handed out.
    pub taken: usize,
}

impl PendingKeys {
    /// The next at most `limit` keys in read order, with their kind; `None` when none are left.
    pub fn take(&mut self, limit: usize) -> Option<(DocKind, &[[u8; 16]])> {
        if self.taken >= self.bookings.len() && !self.bookings.is_empty() {
            self.bookings = Vec::new();
            self.taken = 0;
        }
        let (kind, keys) = match self.bookings.is_empty() {
            false => (DocKind::Booking, &self.bookings),
            true => (DocKind::WorkOrder, &self.work_orders),
        };
        let start = self.taken.min(keys.len());
        let end = start.saturating_add(limit.max(1)).min(keys.len());
        self.taken = end;
        (start < end).then(|| (kind, &keys[start..end]))
    }
}

/// One chunk of a cycle's read.
#[derive(Debug, Clone, Default)]
pub struct Chunk {
    pub documents: Vec<DocumentSnapshot>,
    pub rejected: Vec<RejectedDocument>,
}

impl CycleRead {
    /// A read whose change set was taken at once (sources without chunked queries).
    pub fn whole(changes: ChangeSet, cutoff: NaiveDate) -> CycleRead {
        CycleRead {
            checkpoint: changes.checkpoint,
            read_at: changes.read_at,
            plan: window::ReadPlan::Start,
            bound: String::new(),
            cutoff,
            after: None,
            whole: Some((changes.documents, changes.rejected)),
            pending: None,
            done: false,
        }
    }

    /// Moves the keyset position of a database read past a chunk of `kind`: a short chunk
    /// (fewer rows than asked) ends the kind, work orders following bookings; a full one goes
    /// on after its last row, whose key `last` reads (only then, so a short chunk's last row
    /// is never decoded).
    pub(crate) fn pass_chunk(
        &mut self,
        kind: DocKind,
        short: bool,
        last: impl FnOnce() -> Result<Option<ChunkKey>, SourceError>,
    ) -> Result<(), SourceError> {
        if short {
            match kind {
                DocKind::Booking => self.after = Some(ChunkKey::first(DocKind::WorkOrder)),
                DocKind::WorkOrder => self.done = true,
            }
        } else if let Some(key) = last()? {
            self.after = Some(key);
        }
        Ok(())
    }
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

    /// Opens a chunked read of the documents changed since `from`: fixes the cycle's bounds and
    /// the checkpoint to store after its last chunk. By default the whole change set is read now
    /// and handed out as one chunk.
    async fn open_read(
        &mut self,
        from: &ReadFrom,
        cutoff: NaiveDate,
    ) -> Result<CycleRead, SourceError> {
        Ok(CycleRead::whole(self.changes(from, cutoff).await?, cutoff))
    }

    /// The next at most `limit` documents of `read` in read order (rejected ones besides), or
    /// `None` when the read is done.
    async fn next_chunk(
        &mut self,
        read: &mut CycleRead,
        limit: usize,
    ) -> Result<Option<Chunk>, SourceError> {
        let _ = limit;
        read.done = true;
        Ok(read.whole.take().map(|(documents, rejected)| Chunk {
            documents,
            rejected,
        }))
    }
}

/// The whole change set as one chunk: what `changes` returns on a source that reads in chunks.
pub(crate) async fn read_whole<S: Source>(
    source: &mut S,
    from: &ReadFrom,
    cutoff: NaiveDate,
) -> Result<ChangeSet, SourceError> {
    // A chunk size no change set reaches.
    read_all(source, from, cutoff, 1 << 40).await
}

/// Reads every chunk of a cycle into one change set (dry runs, `doctor`, tests).
pub async fn read_all<S: Source>(
    source: &mut S,
    from: &ReadFrom,
    cutoff: NaiveDate,
    limit: usize,
) -> Result<ChangeSet, SourceError> {
    let mut read = source.open_read(from, cutoff).await?;
    let mut changes = ChangeSet {
        documents: Vec::new(),
        rejected: Vec::new(),
        checkpoint: read.checkpoint.clone(),
        read_at: read.read_at,
    };
    while let Some(chunk) = source.next_chunk(&mut read, limit).await? {
        changes.documents.extend(chunk.documents);
        changes.rejected.extend(chunk.rejected);
    }
    Ok(changes)
}

/// The source the configuration names.
// One per process, so the size of the larger variant costs nothing.
#[allow(clippy::large_enum_variant)]
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

    async fn open_read(
        &mut self,
        from: &ReadFrom,
        cutoff: NaiveDate,
    ) -> Result<CycleRead, SourceError> {
        match self {
            AnySource::Postgres(source) => source.open_read(from, cutoff).await,
            AnySource::Mssql(source) => source.open_read(from, cutoff).await,
        }
    }

    async fn next_chunk(
        &mut self,
        read: &mut CycleRead,
        limit: usize,
    ) -> Result<Option<Chunk>, SourceError> {
        match self {
            AnySource::Postgres(source) => source.next_chunk(read, limit).await,
            AnySource::Mssql(source) => source.next_chunk(read, limit).await,
        }
    }
}

/// Loads the name map and checks it has every entry the preset's queries use, with storage
/// names for the configured database. Takes the config (`&Config`) or its settings.
pub fn load_name_map(
    settings: impl Into<NameMapSettings>,
) -> Result<namemap::NameMap, SourceError> {
    let settings = settings.into();
    let path = &settings.path;
    if !path.exists() {
        return Err(SourceError::NameMap(format!(
            "{} does not exist; write it with `alfa-calltouch --config <this config> discover` \
             (it reads the names from the 1C database's own metadata, see docs/name-map.md), \
             or set source.name_map to where it is",
            path.display()
        )));
    }
    let map = namemap::NameMap::load(path)
        .map_err(|e| SourceError::NameMap(format!("{}: {e}", path.display())))?;
    match settings.kind {
        SourceKind::Postgres => postgres::check_name_map(settings.preset, &map)?,
        SourceKind::Mssql => mssql::check_name_map(settings.preset, &map)?,
    }
    Ok(map)
}

/// Connects to the 1C database the settings name. Takes the config (`&Config`) or its settings.
pub async fn open(settings: impl Into<SourceSettings>) -> Result<AnySource, SourceError> {
    let settings = settings.into();
    let map = load_name_map(settings.name_map.clone())?;
    let endpoint = settings.endpoint.clone()?;
    match settings.name_map.kind {
        SourceKind::Postgres => {
            let target = PgTarget::new(&endpoint, "alfa-calltouch")?;
            let source = postgres::PostgresSource::connect(&settings, target, map).await?;
            Ok(AnySource::Postgres(source))
        }
        SourceKind::Mssql => {
            let target = MssqlTarget::new(&endpoint, "alfa-calltouch")?;
            let source = mssql::MssqlSource::connect(&settings, target, map).await?;
            Ok(AnySource::Mssql(source))
        }
    }
}
