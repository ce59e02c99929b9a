//! The MS SQL Server source: reads bookings and work orders from a 1C «Альфа-Авто» database on
//! MS SQL Server through tiberius and the mapped queries in `sql/mssql`, and reports exactly
//! what changed since the previous read.
//!
//! # Connecting
//! Through [`crate::db::mssql`], as the register: `host` and `port` or a named `instance`,
//! `tls`, `ca_file`, `trust_server_certificate` as an explicit opt-in, a SQL Server login or
//! Windows integrated authentication. Connecting is bounded by `connect_timeout_secs`, every
//! query by `query_timeout_secs`. After a failed or timed-out query the connection is dropped
//! (its stream is in an unknown state) and the next read reconnects. The password goes only to
//! the server: no error or log line contains it.
//!
//! # Reading
//! Nothing but `SELECT`. At each connect the source reads whether the database has
//! `READ_COMMITTED_SNAPSHOT` on (1C bases in managed-lock mode have it): then READ COMMITTED
//! readers take no shared locks and never block 1C. When it is off, the source reads under
//! `SNAPSHOT` isolation if the database allows it, and otherwise under READ COMMITTED with a
//! warning (readers may then wait for 1C's locks, bounded by the lock and query timeouts). It
//! never reads uncommitted data (`NOLOCK`), which could skip or repeat rows. The login needs
//! only `SELECT` (`sql/mssql/grants.sql`).
//!
//! A cycle reads in keyset chunks (`(_Date_Time, _IDRRef)`, bookings first, `TOP` rows of
//! `sync.chunk_documents`), one statement each; the bound read when the cycle opens stays the
//! upper bound of every chunk (`_Version` below it), so a row written while the cycle runs is
//! left whole to the next cycle. No transaction stays open between chunks.
//!
//! # Exact change detection with `_Version`
//! 1C tables on MS SQL have a `_Version rowversion` column: a database-wide counter stamped on
//! every insert and update. Each cycle first reads `MIN_ACTIVE_ROWVERSION()` — every version
//! below it belongs to a committed transaction — and then reads rows with
//! `previous < _Version < upper bound`. The next checkpoint is `upper bound − 1`. A transaction
//! still open at a read holds a version at or above that read's bound, so its rows are read by
//! the first cycle after it commits; a `@@DBTS` or date watermark would skip them. The
//! checkpoint text is `rv:` and the 8 bytes as 16 hex digits, compared as an unsigned big-endian
//! number; one ahead of the server's bound (a restored or replaced database) is refused as
//! [`SourceError::BadCheckpoint`].
//!
//! Changed documents are the document rows changed, plus (6.x) work orders whose
//! `Документ.СводныйРемонтныйЗаказ` changed, since customer, car and phone live there.
//!
//! Limits: `РегистрСведений.ЖурналСостояний` is an independent register and has no `_Version`.
//! 1C writes its records from `ЗаказНаряд.ПриЗаписи`, in the transaction that rewrites the work
//! order, so the work order's own version catches them; a record written alone (an exchange
//! load, or `ЗаписьВЖурналСостояний` from custom code) is seen with the work order's next
//! change. `_Version` is not indexed, so a changes query scans the document table; the
//! date filter keeps the rows decoded small. Deleting rows is not a change this source sees
//! (1C marks for deletion instead).
//!
//! # The recent window (`change_window_days = N > 0`)
//! As on PostgreSQL (the mode logic is `source::window`'s): most cycles apply the same
//! `_Version` test only to candidates found through indexes 1C keeps — documents dated in the
//! window (`_ByDocDate` on `_Date_Time`) and work orders with a state-journal record in it (the
//! journal's `_ByPeriod` on `_Period`) — and every `reconcile_hours` a cycle runs the exact
//! `_Version` scan from the previous reconcile's checkpoint. The checkpoint is then
//! `window;rv:…;rv:…;<reconcile time>;<read time>`.
//!
//! # Values
//! Strings are `RTRIM`ed and trimmed, sums arrive as `numeric`, references as `binary(16)`
//! (16 zero bytes = empty), booleans as `binary(1)`, dates as `datetime2` or `datetime`. The
//! year offset of `_YearOffset.Offset` (0 or 2000) is read once at connect, subtracted from
//! every date read and added to date parameters; the empty date (`0001-01-01`, stored as
//! `2001-01-01` with offset 2000) reads as `None`. Decoding is shared with PostgreSQL
//! (`source::decode`); this module supplies only the [`Cells`] reader of tiberius values.

use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use tiberius::ToSql;

use super::decode::Decoder;
use super::namemap::{Dialect, NameMap};
use super::queries::{self, QueryTemplates, RenderedSql};
use super::settings::{Preset, SourceKind, SourceSettings};
use super::window::{ChangeDetection, ReadPlan};
use super::{ChangeSet, Chunk, ChunkKey, CycleRead, ReadFrom, Source, SourceError};
use crate::db::mssql::{MssqlRow, MssqlTarget, TdsClient};
use crate::db::Role;
use crate::domain::snapshot::{DocKind, DocumentSnapshot};

mod connection;
mod position;

use connection::{read_year_offset, Connector};
use position::{next_checkpoint, parsed_checkpoint, Read, ReadPosition};

const READ_POSITION_SQL: &str = include_str!("../../../sql/mssql/read_position.sql");
const DATABASE_STATE_SQL: &str = include_str!("../../../sql/mssql/database_state.sql");
const YEAR_OFFSET_TABLE_SQL: &str =
    "SELECT CASE WHEN OBJECT_ID(N'_YearOffset', N'U') IS NULL THEN 0 ELSE 1 END AS present";
const YEAR_OFFSET_SQL: &str =
    "SELECT TOP (1) CONVERT(int, [Offset]) AS year_offset FROM _YearOffset";

/// The MS SQL query templates of one Альфа-Авто edition.
fn templates(preset: Preset) -> QueryTemplates {
    const CHANGED: &str = include_str!("../../../sql/mssql/changed.sql");
    let (booking, work_order, work_order_changed, work_order_recent) = match preset {
        Preset::Alfa6 => (
            include_str!("../../../sql/mssql/alfa6/booking.sql"),
            include_str!("../../../sql/mssql/alfa6/work_order.sql"),
            include_str!("../../../sql/mssql/alfa6/work_order_changed.sql"),
            include_str!("../../../sql/mssql/alfa6/work_order_recent.sql"),
        ),
        // A 5.x work order carries its customer and car itself: its own row is the change.
        Preset::Alfa5 => (
            include_str!("../../../sql/mssql/alfa5/booking.sql"),
            include_str!("../../../sql/mssql/alfa5/work_order.sql"),
            CHANGED,
            include_str!("../../../sql/mssql/alfa5/work_order_recent.sql"),
        ),
    };
    QueryTemplates {
        dialect: Dialect::MsSql,
        booking,
        work_order,
        booking_changed: CHANGED,
        work_order_changed,
        dated_since: include_str!("../../../sql/mssql/dated_since.sql"),
        with_number: include_str!("../../../sql/mssql/with_number.sql"),
        booking_recent: Some(include_str!("../../../sql/mssql/booking_recent.sql")),
        work_order_recent: Some(work_order_recent),
        order_by: "ORDER BY d._Date_Time, d._IDRRef",
        chunk: Some(chunk_query),
    }
}

fn render_all(preset: Preset, map: &NameMap) -> Result<RenderedSql, SourceError> {
    queries::render_all(&templates(preset), preset, map)
}

/// Checks that the name map has every entry the preset's queries use, with MS SQL storage
/// names, and that the contact-kind enum lists phones and e-mails.
pub fn check_name_map(preset: Preset, map: &NameMap) -> Result<(), SourceError> {
    render_all(preset, map)?;
    Decoder::new(preset, map, 0).map(|_| ())
}

/// Every name-map entry the preset's T-SQL queries and decoder use, in first-use order.
/// `discover` writes exactly these.
pub fn required_entries(preset: Preset) -> Vec<String> {
    queries::required_entries(&templates(preset), preset)
}

/// Every statement the source runs, by name, rendered for `map`: what a reviewer or a test
/// reads to see exactly what goes to the server.
pub fn statements(preset: Preset, map: &NameMap) -> Result<Vec<(String, String)>, SourceError> {
    let sql = render_all(preset, map)?;
    let mut out = vec![
        ("database state".to_string(), DATABASE_STATE_SQL.to_string()),
        (
            "year offset table".to_string(),
            YEAR_OFFSET_TABLE_SQL.to_string(),
        ),
        ("year offset".to_string(), YEAR_OFFSET_SQL.to_string()),
        ("read position".to_string(), READ_POSITION_SQL.to_string()),
    ];
    for (kind, set) in [("booking", sql.booking), ("work order", sql.work_order)] {
        out.push((format!("{kind} changed"), set.changed));
        out.push((format!("{kind} recent"), windowed(set.recent)?));
        out.push((format!("{kind} dated since"), set.dated_since));
        out.push((format!("{kind} with number"), set.with_number));
        for (what, chunk) in [
            ("changed", set.changed_chunk),
            ("recent", set.recent_chunk),
            ("dated since", set.dated_since_chunk),
        ] {
            let chunk = chunk.ok_or_else(|| SourceError::NameMap("no chunked query".into()))?;
            out.push((format!("{kind} {what}, one chunk"), chunk));
        }
    }
    Ok(out)
}

/// One chunk of a document query whose filter takes `params` parameters: row versions below the
/// cycle's bound (the next parameter), after the keyset key (the stored date and reference, the
/// two after it), in the read order, at most the last parameter of them (`TOP`, as the T-SQL
/// parsers of the tests accept no parameter in `FETCH`). T-SQL has no row comparison, so the
/// key is spelled out; the `(_Date_Time, _IDRRef)` index serves it.
pub fn chunk_query(body: &str, filter: &str, params: usize) -> String {
    let (bound, date, reference, limit) = (params + 1, params + 2, params + 3, params + 4);
    format!(
        "SELECT TOP (@P{limit}) chunk.* FROM (\n{body}\nWHERE (\n{filter}\n)\n\
         AND d._Version < @P{bound}\n\
         AND (d._Date_Time > @P{date} OR (d._Date_Time = @P{date} AND d._IDRRef > @P{reference}))\n\
         ) chunk\nORDER BY chunk.[date], chunk.reference"
    )
}

/// `templates` gives every kind a windowed filter on MS SQL.
fn windowed(recent: Option<String>) -> Result<String, SourceError> {
    recent.ok_or_else(|| SourceError::NameMap("no windowed change query".to_string()))
}

/// A change checkpoint: the highest row version already read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RowVersion(pub u64);

impl RowVersion {
    /// Parses `rv:` + 16 hex digits.
    pub fn parse(text: &str) -> Result<RowVersion, SourceError> {
        text.strip_prefix("rv:")
            .filter(|hex| hex.len() == 16 && hex.chars().all(|c| c.is_ascii_hexdigit()))
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .map(RowVersion)
            .ok_or_else(|| SourceError::BadCheckpoint(text.to_string()))
    }

    /// A `rowversion` / `binary(8)` value: unsigned big-endian.
    pub fn from_bytes(bytes: &[u8]) -> Option<RowVersion> {
        let bytes: [u8; 8] = bytes.try_into().ok()?;
        Some(RowVersion(u64::from_be_bytes(bytes)))
    }

    /// The value as the `binary(8)` parameter compared with `_Version`.
    pub fn to_bytes(self) -> Vec<u8> {
        self.0.to_be_bytes().to_vec()
    }

    /// `rv:` + 16 hex digits.
    pub fn to_checkpoint(self) -> String {
        format!("rv:{:016X}", self.0)
    }
}

/// A 1C «Альфа-Авто» database on MS SQL Server.
pub struct MssqlSource {
    connector: Connector,
    /// `None` after a failed query: the next read reconnects. Boxed: a tiberius client is
    /// large, and sources are moved around in `AnySource`.
    client: Option<Box<TdsClient>>,
    sql: RenderedSql,
    decoder: Decoder,
    detection: ChangeDetection,
}

impl MssqlSource {
    /// Connects with the `[source]` settings.
    pub async fn connect(
        settings: &SourceSettings,
        target: MssqlTarget,
        name_map: NameMap,
    ) -> Result<MssqlSource, SourceError> {
        if settings.name_map.kind != SourceKind::Mssql {
            return Err(SourceError::Connect(
                "source.kind is not \"mssql\"".to_string(),
            ));
        }
        let connector = Connector {
            target,
            query_timeout: settings.query_timeout,
        };
        let detection = settings.detection;
        let source = MssqlSource::open(connector, settings.name_map.preset, name_map).await?;
        Ok(source.with_change_detection(detection))
    }

    /// Sets how changes are found (exact every cycle unless set).
    pub fn with_change_detection(mut self, detection: ChangeDetection) -> MssqlSource {
        self.detection = detection;
        self
    }

    /// Connects with an ADO.NET-style connection string (tests).
    pub async fn from_ado_string(
        connection: &str,
        preset: Preset,
        name_map: NameMap,
    ) -> Result<MssqlSource, SourceError> {
        let target =
            MssqlTarget::from_ado_string(Role::Source, connection, Duration::from_secs(30))?;
        let connector = Connector {
            target,
            query_timeout: Duration::from_secs(120),
        };
        MssqlSource::open(connector, preset, name_map).await
    }

    async fn open(
        connector: Connector,
        preset: Preset,
        name_map: NameMap,
    ) -> Result<MssqlSource, SourceError> {
        // Check the map before touching the database: a missing entry is a setup error.
        let sql = render_all(preset, &name_map)?;
        let mut client = connector.connect().await?;
        let year_offset = read_year_offset(&connector, &mut client).await?;
        let decoder = Decoder::new(preset, &name_map, year_offset)?;
        Ok(MssqlSource {
            connector,
            client: Some(Box::new(client)),
            sql,
            decoder,
            detection: ChangeDetection::default(),
        })
    }

    /// The year offset of the base (0 or 2000).
    pub fn year_offset(&self) -> i32 {
        self.decoder.year_offset()
    }

    /// The stored cut-off of a chunked read and the change filter its plan asks for.
    fn chunk_filter(&self, read: &CycleRead) -> Result<(NaiveDateTime, Read), SourceError> {
        let out_of_range = |what: &str| {
            let query = what.to_string();
            move |message| SourceError::Query { query, message }
        };
        let cutoff_at = self
            .decoder
            .storage_date(read.cutoff.and_time(NaiveTime::MIN))
            .map_err(out_of_range("cut-off"))?;
        let query = match &read.plan {
            ReadPlan::Start => Read::DatedSince,
            ReadPlan::Exact { since } => Read::Changed(RowVersion::parse(since)?),
            ReadPlan::Window { since, from } => {
                let start = self.decoder.storage_date(*from);
                Read::Recent(
                    RowVersion::parse(since)?,
                    start.map_err(out_of_range("window start"))?,
                )
            }
        };
        Ok((cutoff_at, query))
    }

    /// Runs a read, dropping the connection when it fails so that the next read starts clean.
    async fn with_client<T>(
        &mut self,
        read: impl AsyncFnOnce(&Connector, &mut TdsClient, &RenderedSql) -> Result<T, SourceError>,
    ) -> Result<T, SourceError> {
        let mut client = match self.client.take() {
            Some(client) => client,
            None => Box::new(self.connector.connect().await?),
        };
        let result = read(&self.connector, &mut client, &self.sql).await;
        if !matches!(result, Err(SourceError::Query { .. })) {
            self.client = Some(client);
        }
        result
    }
}

/// What every chunk of a read binds besides its change filter and keyset key.
struct ChunkBinds {
    cutoff_at: NaiveDateTime,
    /// The cycle's bound as the `binary(8)` compared with `_Version`.
    below: Vec<u8>,
    limit_rows: i64,
}

/// Runs one chunk of `query` for the kind of `key`, the parameters in the order of its
/// filter and then those `chunk_query` adds.
async fn query_chunk(
    connector: &Connector,
    client: &mut TdsClient,
    sql: &RenderedSql,
    name: &str,
    query: &Read,
    binds: &ChunkBinds,
    key: &ChunkKey,
) -> Result<Vec<MssqlRow>, SourceError> {
    let set = match key.kind {
        DocKind::Booking => &sql.booking,
        DocKind::WorkOrder => &sql.work_order,
    };
    let chunk = |text: &Option<String>| {
        text.clone()
            .ok_or_else(|| SourceError::NameMap("no chunked change query".to_string()))
    };
    let (date, reference) = (&key.date, &key.reference);
    let ChunkBinds {
        cutoff_at,
        below,
        limit_rows,
    } = binds;
    match query {
        Read::DatedSince => {
            let params: [&dyn ToSql; 5] = [cutoff_at, below, date, reference, limit_rows];
            let text = chunk(&set.dated_since_chunk)?;
            connector.query(client, name, &text, &params).await
        }
        Read::Changed(since) => {
            let since = since.to_bytes();
            let params: [&dyn ToSql; 7] =
                [cutoff_at, &since, below, below, date, reference, limit_rows];
            let text = chunk(&set.changed_chunk)?;
            connector.query(client, name, &text, &params).await
        }
        Read::Recent(since, window_start) => {
            let since = since.to_bytes();
            let params: [&dyn ToSql; 8] = [
                cutoff_at,
                &since,
                below,
                window_start,
                below,
                date,
                reference,
                limit_rows,
            ];
            let text = chunk(&set.recent_chunk)?;
            connector.query(client, name, &text, &params).await
        }
    }
}

/// The keyset key of a chunk's last row; `name` names the query in the error.
fn last_key(kind: DocKind, name: &str, last: &MssqlRow) -> Result<ChunkKey, SourceError> {
    let bad = |message: String| SourceError::Query {
        query: name.to_string(),
        message,
    };
    Ok(ChunkKey {
        kind,
        date: last
            .timestamp("date")
            .map_err(bad)?
            .ok_or_else(|| bad("a document without a date".to_string()))?,
        reference: last
            .bytes("reference")
            .map_err(bad)?
            .ok_or_else(|| bad("a document without a reference".to_string()))?,
    })
}

impl Source for MssqlSource {
    async fn changes(
        &mut self,
        from: &ReadFrom,
        cutoff: NaiveDate,
    ) -> Result<ChangeSet, SourceError> {
        super::read_whole(self, from, cutoff).await
    }

    /// Reads the cycle's bound (`MIN_ACTIVE_ROWVERSION()`) and time, and plans the read.
    async fn open_read(
        &mut self,
        from: &ReadFrom,
        cutoff: NaiveDate,
    ) -> Result<CycleRead, SourceError> {
        let previous = match from {
            ReadFrom::Start => None,
            ReadFrom::Checkpoint(text) => Some(parsed_checkpoint(text)?),
        };
        // The position comes first: every version below its bound is committed.
        let position = self
            .with_client(async |connector, client, _| {
                let rows = connector
                    .query(client, "read position", READ_POSITION_SQL, &[])
                    .await?;
                ReadPosition::of(rows.first())
            })
            .await?;
        let checkpoint = match &previous {
            None => next_checkpoint(None, position.upper_bound)?,
            Some(previous) => {
                next_checkpoint(Some(previous.reconcile), position.upper_bound)?;
                next_checkpoint(Some(previous.read), position.upper_bound)?
            }
        };
        let previous_text = previous.as_ref().map(|p| &p.text);
        let plan = self.detection.plan(previous_text, position.read_at);
        tracing::debug!(%plan, "reading changes");
        Ok(CycleRead {
            checkpoint: self.detection.next(
                previous_text,
                &plan,
                &checkpoint.to_checkpoint(),
                position.read_at,
            ),
            read_at: position.read_at,
            plan,
            bound: position.upper_bound.to_checkpoint(),
            cutoff,
            after: None,
            whole: None,
            pending: None,
            done: false,
        })
    }

    /// One keyset chunk, one statement: bookings first, then work orders; only row versions
    /// below the cycle's bound.
    async fn next_chunk(
        &mut self,
        read: &mut CycleRead,
        limit: usize,
    ) -> Result<Option<Chunk>, SourceError> {
        let (cutoff_at, query) = self.chunk_filter(read)?;
        let binds = ChunkBinds {
            cutoff_at,
            below: RowVersion::parse(&read.bound)?.to_bytes(),
            limit_rows: i64::try_from(limit.max(1)).unwrap_or(i64::MAX),
        };
        while !read.done {
            let key = read
                .after
                .clone()
                .unwrap_or_else(|| ChunkKey::first(DocKind::Booking));
            let name = match key.kind {
                DocKind::Booking => "bookings",
                DocKind::WorkOrder => "work orders",
            };
            let rows = self
                .with_client(async |connector, client, sql| {
                    query_chunk(connector, client, sql, name, &query, &binds, &key).await
                })
                .await?;
            read.pass_chunk(key.kind, rows.len() < limit, || {
                rows.last()
                    .map(|last| last_key(key.kind, name, last))
                    .transpose()
            })?;
            if rows.is_empty() {
                continue;
            }
            return Ok(Some(self.decoder.chunk(key.kind, &rows)));
        }
        Ok(None)
    }

    async fn find_by_number(&mut self, number: &str) -> Result<Vec<DocumentSnapshot>, SourceError> {
        let number = number.trim().to_string();
        let (bookings, work_orders) = self
            .with_client(async |connector, client, sql| {
                let bookings = connector
                    .query(
                        client,
                        "bookings with number",
                        &sql.booking.with_number,
                        &[&number],
                    )
                    .await?;
                let work_orders = connector
                    .query(
                        client,
                        "work orders with number",
                        &sql.work_order.with_number,
                        &[&number],
                    )
                    .await?;
                Ok((bookings, work_orders))
            })
            .await?;
        let mut found = self.decoder.readable(DocKind::Booking, &bookings);
        found.extend(self.decoder.readable(DocKind::WorkOrder, &work_orders));
        Ok(found)
    }
}

#[cfg(test)]
mod tests;
