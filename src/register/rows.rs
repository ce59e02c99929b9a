//! The register's rows as every backend reads them, before their codes are parsed into
//! records, and the texts it keeps outside the send log.

use chrono::NaiveDateTime;

use super::records::{DocumentRecord, SyncState};
use super::RegisterError;
use crate::domain::deal::DealRecord;
use crate::domain::snapshot::{DocKind, DocRef, Money};

/// A text the register keeps outside its send log (an error, Calltouch's reason, a run's
/// summary), without the phones and e-mails it may quote: only the send log, pruned after
/// `[register] send_log_days`, keeps them.
pub(crate) fn kept_text(text: Option<&str>) -> Option<String> {
    text.map(crate::ops::privacy::redact_contacts)
}

/// A documents row as a backend reads it, before its codes are parsed.
pub(crate) struct StoredDocument {
    pub kind: String,
    pub reference: String,
    pub number: String,
    pub date: NaiveDateTime,
    pub order_number: Option<String>,
    pub state: String,
    pub onec_state: Option<String>,
    pub last_status: Option<String>,
    pub last_revenue: Option<String>,
    pub last_manager: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub updated_at: NaiveDateTime,
}

impl StoredDocument {
    pub(crate) fn into_record(self) -> Result<DocumentRecord, RegisterError> {
        Ok(DocumentRecord {
            kind: parse_kind(&self.kind)?,
            reference: parse_ref(&self.reference)?,
            number: self.number,
            date: self.date,
            order_number: self.order_number,
            state: parse_state(&self.state)?,
            onec_state: self.onec_state,
            last_status: self.last_status,
            last_revenue: self.last_revenue,
            last_manager: self.last_manager,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            last_error: self.last_error,
            updated_at: self.updated_at,
        })
    }
}

/// A deals row as a backend reads it, before its codes are parsed.
pub(crate) struct StoredDeal {
    pub order_number: String,
    pub root: String,
    pub driver: String,
    pub driver_kind: String,
    pub status: Option<String>,
    pub revenue: Option<String>,
    pub manager: Option<String>,
    pub driver_date: Option<NaiveDateTime>,
    pub account: Option<String>,
}

impl StoredDeal {
    pub(crate) fn into_record(self) -> Result<DealRecord, RegisterError> {
        Ok(DealRecord {
            order_number: self.order_number,
            root: parse_ref(&self.root)?,
            driver: parse_ref(&self.driver)?,
            driver_kind: parse_kind(&self.driver_kind)?,
            driver_date: self.driver_date,
            driver_number: None,
            status: self.status,
            revenue: self.revenue.as_deref().map(parse_money).transpose()?,
            manager: self.manager,
            account: self.account,
        })
    }
}

/// The 1C state a document was last seen in, and since when, as stored.
pub(crate) struct StoredSighting {
    pub state: Option<String>,
    pub since: Option<NaiveDateTime>,
}

/// The answer of `state_seen_at` from the stored sighting of a document.
pub(crate) fn seen_in_state(
    stored: Option<StoredSighting>,
    state: Option<&str>,
) -> Option<Option<NaiveDateTime>> {
    match stored {
        None => None,
        Some(seen) if seen.state.as_deref() == state => Some(seen.since),
        Some(_) => Some(None),
    }
}

pub(crate) fn parse_state(text: &str) -> Result<SyncState, RegisterError> {
    SyncState::from_code(text).ok_or_else(|| RegisterError::Corrupt(format!("state {text:?}")))
}

fn parse_ref(text: &str) -> Result<DocRef, RegisterError> {
    DocRef::from_uuid_string(text)
        .ok_or_else(|| RegisterError::Corrupt(format!("reference {text:?}")))
}

pub(crate) fn parse_kind(text: &str) -> Result<DocKind, RegisterError> {
    DocKind::from_code(text)
        .ok_or_else(|| RegisterError::Corrupt(format!("document kind {text:?}")))
}

fn parse_money(text: &str) -> Result<Money, RegisterError> {
    Money::parse(text).ok_or_else(|| RegisterError::Corrupt(format!("sum {text:?}")))
}
