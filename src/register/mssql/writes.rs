//! The MS SQL binding of the register's write statements, run inside the transaction
//! `record_outcomes` opened; what each outcome writes is decided once, in `register::write`.

use chrono::NaiveDateTime;
use tiberius::ToSql;

use super::super::records::{AcceptedDeal, FailedDocument, SendRecord, SyncState};
use super::super::write::Writes;
use super::super::RegisterError;
use super::seconds;
use super::statements::{Rendered, Tsql};
use crate::db::mssql::TdsClient;
use crate::domain::snapshot::{DocRef, DocumentSnapshot};

pub(super) struct MssqlWrites<'c> {
    pub client: &'c mut TdsClient,
    pub sql: &'c Rendered,
}

impl MssqlWrites<'_> {
    async fn run(&mut self, statement: Tsql, params: &[&dyn ToSql]) -> Result<(), RegisterError> {
        self.client.execute(&self.sql[statement], params).await?;
        Ok(())
    }
}

impl Writes for MssqlWrites<'_> {
    async fn upsert_document(
        &mut self,
        snapshot: &DocumentSnapshot,
        order_number: Option<&str>,
        state_seen_at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let params: [&dyn ToSql; 8] = [
            &snapshot.reference.to_uuid_string(),
            &snapshot.kind.code(),
            &snapshot.number,
            &seconds(snapshot.date),
            &order_number,
            &snapshot.state,
            &seconds(state_seen_at),
            &seconds(now),
        ];
        self.run(Tsql::UpsertDocument, &params).await
    }

    async fn mark_pending(
        &mut self,
        reference: DocRef,
        error: Option<&str>,
        count_attempt: bool,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let params: [&dyn ToSql; 4] = [
            &reference.to_uuid_string(),
            &error,
            &i32::from(count_attempt),
            &seconds(now),
        ];
        self.run(Tsql::MarkPending, &params).await
    }

    async fn mark_sent(
        &mut self,
        reference: DocRef,
        deal: &AcceptedDeal<'_>,
        revenue: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let params: [&dyn ToSql; 5] = [
            &reference.to_uuid_string(),
            &deal.status,
            &revenue,
            &deal.manager,
            &seconds(now),
        ];
        self.run(Tsql::MarkSent, &params).await
    }

    async fn upsert_deal(
        &mut self,
        driver: &DocumentSnapshot,
        deal: &AcceptedDeal<'_>,
        revenue: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let params: [&dyn ToSql; 10] = [
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
        self.run(Tsql::UpsertDeal, &params).await
    }

    async fn mark_settled(
        &mut self,
        reference: DocRef,
        state: SyncState,
        reason: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let params: [&dyn ToSql; 4] = [
            &reference.to_uuid_string(),
            &state.code(),
            &reason,
            &seconds(now),
        ];
        self.run(Tsql::MarkSettled, &params).await
    }

    async fn record_failed(
        &mut self,
        failed: &FailedDocument<'_>,
        reason: &str,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let params: [&dyn ToSql; 7] = [
            &failed.reference.to_uuid_string(),
            &failed.kind.code(),
            &failed.number,
            &seconds(failed.date.unwrap_or_default()),
            &failed.order_number,
            &reason,
            &seconds(now),
        ];
        self.run(Tsql::RecordFailed, &params).await
    }

    async fn insert_send_log(
        &mut self,
        reference: DocRef,
        send: &SendRecord<'_>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let params: [&dyn ToSql; 7] = [
            &seconds(now),
            &send.endpoint,
            &send.order_number,
            &reference.to_uuid_string(),
            &send.request_json,
            &send.outcome,
            &send.detail.as_deref(),
        ];
        self.run(Tsql::InsertSendLog, &params).await
    }
}
