//! The sync register: the assignment's «регистр сведений». One row per 1C document with its
//! sync state, one row per Calltouch deal with the values last accepted, the source checkpoint,
//! a log of every request sent and its answer, and the runs.
//!
//! [`Register`] is everything the cycle and the commands ask of it; every backend behaves the
//! same (the shared suite in `tests/register_suite.rs` holds them to it). [`open`] picks the
//! backend `[register] kind` names: an embedded SQLite file, or a schema of its own on a
//! PostgreSQL or an MS SQL server (its T-SQL in [`mssql`], run by [`mssql_server`]).

pub mod mssql;
pub mod mssql_server;
pub mod postgres;
pub mod settings;
pub mod sqlite;
pub mod statements;

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use crate::db::mssql::MssqlTarget;
use crate::db::postgres::PgTarget;
pub use crate::domain::deal::DealRecord;
use crate::lock::{LockError, RunLock};
use crate::snapshot::{DocKind, DocRef, DocumentSnapshot, Money};
pub use settings::{RegisterKind, RegisterSettings};

/// Sync state of one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncState {
    /// Seen, not yet accepted by Calltouch (or to be retried).
    Pending,
    /// Its last relevant change was accepted.
    Sent,
    /// Rejected or bad data; stays until the document changes or is re-queued.
    Failed,
    /// Deliberately not sent (deletion mark, the deal follows a work order, …).
    Skipped,
}

impl SyncState {
    pub fn code(self) -> &'static str {
        match self {
            SyncState::Pending => "pending",
            SyncState::Sent => "sent",
            SyncState::Failed => "failed",
            SyncState::Skipped => "skipped",
        }
    }

    pub fn from_code(code: &str) -> Option<SyncState> {
        match code {
            "pending" => Some(SyncState::Pending),
            "sent" => Some(SyncState::Sent),
            "failed" => Some(SyncState::Failed),
            "skipped" => Some(SyncState::Skipped),
            _ => None,
        }
    }
}

/// One document's row in the register, as shown by `register`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentRecord {
    pub kind: DocKind,
    #[serde(serialize_with = "serialize_ref")]
    pub reference: DocRef,
    pub number: String,
    pub date: NaiveDateTime,
    pub order_number: Option<String>,
    pub state: SyncState,
    /// The 1C state last seen.
    pub onec_state: Option<String>,
    pub last_status: Option<String>,
    pub last_revenue: Option<String>,
    pub last_manager: Option<String>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub updated_at: NaiveDateTime,
}

fn serialize_ref<S: serde::Serializer>(reference: &DocRef, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&reference.to_uuid_string())
}

/// The stored checkpoint of one source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckpointRow {
    pub checkpoint: Option<String>,
    /// Cut-off set by `reset-checkpoint --since`, overriding `source.start_date`.
    pub since: Option<NaiveDate>,
}

/// What Calltouch answered for one order, for the send log.
#[derive(Debug, Clone)]
pub struct SendRecord<'a> {
    pub endpoint: &'a str,
    pub order_number: &'a str,
    pub request_json: &'a str,
    pub outcome: &'a str,
    pub detail: Option<&'a str>,
}

/// The values of a deal once Calltouch accepted a request for it.
#[derive(Debug, Clone)]
pub struct AcceptedDeal<'a> {
    pub order_number: &'a str,
    pub root: DocRef,
    pub status: Option<&'a str>,
    pub revenue: Option<Money>,
    pub manager: Option<&'a str>,
    pub calltouch_id: Option<i64>,
    /// The account a new deal is created in; an existing deal keeps the one it has.
    pub account: Option<&'a str>,
}

/// A document that failed (bad data, or rejected by Calltouch), as far as it is known.
#[derive(Debug, Clone)]
pub struct FailedDocument<'a> {
    pub kind: DocKind,
    pub reference: DocRef,
    pub number: &'a str,
    /// Unknown when the row could not be decoded.
    pub date: Option<NaiveDateTime>,
    pub order_number: Option<&'a str>,
    pub reason: &'a str,
}

/// A document about to be sent, or left waiting for a later attempt.
#[derive(Debug, Clone)]
pub struct PendingDocument<'a> {
    pub snapshot: &'a DocumentSnapshot,
    pub order_number: &'a str,
    pub state_seen_at: NaiveDateTime,
    /// Why it waits, when it does.
    pub error: Option<&'a str>,
    /// Whether it waits after an attempt Calltouch deferred, which counts towards giving up.
    pub count_attempt: bool,
}

/// What became of one sent document, as the register records it.
#[derive(Debug, Clone)]
pub enum Outcome<'a> {
    /// Accepted: the document, its deal and the send log.
    Accepted {
        snapshot: &'a DocumentSnapshot,
        deal: AcceptedDeal<'a>,
        send: SendRecord<'a>,
        state_seen_at: NaiveDateTime,
    },
    /// Rejected, given up or bad data, with the request and answer when one was sent.
    Failed {
        failed: FailedDocument<'a>,
        send: Option<SendRecord<'a>>,
    },
    /// Deferred by Calltouch: pending again, for a later attempt.
    Deferred(PendingDocument<'a>),
}

/// Filters of the `register` listing.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub state: Option<SyncState>,
    pub kind: Option<DocKind>,
    pub number: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub with_errors: bool,
}

/// How a run ended: (started, finished, outcome, summary).
pub type RunRecord = (NaiveDateTime, NaiveDateTime, String, String);

/// The send log's columns shown by tests and support: (endpoint, orderNumber, request, outcome).
pub type SendLogEntry = (String, String, String, String);

/// How many runs ended with one outcome after a duration, in whole seconds: the status page's
/// cycle duration histogram, without reading every run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDurations {
    pub outcome: String,
    pub seconds: i64,
    pub count: u64,
}

/// How many documents of a kind are in a sync state; `with_error` tells the pending ones that
/// wait after an error (deferred) from the ones merely not sent yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentTotal {
    pub kind: DocKind,
    pub state: SyncState,
    pub with_error: bool,
    pub count: u64,
}

/// How many orders the send log holds for an endpoint and outcome, on one day or in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendTotal {
    /// The day the orders were sent; `None` in the all-time totals.
    pub day: Option<NaiveDate>,
    pub endpoint: String,
    pub outcome: String,
    pub count: u64,
}

/// The last answer Calltouch gave to one document's request, from the send log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendAnswer {
    pub at: NaiveDateTime,
    pub endpoint: String,
    pub outcome: String,
    pub detail: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("register {place}: {message}")]
    Open { place: String, message: String },
    #[error("register {place} has schema version {found}, newer than this program knows ({known}); upgrade alfa-calltouch")]
    TooNew {
        place: String,
        found: i64,
        known: i64,
    },
    #[error("register: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("register: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("register: {0}")]
    Mssql(#[from] tiberius::error::Error),
    /// A connection that failed, in the words of the server or the network.
    #[error(transparent)]
    Connection(#[from] crate::db::ConnectError),
    #[error("register holds a value it cannot read: {0}")]
    Corrupt(String),
}

/// Held while a run (or `register retry`, `reset-checkpoint`) works on the register; dropping
/// it releases the lock, and so does the end of the process in any way.
#[derive(Debug)]
pub enum RunGuard {
    /// An OS file lock beside the SQLite file.
    File(RunLock),
    /// A session advisory lock held on a connection of its own.
    Server(postgres::AdvisoryLock),
    /// An MS SQL session application lock held on a connection of its own.
    AppLock(mssql_server::AppLock),
}

/// Every read and write of the register. Each write method is one transaction.
#[allow(async_fn_in_trait)]
pub trait Register {
    /// Where the register lives, for messages: a file path or `host:port/database schema`.
    fn place(&self) -> String;

    /// Takes the lock that keeps two runs apart, or says who holds it.
    async fn lock_run(&self) -> Result<RunGuard, LockError>;

    /// The schema version the register has.
    async fn schema_version(&self) -> Result<i64, RegisterError>;

    /// A write that changes nothing, to prove the login may write (for `check`).
    async fn probe_write(&mut self) -> Result<(), RegisterError>;

    async fn checkpoint(&self, source: &str) -> Result<CheckpointRow, RegisterError>;

    /// Stores the checkpoint a fully processed read returned.
    async fn save_checkpoint(
        &self,
        source: &str,
        checkpoint: &str,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError>;

    /// Forgets the checkpoint so the next cycle re-reads everything from `since` (or the
    /// configured start date). Deals already in Calltouch stay known, so none is made twice.
    async fn reset_checkpoint(
        &self,
        source: &str,
        since: Option<NaiveDate>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError>;

    async fn deal(&self, order_number: &str) -> Result<Option<DealRecord>, RegisterError>;

    async fn document(&self, reference: DocRef) -> Result<Option<DocumentRecord>, RegisterError>;

    /// When the register first saw the document in its current 1C state: `None` for an unknown
    /// document, `Some(None)` when it was last seen in another state.
    async fn state_seen_at(
        &self,
        reference: DocRef,
        state: Option<&str>,
    ) -> Result<Option<Option<NaiveDateTime>>, RegisterError>;

    /// Records, in one transaction, that these documents are about to be sent or are waiting to
    /// be retried. A document's request may leave only once this returned: a crash after the
    /// send then finds it pending with its order number, and its next attempt checks Calltouch
    /// before creating the deal again.
    async fn mark_pending_batch(
        &mut self,
        documents: &[PendingDocument<'_>],
        now: NaiveDateTime,
    ) -> Result<(), RegisterError>;

    /// Records what became of a batch of sent documents in one transaction: all of it or none.
    async fn record_outcomes(
        &mut self,
        outcomes: &[Outcome<'_>],
        now: NaiveDateTime,
    ) -> Result<(), RegisterError>;

    /// Records a document whose latest version needs nothing sent, or is deliberately skipped.
    async fn record_settled(
        &mut self,
        snapshot: &DocumentSnapshot,
        order_number: Option<&str>,
        state: SyncState,
        reason: Option<&str>,
        state_seen_at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError>;

    /// Records a failed document, with the request and answer when Calltouch refused it.
    async fn record_failed(
        &mut self,
        failed: &FailedDocument<'_>,
        send: Option<&SendRecord<'_>>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let outcome = Outcome::Failed {
            failed: failed.clone(),
            send: send.cloned(),
        };
        self.record_outcomes(&[outcome], now).await
    }

    /// Puts the failed or waiting documents with this number back in line: pending, no attempts
    /// counted, so the next cycle reads them again by number and sends them. Returns how many.
    async fn requeue(&self, number: &str, now: NaiveDateTime) -> Result<usize, RegisterError>;

    /// Documents for the `register` command, newest change first.
    async fn list(&self, filter: &ListFilter) -> Result<Vec<DocumentRecord>, RegisterError>;

    /// Document counts per sync state, in the order of the state codes.
    async fn counts(&self) -> Result<Vec<(SyncState, u64)>, RegisterError>;

    /// The send log, oldest first.
    async fn send_log(&self) -> Result<Vec<SendLogEntry>, RegisterError>;

    /// Deletes the send log's rows written before `before`: their request bodies hold
    /// customers' phones and e-mails (`[register] send_log_days`). Returns how many.
    async fn prune_send_log(&mut self, before: NaiveDateTime) -> Result<u64, RegisterError>;

    /// Records how a run ended.
    async fn record_run(
        &self,
        started_at: NaiveDateTime,
        finished_at: NaiveDateTime,
        outcome: &str,
        summary: &str,
    ) -> Result<(), RegisterError>;

    /// The last run.
    async fn last_run(&self) -> Result<Option<RunRecord>, RegisterError>;

    /// The last `limit` runs, newest first (the status page).
    async fn recent_runs(&self, limit: u32) -> Result<Vec<RunRecord>, RegisterError>;

    /// Runs counted per outcome and whole-second duration (`/metrics`).
    async fn run_durations(&self) -> Result<Vec<RunDurations>, RegisterError>;

    /// When the last run that did not end in an error finished.
    async fn last_success(&self) -> Result<Option<NaiveDateTime>, RegisterError>;

    /// Documents counted per kind, sync state and whether an error is recorded.
    async fn document_totals(&self) -> Result<Vec<DocumentTotal>, RegisterError>;

    /// The send log counted per endpoint and outcome.
    async fn send_totals(&self) -> Result<Vec<SendTotal>, RegisterError>;

    /// The send log from `since` on, counted per day, endpoint and outcome.
    async fn daily_sends(&self, since: NaiveDateTime) -> Result<Vec<SendTotal>, RegisterError>;

    /// The last answer the send log holds for a document's own request.
    async fn last_answer(&self, reference: DocRef) -> Result<Option<SendAnswer>, RegisterError>;
}

/// The register the configuration names.
pub enum AnyRegister {
    Sqlite(sqlite::SqliteRegister),
    /// Boxed: a PostgreSQL client is much larger than a SQLite connection.
    Postgres(Box<postgres::PostgresRegister>),
    /// Boxed for the same reason.
    Mssql(Box<mssql_server::MssqlRegister>),
}

/// Opens (creating or migrating) the register `[register]` names. Takes the config (`&Config`)
/// or its settings.
pub async fn open(settings: impl Into<RegisterSettings>) -> Result<AnyRegister, RegisterError> {
    match settings.into() {
        RegisterSettings::Sqlite { path } => {
            Ok(AnyRegister::Sqlite(sqlite::SqliteRegister::open(&path)?))
        }
        RegisterSettings::Postgres { endpoint, schema } => {
            let target = PgTarget::new(&endpoint?, "alfa-calltouch register")?;
            let register = postgres::PostgresRegister::connect(target, &schema).await?;
            Ok(AnyRegister::Postgres(Box::new(register)))
        }
        RegisterSettings::Mssql { endpoint, schema } => {
            let target = MssqlTarget::new(&endpoint?, "alfa-calltouch register")?;
            let register = mssql_server::MssqlRegister::open(target, &schema).await?;
            Ok(AnyRegister::Mssql(Box::new(register)))
        }
    }
}

/// Forwards each method to the backend in use.
macro_rules! dispatch {
    ($self:ident, $register:ident => $call:expr) => {
        match $self {
            AnyRegister::Sqlite($register) => $call,
            AnyRegister::Postgres($register) => $call,
            AnyRegister::Mssql($register) => $call,
        }
    };
}

impl Register for AnyRegister {
    fn place(&self) -> String {
        dispatch!(self, r => r.place())
    }
    async fn lock_run(&self) -> Result<RunGuard, LockError> {
        dispatch!(self, r => r.lock_run().await)
    }
    async fn schema_version(&self) -> Result<i64, RegisterError> {
        dispatch!(self, r => r.schema_version().await)
    }
    async fn probe_write(&mut self) -> Result<(), RegisterError> {
        dispatch!(self, r => r.probe_write().await)
    }
    async fn checkpoint(&self, source: &str) -> Result<CheckpointRow, RegisterError> {
        dispatch!(self, r => r.checkpoint(source).await)
    }
    async fn save_checkpoint(
        &self,
        source: &str,
        checkpoint: &str,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        dispatch!(self, r => r.save_checkpoint(source, checkpoint, now).await)
    }
    async fn reset_checkpoint(
        &self,
        source: &str,
        since: Option<NaiveDate>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        dispatch!(self, r => r.reset_checkpoint(source, since, now).await)
    }
    async fn deal(&self, order_number: &str) -> Result<Option<DealRecord>, RegisterError> {
        dispatch!(self, r => r.deal(order_number).await)
    }
    async fn document(&self, reference: DocRef) -> Result<Option<DocumentRecord>, RegisterError> {
        dispatch!(self, r => r.document(reference).await)
    }
    async fn state_seen_at(
        &self,
        reference: DocRef,
        state: Option<&str>,
    ) -> Result<Option<Option<NaiveDateTime>>, RegisterError> {
        dispatch!(self, r => r.state_seen_at(reference, state).await)
    }
    async fn mark_pending_batch(
        &mut self,
        documents: &[PendingDocument<'_>],
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        dispatch!(self, r => r.mark_pending_batch(documents, now).await)
    }
    async fn record_outcomes(
        &mut self,
        outcomes: &[Outcome<'_>],
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        dispatch!(self, r => r.record_outcomes(outcomes, now).await)
    }
    async fn record_settled(
        &mut self,
        snapshot: &DocumentSnapshot,
        order_number: Option<&str>,
        state: SyncState,
        reason: Option<&str>,
        state_seen_at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        dispatch!(self, r => r
            .record_settled(snapshot, order_number, state, reason, state_seen_at, now)
            .await)
    }
    async fn requeue(&self, number: &str, now: NaiveDateTime) -> Result<usize, RegisterError> {
        dispatch!(self, r => r.requeue(number, now).await)
    }
    async fn list(&self, filter: &ListFilter) -> Result<Vec<DocumentRecord>, RegisterError> {
        dispatch!(self, r => r.list(filter).await)
    }
    async fn counts(&self) -> Result<Vec<(SyncState, u64)>, RegisterError> {
        dispatch!(self, r => r.counts().await)
    }
    async fn send_log(&self) -> Result<Vec<SendLogEntry>, RegisterError> {
        dispatch!(self, r => r.send_log().await)
    }
    async fn prune_send_log(&mut self, before: NaiveDateTime) -> Result<u64, RegisterError> {
        dispatch!(self, r => r.prune_send_log(before).await)
    }
    async fn record_run(
        &self,
        started_at: NaiveDateTime,
        finished_at: NaiveDateTime,
        outcome: &str,
        summary: &str,
    ) -> Result<(), RegisterError> {
        dispatch!(self, r => r.record_run(started_at, finished_at, outcome, summary).await)
    }
    async fn last_run(&self) -> Result<Option<RunRecord>, RegisterError> {
        dispatch!(self, r => r.last_run().await)
    }
    async fn recent_runs(&self, limit: u32) -> Result<Vec<RunRecord>, RegisterError> {
        dispatch!(self, r => r.recent_runs(limit).await)
    }
    async fn run_durations(&self) -> Result<Vec<RunDurations>, RegisterError> {
        dispatch!(self, r => r.run_durations().await)
    }
    async fn last_success(&self) -> Result<Option<NaiveDateTime>, RegisterError> {
        dispatch!(self, r => r.last_success().await)
    }
    async fn document_totals(&self) -> Result<Vec<DocumentTotal>, RegisterError> {
        dispatch!(self, r => r.document_totals().await)
    }
    async fn send_totals(&self) -> Result<Vec<SendTotal>, RegisterError> {
        dispatch!(self, r => r.send_totals().await)
    }
    async fn daily_sends(&self, since: NaiveDateTime) -> Result<Vec<SendTotal>, RegisterError> {
        dispatch!(self, r => r.daily_sends(since).await)
    }
    async fn last_answer(&self, reference: DocRef) -> Result<Option<SendAnswer>, RegisterError> {
        dispatch!(self, r => r.last_answer(reference).await)
    }
}

/// A text the register keeps outside its send log (an error, Calltouch's reason, a run's
/// summary), without the phones and e-mails it may quote: only the send log, pruned after
/// `[register] send_log_days`, keeps them.
pub(crate) fn kept_text(text: Option<&str>) -> Option<String> {
    text.map(crate::privacy::redact_contacts)
}

/// A documents row as both backends read it, before its codes are parsed.
pub(crate) struct StoredDocument {
    pub kind: String,
    pub reference: String,
    pub number: String,
    pub date: NaiveDateTime,
    pub order_number: Option<String>,
    pub state: String,
    pub onec_state: Option<String>,
    pub last_status: Option<String>,
    pub last_revenue: Option<String>,
    pub last_manager: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub updated_at: NaiveDateTime,
}

impl StoredDocument {
    pub(crate) fn into_record(self) -> Result<DocumentRecord, RegisterError> {
        Ok(DocumentRecord {
            kind: parse_kind(&self.kind)?,
            reference: parse_ref(&self.reference)?,
            number: self.number,
            date: self.date,
            order_number: self.order_number,
            state: parse_state(&self.state)?,
            onec_state: self.onec_state,
            last_status: self.last_status,
            last_revenue: self.last_revenue,
            last_manager: self.last_manager,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            last_error: self.last_error,
            updated_at: self.updated_at,
        })
    }
}

/// A deals row as both backends read it, before its codes are parsed.
pub(crate) struct StoredDeal {
    pub order_number: String,
    pub root: String,
    pub driver: String,
    pub driver_kind: String,
    pub status: Option<String>,
    pub revenue: Option<String>,
    pub manager: Option<String>,
    pub driver_date: Option<NaiveDateTime>,
    pub account: Option<String>,
}

impl StoredDeal {
    pub(crate) fn into_record(self) -> Result<DealRecord, RegisterError> {
        Ok(DealRecord {
            order_number: self.order_number,
            root: parse_ref(&self.root)?,
            driver: parse_ref(&self.driver)?,
            driver_kind: parse_kind(&self.driver_kind)?,
            driver_date: self.driver_date,
            driver_number: None,
            status: self.status,
            revenue: self.revenue.as_deref().map(parse_money).transpose()?,
            manager: self.manager,
            account: self.account,
        })
    }
}

/// The answer of `state_seen_at` from the stored state and the time it was first seen.
pub(crate) fn seen_in_state(
    stored: Option<(Option<String>, Option<NaiveDateTime>)>,
    state: Option<&str>,
) -> Option<Option<NaiveDateTime>> {
    match stored {
        None => None,
        Some((seen_state, seen_at)) if seen_state.as_deref() == state => Some(seen_at),
        Some(_) => Some(None),
    }
}

pub(crate) fn parse_state(text: &str) -> Result<SyncState, RegisterError> {
    SyncState::from_code(text).ok_or_else(|| RegisterError::Corrupt(format!("state {text:?}")))
}

fn parse_ref(text: &str) -> Result<DocRef, RegisterError> {
    DocRef::from_uuid_string(text)
        .ok_or_else(|| RegisterError::Corrupt(format!("reference {text:?}")))
}

pub(crate) fn parse_kind(text: &str) -> Result<DocKind, RegisterError> {
    DocKind::from_code(text)
        .ok_or_else(|| RegisterError::Corrupt(format!("document kind {text:?}")))
}

fn parse_money(text: &str) -> Result<Money, RegisterError> {
    Money::parse(text).ok_or_else(|| RegisterError::Corrupt(format!("sum {text:?}")))
}
