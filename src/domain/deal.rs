//! A deal as the register remembers it: what Calltouch last accepted for one orderNumber, which
//! the rules compare a document against to decide what (if anything) to send.

use chrono::NaiveDateTime;

use super::snapshot::{DocKind, DocRef, Money};

/// A deal as Calltouch last accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealRecord {
    pub order_number: String,
    /// The document that owns the deal's number: the booking, or a work order without one.
    pub root: DocRef,
    /// The document whose state, sum and manager the deal follows now (item 11).
    pub driver: DocRef,
    pub driver_kind: DocKind,
    /// The driver's document date, when the register knows it.
    pub driver_date: Option<NaiveDateTime>,
    /// The driver's document number, for messages; filled by the cycle when the driver is
    /// another document.
    pub driver_number: Option<String>,
    /// Values last accepted by Calltouch.
    pub status: Option<String>,
    pub revenue: Option<Money>,
    pub manager: Option<String>,
    /// The Calltouch account the deal is in (docs/dealer-groups.md); `None` is the `[calltouch]`
    /// account, as for every deal made before dealer groups.
    pub account: Option<String>,
}
