//! The PostgreSQL source's reads outside its statements: the changed and chunked document keys,
//! the cycle's transaction, the base's year offset, and query errors.

use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use tokio_postgres::{Client, IsolationLevel, Row, Transaction};

use super::{storage_time, KindStatements, CHANGE_QUERY_SETTINGS};
use crate::domain::snapshot::DocKind;
use crate::source::decode::Decoder;
use crate::source::window::ReadPlan;
use crate::source::{PendingKeys, SourceError};

/// The references of the documents `plan` reads, both kinds (bookings, work orders), in the
/// transaction that took the cycle's snapshot. The two queries go out together (one round trip).
pub(super) async fn changed_keys(
    tx: &Transaction<'_>,
    [booking, work_order]: [&KindStatements; 2],
    decoder: &Decoder,
    plan: &ReadPlan,
    cutoff: NaiveDate,
) -> Result<PendingKeys, SourceError> {
    let cutoff_at = storage_time(decoder, cutoff.and_time(NaiveTime::MIN), "cut-off")?;
    let window_start = match plan {
        ReadPlan::Window { from, .. } => Some(storage_time(decoder, *from, "window start")?),
        _ => None,
    };
    // The planner cannot tell how few rows pass the snapshot test, so it expects a large share
    // of the journal and the summary orders in their sub-selects; past `work_mem` it would not
    // hash them but rescan their results once per work order (42 s for 1,000 changes on a
    // million). Hashing them is what makes the query one pass; the table then holds only the
    // rows that really changed. The same misjudged costs would have the server compile the
    // queries (JIT, 42 ms of a 100 ms window query on a million work orders) to read a few rows.
    let settings: String = CHANGE_QUERY_SETTINGS
        .iter()
        .map(|s| format!("SET LOCAL {s};"))
        .collect();
    tx.batch_execute(&settings)
        .await
        .map_err(|e| query_error("hash memory", &e))?;
    let (bookings, work_orders) = tokio::try_join!(
        kind_keys(tx, booking, plan, cutoff_at, window_start),
        kind_keys(tx, work_order, plan, cutoff_at, window_start)
    )
    .map_err(|e| query_error("changed documents", &e))?;
    Ok(PendingKeys {
        bookings: references(&bookings, "changed bookings")?,
        work_orders: references(&work_orders, "changed work orders")?,
        taken: 0,
    })
}

/// The key rows of one kind: the windowed filter from the window start, else the exact one.
async fn kind_keys(
    tx: &Transaction<'_>,
    statements: &KindStatements,
    plan: &ReadPlan,
    cutoff_at: NaiveDateTime,
    window_start: Option<NaiveDateTime>,
) -> Result<Vec<Row>, tokio_postgres::Error> {
    match (plan, window_start) {
        (ReadPlan::Window { since, .. }, Some(from)) => {
            tx.query(&statements.recent_keys, &[&cutoff_at, since, &from])
                .await
        }
        (ReadPlan::Exact { since } | ReadPlan::Window { since, .. }, _) => {
            tx.query(&statements.changed_keys, &[&cutoff_at, since])
                .await
        }
        (ReadPlan::Start, _) => Ok(Vec::new()),
    }
}

/// The 16-byte references of key rows.
fn references(rows: &[Row], query: &str) -> Result<Vec<[u8; 16]>, SourceError> {
    rows.iter()
        .map(|row| {
            let bytes: &[u8] = row.try_get(0).map_err(|e| query_error(query, &e))?;
            <[u8; 16]>::try_from(bytes).map_err(|_| SourceError::Query {
                query: query.to_string(),
                message: format!(
                    "a document reference of {} bytes; 1C references are 16 bytes (_idrref binary(16)): check the name map's table",
                    bytes.len()
                ),
            })
        })
        .collect()
}

pub(super) fn kind_name(kind: DocKind) -> &'static str {
    match kind {
        DocKind::Booking => "bookings",
        DocKind::WorkOrder => "work orders",
    }
}

/// Starts a reading transaction: one snapshot for the whole cycle, never writing.
pub(super) async fn begin(
    client: &mut Client,
    query_timeout: Option<Duration>,
) -> Result<Transaction<'_>, SourceError> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(|e| query_error("begin", &e))?;
    if let Some(timeout) = query_timeout {
        let millis = timeout.as_millis().to_string();
        tx.execute(
            "SELECT set_config('statement_timeout', $1, true)",
            &[&millis],
        )
        .await
        .map_err(|e| query_error("statement timeout", &e))?;
    }
    Ok(tx)
}

pub(super) fn query_error(query: &str, error: &tokio_postgres::Error) -> SourceError {
    let message = match error.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => error.to_string(),
    };
    SourceError::Query {
        query: query.to_string(),
        message,
    }
}

/// `_yearoffset.ofset`; a base without the table has no offset.
pub(super) async fn read_year_offset(client: &Client) -> Result<i32, SourceError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('_yearoffset') IS NOT NULL", &[])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|e| query_error("year offset", &e))?;
    if !exists {
        return Ok(0);
    }
    let row = client
        .query_opt("SELECT ofset::integer FROM _yearoffset LIMIT 1", &[])
        .await
        .map_err(|e| query_error("year offset", &e))?;
    let offset: Option<i32> = match row {
        Some(row) => row.try_get(0).map_err(|e| query_error("year offset", &e))?,
        None => None,
    };
    Ok(offset.unwrap_or(0))
}
