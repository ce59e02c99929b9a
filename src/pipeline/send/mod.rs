//! Deciding and sending one chunk: the documents split into rounds of one document per deal,
//! each round decided by the rules, recorded pending, sent a batch at a time, and its answers
//! recorded in one transaction.

use chrono::NaiveDateTime;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use crate::calltouch::client::{CalltouchClient, Endpoint, Operation, OrderOutcome};
use crate::domain::payload::CreateOrder;
use crate::domain::snapshot::{DocKind, DocumentSnapshot, Money};
use crate::register::{
    AcceptedDeal, CycleStore, FailedDocument, Outcome, PendingDocument, SendRecord,
};
use crate::rules::{DealRules, SentValues};

use super::deals::resolve_deal;
use super::retry::DocumentRetry;
use super::{AccountClients, CycleError, CycleSummary};

pub(super) mod decide;

/// One document on its way to Calltouch.
pub(super) struct Outgoing {
    snapshot: DocumentSnapshot,
    order_number: String,
    sent: SentValues,
    /// What is recorded if an update falls back to its create body.
    fallback_sent: Option<SentValues>,
    state_seen_at: NaiveDateTime,
    request_json: String,
    /// Deferred attempts counted before this one.
    attempts: u32,
    /// The account the request goes to, as the register records a new deal's.
    account: Option<String>,
    /// Index of the account in `Accounts::list`.
    account_index: usize,
    /// Why the deal is in another account than the document would choose now.
    moved: Option<String>,
}

impl Outgoing {
    /// Its pending row: before the request leaves, or after Calltouch deferred it.
    fn pending<'a>(
        &'a self,
        error: Option<Cow<'a, str>>,
        count_attempt: bool,
    ) -> PendingDocument<'a> {
        PendingDocument {
            snapshot: &self.snapshot,
            order_number: &self.order_number,
            state_seen_at: self.state_seen_at,
            error,
            count_attempt,
        }
    }

    /// What the register records once Calltouch accepted it through `via`.
    fn accepted(&self, calltouch_id: Option<i64>, via: Endpoint) -> Outcome<'_> {
        let snapshot = &self.snapshot;
        // An update Calltouch did not know went out as its create body.
        let sent = match (&self.fallback_sent, via) {
            (Some(fallback_sent), Endpoint::Create) => fallback_sent,
            _ => &self.sent,
        };
        Outcome::Accepted {
            snapshot,
            deal: AcceptedDeal {
                order_number: &self.order_number,
                root: DealRules::deal_root(snapshot),
                status: sent.status.as_deref(),
                revenue: sent.revenue,
                manager: sent.manager.as_deref(),
                calltouch_id,
                account: self.account.as_deref(),
            },
            send: self.send_record(endpoint_name(via), "accepted", None),
            state_seen_at: self.state_seen_at,
            note: self.moved.as_deref(),
        }
    }

    /// What the register records once it was rejected or given up: the send log's outcome
    /// and Calltouch's words, and the document's error message.
    fn failed(&self, outcome: &'static str, detail: String, message: String) -> Outcome<'_> {
        Outcome::Failed {
            failed: failed_row(&self.snapshot, Some(&self.order_number), message.into()),
            send: Some(self.send_record("send", outcome, Some(detail.into()))),
        }
    }

    fn send_record<'a>(
        &'a self,
        endpoint: &'a str,
        outcome: &'a str,
        detail: Option<Cow<'a, str>>,
    ) -> SendRecord<'a> {
        SendRecord {
            endpoint,
            order_number: &self.order_number,
            request_json: &self.request_json,
            outcome,
            detail,
        }
    }
}

/// Splits the documents into rounds so that no round holds two documents of the same deal:
/// a booking and its work order both new in one read go out one after the other.
pub(super) async fn group_into_rounds<R: CycleStore>(
    rules: &DealRules<'_>,
    documents: Vec<DocumentSnapshot>,
    register: &mut R,
    now: NaiveDateTime,
    summary: &mut CycleSummary,
) -> Result<Vec<Vec<(String, DocumentSnapshot)>>, CycleError> {
    let mut depth: HashMap<String, usize> = HashMap::new();
    let mut rounds: Vec<Vec<(bool, String, DocumentSnapshot)>> = Vec::new();
    for snapshot in documents {
        let previous = register.document(snapshot.reference).await?;
        let (order_number, exists) =
            match resolve_deal(rules, register, &snapshot, previous.as_ref()).await? {
                Ok((order_number, deal)) => (order_number, deal.is_some()),
                Err(error) => {
                    fail_document(register, &snapshot, None, &error.to_string(), now).await?;
                    summary.failed += 1;
                    continue;
                }
            };
        let round = depth.entry(order_number.clone()).or_insert(0);
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push((exists, order_number, snapshot));
        *round += 1;
    }
    // New deals first, then deals that exist: a batch then mostly holds one kind of request,
    // and the client sends one request per kind in a batch.
    Ok(rounds
        .into_iter()
        .map(|mut round| {
            round.sort_by_key(|(exists, _, _)| *exists);
            round
                .into_iter()
                .map(|(_, order_number, snapshot)| (order_number, snapshot))
                .collect()
        })
        .collect())
}

/// Sends a round and records the outcomes of all its orders in one transaction.
/// A request holds one account's orders only, so the round goes out one account at a time.
pub(super) async fn send_round<R: CycleStore>(
    clients: &AccountClients<'_>,
    retry: &DocumentRetry,
    register: &mut R,
    outgoing: Vec<(Operation, Outgoing)>,
    now: NaiveDateTime,
    blocked: &mut HashSet<String>,
    summary: &mut CycleSummary,
) -> Result<(), CycleError> {
    let mut groups: Vec<(usize, Vec<(Operation, Outgoing)>)> = Vec::new();
    for item in outgoing {
        let index = item.1.account_index;
        match groups.iter_mut().find(|(known, _)| *known == index) {
            Some((_, group)) => group.push(item),
            None => groups.push((index, vec![item])),
        }
    }
    for (index, group) in groups {
        let client = clients.client(index);
        send_account_batch(client, retry, register, group, now, blocked, summary).await?;
    }
    Ok(())
}

/// Sends one account's part of a round and records the outcomes in one transaction. After an
/// outage found by an earlier part, it is left for the next cycle unsent.
async fn send_account_batch<R: CycleStore>(
    client: &CalltouchClient,
    retry: &DocumentRetry,
    register: &mut R,
    outgoing: Vec<(Operation, Outgoing)>,
    now: NaiveDateTime,
    blocked: &mut HashSet<String>,
    summary: &mut CycleSummary,
) -> Result<(), CycleError> {
    if outgoing.is_empty() {
        return Ok(());
    }
    let (operations, documents): (Vec<_>, Vec<_>) = outgoing.into_iter().unzip();
    let outcomes = batch_answers(client, operations, summary).await?;
    let outage = summary.outage.clone();
    let outcomes: Vec<Outcome<'_>> = documents
        .iter()
        .zip(outcomes)
        .map(|(document, outcome)| {
            answer(
                retry,
                document,
                outcome,
                outage.as_deref(),
                blocked,
                summary,
            )
        })
        .collect();
    register.record_outcomes(&outcomes, now).await?;
    Ok(())
}

/// Calltouch's answer to each order of a batch: deferred unsent during an outage. A batch
/// with an order deferred probes Calltouch, and an outage found is noted in `summary`.
async fn batch_answers(
    client: &CalltouchClient,
    operations: Vec<Operation>,
    summary: &mut CycleSummary,
) -> Result<Vec<OrderOutcome>, CycleError> {
    let outcomes = match &summary.outage {
        Some(reason) => operations
            .iter()
            .map(|_| OrderOutcome::Deferred {
                reason: reason.clone(),
            })
            .collect(),
        None => client.send(operations).await?,
    };
    let deferred = outcomes
        .iter()
        .any(|outcome| matches!(outcome, OrderOutcome::Deferred { .. }));
    if deferred {
        // Calltouch up while this batch was not accepted: the batch is the trouble, and counts.
        if let Err(reason) = client.probe().await {
            summary.outage = Some(reason);
        }
    }
    Ok(outcomes)
}

/// Reads Calltouch's answer for one document, counts it, and says what the register records.
fn answer<'a>(
    retry: &DocumentRetry,
    document: &'a Outgoing,
    outcome: OrderOutcome,
    outage: Option<&str>,
    blocked: &mut HashSet<String>,
    summary: &mut CycleSummary,
) -> Outcome<'a> {
    let snapshot = &document.snapshot;
    match outcome {
        OrderOutcome::Accepted {
            calltouch_order_id,
            via,
        } => {
            match via {
                Endpoint::Create => summary.created += 1,
                Endpoint::Update => summary.updated += 1,
            }
            document.accepted(calltouch_order_id, via)
        }
        OrderOutcome::Rejected { reason } => {
            tracing::warn!(document = %snapshot.label(), order_number = %document.order_number, "Calltouch rejected the deal: {reason}");
            summary.failed += 1;
            let message = format!("Calltouch rejected the deal: {reason}");
            document.failed("rejected", reason, message)
        }
        OrderOutcome::Deferred { reason } => {
            deferred(retry, document, reason, outage, blocked, summary)
        }
    }
}

/// A document Calltouch did not take this time. During an `outage` it stays pending with no
/// attempt counted; deferred `max_attempts` times it is given up as failed (the checkpoint may
/// then move past it, and `register retry` sends it again); otherwise it stays pending with one
/// more attempt and its deal waits for the next cycle.
fn deferred<'a>(
    retry: &DocumentRetry,
    document: &'a Outgoing,
    reason: String,
    outage: Option<&str>,
    blocked: &mut HashSet<String>,
    summary: &mut CycleSummary,
) -> Outcome<'a> {
    let snapshot = &document.snapshot;
    if let Some(outage) = outage {
        tracing::debug!(document = %snapshot.label(), "left for the next cycle: {reason}");
        summary.deferred += 1;
        let reason = format!("Calltouch unavailable, no attempt counted: {outage}");
        return Outcome::Deferred(document.pending(Some(reason.into()), false));
    }
    let attempts = document.attempts + 1;
    if attempts >= retry.max_attempts {
        let message = format!(
            "Calltouch did not accept the deal in {attempts} attempts (last: {reason}); \
             `register retry {}` sends it again",
            snapshot.number
        );
        tracing::warn!(document = %snapshot.label(), order_number = %document.order_number, "{message}");
        summary.failed += 1;
        return document.failed("gave up", reason, message);
    }
    tracing::warn!(document = %snapshot.label(), "left for the next cycle: {reason}");
    blocked.insert(document.order_number.clone());
    summary.deferred += 1;
    Outcome::Deferred(document.pending(Some(reason.into()), true))
}

/// The values a create body sends, as the register stores them.
fn sent_by_create(order: &CreateOrder) -> SentValues {
    SentValues {
        status: order.status.clone(),
        revenue: order.revenue.as_deref().and_then(Money::parse),
        manager: order.manager.clone(),
    }
}

fn endpoint_name(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Create => "create",
        Endpoint::Update => "update",
    }
}

/// Bookings have no state history in 1C: the time of a state change is when the register first
/// saw the new state. Returns the time to store as "state seen at".
pub(super) async fn fill_booking_state_time<R: CycleStore>(
    register: &R,
    snapshot: &mut DocumentSnapshot,
    now: NaiveDateTime,
) -> Result<NaiveDateTime, CycleError> {
    let seen = register
        .state_seen_at(snapshot.reference, snapshot.state.as_deref())
        .await?;
    let seen_at = match seen {
        // Same state as last seen: keep the first time it was seen.
        Some(Some(at)) => at,
        // Known document, new state: the change is detected now.
        Some(None) => now,
        // First sight: the rules use the document date for the first state.
        None => snapshot.state_set_at.unwrap_or(now),
    };
    if snapshot.kind == DocKind::Booking && snapshot.state_set_at.is_none() && seen.is_some() {
        snapshot.state_set_at = Some(seen_at);
    }
    Ok(seen_at)
}

async fn fail_document<R: CycleStore>(
    register: &mut R,
    snapshot: &DocumentSnapshot,
    order_number: Option<&str>,
    reason: &str,
    now: NaiveDateTime,
) -> Result<(), CycleError> {
    tracing::warn!(document = %snapshot.label(), "{reason}");
    register
        .record_failed(
            &failed_row(snapshot, order_number, reason.into()),
            None,
            now,
        )
        .await?;
    Ok(())
}

/// The register's row of a document that failed, with the deal it drives when known.
fn failed_row<'a>(
    snapshot: &'a DocumentSnapshot,
    order_number: Option<&'a str>,
    reason: Cow<'a, str>,
) -> FailedDocument<'a> {
    FailedDocument {
        kind: snapshot.kind,
        reference: snapshot.reference,
        number: &snapshot.number,
        date: Some(snapshot.date),
        order_number,
        reason,
    }
}
