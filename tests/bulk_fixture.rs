//! The bulk generator against a real server: the PostgreSQL source reads a bulk-generated
//! database completely and without rejections, and sees the edits `change_documents` makes —
//! in exact mode every cycle, in recent-window mode by the window or by the next reconcile.

use chrono::NaiveDate;
use tokio_postgres::NoTls;

use alfa_calltouch::domain::snapshot::DocKind;
use alfa_calltouch::source::postgres::PostgresSource;
use alfa_calltouch::source::settings::Preset;
use alfa_calltouch::source::window::ChangeDetection;
use alfa_calltouch::source::{ReadFrom, Source};
use testkit::cluster::shared as cluster;
use testkit::fixture::bulk::{Age, BulkFixture, BulkSpec};

fn small_spec() -> BulkSpec {
    BulkSpec {
        customers: 50,
        cars: 40,
        employees: 5,
        // Five a day: the newest few are days old, the oldest far outside a 31-day window.
        days: 60,
        ..BulkSpec::dealership(7, 300)
    }
}

/// A generated database, a connection to change it, and a source reading it.
async fn setup(
    database: &str,
    detection: ChangeDetection,
) -> (BulkFixture, tokio_postgres::Client, PostgresSource, String) {
    let connection = cluster().create_database(database).await.unwrap();
    let (client, driver) = tokio_postgres::connect(&connection, NoTls).await.unwrap();
    tokio::spawn(driver);
    let fixture = BulkFixture::generate(&client, &small_spec()).await.unwrap();
    let source = open_source(&connection, &fixture, detection).await;
    (fixture, client, source, connection)
}

async fn open_source(
    connection: &str,
    fixture: &BulkFixture,
    detection: ChangeDetection,
) -> PostgresSource {
    PostgresSource::from_connection_string(connection, Preset::Alfa6, fixture.name_map().clone())
        .await
        .unwrap()
        .with_change_detection(detection)
}

fn everything() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()
}

#[tokio::test]
async fn the_source_reads_every_bulk_document_and_each_change() {
    let (fixture, client, mut source, _) = setup("bulk", ChangeDetection::default()).await;
    let spec = small_spec();
    let everything = everything();
    let first = source.changes(&ReadFrom::Start, everything).await.unwrap();
    assert!(first.rejected.is_empty(), "{:?}", first.rejected.first());
    let of_kind = |kind| first.documents.iter().filter(move |d| d.kind == kind);
    assert_eq!(of_kind(DocKind::Booking).count() as u64, spec.bookings);
    assert_eq!(of_kind(DocKind::WorkOrder).count() as u64, spec.work_orders);
    let work_orders: Vec<_> = of_kind(DocKind::WorkOrder).collect();
    let linked = work_orders.iter().filter(|d| d.booking.is_some()).count();
    assert_eq!(
        linked,
        work_orders.len() * 6 / 10,
        "60 % come from a booking"
    );
    assert!(work_orders.iter().all(|d| d.state.is_some()));
    assert!(work_orders.iter().any(|d| d.state_set_at.is_some()));
    assert!(first.documents.iter().any(|d| !d.phones.is_empty()));
    assert!(first.documents.iter().any(|d| !d.emails.is_empty()));
    assert!(first.documents.iter().any(|d| d.car.make.is_some()));

    let idle = source
        .changes(&ReadFrom::Checkpoint(first.checkpoint.clone()), everything)
        .await
        .unwrap();
    assert!(idle.documents.is_empty());

    let changed = fixture
        .change_documents(&client, 10, Age::Newest)
        .await
        .unwrap();
    assert_eq!(changed, 20);
    let after = source
        .changes(&ReadFrom::Checkpoint(idle.checkpoint), everything)
        .await
        .unwrap();
    assert_eq!(after.documents.len(), 20);
    let closed = after
        .documents
        .iter()
        .filter(|d| d.kind == DocKind::WorkOrder)
        .all(|d| d.state.as_deref() == Some("Закрыт") && d.state_set_at.is_some());
    assert!(closed, "closed work orders carry their journal time");
}

#[tokio::test]
async fn the_window_reads_recent_changes_and_the_reconcile_reads_the_rest() {
    let window = ChangeDetection {
        window_days: 31,
        reconcile_hours: 24,
        reconcile_at: None,
    };
    let (fixture, client, mut source, connection) = setup("bulk_window", window).await;
    let first = source
        .changes(&ReadFrom::Start, everything())
        .await
        .unwrap();
    assert!(
        first.checkpoint.starts_with("window;"),
        "{}",
        first.checkpoint
    );

    // Five old bookings re-priced (no journal record) and five old work orders closed (with
    // one), and five of each among the newest.
    for age in [Age::Oldest, Age::Newest] {
        fixture.change_documents(&client, 5, age).await.unwrap();
    }
    let windowed = source
        .changes(&ReadFrom::Checkpoint(first.checkpoint), everything())
        .await
        .unwrap();
    let bookings = |docs: &[alfa_calltouch::domain::snapshot::DocumentSnapshot]| {
        docs.iter().filter(|d| d.kind == DocKind::Booking).count()
    };
    assert_eq!(windowed.documents.len(), 15, "the old bookings wait");
    assert_eq!(bookings(&windowed.documents), 5);

    let mut reconciling = open_source(
        &connection,
        &fixture,
        ChangeDetection {
            reconcile_hours: 0,
            ..window
        },
    )
    .await;
    let reconciled = reconciling
        .changes(&ReadFrom::Checkpoint(windowed.checkpoint), everything())
        .await
        .unwrap();
    assert_eq!(
        reconciled.documents.len(),
        20,
        "every change since the last reconcile"
    );
    assert_eq!(bookings(&reconciled.documents), 10);
}
