//! The deal rules: what one document snapshot means for its Calltouch deal, given the deal as
//! Calltouch last accepted it — a create (Table 1), an update (Table 3, items 10-12), nothing, or
//! a deliberate skip. Statuses come only from the configured Table 2. Pure: no I/O, and the
//! current time is passed in.

pub mod accounts;
pub mod format;
pub mod settings;

use chrono::{Datelike, NaiveDateTime};

use crate::domain::deal::DealRecord;
use crate::domain::payload::{
    CallContactParams, Comment, CreateOrder, CustomSourceParams, Matching, RequestContactParams,
    Tag, UpdateOrder,
};
use crate::domain::snapshot::{DocKind, DocRef, DocumentSnapshot, Money};
use format::{calltouch_date, clean_text, normalize_emails, normalize_phones};
use settings::{DealConfig, StatusConfig};

/// `comment.text` limit: Calltouch clients cut comments to 255 characters (calltouch-api.md §4).
const COMMENT_MAX_CHARS: usize = 255;
/// Tags and `customSourceParams` values: clients cut them to 126 characters (calltouch-api.md §4).
const TAG_MAX_CHARS: usize = 126;
const CAMPAIGN_MAX_CHARS: usize = 126;
/// A full name longer than this is not a name; it keeps a pasted text from reaching Calltouch.
const MANAGER_MAX_CHARS: usize = 255;

/// The deal rules for one configuration.
pub struct DealRules<'a> {
    pub deal: &'a DealConfig,
    pub statuses: &'a StatusConfig,
}

/// What was sent, to be stored in the register once Calltouch accepts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentValues {
    pub status: Option<String>,
    pub revenue: Option<Money>,
    pub manager: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Create {
        order: CreateOrder,
        sent: SentValues,
    },
    /// `fallback` is the full create body, used if Calltouch does not know the deal.
    Update {
        order: UpdateOrder,
        fallback: CreateOrder,
        sent: SentValues,
    },
    /// Nothing relevant changed since what Calltouch accepted.
    Unchanged,
    /// Deliberately not sent, with the reason shown in the register.
    Skip { reason: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub decision: Decision,
    pub warnings: Vec<String>,
}

impl Decision {
    /// Gives the requests the orderNumber the deal already has (or its pending create carried):
    /// the template names only deals not yet created.
    pub fn renumber(&mut self, order_number: &str) {
        match self {
            Decision::Create { order, .. } => order.order_number = order_number.to_string(),
            Decision::Update {
                order, fallback, ..
            } => {
                order.order_number = order_number.to_string();
                fallback.order_number = order_number.to_string();
            }
            Decision::Unchanged | Decision::Skip { .. } => {}
        }
    }
}

impl Plan {
    fn skip(reason: impl Into<String>) -> Plan {
        Plan {
            decision: Decision::Skip {
                reason: reason.into(),
            },
            warnings: Vec::new(),
        }
    }
}

/// Bad data in one document: names the 1C field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct DocumentError {
    pub field: &'static str,
    pub message: String,
}

/// The document whose number and date identify the deal.
struct DealRoot<'s> {
    kind: DocKind,
    reference: DocRef,
    number: &'s str,
    date: NaiveDateTime,
}

impl<'s> DealRoot<'s> {
    /// A work order created from a booking belongs to the booking's deal; anything else owns one.
    fn of(snapshot: &'s DocumentSnapshot) -> DealRoot<'s> {
        match (&snapshot.booking, snapshot.kind) {
            (Some(link), DocKind::WorkOrder) => DealRoot {
                kind: DocKind::Booking,
                reference: link.reference,
                number: &link.number,
                date: link.date,
            },
            _ => DealRoot {
                kind: snapshot.kind,
                reference: snapshot.reference,
                number: &snapshot.number,
                date: snapshot.date,
            },
        }
    }
}

impl<'a> DealRules<'a> {
    pub fn new(deal: &'a DealConfig, statuses: &'a StatusConfig) -> Self {
        DealRules { deal, statuses }
    }

    /// The document that owns the deal: the booking a work order was created from, else itself.
    pub fn deal_root(snapshot: &DocumentSnapshot) -> DocRef {
        DealRoot::of(snapshot).reference
    }

    /// The document that owns the deal, by kind, number and date, for messages.
    pub fn deal_root_label(snapshot: &DocumentSnapshot) -> String {
        let root = DealRoot::of(snapshot);
        format!(
            "{} {} от {}",
            root.kind,
            root.number.trim(),
            root.date.format("%Y-%m-%d")
        )
    }

    /// orderNumber from the `deal.order_number` template ({number}, {year}, {kind}) applied to
    /// the deal root (the booking's number/date/kind for a linked work order).
    pub fn order_number(&self, snapshot: &DocumentSnapshot) -> Result<String, DocumentError> {
        let root = DealRoot::of(snapshot);
        let number = root.number.trim();
        if number.is_empty() {
            return Err(DocumentError {
                field: "Номер",
                message: format!("the {} that owns the deal has no number", root.kind),
            });
        }
        // {number} goes last: the year and kind code cannot contain a placeholder, a number can.
        Ok(self
            .deal
            .order_number
            .replace("{year}", &root.date.year().to_string())
            .replace("{kind}", root.kind.order_prefix())
            .replace("{number}", number))
    }

    /// The full create body for this document (Table 1). `now` = detection time in 1C local time.
    pub fn create_order(
        &self,
        snapshot: &DocumentSnapshot,
        now: NaiveDateTime,
    ) -> Result<(CreateOrder, SentValues, Vec<String>), DocumentError> {
        let mut warnings = Vec::new();
        let order_number = self.order_number(snapshot)?;
        let revenue = revenue(snapshot, &mut warnings)?;
        let order_date = DealRoot::of(snapshot).date;
        let status = self.mapped_status(snapshot);
        let status_date = status.as_ref().map(|_| created_status_date(snapshot, now));
        let manager = manager(snapshot);
        let order = CreateOrder {
            matching: self.matching(snapshot, order_date, &mut warnings),
            order_number,
            status: status.clone(),
            status_date: status_date.map(calltouch_date),
            order_date: calltouch_date(order_date),
            revenue: revenue.map(|sum| sum.to_calltouch()),
            manager: manager.clone(),
            comment: snapshot
                .contact_reason
                .as_deref()
                .and_then(|reason| clean_text(reason, COMMENT_MAX_CHARS))
                .map(|text| Comment { text }),
            add_tags: self.tags(snapshot),
        };
        let sent = SentValues {
            status,
            revenue,
            manager,
        };
        Ok((order, sent, warnings))
    }

    /// Create, update, nothing, or skip, given the deal as Calltouch last accepted it (None = no
    /// deal yet).
    pub fn decide(
        &self,
        snapshot: &DocumentSnapshot,
        deal: Option<&DealRecord>,
        now: NaiveDateTime,
    ) -> Result<Plan, DocumentError> {
        // Item 11: once a work order drives the deal, the booking no longer speaks for it.
        if let Some(record) = deal {
            if snapshot.kind == DocKind::Booking && record.driver_kind == DocKind::WorkOrder {
                return Ok(Plan::skip(format!(
                    "the deal follows {}",
                    driver_name(record)
                )));
            }
            // Several work orders from one booking: the latest one speaks for the deal, so
            // re-reading them never flips the deal back and forth.
            if follows_a_later_work_order(snapshot, record) {
                return Ok(Plan::skip(format!(
                    "the deal follows a later work order, {}",
                    driver_name(record)
                )));
            }
        }
        if snapshot.deletion_mark {
            return self.decide_deleted(snapshot, deal, now);
        }
        match deal {
            None => {
                let (order, sent, warnings) = self.create_order(snapshot, now)?;
                Ok(Plan {
                    decision: Decision::Create { order, sent },
                    warnings,
                })
            }
            Some(record) => self.decide_update(snapshot, record, now),
        }
    }

    /// Table 3: only what differs from the accepted deal is sent. A value the document no longer
    /// has (an unmapped state, an empty sum) is not a change: Calltouch keeps what it has.
    fn decide_update(
        &self,
        snapshot: &DocumentSnapshot,
        record: &DealRecord,
        now: NaiveDateTime,
    ) -> Result<Plan, DocumentError> {
        let (fallback, current, warnings) = self.create_order(snapshot, now)?;
        let status = changed(current.status, &record.status);
        let revenue = changed(current.revenue, &record.revenue);
        let manager = changed(current.manager, &record.manager);
        // A linked work order taking the deal over from its booking is sent even when its values
        // match, so the register learns the new driver and later booking changes are skipped.
        let takes_over =
            snapshot.kind == DocKind::WorkOrder && record.driver_kind == DocKind::Booking;
        if status.is_none() && revenue.is_none() && manager.is_none() && !takes_over {
            return Ok(Plan {
                decision: Decision::Unchanged,
                warnings,
            });
        }
        let status_date = status
            .as_ref()
            .map(|_| snapshot.state_set_at.unwrap_or(now));
        let changed_at = calltouch_date(status_date.unwrap_or(now));
        let sent = SentValues {
            status: status.clone().or_else(|| record.status.clone()),
            revenue: revenue.or(record.revenue),
            manager: manager.clone().or_else(|| record.manager.clone()),
        };
        let order = UpdateOrder {
            order_number: fallback.order_number.clone(),
            status,
            status_date: status_date.map(calltouch_date),
            order_date: Some(changed_at.clone()),
            update_date: Some(changed_at),
            revenue: revenue.map(|sum| sum.to_calltouch()),
            manager,
        };
        Ok(Plan {
            decision: Decision::Update {
                order,
                fallback,
                sent,
            },
            warnings,
        })
    }

    /// A document marked for deletion is never created; the deal it drives gets
    /// `deal.deleted_status` once, if one is configured.
    fn decide_deleted(
        &self,
        snapshot: &DocumentSnapshot,
        deal: Option<&DealRecord>,
        now: NaiveDateTime,
    ) -> Result<Plan, DocumentError> {
        let Some(record) = deal else {
            return Ok(Plan::skip(
                "marked for deletion (помечен на удаление); no deal exists",
            ));
        };
        // A deleted work order that never took the deal over must not close its booking's deal.
        if record.driver != snapshot.reference {
            return Ok(Plan::skip(format!(
                "marked for deletion (помечен на удаление); the deal follows {}",
                driver_name(record)
            )));
        }
        let Some(deleted_status) = self.deal.deleted_status.as_ref() else {
            return Ok(Plan::skip(
                "marked for deletion (помечен на удаление); deal.deleted_status is not set",
            ));
        };
        if record.status.as_ref() == Some(deleted_status) {
            return Ok(Plan::skip(format!(
                "marked for deletion (помечен на удаление); the deal already has status {deleted_status:?}"
            )));
        }
        let (mut fallback, _, warnings) = self.create_order(snapshot, now)?;
        let when = calltouch_date(now);
        // Should Calltouch not know the deal, it must not be created with a live status.
        fallback.status = Some(deleted_status.clone());
        fallback.status_date = Some(when.clone());
        let order = UpdateOrder {
            order_number: fallback.order_number.clone(),
            status: Some(deleted_status.clone()),
            status_date: Some(when.clone()),
            order_date: Some(when.clone()),
            update_date: Some(when),
            revenue: None,
            manager: None,
        };
        let sent = SentValues {
            status: Some(deleted_status.clone()),
            revenue: record.revenue,
            manager: record.manager.clone(),
        };
        Ok(Plan {
            decision: Decision::Update {
                order,
                fallback,
                sent,
            },
            warnings,
        })
    }

    /// Table 2, from configuration only.
    fn mapped_status(&self, snapshot: &DocumentSnapshot) -> Option<String> {
        let state = snapshot.state.as_deref()?;
        self.statuses.map(snapshot.kind, state).map(str::to_string)
    }

    /// Matching priority: the call by phone, then the request by e-mail or phone, then the
    /// offline source, which always applies when Calltouch finds no lead.
    fn matching(
        &self,
        snapshot: &DocumentSnapshot,
        date: NaiveDateTime,
        warnings: &mut Vec<String>,
    ) -> Vec<Matching> {
        let (phones, phone_warnings) = normalize_phones(&snapshot.phones);
        let (emails, email_warnings) = normalize_emails(&snapshot.emails);
        warnings.extend(phone_warnings);
        warnings.extend(email_warnings);
        let date = calltouch_date(date);
        let mut matching = Vec::with_capacity(3);
        if !phones.is_empty() {
            matching.push(Matching::CallContact {
                params: CallContactParams {
                    phones: phones.clone(),
                    date: date.clone(),
                    call_type_to_match: self.deal.call_type_to_match.clone(),
                    search_depth: self.deal.search_depth,
                },
            });
        }
        if !phones.is_empty() || !emails.is_empty() {
            matching.push(Matching::RequestContact {
                params: RequestContactParams {
                    emails,
                    phones,
                    date,
                    request_type_to_match: self.deal.request_type_to_match.clone(),
                    search_depth: self.deal.search_depth,
                },
            });
        }
        matching.push(Matching::CustomSources {
            params: CustomSourceParams {
                source: self.deal.source.clone(),
                medium: self.deal.medium.clone(),
                campaign: self.campaign(snapshot),
            },
        });
        matching
    }

    /// The document's marketing programme, else the configured default.
    fn campaign(&self, snapshot: &DocumentSnapshot) -> String {
        snapshot
            .marketing_programme
            .as_deref()
            .and_then(|programme| clean_text(programme, CAMPAIGN_MAX_CHARS))
            .unwrap_or_else(|| self.deal.default_campaign.clone())
    }

    /// Tag 1: the service tag; tag 2: «Марка (Модель)»; tag 3: the car's year. Missing ones are
    /// left out.
    fn tags(&self, snapshot: &DocumentSnapshot) -> Vec<Tag> {
        let car = &snapshot.car;
        let make = car
            .make
            .as_deref()
            .and_then(|m| clean_text(m, TAG_MAX_CHARS));
        let model = car
            .model
            .as_deref()
            .and_then(|m| clean_text(m, TAG_MAX_CHARS));
        let car_tag = match (make, model) {
            (Some(make), Some(model)) => Some(format!("{make} ({model})")),
            (make, model) => make.or(model),
        };
        // 1C stores an empty year as 0.
        let year = car
            .year
            .filter(|year| *year > 0)
            .map(|year| year.to_string());
        [Some(self.deal.service_tag.clone()), car_tag, year]
            .into_iter()
            .flatten()
            .filter_map(|tag| clean_text(&tag, TAG_MAX_CHARS))
            .map(|tag| Tag { tag })
            .collect()
    }
}

/// The document a deal follows, by kind and number; its 1C ID only when the register has no
/// row for it.
fn driver_name(record: &DealRecord) -> String {
    match &record.driver_number {
        Some(number) => format!("{} {}", record.driver_kind, number.trim()),
        None => format!("{} {}", record.driver_kind, record.driver),
    }
}

/// Whether another work order of the same deal, dated later (or equal and ordered after), drives it.
fn follows_a_later_work_order(snapshot: &DocumentSnapshot, record: &DealRecord) -> bool {
    snapshot.kind == DocKind::WorkOrder
        && record.driver_kind == DocKind::WorkOrder
        && record.driver != snapshot.reference
        && record.driver_date.is_some_and(|driver_date| {
            (snapshot.date, snapshot.reference) < (driver_date, record.driver)
        })
}

/// `new` when it is a value that differs from `last`.
fn changed<T: PartialEq>(new: Option<T>, last: &Option<T>) -> Option<T> {
    new.filter(|value| last.as_ref() != Some(value))
}

/// The status date on create: a booking's state is set with the booking itself; a work order's
/// comes from 1C when recorded, else it is when the change was seen.
fn created_status_date(snapshot: &DocumentSnapshot, now: NaiveDateTime) -> NaiveDateTime {
    match snapshot.kind {
        DocKind::Booking => snapshot.date,
        DocKind::WorkOrder => snapshot.state_set_at.unwrap_or(now),
    }
}

/// `СуммаДокумента`: missing is fine, unreadable is bad data, negative is not sent.
fn revenue(
    snapshot: &DocumentSnapshot,
    warnings: &mut Vec<String>,
) -> Result<Option<Money>, DocumentError> {
    let Some(raw) = snapshot.sum.as_deref().filter(|raw| !raw.trim().is_empty()) else {
        return Ok(None);
    };
    let sum = Money::parse(raw).ok_or_else(|| DocumentError {
        field: "СуммаДокумента",
        message: format!("{raw:?} is not a decimal number"),
    })?;
    if sum.0 < 0 {
        warnings.push(format!(
            "СуммаДокумента {} is negative; revenue is not sent",
            sum.to_calltouch()
        ));
        return Ok(None);
    }
    Ok(Some(sum))
}

fn manager(snapshot: &DocumentSnapshot) -> Option<String> {
    snapshot
        .manager
        .as_deref()
        .and_then(|name| clean_text(name, MANAGER_MAX_CHARS))
}

#[cfg(test)]
mod tests;
