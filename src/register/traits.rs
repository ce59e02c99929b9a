//! What the register offers, split by who asks: [`CycleStore`] is all a cycle reads and writes,
//! [`RunLog`] keeps runs apart and records how they ended, [`Admin`] serves the commands and the
//! status page. [`Register`] is what every backend is: a place with a schema. Every backend
//! implements all four and behaves the same (`tests/register_suite.rs` holds them to it).

use chrono::{NaiveDate, NaiveDateTime};

use super::records::{
    CheckpointRow, DocumentRecord, DocumentTotal, FailedDocument, ListFilter, Outcome,
    PendingDocument, RunDurations, SendAnswer, SendLogEntry, SendRecord, SendTotal,
    SettledDocument, StateCount, SyncState,
};
use super::RegisterError;
use crate::domain::deal::DealRecord;
use crate::domain::run::RunRecord;
use crate::domain::snapshot::{DocRef, DocumentSnapshot};
use crate::ops::lock::{LockError, RunLock};

/// A register on one backend: where it lives and its schema.
#[allow(async_fn_in_trait)]
pub trait Register {
    /// Where the register lives, for messages: a file path or `host:port/database schema`.
    fn place(&self) -> String;

    /// The schema version the register has.
    async fn schema_version(&self) -> Result<i64, RegisterError>;

    /// A write that changes nothing, to prove the login may write (for `check`).
    async fn probe_write(&mut self) -> Result<(), RegisterError>;
}

/// What a cycle reads and writes. Each write is one transaction.
#[allow(async_fn_in_trait)]
pub trait CycleStore: Register {
    async fn checkpoint(&self, source: &str) -> Result<CheckpointRow, RegisterError>;

    /// Stores the checkpoint a fully processed read returned.
    async fn save_checkpoint(
        &self,
        source: &str,
        checkpoint: &str,
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

    /// Documents matching a filter, newest change first: the cycle's pending documents, and
    /// the `register` command.
    async fn list(&self, filter: &ListFilter) -> Result<Vec<DocumentRecord>, RegisterError>;

    /// Records what became of a batch of documents in one transaction: all of it or none.
    async fn record_outcomes(
        &mut self,
        outcomes: &[Outcome<'_>],
        now: NaiveDateTime,
    ) -> Result<(), RegisterError>;

    /// Deletes the send log's rows written before `before`: their request bodies hold
    /// customers' phones and e-mails (`[register] send_log_days`). Each run does it before
    /// it sends. Returns how many.
    async fn prune_send_log(&mut self, before: NaiveDateTime) -> Result<u64, RegisterError>;

    /// Records, in one transaction, that these documents are about to be sent or are waiting to
    /// be retried. A document's request may leave only once this returned: a crash after the
    /// send then finds it pending with its order number, and its next attempt checks Calltouch
    /// before creating the deal again.
    async fn mark_pending_batch(
        &mut self,
        documents: &[PendingDocument<'_>],
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let outcomes: Vec<Outcome<'_>> = documents.iter().cloned().map(Outcome::Deferred).collect();
        self.record_outcomes(&outcomes, now).await
    }

    /// Records a document whose latest version needs nothing sent, or is deliberately skipped.
    async fn record_settled(
        &mut self,
        snapshot: &DocumentSnapshot,
        order_number: Option<&str>,
        state: SyncState,
        reason: Option<&str>,
        state_seen_at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let settled = SettledDocument {
            snapshot,
            order_number,
            state,
            reason,
            state_seen_at,
        };
        self.record_outcomes(&[Outcome::Settled(settled)], now)
            .await
    }

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
}

/// Held while a run (or `register retry`, `reset-checkpoint`) works on the register; dropping
/// it releases the lock, and so does the end of the process in any way. Each backend holds its
/// own kind (an OS file lock beside the SQLite file, a PostgreSQL advisory lock or an MS SQL
/// application lock on a connection of its own); the guard only keeps it alive.
#[derive(Debug)]
pub struct RunGuard {
    _held: Box<dyn HeldLock>,
}

impl RunGuard {
    pub fn new(held: impl HeldLock + 'static) -> RunGuard {
        RunGuard {
            _held: Box::new(held),
        }
    }
}

/// A backend's lock, released when dropped.
pub trait HeldLock: std::fmt::Debug + Send {}

impl HeldLock for RunLock {}

/// The lock that keeps runs apart, and the log of how they ended.
#[allow(async_fn_in_trait)]
pub trait RunLog: Register {
    /// Takes the lock that keeps two runs apart, or says who holds it.
    async fn lock_run(&self) -> Result<RunGuard, LockError>;

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

    /// The last `limit` finished runs, newest first (the status page).
    async fn recent_runs(&self, limit: u32) -> Result<Vec<RunRecord>, RegisterError>;

    /// Runs counted per outcome and whole-second duration (`/metrics`).
    async fn run_durations(&self) -> Result<Vec<RunDurations>, RegisterError>;

    /// When the last run that did not end in an error finished.
    async fn last_success(&self) -> Result<Option<NaiveDateTime>, RegisterError>;
}

/// The commands' and the status page's reads and repairs.
#[allow(async_fn_in_trait)]
pub trait Admin: Register {
    /// Forgets the checkpoint so the next cycle re-reads everything from `since` (or the
    /// configured start date). Deals already in Calltouch stay known, so none is made twice.
    async fn reset_checkpoint(
        &self,
        source: &str,
        since: Option<NaiveDate>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError>;

    /// Puts the failed or waiting documents with this number back in line: pending, no attempts
    /// counted, so the next cycle reads them again by number and sends them. Returns how many.
    async fn requeue(&self, number: &str, now: NaiveDateTime) -> Result<usize, RegisterError>;

    /// Document counts per sync state, in the order of the state codes.
    async fn counts(&self) -> Result<Vec<StateCount>, RegisterError>;

    /// Documents counted per kind, sync state and whether an error is recorded.
    async fn document_totals(&self) -> Result<Vec<DocumentTotal>, RegisterError>;

    /// The send log counted per endpoint and outcome.
    async fn send_totals(&self) -> Result<Vec<SendTotal>, RegisterError>;

    /// The send log from `since` on, counted per day, endpoint and outcome.
    async fn daily_sends(&self, since: NaiveDateTime) -> Result<Vec<SendTotal>, RegisterError>;

    /// The last answer the send log holds for a document's own request.
    async fn last_answer(&self, reference: DocRef) -> Result<Option<SendAnswer>, RegisterError>;

    /// Every row of the send log, oldest first, request bodies included. No command shows it
    /// (the bodies hold customers' contacts); tests read it to see what was sent.
    async fn dump_send_log(&self) -> Result<Vec<SendLogEntry>, RegisterError>;
}
