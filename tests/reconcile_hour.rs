//! The reconcile hour against a real server: with the default configuration the cycles read the
//! recent window, and the exact reconcile runs at the first cycle after `reconcile_at` (03:00 by
//! default) has passed in the server's time, finding the change of an old document that the
//! window cannot see. The server's clock is set through the database's time zone (1C's times
//! and `reconcile_at` are the server's local time), so the test runs at any hour without
//! waiting for one.

use chrono::{Days, NaiveDateTime, NaiveTime};
use tokio_postgres::NoTls;

use alfa_calltouch::calltouch::client::CalltouchClient;
use alfa_calltouch::config::Config;
use alfa_calltouch::domain::snapshot::DocKind;
use alfa_calltouch::ops::privacy::Secret;
use alfa_calltouch::pipeline::{checkpoint_key, run_cycle, CycleSummary};
use alfa_calltouch::register::sqlite::SqliteRegister;
use alfa_calltouch::register::CycleStore;
use alfa_calltouch::source::settings::Preset;
use alfa_calltouch::source::window::{ChangeDetection, Checkpoint};
use alfa_calltouch::source::AnySource;
use testkit::config::{Connection, SourceKeys, TestConfig};
use testkit::emulator::Emulator;
use testkit::fixture::{Fixture, FixtureSpec};
use testkit::pgcluster::PgCluster;

const SITE_ID: &str = "303";
const TOKEN: &str = "reconcile-token";
const DATABASE: &str = "alfa_reconcile_hour";

/// A config that says nothing about change detection, as on a fresh install.
fn default_config(dir: &std::path::Path, cluster: &PgCluster, emulator: &Emulator) -> Config {
    let source = SourceKeys {
        name_map: "map.toml".into(),
        start_date: "2000-01-01".into(),
        ..SourceKeys::new(Connection::local_postgres(cluster.port(), DATABASE))
    };
    let mut keys =
        TestConfig::new(SITE_ID, &emulator.base_url(), source).order_number("{kind}-{number}");
    keys.calltouch.requests_per_second = Some(0);
    std::fs::write(dir.join("token.txt"), TOKEN).unwrap();
    keys.parse_in(dir).unwrap()
}

/// Sets the database's clock so that a new session's local time is `local` (a POSIX zone whose
/// offset is `[-]h:mm`; `ALF+3:00` is three hours *behind* UTC), and checks that it took.
async fn set_server_clock(admin: &tokio_postgres::Client, connection: &str, local: NaiveDateTime) {
    let utc: NaiveDateTime = admin
        .query_one("SELECT (now() AT TIME ZONE 'UTC')", &[])
        .await
        .unwrap()
        .get(0);
    let behind = (utc - local).num_seconds();
    let sign = if behind < 0 { "-" } else { "+" };
    let s = behind.abs();
    let zone = format!("ALF{sign}{}:{:02}", s / 3600, s / 60 % 60);
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {DATABASE} SET timezone = '{zone}'"
        ))
        .await
        .unwrap();
    let (check, driver) = tokio_postgres::connect(connection, NoTls).await.unwrap();
    tokio::spawn(driver);
    let now: NaiveDateTime = check
        .query_one("SELECT LOCALTIMESTAMP", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        (now - local).num_seconds().abs() < 90,
        "the server's local time is {now} in zone {zone}, wanted {local}"
    );
}

async fn cycle(
    config: &Config,
    source: &mut AnySource,
    register: &mut SqliteRegister,
    client: &CalltouchClient,
) -> CycleSummary {
    run_cycle(config, source, register, client).await.unwrap()
}

async fn stored_checkpoint(register: &SqliteRegister, config: &Config) -> Checkpoint {
    let row = register.checkpoint(&checkpoint_key(config)).await.unwrap();
    let text = row.checkpoint.expect("a checkpoint is stored");
    assert!(text.starts_with("window;"), "a window checkpoint: {text}");
    Checkpoint::parse(&text).unwrap()
}

#[tokio::test]
async fn the_default_config_reads_the_window_and_reconciles_once_the_hour_has_passed() {
    let cluster = testkit::cluster::shared();
    let connection = cluster.create_database(DATABASE).await.unwrap();
    let today = chrono::Local::now().date_naive();
    let mut spec = FixtureSpec::small(Preset::Alfa6, 303);
    spec.first_day = today - Days::new(120);
    spec.days = 60;
    let mut fixture = Fixture::generate(&connection, spec).await.unwrap();

    let dir = std::env::temp_dir().join(format!("alfa-reconcile-hour-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("map.toml"), fixture.name_map_toml()).unwrap();
    std::fs::write(dir.join("password.txt"), "unused").unwrap();
    let emulator = Emulator::start(SITE_ID, TOKEN).await.unwrap();
    let config = default_config(&dir, cluster, &emulator);
    assert_eq!(
        config.source.change_detection(),
        ChangeDetection {
            window_days: 31,
            reconcile_hours: 24,
            reconcile_at: NaiveTime::from_hms_opt(3, 0, 0),
        },
        "a fresh install reads a 31-day window and reconciles at 03:00"
    );
    let mut register = SqliteRegister::open(&config.register_path()).unwrap();
    let client = CalltouchClient::new(
        &config.calltouch,
        Secret::new(TOKEN),
        config.deal.crm.clone(),
    )
    .unwrap();

    // The server's day D: 01:00 first (before the hour), then 03:30 (after it). D is the day
    // whose 02:00 is nearest to now, so the zone offsets stay within a day.
    let (admin, driver) = tokio_postgres::connect(&connection, NoTls).await.unwrap();
    tokio::spawn(driver);
    let utc: NaiveDateTime = admin
        .query_one("SELECT (now() AT TIME ZONE 'UTC')", &[])
        .await
        .unwrap()
        .get(0);
    let two = NaiveTime::from_hms_opt(2, 0, 0).unwrap();
    let day = [
        utc.date() - Days::new(1),
        utc.date(),
        utc.date() + Days::new(1),
    ]
    .into_iter()
    .min_by_key(|d| (d.and_time(two) - utc).num_seconds().abs())
    .unwrap();
    let at = |h, m| day.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap());

    set_server_clock(&admin, &connection, at(1, 0)).await;
    let mut before_the_hour = alfa_calltouch::source::open(&config).await.unwrap();
    let first = cycle(&config, &mut before_the_hour, &mut register, &client).await;
    assert!(
        first.read > 20,
        "the first cycle reads every document: {first}"
    );
    let after_first = stored_checkpoint(&register, &config).await;
    assert_eq!(after_first.read, after_first.reconcile);

    // An edit of a booking dated months back (no journal record): outside any window. And a new
    // booking, inside it.
    let old = fixture
        .documents()
        .iter()
        .find(|d| {
            d.kind == DocKind::Booking && !d.deletion_mark && d.date.date() < today - Days::new(50)
        })
        .expect("the fixture has bookings dated 60 to 120 days back")
        .clone();
    fixture.set_sum(old.reference, "7777.00").await.unwrap();
    let new = fixture
        .insert_booking(chrono::Local::now().naive_local() - chrono::Duration::hours(2))
        .await
        .unwrap();

    let window = cycle(&config, &mut before_the_hour, &mut register, &client).await;
    assert_eq!(
        (window.read, window.created),
        (1, 1),
        "before 03:00 the cycle reads the window: the new booking, not the old one: {window}"
    );
    let after_window = stored_checkpoint(&register, &config).await;
    assert_eq!(
        after_window.reconciled_at, after_first.reconciled_at,
        "no reconcile before the hour"
    );
    assert!(after_window.read_at > after_first.read_at);
    let sent = |number: &str| {
        emulator
            .requests()
            .iter()
            .filter(|r| r.body.contains(number))
            .count()
    };
    let old_sent = sent(&old.number);
    assert!(old_sent >= 1, "the first cycle sent the old booking");
    assert_eq!(
        sent(&new.number),
        1,
        "the window cycle sent the new booking"
    );

    set_server_clock(&admin, &connection, at(3, 30)).await;
    let mut after_the_hour = alfa_calltouch::source::open(&config).await.unwrap();
    let reconcile = cycle(&config, &mut after_the_hour, &mut register, &client).await;
    assert_eq!(
        reconcile.read, 2,
        "the first cycle after 03:00 reads exactly since the last reconcile: the old booking \
         and the new one: {reconcile}"
    );
    assert!(
        sent(&old.number) > old_sent,
        "the reconcile sent the old booking's new sum"
    );
    let reconciled = stored_checkpoint(&register, &config).await;
    assert_eq!(reconciled.read, reconciled.reconcile, "an exact read");
    let reconciled_at = reconciled.reconciled_at.unwrap();
    assert!(
        reconciled_at >= at(3, 29) && reconciled_at < at(3, 31),
        "{reconciled_at}"
    );

    // Once a day: the next cycle reads the window again.
    let next = cycle(&config, &mut after_the_hour, &mut register, &client).await;
    assert_eq!(next.read, 0, "{next}");
    let after_next = stored_checkpoint(&register, &config).await;
    assert_eq!(
        after_next.reconciled_at,
        Some(reconciled_at),
        "no second reconcile"
    );
    assert!(after_next.read_at > Some(reconciled_at));
    let _ = std::fs::remove_dir_all(&dir);
}
