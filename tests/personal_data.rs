//! Customers' personal data in the register, through real cycles: an in-memory 1C source, the
//! real client against the strict Calltouch emulator, and a real SQLite register file. The files
//! the tool creates are owner-only, the cycle prunes the send log after
//! `[register] send_log_days`, and then no phone or e-mail is left anywhere in the file.

use chrono::{NaiveDate, NaiveDateTime};
use std::path::{Path, PathBuf};

use alfa_calltouch::calltouch::client::CalltouchClient;
use alfa_calltouch::config::Config;
use alfa_calltouch::domain::snapshot::{DocKind, DocRef, DocumentSnapshot};
use alfa_calltouch::ops::privacy::Secret;
use alfa_calltouch::pipeline::run_cycle;
use alfa_calltouch::register::sqlite::SqliteRegister;
use alfa_calltouch::register::{Admin, CycleStore, RunLog, SyncState};
use alfa_calltouch::source::memory::MemorySource;
use testkit::config::TestConfig;
use testkit::emulator::{Emulator, Fault};

const SITE_ID: &str = "778";
const TOKEN: &str = "personal-data-token";
/// The phones and e-mails of the test's customers, as 1C holds them and as they are sent.
const PERSONAL: [&str; 6] = [
    "79157771122",
    "777-11-22",
    "79160001122",
    "000-11-22",
    "ivan.petrov",
    "anna@example",
];

fn at(day: u32, hour: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, day)
        .unwrap()
        .and_hms_opt(hour, 0, 0)
        .unwrap()
}

fn booking(id: u8, number: &str, phone: &str, email: &str) -> DocumentSnapshot {
    let mut snapshot = DocumentSnapshot::new(DocKind::Booking, DocRef([id; 16]), number, at(1, 10));
    snapshot.state = Some("Подтверждено".into());
    snapshot.sum = Some("1000.00".into());
    snapshot.manager = Some("Петров Пётр".into());
    snapshot.phones = vec![phone.into()];
    snapshot.emails = vec![email.into()];
    snapshot
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alfa-personal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The config of these tests: the memory source, the register's default file, a send log kept
/// `days` days.
fn keys(emulator: &Emulator, days: u32) -> TestConfig {
    let mut keys = TestConfig::without_database(SITE_ID, &emulator.base_url())
        .quick()
        .backoff(5, 20)
        .order_number("{number}");
    keys.register.send_log_days = Some(days);
    keys
}

async fn config(dir: &Path, emulator: &Emulator, days: u32) -> Config {
    keys(emulator, days).parse_in(dir).unwrap()
}

/// Every text of every row of every table, as SQLite gives it back.
fn every_value(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut all = String::new();
    for table in tables {
        let mut statement = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = statement.column_count();
        let mut rows = statement.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for column in 0..columns {
                let value: rusqlite::types::Value = row.get(column).unwrap();
                all.push_str(&format!("{table}: {value:?}\n"));
            }
        }
    }
    all
}

#[tokio::test]
async fn the_cycle_prunes_the_send_log_and_leaves_no_phone_or_email_in_the_register() {
    let dir = temp_dir("prune");
    let emulator = Emulator::start(SITE_ID, TOKEN).await.unwrap();
    let config = config(&dir, &emulator, 7).await;
    let path = config.register_path();
    let mut register = SqliteRegister::open(&path).unwrap();
    let client = CalltouchClient::new(
        &config.calltouch,
        Secret::new(TOKEN),
        config.deal.crm.clone(),
    )
    .unwrap();
    let mut source = MemorySource::new();
    let accepted = booking(1, "ЗР-101", "8 (915) 777-11-22", "Ivan.Petrov@mail.ru");
    let rejected = booking(2, "ЗР-102", "+7 916 000-11-22", "anna@example.com");
    source.put(accepted.clone());
    source.put(rejected.clone());
    // Calltouch's reason quotes the customer's contacts, as a validation error may.
    emulator.push_fault(Fault::RejectOrder {
        order_number: "ЗР-102".into(),
        error: "phone 79160001122 / anna@example.com does not match the request".into(),
    });

    source.now = Some(at(2, 12));
    let first = run_cycle(&config, &mut source, &mut register, &client)
        .await
        .unwrap();
    assert_eq!((first.created, first.failed), (1, 1), "{first}");
    let log = register.dump_send_log().await.unwrap();
    assert_eq!(log.len(), 2);
    assert!(log
        .iter()
        .any(|entry| entry.request.contains("79157771122")));
    let failed = register
        .document(rejected.reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.state, SyncState::Failed);
    let reason = failed.last_error.unwrap();
    assert!(
        reason.contains("Calltouch rejected the deal: phone [phone] / [e-mail] does not match"),
        "{reason}"
    );

    // Within the window the bodies stay: support can see what was sent.
    source.now = Some(at(8, 12));
    run_cycle(&config, &mut source, &mut register, &client)
        .await
        .unwrap();
    assert_eq!(register.dump_send_log().await.unwrap().len(), 2);

    // Eight days after the send, the next cycle deletes them.
    source.now = Some(at(10, 12));
    let later = run_cycle(&config, &mut source, &mut register, &client)
        .await
        .unwrap();
    assert_eq!(later.read, 0);
    assert!(register.dump_send_log().await.unwrap().is_empty());
    drop(register);

    let values = every_value(&path);
    assert!(
        values.contains("ЗР-101") && values.contains("[phone]"),
        "{values}"
    );
    let bytes = std::fs::read(&path).unwrap();
    let file = String::from_utf8_lossy(&bytes).to_lowercase();
    for personal in PERSONAL {
        assert!(
            !values.to_lowercase().contains(personal),
            "{personal} in:\n{values}"
        );
        // Deleted rows are overwritten, not left in the file's free pages.
        assert!(
            !file.contains(personal),
            "{personal} left in the file's bytes"
        );
    }
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        if let Ok(bytes) = std::fs::read(PathBuf::from(side)) {
            let text = String::from_utf8_lossy(&bytes).to_lowercase();
            assert!(!PERSONAL.iter().any(|p| text.contains(p)), "{suffix}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn the_register_its_wal_and_the_lock_are_readable_by_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("modes");
    let emulator = Emulator::start(SITE_ID, TOKEN).await.unwrap();
    let config = config(&dir, &emulator, 30).await;
    let path = config.register_path();
    let mut register = SqliteRegister::open(&path).unwrap();
    let _lock = register.lock_run().await.unwrap();
    let client = CalltouchClient::new(
        &config.calltouch,
        Secret::new(TOKEN),
        config.deal.crm.clone(),
    )
    .unwrap();
    let mut source = MemorySource::new();
    source.put(booking(
        3,
        "ЗР-103",
        "8 915 777 11 22",
        "ivan.petrov@mail.ru",
    ));
    source.now = Some(at(2, 12));
    run_cycle(&config, &mut source, &mut register, &client)
        .await
        .unwrap();
    // While the register is open its WAL and shared-memory files exist beside it.
    let mut files = Vec::new();
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        files.push(PathBuf::from(name));
    }
    for file in &files {
        let mode = std::fs::metadata(file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn a_register_file_others_can_read_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("warn");
    let emulator = Emulator::start(SITE_ID, TOKEN).await.unwrap();
    let config = config(&dir, &emulator, 30).await;
    let config_path = keys(&emulator, 30).write(&dir.join("c.toml"));
    std::fs::set_permissions(&config_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let path = config.register_path();
    drop(SqliteRegister::open(&path).unwrap());
    let register = |mode: u32| {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_alfa-calltouch"))
            .arg("--config")
            .arg(&config_path)
            .arg("register")
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let open = register(0o644);
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        open.contains("can be read by other users") && open.contains(&file),
        "{open}"
    );
    let private = register(0o600);
    assert!(!private.contains("can be read by other users"), "{private}");
    std::fs::remove_dir_all(&dir).unwrap();
}
