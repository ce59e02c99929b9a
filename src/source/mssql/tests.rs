//! The MS SQL source's unit tests: checkpoints, chunk queries, the read position and the
//! session's isolation.

use super::connection::choose_isolation;
use super::*;

#[test]
fn checkpoints_are_rv_and_sixteen_hex_digits() {
    let version = RowVersion::parse("rv:00000000000A1B2C").unwrap();
    assert_eq!(version, RowVersion(0xA1B2C));
    assert_eq!(version.to_checkpoint(), "rv:00000000000A1B2C");
    assert_eq!(version.to_bytes(), vec![0, 0, 0, 0, 0, 0x0A, 0x1B, 0x2C]);
    assert_eq!(RowVersion::from_bytes(&version.to_bytes()), Some(version));
    let high = RowVersion::from_bytes(&[0xFF, 0, 0, 0, 0, 0, 0, 1]).unwrap();
    assert!(high > version, "compared as unsigned big-endian");
    for bad in [
        "",
        "rv:",
        "rv:123",
        "100:105:",
        "rv:00000000000A1B2G",
        "rv:00000000000A1B2C0",
    ] {
        assert!(
            matches!(RowVersion::parse(bad), Err(SourceError::BadCheckpoint(_))),
            "{bad}"
        );
    }
}

#[test]
fn window_checkpoints_carry_row_versions() {
    let detection = ChangeDetection {
        window_days: 30,
        reconcile_hours: 24,
        reconcile_at: None,
    };
    let at = NaiveDate::from_ymd_opt(2026, 3, 1)
        .unwrap()
        .and_hms_opt(8, 0, 0)
        .unwrap();
    let first = detection.next(None, &ReadPlan::Start, "rv:00000000000000FF", at);
    let previous = parsed_checkpoint(&first).unwrap();
    assert_eq!(
        (previous.read, previous.reconcile),
        (RowVersion(0xFF), RowVersion(0xFF))
    );
    let plan = detection.plan(Some(&previous.text), at + chrono::Duration::hours(1));
    assert!(matches!(&plan, ReadPlan::Window { since, .. } if since == "rv:00000000000000FF"));
    let plain = parsed_checkpoint("rv:0000000000000100").unwrap();
    assert_eq!(plain.reconcile, RowVersion(0x100));
    for bad in [
        "window;rv:00000000000000FF;5:5:;2026-03-01T08:00:00;2026-03-01T08:00:00",
        "window;rv:00000000000000FF",
        "10:12:",
    ] {
        assert!(
            matches!(parsed_checkpoint(bad), Err(SourceError::BadCheckpoint(_))),
            "{bad}"
        );
    }
}

#[test]
fn the_next_checkpoint_stays_below_open_transactions() {
    let bound = RowVersion(0x100);
    assert_eq!(next_checkpoint(None, bound).unwrap(), RowVersion(0xFF));
    assert_eq!(
        next_checkpoint(Some(RowVersion(0xFF)), bound).unwrap(),
        RowVersion(0xFF)
    );
    assert!(matches!(
        next_checkpoint(Some(RowVersion(0x100)), bound),
        Err(SourceError::BadCheckpoint(_))
    ));
}

#[test]
fn isolation_prefers_row_versioning() {
    assert_eq!(choose_isolation(true, false), "READ COMMITTED");
    assert_eq!(choose_isolation(false, true), "SNAPSHOT");
    assert_eq!(choose_isolation(false, false), "READ COMMITTED");
}
