//! The SQLite binding of the register's write statements, run inside the transaction
//! `record_outcomes` opened; what each outcome writes is decided once, in `register::write`.

use chrono::NaiveDateTime;
use rusqlite::{params, Transaction};

use super::super::records::{AcceptedDeal, FailedDocument, SendRecord, SyncState};
use super::super::statements;
use super::super::write::Writes;
use super::super::RegisterError;
use super::{dialect, fmt_time};
use crate::domain::snapshot::{DocRef, DocumentSnapshot};

/// The write statements bound inside one open transaction.
pub(super) struct SqliteWrites<'t>(pub &'t Transaction<'t>);

impl SqliteWrites<'_> {
    fn run(&self, sql: &str, values: impl rusqlite::Params) -> Result<(), RegisterError> {
        self.0.prepare_cached(&dialect(sql))?.execute(values)?;
        Ok(())
    }
}

impl Writes for SqliteWrites<'_> {
    async fn upsert_document(
        &mut self,
        snapshot: &DocumentSnapshot,
        order_number: Option<&str>,
        state_seen_at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        self.run(
            statements::UPSERT_DOCUMENT,
            params![
                snapshot.reference.to_uuid_string(),
                snapshot.kind.code(),
                snapshot.number,
                fmt_time(snapshot.date),
                order_number,
                snapshot.state,
                fmt_time(state_seen_at),
                fmt_time(now)
            ],
        )
    }

    async fn mark_pending(
        &mut self,
        reference: DocRef,
        error: Option<&str>,
        count_attempt: bool,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        self.run(
            statements::MARK_PENDING,
            params![
                reference.to_uuid_string(),
                error,
                i64::from(count_attempt),
                fmt_time(now)
            ],
        )
    }

    async fn mark_sent(
        &mut self,
        reference: DocRef,
        deal: &AcceptedDeal<'_>,
        revenue: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        self.run(
            statements::MARK_SENT,
            params![
                reference.to_uuid_string(),
                deal.status,
                revenue,
                deal.manager,
                fmt_time(now)
            ],
        )
    }

    async fn upsert_deal(
        &mut self,
        driver: &DocumentSnapshot,
        deal: &AcceptedDeal<'_>,
        revenue: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        self.run(
            statements::UPSERT_DEAL,
            params![
                deal.order_number,
                deal.root.to_uuid_string(),
                driver.reference.to_uuid_string(),
                driver.kind.code(),
                deal.status,
                revenue,
                deal.manager,
                deal.calltouch_id,
                fmt_time(now),
                deal.account
            ],
        )
    }

    async fn mark_settled(
        &mut self,
        reference: DocRef,
        state: SyncState,
        reason: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        self.run(
            statements::MARK_SETTLED,
            params![
                reference.to_uuid_string(),
                state.code(),
                reason,
                fmt_time(now)
            ],
        )
    }

    async fn record_failed(
        &mut self,
        failed: &FailedDocument<'_>,
        reason: &str,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        self.run(
            statements::RECORD_FAILED,
            params![
                failed.reference.to_uuid_string(),
                failed.kind.code(),
                failed.number,
                fmt_time(failed.date.unwrap_or_default()),
                failed.order_number,
                reason,
                fmt_time(now)
            ],
        )
    }

    async fn insert_send_log(
        &mut self,
        reference: DocRef,
        send: &SendRecord<'_>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        self.run(
            statements::INSERT_SEND_LOG,
            params![
                fmt_time(now),
                send.endpoint,
                send.order_number,
                reference.to_uuid_string(),
                send.request_json,
                send.outcome,
                send.detail.as_deref()
            ],
        )
    }
}
