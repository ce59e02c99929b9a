//! The register's writes, written once for every backend: what each [`Outcome`] of a batch
//! becomes, statement by statement, inside the one transaction the backend opened for the
//! batch, and each statement's values in the order of its parameters. A backend only runs the
//! statement it names for each [`WriteStatement`], binds each [`Value`] its driver's way, and
//! opens and commits the transaction; texts are cleared of contacts here, before any backend
//! sees them.

use chrono::NaiveDateTime;

use super::records::{
    AcceptedDeal, FailedDocument, Outcome, PendingDocument, SendRecord, SettledDocument, SyncState,
};
use super::rows::kept_text;
use super::RegisterError;
use crate::domain::snapshot::{DocRef, DocumentSnapshot};

/// The register's write statements; each backend names its own text for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteStatement {
    UpsertDocument,
    MarkPending,
    MarkSent,
    UpsertDeal,
    MarkSettled,
    RecordFailed,
    InsertSendLog,
}

/// A value bound to a write statement, the same for every backend; each backend's driver
/// binds it as that backend stores it (times: whole seconds on a server, text in SQLite; a
/// flag: an integer).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Text(&'a str),
    MaybeText(Option<&'a str>),
    /// A document reference, as its UUID text.
    Key(String),
    MaybeNumber(Option<i64>),
    Flag(bool),
    Time(NaiveDateTime),
}

/// One backend running the write statements inside the transaction it opened.
pub(crate) trait Writes {
    async fn execute(
        &mut self,
        statement: WriteStatement,
        values: &[Value<'_>],
    ) -> Result<(), RegisterError>;
}

fn key(reference: DocRef) -> Value<'static> {
    Value::Key(reference.to_uuid_string())
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
            note,
        } => {
            let reference = snapshot.reference;
            let order_number = Some(deal.order_number);
            upsert_document(writes, snapshot, order_number, *state_seen_at, now).await?;
            let revenue = deal.revenue.map(|m| m.to_calltouch());
            let revenue = revenue.as_deref();
            mark_sent(writes, reference, deal, revenue, now).await?;
            upsert_deal(writes, snapshot, deal, revenue, now).await?;
            insert_send_log(writes, reference, send, now).await?;
            match note {
                // Sent, with the note where a settled document keeps its reason.
                Some(note) => {
                    let settled = SettledDocument {
                        snapshot,
                        order_number,
                        state: SyncState::Sent,
                        reason: Some(note),
                        state_seen_at: *state_seen_at,
                    };
                    mark_settled(writes, &settled, now).await
                }
                None => Ok(()),
            }
        }
        Outcome::Failed { failed, send } => {
            let reason = kept_text(Some(&failed.reason)).unwrap_or_default();
            record_failed(writes, failed, &reason, now).await?;
            match send {
                Some(send) => insert_send_log(writes, failed.reference, send, now).await,
                None => Ok(()),
            }
        }
        Outcome::Deferred(pending) => {
            let snapshot = pending.snapshot;
            let order_number = Some(pending.order_number);
            upsert_document(writes, snapshot, order_number, pending.state_seen_at, now).await?;
            mark_pending(writes, pending, now).await
        }
        Outcome::Settled(settled) => {
            let snapshot = settled.snapshot;
            let order_number = settled.order_number;
            upsert_document(writes, snapshot, order_number, settled.state_seen_at, now).await?;
            mark_settled(writes, settled, now).await
        }
    }
}

// Each statement's values, in the order of its parameters (`$1`, `?1`, `@P1`, ...).

/// The document as read now; a new one starts pending. Its sync state is set by the statement
/// that follows.
async fn upsert_document<W: Writes>(
    writes: &mut W,
    snapshot: &DocumentSnapshot,
    order_number: Option<&str>,
    state_seen_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    let values = [
        key(snapshot.reference),
        Value::Text(snapshot.kind.code()),
        Value::Text(&snapshot.number),
        Value::Time(snapshot.date),
        Value::MaybeText(order_number),
        Value::MaybeText(snapshot.state.as_deref()),
        Value::Time(state_seen_at),
        Value::Time(now),
    ];
    writes
        .execute(WriteStatement::UpsertDocument, &values)
        .await
}

async fn mark_pending<W: Writes>(
    writes: &mut W,
    pending: &PendingDocument<'_>,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    let error = kept_text(pending.error.as_deref());
    let values = [
        key(pending.snapshot.reference),
        Value::MaybeText(error.as_deref()),
        Value::Flag(pending.count_attempt),
        Value::Time(now),
    ];
    writes.execute(WriteStatement::MarkPending, &values).await
}

/// `revenue` is the deal's sum as Calltouch takes it.
async fn mark_sent<W: Writes>(
    writes: &mut W,
    reference: DocRef,
    deal: &AcceptedDeal<'_>,
    revenue: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    let values = [
        key(reference),
        Value::MaybeText(deal.status),
        Value::MaybeText(revenue),
        Value::MaybeText(deal.manager),
        Value::Time(now),
    ];
    writes.execute(WriteStatement::MarkSent, &values).await
}

/// The deal now driven by `driver`, which holds the values Calltouch accepted.
async fn upsert_deal<W: Writes>(
    writes: &mut W,
    driver: &DocumentSnapshot,
    deal: &AcceptedDeal<'_>,
    revenue: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    let values = [
        Value::Text(deal.order_number),
        key(deal.root),
        key(driver.reference),
        Value::Text(driver.kind.code()),
        Value::MaybeText(deal.status),
        Value::MaybeText(revenue),
        Value::MaybeText(deal.manager),
        Value::MaybeNumber(deal.calltouch_id),
        Value::Time(now),
        Value::MaybeText(deal.account),
    ];
    writes.execute(WriteStatement::UpsertDeal, &values).await
}

async fn mark_settled<W: Writes>(
    writes: &mut W,
    settled: &SettledDocument<'_>,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    let reason = kept_text(settled.reason);
    let values = [
        key(settled.snapshot.reference),
        Value::Text(settled.state.code()),
        Value::MaybeText(reason.as_deref()),
        Value::Time(now),
    ];
    writes.execute(WriteStatement::MarkSettled, &values).await
}

/// `reason` replaces the document's own, already cleared of contacts.
async fn record_failed<W: Writes>(
    writes: &mut W,
    failed: &FailedDocument<'_>,
    reason: &str,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    let values = [
        key(failed.reference),
        Value::Text(failed.kind.code()),
        Value::Text(failed.number),
        Value::Time(failed.date.unwrap_or_default()),
        Value::MaybeText(failed.order_number),
        Value::Text(reason),
        Value::Time(now),
    ];
    writes.execute(WriteStatement::RecordFailed, &values).await
}

async fn insert_send_log<W: Writes>(
    writes: &mut W,
    reference: DocRef,
    send: &SendRecord<'_>,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    let values = [
        Value::Time(now),
        Value::Text(send.endpoint),
        Value::Text(send.order_number),
        key(reference),
        Value::Text(send.request_json),
        Value::Text(send.outcome),
        Value::MaybeText(send.detail.as_deref()),
    ];
    writes.execute(WriteStatement::InsertSendLog, &values).await
}
