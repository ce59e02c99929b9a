//! Dealer groups through the binary and end to end: `check` names an account whose token is
//! missing and refuses rules that give one department or organisation to two accounts; `run`
//! on a generated base with two departments sends each deal to its own emulated account only,
//! within 5 requests per second in total, keeps a moved document's deal where it is, and leaves
//! a document no account takes unsent with the reason in the register.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use alfa_calltouch::config::Config;
use alfa_calltouch::domain::snapshot::{DocKind, DocumentSnapshot};
use alfa_calltouch::pipeline;
use alfa_calltouch::register::{self, CycleStore, SyncState};
use alfa_calltouch::source::settings::Preset;
use testkit::cluster::shared as cluster;
use testkit::config::{Connection, RegisterKeys, SourceKeys, TestConfig, TOKEN_ENV};
use testkit::emulator::{Emulator, RecordedRequest};
use testkit::fixture::{Fixture, FixtureSpec};

const BINARY: &str = env!("CARGO_BIN_EXE_alfa-calltouch");

/// A fresh folder holding the main account's token file only.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alfa-groups-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("north-token.txt"), "north-token").unwrap();
    dir
}

/// Two accounts; the south one's token comes from a variable no test sets. The database is
/// unreachable on purpose: the token lines come before it.
fn write_config(dir: &Path, south_departments: &str) -> PathBuf {
    let mut source = Connection::local_postgres(9, "alfa");
    source.user = "reader".into();
    source.password_file = None;
    source.connect_timeout_secs = Some(1);
    let mut keys = TestConfig::new("111", "http://127.0.0.1:9/", SourceKeys::new(source))
        .register(RegisterKeys::sqlite());
    keys.calltouch.token_file = Some("north-token.txt".into());
    keys.extra = format!(
        r#"[groups]
main = "north"
departments = ["Сервис Север"]
rest = "none"

[[groups.accounts]]
name = "south"
site_id = "222"
token_env = "ALFA_GROUPS_TEST_SOUTH_UNSET"
departments = {south_departments}
"#
    );
    keys.write(&dir.join("alfa-calltouch.toml"))
}

fn run(config: &Path, args: &[&str]) -> Output {
    Command::new(BINARY)
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("ALFA_GROUPS_TEST_SOUTH_UNSET")
        .output()
        .unwrap()
}

#[test]
fn check_names_the_account_whose_token_is_missing() {
    let dir = folder("token");
    let config = write_config(&dir, r#"["Сервис Юг"]"#);
    let output = run(&config, &["check"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("ok ") && l.contains("token of account `north` is set")),
        "{text}"
    );
    let south = text
        .lines()
        .find(|l| l.contains("token of account `south`"))
        .unwrap_or_else(|| panic!("no line for south: {text}"));
    assert!(south.starts_with("FAIL"), "{south}");
    assert!(
        south.contains("groups.accounts[0].token_env")
            && south.contains("ALFA_GROUPS_TEST_SOUTH_UNSET"),
        "{south}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_refuses_a_department_named_by_two_accounts() {
    let dir = folder("overlap");
    let config = write_config(&dir, r#"["Сервис Юг", " сервис север"]"#);
    let output = run(&config, &["check"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("department «сервис север» is named by accounts `north` and `south`"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `run` with an account whose token is missing stops before it opens anything.
#[test]
fn run_stops_before_touching_anything_when_an_accounts_token_is_missing() {
    let dir = folder("run");
    let config = write_config(&dir, r#"["Сервис Юг"]"#);
    let output = run(&config, &["run"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("groups.accounts[0].token_env")
            && stderr.contains("ALFA_GROUPS_TEST_SOUTH_UNSET"),
        "{stderr}"
    );
    assert!(
        !dir.join("register.sqlite").exists(),
        "no register was opened"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

const NORTH_SITE: &str = "111";
const NORTH_TOKEN: &str = "north-token";
const SOUTH_SITE: &str = "222";
const SOUTH_TOKEN: &str = "south-token";

/// A generated base, two emulated accounts, and a config splitting the base between them:
/// `north` takes «Сервис Север» by description, `south` department code 000000002 («Сервис
/// Юг»), and no account takes the rest.
struct Group {
    fixture: Fixture,
    emulator: Emulator,
    config: Config,
    dir: PathBuf,
}

impl Group {
    async fn new(preset: Preset, seed: u64) -> Group {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let database = format!(
            "groups_{}_{}",
            preset.code(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let connection = cluster()
            .create_database(&database)
            .await
            .expect("create database");
        let fixture = Fixture::generate(&connection, FixtureSpec::small(preset, seed))
            .await
            .expect("generate fixture");
        let emulator =
            Emulator::start_accounts(&[(NORTH_SITE, NORTH_TOKEN), (SOUTH_SITE, SOUTH_TOKEN)])
                .await
                .expect("start emulator");
        let dir =
            std::env::temp_dir().join(format!("alfa-groups-e2e-{}-{database}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("namemap.toml"), fixture.name_map_toml()).unwrap();
        std::fs::write(dir.join("north-token.txt"), NORTH_TOKEN).unwrap();
        std::fs::write(dir.join("south-token.txt"), SOUTH_TOKEN).unwrap();
        std::fs::write(dir.join("password.txt"), "unused").unwrap();
        let source = SourceKeys {
            preset,
            start_date: fixture.spec().first_day.to_string(),
            ..SourceKeys::new(Connection::local_postgres(cluster().port(), &database))
        }
        .exact();
        let mut keys = TestConfig::new(NORTH_SITE, &emulator.base_url(), source)
            .order_number("{kind}-{number}")
            .register(RegisterKeys::sqlite());
        keys.calltouch.token_file = Some("north-token.txt".into());
        // Two orders a request, so a cycle makes enough requests to measure the pace.
        keys.calltouch.requests_per_second = Some(5);
        keys.calltouch.batch_size = Some(2);
        keys.calltouch.max_attempts = Some(2);
        keys.calltouch.backoff_initial_ms = Some(10);
        keys.extra = format!(
            r#"[groups]
main = "north"
departments = ["Сервис Север"]
rest = "none"
[[groups.accounts]]
name = "south"
site_id = "{SOUTH_SITE}"
token_env = "{TOKEN_ENV}"
token_file = "south-token.txt"
departments = ["000000002"]
"#
        );
        keys.write(&dir.join("config.toml"));
        let config = Config::load(&dir.join("config.toml")).expect("config");
        Group {
            fixture,
            emulator,
            config,
            dir,
        }
    }

    async fn cycle(&self) {
        pipeline::run::run(&self.config).await.expect("cycle");
    }

    fn truth(&self) -> Vec<DocumentSnapshot> {
        self.fixture
            .documents()
            .iter()
            .filter_map(|d| self.fixture.expected(d.reference))
            .collect()
    }

    fn orders(&self, site: &str) -> BTreeSet<String> {
        self.emulator.deals_of(site).into_keys().collect()
    }

    /// The command's standard output, run by the binary on this group's config.
    fn command(&self, args: &[&str]) -> String {
        let output = run(&self.dir.join("config.toml"), args);
        assert!(output.status.success(), "{args:?}: {output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn department(d: &DocumentSnapshot) -> Option<&str> {
    d.department.as_ref().map(|item| item.description.as_str())
}

/// The site a department's deals belong to.
fn site_of(department: Option<&str>) -> Option<&'static str> {
    match department {
        Some("Сервис Север") => Some(NORTH_SITE),
        Some("Сервис Юг") => Some(SOUTH_SITE),
        _ => None,
    }
}

/// Every request carried one account's token and SiteId and was answered 200, and any six
/// consecutive requests of both accounts span about a second: 5 per second in total. Arrival
/// times carry each request's way from the pacer to the emulator, which on a loaded 2-core
/// machine was seen to vary by up to 114 ms, so 200 ms are allowed; one pacer per account would
/// put six requests within about 500 ms.
fn assert_headers_and_pace(requests: &[RecordedRequest]) {
    for request in requests {
        assert!(request.token_matched, "{request:?}");
        assert_eq!(request.account, request.site_id, "{request:?}");
        assert_eq!(request.status, Some(200), "{request:?}");
    }
    let mut times: Vec<_> = requests.iter().map(|r| r.received_at).collect();
    times.sort();
    for window in times.windows(6) {
        let span = window[5] - window[0];
        assert!(
            span >= Duration::from_millis(800),
            "six requests within {span:?}"
        );
    }
}

/// Each booking Calltouch accepted is in the account of its department and only there; the two
/// accounts share no orderNumber; both got deals. Returns how many bookings were checked.
async fn assert_bookings_in_their_accounts(group: &Group) -> usize {
    let register = register::open(&group.config).await.unwrap();
    let (north, south) = (group.orders(NORTH_SITE), group.orders(SOUTH_SITE));
    assert!(
        !north.is_empty() && !south.is_empty(),
        "{north:?} {south:?}"
    );
    assert!(north.is_disjoint(&south), "{north:?} {south:?}");
    let mut checked = 0;
    for booking in group.truth().iter().filter(|d| d.kind == DocKind::Booking) {
        let row = register.document(booking.reference).await.unwrap();
        let Some(row) = row.filter(|row| row.state == SyncState::Sent) else {
            continue;
        };
        let number = row
            .order_number
            .clone()
            .expect("a sent booking names its deal");
        let site = site_of(department(booking))
            .unwrap_or_else(|| panic!("{} was sent though no account takes it", booking.label()));
        let (home, other) = match site {
            NORTH_SITE => (&north, &south),
            _ => (&south, &north),
        };
        assert!(home.contains(&number), "{} not in {site}", booking.label());
        assert!(
            !other.contains(&number),
            "{} in both accounts",
            booking.label()
        );
        let deal = register.deal(&number).await.unwrap().expect("its deal");
        let name = if site == NORTH_SITE { "north" } else { "south" };
        assert_eq!(deal.account.as_deref(), Some(name), "{}", booking.label());
        checked += 1;
    }
    checked
}

#[tokio::test]
async fn each_deal_goes_to_its_departments_account_within_one_rate_limit() {
    let mut group = Group::new(Preset::Alfa6, 1901).await;
    let truth = group.truth();
    let live = |d: &&DocumentSnapshot| !d.deletion_mark;
    let bookings: Vec<&DocumentSnapshot> = truth
        .iter()
        .filter(|d| d.kind == DocKind::Booking)
        .filter(live)
        .collect();
    let has_work_orders = |b: &DocumentSnapshot| {
        truth.iter().any(|d| {
            d.booking
                .as_ref()
                .is_some_and(|l| l.reference == b.reference)
        })
    };
    // A booking of the body shop, which no account takes, without work orders (a work order
    // of a served department would make the booking's deal in its own account).
    let unmatched = bookings
        .iter()
        .find(|b| !has_work_orders(b))
        .expect("a booking without work orders")
        .reference;
    group
        .fixture
        .set_department(unmatched, Some("Кузовной цех"))
        .await
        .unwrap();
    // A work order of «Сервис Юг» made from a booking of «Сервис Север»: it updates the
    // booking's deal in `north` (item 11).
    let crossing = truth
        .iter()
        .filter(|d| d.kind == DocKind::WorkOrder && !d.deletion_mark)
        .find_map(|wo| {
            let booking = wo.booking.as_ref()?;
            let b = bookings.iter().find(|b| b.reference == booking.reference)?;
            (department(b) == Some("Сервис Север") && b.reference != unmatched)
                .then_some((wo.reference, b.number.clone()))
        })
        .expect("a work order made from a booking of Сервис Север");
    group
        .fixture
        .set_department(crossing.0, Some("Сервис Юг"))
        .await
        .unwrap();

    group.cycle().await;
    assert_headers_and_pace(&group.emulator.requests());
    assert!(group.emulator.requests().len() >= 6);
    let checked = assert_bookings_in_their_accounts(&group).await;
    assert!(checked >= 4, "only {checked} bookings were sent");

    let booking_deal = format!("ЗР-{}", crossing.1);
    assert!(
        group.orders(NORTH_SITE).contains(&booking_deal)
            && !group.orders(SOUTH_SITE).contains(&booking_deal),
        "the booking's deal is not in north alone"
    );

    let register = register::open(&group.config).await.unwrap();
    let row = register
        .document(unmatched)
        .await
        .unwrap()
        .expect("its row");
    assert_eq!(row.state, SyncState::Skipped);
    let reason = row.last_error.clone().unwrap_or_default();
    assert!(
        reason.contains("no account takes department «Кузовной цех» (код 000000003)")
            && reason.contains("rest"),
        "{reason}"
    );
    let unmatched_number = format!("ЗР-{}", row.number);
    for site in [NORTH_SITE, SOUTH_SITE] {
        assert!(!group.orders(site).contains(&unmatched_number));
    }

    // `register` names each deal's account; `preview` the account a document goes to.
    let listing = group.command(&["register", "--kind", "booking"]);
    assert!(
        listing.lines().next().unwrap().contains(" account "),
        "{listing}"
    );
    assert!(
        listing
            .lines()
            .any(|l| l.contains(&unmatched_number) && l.contains("skipped")),
        "{listing}"
    );
    let preview = group.command(&["preview", &crossing.1]);
    assert!(
        preview.contains(&format!("→ {booking_deal} (")) && preview.contains("in account `north`"),
        "{preview}"
    );

    // A booking of `north` moved to «Сервис Юг» after its deal exists: its change goes to its
    // deal in `north`, no deal is made in `south`, and the register says why.
    let mut moved = None;
    for b in &bookings {
        let row = register.document(b.reference).await.unwrap();
        if department(b) == Some("Сервис Север") && row.is_some_and(|r| r.state == SyncState::Sent)
        {
            moved = Some((b.reference, b.number.clone()));
            break;
        }
    }
    let (moved, number) = moved.expect("a sent booking of Сервис Север");
    let order = format!("ЗР-{number}");
    let before = group.emulator.requests().len();
    group
        .fixture
        .set_department(moved, Some("Сервис Юг"))
        .await
        .unwrap();
    group.fixture.set_sum(moved, "12345.60").await.unwrap();
    group.cycle().await;
    let requests = group.emulator.requests();
    assert_headers_and_pace(&requests);
    let sent: Vec<&RecordedRequest> = requests[before..]
        .iter()
        .filter(|r| r.body.contains(&format!("\"{order}\"")))
        .collect();
    assert!(!sent.is_empty(), "the moved booking's change was not sent");
    for request in sent {
        assert_eq!(request.site_id.as_deref(), Some(NORTH_SITE), "{request:?}");
        assert!(request.endpoint.ends_with("update"), "{request:?}");
    }
    assert!(!group.orders(SOUTH_SITE).contains(&order));
    assert_eq!(
        group.emulator.deals_of(NORTH_SITE)[&order]["revenue"],
        "12345.60"
    );
    let row = register.document(moved).await.unwrap().expect("its row");
    assert_eq!(row.state, SyncState::Sent);
    let note = row.last_error.unwrap_or_default();
    assert!(
        note.contains("account `south` now") && note.contains(&format!("{order} stays in `north`")),
        "{note}"
    );
    assert_eq!(
        register
            .deal(&order)
            .await
            .unwrap()
            .unwrap()
            .account
            .as_deref(),
        Some("north")
    );
}

/// 5.x documents hold both attributes too (plain attributes of each document).
#[tokio::test]
async fn a_5x_base_splits_its_deals_by_department_as_well() {
    let group = Group::new(Preset::Alfa5, 1905).await;
    group.cycle().await;
    assert_headers_and_pace(&group.emulator.requests());
    let checked = assert_bookings_in_their_accounts(&group).await;
    assert!(checked >= 4, "only {checked} bookings were sent");
}

/// Both databases' queries of both editions read the department and the organisation, so
/// `discover` and `import-structure` look them up and a name map without them is refused.
#[test]
fn every_source_requires_the_department_and_organisation_entries() {
    use alfa_calltouch::source::{mssql, postgres};
    for preset in [Preset::Alfa6, Preset::Alfa5] {
        let owner = match preset {
            Preset::Alfa6 => ["ОбщийРеквизит"; 2].map(String::from),
            Preset::Alfa5 => ["Документ.ЗаявкаНаРемонт", "Документ.ЗаказНаряд"].map(String::from),
        };
        let mut wanted = vec![
            "Справочник.ПодразделенияКомпании".to_string(),
            "Справочник.Организации".to_string(),
        ];
        for owner in owner {
            wanted.push(format!("{owner}.ПодразделениеКомпании"));
            wanted.push(format!("{owner}.Организация"));
        }
        for (database, required) in [
            ("postgres", postgres::required_entries(preset)),
            ("mssql", mssql::required_entries(preset)),
        ] {
            for name in &wanted {
                assert!(
                    required.contains(name),
                    "{preset:?} {database}: {name} not required"
                );
            }
        }
    }
}
