//! Dealer groups through the binary: `check` names an account whose token is missing and
//! refuses rules that give one department or organisation to two accounts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use testkit::config::{Connection, RegisterKeys, SourceKeys, TestConfig};

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

/// Until the cycle reads departments and keeps each deal's account, `run` refuses a config
/// that splits documents between accounts rather than send them all to the first one.
#[test]
fn run_refuses_to_send_a_split_config_before_touching_anything() {
    let dir = folder("run");
    let config = write_config(&dir, r#"["Сервис Юг"]"#);
    let output = run(&config, &["run"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("config key `groups`"), "{stderr}");
    assert!(
        !dir.join("register.sqlite").exists(),
        "no register was opened"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
