//! Unit tests of parsing and validating the config file.

use super::*;
use crate::domain::snapshot::DocKind;

use super::{parse_test_config as parse, MINIMAL_TEST_CONFIG as MINIMAL};

#[test]
fn the_example_config_is_valid() {
    let text = include_str!("../../config/alfa-calltouch.example.toml");
    let config = parse(text).unwrap();
    assert_eq!(config.deal, DealConfig::default());
    assert_eq!(config.statuses, StatusConfig::default());
}

#[test]
fn a_fresh_install_reads_a_window_and_reconciles_nightly() {
    let detection = parse(MINIMAL).unwrap().source.change_detection();
    assert_eq!(detection.window_days, 31);
    assert_eq!(
        detection.reconcile_at,
        chrono::NaiveTime::from_hms_opt(3, 0, 0)
    );
    assert_eq!(parse(MINIMAL).unwrap().sync.chunk_documents, 1000);

    let with = |lines: &str| {
        parse(&MINIMAL.replace("user = \"reader\"", &format!("user = \"reader\"\n{lines}")))
    };
    let hourly = with("reconcile_hours = 6")
        .unwrap()
        .source
        .change_detection();
    assert_eq!((hourly.reconcile_at, hourly.reconcile_hours), (None, 6));
    let at = with("reconcile_at = \"22:30\"")
        .unwrap()
        .source
        .change_detection();
    assert_eq!(at.reconcile_at, chrono::NaiveTime::from_hms_opt(22, 30, 0));
    let exact = with("change_window_days = 0")
        .unwrap()
        .source
        .change_detection();
    assert_eq!(exact.window_days, 0);
    for (lines, says) in [
        ("reconcile_at = \"3am\"", "HH:MM"),
        ("reconcile_at = \"03:00\"\nreconcile_hours = 24", "not both"),
    ] {
        let error = with(lines).unwrap_err().to_string();
        assert!(
            error.contains("reconcile_at") && error.contains(says),
            "{error}"
        );
    }
    let error = parse(&format!("{MINIMAL}\n[sync]\nchunk_documents = 0"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("sync.chunk_documents"), "{error}");
}

#[test]
fn a_server_key_on_a_sqlite_register_is_an_error_naming_it() {
    for (lines, key) in [
        ("host = \"db1\"", "register.host"),
        ("kind = \"sqlite\"\nuser = \"sync\"", "register.user"),
        (
            "trust_server_certificate = true",
            "register.trust_server_certificate",
        ),
    ] {
        let error = parse(&format!("{MINIMAL}\n[register]\n{lines}"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(key) && error.contains("kind = \"postgres\""),
            "{error}"
        );
    }
    assert!(parse(&format!("{MINIMAL}\n[register]\npath = \"r.sqlite\"")).is_ok());
}

#[test]
fn defaults_are_the_assignment_constants() {
    let config = parse(MINIMAL).unwrap();
    assert_eq!(config.deal.crm, "1С Альфа-Авто");
    assert_eq!(config.deal.source, "офлайн визит");
    assert_eq!(config.deal.medium, "офлайн визит");
    assert_eq!(config.deal.call_type_to_match, "nearest");
    assert_eq!(config.deal.request_type_to_match, "nearest");
    assert_eq!(config.deal.search_depth, 259_200);
    assert_eq!(config.deal.service_tag, "Сервис");
    assert_eq!(config.calltouch.batch_size, 100);
    assert_eq!(config.calltouch.requests_per_second, 5);
    assert_eq!(config.schedule.every_minutes.minutes(), 5);
    assert_eq!(
        config.statuses.map(DocKind::Booking, "Отклонено"),
        Some("Отказ")
    );
    assert_eq!(
        config.statuses.map(DocKind::WorkOrder, "Закрыт"),
        Some("Закрыт")
    );
    assert_eq!(config.statuses.map(DocKind::WorkOrder, "В работе"), None);
}

#[test]
fn every_mistake_names_its_key() {
    let cases = [
            (
                MINIMAL.replace("site_id = \"123\"", "site_id = \"abc\""),
                "calltouch.site_id",
            ),
            (
                MINIMAL.replace("[source]", "[deal]\norder_number = \"{id}\"\n[source]"),
                "deal.order_number",
            ),
            (
                MINIMAL.replace("[source]", "[deal]\ncall_type_to_match = \"any\"\n[source]"),
                "deal.call_type_to_match",
            ),
            (MINIMAL.replace("[source]", "[calltouch.x]\n[source]"), "x"),
            (MINIMAL.replace("user = \"reader\"", ""), "source.user"),
            (
                MINIMAL.replace("preset = \"alfa6\"", "preset = \"alfa7\""),
                "alfa7",
            ),
            (
                MINIMAL.replace("site_id = \"123\"", "site_id = \"123\"\nbatch_size = 500"),
                "calltouch.batch_size",
            ),
            (
                MINIMAL.replace("start_date = \"2026-01-01\"", "start_date = \"yesterday\""),
                "start_date",
            ),
            (
                format!("{MINIMAL}\n[schedule]\nevery_minutes = 0\n"),
                "every_minutes",
            ),
            (
                format!("{MINIMAL}\n[register]\nkind = \"postgres\"\ndatabase = \"a\"\nuser = \"u\"\n"),
                "register.host",
            ),
            (
                format!("{MINIMAL}\n[register]\nkind = \"postgres\"\nhost = \"h\"\nuser = \"u\"\n"),
                "register.database",
            ),
            (
                format!("{MINIMAL}\n[register]\nkind = \"postgres\"\nhost = \"h\"\ndatabase = \"a\"\n"),
                "`register.user`: set the login that owns",
            ),
            (
                format!("{MINIMAL}\n[register]\nkind = \"mssql\"\nhost = \"h\"\ndatabase = \"a\"\nuser = \"u\"\nschema = \"dbo\"\n"),
                "register.schema",
            ),
            (
                format!("{MINIMAL}\n[register]\nkind = \"postgres\"\nhost = \"h\"\ndatabase = \"a\"\nuser = \"u\"\nschema = \"public\"\n"),
                "1C's",
            ),
            (
                format!("{MINIMAL}\n[register]\nkind = \"postgres\"\nhost = \"h\"\ndatabase = \"a\"\nuser = \"u\"\nschema = \"Alfa; drop\"\n"),
                "register.schema",
            ),
            (
                MINIMAL.replace("user = \"reader\"", "user = \"reader\"\ntls = \"yes\""),
                "`off`, `preferred`, `required`",
            ),
            (
                MINIMAL.replace("user = \"reader\"", "user = \"reader\"\ntls = \"off\"\nca_file = \"ca.pem\""),
                "source.tls",
            ),
            (
                MINIMAL.replace("user = \"reader\"", "user = \"reader\"\ninstance = \"SQLEXPRESS\""),
                "source.instance",
            ),
            (
                format!("{MINIMAL}\n[register]\nkind = \"postgres\"\nhost = \"h\"\ndatabase = \"a\"\nintegrated_auth = true\n"),
                "register.integrated_auth",
            ),
            (
                format!("{MINIMAL}\n[register]\nkind = \"mssql\"\nhost = \"h\"\ndatabase = \"a\"\nuser = \"u\"\nca_file = \"ca.pem\"\ntrust_server_certificate = true\n"),
                "register.trust_server_certificate",
            ),
        ];
    for (text, key) in cases {
        let error = parse(&text).unwrap_err().to_string();
        assert!(error.contains(key), "{key:?} not named in: {error}");
    }
}

#[test]
fn the_register_on_ms_sql_takes_the_sources_connection_keys() {
    let config = parse(&format!(
        "{MINIMAL}\n[register]\nkind = \"mssql\"\nhost = \"sql01\"\ninstance = \"ALFA\"\n\
             database = \"alfa_sync\"\nintegrated_auth = true\ntls = \"preferred\"\n\
             trust_server_certificate = true\n"
    ))
    .unwrap();
    let r = &config.register;
    assert_eq!(r.tls, TlsMode::Preferred);
    assert!(r.trust_server_certificate && r.integrated_auth);
    assert_eq!(r.describe(), "sql01\\ALFA/alfa_sync schema alfa_calltouch");
    // The default verifies: required, no opt-in.
    let default = parse(MINIMAL).unwrap();
    assert_eq!(default.source.tls, TlsMode::Required);
    assert!(!default.source.trust_server_certificate);
    assert_eq!(default.register.tls, TlsMode::Required);
}

#[test]
fn secrets_come_from_the_environment_or_a_file_and_never_print() {
    let dir = std::env::temp_dir().join(format!("alfa-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token.txt"), "file-token-value\n").unwrap();
    let text = MINIMAL.replace(
        "site_id = \"123\"",
        "site_id = \"123\"\ntoken_env = \"ALFA_TEST_TOKEN_UNSET_VAR\"\ntoken_file = \"token.txt\"",
    );
    let config = Config::parse(&text, Path::new("t.toml"), &dir).unwrap();
    let token = config.calltouch_token().unwrap();
    assert_eq!(token.expose(), "file-token-value");
    assert!(!format!("{token:?} {token}").contains("file-token-value"));
    let missing = parse(
        MINIMAL
            .replace(
                "site_id = \"123\"",
                "site_id = \"123\"\ntoken_env = \"ALFA_TEST_TOKEN_UNSET_VAR\"",
            )
            .as_str(),
    )
    .unwrap()
    .calltouch_token()
    .unwrap_err()
    .to_string();
    assert!(missing.contains("ALFA_TEST_TOKEN_UNSET_VAR"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}
