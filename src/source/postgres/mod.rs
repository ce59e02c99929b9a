//! The PostgreSQL source: reads bookings and work orders from a 1C «Альфа-Авто» database on
//! PostgreSQL through the mapped queries in `sql/postgres`, and reports exactly what changed
//! since the previous read.
//!
//! # Reading
//! A cycle opens with a short transaction that takes its snapshot (`pg_current_snapshot()`) and
//! the server's time and, after a checkpoint, runs the change filters once (`keys_query`): the
//! references of the changed documents, 16 bytes each, in read order. The documents are then
//! read in chunks (bookings first), each in a `READ ONLY` transaction of its own that lasts one
//! statement: the first read by keyset on `(_date_time, _idrref)`, a change set by its collected
//! keys (`by_keys_query`), so the change filter — a scan in the exact mode — runs once per cycle,
//! not once per chunk. No transaction stays open across the cycle, so a long first sync never
//! holds back VACUUM on a busy 1C server. A chunk reads only row versions visible in the cycle's
//! snapshot (`NOT changed_since(d, bound)`), so a row written while the cycle runs is left whole
//! to the next cycle, which reads it as changed since this cycle's checkpoint. Readers take no
//! row locks and never block 1C.
//!
//! # Exact change detection with a snapshot checkpoint
//! The checkpoint is the text of `pg_current_snapshot()` taken inside the reading transaction
//! (`xmin:xmax:xip,…`): the set of transactions whose effects that read saw. A row version was
//! written after that read iff the transaction in its `xmin` is **not visible** in that snapshot:
//! `NOT pg_visible_in_snapshot(xmin, previous)`. This is Airbyte's xmin incremental idea, made
//! exact:
//! - a transaction that committed before the previous read is visible in its snapshot, so its
//!   rows are not read again;
//! - a transaction that was still running at the previous read — even one that began and wrote
//!   before it — is in that snapshot's `xip` list, hence not visible, so its rows are picked up
//!   by the first read after it commits; a `_date_time` or `_version` watermark would miss it;
//! - a transaction that started later has an id at or above the snapshot's `xmax`: not visible,
//!   picked up.
//!
//! `xmin` is 32-bit and wraps; it is widened to `xid8` against the current snapshot's `xmax`
//! (see `template::changed_since`). A row frozen by VACUUM keeps its raw `xmin`, which is far
//! below the previous snapshot and stays "visible", i.e. unchanged.
//!
//! Changed documents are the document rows changed, plus work orders with new
//! `РегистрСведений.ЖурналСостояний` records, plus (6.x) work orders whose
//! `Документ.СводныйРемонтныйЗаказ` changed, since customer, car and phone live there.
//!
//! Limits: a row written inside a subtransaction (a SAVEPOINT) carries the subtransaction's id,
//! which the snapshot does not list; 1C does not use savepoints, so this does not arise from 1C
//! writes. Deleting rows is not a change this source sees (1C marks for deletion instead).
//! A checkpoint whose `xmax` is ahead of the server's (a restored or replaced database) is
//! refused as [`SourceError::BadCheckpoint`].
//!
//! # Values
//! Strings are read `::text` and trimmed; sums `::text`; the year offset of `_yearoffset` is
//! read once at connect, subtracted from every date read and added to date parameters; the
//! empty reference (16 zero bytes) and the empty date read as `None`. A row that cannot be
//! decoded becomes a [`RejectedDocument`] naming the 1C field.

use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use tokio_postgres::{Client, Row, Statement};

use super::decode::Decoder;
use super::namemap::{Dialect, NameMap};
use super::queries::{self, KindSql, QueryTemplates, RenderedSql};
use super::settings::{Preset, SourceKind, SourceSettings};
use super::template::render_for;
use super::window::{ChangeDetection, Checkpoint, ReadPlan};
use super::{ChangeSet, Chunk, ChunkKey, CycleRead, PendingKeys, ReadFrom, Source, SourceError};
use crate::db::postgres::PgTarget;
use crate::db::Role;
use crate::domain::snapshot::{DocKind, DocumentSnapshot};

mod cells;
mod reads;

use reads::{begin, changed_keys, kind_name, query_error, read_year_offset};

/// What the change queries run with (see `changed_keys`), for anyone who plans them alike.
pub const CHANGE_QUERY_SETTINGS: [&str; 2] = ["hash_mem_multiplier = 1000", "jit = off"];

const READ_POSITION_SQL: &str = include_str!("../../../sql/postgres/read_position.sql");

/// The PostgreSQL query templates of one Альфа-Авто edition.
fn templates(preset: Preset) -> QueryTemplates {
    let (booking, work_order, work_order_changed, work_order_recent) = match preset {
        Preset::Alfa6 => (
            include_str!("../../../sql/postgres/alfa6/booking.sql"),
            include_str!("../../../sql/postgres/alfa6/work_order.sql"),
            include_str!("../../../sql/postgres/alfa6/work_order_changed.sql"),
            include_str!("../../../sql/postgres/alfa6/work_order_recent.sql"),
        ),
        Preset::Alfa5 => (
            include_str!("../../../sql/postgres/alfa5/booking.sql"),
            include_str!("../../../sql/postgres/alfa5/work_order.sql"),
            include_str!("../../../sql/postgres/alfa5/work_order_changed.sql"),
            include_str!("../../../sql/postgres/alfa5/work_order_recent.sql"),
        ),
    };
    QueryTemplates {
        dialect: Dialect::Postgres,
        booking,
        work_order,
        booking_changed: include_str!("../../../sql/postgres/booking_changed.sql"),
        work_order_changed,
        dated_since: include_str!("../../../sql/postgres/dated_since.sql"),
        with_number: include_str!("../../../sql/postgres/with_number.sql"),
        booking_recent: Some(include_str!("../../../sql/postgres/booking_recent.sql")),
        work_order_recent: Some(work_order_recent),
        order_by: "ORDER BY d._date_time, d._idrref",
        chunk: Some(chunk_query),
    }
}

/// One chunk of a document query whose filter takes `params` parameters: the rows whose version
/// is visible in the cycle's snapshot (the next parameter, so a row written while the cycle runs
/// is left to the next one), after the keyset key (the stored date and reference, the two
/// parameters after it), in the read order, at most the last parameter of them. The key
/// comparison is a row comparison, which the `(_date_time, _idrref)` index of every 1C
/// document table serves.
pub fn chunk_query(body: &str, filter: &str, params: usize) -> String {
    let (bound, date, reference, limit) = (params + 1, params + 2, params + 3, params + 4);
    format!(
        "{body}\nWHERE (\n{filter}\n)\nAND NOT {{{{changed_since(d, ${bound})}}}}\n\
         AND (d._date_time, d._idrref) > (${date}::timestamp, ${reference}::bytea)\n\
         ORDER BY d._date_time, d._idrref\nLIMIT ${limit}::bigint"
    )
}

/// The references of the documents of `table` a change filter finds, in read order. The
/// filter's parameters stay as they are (`$1` the cut-off, `$2` the previous snapshot, `$3` the
/// window start): run in the transaction that takes the cycle's snapshot, it sees exactly the
/// row versions of that snapshot, so it needs no upper bound of its own. The filter is planned
/// apart from the order (`OFFSET 0`), and only the few rows it finds are sorted: otherwise the
/// planner, misjudging how many rows pass, walks the date index over the whole table to avoid
/// the sort, a random heap read per row.
fn keys_query(table: &str, filter: &str) -> String {
    format!(
        "SELECT k.reference FROM (\n\
         SELECT d._date_time AS date, d._idrref AS reference FROM {{{{{table}}}}} d\n\
         WHERE (\n{filter}\n)\nOFFSET 0\n) k\nORDER BY k.date, k.reference"
    )
}

/// The documents of a chunk of collected keys (`$1`), in read order, as visible in the cycle's
/// snapshot `$2`: a document rewritten since the keys were collected is left to the next cycle.
/// `_idrref = ANY(…)` is a probe of the primary key per document.
fn by_keys_query(body: &str) -> String {
    format!(
        "{body}\nWHERE d._idrref = ANY($1::bytea[])\nAND NOT {{{{changed_since(d, $2)}}}}\n\
         ORDER BY d._date_time, d._idrref"
    )
}

/// The change filters of a preset as key queries, by kind: exact, then windowed.
fn key_queries(preset: Preset, map: &NameMap) -> Result<[[String; 2]; 2], SourceError> {
    let t = templates(preset);
    let render = |table: &str, filter: Option<&str>| {
        let filter = filter.expect("the PostgreSQL templates have a windowed change filter");
        render_for(Dialect::Postgres, &keys_query(table, filter), map)
            .map_err(|e| SourceError::NameMap(e.to_string()))
    };
    Ok([
        [
            render("Документ.ЗаявкаНаРемонт", Some(t.booking_changed))?,
            render("Документ.ЗаявкаНаРемонт", t.booking_recent)?,
        ],
        [
            render("Документ.ЗаказНаряд", Some(t.work_order_changed))?,
            render("Документ.ЗаказНаряд", t.work_order_recent)?,
        ],
    ])
}

fn render_all(preset: Preset, map: &NameMap) -> Result<RenderedSql, SourceError> {
    queries::render_all(&templates(preset), preset, map)
}

/// Checks that the name map has every entry the preset's queries use, and that the contact-kind
/// enum lists phones and e-mails. The same check runs when a source is opened.
pub fn check_name_map(preset: Preset, map: &NameMap) -> Result<(), SourceError> {
    render_all(preset, map)?;
    Decoder::new(preset, map, 0).map(|_| ())
}

/// Every name-map entry the preset's queries and decoder use, in first-use order. `discover`
/// writes exactly these.
pub fn required_entries(preset: Preset) -> Vec<String> {
    queries::required_entries(&templates(preset), preset)
}

/// `templates` reads in chunks on PostgreSQL.
fn chunked(chunk: Option<String>) -> String {
    chunk.expect("the PostgreSQL templates read in chunks")
}

/// The change queries a cycle after the first one runs once when it opens, by name, rendered
/// for one database (`$1` the cut-off, `$2` the previous snapshot, `$3` the window start of the
/// `recent` queries): what benchmarks `EXPLAIN`.
pub fn change_queries(
    preset: Preset,
    map: &NameMap,
) -> Result<Vec<(&'static str, String)>, SourceError> {
    render_all(preset, map)?;
    let [[booking_changed, booking_recent], [work_order_changed, work_order_recent]] =
        key_queries(preset, map)?;
    Ok(vec![
        ("bookings changed", booking_changed),
        ("work orders changed", work_order_changed),
        ("bookings recent", booking_recent),
        ("work orders recent", work_order_recent),
    ])
}

/// Prepared statements of one document kind.
struct KindStatements {
    with_number: Statement,
    /// The references of the changed documents, exact and windowed (`keys_query`).
    changed_keys: Statement,
    recent_keys: Statement,
    /// A chunk of collected keys (`by_keys_query`).
    by_keys: Statement,
    dated_since_chunk: Statement,
}

/// A 1C «Альфа-Авто» database on PostgreSQL.
pub struct PostgresSource {
    client: Client,
    read_position: Statement,
    booking: KindStatements,
    work_order: KindStatements,
    decoder: Decoder,
    query_timeout: Option<Duration>,
    detection: ChangeDetection,
}

impl PostgresSource {
    /// Connects with the `[source]` settings (see `db::postgres` for TLS and errors).
    pub async fn connect(
        settings: &SourceSettings,
        target: PgTarget,
        name_map: NameMap,
    ) -> Result<PostgresSource, SourceError> {
        if settings.name_map.kind != SourceKind::Postgres {
            return Err(SourceError::Connect(
                "source.kind is not \"postgres\"".to_string(),
            ));
        }
        let query_timeout = Some(settings.query_timeout);
        let detection = settings.detection;
        let source =
            PostgresSource::open(target, settings.name_map.preset, name_map, query_timeout).await?;
        Ok(source.with_change_detection(detection))
    }

    /// Sets how changes are found (exact every cycle unless set).
    pub fn with_change_detection(mut self, detection: ChangeDetection) -> PostgresSource {
        self.detection = detection;
        self
    }

    /// Connects with a libpq-style connection string (tests, the demo).
    pub async fn from_connection_string(
        connection: &str,
        preset: Preset,
        name_map: NameMap,
    ) -> Result<PostgresSource, SourceError> {
        let pg: tokio_postgres::Config = connection
            .parse()
            .map_err(|e| SourceError::Connect(format!("bad connection string: {e}")))?;
        PostgresSource::open(PgTarget::plain(Role::Source, pg), preset, name_map, None).await
    }

    async fn open(
        target: PgTarget,
        preset: Preset,
        name_map: NameMap,
        query_timeout: Option<Duration>,
    ) -> Result<PostgresSource, SourceError> {
        // Check the map before touching the database: a missing entry is a setup error.
        let sql = render_all(preset, &name_map)?;
        let [[booking_changed, booking_recent], [work_order_changed, work_order_recent]] =
            key_queries(preset, &name_map)?;
        let [booking_by_keys, work_order_by_keys] = by_keys_queries(preset, &name_map)?;
        let client = target.connect().await?;
        let year_offset = read_year_offset(&client).await?;
        let decoder = Decoder::new(preset, &name_map, year_offset)?;
        // Preparing checks every mapped table and column against the database now.
        let booking = prepare_kind(
            &client,
            "booking",
            sql.booking,
            [booking_changed, booking_recent],
            booking_by_keys,
        )
        .await?;
        let work_order = prepare_kind(
            &client,
            "work order",
            sql.work_order,
            [work_order_changed, work_order_recent],
            work_order_by_keys,
        )
        .await?;
        let read_position =
            prepare(&client, "read position", READ_POSITION_SQL.to_string()).await?;
        Ok(PostgresSource {
            client,
            read_position,
            booking,
            work_order,
            decoder,
            query_timeout,
            detection: ChangeDetection::default(),
        })
    }

    /// The year offset of the base (0 or 2000), for callers that show storage dates.
    pub fn year_offset(&self) -> i32 {
        self.decoder.year_offset()
    }

    /// The next collected keys that still read, each batch in a short transaction of its own;
    /// `None` when no key is left.
    async fn chunk_by_keys(
        &mut self,
        pending: &mut PendingKeys,
        bound: &String,
        limit: usize,
    ) -> Result<Option<Chunk>, SourceError> {
        while let Some((kind, keys)) = pending.take(limit) {
            let statement = match kind {
                DocKind::Booking => &self.booking.by_keys,
                DocKind::WorkOrder => &self.work_order.by_keys,
            };
            let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
            let tx = begin(&mut self.client, self.query_timeout).await?;
            let rows = tx
                .query(statement, &[&keys, bound])
                .await
                .map_err(|e| query_error(kind_name(kind), &e))?;
            tx.commit().await.map_err(|e| query_error("commit", &e))?;
            // Every key may have been rewritten since: left to the next cycle.
            if !rows.is_empty() {
                return Ok(Some(self.decoder.chunk(kind, &rows)));
            }
        }
        Ok(None)
    }

    /// One keyset chunk of the kind of `key`, after it, in a short transaction of its own.
    async fn dated_since_chunk(
        &mut self,
        key: &ChunkKey,
        cutoff_at: NaiveDateTime,
        bound: &String,
        limit_rows: i64,
    ) -> Result<Vec<Row>, SourceError> {
        let statements = match key.kind {
            DocKind::Booking => &self.booking,
            DocKind::WorkOrder => &self.work_order,
        };
        let (date, reference) = (&key.date, &key.reference);
        let what = kind_name(key.kind);
        let tx = begin(&mut self.client, self.query_timeout).await?;
        let rows = tx
            .query(
                &statements.dated_since_chunk,
                &[&cutoff_at, bound, date, reference, &limit_rows],
            )
            .await
            .map_err(|e| query_error(what, &e))?;
        tx.commit().await.map_err(|e| query_error("commit", &e))?;
        Ok(rows)
    }
}

/// The by-keys query of each kind, bookings first.
fn by_keys_queries(preset: Preset, map: &NameMap) -> Result<[String; 2], SourceError> {
    let by_keys = |body: &str| {
        render_for(Dialect::Postgres, &by_keys_query(body), map)
            .map_err(|e| SourceError::NameMap(e.to_string()))
    };
    let bodies = templates(preset);
    Ok([by_keys(bodies.booking)?, by_keys(bodies.work_order)?])
}

/// Prepares the statements of one kind, named `<kind> …` in errors.
async fn prepare_kind(
    client: &Client,
    kind: &str,
    sql: KindSql,
    [changed, recent]: [String; 2],
    by_keys: String,
) -> Result<KindStatements, SourceError> {
    let name = |what: &str| format!("{kind} {what}");
    Ok(KindStatements {
        with_number: prepare(client, &name("with number"), sql.with_number).await?,
        changed_keys: prepare(client, &name("changed"), changed).await?,
        recent_keys: prepare(client, &name("recent"), recent).await?,
        by_keys: prepare(client, &name("by keys"), by_keys).await?,
        dated_since_chunk: prepare(client, &name("dated since"), chunked(sql.dated_since_chunk))
            .await?,
    })
}

async fn prepare(client: &Client, name: &str, text: String) -> Result<Statement, SourceError> {
    client
        .prepare(&text)
        .await
        .map_err(|e| query_error(name, &e))
}

/// The keyset key of a chunk's last row.
fn last_key(kind: DocKind, last: &Row) -> Result<ChunkKey, SourceError> {
    let what = kind_name(kind);
    Ok(ChunkKey {
        kind,
        date: last.try_get("date").map_err(|e| query_error(what, &e))?,
        reference: last
            .try_get("reference")
            .map_err(|e| query_error(what, &e))?,
    })
}

/// A 1C time as stored (the year offset added); `what` names it in the error.
fn storage_time(
    decoder: &Decoder,
    at: NaiveDateTime,
    what: &str,
) -> Result<NaiveDateTime, SourceError> {
    decoder
        .storage_date(at)
        .map_err(|reason| SourceError::Query {
            query: what.to_string(),
            message: reason,
        })
}

/// A checkpoint in either form of `source::window`, each snapshot in it checked.
fn parsed_checkpoint(text: &str) -> Result<Checkpoint, SourceError> {
    let checkpoint =
        Checkpoint::parse(text).ok_or_else(|| SourceError::BadCheckpoint(text.to_string()))?;
    checked_checkpoint(&checkpoint.read)?;
    checked_checkpoint(&checkpoint.reconcile)?;
    Ok(checkpoint)
}

/// A snapshot is a `pg_snapshot` text: `xmin:xmax:xip,xip,…`.
fn checked_checkpoint(text: &str) -> Result<&str, SourceError> {
    let numbers = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let parts: Vec<&str> = text.split(':').collect();
    let valid = parts.len() == 3
        && numbers(parts[0])
        && numbers(parts[1])
        && (parts[2].is_empty() || parts[2].split(',').all(numbers));
    valid
        .then_some(text)
        .ok_or_else(|| SourceError::BadCheckpoint(text.to_string()))
}

impl Source for PostgresSource {
    async fn changes(
        &mut self,
        from: &ReadFrom,
        cutoff: NaiveDate,
    ) -> Result<ChangeSet, SourceError> {
        super::read_whole(self, from, cutoff).await
    }

    /// Takes the cycle's snapshot and time in a transaction of its own and plans the read; no
    /// transaction stays open after it.
    async fn open_read(
        &mut self,
        from: &ReadFrom,
        cutoff: NaiveDate,
    ) -> Result<CycleRead, SourceError> {
        let previous = match from {
            ReadFrom::Start => None,
            ReadFrom::Checkpoint(text) => Some(parsed_checkpoint(text)?),
        };
        let tx = begin(&mut self.client, self.query_timeout).await?;
        let last_read = previous.as_ref().map(|p| p.read.clone());
        let position = tx
            .query_one(&self.read_position, &[&last_read])
            .await
            .map_err(|e| query_error("read position", &e))?;
        let fits: bool = position.get("checkpoint_fits");
        if !fits {
            return Err(SourceError::BadCheckpoint(last_read.unwrap_or_default()));
        }
        let read_at: NaiveDateTime = position.get("read_at");
        let snapshot: String = position.get("snapshot");
        let plan = self.detection.plan(previous.as_ref(), read_at);
        tracing::debug!(%plan, "reading changes");
        let pending = match &plan {
            ReadPlan::Start => None,
            plan => Some(
                changed_keys(
                    &tx,
                    [&self.booking, &self.work_order],
                    &self.decoder,
                    plan,
                    cutoff,
                )
                .await?,
            ),
        };
        tx.commit().await.map_err(|e| query_error("commit", &e))?;
        Ok(CycleRead {
            checkpoint: self
                .detection
                .next(previous.as_ref(), &plan, &snapshot, read_at),
            read_at,
            plan,
            bound: snapshot,
            cutoff,
            after: None,
            whole: None,
            pending,
            done: false,
        })
    }

    /// One chunk in a short transaction of its own, bookings first, then work orders: by keyset
    /// on the first read, else the next collected keys.
    async fn next_chunk(
        &mut self,
        read: &mut CycleRead,
        limit: usize,
    ) -> Result<Option<Chunk>, SourceError> {
        if let Some(pending) = &mut read.pending {
            let chunk = self.chunk_by_keys(pending, &read.bound, limit).await?;
            if chunk.is_none() {
                read.done = true;
            }
            return Ok(chunk);
        }
        let cutoff_at = storage_time(
            &self.decoder,
            read.cutoff.and_time(NaiveTime::MIN),
            "cut-off",
        )?;
        let limit_rows = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        while !read.done {
            let key = read
                .after
                .clone()
                .unwrap_or_else(|| ChunkKey::first(DocKind::Booking));
            let rows = self
                .dated_since_chunk(&key, cutoff_at, &read.bound, limit_rows)
                .await?;
            read.pass_chunk(key.kind, rows.len() < limit, || {
                rows.last().map(|last| last_key(key.kind, last)).transpose()
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
        let tx = begin(&mut self.client, self.query_timeout).await?;
        let bookings = tx
            .query(&self.booking.with_number, &[&number])
            .await
            .map_err(|e| query_error("bookings with number", &e))?;
        let work_orders = tx
            .query(&self.work_order.with_number, &[&number])
            .await
            .map_err(|e| query_error("work orders with number", &e))?;
        tx.commit().await.map_err(|e| query_error("commit", &e))?;
        let mut found = self.decoder.readable(DocKind::Booking, &bookings);
        found.extend(self.decoder.readable(DocKind::WorkOrder, &work_orders));
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_must_be_snapshot_text() {
        for good in ["100:105:", "100:105:101,103", "3:3:"] {
            assert!(checked_checkpoint(good).is_ok(), "{good}");
        }
        for bad in ["", "7", "1:2", "a:2:", "1:2:3,", "1:2:3;drop"] {
            assert!(
                matches!(checked_checkpoint(bad), Err(SourceError::BadCheckpoint(_))),
                "{bad}"
            );
        }
    }
}
