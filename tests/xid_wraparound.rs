//! The exact change test across a 32-bit transaction-id wraparound and VACUUM FREEZE, on a real
//! server whose next transaction id was set just below 2^32 (`pg_resetwal`): the raw-`xmin`
//! prefilter and the widened snapshot test together report exactly the rows changed since a
//! checkpoint, whether the change was written before the wrap or after it, and frozen rows that
//! did not change stay unchanged.

use std::collections::BTreeSet;

use tokio_postgres::{Client, NoTls};

use alfa_calltouch::domain::snapshot::{DocKind, DocRef};
use alfa_calltouch::source::postgres::PostgresSource;
use alfa_calltouch::source::settings::Preset;
use alfa_calltouch::source::{read_all, ReadFrom};
use testkit::fixture::{Fixture, FixtureSpec};
use testkit::pgcluster::PgCluster;

/// 2^32 - 3,000: the fixture and the first reads fit before the 32-bit wrap.
const NEAR_THE_WRAP: u64 = (1 << 32) - 3_000;

/// The current 64-bit transaction id, spending one.
async fn spend_one(client: &Client) -> u64 {
    let id: i64 = client
        .query_one("SELECT txid_current()", &[])
        .await
        .unwrap()
        .get(0);
    id as u64
}

/// Spends transaction ids until the next one is at least `target`.
async fn spend_until(client: &Client, target: u64) {
    while spend_one(client).await + 1 < target {}
}

/// References a read from `checkpoint` reports, in exact mode, chunks of 3.
async fn changed_since(
    source: &mut PostgresSource,
    checkpoint: &str,
    cutoff: chrono::NaiveDate,
) -> BTreeSet<DocRef> {
    let read = read_all(
        source,
        &ReadFrom::Checkpoint(checkpoint.to_string()),
        cutoff,
        3,
    )
    .await
    .unwrap();
    assert!(read.rejected.is_empty(), "{:?}", read.rejected);
    read.documents.iter().map(|d| d.reference).collect()
}

/// A checkpoint taken now: a read from the start with a cut-off after every document.
async fn checkpoint_now(source: &mut PostgresSource) -> String {
    let later = chrono::Local::now().date_naive() + chrono::Days::new(2);
    read_all(source, &ReadFrom::Start, later, 1_000)
        .await
        .unwrap()
        .checkpoint
}

#[tokio::test]
async fn changes_across_the_32_bit_wrap_and_frozen_rows_are_read_exactly() {
    let cluster = PgCluster::start_at_transaction(NEAR_THE_WRAP)
        .unwrap_or_else(|e| panic!("this test needs a local PostgreSQL server: {e}"));
    let connection = cluster.create_database("alfa_wrap").await.unwrap();
    let (admin, driver) = tokio_postgres::connect(&connection, NoTls).await.unwrap();
    tokio::spawn(driver);
    let first = spend_one(&admin).await;
    assert!(
        (NEAR_THE_WRAP..1 << 32).contains(&first),
        "the server starts near the wrap: {first}"
    );

    let mut fixture = Fixture::generate(&connection, FixtureSpec::small(Preset::Alfa6, 77))
        .await
        .unwrap();
    let cutoff = fixture.spec().first_day;
    let mut source = PostgresSource::from_connection_string(
        &connection,
        Preset::Alfa6,
        fixture.name_map().clone(),
    )
    .await
    .unwrap();
    let documents = fixture.documents().to_vec();
    let bookings: Vec<DocRef> = documents
        .iter()
        .filter(|d| d.kind == DocKind::Booking && !d.deletion_mark)
        .map(|d| d.reference)
        .collect();
    let (before_wrap, after_wrap, untouched) = (bookings[0], bookings[1], bookings[2]);

    // A checkpoint 100 ids below the wrap, a change just before it and one after it.
    spend_until(&admin, (1 << 32) - 100).await;
    let below = checkpoint_now(&mut source).await;
    fixture.set_sum(before_wrap, "101.00").await.unwrap();
    spend_until(&admin, (1 << 32) + 50).await;
    let at = spend_one(&admin).await;
    assert!(at > 1 << 32, "the ids wrapped: {at}");
    fixture.set_sum(after_wrap, "202.00").await.unwrap();
    let expected = BTreeSet::from([before_wrap, after_wrap]);
    assert_eq!(changed_since(&mut source, &below, cutoff).await, expected);

    // Frozen rows keep their raw xmin: the changed ones still read as changed, the rest not.
    // (Only the fixture's tables: the catalogs' freeze horizons predate the id jump.)
    let freeze = format!(
        "VACUUM FREEZE {}",
        ["Документ.ЗаявкаНаРемонт", "Документ.ЗаказНаряд"]
            .map(|t| fixture.name_map().table(t).unwrap().to_string())
            .join(", ")
    );
    admin.batch_execute(&freeze).await.unwrap();
    assert_eq!(changed_since(&mut source, &below, cutoff).await, expected);
    let above = checkpoint_now(&mut source).await;
    assert!(changed_since(&mut source, &above, cutoff).await.is_empty());

    // After the wrap, a checkpoint in the new epoch sees a new change and only it.
    spend_until(&admin, (1 << 32) + 500).await;
    fixture.set_sum(untouched, "303.00").await.unwrap();
    assert_eq!(
        changed_since(&mut source, &above, cutoff).await,
        BTreeSet::from([untouched])
    );
    admin.batch_execute(&freeze).await.unwrap();
    assert_eq!(
        changed_since(&mut source, &above, cutoff).await,
        BTreeSet::from([untouched])
    );
}
