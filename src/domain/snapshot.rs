//! Document snapshots: what the deal rules need to know about one 1C document.
//!
//! A source (PostgreSQL, MS SQL, or memory in tests) turns 1C rows into these values; everything
//! downstream works on snapshots only and never touches the 1C database.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The two 1C documents that become Calltouch deals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DocKind {
    /// `Документ.ЗаявкаНаРемонт`, the repair booking.
    Booking,
    /// `Документ.ЗаказНаряд`, the work order.
    WorkOrder,
}

impl DocKind {
    /// The 1C metadata name of the document.
    pub fn metadata_name(self) -> &'static str {
        match self {
            DocKind::Booking => "ЗаявкаНаРемонт",
            DocKind::WorkOrder => "ЗаказНаряд",
        }
    }

    /// A short stable code used in the register and in `order_number` templates.
    pub fn code(self) -> &'static str {
        match self {
            DocKind::Booking => "booking",
            DocKind::WorkOrder => "work_order",
        }
    }

    /// The short Russian prefix `{kind}` puts into an orderNumber: «ЗР» or «ЗН».
    pub fn order_prefix(self) -> &'static str {
        match self {
            DocKind::Booking => "ЗР",
            DocKind::WorkOrder => "ЗН",
        }
    }

    pub fn from_code(code: &str) -> Option<DocKind> {
        match code {
            "booking" => Some(DocKind::Booking),
            "work_order" => Some(DocKind::WorkOrder),
            _ => None,
        }
    }
}

impl fmt::Display for DocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.metadata_name())
    }
}

/// The state name of a booking whose `Состояние` is the empty reference (a new 5.x booking: the
/// 5.1 enum has no «not set» value), so `[statuses.booking]` can map it like any other.
pub const EMPTY_STATE: &str = "(не указано)";

/// A 1C reference (`_IDRRef`): 16 bytes in 1C storage order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocRef(pub [u8; 16]);

impl DocRef {
    /// The empty reference (16 zero bytes) means "not set" in 1C.
    pub fn is_empty(&self) -> bool {
        self.0 == [0u8; 16]
    }

    /// Reads a stored reference; `None` for a wrong length or the empty reference.
    pub fn from_stored(bytes: &[u8]) -> Option<DocRef> {
        let array: [u8; 16] = bytes.try_into().ok()?;
        let reference = DocRef(array);
        (!reference.is_empty()).then_some(reference)
    }

    /// The canonical 1C UUID (what `Ссылка.УникальныйИдентификатор()` prints).
    /// Storage order is the five UUID groups reversed: d|e|c|b|a.
    pub fn to_uuid_string(&self) -> String {
        let p = &self.0;
        let mut c = [0u8; 16];
        c[0..4].copy_from_slice(&p[12..16]);
        c[4..6].copy_from_slice(&p[10..12]);
        c[6..8].copy_from_slice(&p[8..10]);
        c[8..16].copy_from_slice(&p[0..8]);
        canonical_uuid(c)
    }

    /// Parses a canonical UUID string back into storage order.
    pub fn from_uuid_string(text: &str) -> Option<DocRef> {
        let hex: String = text.chars().filter(|c| *c != '-').collect();
        if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let mut c = [0u8; 16];
        for (i, byte) in c.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        let mut p = [0u8; 16];
        p[0..2].copy_from_slice(&c[8..10]);
        p[2..8].copy_from_slice(&c[10..16]);
        p[8..10].copy_from_slice(&c[6..8]);
        p[10..12].copy_from_slice(&c[4..6]);
        p[12..16].copy_from_slice(&c[0..4]);
        Some(DocRef(p))
    }
}

impl fmt::Display for DocRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_uuid_string())
    }
}

impl fmt::Debug for DocRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocRef({self})")
    }
}

/// Writes UUID bytes in canonical (RFC 4122) order as `aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee`.
pub fn canonical_uuid(bytes: [u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A sum of money in hundredths (kopecks), exact. Parsed from the decimal text 1C stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(pub i128);

impl Money {
    /// Parses `"15300"`, `"15300.5"`, `"-12.345"` (rounded half away from zero to kopecks).
    pub fn parse(text: &str) -> Option<Money> {
        let text = text.trim();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        if !whole.chars().all(|c| c.is_ascii_digit())
            || !fraction.chars().all(|c| c.is_ascii_digit())
            || whole.len() > 30
        {
            return None;
        }
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut fraction_digits = fraction.chars().map(|c| c as i128 - '0' as i128);
        let tenths = fraction_digits.next().unwrap_or(0);
        let hundredths = fraction_digits.next().unwrap_or(0);
        let round_up = fraction_digits.next().is_some_and(|d| d >= 5);
        let cents = whole.checked_mul(100)? + tenths * 10 + hundredths + i128::from(round_up);
        Some(Money(if negative { -cents } else { cents }))
    }

    /// Calltouch's money format: a dot and exactly two decimals, e.g. `"15300.00"`.
    pub fn to_calltouch(&self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// The car the document is about, as far as the 1C data tells.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Car {
    pub make: Option<String>,
    pub model: Option<String>,
    pub year: Option<i32>,
}

/// The booking a work order was created from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingLink {
    pub reference: DocRef,
    pub number: String,
    pub date: NaiveDateTime,
}

/// One 1C document as the deal rules see it. Dates are in the 1C base's local time, with the
/// year offset already removed; empty 1C values are `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentSnapshot {
    pub kind: DocKind,
    pub reference: DocRef,
    /// `Номер`, trimmed.
    pub number: String,
    /// `Дата`.
    pub date: NaiveDateTime,
    /// `ПометкаУдаления`.
    pub deletion_mark: bool,
    /// The state's name: an enum value name (booking) or the state catalog item's description
    /// (work order).
    pub state: Option<String>,
    /// When the current state was set, if 1C records it (the work-order state journal, or the
    /// closing date for «Закрыт»).
    pub state_set_at: Option<NaiveDateTime>,
    /// `СуммаДокумента` as 1C stores it (decimal text), checked by the rules.
    pub sum: Option<String>,
    /// `Менеджер`: the employee's full name.
    pub manager: Option<String>,
    /// `МаркетинговаяПрограмма`: the programme's description.
    pub marketing_programme: Option<String>,
    /// The reason for contact (`ОписаниеПричиныОбращения` / `ПричинаОбращения`).
    pub contact_reason: Option<String>,
    /// Raw phone strings: the document's own first, then the customer's.
    pub phones: Vec<String>,
    /// Raw e-mail strings: the document's own first, then the customer's.
    pub emails: Vec<String>,
    pub car: Car,
    /// For a work order: the booking it was created from.
    pub booking: Option<BookingLink>,
    /// `ПодразделениеКомпании`: the dealership department; chooses the Calltouch account.
    pub department: Option<CatalogItem>,
    /// `Организация`: the organisation; chooses the Calltouch account when no department rule does.
    pub organisation: Option<CatalogItem>,
}

/// A catalogue item as account rules name it: by its description or its code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogItem {
    /// `Наименование`, trimmed.
    pub description: String,
    /// `Код`, trimmed; `None` when the catalogue has no codes or the code is empty.
    pub code: Option<String>,
}

impl DocumentSnapshot {
    /// A snapshot with only the identity filled; convenient for sources and tests.
    pub fn new(kind: DocKind, reference: DocRef, number: &str, date: NaiveDateTime) -> Self {
        DocumentSnapshot {
            kind,
            reference,
            number: number.trim().to_string(),
            date,
            deletion_mark: false,
            state: None,
            state_set_at: None,
            sum: None,
            manager: None,
            marketing_programme: None,
            contact_reason: None,
            phones: Vec::new(),
            emails: Vec::new(),
            car: Car::default(),
            booking: None,
            department: None,
            organisation: None,
        }
    }

    /// How the document is named in messages: «ЗаказНаряд 000123 от 2026-11-28».
    pub fn label(&self) -> String {
        format!(
            "{} {} от {}",
            self.kind,
            self.number,
            self.date.format("%Y-%m-%d")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_round_trips_through_canonical_uuid() {
        // Test vector from 1c-storage.md §3.
        let stored = DocRef([
            0x90, 0x22, 0x24, 0x9e, 0x3a, 0x1a, 0xc4, 0xb9, 0x4b, 0xe8, 0xfa, 0xdd, 0xd2, 0xf8,
            0xbd, 0xe9,
        ]);
        assert_eq!(
            stored.to_uuid_string(),
            "d2f8bde9-fadd-4be8-9022-249e3a1ac4b9"
        );
        assert_eq!(
            DocRef::from_uuid_string("d2f8bde9-fadd-4be8-9022-249e3a1ac4b9"),
            Some(stored)
        );
    }

    #[test]
    fn empty_reference_reads_as_not_set() {
        assert_eq!(DocRef::from_stored(&[0u8; 16]), None);
        assert_eq!(DocRef::from_stored(&[1u8; 3]), None);
        assert!(DocRef::from_stored(&[1u8; 16]).is_some());
    }

    #[test]
    fn money_parses_and_formats_with_two_decimals() {
        assert_eq!(Money::parse("15300").unwrap().to_calltouch(), "15300.00");
        assert_eq!(Money::parse("15300.5").unwrap().to_calltouch(), "15300.50");
        assert_eq!(Money::parse("0.005").unwrap().to_calltouch(), "0.01");
        assert_eq!(Money::parse("-12.344").unwrap().to_calltouch(), "-12.34");
        assert_eq!(Money::parse(" 7.10 ").unwrap(), Money(710));
        assert_eq!(Money::parse("1,5"), None);
        assert_eq!(Money::parse(""), None);
        assert_eq!(Money::parse("abc"), None);
    }
}
