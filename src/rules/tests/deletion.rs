//! The deletion mark, and robustness on random snapshots.

use super::*;

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
