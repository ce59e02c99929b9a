//! Table 2 (statuses), Table 3 and item 10 (updates), item 11 (the work order takes over).

use super::*;

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
