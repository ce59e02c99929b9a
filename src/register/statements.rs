//! The register's statements that SQLite and PostgreSQL share, one file each under
//! `sql/register/shared/`, written with PostgreSQL's `$n` parameters, which the SQLite backend
//! reads as `?n` (see `sqlite::dialect`). Each backend's own SQL (its tables and migrations,
//! the write probe, the two reads that compute with times) is under `sql/register/<dialect>/`.
//!
//! Times are bound as each backend stores them (text in SQLite, `timestamp` in PostgreSQL); the
//! shared statements never compute with them, so one text serves both.

use chrono::{NaiveDate, NaiveDateTime};

use super::write::WriteStatement;
use super::ListFilter;

/// A statement shared by SQLite and PostgreSQL: its file under `sql/register/shared/`.
macro_rules! shared {
    ($name:literal) => {
        include_str!(concat!("../../sql/register/shared/", $name, ".sql"))
    };
}

pub const CHECKPOINT: &str = shared!("checkpoint");
pub const SAVE_CHECKPOINT: &str = shared!("save_checkpoint");
pub const RESET_CHECKPOINT: &str = shared!("reset_checkpoint");
pub const DEAL: &str = shared!("deal");
/// The columns `StoredDocument` reads, in its order; a `WHERE` may follow.
pub const DOCUMENT_COLUMNS: &str = shared!("document_columns");
pub const STATE_SEEN: &str = shared!("state_seen");
pub const UPSERT_DOCUMENT: &str = shared!("upsert_document");
pub const MARK_PENDING: &str = shared!("mark_pending");
pub const MARK_SENT: &str = shared!("mark_sent");
/// A deal keeps the account it was created in: `account` is written only by the insert.
pub const UPSERT_DEAL: &str = shared!("upsert_deal");
pub const MARK_SETTLED: &str = shared!("mark_settled");
pub const RECORD_FAILED: &str = shared!("record_failed");
pub const INSERT_SEND_LOG: &str = shared!("insert_send_log");

/// The shared text of a write statement.
pub(crate) fn write(statement: WriteStatement) -> &'static str {
    match statement {
        WriteStatement::UpsertDocument => UPSERT_DOCUMENT,
        WriteStatement::MarkPending => MARK_PENDING,
        WriteStatement::MarkSent => MARK_SENT,
        WriteStatement::UpsertDeal => UPSERT_DEAL,
        WriteStatement::MarkSettled => MARK_SETTLED,
        WriteStatement::RecordFailed => RECORD_FAILED,
        WriteStatement::InsertSendLog => INSERT_SEND_LOG,
    }
}

pub const PRUNE_SEND_LOG: &str = shared!("prune_send_log");
pub const REQUEUE: &str = shared!("requeue");
pub const COUNTS: &str = shared!("counts");
pub const SEND_LOG: &str = shared!("send_log");
pub const RECORD_RUN: &str = shared!("record_run");
pub const LAST_RUN: &str = shared!("last_run");
/// Finished runs only: a run records a `running` row when it starts (for `schedule --show`).
pub const RECENT_RUNS: &str = shared!("recent_runs");
pub const LAST_SUCCESS: &str = shared!("last_success");
pub const DOCUMENT_TOTALS: &str = shared!("document_totals");
pub const SEND_TOTALS: &str = shared!("send_totals");
pub const LAST_ANSWER: &str = shared!("last_answer");
/// The view administrators read: one row per document with readable column names.
pub const REGISTER_VIEW: &str = shared!("register_view");

/// A value a listing filter binds, typed so each backend can store it its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterValue {
    Text(String),
    Time(NaiveDateTime),
}

/// The `register` listing: its statement and the values of its `$n` parameters, in order.
pub fn list(filter: &ListFilter) -> (String, Vec<FilterValue>) {
    let mut sql = format!("{DOCUMENT_COLUMNS} WHERE 1 = 1");
    let mut values = Vec::new();
    let mut bind = |sql: &mut String, column_test: &str, value: FilterValue| {
        values.push(value);
        sql.push_str(&format!(" AND {column_test} ${}", values.len()));
    };
    if let Some(state) = filter.state {
        bind(&mut sql, "state =", FilterValue::Text(state.code().into()));
    }
    if let Some(kind) = filter.kind {
        bind(&mut sql, "kind =", FilterValue::Text(kind.code().into()));
    }
    if let Some(number) = &filter.number {
        bind(
            &mut sql,
            "number =",
            FilterValue::Text(number.trim().into()),
        );
    }
    let (from, below) = date_bounds(filter);
    if let Some(from) = from {
        bind(&mut sql, "doc_date >=", FilterValue::Time(from));
    }
    if let Some(below) = below {
        bind(&mut sql, "doc_date <", FilterValue::Time(below));
    }
    if filter.with_errors {
        sql.push_str(" AND last_error IS NOT NULL AND state IN ('failed', 'pending')");
    }
    sql.push_str(" ORDER BY updated_at DESC, number");
    (sql, values)
}

/// The listing's document dates as times: from the first day's midnight, below the midnight
/// after the last day.
pub(crate) fn date_bounds(filter: &ListFilter) -> (Option<NaiveDateTime>, Option<NaiveDateTime>) {
    let from = filter.from.map(midnight);
    let below = filter.to.map(|to| midnight(to.succ_opt().unwrap_or(to)));
    (from, below)
}

fn midnight(day: NaiveDate) -> NaiveDateTime {
    day.and_time(chrono::NaiveTime::MIN)
}
