//! Deciding a round: each document's decision (send, settle, wait or fail), its deal and its
//! request, and the round's settled and pending rows recorded before anything is sent.

use chrono::NaiveDateTime;
use std::collections::HashSet;

use crate::calltouch::client::{update_from_create, Operation};
use crate::domain::deal::DealRecord;
use crate::domain::payload::{CreateOrder, UpdateOrder};
use crate::domain::snapshot::DocumentSnapshot;
use crate::register::{CycleStore, PendingDocument, SyncState};
use crate::rules::accounts::Choice;
use crate::rules::{DealRules, Decision, SentValues};

use crate::pipeline::deals::{deal_with_driver, taken_number};
use crate::pipeline::{CycleError, CycleSummary, Step};

use super::{fail_document, fill_booking_state_time, sent_by_create, Outgoing};

/// Why a document waits: an earlier change of its deal is not settled yet.
const WAITING_FOR_EARLIER_CHANGE: &str = "waiting for an earlier change of the same deal";

/// Decides every document of a round; settles the ones that need no request, and records the
/// ones to send, and those waiting behind them, as pending in one transaction before returning
/// them.
pub(in crate::pipeline) async fn decide_round<R: CycleStore>(
    step: &Step<'_>,
    round: Vec<(String, DocumentSnapshot)>,
    register: &mut R,
    blocked: &mut HashSet<String>,
    summary: &mut CycleSummary,
) -> Result<Vec<(Operation, Outgoing)>, CycleError> {
    let mut outgoing = Vec::new();
    let mut waiting = Vec::new();
    for (order_number, snapshot) in round {
        match decide_document(step, order_number, snapshot, register, blocked, summary).await? {
            Decided::Send(request) => outgoing.push(*request),
            Decided::Waiting(candidate) => waiting.push(*candidate),
            Decided::Done => {}
        }
    }
    record_pending(register, &waiting, &outgoing, step.now).await?;
    Ok(outgoing)
}

/// What became of one document of a round.
enum Decided {
    /// A request to send.
    Send(Box<(Operation, Outgoing)>),
    /// Waiting behind an earlier change of its deal: recorded pending with the round.
    Waiting(Box<Candidate>),
    /// Settled, failed, or left alone until its next attempt: nothing more this round.
    Done,
}

/// A document of a round on its way to a decision, with what the register knows of it.
struct Candidate {
    order_number: String,
    snapshot: DocumentSnapshot,
    state_seen_at: NaiveDateTime,
    /// Deferred attempts counted before this one.
    attempts: u32,
    /// Pending from an earlier run: its create may have reached Calltouch.
    maybe_sent: bool,
}

/// One document of a round: left alone while its retry pause lasts, waiting while an earlier
/// change of its deal is unsettled, otherwise decided.
async fn decide_document<R: CycleStore>(
    step: &Step<'_>,
    order_number: String,
    mut snapshot: DocumentSnapshot,
    register: &mut R,
    blocked: &mut HashSet<String>,
    summary: &mut CycleSummary,
) -> Result<Decided, CycleError> {
    let previous = register.document(snapshot.reference).await?;
    let next_attempt_at = previous
        .as_ref()
        .and_then(|record| step.retry.next_attempt_at(record));
    let attempts = previous.as_ref().map_or(0, |record| record.attempts);
    if let Some(at) = next_attempt_at.filter(|at| step.now < *at) {
        // Left untouched: recording it would restart its pause.
        tracing::debug!(document = %snapshot.label(), "deferred earlier; next attempt at {at}");
        blocked.insert(order_number);
        summary.deferred += 1;
        return Ok(Decided::Done);
    }
    let state_seen_at = fill_booking_state_time(register, &mut snapshot, step.now).await?;
    let candidate = Candidate {
        order_number,
        snapshot,
        state_seen_at,
        attempts,
        maybe_sent: previous
            .as_ref()
            .is_some_and(|record| record.state == SyncState::Pending),
    };
    if blocked.contains(&candidate.order_number) {
        summary.deferred += 1;
        return Ok(Decided::Waiting(Box::new(candidate)));
    }
    decide_candidate(step, candidate, register, summary).await
}

/// Checks the deal's number, places the deal in an account and asks the rules what to send.
async fn decide_candidate<R: CycleStore>(
    step: &Step<'_>,
    candidate: Candidate,
    register: &mut R,
    summary: &mut CycleSummary,
) -> Result<Decided, CycleError> {
    let (snapshot, order_number, now) = (&candidate.snapshot, &candidate.order_number, step.now);
    let deal = deal_with_driver(register, order_number, snapshot).await?;
    if let Some(deal) = &deal {
        if deal.root != DealRules::deal_root(snapshot) {
            let reason = taken_number(register, snapshot, deal).await?;
            fail_document(register, snapshot, Some(order_number), &reason, now).await?;
            summary.failed += 1;
            return Ok(Decided::Done);
        }
    }
    let Some((account, moved)) =
        place_deal(step, &candidate, deal.as_ref(), register, summary).await?
    else {
        return Ok(Decided::Done);
    };
    if let Some(moved) = &moved {
        tracing::info!(document = %snapshot.label(), "{moved}");
    }
    let mut plan = match step.rules.decide(snapshot, deal.as_ref(), now) {
        Ok(plan) => plan,
        Err(error) => {
            let reason = error.to_string();
            fail_document(register, snapshot, Some(order_number), &reason, now).await?;
            summary.failed += 1;
            return Ok(Decided::Done);
        }
    };
    plan.decision.renumber(order_number);
    for warning in &plan.warnings {
        tracing::warn!(document = %snapshot.label(), "{warning}");
    }
    let target = Target {
        account_index: step.clients.index_of(&account),
        account: step.clients.recorded(&account).map(str::to_string),
        moved,
    };
    request_for(plan.decision, candidate, target, register, now, summary).await
}

/// The account a document's deal goes to and why it stays in another, or `None` once the
/// document is recorded skipped (no account takes it) or failed.
async fn place_deal<R: CycleStore>(
    step: &Step<'_>,
    candidate: &Candidate,
    deal: Option<&DealRecord>,
    register: &mut R,
    summary: &mut CycleSummary,
) -> Result<Option<(String, Option<String>)>, CycleError> {
    let (snapshot, order_number, now) = (&candidate.snapshot, &candidate.order_number, step.now);
    match step.clients.accounts.place(snapshot, deal) {
        Ok((Choice::Account { account, .. }, moved)) => Ok(Some((account.name.clone(), moved))),
        Ok((Choice::NotSent { reason }, _)) => {
            tracing::info!(document = %snapshot.label(), "not sent: {reason}");
            register
                .record_settled(
                    snapshot,
                    Some(order_number),
                    SyncState::Skipped,
                    Some(&reason),
                    candidate.state_seen_at,
                    now,
                )
                .await?;
            summary.skipped += 1;
            Ok(None)
        }
        Err(error) => {
            let reason = error.to_string();
            fail_document(register, snapshot, Some(order_number), &reason, now).await?;
            summary.failed += 1;
            Ok(None)
        }
    }
}

/// Where a request goes: the account's client, the account the register records, and why
/// the deal stays in another account than the document would choose now.
struct Target {
    account_index: usize,
    account: Option<String>,
    moved: Option<String>,
}

/// The request a decision sends; a decision to send nothing is recorded settled here.
async fn request_for<R: CycleStore>(
    decision: Decision,
    candidate: Candidate,
    target: Target,
    register: &mut R,
    now: NaiveDateTime,
    summary: &mut CycleSummary,
) -> Result<Decided, CycleError> {
    let (operation, sent, fallback_sent, request_json) = match decision {
        Decision::Create { order, sent } => create_request(order, sent, candidate.maybe_sent),
        Decision::Update {
            order,
            fallback,
            sent,
        } => update_request(order, fallback, sent),
        Decision::Unchanged => {
            let note = target.moved.as_deref();
            settle(register, &candidate, SyncState::Sent, note, now).await?;
            summary.unchanged += 1;
            return Ok(Decided::Done);
        }
        Decision::Skip { reason } => {
            settle(register, &candidate, SyncState::Skipped, Some(&reason), now).await?;
            summary.skipped += 1;
            return Ok(Decided::Done);
        }
    };
    let document = Outgoing {
        snapshot: candidate.snapshot,
        order_number: candidate.order_number,
        sent,
        fallback_sent,
        state_seen_at: candidate.state_seen_at,
        request_json,
        attempts: candidate.attempts,
        account: target.account,
        account_index: target.account_index,
        moved: target.moved,
    };
    Ok(Decided::Send(Box::new((operation, document))))
}

/// A request to send: the operation, the values it sends, those its fallback create would
/// send, and the order's JSON as the register keeps it.
type Request = (Operation, SentValues, Option<SentValues>, String);

/// The request of a decision to create a deal.
fn create_request(order: CreateOrder, sent: SentValues, maybe_sent: bool) -> Request {
    let request_json = serde_json::to_string(&order).unwrap_or_default();
    // Pending from an earlier run: its create may have reached Calltouch with the
    // answer lost (a crash, a dropped connection), so it goes out as an update first
    // and is created only if Calltouch does not know it.
    if maybe_sent {
        let update = update_from_create(&order);
        let operation = Operation::Update {
            order: update,
            fallback: order,
        };
        let fallback_sent = Some(sent.clone());
        (operation, sent, fallback_sent, request_json)
    } else {
        (Operation::Create(order), sent, None, request_json)
    }
}

/// The request of a decision to update a deal, created from `fallback` if Calltouch does not
/// know it.
fn update_request(order: UpdateOrder, fallback: CreateOrder, sent: SentValues) -> Request {
    let request_json = serde_json::to_string(&order).unwrap_or_default();
    let fallback_sent = Some(sent_by_create(&fallback));
    (
        Operation::Update { order, fallback },
        sent,
        fallback_sent,
        request_json,
    )
}

/// Records a document that needs no request as settled in `state`.
async fn settle<R: CycleStore>(
    register: &mut R,
    candidate: &Candidate,
    state: SyncState,
    note: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), CycleError> {
    register
        .record_settled(
            &candidate.snapshot,
            Some(&candidate.order_number),
            state,
            note,
            candidate.state_seen_at,
            now,
        )
        .await?;
    Ok(())
}

/// Records the round's documents to send, and those waiting behind them, as pending in one
/// transaction.
async fn record_pending<R: CycleStore>(
    register: &mut R,
    waiting: &[Candidate],
    outgoing: &[(Operation, Outgoing)],
    now: NaiveDateTime,
) -> Result<(), CycleError> {
    let pending: Vec<PendingDocument<'_>> = waiting
        .iter()
        .map(|candidate| PendingDocument {
            snapshot: &candidate.snapshot,
            order_number: &candidate.order_number,
            state_seen_at: candidate.state_seen_at,
            error: Some(WAITING_FOR_EARLIER_CHANGE.into()),
            count_attempt: false,
        })
        .chain(
            outgoing
                .iter()
                .map(|(_, document)| document.pending(None, false)),
        )
        .collect();
    if !pending.is_empty() {
        register.mark_pending_batch(&pending, now).await?;
    }
    Ok(())
}
