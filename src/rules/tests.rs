//! Unit tests of the deal rules, case by case.

use super::*;
use crate::format::tests::random_text;
use crate::snapshot::{BookingLink, Car};
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

// ---- Table 1: create ----

#[test]
fn booking_with_full_data_creates_the_deal_of_table_1() {
    let plan = decide(&full_booking(), None);
    let (order, sent) = created(&plan);
    assert_json(
        order,
        json!({
            "matching": [
                {
                    "type": "callContact",
                    "callContactParams": {
                        "phones": ["79157771122", "79160001122"],
                        "date": "01-10-2020 12:00:00",
                        "callTypeToMatch": "nearest",
                        "searchDepth": 259200
                    }
                },
                {
                    "type": "requestContact",
                    "requestContactParams": {
                        "emails": ["ivan@mail.ru"],
                        "phones": ["79157771122", "79160001122"],
                        "date": "01-10-2020 12:00:00",
                        "requestTypeToMatch": "nearest",
                        "searchDepth": 259200
                    }
                },
                offline_source("офлайн визит")
            ],
            "orderNumber": "000123",
            "status": "Подтвержденная заявка",
            "statusDate": "01-10-2020 12:00:00",
            "orderDate": "01-10-2020 12:00:00",
            "revenue": "15300.50",
            "manager": "Петров Пётр Петрович",
            "comment": { "text": "Стучит подвеска слева" },
            "addTags": [{ "tag": "Сервис" }, { "tag": "Kia (Rio)" }, { "tag": "2018" }]
        }),
    );
    assert_eq!(
        sent,
        &SentValues {
            status: Some("Подтвержденная заявка".into()),
            revenue: Some(Money(1_530_050)),
            manager: Some("Петров Пётр Петрович".into()),
        }
    );
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

#[test]
fn work_order_without_booking_creates_its_own_deal() {
    let snapshot = DocumentSnapshot {
        state: Some("Закрыт".into()),
        state_set_at: Some(at(6, 17, 40)),
        sum: Some("48210".into()),
        manager: Some("Сидорова Анна".into()),
        marketing_programme: Some("Осенний сервис".into()),
        contact_reason: Some("ТО-60000".into()),
        phones: vec!["+375 29 123-45-67".into()],
        car: Car {
            make: Some("Škoda".into()),
            model: Some("Octavia".into()),
            year: Some(2015),
        },
        ..work_order()
    };
    let plan = decide(&snapshot, None);
    let (order, sent) = created(&plan);
    assert_json(
        order,
        json!({
            "matching": [
                {
                    "type": "callContact",
                    "callContactParams": {
                        "phones": ["375291234567"],
                        "date": "05-10-2020 09:15:00",
                        "callTypeToMatch": "nearest",
                        "searchDepth": 259200
                    }
                },
                {
                    "type": "requestContact",
                    "requestContactParams": {
                        "phones": ["375291234567"],
                        "date": "05-10-2020 09:15:00",
                        "requestTypeToMatch": "nearest",
                        "searchDepth": 259200
                    }
                },
                offline_source("Осенний сервис")
            ],
            "orderNumber": "ЗН-000777",
            "status": "Закрыт",
            "statusDate": "06-10-2020 17:40:00",
            "orderDate": "05-10-2020 09:15:00",
            "revenue": "48210.00",
            "manager": "Сидорова Анна",
            "comment": { "text": "ТО-60000" },
            "addTags": [{ "tag": "Сервис" }, { "tag": "Škoda (Octavia)" }, { "tag": "2015" }]
        }),
    );
    assert_eq!(sent.status.as_deref(), Some("Закрыт"));
}

#[test]
fn of_two_work_orders_from_one_booking_the_later_one_drives_the_deal() {
    let later_ref = DocRef([3; 16]);
    let driven_by_later = DealRecord {
        driver_date: Some(at(6, 9, 0)),
        ..record(later_ref, DocKind::WorkOrder)
    };
    let earlier = DocumentSnapshot {
        sum: Some("999.00".into()),
        ..linked_work_order()
    };
    let plan = decide(&earlier, Some(&driven_by_later));
    assert!(skip_reason(&plan).contains("later work order"), "{plan:?}");

    let driven_by_earlier = DealRecord {
        driver_date: Some(at(4, 9, 0)),
        ..record(later_ref, DocKind::WorkOrder)
    };
    let plan = decide(&earlier, Some(&driven_by_earlier));
    let (order, _, sent) = updated(&plan);
    assert_eq!(order.revenue.as_deref(), Some("999.00"));
    assert_eq!(sent.revenue, Money::parse("999"));
}

#[test]
fn linked_work_order_creates_the_bookings_deal() {
    let snapshot = DocumentSnapshot {
        state: Some("Отказ от заезда".into()),
        sum: Some("0".into()),
        ..linked_work_order()
    };
    let plan = decide(&snapshot, None);
    let (order, _) = created(&plan);
    assert_json(
        order,
        json!({
            "matching": [offline_source("офлайн визит")],
            "orderNumber": "000123",
            "status": "Отказ",
            "statusDate": NOW,
            "orderDate": "01-10-2020 12:00:00",
            "revenue": "0.00",
            "addTags": [{ "tag": "Сервис" }]
        }),
    );
    assert_eq!(DealRules::deal_root(&snapshot), BOOKING_REF);
    assert_eq!(DealRules::deal_root(&work_order()), WORK_ORDER_REF);
    assert_eq!(DealRules::deal_root(&booking()), BOOKING_REF);
}

#[test]
fn no_contacts_leaves_only_the_offline_source() {
    let (order, _, warnings) = create(&booking());
    assert_json(
        &order,
        json!({
            "matching": [offline_source("офлайн визит")],
            "orderNumber": "000123",
            "orderDate": "01-10-2020 12:00:00",
            "addTags": [{ "tag": "Сервис" }]
        }),
    );
    assert!(warnings.is_empty());
}

#[test]
fn email_only_matches_requests_without_phones_or_calls() {
    let snapshot = DocumentSnapshot {
        emails: vec!["client@example.com; CLIENT@example.com".into()],
        phones: vec!["нет".into()],
        ..booking()
    };
    let (order, _, warnings) = create(&snapshot);
    assert_json(
        &order.matching,
        json!([
            {
                "type": "requestContact",
                "requestContactParams": {
                    "emails": ["client@example.com"],
                    "date": "01-10-2020 12:00:00",
                    "requestTypeToMatch": "nearest",
                    "searchDepth": 259200
                }
            },
            offline_source("офлайн визит")
        ]),
    );
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("\"нет\""));
}

#[test]
fn contact_warnings_reach_the_plan() {
    let snapshot = DocumentSnapshot {
        phones: vec!["8 915 777 11 22, 12".into()],
        emails: vec!["broken@".into()],
        ..booking()
    };
    let plan = decide(&snapshot, None);
    assert_eq!(plan.warnings.len(), 2, "{:?}", plan.warnings);
    assert!(plan.warnings[0].contains("\"12\""));
    assert!(plan.warnings[1].contains("broken@"));
}

#[test]
fn campaign_is_the_marketing_programme_else_the_default() {
    let campaign = |programme: Option<&str>| {
        let snapshot = DocumentSnapshot {
            marketing_programme: programme.map(str::to_string),
            ..work_order()
        };
        let (order, _, _) = create(&snapshot);
        order.matching.last().cloned().unwrap()
    };
    assert_json(
        &campaign(Some(" Зимние\nшины ")),
        offline_source("Зимние шины"),
    );
    assert_json(&campaign(None), offline_source("офлайн визит"));
    assert_json(&campaign(Some(" \t ")), offline_source("офлайн визит"));
    let deal = DealConfig {
        default_campaign: "без программы".into(),
        ..numbers_only()
    };
    let plan = decide_with(&deal, &work_order(), None);
    assert_json(
        &created(&plan).0.matching,
        json!([offline_source("без программы")]),
    );
}

#[test]
fn tags_leave_out_missing_parts() {
    let tags = |make: Option<&str>, model: Option<&str>, year: Option<i32>| {
        let snapshot = DocumentSnapshot {
            car: Car {
                make: make.map(str::to_string),
                model: model.map(str::to_string),
                year,
            },
            ..booking()
        };
        serde_json::to_value(create(&snapshot).0).unwrap()["addTags"].clone()
    };
    let expect = |tags: &[&str]| Value::Array(tags.iter().map(|t| json!({ "tag": t })).collect());
    assert_fields(
        &tags(Some("Kia"), None, Some(2018)),
        &expect(&["Сервис", "Kia", "2018"]),
        "$",
    );
    assert_fields(
        &tags(None, Some("Rio"), None),
        &expect(&["Сервис", "Rio"]),
        "$",
    );
    assert_fields(
        &tags(None, None, Some(2021)),
        &expect(&["Сервис", "2021"]),
        "$",
    );
    assert_fields(
        &tags(Some(" "), Some(""), Some(0)),
        &expect(&["Сервис"]),
        "$",
    );
    let long = "М".repeat(200);
    let tags = tags(Some(&long), Some("X"), None);
    let car_tag = tags[1]["tag"].as_str().unwrap();
    assert_eq!(car_tag.chars().count(), 126);
}

#[test]
fn comment_is_cleaned_and_cut_to_255_characters() {
    let snapshot = DocumentSnapshot {
        contact_reason: Some("Шум 🚗\u{0} ".repeat(100)),
        ..booking()
    };
    let text = create(&snapshot).0.comment.unwrap().text;
    assert_eq!(text.chars().count(), 255);
    assert!(!text.contains('\u{0}'));
    let empty = DocumentSnapshot {
        contact_reason: Some("\n\t".into()),
        ..booking()
    };
    assert_eq!(create(&empty).0.comment, None);
}

#[test]
fn negative_sum_is_left_out_with_a_warning() {
    let snapshot = DocumentSnapshot {
        sum: Some("-150.00".into()),
        ..booking()
    };
    let (order, sent, warnings) = create(&snapshot);
    assert_eq!(order.revenue, None);
    assert_eq!(sent.revenue, None);
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("-150.00"), "{}", warnings[0]);
}

#[test]
fn unreadable_sum_is_a_document_error() {
    let (deal, statuses) = (numbers_only(), StatusConfig::default());
    let rules = DealRules::new(&deal, &statuses);
    let snapshot = DocumentSnapshot {
        sum: Some("1 500,00".into()),
        ..booking()
    };
    let error = rules.decide(&snapshot, None, now()).unwrap_err();
    assert_eq!(error.field, "СуммаДокумента");
    assert!(error.to_string().starts_with("СуммаДокумента: "), "{error}");
    let existing = record(BOOKING_REF, DocKind::Booking);
    assert_eq!(
        rules
            .decide(&snapshot, Some(&existing), now())
            .unwrap_err()
            .field,
        "СуммаДокумента"
    );
}

// ---- orderNumber ----

#[test]
fn order_number_templates_use_the_deal_root() {
    let statuses = StatusConfig::default();
    let number = |template: &str, snapshot: &DocumentSnapshot| {
        let deal = DealConfig {
            order_number: template.into(),
            ..numbers_only()
        };
        DealRules::new(&deal, &statuses)
            .order_number(snapshot)
            .unwrap()
    };
    assert_eq!(number("{number}", &booking()), "000123");
    // The default keeps a booking and a work order of one number, and years, apart.
    let default = DealConfig::default().order_number;
    assert_eq!(number(&default, &booking()), "ЗР-2020-000123");
    assert_eq!(number(&default, &linked_work_order()), "ЗР-2020-000123");
    assert_ne!(
        number(&default, &work_order()),
        number(&default, &booking())
    );
    assert_eq!(number("{number}-{year}", &booking()), "000123-2020");
    assert_eq!(number("{kind}:{number}", &booking()), "ЗР:000123");
    assert_eq!(number("{kind}:{number}", &work_order()), "ЗН:ЗН-000777");
    assert_eq!(number("{kind}:{number}", &linked_work_order()), "ЗР:000123");
    let across_years = DocumentSnapshot {
        booking: Some(BookingLink {
            reference: BOOKING_REF,
            number: " 000999 ".into(),
            date: NaiveDate::from_ymd_opt(2019, 12, 31)
                .unwrap()
                .and_hms_opt(23, 0, 0)
                .unwrap(),
        }),
        ..work_order()
    };
    assert_eq!(number("{number}-{year}", &across_years), "000999-2019");
    let tricky = DocumentSnapshot::new(DocKind::Booking, BOOKING_REF, "{year}", at(1, 0, 0));
    assert_eq!(number("{number}/{year}", &tricky), "{year}/2020");
}

#[test]
fn empty_number_is_a_document_error() {
    let (deal, statuses) = (numbers_only(), StatusConfig::default());
    let rules = DealRules::new(&deal, &statuses);
    let blank = DocumentSnapshot::new(DocKind::Booking, BOOKING_REF, "   ", at(1, 0, 0));
    let error = rules.order_number(&blank).unwrap_err();
    assert_eq!(error.field, "Номер");
    assert_eq!(
        rules.decide(&blank, None, now()).unwrap_err().field,
        "Номер"
    );
    let mut orphan = linked_work_order();
    orphan.booking.as_mut().unwrap().number = " ".into();
    assert_eq!(rules.order_number(&orphan).unwrap_err().field, "Номер");
}

// ---- Table 2: statuses ----

/// A create body of a contactless document with the given status (or none).
fn bare_create(number: &str, date: &str, status: Option<(&str, &str)>) -> Value {
    let mut expected = json!({
        "matching": [offline_source("офлайн визит")],
        "orderNumber": number,
        "orderDate": date,
        "addTags": [{ "tag": "Сервис" }]
    });
    if let Some((status, status_date)) = status {
        expected["status"] = json!(status);
        expected["statusDate"] = json!(status_date);
    }
    expected
}

#[test]
fn every_default_booking_state_maps_to_its_table_2_status() {
    for (state, status) in [
        ("Предварительная заявка", "Предварительная заявка"),
        ("Подтвержденная заявка", "Подтвержденная заявка"),
        ("Отказ от заезда", "Отказ"),
        ("НеУказано", "Предварительная заявка"),
        ("Подтверждено", "Подтвержденная заявка"),
        ("Отклонено", "Отказ"),
    ] {
        let snapshot = DocumentSnapshot {
            state: Some(state.into()),
            state_set_at: Some(at(3, 10, 0)),
            ..booking()
        };
        // A booking's status is set with the booking: statusDate is its date.
        assert_json(
            &create(&snapshot).0,
            bare_create(
                "000123",
                "01-10-2020 12:00:00",
                Some((status, "01-10-2020 12:00:00")),
            ),
        );
    }
}

#[test]
fn every_default_work_order_state_maps_to_its_table_2_status() {
    for (state, status) in [("Закрыт", "Закрыт"), ("Отказ от заезда", "Отказ")]
    {
        let snapshot = DocumentSnapshot {
            state: Some(state.into()),
            ..work_order()
        };
        assert_json(
            &create(&snapshot).0,
            bare_create("ЗН-000777", "05-10-2020 09:15:00", Some((status, NOW))),
        );
    }
}

#[test]
fn unmapped_state_on_create_leaves_the_status_out() {
    let booking = DocumentSnapshot {
        state: Some("Выполнена".into()),
        ..booking()
    };
    assert_json(
        &create(&booking).0,
        bare_create("000123", "01-10-2020 12:00:00", None),
    );
    let work_order = DocumentSnapshot {
        state: Some("В работе".into()),
        state_set_at: Some(at(5, 10, 0)),
        ..work_order()
    };
    let (order, sent, _) = create(&work_order);
    assert_json(
        &order,
        bare_create("ЗН-000777", "05-10-2020 09:15:00", None),
    );
    assert_eq!(sent.status, None);
}

#[test]
fn statuses_come_only_from_configuration() {
    let deal = numbers_only();
    let mut statuses = StatusConfig::default();
    statuses
        .work_order
        .insert("В работе".into(), "В работе".into());
    statuses.booking.remove("Отклонено");
    let rules = DealRules::new(&deal, &statuses);
    let in_work = DocumentSnapshot {
        state: Some("В работе".into()),
        ..work_order()
    };
    let rejected = DocumentSnapshot {
        state: Some("Отклонено".into()),
        ..booking()
    };
    let status_of = |s: &DocumentSnapshot| rules.create_order(s, now()).unwrap().0.status;
    assert_eq!(status_of(&in_work).as_deref(), Some("В работе"));
    assert_eq!(status_of(&rejected), None);
}

// ---- Table 3 and item 10: updates ----

#[test]
fn state_change_updates_status_dated_when_1c_set_it() {
    let snapshot = DocumentSnapshot {
        state: Some("Закрыт".into()),
        state_set_at: Some(at(7, 16, 5)),
        sum: Some("15300.50".into()),
        manager: Some("Петров Пётр Петрович".into()),
        ..work_order()
    };
    let existing = DealRecord {
        order_number: "ЗН-000777".into(),
        root: WORK_ORDER_REF,
        driver: WORK_ORDER_REF,
        driver_kind: DocKind::WorkOrder,
        status: None,
        ..record(WORK_ORDER_REF, DocKind::WorkOrder)
    };
    let plan = decide(&snapshot, Some(&existing));
    let (order, fallback, sent) = updated(&plan);
    assert_json(
        order,
        json!({
            "orderNumber": "ЗН-000777",
            "status": "Закрыт",
            "statusDate": "07-10-2020 16:05:00",
            "orderDate": "07-10-2020 16:05:00",
            "updateDate": "07-10-2020 16:05:00"
        }),
    );
    assert_eq!(fallback, &create(&snapshot).0);
    assert_eq!(
        sent,
        &SentValues {
            status: Some("Закрыт".into()),
            revenue: existing.revenue,
            manager: existing.manager.clone(),
        }
    );
}

#[test]
fn state_change_without_a_1c_date_is_dated_now() {
    let snapshot = DocumentSnapshot {
        state: Some("Отклонено".into()),
        sum: Some("15300.5".into()),
        manager: Some("Петров Пётр Петрович".into()),
        ..booking()
    };
    let existing = record(BOOKING_REF, DocKind::Booking);
    let plan = decide(&snapshot, Some(&existing));
    assert_json(
        updated(&plan).0,
        json!({
            "orderNumber": "000123",
            "status": "Отказ",
            "statusDate": NOW,
            "orderDate": NOW,
            "updateDate": NOW
        }),
    );
}

#[test]
fn revenue_only_change_sends_only_revenue() {
    let snapshot = DocumentSnapshot {
        sum: Some("17000".into()),
        ..full_booking()
    };
    let existing = record(BOOKING_REF, DocKind::Booking);
    let plan = decide(&snapshot, Some(&existing));
    let (order, _, sent) = updated(&plan);
    assert_json(
        order,
        json!({
            "orderNumber": "000123",
            "orderDate": NOW,
            "updateDate": NOW,
            "revenue": "17000.00"
        }),
    );
    assert_eq!(sent.revenue, Some(Money(1_700_000)));
    assert_eq!(sent.status, existing.status);
    assert_eq!(sent.manager, existing.manager);
}

#[test]
fn manager_only_change_sends_only_the_manager() {
    let snapshot = DocumentSnapshot {
        manager: Some("Смирнов Олег".into()),
        ..full_booking()
    };
    let existing = record(BOOKING_REF, DocKind::Booking);
    let plan = decide(&snapshot, Some(&existing));
    let (order, _, sent) = updated(&plan);
    assert_json(
        order,
        json!({
            "orderNumber": "000123",
            "orderDate": NOW,
            "updateDate": NOW,
            "manager": "Смирнов Олег"
        }),
    );
    assert_eq!(sent.manager.as_deref(), Some("Смирнов Олег"));
    assert_eq!(sent.revenue, existing.revenue);
}

#[test]
fn nothing_relevant_changed_is_unchanged() {
    let existing = record(BOOKING_REF, DocKind::Booking);
    let snapshot = DocumentSnapshot {
        // Only fields that are not compared differ.
        contact_reason: Some("Другая причина".into()),
        phones: vec!["8 999 000 00 00".into()],
        manager: Some("Петров   Пётр Петрович".into()),
        ..full_booking()
    };
    assert_eq!(
        decide(&snapshot, Some(&existing)).decision,
        Decision::Unchanged
    );
    // A value the document no longer has is not a change.
    let emptied = DocumentSnapshot {
        sum: None,
        manager: None,
        ..full_booking()
    };
    assert_eq!(
        decide(&emptied, Some(&existing)).decision,
        Decision::Unchanged
    );
}

#[test]
fn unmapped_state_on_update_sends_no_status_and_keeps_the_stored_one() {
    let existing = record(BOOKING_REF, DocKind::Booking);
    let unmapped = DocumentSnapshot {
        state: Some("Выполнена".into()),
        ..full_booking()
    };
    assert_eq!(
        decide(&unmapped, Some(&existing)).decision,
        Decision::Unchanged
    );
    let with_new_sum = DocumentSnapshot {
        sum: Some("100".into()),
        ..unmapped
    };
    let plan = decide(&with_new_sum, Some(&existing));
    let (order, _, sent) = updated(&plan);
    assert_json(
        order,
        json!({
            "orderNumber": "000123",
            "orderDate": NOW,
            "updateDate": NOW,
            "revenue": "100.00"
        }),
    );
    assert_eq!(sent.status.as_deref(), Some("Подтвержденная заявка"));
}

// ---- item 11 ----

#[test]
fn booking_is_skipped_once_a_work_order_drives_the_deal() {
    let existing = record(WORK_ORDER_REF, DocKind::WorkOrder);
    let snapshot = DocumentSnapshot {
        state: Some("Отклонено".into()),
        ..full_booking()
    };
    let plan = decide(&snapshot, Some(&existing));
    let reason = skip_reason(&plan);
    assert_eq!(reason, "the deal follows ЗаказНаряд ЗН-000777");
    let unknown_driver = DealRecord {
        driver_number: None,
        ..existing
    };
    let reason = skip_reason(&decide(&snapshot, Some(&unknown_driver))).to_string();
    assert!(
        reason.contains(&WORK_ORDER_REF.to_uuid_string()),
        "{reason}"
    );
}

#[test]
fn a_deal_created_under_another_template_keeps_its_number() {
    let existing = DealRecord {
        order_number: "ЗР-000123".into(),
        ..record(BOOKING_REF, DocKind::Booking)
    };
    let snapshot = DocumentSnapshot {
        sum: Some("1.00".into()),
        ..full_booking()
    };
    let mut plan = decide_with(&DealConfig::default(), &snapshot, Some(&existing));
    assert_eq!(updated(&plan).0.order_number, "ЗР-2020-000123");
    plan.decision.renumber(&existing.order_number);
    let (order, fallback, _) = updated(&plan);
    assert_eq!(order.order_number, "ЗР-000123");
    assert_eq!(fallback.order_number, "ЗР-000123");
    let (order, sent, _) = create(&snapshot);
    let mut created = Decision::Create { order, sent };
    created.renumber("ЗР-000123");
    assert!(matches!(created, Decision::Create { order, .. } if order.order_number == "ЗР-000123"));
}

#[test]
fn linked_work_order_takes_the_deal_over_from_its_booking() {
    let existing = record(BOOKING_REF, DocKind::Booking);
    let snapshot = DocumentSnapshot {
        state: Some("Закрыт".into()),
        state_set_at: Some(at(9, 11, 0)),
        sum: Some("21000".into()),
        manager: Some("Петров Пётр Петрович".into()),
        ..linked_work_order()
    };
    let plan = decide(&snapshot, Some(&existing));
    let (order, fallback, sent) = updated(&plan);
    assert_json(
        order,
        json!({
            "orderNumber": "000123",
            "status": "Закрыт",
            "statusDate": "09-10-2020 11:00:00",
            "orderDate": "09-10-2020 11:00:00",
            "updateDate": "09-10-2020 11:00:00",
            "revenue": "21000.00"
        }),
    );
    assert_eq!(fallback.order_number, "000123");
    assert_eq!(fallback.order_date, "01-10-2020 12:00:00");
    assert_eq!(
        sent,
        &SentValues {
            status: Some("Закрыт".into()),
            revenue: Some(Money(2_100_000)),
            manager: Some("Петров Пётр Петрович".into()),
        }
    );
}

#[test]
fn takeover_is_sent_even_when_the_values_match() {
    let existing = record(BOOKING_REF, DocKind::Booking);
    let snapshot = DocumentSnapshot {
        state: Some("В работе".into()),
        sum: Some("15300.50".into()),
        manager: Some("Петров Пётр Петрович".into()),
        ..linked_work_order()
    };
    let plan = decide(&snapshot, Some(&existing));
    let (order, _, sent) = updated(&plan);
    assert_json(
        order,
        json!({ "orderNumber": "000123", "orderDate": NOW, "updateDate": NOW }),
    );
    assert_eq!(sent.status, existing.status);
    // Once the work order drives the deal, the same values are simply unchanged.
    let driven = record(WORK_ORDER_REF, DocKind::WorkOrder);
    assert_eq!(
        decide(&snapshot, Some(&driven)).decision,
        Decision::Unchanged
    );
}

// ---- deletion mark ----

fn deleted(snapshot: DocumentSnapshot) -> DocumentSnapshot {
    DocumentSnapshot {
        deletion_mark: true,
        ..snapshot
    }
}

fn with_deleted_status() -> DealConfig {
    DealConfig {
        deleted_status: Some("Удалена".into()),
        ..numbers_only()
    }
}

#[test]
fn deleted_document_without_a_deal_is_skipped() {
    let plan = decide_with(&with_deleted_status(), &deleted(full_booking()), None);
    assert!(skip_reason(&plan).contains("помечен на удаление"));
}

#[test]
fn deleted_driver_sends_the_deleted_status_once() {
    let deal = with_deleted_status();
    let existing = record(BOOKING_REF, DocKind::Booking);
    let plan = decide_with(&deal, &deleted(full_booking()), Some(&existing));
    let (order, fallback, sent) = updated(&plan);
    assert_json(
        order,
        json!({
            "orderNumber": "000123",
            "status": "Удалена",
            "statusDate": NOW,
            "orderDate": NOW,
            "updateDate": NOW
        }),
    );
    assert_eq!(fallback.status.as_deref(), Some("Удалена"));
    assert_eq!(fallback.status_date.as_deref(), Some(NOW));
    assert_eq!(sent.status.as_deref(), Some("Удалена"));
    assert_eq!(sent.revenue, existing.revenue);

    let already = DealRecord {
        status: Some("Удалена".into()),
        ..existing
    };
    let plan = decide_with(&deal, &deleted(full_booking()), Some(&already));
    assert!(skip_reason(&plan).contains("already has status"));
}

#[test]
fn deletion_without_a_configured_status_is_skipped() {
    let existing = record(BOOKING_REF, DocKind::Booking);
    let plan = decide(&deleted(full_booking()), Some(&existing));
    assert!(skip_reason(&plan).contains("deal.deleted_status is not set"));
}

#[test]
fn deleted_work_order_that_does_not_drive_the_deal_is_skipped() {
    let existing = record(BOOKING_REF, DocKind::Booking);
    let plan = decide_with(
        &with_deleted_status(),
        &deleted(linked_work_order()),
        Some(&existing),
    );
    assert!(skip_reason(&plan).contains("the deal follows ЗаявкаНаРемонт"));
}

// ---- robustness ----

fn random_snapshot(rng: &mut fastrand::Rng) -> DocumentSnapshot {
    let text = |rng: &mut fastrand::Rng| rng.bool().then(|| random_text(rng));
    let kind = if rng.bool() {
        DocKind::Booking
    } else {
        DocKind::WorkOrder
    };
    let mut snapshot = DocumentSnapshot::new(kind, DocRef([3; 16]), &random_text(rng), now());
    // Mapped states often, so statuses and updates are exercised too.
    const STATES: [&str; 4] = ["Закрыт", "Отказ от заезда", "Подтверждено", "Отклонено"];
    snapshot.state = if rng.bool() {
        Some(STATES[rng.usize(..STATES.len())].into())
    } else {
        text(rng)
    };
    snapshot.deletion_mark = rng.u8(..10) == 0;
    snapshot.sum = text(rng);
    snapshot.manager = text(rng);
    snapshot.marketing_programme = text(rng);
    snapshot.contact_reason = text(rng);
    snapshot.phones = (0..rng.usize(0..3)).map(|_| random_text(rng)).collect();
    snapshot.emails = (0..rng.usize(0..3)).map(|_| random_text(rng)).collect();
    snapshot.car = Car {
        make: text(rng),
        model: text(rng),
        year: rng.bool().then(|| rng.i32(..)),
    };
    snapshot
}

fn assert_clean(text: &str, limit: usize) {
    assert!(text.chars().count() <= limit, "{text:?}");
    assert!(!text.chars().any(char::is_control), "{text:?}");
}

#[test]
fn create_order_never_panics_and_sends_only_clean_values() {
    let (deal, statuses) = (numbers_only(), StatusConfig::default());
    let rules = DealRules::new(&deal, &statuses);
    let mut rng = fastrand::Rng::with_seed(7);
    let mut created = 0;
    for _ in 0..3000 {
        let snapshot = random_snapshot(&mut rng);
        let Ok((order, _, _)) = rules.create_order(&snapshot, now()) else {
            continue;
        };
        created += 1;
        for matching in &order.matching {
            match matching {
                Matching::CallContact { params } => {
                    assert!(!params.phones.is_empty());
                    for phone in &params.phones {
                        assert!((11..=15).contains(&phone.len()), "{phone:?}");
                        assert!(phone.chars().all(|c| c.is_ascii_digit()), "{phone:?}");
                    }
                }
                Matching::RequestContact { params } => {
                    assert!(!params.phones.is_empty() || !params.emails.is_empty());
                    for email in &params.emails {
                        assert_eq!(email.matches('@').count(), 1, "{email:?}");
                    }
                }
                Matching::CustomSources { params } => assert_clean(&params.campaign, 126),
            }
        }
        assert!(matches!(
            order.matching.last(),
            Some(Matching::CustomSources { .. })
        ));
        if let Some(comment) = &order.comment {
            assert_clean(&comment.text, 255);
        }
        if let Some(manager) = &order.manager {
            assert_clean(manager, 255);
        }
        for tag in &order.add_tags {
            assert_clean(&tag.tag, 126);
        }
        if let Some(status) = &order.status {
            assert_eq!(
                Some(status.as_str()),
                statuses.map(snapshot.kind, snapshot.state.as_deref().unwrap_or(""))
            );
        }
    }
    assert!(created > 100, "only {created} random documents were valid");
}

#[test]
fn decide_never_panics_and_updates_carry_a_full_set() {
    let (deal, statuses) = (with_deleted_status(), StatusConfig::default());
    let rules = DealRules::new(&deal, &statuses);
    let mut rng = fastrand::Rng::with_seed(11);
    for _ in 0..3000 {
        let snapshot = random_snapshot(&mut rng);
        let driver = if rng.bool() {
            (snapshot.reference, snapshot.kind)
        } else {
            (BOOKING_REF, DocKind::Booking)
        };
        let existing = rng.bool().then(|| record(driver.0, driver.1));
        let Ok(plan) = rules.decide(&snapshot, existing.as_ref(), now()) else {
            continue;
        };
        if let (Decision::Update { order, sent, .. }, Some(existing)) = (&plan.decision, &existing)
        {
            assert_eq!(order.order_date, order.update_date);
            assert_eq!(order.status.is_some(), order.status_date.is_some());
            assert!(sent.status.is_some() || existing.status.is_none());
        }
    }
}
