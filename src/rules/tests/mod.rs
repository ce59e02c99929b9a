//! Unit tests of the deal rules, case by case: the shared snapshots and helpers here, the
//! cases by table in the files beside.

use super::*;
use crate::domain::snapshot::{BookingLink, Car};
use crate::rules::format::tests::random_text;
use chrono::NaiveDate;
use serde_json::{json, Value};

fn at(day: u32, hour: u32, minute: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2020, 10, day)
        .unwrap()
        .and_hms_opt(hour, minute, 0)
        .unwrap()
}

/// Detection time used by every test.
fn now() -> NaiveDateTime {
    at(20, 18, 30)
}
const NOW: &str = "20-10-2020 18:30:00";

const BOOKING_REF: DocRef = DocRef([1; 16]);
const WORK_ORDER_REF: DocRef = DocRef([2; 16]);

fn booking() -> DocumentSnapshot {
    DocumentSnapshot::new(DocKind::Booking, BOOKING_REF, " 000123 ", at(1, 12, 0))
}

fn work_order() -> DocumentSnapshot {
    DocumentSnapshot::new(
        DocKind::WorkOrder,
        WORK_ORDER_REF,
        "ЗН-000777",
        at(5, 9, 15),
    )
}

fn linked_work_order() -> DocumentSnapshot {
    DocumentSnapshot {
        booking: Some(BookingLink {
            reference: BOOKING_REF,
            number: "000123".into(),
            date: at(1, 12, 0),
        }),
        ..work_order()
    }
}

fn full_booking() -> DocumentSnapshot {
    DocumentSnapshot {
        state: Some("Подтверждено".into()),
        sum: Some("15300.5".into()),
        manager: Some("  Петров\tПётр\n Петрович ".into()),
        contact_reason: Some("Стучит подвеска\r\nслева".into()),
        phones: vec!["8 (915) 777-11-22".into(), "+7 916 000-11-22".into()],
        emails: vec!["Ivan@Mail.RU".into()],
        car: Car {
            make: Some("Kia".into()),
            model: Some("Rio".into()),
            year: Some(2018),
        },
        ..booking()
    }
}

fn record(driver: DocRef, driver_kind: DocKind) -> DealRecord {
    DealRecord {
        order_number: "000123".into(),
        root: BOOKING_REF,
        driver,
        driver_kind,
        driver_date: None,
        driver_number: Some("ЗН-000777".into()),
        status: Some("Подтвержденная заявка".into()),
        revenue: Money::parse("15300.50"),
        manager: Some("Петров Пётр Петрович".into()),
        account: None,
    }
}

/// The rules' cases below read best with bare numbers as orderNumbers.
fn numbers_only() -> DealConfig {
    DealConfig {
        order_number: "{number}".into(),
        ..DealConfig::default()
    }
}

fn decide_with(
    deal: &DealConfig,
    snapshot: &DocumentSnapshot,
    record: Option<&DealRecord>,
) -> Plan {
    let statuses = StatusConfig::default();
    DealRules::new(deal, &statuses)
        .decide(snapshot, record, now())
        .unwrap()
}

fn decide(snapshot: &DocumentSnapshot, record: Option<&DealRecord>) -> Plan {
    decide_with(&numbers_only(), snapshot, record)
}

fn create(snapshot: &DocumentSnapshot) -> (CreateOrder, SentValues, Vec<String>) {
    let (deal, statuses) = (numbers_only(), StatusConfig::default());
    DealRules::new(&deal, &statuses)
        .create_order(snapshot, now())
        .unwrap()
}

fn created(plan: &Plan) -> (&CreateOrder, &SentValues) {
    match &plan.decision {
        Decision::Create { order, sent } => (order, sent),
        other => panic!("expected a create, got {other:?}"),
    }
}

fn updated(plan: &Plan) -> (&UpdateOrder, &CreateOrder, &SentValues) {
    match &plan.decision {
        Decision::Update {
            order,
            fallback,
            sent,
        } => (order, fallback, sent),
        other => panic!("expected an update, got {other:?}"),
    }
}

fn skip_reason(plan: &Plan) -> &str {
    match &plan.decision {
        Decision::Skip { reason } => reason,
        other => panic!("expected a skip, got {other:?}"),
    }
}

/// Compares field by field, naming the path of the first difference, and fails on any key
/// the expected value does not have.
fn assert_fields(actual: &Value, expected: &Value, path: &str) {
    match (actual, expected) {
        (Value::Object(actual), Value::Object(expected)) => {
            for (key, value) in expected {
                let field = format!("{path}.{key}");
                let got = actual
                    .get(key)
                    .unwrap_or_else(|| panic!("{field} is missing"));
                assert_fields(got, value, &field);
            }
            for key in actual.keys() {
                assert!(expected.contains_key(key), "{path}.{key} is not expected");
            }
        }
        (Value::Array(actual), Value::Array(expected)) => {
            assert_eq!(actual.len(), expected.len(), "{path} length: {actual:?}");
            for (i, (got, value)) in actual.iter().zip(expected).enumerate() {
                assert_fields(got, value, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(actual, expected, "{path}"),
    }
}

fn assert_json<T: serde::Serialize>(actual: &T, expected: Value) {
    assert_fields(&serde_json::to_value(actual).unwrap(), &expected, "$");
}

fn offline_source(campaign: &str) -> Value {
    json!({
        "type": "customSources",
        "customSourceParams": {
            "source": "офлайн визит",
            "medium": "офлайн визит",
            "campaign": campaign
        }
    })
}

mod create;
mod deletion;
mod updates;
