//! `preview` and `run --dry-run`: documents planned in order as the cycle would send them,
//! with the exact request bodies, nothing sent and nothing recorded.

use chrono::NaiveDateTime;
use std::collections::HashMap;

use crate::config::Config;
use crate::domain::deal::DealRecord;
use crate::domain::payload::{CreateRequest, UpdateRequest};
use crate::domain::snapshot::DocumentSnapshot;
use crate::register::CycleStore;
use crate::rules::accounts::{Accounts, Choice};
use crate::rules::{DealRules, Decision, SentValues};
use crate::source::Source;

use super::deals::{resolve_deal, taken_number};
use super::send::fill_booking_state_time;
use super::{lost_reason, next_read, pending_outside, CycleError};

/// What `preview` shows for one document: the exact request body that would be sent.
#[derive(Debug, Clone)]
pub struct PreviewItem {
    pub document: String,
    pub order_number: Option<String>,
    /// `create`, `update`, `nothing` or `skip`.
    pub action: &'static str,
    /// The Calltouch account the deal is in; `None` in the single-account setup.
    pub account: Option<String>,
    pub body: serde_json::Value,
    pub notes: Vec<String>,
}

/// The request bodies the next cycle would send for the documents with this number. They are
/// planned in order as the cycle would send them, so a second document given the orderNumber of
/// the first one's deal shows as the error the cycle would record.
pub async fn preview<S: Source, R: CycleStore>(
    config: &Config,
    source: &mut S,
    register: &R,
    number: &str,
) -> Result<Vec<PreviewItem>, CycleError> {
    let documents = source.find_by_number(number).await?;
    plan_documents(
        config,
        register,
        documents,
        chrono::Local::now().naive_local(),
    )
    .await
}

/// What a dry run found: the documents a cycle would read now and what it would do with each.
#[derive(Debug, Clone, Default)]
pub struct DryRun {
    pub items: Vec<PreviewItem>,
    /// Documents whose rows could not be decoded, as the cycle would record them.
    pub rejected: Vec<String>,
}

/// The whole cycle read and decided, nothing sent: the changes since the checkpoint and the
/// re-queued documents, planned in order. The register and the checkpoint are only read.
pub async fn dry_run<S: Source, R: CycleStore>(
    config: &Config,
    source: &mut S,
    register: &R,
) -> Result<DryRun, CycleError> {
    let mut changes = next_read(config, source, register).await?;
    let lost = pending_outside(source, register, &mut changes).await?;
    let rejected = changes
        .rejected
        .iter()
        .map(|r| {
            format!(
                "{} {}: {}: {}",
                r.kind,
                r.number.as_deref().unwrap_or("(number unreadable)"),
                r.field,
                r.reason
            )
        })
        .chain(lost.iter().map(lost_reason))
        .collect();
    let items = plan_documents(config, register, changes.documents, changes.read_at).await?;
    Ok(DryRun { items, rejected })
}

/// Plans documents in order without sending or recording anything: each sees the deals the
/// earlier ones would have created or updated.
async fn plan_documents<R: CycleStore>(
    config: &Config,
    register: &R,
    documents: Vec<DocumentSnapshot>,
    now: NaiveDateTime,
) -> Result<Vec<PreviewItem>, CycleError> {
    let planner = Planner {
        config,
        rules: DealRules::new(&config.deal, &config.statuses),
        accounts: Accounts::of(config),
        now,
    };
    // orderNumber → the deal as it would stand, with the label of the document owning it.
    let mut planned: HashMap<String, (DealRecord, String)> = HashMap::new();
    let mut items = Vec::new();
    for mut snapshot in documents {
        fill_booking_state_time(register, &mut snapshot, now).await?;
        items.push(plan_document(&planner, register, &mut planned, &snapshot).await?);
    }
    Ok(items)
}

/// What every document of a preview is planned with.
struct Planner<'a> {
    config: &'a Config,
    rules: DealRules<'a>,
    accounts: Accounts,
    now: NaiveDateTime,
}

/// What the preview shows for one document, planned after the ones before it; a deal it would
/// create or update is noted in `planned` for the documents after it.
async fn plan_document<R: CycleStore>(
    planner: &Planner<'_>,
    register: &R,
    planned: &mut HashMap<String, (DealRecord, String)>,
    snapshot: &DocumentSnapshot,
) -> Result<PreviewItem, CycleError> {
    let document = snapshot.label();
    let (order_number, deal) =
        match deal_as_planned(&planner.rules, register, planned, snapshot).await? {
            Ok(found) => found,
            Err((order_number, note)) => return Ok(error_item(&document, order_number, note)),
        };
    let (account, moved) =
        match placed_account(planner, snapshot, deal.as_ref(), &document, &order_number) {
            Ok(placed) => placed,
            Err(item) => return Ok(*item),
        };
    let mut plan = match planner.rules.decide(snapshot, deal.as_ref(), planner.now) {
        Ok(plan) => plan,
        Err(problem) => {
            return Ok(error_item(
                &document,
                Some(order_number),
                problem.to_string(),
            ))
        }
    };
    plan.decision.renumber(&order_number);
    let Shown {
        action,
        body,
        mut notes,
        after,
    } = shown(
        plan.decision,
        &planner.config.deal.crm,
        snapshot,
        &order_number,
        account.clone(),
    );
    notes.extend(plan.warnings);
    notes.extend(moved);
    if let Some(after) = after {
        note_planned(planned, &order_number, after, snapshot);
    }
    Ok(PreviewItem {
        document,
        order_number: Some(order_number),
        action,
        account,
        body,
        notes,
    })
}

/// The item shown for a document the cycle would record as an error.
fn error_item(document: &str, order_number: Option<String>, note: String) -> PreviewItem {
    PreviewItem {
        document: document.to_string(),
        order_number,
        action: "error",
        account: None,
        body: serde_json::Value::Null,
        notes: vec![note],
    }
}

/// The account shown for a document's deal (`None` in the single-account setup) and the note
/// of a move between accounts; or the item shown instead when the document would not be sent
/// or has no account.
fn placed_account(
    planner: &Planner<'_>,
    snapshot: &DocumentSnapshot,
    deal: Option<&DealRecord>,
    document: &str,
    order_number: &str,
) -> Result<(Option<String>, Option<String>), Box<PreviewItem>> {
    let (account, moved) = match planner.accounts.place(snapshot, deal) {
        Ok((Choice::Account { account, .. }, moved)) => (account.name.clone(), moved),
        Ok((Choice::NotSent { reason }, _)) => {
            return Err(Box::new(PreviewItem {
                document: document.to_string(),
                order_number: Some(order_number.to_string()),
                action: "skip",
                account: None,
                body: serde_json::Value::Null,
                notes: vec![reason],
            }));
        }
        Err(problem) => {
            return Err(Box::new(error_item(
                document,
                Some(order_number.to_string()),
                problem.to_string(),
            )))
        }
    };
    Ok(((!planner.accounts.is_single()).then_some(account), moved))
}

/// Notes the deal as a document would leave it, for the documents after it; the deal keeps
/// the label of the document that first planned it.
fn note_planned(
    planned: &mut HashMap<String, (DealRecord, String)>,
    order_number: &str,
    after: DealRecord,
    snapshot: &DocumentSnapshot,
) {
    let owner = planned
        .get(order_number)
        .map(|(_, owner)| owner.clone())
        .unwrap_or_else(|| DealRules::deal_root_label(snapshot));
    planned.insert(order_number.to_string(), (after, owner));
}

/// The orderNumber of a document's deal and the deal as the documents before it would leave
/// it; or the error the cycle would record, with the orderNumber when it is known.
async fn deal_as_planned<R: CycleStore>(
    rules: &DealRules<'_>,
    register: &R,
    planned: &HashMap<String, (DealRecord, String)>,
    snapshot: &DocumentSnapshot,
) -> Result<Result<(String, Option<DealRecord>), (Option<String>, String)>, CycleError> {
    let previous = register.document(snapshot.reference).await?;
    let (order_number, stored) =
        match resolve_deal(rules, register, snapshot, previous.as_ref()).await? {
            Ok(resolved) => resolved,
            Err(problem) => return Ok(Err((None, problem.to_string()))),
        };
    let root = DealRules::deal_root(snapshot);
    let deal = match planned.get(&order_number) {
        Some((deal, owner)) if deal.root != root => {
            let note = format!(
                "Номер: orderNumber {order_number} would already name the deal of {owner}; \
                 set deal.order_number to \"{}\" (it applies only to deals not yet created)",
                crate::rules::settings::DEFAULT_ORDER_NUMBER
            );
            return Ok(Err((Some(order_number), note)));
        }
        Some((deal, _)) => Some(deal.clone()),
        None => stored,
    };
    if let Some(deal) = deal.as_ref().filter(|deal| deal.root != root) {
        let reason = taken_number(register, snapshot, deal).await?;
        return Ok(Err((Some(order_number), reason)));
    }
    Ok(Ok((order_number, deal)))
}

/// What `preview` shows of one decision, and the deal as it would stand once accepted.
struct Shown {
    action: &'static str,
    body: serde_json::Value,
    notes: Vec<String>,
    after: Option<DealRecord>,
}

fn shown(
    decision: Decision,
    crm: &str,
    snapshot: &DocumentSnapshot,
    order_number: &str,
    account: Option<String>,
) -> Shown {
    let planned_deal = |sent: SentValues| DealRecord {
        order_number: order_number.to_string(),
        root: DealRules::deal_root(snapshot),
        driver: snapshot.reference,
        driver_kind: snapshot.kind,
        driver_date: Some(snapshot.date),
        driver_number: Some(snapshot.number.clone()),
        status: sent.status,
        revenue: sent.revenue,
        manager: sent.manager,
        account: account.clone(),
    };
    let (action, body, notes, after) = match decision {
        Decision::Create { order, sent } => (
            "create",
            serde_json::to_value(CreateRequest {
                crm: crm.to_string(),
                orders: vec![order],
            }),
            Vec::new(),
            Some(planned_deal(sent)),
        ),
        Decision::Update { order, sent, .. } => (
            "update",
            serde_json::to_value(UpdateRequest {
                orders: vec![order],
            }),
            Vec::new(),
            Some(planned_deal(sent)),
        ),
        Decision::Unchanged => (
            "nothing",
            Ok(serde_json::Value::Null),
            vec!["nothing relevant changed since Calltouch accepted the deal".to_string()],
            None,
        ),
        Decision::Skip { reason } => ("skip", Ok(serde_json::Value::Null), vec![reason], None),
    };
    Shown {
        action,
        body: body.unwrap_or_default(),
        notes,
        after,
    }
}
