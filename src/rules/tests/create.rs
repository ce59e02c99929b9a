//! Table 1 (the deal created with everything known) and the orderNumber template.

use super::*;

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
