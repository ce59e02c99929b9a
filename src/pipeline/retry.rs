//! The retry policy of a document Calltouch keeps deferring: the pause before its next
//! attempt doubles with each one, and `sync.max_document_attempts` gives it up as failed.

use chrono::NaiveDateTime;

use crate::config::SyncConfig;
use crate::register::{DocumentRecord, SyncState};

/// How often and how patiently a deferred document is tried again, from `[sync]`.
#[derive(Debug, Clone, Copy)]
pub(super) struct DocumentRetry {
    pub(super) max_attempts: u32,
    pub(super) backoff_initial: chrono::Duration,
    pub(super) backoff_max: chrono::Duration,
}

impl DocumentRetry {
    pub(super) fn new(sync: &SyncConfig) -> Self {
        let seconds =
            |secs: u64| chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX));
        DocumentRetry {
            max_attempts: sync.max_document_attempts.max(1),
            backoff_initial: seconds(sync.retry_backoff_secs),
            backoff_max: seconds(sync.retry_backoff_max_secs),
        }
    }

    /// When a pending document that failed `attempts` times may be sent again: the pause doubles
    /// with each attempt, capped.
    pub(super) fn next_attempt_at(&self, record: &DocumentRecord) -> Option<NaiveDateTime> {
        if record.state != SyncState::Pending || record.attempts == 0 {
            return None;
        }
        let doubling = 2i32.saturating_pow(record.attempts.saturating_sub(1).min(30));
        let pause = (self.backoff_initial * doubling).min(self.backoff_max);
        Some(record.updated_at + pause)
    }
}
