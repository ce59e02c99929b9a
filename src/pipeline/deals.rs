//! Which deal a document belongs to: the orderNumber it keeps or gets, the deal as Calltouch
//! last accepted it, and the numbers two documents would share without sharing a deal.

use super::CycleError;
use crate::config::Config;
use crate::domain::deal::DealRecord;
use crate::domain::snapshot::{DocRef, DocumentSnapshot};
use crate::register::{CycleStore, DocumentRecord, SyncState};
use crate::rules::{DealRules, DocumentError};

/// The orderNumber of a document's deal and the deal as Calltouch last accepted it (None: not
/// created yet). A deal keeps the number it was created with: the register's row of the
/// document, or of the booking that owns its deal, names it whatever the template says now. A
/// document pending without a deal keeps its number too, since its create may have reached
/// Calltouch with the answer lost. Only a document of a deal not yet created gets the template.
/// The deal returned may belong to another document (a collision); the caller decides.
pub async fn resolve_deal<R: CycleStore>(
    rules: &DealRules<'_>,
    register: &R,
    snapshot: &DocumentSnapshot,
    previous: Option<&DocumentRecord>,
) -> Result<Result<(String, Option<DealRecord>), DocumentError>, CycleError> {
    let root = DealRules::deal_root(snapshot);
    let root_row = match root == snapshot.reference {
        true => None,
        false => register.document(root).await?,
    };
    for row in [previous, root_row.as_ref()].into_iter().flatten() {
        let Some(number) = row.order_number.as_deref() else {
            continue;
        };
        match deal_with_driver(register, number, snapshot).await? {
            Some(deal) if deal.root == root => return Ok(Ok((number.to_string(), Some(deal)))),
            None if row.reference == snapshot.reference && row.state == SyncState::Pending => {
                return Ok(Ok((number.to_string(), None)));
            }
            _ => {}
        }
    }
    let number = match rules.order_number(snapshot) {
        Ok(number) => number,
        Err(error) => return Ok(Err(error)),
    };
    let deal = deal_with_driver(register, &number, snapshot).await?;
    Ok(Ok((number, deal)))
}

/// The deal with this number, with the number of the document it follows when that is not
/// `snapshot` itself, so messages name it by kind and number.
pub(super) async fn deal_with_driver<R: CycleStore>(
    register: &R,
    order_number: &str,
    snapshot: &DocumentSnapshot,
) -> Result<Option<DealRecord>, CycleError> {
    let Some(mut deal) = register.deal(order_number).await? else {
        return Ok(None);
    };
    if deal.driver != snapshot.reference {
        deal.driver_number = register.document(deal.driver).await?.map(|d| d.number);
    }
    Ok(Some(deal))
}

/// Why a document cannot have the orderNumber another document's deal already carries.
pub(super) async fn taken_number<R: CycleStore>(
    register: &R,
    snapshot: &DocumentSnapshot,
    deal: &DealRecord,
) -> Result<String, CycleError> {
    let owner = match register.document(deal.root).await? {
        Some(row) => format!("{} {}", row.kind, row.number.trim()),
        None => "another document".to_string(),
    };
    Ok(format!(
        "Номер: orderNumber {} already names the deal of {owner}, so {} cannot have it (one \
         number in two kinds or years); set deal.order_number to \"{}\", which applies only to \
         deals not yet created",
        deal.order_number,
        DealRules::deal_root_label(snapshot),
        crate::rules::settings::DEFAULT_ORDER_NUMBER
    ))
}

/// Documents that the read would give one orderNumber without sharing a deal, one message per
/// number, for `check` and `preview` to report before anything is sent.
pub async fn collisions<R: CycleStore>(
    config: &Config,
    register: &R,
    documents: &[DocumentSnapshot],
) -> Result<Vec<String>, CycleError> {
    let rules = DealRules::new(&config.deal, &config.statuses);
    // orderNumber → the deal roots that would carry it, with their labels.
    let mut owners: std::collections::BTreeMap<String, Vec<(DocRef, String)>> =
        std::collections::BTreeMap::new();
    for snapshot in documents {
        let previous = register.document(snapshot.reference).await?;
        let Ok((number, deal)) =
            resolve_deal(&rules, register, snapshot, previous.as_ref()).await?
        else {
            continue;
        };
        let roots = owners.entry(number).or_default();
        if let Some(deal) = deal {
            if !roots.iter().any(|(root, _)| *root == deal.root) {
                let owner = match register.document(deal.root).await? {
                    Some(row) => format!("{} {} (its deal exists)", row.kind, row.number.trim()),
                    None => "a document whose deal exists".to_string(),
                };
                roots.push((deal.root, owner));
            }
        }
        let root = DealRules::deal_root(snapshot);
        if !roots.iter().any(|(known, _)| *known == root) {
            roots.push((root, DealRules::deal_root_label(snapshot)));
        }
    }
    Ok(owners
        .into_iter()
        .filter(|(_, roots)| roots.len() > 1)
        .map(|(number, roots)| {
            let names: Vec<String> = roots.into_iter().map(|(_, label)| label).collect();
            format!(
                "orderNumber {number} would name the deals of {}: only the first gets one; set \
                 deal.order_number to \"{}\" (it applies only to deals not yet created)",
                names.join(" and "),
                crate::rules::settings::DEFAULT_ORDER_NUMBER
            )
        })
        .collect())
}
