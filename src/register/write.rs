//! The register's writes, written once for every backend: what each [`Outcome`] of a batch
//! becomes, statement by statement, inside the one transaction the backend opened for the
//! batch. A backend only binds each statement ([`Writes`]) and opens and commits the
//! transaction; texts are cleared of contacts here, before any backend sees them.

use chrono::NaiveDateTime;

use super::records::{AcceptedDeal, FailedDocument, Outcome, SendRecord, SyncState};
use super::rows::kept_text;
use super::RegisterError;
use crate::domain::snapshot::{DocRef, DocumentSnapshot};

/// The register's write statements as one backend binds them inside an open transaction.
pub(crate) trait Writes {
    /// The document as read now; a new one starts pending. Its sync state is set by the
    /// statement that follows.
    async fn upsert_document(
        &mut self,
        snapshot: &DocumentSnapshot,
        order_number: Option<&str>,
        state_seen_at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError>;

    async fn mark_pending(
        &mut self,
        reference: DocRef,
        error: Option<&str>,
        count_attempt: bool,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError>;

    /// `revenue` is the deal's sum as Calltouch takes it.
    async fn mark_sent(
        &mut self,
        reference: DocRef,
        deal: &AcceptedDeal<'_>,
        revenue: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError>;

    /// The deal now driven by `driver`, which holds the values Calltouch accepted.
    async fn upsert_deal(
        &mut self,
        driver: &DocumentSnapshot,
        deal: &AcceptedDeal<'_>,
        revenue: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError>;

    async fn mark_settled(
        &mut self,
        reference: DocRef,
        state: SyncState,
        reason: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError>;

    /// `reason` replaces the document's own, already cleared of contacts.
    async fn record_failed(
        &mut self,
        failed: &FailedDocument<'_>,
        reason: &str,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError>;

    async fn insert_send_log(
        &mut self,
        reference: DocRef,
        send: &SendRecord<'_>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError>;
}

/// Writes a batch of outcomes through `writes`; the caller holds the transaction around it.
pub(crate) async fn write_outcomes<W: Writes>(
    writes: &mut W,
    outcomes: &[Outcome<'_>],
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    for outcome in outcomes {
        write_outcome(writes, outcome, now).await?;
    }
    Ok(())
}

async fn write_outcome<W: Writes>(
    writes: &mut W,
    outcome: &Outcome<'_>,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    match outcome {
        Outcome::Accepted {
            snapshot,
            deal,
            send,
            state_seen_at,
        } => {
            let reference = snapshot.reference;
            let order_number = Some(deal.order_number);
            writes
                .upsert_document(snapshot, order_number, *state_seen_at, now)
                .await?;
            let revenue = deal.revenue.map(|m| m.to_calltouch());
            let revenue = revenue.as_deref();
            writes.mark_sent(reference, deal, revenue, now).await?;
            writes.upsert_deal(snapshot, deal, revenue, now).await?;
            writes.insert_send_log(reference, send, now).await
        }
        Outcome::Failed { failed, send } => {
            let reason = kept_text(Some(&failed.reason)).unwrap_or_default();
            writes.record_failed(failed, &reason, now).await?;
            match send {
                Some(send) => writes.insert_send_log(failed.reference, send, now).await,
                None => Ok(()),
            }
        }
        Outcome::Deferred(pending) => {
            let snapshot = pending.snapshot;
            let order_number = Some(pending.order_number);
            writes
                .upsert_document(snapshot, order_number, pending.state_seen_at, now)
                .await?;
            let error = kept_text(pending.error.as_deref());
            writes
                .mark_pending(
                    snapshot.reference,
                    error.as_deref(),
                    pending.count_attempt,
                    now,
                )
                .await
        }
        Outcome::Settled(settled) => {
            let snapshot = settled.snapshot;
            writes
                .upsert_document(snapshot, settled.order_number, settled.state_seen_at, now)
                .await?;
            let reason = kept_text(settled.reason);
            writes
                .mark_settled(snapshot.reference, settled.state, reason.as_deref(), now)
                .await
        }
    }
}
