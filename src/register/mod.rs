//! The sync register: the assignment's «регистр сведений». One row per 1C document with its
//! sync state, one row per Calltouch deal with the values last accepted, the source checkpoint,
//! and a log of every request sent and its answer.

pub mod sqlite;

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::snapshot::{DocKind, DocRef, Money};

/// A deal as Calltouch last accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealRecord {
    pub order_number: String,
    /// The document that owns the deal's number: the booking, or a work order without one.
    pub root: DocRef,
    /// The document whose state, sum and manager the deal follows now (item 11).
    pub driver: DocRef,
    pub driver_kind: DocKind,
    /// The driver's document date, when the register knows it.
    pub driver_date: Option<NaiveDateTime>,
    /// Values last accepted by Calltouch.
    pub status: Option<String>,
    pub revenue: Option<Money>,
    pub manager: Option<String>,
}

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
