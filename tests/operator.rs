//! What an operator meets in the first week, through the binary against a generated 1C base on
//! PostgreSQL and the Calltouch emulator: deal numbers that survive a template change and a
//! re-sync, collisions reported before anything is sent, exit codes, quiet ends of closed
//! output, JSON logs, `run --dry-run`, `register retry --all-failed`, `schedule --show`, and
//! the messages for a missing config, a bad date and a missing name map.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{Datelike, Duration, NaiveDateTime};
use serde_json::Value;

use alfa_calltouch::domain::snapshot::DocKind;
use alfa_calltouch::ops::exit;
use alfa_calltouch::register::settings::RegisterKind;
use alfa_calltouch::register::sqlite::SqliteRegister;
use alfa_calltouch::register::{CycleStore, ListFilter, RunLog};
use alfa_calltouch::source::settings::Preset;
use testkit::cluster::shared as cluster;
use testkit::config::{write_private, Connection, RegisterKeys, SourceKeys, TestConfig};
use testkit::emulator::Emulator;
use testkit::fixture::{Fixture, FixtureDoc, FixtureSpec};

const BINARY: &str = env!("CARGO_BIN_EXE_alfa-calltouch");
const SITE_ID: &str = "100500";
const TOKEN: &str = "operator-token";

/// A generated 1C base, the emulator, and a folder with a config pointing at both.
struct World {
    fixture: Fixture,
    emulator: Emulator,
    dir: PathBuf,
    database: String,
    register: RegisterKind,
}

impl World {
    async fn new(name: &str, register: RegisterKind) -> World {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let database = format!("op_{name}_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let connection = cluster().create_database(&database).await.unwrap();
        let fixture = Fixture::generate(&connection, FixtureSpec::small(Preset::Alfa6, 41))
            .await
            .unwrap();
        let emulator = Emulator::start(SITE_ID, TOKEN).await.unwrap();
        let dir = std::env::temp_dir().join(format!("alfa-op-{}-{database}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("namemap.toml"), fixture.name_map_toml()).unwrap();
        write_private(&dir.join("token.txt"), TOKEN).unwrap();
        write_private(&dir.join("password.txt"), "unused").unwrap();
        let world = World {
            fixture,
            emulator,
            dir,
            database,
            register,
        };
        world.write_config(None);
        world
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join("alfa-calltouch.toml")
    }

    /// Writes the config; `template` None leaves `deal.order_number` at its default.
    fn write_config(&self, template: Option<&str>) {
        let connection = Connection::local_postgres(cluster().port(), &self.database);
        let register = match self.register {
            RegisterKind::Postgres => RegisterKeys::server(connection.clone()),
            _ => RegisterKeys::sqlite(),
        };
        // Runs here follow each other at once and edit documents months old: exact every run.
        let source = SourceKeys::new(connection).exact();
        let mut keys = TestConfig::new(SITE_ID, &self.emulator.base_url(), source)
            .quick()
            .register(register);
        keys.source.start_date = self.fixture.spec().first_day.to_string();
        keys.order_number = template.map(str::to_string);
        keys.write(&self.config_path());
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(BINARY);
        command
            .arg("--config")
            .arg(self.config_path())
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("ALFA_CALLTOUCH_CONFIG");
        command
    }

    /// Runs the binary to its end (the emulator answers meanwhile on this runtime).
    async fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().await.unwrap()
    }

    fn sqlite(&self) -> SqliteRegister {
        SqliteRegister::open(&self.dir.join("register.sqlite")).unwrap()
    }

    /// Live documents as 1C holds them.
    fn live(&self) -> impl Iterator<Item = &FixtureDoc> {
        self.fixture.documents().iter().filter(|d| !d.deletion_mark)
    }

    fn late(&self) -> NaiveDateTime {
        (self.fixture.spec().first_day + Duration::days(i64::from(self.fixture.spec().days) + 2))
            .and_hms_opt(9, 0, 0)
            .unwrap()
    }

    fn deal_numbers(&self) -> BTreeSet<String> {
        self.emulator.deals().keys().cloned().collect()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn code(output: &Output) -> Option<i32> {
    output.status.code()
}

fn assert_code(output: &Output, expected: u8) {
    assert_eq!(
        code(output),
        Some(i32::from(expected)),
        "stdout:\n{}\nstderr:\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// A number a booking and a standalone work order of the generated base share (1C numbers each
/// kind on its own), with the two documents' years.
fn shared_number(world: &World) -> (String, i32, i32) {
    world
        .live()
        .filter(|w| w.kind == DocKind::WorkOrder && w.booking.is_none())
        .find_map(|w| {
            world
                .live()
                .find(|b| b.kind == DocKind::Booking && b.number == w.number)
                .map(|b| (w.number.clone(), b.date.year(), w.date.year()))
        })
        .expect("the generated base has a booking and a standalone work order of one number")
}

// ---------------------------------------------------------------------------------------------
// Deal numbers.

/// Deals made under one template keep their orderNumbers after the template changes, through a
/// change cycle and a full re-sync after `reset-checkpoint`; only a new document's deal takes
/// the new template.
async fn a_deal_keeps_its_number_when_the_template_changes(register: RegisterKind) {
    let mut w = World::new("template", register).await;
    w.write_config(Some("{kind}-{number}"));
    assert_code(&w.run(&["run"]).await, exit::OK);
    let before = w.deal_numbers();
    assert!(before.len() > 10, "{before:?}");
    assert!(before
        .iter()
        .all(|n| n.starts_with("ЗР-") || n.starts_with("ЗН-")));

    w.write_config(None);
    let standalone = w
        .live()
        .find(|d| d.kind == DocKind::WorkOrder && d.booking.is_none())
        .cloned()
        .expect("a standalone work order");
    w.fixture
        .set_sum(standalone.reference, "777.00")
        .await
        .unwrap();
    let booking = w
        .live()
        .find(|d| d.kind == DocKind::Booking)
        .cloned()
        .expect("a booking");
    let late = w.late();
    let new_booking = w.fixture.insert_booking(late).await.unwrap();
    // A new work order of an old booking joins the booking's deal under its old number.
    w.fixture
        .insert_work_order(late, Some(booking.reference))
        .await
        .unwrap();
    assert_code(&w.run(&["run"]).await, exit::OK);

    let old_number = format!("ЗН-{}", standalone.number);
    assert_eq!(w.emulator.deals()[&old_number]["revenue"], "777.00");
    let new_number = format!("ЗР-{}-{}", late.year(), new_booking.number);
    let after = w.deal_numbers();
    assert_eq!(
        after.difference(&before).cloned().collect::<Vec<_>>(),
        vec![new_number.clone()],
        "only the new document's deal takes the new template"
    );
    assert!(w.emulator.creates_per_order().values().all(|n| *n == 1));
    let updated_old = w
        .emulator
        .requests()
        .iter()
        .filter(|r| r.endpoint.ends_with("update"))
        .any(|r| r.body.contains(&format!("\"ЗР-{}\"", booking.number)));
    assert!(
        updated_old,
        "the booking's deal was updated under its old number"
    );

    let requests = w.emulator.requests().len();
    assert_code(&w.run(&["reset-checkpoint"]).await, exit::OK);
    assert_code(&w.run(&["run"]).await, exit::OK);
    assert_eq!(w.deal_numbers(), after, "no orphan and no second deal");
    assert!(w.emulator.creates_per_order().values().all(|n| *n == 1));
    assert_eq!(
        w.emulator.requests().len(),
        requests,
        "every deal is in Calltouch under its own number with these values"
    );
}

#[tokio::test]
async fn a_deal_keeps_its_number_when_the_template_changes_sqlite() {
    a_deal_keeps_its_number_when_the_template_changes(RegisterKind::Sqlite).await
}

#[tokio::test]
async fn a_deal_keeps_its_number_when_the_template_changes_register_on_postgres() {
    a_deal_keeps_its_number_when_the_template_changes(RegisterKind::Postgres).await
}

#[tokio::test]
async fn the_default_template_gives_a_booking_and_a_work_order_of_one_number_two_deals() {
    let w = World::new("default", RegisterKind::Sqlite).await;
    let (number, booking_year, work_order_year) = shared_number(&w);
    let output = w.run(&["check"]).await;
    assert_code(&output, exit::OK);
    assert!(
        text(&output.stdout).contains("get distinct orderNumbers"),
        "{}",
        text(&output.stdout)
    );
    assert_code(&w.run(&["run"]).await, exit::OK);
    let deals = w.deal_numbers();
    assert!(
        deals.contains(&format!("ЗР-{booking_year}-{number}")),
        "{deals:?}"
    );
    assert!(
        deals.contains(&format!("ЗН-{work_order_year}-{number}")),
        "{deals:?}"
    );
}

/// `{number}` alone on a base where two documents share a number: `check` and `preview` say so
/// before anything is sent; `run` sends the rest and exits with the failed-documents code;
/// `register retry --all-failed` re-queues the failed one.
#[tokio::test]
async fn a_collision_is_reported_before_sending_and_fails_only_its_document() {
    let w = World::new("collision", RegisterKind::Sqlite).await;
    w.write_config(Some("{number}"));
    let (number, ..) = shared_number(&w);

    let output = w.run(&["check"]).await;
    assert_code(&output, exit::FAILURE);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(&format!(
            "FAIL orderNumber {number} would name the deals of "
        )),
        "{stdout}"
    );
    assert!(stdout.contains("{kind}-{year}-{number}"), "{stdout}");

    let output = w.run(&["preview", &number]).await;
    assert_code(&output, exit::OK);
    let stdout = text(&output.stdout);
    assert!(stdout.contains(&format!("→ {number} (create)")), "{stdout}");
    assert!(stdout.contains(&format!("→ {number} (error)")), "{stdout}");
    assert!(
        stdout.contains("would already name the deal of "),
        "{stdout}"
    );
    assert!(
        w.emulator.requests().is_empty(),
        "check and preview send nothing"
    );

    let output = w.run(&["run"]).await;
    assert_code(&output, exit::FAILED_DOCUMENTS);
    assert!(
        text(&output.stderr).contains("register --state failed"),
        "{}",
        text(&output.stderr)
    );
    assert!(
        w.deal_numbers().contains(&number),
        "the first document's deal was created"
    );
    let failed = w
        .sqlite()
        .list(&ListFilter {
            state: Some(alfa_calltouch::register::SyncState::Failed),
            ..ListFilter::default()
        })
        .await
        .unwrap();
    assert!(!failed.is_empty());
    // The base may hold other shared numbers too; this one's failure is the one checked.
    let reason = failed
        .iter()
        .filter_map(|f| f.last_error.clone())
        .find(|r| r.contains(&format!("orderNumber {number} ")))
        .unwrap_or_else(|| format!("no failure names {number}: {failed:?}"));
    // Both documents by kind and number, none by its 1C ID.
    // Which of the two is sent first depends on the read order; either way both are named.
    assert!(
        reason.contains(&format!(
            "already names the deal of ЗаявкаНаРемонт {number}, so ЗаказНаряд {number} от "
        )) || reason.contains(&format!(
            "already names the deal of ЗаказНаряд {number}, so ЗаявкаНаРемонт {number} от "
        )),
        "{reason}"
    );

    let output = w.run(&["register", "retry", "--all-failed"]).await;
    assert_code(&output, exit::OK);
    assert!(
        text(&output.stdout).starts_with(&format!("{} failed document(s) re-queued", failed.len())),
        "{}",
        text(&output.stdout)
    );
    // The re-queued document lies behind the checkpoint; a dry run plans it all the same.
    let output = w.run(&["run", "--dry-run"]).await;
    assert_code(&output, exit::OK);
    let stdout = text(&output.stdout);
    assert!(stdout.contains(&format!("→ {number} (error)")), "{stdout}");
    assert!(stdout.contains("already names the deal of"), "{stdout}");
}

// ---------------------------------------------------------------------------------------------
// Output and logs.

#[tokio::test]
async fn every_command_ends_quietly_when_its_output_is_closed() {
    let w = World::new("pipe", RegisterKind::Sqlite).await;
    assert_code(&w.run(&["run"]).await, exit::OK);
    for args in [
        &["register"][..],
        &["register", "--json"],
        &["check"],
        &["schedule"],
    ] {
        // The reader is gone before the first line is written: every write fails.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = w
            .command(args)
            .stdout(Stdio::from(writer))
            .output()
            .await
            .unwrap();
        assert_code(&output, exit::OK);
        assert_eq!(text(&output.stderr), "", "{args:?}");
    }
    // As a shell runs it: the first line only, and head's status is the pipeline's.
    if cfg!(windows) {
        return;
    }
    let output = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{BINARY}' --config '{}' register | head -1",
            w.config_path().display()
        ))
        .output()
        .await
        .unwrap();
    assert_code(&output, exit::OK);
    assert_eq!(text(&output.stdout).lines().count(), 1);
    assert_eq!(text(&output.stderr), "");
}

#[tokio::test]
async fn a_json_log_is_json_to_its_last_line_and_the_summary_carries_numbers() {
    let w = World::new("json", RegisterKind::Sqlite).await;
    let output = w.run(&["--log-format", "json", "run"]).await;
    assert_code(&output, exit::OK);
    let lines: Vec<Value> = text(&output.stderr)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let summary = lines
        .iter()
        .find(|l| {
            l["fields"]["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("cycle finished")
        })
        .expect("a summary line");
    let fields = &summary["fields"];
    let created = fields["created"].as_u64().expect("created is a number");
    assert_eq!(created as usize, w.emulator.deals().len());
    assert_eq!(fields["failed"].as_u64(), Some(0));
    assert!(fields["read"].as_u64().unwrap() >= created);
    assert!(fields["duration_secs"].is_number());

    // The final error of a failing command too.
    std::fs::remove_file(w.dir.join("namemap.toml")).unwrap();
    let output = w.run(&["--log-format", "json", "run"]).await;
    assert_code(&output, exit::CONFIG);
    let stderr = text(&output.stderr);
    let last: Value = serde_json::from_str(stderr.lines().last().unwrap()).expect(&stderr);
    assert_eq!(last["level"], "ERROR");
    assert!(
        last["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("discover"),
        "{stderr}"
    );
    assert_eq!(
        last["fields"]["exit_code"].as_u64(),
        Some(u64::from(exit::CONFIG))
    );
}

// ---------------------------------------------------------------------------------------------
// What operators expect.

#[tokio::test]
async fn a_dry_run_sends_nothing_and_changes_no_register_row() {
    let mut w = World::new("dry", RegisterKind::Sqlite).await;
    let output = w.run(&["run", "--dry-run"]).await;
    assert_code(&output, exit::OK);
    let stdout = text(&output.stdout);
    let creates = stdout.matches(" (create)\n").count();
    assert!(creates > 10, "{stdout}");
    assert!(stdout.contains("\"orders\": ["), "{stdout}");
    assert!(stdout.contains("nothing sent"), "{stdout}");
    assert!(w.emulator.requests().is_empty());
    let register = w.sqlite();
    assert!(register
        .list(&ListFilter::default())
        .await
        .unwrap()
        .is_empty());
    drop(register);

    // After a real run, a dry run plans only the change, into a file.
    assert_code(&w.run(&["run"]).await, exit::OK);
    let requests = w.emulator.requests().len();
    let before = w.sqlite().list(&ListFilter::default()).await.unwrap();
    let order = w
        .live()
        .find(|d| d.kind == DocKind::WorkOrder && d.booking.is_none())
        .cloned()
        .unwrap();
    w.fixture.set_sum(order.reference, "4321.00").await.unwrap();
    let file = w.dir.join("bodies.txt");
    let output = w
        .run(&["run", "--dry-run", "--output", file.to_str().unwrap()])
        .await;
    assert_code(&output, exit::OK);
    assert!(
        text(&output.stdout).contains("update 1"),
        "{}",
        text(&output.stdout)
    );
    let bodies = std::fs::read_to_string(&file).unwrap();
    assert!(bodies.contains("\"revenue\": \"4321.00\""), "{bodies}");
    assert_eq!(w.emulator.requests().len(), requests);
    assert_eq!(
        w.sqlite().list(&ListFilter::default()).await.unwrap(),
        before
    );
    // The change is still there for the real run.
    assert_code(&w.run(&["run"]).await, exit::OK);
    assert_eq!(w.emulator.requests().len(), requests + 1);
}

#[tokio::test]
async fn schedule_show_tells_a_run_at_work_from_one_that_died() {
    let w = World::new("show", RegisterKind::Sqlite).await;
    let register = w.sqlite();
    let started = chrono::Local::now().naive_local() - Duration::minutes(3);
    register
        .record_run(started, started, "running", "")
        .await
        .unwrap();
    let output = w.run(&["schedule", "--show"]).await;
    assert_code(&output, exit::OK);
    assert!(
        text(&output.stdout).contains("ended without recording an outcome"),
        "{}",
        text(&output.stdout)
    );
    let guard = register.lock_run().await.unwrap();
    let output = w.run(&["schedule", "--show"]).await;
    assert!(
        text(&output.stdout).starts_with("a run is in progress: started "),
        "{}",
        text(&output.stdout)
    );
    drop(guard);
}

// ---------------------------------------------------------------------------------------------
// Messages.

fn bare(args: &[&str], config: &Path) -> std::process::Output {
    std::process::Command::new(BINARY)
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

#[test]
fn a_missing_config_says_once_why_and_what_to_copy() {
    let missing = std::env::temp_dir().join("alfa-op-no-such-dir/alfa-calltouch.toml");
    let output = bare(&["run"], &missing);
    assert_code(&output, exit::CONFIG);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("copy config/alfa-calltouch.example.toml"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("os error").count(), 1, "{stderr}");
}

#[test]
fn a_bad_date_shows_the_format() {
    let output = bare(&["register", "--from", "2026-13-01"], Path::new("x.toml"));
    assert_code(&output, 2);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("YYYY-MM-DD"), "{stderr}");
    assert!(!stderr.contains("invalid characters"), "{stderr}");
}

/// A name map lacking an entry the queries use is a setup mistake: exit 2, naming the entry.
#[tokio::test]
async fn a_name_map_missing_an_entry_exits_with_the_setup_code() {
    let w = World::new("mapentry", RegisterKind::Sqlite).await;
    let path = w.dir.join("namemap.toml");
    let map = std::fs::read_to_string(&path).unwrap();
    let entry = "\"ОбщийРеквизит.СуммаДокумента\"";
    assert!(map.contains(entry), "{map}");
    let cut: Vec<&str> = map.lines().filter(|l| !l.starts_with(entry)).collect();
    std::fs::write(&path, cut.join("\n")).unwrap();
    let output = w.run(&["run"]).await;
    assert_code(&output, exit::CONFIG);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("СуммаДокумента"), "{stderr}");
    assert!(w.emulator.requests().is_empty());
}
