//! What the register stores and answers, as typed records: the deal and document rows, the
//! checkpoint, what the cycle hands it to write (an [`Outcome`] per document), the runs and
//! the send log's rows and totals. Every backend reads and writes these same records.

use std::borrow::Cow;

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use crate::domain::snapshot::{DocKind, DocRef, DocumentSnapshot, Money};

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
    pub detail: Option<Cow<'a, str>>,
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
    pub reason: Cow<'a, str>,
}

/// A document about to be sent, or left waiting for a later attempt.
#[derive(Debug, Clone)]
pub struct PendingDocument<'a> {
    pub snapshot: &'a DocumentSnapshot,
    pub order_number: &'a str,
    pub state_seen_at: NaiveDateTime,
    /// Why it waits, when it does.
    pub error: Option<Cow<'a, str>>,
    /// Whether it waits after an attempt Calltouch deferred, which counts towards giving up.
    pub count_attempt: bool,
}

/// A document whose latest version needs nothing sent, or is deliberately not sent.
#[derive(Debug, Clone)]
pub struct SettledDocument<'a> {
    pub snapshot: &'a DocumentSnapshot,
    pub order_number: Option<&'a str>,
    pub state: SyncState,
    pub reason: Option<&'a str>,
    pub state_seen_at: NaiveDateTime,
}

/// What became of one document, as the register records it; a batch of them is written in
/// one transaction.
#[derive(Debug, Clone)]
pub enum Outcome<'a> {
    /// Accepted: the document, its deal and the send log.
    Accepted {
        snapshot: &'a DocumentSnapshot,
        deal: AcceptedDeal<'a>,
        send: SendRecord<'a>,
        state_seen_at: NaiveDateTime,
        /// Kept on the document's row: why its deal stays in an account the document would no
        /// longer choose (dealer groups).
        note: Option<&'a str>,
    },
    /// Rejected, given up or bad data, with the request and answer when one was sent.
    Failed {
        failed: FailedDocument<'a>,
        send: Option<SendRecord<'a>>,
    },
    /// Pending: about to be sent, or deferred by Calltouch for a later attempt.
    Deferred(PendingDocument<'a>),
    /// Needs nothing sent, or deliberately skipped.
    Settled(SettledDocument<'a>),
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

/// One row of the send log: a request as sent and how Calltouch took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendLogEntry {
    pub endpoint: String,
    pub order_number: String,
    pub request: String,
    pub outcome: String,
}

/// How many documents are in one sync state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateCount {
    pub state: SyncState,
    pub count: u64,
}

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
