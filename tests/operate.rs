//! Operating the tool through its binary: `check` against a generated 1C database, `watch`
//! stopping cleanly on SIGTERM, and the `register` view of a register filled through its API.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{NaiveDate, NaiveDateTime};

use alfa_calltouch::domain::snapshot::{DocKind, DocRef, DocumentSnapshot};
use alfa_calltouch::register::sqlite::SqliteRegister;
use alfa_calltouch::register::{CycleStore, FailedDocument, RunLog, SyncState};
use alfa_calltouch::source::settings::Preset;
use testkit::cluster::shared as cluster;
use testkit::config::{Connection, RegisterKeys, Server, SourceKeys, TestConfig};
use testkit::fixture::{Fixture, FixtureSpec};

const BINARY: &str = env!("CARGO_BIN_EXE_alfa-calltouch");

/// A fresh folder for one test's config, secrets and register.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alfa-operate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token.txt"), "test-token").unwrap();
    std::fs::write(dir.join("db-password.txt"), "unused-with-trust").unwrap();
    dir
}

/// A config for a PostgreSQL 1C base at `port`; Calltouch is a closed port.
fn keys(port: u16, database: &str) -> TestConfig {
    let mut source = Connection::local_postgres(port, database);
    source.password_file = Some("db-password.txt".into());
    source.connect_timeout_secs = Some(2);
    TestConfig::new("100500", "http://127.0.0.1:9/", SourceKeys::new(source))
        .register(RegisterKeys::sqlite())
}

/// Writes the config of [`keys`] and returns its path.
fn write_config(dir: &Path, port: u16, database: &str) -> PathBuf {
    keys(port, database).write(&dir.join("alfa-calltouch.toml"))
}

fn run(config: &Path, args: &[&str]) -> Output {
    Command::new(BINARY)
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A generated 1C base and a folder whose config and name map point at it.
async fn generated_base(name: &str) -> (PathBuf, Fixture) {
    let connection = cluster().create_database(name).await.unwrap();
    let fixture = Fixture::generate(&connection, FixtureSpec::small(Preset::Alfa6, 77))
        .await
        .unwrap();
    let dir = folder(name);
    std::fs::write(dir.join("namemap.toml"), fixture.name_map_toml()).unwrap();
    (write_config(&dir, cluster().port(), name), fixture)
}

#[tokio::test]
async fn check_passes_on_a_good_config() {
    let (config, _fixture) = generated_base("doctor_good").await;
    let output = run(&config, &["check"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.lines().all(|l| l.starts_with("ok ")), "{text}");
    for expected in [
        "accepts the login",
        "every name map entry exists in the database with the expected type",
        "the login can read bookings and work orders",
        "is writable",
        "Calltouch host 127.0.0.1 resolves",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in:\n{text}");
    }
}

#[tokio::test]
async fn check_names_a_name_map_column_the_database_lacks() {
    let (config, fixture) = generated_base("doctor_column").await;
    let entry = "Документ.ЗаказНаряд.Состояние";
    let Some(alfa_calltouch::source::namemap::Column::Plain(column)) =
        fixture.name_map().field(entry)
    else {
        panic!("{entry} is a plain column in the generated map");
    };
    let map = fixture
        .name_map_toml()
        .replace(&format!("\"{column}\""), "\"_fld1rref\"");
    std::fs::write(config.with_file_name("namemap.toml"), map).unwrap();
    let output = run(&config, &["check"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let failures: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(
        failures,
        vec![format!(
            "FAIL name map entry `{entry}`: column _fld1rref does not exist in table {}; \
             correct the entry from this infobase's storage structure",
            fixture.name_map().table("Документ.ЗаказНаряд").unwrap()
        )],
        "{text}"
    );
}

#[tokio::test]
async fn check_explains_an_unreachable_database() {
    let (config, _fixture) = generated_base("doctor_unreachable").await;
    let config = write_config(
        config.parent().unwrap(),
        closed_port(),
        "doctor_unreachable",
    );
    let output = run(&config, &["check"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let failures: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failures.len(), 1, "{text}");
    // The network's answer, where it was sent, and what to check.
    assert!(
        failures[0].contains("cannot connect to the 1C database at 127.0.0.1:"),
        "{text}"
    );
    assert!(
        failures[0].to_lowercase().contains("connection refused"),
        "{text}"
    );
    assert!(
        failures[0].contains("check source.host and source.port"),
        "{text}"
    );
}

#[tokio::test]
async fn check_walks_an_ms_sql_source_and_names_an_unreachable_server() {
    let dir = std::env::temp_dir().join(format!("alfa-operate-mssql-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let map = testkit::fixture::storage_name_map(
        Preset::Alfa6,
        7,
        alfa_calltouch::source::namemap::Dialect::MsSql,
    );
    std::fs::write(dir.join("namemap.toml"), map.to_toml()).unwrap();
    std::fs::write(dir.join("token.txt"), "token").unwrap();
    std::fs::write(dir.join("db-password.txt"), "password").unwrap();
    let mut keys = keys(closed_port(), "alfa");
    keys.source.connection.server = Server::Mssql;
    let config = keys.write(&dir.join("alfa-calltouch.toml"));
    let output = run(&config, &["check"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("ok   name map"),
        "the MS SQL map is checked: {text}"
    );
    let failures: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failures.len(), 1, "{text}");
    // A refused connection is reported as such, not as missing SELECT grants.
    assert!(
        failures[0].contains("cannot connect to the 1C database at 127.0.0.1:"),
        "{text}"
    );
    assert!(
        failures[0].to_lowercase().contains("connection refused"),
        "{text}"
    );
    assert!(!failures[0].contains("grant the login"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// SIGTERM exists on Unix only; Windows stops `watch` with Ctrl-C / Ctrl-Break.
#[cfg(unix)]
mod watch_signal {
    use super::*;
    use alfa_calltouch::domain::run::RunRecord;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn watch_keeps_going_through_failed_cycles_and_stops_on_sigterm() {
        let (config, _fixture) = generated_base("watch_sigterm").await;
        let config = write_config(config.parent().unwrap(), closed_port(), "watch_sigterm");
        let mut child = Command::new(BINARY)
            .arg("--config")
            .arg(&config)
            .args(["watch", "--every", "1m"])
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Let the first cycle fail against the closed port and the loop enter its wait.
        let register = config.with_file_name("register.sqlite");
        let deadline = Instant::now() + Duration::from_secs(20);
        // A run records "running" when it starts, and its outcome when it ends.
        while last_run(&register)
            .await
            .is_none_or(|run| run.outcome == "running")
        {
            assert!(Instant::now() < deadline, "no cycle was recorded");
            std::thread::sleep(Duration::from_millis(100));
        }
        let run = last_run(&register).await.unwrap();
        assert_eq!(run.outcome, "error");
        assert!(
            run.summary.contains("cannot connect to the 1C database"),
            "{}",
            run.summary
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "a failed cycle ended the loop"
        );

        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(5);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "watch did not stop within 5 s");
            std::thread::sleep(Duration::from_millis(50));
        };
        let log = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
        assert_eq!(status.code(), Some(0), "{log}");
        assert!(log.contains("SIGTERM received"), "{log}");
        assert!(log.contains("cycle failed, the next one retries"), "{log}");
    }

    async fn last_run(register: &Path) -> Option<RunRecord> {
        if !register.exists() {
            return None;
        }
        SqliteRegister::open(register).ok()?.last_run().await.ok()?
    }
}

fn day(d: u32, hour: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, d)
        .unwrap()
        .and_hms_opt(hour, 0, 0)
        .unwrap()
}

#[tokio::test]
async fn register_shows_every_column_filters_and_the_schedule() {
    let dir = folder("register_view");
    let config = write_config(&dir, 5432, "alfa");
    let mut register = SqliteRegister::open(&dir.join("register.sqlite")).unwrap();
    let mut booking = DocumentSnapshot::new(DocKind::Booking, DocRef([1; 16]), "ЗР-7", day(2, 9));
    booking.state = Some("Отклонено".into());
    register
        .record_settled(
            &booking,
            Some("ЗР-7"),
            SyncState::Skipped,
            Some("a deletion mark"),
            day(2, 9),
            day(3, 10),
        )
        .await
        .unwrap();
    register
        .record_failed(
            &FailedDocument {
                kind: DocKind::WorkOrder,
                reference: DocRef([2; 16]),
                number: "ЗН-12",
                date: Some(day(4, 11)),
                order_number: Some("ЗН-12"),
                reason: "Calltouch rejected the deal: phone is not valid".into(),
            },
            None,
            day(5, 12),
        )
        .await
        .unwrap();
    let now = chrono::Local::now().naive_local();
    let started = now - chrono::Duration::seconds(60);
    register
        .record_run(started, now, "ok", "read 2, created 0")
        .await
        .unwrap();
    drop(register);

    let output = run(&config, &["register"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let expected = format!(
        "\
document        number  date        deal   state    last status  sum  attempts  last error                                       updated
ЗаказНаряд      ЗН-12   2026-11-04  ЗН-12  failed   -            -    1         Calltouch rejected the deal: phone is not valid  2026-11-05 12:00
ЗаявкаНаРемонт  ЗР-7    2026-11-02  ЗР-7   skipped  -            -    0         a deletion mark                                  2026-11-03 10:00
2 documents: pending 0, sent 0, failed 1, skipped 1; last run {} (ok: read 2, created 0); next run due {} (every 5m)
",
        now.format("%Y-%m-%d %H:%M:%S"),
        (started + chrono::Duration::minutes(5)).format("%Y-%m-%d %H:%M")
    );
    assert_eq!(text, expected);

    let failed = stdout(&run(
        &config,
        &["register", "--errors", "--kind", "work-order"],
    ));
    assert!(
        failed.contains("ЗН-12") && !failed.contains("ЗР-7"),
        "{failed}"
    );
    let skipped = stdout(&run(&config, &["register", "--state", "skipped", "--json"]));
    let rows: Vec<serde_json::Value> = skipped
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{skipped}");
    assert_eq!(rows[0]["number"], "ЗР-7");
    let dated = stdout(&run(
        &config,
        &["register", "--from", "2026-11-03", "--to", "2026-11-04"],
    ));
    assert!(
        dated.contains("ЗН-12") && !dated.contains("ЗР-7"),
        "{dated}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Records what a cycle reports.
#[derive(Default)]
struct Recorded(std::sync::Mutex<Vec<String>>);

impl alfa_calltouch::ops::progress::Progress for Recorded {
    fn read(&self, documents: usize) {
        self.0.lock().unwrap().push(format!("read {documents}"));
    }
    fn settled(&self, documents: usize) {
        self.0.lock().unwrap().push(format!("settled {documents}"));
    }
}

#[tokio::test]
async fn a_cycle_reports_progress_a_batch_at_a_time() {
    use alfa_calltouch::calltouch::client::CalltouchClient;
    use alfa_calltouch::ops::privacy::Secret;
    use alfa_calltouch::source::memory::MemorySource;
    use testkit::emulator::Emulator;

    let dir = folder("progress");
    let emulator = Emulator::start("100500", "test-token").await.unwrap();
    let mut keys = keys(5432, "alfa");
    keys.calltouch.base_url = Some(emulator.base_url());
    keys.calltouch.batch_size = Some(2);
    keys.calltouch.requests_per_second = Some(0);
    let config = keys.parse_in(&dir).unwrap();
    let mut register = SqliteRegister::open(&config.register_path()).unwrap();
    let client = CalltouchClient::new(
        &config.calltouch,
        Secret::new("test-token"),
        config.deal.crm.clone(),
    )
    .unwrap();
    let mut source = MemorySource::new();
    source.now = Some(day(20, 12));
    for id in 1..=3u8 {
        let mut booking = DocumentSnapshot::new(
            DocKind::Booking,
            DocRef([id; 16]),
            &format!("ЗР-{id}"),
            day(2, 10),
        );
        booking.state = Some("Подтверждено".into());
        booking.phones = vec!["8 (915) 777-11-22".into()];
        source.put(booking);
    }
    let progress = Recorded::default();
    let clients = alfa_calltouch::pipeline::AccountClients::new(&config, &client).unwrap();
    let summary = alfa_calltouch::pipeline::run_cycle_with_progress(
        &config,
        &mut source,
        &mut register,
        &clients,
        &progress,
    )
    .await
    .unwrap();
    assert_eq!(summary.created, 3, "{summary}");
    assert_eq!(
        *progress.0.lock().unwrap(),
        ["read 3", "settled 0", "settled 2", "settled 1"]
    );
    emulator.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
