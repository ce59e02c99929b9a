//! Chunked reads against a real server: a cycle read in chunks smaller than its change set
//! sends what one whole read sends, and a row changed while a cycle runs is left whole to the
//! next cycle, never half-read.

use std::collections::BTreeMap;
use std::path::PathBuf;

use alfa_calltouch::calltouch::client::CalltouchClient;
use alfa_calltouch::config::Config;
use alfa_calltouch::domain::snapshot::{DocKind, Money};
use alfa_calltouch::ops::privacy::Secret;
use alfa_calltouch::pipeline::{run_cycle, CycleSummary};
use alfa_calltouch::register::sqlite::SqliteRegister;
use alfa_calltouch::source::postgres::PostgresSource;
use alfa_calltouch::source::settings::Preset;
use alfa_calltouch::source::{read_all, ReadFrom, Source};
use testkit::cluster::shared as cluster;
use testkit::config::TestConfig;
use testkit::emulator::Emulator;
use testkit::fixture::{Fixture, FixtureSpec};

const SITE_ID: &str = "515";
const TOKEN: &str = "chunked-token";

async fn fixture(database: &str) -> (Fixture, String) {
    let connection = cluster().create_database(database).await.unwrap();
    let mut spec = FixtureSpec::small(Preset::Alfa6, 515);
    spec.bookings = 40;
    spec.work_orders = 50;
    let fixture = Fixture::generate(&connection, spec).await.unwrap();
    (fixture, connection)
}

async fn source(connection: &str, fixture: &Fixture) -> PostgresSource {
    PostgresSource::from_connection_string(connection, Preset::Alfa6, fixture.name_map().clone())
        .await
        .unwrap()
}

/// A register, an emulator and a client that read in chunks of `chunk`.
struct Side {
    emulator: Emulator,
    config: Config,
    register: SqliteRegister,
    client: CalltouchClient,
    dir: PathBuf,
}

impl Side {
    async fn new(name: &str, chunk: usize, first_day: chrono::NaiveDate) -> Side {
        let dir = std::env::temp_dir().join(format!("alfa-chunked-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let emulator = Emulator::start(SITE_ID, TOKEN).await.unwrap();
        let mut keys = TestConfig::without_database(SITE_ID, &emulator.base_url())
            .order_number("{kind}-{number}");
        keys.calltouch.batch_size = Some(4);
        keys.calltouch.requests_per_second = Some(0);
        keys.source.start_date = first_day.to_string();
        keys.sync.chunk_documents = Some(chunk);
        let config = keys.parse_in(&dir).unwrap();
        let register = SqliteRegister::open(&config.register_path()).unwrap();
        let client = CalltouchClient::new(
            &config.calltouch,
            Secret::new(TOKEN),
            config.deal.crm.clone(),
        )
        .unwrap();
        Side {
            emulator,
            config,
            register,
            client,
            dir,
        }
    }

    async fn cycle(&mut self, source: &mut PostgresSource) -> CycleSummary {
        run_cycle(&self.config, source, &mut self.register, &self.client)
            .await
            .unwrap()
    }

    /// Every order sent, by endpoint and orderNumber, with its bodies in the order sent: what
    /// Calltouch was asked, whatever the batches. Times of the read itself (an update's date, a
    /// booking state first seen now) differ between two reads a second apart and are masked.
    fn orders(&self) -> BTreeMap<(String, String), Vec<serde_json::Value>> {
        let today = chrono::Local::now().format("%d-%m-%Y ").to_string();
        let mask = |order: &mut serde_json::Value| {
            for (_, value) in order.as_object_mut().unwrap().iter_mut() {
                if value.as_str().is_some_and(|v| v.starts_with(&today)) {
                    *value = serde_json::Value::String("(read time)".into());
                }
            }
        };
        let mut orders: BTreeMap<(String, String), Vec<serde_json::Value>> = BTreeMap::new();
        for request in self.emulator.requests() {
            let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
            for order in body["orders"].as_array().unwrap() {
                let number = order["orderNumber"].as_str().unwrap().to_string();
                let mut order = order.clone();
                mask(&mut order);
                orders
                    .entry((request.endpoint.clone(), number))
                    .or_default()
                    .push(order);
            }
        }
        orders
    }
}

impl Drop for Side {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The two sides asked Calltouch the same, order by order.
fn same_orders(whole: &Side, chunked: &Side) {
    let (a, b) = (whole.orders(), chunked.orders());
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same orders are sent"
    );
    for (key, bodies) in &a {
        assert_eq!(bodies, &b[key], "{key:?}");
    }
}

#[tokio::test]
async fn a_cycle_read_in_chunks_sends_what_one_whole_read_sends() {
    let (mut fixture, connection) = fixture("alfa_chunked_same").await;
    let first_day = fixture.spec().first_day;
    let mut whole = Side::new("whole", 1_000_000, first_day).await;
    let mut chunked = Side::new("chunked", 7, first_day).await;
    let mut source = source(&connection, &fixture).await;

    let (a, b) = (
        whole.cycle(&mut source).await,
        chunked.cycle(&mut source).await,
    );
    assert!(a.read > 7 * 5, "the change set spans many chunks: {a}");
    assert_eq!(
        (a.read, a.created, a.updated, a.failed, a.deferred),
        (b.read, b.created, b.updated, b.failed, b.deferred),
        "whole: {a}; chunked: {b}"
    );
    assert!(b.checkpoint_moved);
    same_orders(&whole, &chunked);

    // Changes of a few documents of either kind: both read only those, and send the same.
    let documents = fixture.documents().to_vec();
    let booking = documents.iter().find(|d| d.kind == DocKind::Booking);
    let work_order = documents
        .iter()
        .rev()
        .find(|d| d.kind == DocKind::WorkOrder);
    for (n, doc) in [booking, work_order].into_iter().flatten().enumerate() {
        let sum = format!("{}.50", 1000 + n);
        fixture.set_sum(doc.reference, &sum).await.unwrap();
    }
    let (a, b) = (
        whole.cycle(&mut source).await,
        chunked.cycle(&mut source).await,
    );
    assert!(a.read >= 2 && a.read < 7, "{a}");
    assert_eq!((a.read, a.updated), (b.read, b.updated), "{a}; {b}");
    same_orders(&whole, &chunked);
    assert!(chunked
        .emulator
        .creates_per_order()
        .values()
        .all(|&n| n == 1));
}

#[tokio::test]
async fn a_row_changed_between_chunks_is_left_whole_to_the_next_cycle() {
    let (mut fixture, connection) = fixture("alfa_chunked_between").await;
    let cutoff = fixture.spec().first_day;
    let mut source = source(&connection, &fixture).await;
    let everything = read_all(&mut source, &ReadFrom::Start, cutoff, 1_000_000)
        .await
        .unwrap();

    let mut read = source.open_read(&ReadFrom::Start, cutoff).await.unwrap();
    let first = source.next_chunk(&mut read, 5).await.unwrap().unwrap();
    assert_eq!(first.documents.len(), 5);
    // A document no chunk has read yet changes while the cycle runs.
    let late = everything.documents.last().unwrap().clone();
    assert!(first
        .documents
        .iter()
        .all(|d| d.reference != late.reference));
    fixture.set_sum(late.reference, "4321.00").await.unwrap();
    let mut rest = Vec::new();
    let mut chunks = 1;
    while let Some(chunk) = source.next_chunk(&mut read, 5).await.unwrap() {
        assert!(chunk.documents.len() <= 5);
        rest.extend(chunk.documents);
        chunks += 1;
    }
    assert!(chunks > 3, "{chunks} chunks");
    assert!(
        rest.iter().all(|d| d.reference != late.reference),
        "a row written after the cycle's snapshot is not read by this cycle"
    );
    assert_eq!(
        first.documents.len() + rest.len() + 1,
        everything.documents.len(),
        "every other document is read exactly once"
    );

    let next = read_all(
        &mut source,
        &ReadFrom::Checkpoint(read.checkpoint),
        cutoff,
        5,
    )
    .await
    .unwrap();
    let seen: Vec<_> = next
        .documents
        .iter()
        .filter(|d| d.reference == late.reference)
        .collect();
    assert_eq!(seen.len(), 1, "the next cycle reads it");
    assert_eq!(
        seen[0].sum.as_deref().and_then(Money::parse),
        Money::parse("4321.00")
    );
}
