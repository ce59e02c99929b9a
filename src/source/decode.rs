//! Decoding of document rows into [`DocumentSnapshot`]s, shared by every database: the queries
//! of each database return the same columns, and a small per-database [`Cells`] reader turns
//! one row's cells into plain Rust values. Everything 1C-specific about values lives here: the
//! year offset, the empty date, the empty reference, trimming, enum orders, contact kinds.

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime};

use super::namemap::{NameMap, NameMapError};
use super::settings::Preset;
use super::{Chunk, RejectedDocument, SourceError};
use crate::domain::snapshot::EMPTY_STATE;
use crate::domain::snapshot::{BookingLink, Car, CatalogItem, DocKind, DocRef, DocumentSnapshot};

/// The enum whose `_EnumOrder` tells phones from e-mails in contact information.
pub const CONTACT_KIND_ENUM: &str = "Перечисление.ТипыКонтактнойИнформации";
const PHONE_KIND: &str = "Телефон";
const EMAIL_KIND: &str = "АдресЭлектроннойПочты";

/// The enum of booking states, whose value names the decoder reads by `_EnumOrder`.
pub fn booking_state_enum(preset: Preset) -> &'static str {
    match preset {
        Preset::Alfa6 => "Перечисление.СостояниеЗаявкиНаРемонт",
        Preset::Alfa5 => "Перечисление.СостоянияЗаявкиНаРемонт",
    }
}

/// One line of a customer's contact information.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ContactLine {
    /// The `_EnumOrder` of its `ТипыКонтактнойИнформации` value.
    pub kind: Option<i32>,
    pub text: Option<String>,
}

/// Typed access to the cells of one result row, by column name. A NULL cell is `None`; an
/// `Err` explains a cell of the wrong type.
pub trait Cells {
    /// A binary cell: references (16 bytes).
    fn bytes(&self, column: &str) -> Result<Option<Vec<u8>>, String>;
    /// A string cell, or a number the database returns as a decimal.
    fn text(&self, column: &str) -> Result<Option<String>, String>;
    fn integer(&self, column: &str) -> Result<Option<i32>, String>;
    /// A 1C boolean.
    fn flag(&self, column: &str) -> Result<Option<bool>, String>;
    /// A date as stored, year offset included.
    fn timestamp(&self, column: &str) -> Result<Option<NaiveDateTime>, String>;
    /// The customer's contact information in line order.
    fn contacts(&self) -> Result<Vec<ContactLine>, String>;
}

/// A field of a row that could not be decoded.
struct BadField {
    field: &'static str,
    reason: String,
}

impl BadField {
    fn new(field: &'static str, reason: impl Into<String>) -> BadField {
        BadField {
            field,
            reason: reason.into(),
        }
    }
}

/// A cell's value, or the 1C field named with the decoding error.
fn at<T>(value: Result<T, String>, field: &'static str) -> Result<T, BadField> {
    value.map_err(|reason| BadField::new(field, reason))
}

/// Turns rows of the document queries into snapshots.
pub struct Decoder {
    year_offset: i32,
    /// Booking-state enum value names by `_EnumOrder`.
    booking_states: Vec<String>,
    phone_kind: i32,
    email_kind: i32,
}

impl Decoder {
    /// A decoder for a base with this year offset (0 or 2000); the name map supplies the enum
    /// value names.
    pub fn new(preset: Preset, map: &NameMap, year_offset: i32) -> Result<Decoder, SourceError> {
        let name_map_error = |e: NameMapError| SourceError::NameMap(e.to_string());
        let booking_states = map
            .enum_values(booking_state_enum(preset))
            .map_err(name_map_error)?
            .to_vec();
        let kinds = map.enum_values(CONTACT_KIND_ENUM).map_err(name_map_error)?;
        let order_of = |value: &str| {
            kinds
                .iter()
                .position(|k| k == value)
                .map(|p| p as i32)
                .ok_or_else(|| {
                    SourceError::NameMap(format!(
                        "enum `{CONTACT_KIND_ENUM}` has no value `{value}`"
                    ))
                })
        };
        Ok(Decoder {
            year_offset,
            booking_states,
            phone_kind: order_of(PHONE_KIND)?,
            email_kind: order_of(EMAIL_KIND)?,
        })
    }

    /// The year offset of the base (0 or 2000).
    pub fn year_offset(&self) -> i32 {
        self.year_offset
    }

    /// A snapshot, or the document rejected with the field at fault.
    pub fn snapshot(
        &self,
        kind: DocKind,
        row: &dyn Cells,
    ) -> Result<DocumentSnapshot, RejectedDocument> {
        let reference = row
            .bytes("reference")
            .ok()
            .flatten()
            .and_then(|bytes| DocRef::from_stored(&bytes));
        let number = row
            .text("number")
            .ok()
            .flatten()
            .map(|n| n.trim().to_string());
        let decoded = match reference {
            Some(reference) => self.fields(kind, reference, row),
            None => Err(BadField::new("Ссылка", "empty or not 16 bytes")),
        };
        decoded.map_err(|bad| RejectedDocument {
            kind,
            reference: reference.unwrap_or(DocRef([0; 16])),
            number,
            field: bad.field.to_string(),
            reason: bad.reason,
        })
    }

    /// One chunk of a read: each row's snapshot, or its rejection.
    pub fn chunk<C: Cells>(&self, kind: DocKind, rows: &[C]) -> Chunk {
        let mut chunk = Chunk {
            documents: Vec::with_capacity(rows.len()),
            rejected: Vec::new(),
        };
        for row in rows {
            match self.snapshot(kind, row) {
                Ok(snapshot) => chunk.documents.push(snapshot),
                Err(rejected) => chunk.rejected.push(rejected),
            }
        }
        chunk
    }

    /// The snapshots of the rows that decode. `preview` shows what can be read; an undecodable
    /// document is named in the log.
    pub fn readable<C: Cells>(&self, kind: DocKind, rows: &[C]) -> Vec<DocumentSnapshot> {
        let mut found = Vec::new();
        for row in rows {
            match self.snapshot(kind, row) {
                Ok(snapshot) => found.push(snapshot),
                Err(rejected) => tracing::warn!(
                    kind = %rejected.kind,
                    reference = %rejected.reference,
                    field = %rejected.field,
                    reason = %rejected.reason,
                    "document cannot be decoded"
                ),
            }
        }
        found
    }

    fn fields(
        &self,
        kind: DocKind,
        reference: DocRef,
        row: &dyn Cells,
    ) -> Result<DocumentSnapshot, BadField> {
        let number = text(at(row.text("number"), "Номер")?)
            .ok_or_else(|| BadField::new("Номер", "empty"))?;
        let date = self
            .date(row, "date", "Дата")?
            .ok_or_else(|| BadField::new("Дата", "empty date"))?;
        let mut snapshot = DocumentSnapshot::new(kind, reference, &number, date);
        snapshot.deletion_mark = at(row.flag("deletion_mark"), "ПометкаУдаления")?
            .ok_or_else(|| BadField::new("ПометкаУдаления", "NULL"))?;
        snapshot.state = match kind {
            DocKind::Booking => self.booking_state(row)?,
            DocKind::WorkOrder => text(at(row.text("state_name"), "Состояние")?),
        };
        let journal = self.date(row, "state_journal_at", "ЖурналСостояний.Период")?;
        // 1C fills ДатаЗакрытия only in the state «Закрыт» and clears it otherwise.
        let closed = self.date(row, "closed_at", "ДатаЗакрытия")?;
        snapshot.state_set_at = journal.or(closed);
        snapshot.sum = text(at(row.text("sum"), "СуммаДокумента")?);
        snapshot.manager = text(at(row.text("manager"), "Менеджер")?);
        snapshot.marketing_programme = text(at(
            row.text("marketing_programme"),
            "МаркетинговаяПрограмма",
        )?);
        snapshot.contact_reason = text(at(row.text("contact_reason"), "ПричинаОбращения")?);
        let (phones, emails) = self.contacts(row)?;
        snapshot.phones = phones;
        snapshot.emails = emails;
        snapshot.car = Car {
            make: text(at(row.text("car_make"), "Автомобиль.Марка")?),
            model: text(at(row.text("car_model"), "Автомобиль.Модель")?),
            year: self
                .date(row, "car_year", "Автомобиль.ГодВыпуска")?
                .map(|d| d.year()),
        };
        snapshot.booking = self.booking_link(row)?;
        snapshot.department = catalog_item(row, "department", "ПодразделениеКомпании")?;
        snapshot.organisation = catalog_item(row, "organisation", "Организация")?;
        Ok(snapshot)
    }

    /// The booking state's value name from its `_EnumOrder`; the empty reference (no enum row
    /// joins) is the state [`EMPTY_STATE`], which the status table maps like any other.
    fn booking_state(&self, row: &dyn Cells) -> Result<Option<String>, BadField> {
        let Some(order) = at(row.integer("state_order"), "Состояние")? else {
            return Ok(Some(EMPTY_STATE.to_string()));
        };
        usize::try_from(order)
            .ok()
            .and_then(|i| self.booking_states.get(i))
            .map(|name| Some(name.clone()))
            .ok_or_else(|| {
                BadField::new(
                    "Состояние",
                    format!("enum order {order} is not in the name map's value list"),
                )
            })
    }

    /// Phones and e-mails: the document's own first, then the customer's; empty and repeated
    /// values dropped.
    fn contacts(&self, row: &dyn Cells) -> Result<(Vec<String>, Vec<String>), BadField> {
        let customer = at(row.contacts(), "КонтактнаяИнформация")?;
        let customer_of_kind = |wanted: i32| {
            customer
                .iter()
                .filter(move |line| line.kind == Some(wanted))
                .map(|line| line.text.clone())
        };
        let own_phone = at(row.text("own_phone"), "ПредставлениеТелефона")?;
        let own_email = at(row.text("own_email"), "АдресЭлектроннойПочты")?;
        let phones =
            distinct_texts(std::iter::once(own_phone).chain(customer_of_kind(self.phone_kind)));
        let emails =
            distinct_texts(std::iter::once(own_email).chain(customer_of_kind(self.email_kind)));
        Ok((phones, emails))
    }

    fn booking_link(&self, row: &dyn Cells) -> Result<Option<BookingLink>, BadField> {
        let field = "ДокументОснование";
        let reference = at(row.bytes("booking_reference"), field)?
            .and_then(|bytes| DocRef::from_stored(&bytes));
        let Some(reference) = reference else {
            return Ok(None);
        };
        let number = text(at(row.text("booking_number"), field)?).unwrap_or_default();
        let date = self
            .date(row, "booking_date", field)?
            .ok_or_else(|| BadField::new(field, "the booking has no date"))?;
        Ok(Some(BookingLink {
            reference,
            number,
            date,
        }))
    }

    /// A stored date in 1C time: the year offset removed; the empty date is `None`.
    fn date(
        &self,
        row: &dyn Cells,
        name: &str,
        field: &'static str,
    ) -> Result<Option<NaiveDateTime>, BadField> {
        let Some(stored) = at(row.timestamp(name), field)? else {
            return Ok(None);
        };
        let empty = NaiveDate::MIN
            .with_year(1)
            .map(|d| d.and_time(NaiveTime::MIN));
        if Some(stored) == empty {
            return Ok(None);
        }
        let date = stored
            .checked_sub_months(Months::new(12 * self.year_offset.unsigned_abs()))
            .filter(|d| d.year() >= 1)
            .ok_or_else(|| {
                BadField::new(
                    field,
                    format!("{stored} is before the year offset {}", self.year_offset),
                )
            })?;
        Ok((Some(date) != empty).then_some(date))
    }

    /// A 1C date as stored: the year offset added.
    pub fn storage_date(&self, date: NaiveDateTime) -> Result<NaiveDateTime, String> {
        date.checked_add_months(Months::new(12 * self.year_offset.unsigned_abs()))
            .ok_or_else(|| format!("{date} plus the year offset is out of range"))
    }
}

/// A catalog item from its `{prefix}_name` and `{prefix}_code` columns; the empty reference
/// (nothing joins) is `None`.
fn catalog_item(
    row: &dyn Cells,
    prefix: &str,
    field: &'static str,
) -> Result<Option<CatalogItem>, BadField> {
    let description = text(at(row.text(&format!("{prefix}_name")), field)?);
    let code = text(at(row.text(&format!("{prefix}_code")), field)?);
    Ok(match (description, code) {
        (None, None) => None,
        (description, code) => Some(CatalogItem {
            description: description.unwrap_or_default(),
            code,
        }),
    })
}

/// A string value: trimmed (1C pads fixed-length strings), empty is `None`.
fn text(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn distinct_texts(values: impl Iterator<Item = Option<String>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values.filter_map(text) {
        if !out.contains(&value) {
            out.push(value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_texts_trims_drops_empty_and_repeats_in_order() {
        let values = [
            Some(" +7 900 ".to_string()),
            None,
            Some("".into()),
            Some("+7 900".into()),
            Some("x".into()),
        ];
        assert_eq!(distinct_texts(values.into_iter()), vec!["+7 900", "x"]);
    }
}
