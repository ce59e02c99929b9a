//! The rules' settings: `[deal]` (the constants of Table 1) and `[statuses]` (Table 2), read
//! from the config file as they are and owned here, since only the rules read them.

use serde::Deserialize;
use std::collections::BTreeMap;

use crate::domain::snapshot::{DocKind, EMPTY_STATE};

/// `[deal]`: the constants of Table 1, all overridable.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DealConfig {
    pub crm: String,
    /// Template of `orderNumber` for deals not yet created: `{number}` (trimmed document
    /// number), `{year}` (document year), `{kind}` (`ЗР` for a booking, `ЗН` for a work order).
    /// A deal keeps the number it was created with when the template changes later.
    pub order_number: String,
    pub source: String,
    pub medium: String,
    /// Campaign when the document has no marketing programme.
    pub default_campaign: String,
    pub call_type_to_match: String,
    pub request_type_to_match: String,
    /// Minutes; 259200 = 180 days.
    pub search_depth: u32,
    /// The first tag of every deal.
    pub service_tag: String,
    /// Status sent when a document already sent is marked for deletion; unset = send nothing.
    pub deleted_status: Option<String>,
}

/// The default orderNumber template. 1C numbers bookings and work orders separately and many
/// bases restart numbering every year, so a number alone may name two documents; kind and year
/// together keep them apart.
pub const DEFAULT_ORDER_NUMBER: &str = "{kind}-{year}-{number}";

impl Default for DealConfig {
    fn default() -> Self {
        DealConfig {
            crm: "1С Альфа-Авто".into(),
            order_number: DEFAULT_ORDER_NUMBER.into(),
            source: "офлайн визит".into(),
            medium: "офлайн визит".into(),
            default_campaign: "офлайн визит".into(),
            call_type_to_match: "nearest".into(),
            request_type_to_match: "nearest".into(),
            search_depth: 259_200,
            service_tag: "Сервис".into(),
            deleted_status: None,
        }
    }
}

/// `[statuses]`: Table 2, 1C state name → Calltouch status, per document kind.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StatusConfig {
    pub booking: BTreeMap<String, String>,
    pub work_order: BTreeMap<String, String>,
}

impl Default for StatusConfig {
    fn default() -> Self {
        let pairs = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(from, to)| (from.to_string(), to.to_string()))
                .collect()
        };
        StatusConfig {
            booking: pairs(&[
                ("Предварительная заявка", "Предварительная заявка"),
                ("Подтвержденная заявка", "Подтвержденная заявка"),
                ("Отказ от заезда", "Отказ"),
                ("НеУказано", "Предварительная заявка"),
                (EMPTY_STATE, "Предварительная заявка"),
                ("Подтверждено", "Подтвержденная заявка"),
                ("Отклонено", "Отказ"),
            ]),
            work_order: pairs(&[
                ("Закрыт", "Закрыт"),
                ("Отказ", "Отказ"),
                ("Отказ от заезда", "Отказ"),
            ]),
        }
    }
}

impl StatusConfig {
    /// The Calltouch status for a 1C state, if the state maps.
    pub fn map(&self, kind: DocKind, state: &str) -> Option<&str> {
        let table = match kind {
            DocKind::Booking => &self.booking,
            DocKind::WorkOrder => &self.work_order,
        };
        table.get(state.trim()).map(String::as_str)
    }
}
