//! The PostgreSQL binding of the register's write statements, run inside the transaction
//! `record_outcomes` opened; what each outcome writes is decided once, in `register::write`.

use chrono::NaiveDateTime;
use tokio_postgres::types::ToSql;
use tokio_postgres::Transaction;

use super::super::records::{AcceptedDeal, FailedDocument, SendRecord, SyncState};
use super::super::statements;
use super::super::write::Writes;
use super::super::RegisterError;
use super::seconds;
use crate::domain::snapshot::{DocRef, DocumentSnapshot};

/// The write statements bound inside one open transaction.
pub(super) struct PostgresWrites<'t>(pub &'t Transaction<'t>);

impl PostgresWrites<'_> {
    async fn run(&self, sql: &str, values: &[&(dyn ToSql + Sync)]) -> Result<(), RegisterError> {
        self.0.execute(sql, values).await?;
        Ok(())
    }
}

impl Writes for PostgresWrites<'_> {
    async fn upsert_document(
        &mut self,
        snapshot: &DocumentSnapshot,
        order_number: Option<&str>,
        state_seen_at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let values: [&(dyn ToSql + Sync); 8] = [
            &snapshot.reference.to_uuid_string(),
            &snapshot.kind.code(),
            &snapshot.number,
            &seconds(snapshot.date),
            &order_number,
            &snapshot.state,
            &seconds(state_seen_at),
            &seconds(now),
        ];
        self.run(statements::UPSERT_DOCUMENT, &values).await
    }

    async fn mark_pending(
        &mut self,
        reference: DocRef,
        error: Option<&str>,
        count_attempt: bool,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let values: [&(dyn ToSql + Sync); 4] = [
            &reference.to_uuid_string(),
            &error,
            &i32::from(count_attempt),
            &seconds(now),
        ];
        self.run(statements::MARK_PENDING, &values).await
    }

    async fn mark_sent(
        &mut self,
        reference: DocRef,
        deal: &AcceptedDeal<'_>,
        revenue: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let values: [&(dyn ToSql + Sync); 5] = [
            &reference.to_uuid_string(),
            &deal.status,
            &revenue,
            &deal.manager,
            &seconds(now),
        ];
        self.run(statements::MARK_SENT, &values).await
    }

    async fn upsert_deal(
        &mut self,
        driver: &DocumentSnapshot,
        deal: &AcceptedDeal<'_>,
        revenue: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let values: [&(dyn ToSql + Sync); 10] = [
            &deal.order_number,
            &deal.root.to_uuid_string(),
            &driver.reference.to_uuid_string(),
            &driver.kind.code(),
            &deal.status,
            &revenue,
            &deal.manager,
            &deal.calltouch_id,
            &seconds(now),
            &deal.account,
        ];
        self.run(statements::UPSERT_DEAL, &values).await
    }

    async fn mark_settled(
        &mut self,
        reference: DocRef,
        state: SyncState,
        reason: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let values: [&(dyn ToSql + Sync); 4] = [
            &reference.to_uuid_string(),
            &state.code(),
            &reason,
            &seconds(now),
        ];
        self.run(statements::MARK_SETTLED, &values).await
    }

    async fn record_failed(
        &mut self,
        failed: &FailedDocument<'_>,
        reason: &str,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let values: [&(dyn ToSql + Sync); 7] = [
            &failed.reference.to_uuid_string(),
            &failed.kind.code(),
            &failed.number,
            &seconds(failed.date.unwrap_or_default()),
            &failed.order_number,
            &reason,
            &seconds(now),
        ];
        self.run(statements::RECORD_FAILED, &values).await
    }

    async fn insert_send_log(
        &mut self,
        reference: DocRef,
        send: &SendRecord<'_>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let values: [&(dyn ToSql + Sync); 7] = [
            &seconds(now),
            &send.endpoint,
            &send.order_number,
            &reference.to_uuid_string(),
            &send.request_json,
            &send.outcome,
            &send.detail.as_deref(),
        ];
        self.run(statements::INSERT_SEND_LOG, &values).await
    }
}
