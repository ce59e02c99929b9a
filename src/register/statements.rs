//! The register's statements that SQLite and PostgreSQL share: written once with PostgreSQL's
//! `$n` parameters, which the SQLite backend reads as `?n` (see `sqlite::dialect`). Only the
//! DDL, the schema-version bookkeeping and the write probe differ per backend.
//!
//! Times are bound as each backend stores them (text in SQLite, `timestamp` in PostgreSQL); the
//! statements never compute with them, so one text serves both; the two status reads that do
//! (a run's duration, a send's day) take the backend's expression.

use chrono::{NaiveDate, NaiveDateTime};

use super::ListFilter;

pub const CHECKPOINT: &str = "SELECT checkpoint, since FROM checkpoints WHERE source = $1";

pub const SAVE_CHECKPOINT: &str =
    "INSERT INTO checkpoints (source, checkpoint, since, updated_at) VALUES ($1, $2, NULL, $3)
     ON CONFLICT (source) DO UPDATE SET checkpoint = excluded.checkpoint,
         updated_at = excluded.updated_at";

pub const RESET_CHECKPOINT: &str =
    "INSERT INTO checkpoints (source, checkpoint, since, updated_at) VALUES ($1, NULL, $2, $3)
     ON CONFLICT (source) DO UPDATE SET checkpoint = NULL, since = excluded.since,
         updated_at = excluded.updated_at";

pub const DEAL: &str = "SELECT d.order_number, d.root_ref, d.driver_ref, d.driver_kind, d.status,
         d.revenue, d.manager, driver.doc_date, d.account
     FROM deals d LEFT JOIN documents driver ON driver.reference = d.driver_ref
     WHERE d.order_number = $1";

/// The columns `StoredDocument` reads, in its order.
pub const DOCUMENT_COLUMNS: &str = "SELECT kind, reference, number, doc_date, order_number,
    state, onec_state, last_status, last_revenue, last_manager, attempts, last_error, updated_at
    FROM documents";

pub const STATE_SEEN: &str = "SELECT onec_state, state_seen_at FROM documents WHERE reference = $1";

/// The document as read now; a new one starts pending. Its sync state is set by the statement
/// that follows in the same transaction.
pub const UPSERT_DOCUMENT: &str = "INSERT INTO documents (reference, kind, number, doc_date,
         order_number, state, onec_state, state_seen_at, first_seen_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $8)
     ON CONFLICT (reference) DO UPDATE SET number = excluded.number,
         doc_date = excluded.doc_date,
         order_number = COALESCE(excluded.order_number, documents.order_number),
         onec_state = excluded.onec_state, state_seen_at = excluded.state_seen_at";

pub const MARK_PENDING: &str = "UPDATE documents SET state = 'pending', last_error = $2,
         attempts = attempts + $3, updated_at = $4
     WHERE reference = $1";

pub const MARK_SENT: &str = "UPDATE documents SET state = 'sent', attempts = 0,
         last_error = NULL, last_status = $2, last_revenue = $3, last_manager = $4,
         updated_at = $5
     WHERE reference = $1";

/// A deal keeps the account it was created in: `account` is written only by the insert.
pub const UPSERT_DEAL: &str = "INSERT INTO deals (order_number, root_ref, driver_ref,
         driver_kind, status, revenue, manager, calltouch_id, created_at, updated_at, account)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)
     ON CONFLICT (order_number) DO UPDATE SET driver_ref = excluded.driver_ref,
         driver_kind = excluded.driver_kind, status = excluded.status,
         revenue = excluded.revenue, manager = excluded.manager,
         calltouch_id = COALESCE(excluded.calltouch_id, deals.calltouch_id),
         updated_at = excluded.updated_at";

pub const MARK_SETTLED: &str = "UPDATE documents SET state = $2, attempts = 0, last_error = $3,
         updated_at = $4
     WHERE reference = $1";

pub const RECORD_FAILED: &str = "INSERT INTO documents (reference, kind, number, doc_date,
         order_number, state, attempts, last_error, first_seen_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, 'failed', 1, $6, $7, $7)
     ON CONFLICT (reference) DO UPDATE SET state = 'failed',
         attempts = documents.attempts + 1, last_error = excluded.last_error,
         order_number = COALESCE(excluded.order_number, documents.order_number),
         updated_at = excluded.updated_at";

pub const INSERT_SEND_LOG: &str = "INSERT INTO send_log (at, endpoint, order_number, reference,
         request, outcome, detail)
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

pub const PRUNE_SEND_LOG: &str = "DELETE FROM send_log WHERE at < $1";

pub const REQUEUE: &str = "UPDATE documents SET state = 'pending', attempts = 0,
         last_error = 're-queued by register retry', updated_at = $2
     WHERE number = $1 AND state IN ('failed', 'pending')";

pub const COUNTS: &str = "SELECT state, COUNT(*) FROM documents GROUP BY state ORDER BY state";

pub const SEND_LOG: &str =
    "SELECT endpoint, order_number, request, outcome FROM send_log ORDER BY id";

pub const RECORD_RUN: &str =
    "INSERT INTO runs (started_at, finished_at, outcome, summary) VALUES ($1, $2, $3, $4)";

pub const LAST_RUN: &str =
    "SELECT started_at, finished_at, outcome, summary FROM runs ORDER BY id DESC LIMIT 1";

/// Finished runs only: a run records a `running` row when it starts (for `schedule --show`).
pub const RECENT_RUNS: &str = "SELECT started_at, finished_at, outcome, summary FROM runs
     WHERE outcome <> 'running' ORDER BY id DESC LIMIT $1";

/// Runs per outcome and duration; `{seconds}` is the backend's whole-second difference of
/// `finished_at` and `started_at`.
const RUN_DURATIONS: &str = "SELECT outcome, {seconds}, COUNT(*) FROM runs
     WHERE outcome <> 'running' GROUP BY 1, 2 ORDER BY 1, 2";

pub fn run_durations(seconds: &str) -> String {
    RUN_DURATIONS.replace("{seconds}", seconds)
}

pub const LAST_SUCCESS: &str =
    "SELECT MAX(finished_at) FROM runs WHERE outcome NOT IN ('error', 'running')";

pub const DOCUMENT_TOTALS: &str = "SELECT kind, state,
         CASE WHEN last_error IS NULL THEN 0 ELSE 1 END, COUNT(*)
     FROM documents GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";

pub const SEND_TOTALS: &str = "SELECT endpoint, outcome, COUNT(*) FROM send_log
     GROUP BY endpoint, outcome ORDER BY endpoint, outcome";

/// The send log per day from `$1`; `{day}` is the backend's day of `at`.
const DAILY_SENDS: &str = "SELECT {day}, endpoint, outcome, COUNT(*) FROM send_log
     WHERE at >= $1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";

pub fn daily_sends(day: &str) -> String {
    DAILY_SENDS.replace("{day}", day)
}

pub const LAST_ANSWER: &str = "SELECT at, endpoint, outcome, detail FROM send_log
     WHERE reference = $1 ORDER BY id DESC LIMIT 1";

/// The view administrators read (for example in 1C through an external data source): one row
/// per document with readable column names.
pub const REGISTER_VIEW: &str = "CREATE VIEW register_view AS
    SELECT CASE d.kind WHEN 'booking' THEN 'Заявка на ремонт'
                       WHEN 'work_order' THEN 'Заказ-наряд' ELSE d.kind END AS document,
           d.number AS number,
           d.doc_date AS document_date,
           d.order_number AS deal,
           d.state AS state,
           d.last_status AS last_status,
           d.last_error AS last_error,
           d.attempts AS attempts,
           d.updated_at AS updated,
           d.reference AS reference
    FROM documents d";

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
