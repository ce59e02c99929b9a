//! The register's T-SQL for MS SQL Server without a server: every statement of the schema, its
//! migration and each operation parses as T-SQL, names only the register's own schema, and
//! numbers its parameters `@P1…@Pn` without gaps. When `MSSQL_TEST_URL` (an ADO.NET connection
//! string) is set, the real [`MssqlRegister`] creates and migrates its schema on that server
//! and a checkpoint, an accepted document, a run and the run lock go through it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};

use sqlparser::dialect::MsSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use alfa_calltouch::lock::LockError;
use alfa_calltouch::register::mssql::{self, Statement};
use alfa_calltouch::register::mssql_server::MssqlRegister;
use alfa_calltouch::register::{
    AcceptedDeal, ListFilter, Outcome, Register, SendRecord, SyncState,
};
use alfa_calltouch::snapshot::{DocKind, DocRef, DocumentSnapshot, Money};

const SCHEMA: &str = "alfa_calltouch";

fn every_statement(schema: &str) -> Vec<Statement> {
    let mut statements = mssql::bootstrap(schema);
    for version in 1..=mssql::SCHEMA_VERSION {
        statements.extend(mssql::migration(version, schema));
    }
    statements.extend(mssql::operations(schema));
    statements
}

fn words(sql: &str) -> Vec<String> {
    Tokenizer::new(&MsSqlDialect {}, sql)
        .tokenize()
        .expect("tokenizes")
        .into_iter()
        .filter_map(|token| match token {
            Token::Word(word) => Some(word.value),
            _ => None,
        })
        .collect()
}

#[test]
fn every_statement_parses_as_t_sql() {
    for statement in every_statement(SCHEMA) {
        if let Err(error) = Parser::parse_sql(&MsSqlDialect {}, &statement.sql) {
            panic!("{}: {error}\n{}", statement.name, statement.sql);
        }
    }
}

#[test]
fn every_statement_keeps_to_the_register_schema_and_numbers_its_parameters() {
    let tables = [
        "documents",
        "deals",
        "checkpoints",
        "send_log",
        "runs",
        "schema_version",
        "register_view",
    ];
    for statement in every_statement("register_test") {
        let named = words(&statement.sql);
        assert!(
            !named.iter().any(|w| w.eq_ignore_ascii_case("dbo")),
            "{}: names dbo",
            statement.name
        );
        // Each table is named with the schema before it, never bare.
        for table in tables {
            let stripped = statement
                .sql
                .replace(&format!("[register_test].{table}"), "");
            assert!(
                !words(&stripped).iter().any(|w| w == table),
                "{}: {table} without its schema",
                statement.name
            );
        }
        let parameters: BTreeSet<u32> = named
            .iter()
            .filter_map(|w| w.strip_prefix("@P")?.parse().ok())
            .collect();
        let expected: BTreeSet<u32> = (1..=parameters.len() as u32).collect();
        assert_eq!(parameters, expected, "{}", statement.name);
    }
}

/// A booking as the register sees it when its deal is accepted.
fn booking(number: &str, date: NaiveDateTime) -> DocumentSnapshot {
    let mut snapshot = DocumentSnapshot::new(DocKind::Booking, DocRef([7; 16]), number, date);
    snapshot.state = Some("Подтверждено".into());
    snapshot
}

fn accepted<'a>(snapshot: &'a DocumentSnapshot, state_seen_at: NaiveDateTime) -> Outcome<'a> {
    Outcome::Accepted {
        snapshot,
        deal: AcceptedDeal {
            order_number: &snapshot.number,
            root: snapshot.reference,
            status: Some("Подтверждено"),
            revenue: Money::parse("100.5"),
            manager: Some("Иванов И.И."),
            calltouch_id: Some(7),
        },
        send: SendRecord {
            endpoint: "create",
            order_number: &snapshot.number,
            request_json: "{}",
            outcome: "accepted",
            detail: None,
        },
        state_seen_at,
    }
}

async fn open(url: &str, schema: &str) -> MssqlRegister {
    let tds = tiberius::Config::from_ado_string(url).expect("ADO.NET connection string");
    MssqlRegister::open(tds, schema, Duration::from_secs(30))
        .await
        .expect("opens the register")
}

/// Against a real server: `MSSQL_TEST_URL` is an ADO.NET connection string to a database where
/// the login may create a schema. The register is opened and migrated, reopened, and then
/// goes through the checkpoint, an accepted document, a run and the run lock, as the shared
/// suite checks SQLite and PostgreSQL.
#[tokio::test]
async fn a_real_server_runs_the_register_when_configured() {
    let Ok(url) = std::env::var("MSSQL_TEST_URL") else {
        eprintln!("skipped: MSSQL_TEST_URL not set, the register's T-SQL was only parsed");
        return;
    };
    let schema = format!("alfa_register_test_{}", std::process::id());
    let mut register = open(&url, &schema).await;
    assert_eq!(
        register.schema_version().await.unwrap(),
        mssql::SCHEMA_VERSION
    );
    let reopened = open(&url, &schema).await;
    assert_eq!(
        reopened.schema_version().await.unwrap(),
        mssql::SCHEMA_VERSION
    );
    register.probe_write().await.expect("may write");

    let now = NaiveDate::from_ymd_opt(2026, 11, 2)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap();
    register.save_checkpoint("src", "rv:01", now).await.unwrap();
    let saved = register.checkpoint("src").await.unwrap();
    assert_eq!(saved.checkpoint.as_deref(), Some("rv:01"));
    let since = NaiveDate::from_ymd_opt(2026, 10, 1);
    register.reset_checkpoint("src", since, now).await.unwrap();
    let reset = register.checkpoint("src").await.unwrap();
    assert_eq!((reset.checkpoint, reset.since), (None, since));

    let snapshot = booking("ЗР-000001", now);
    let outcome = accepted(&snapshot, now);
    register.record_outcomes(&[outcome], now).await.unwrap();
    let stored = register
        .document(snapshot.reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, SyncState::Sent);
    assert_eq!(stored.last_status.as_deref(), Some("Подтверждено"));
    let deal = register.deal("ЗР-000001").await.unwrap().unwrap();
    assert_eq!(deal.driver_date, Some(now));
    assert_eq!(register.send_log().await.unwrap().len(), 1);
    assert_eq!(register.prune_send_log(now).await.unwrap(), 0, "kept");
    let later = now + chrono::Duration::seconds(1);
    assert_eq!(register.prune_send_log(later).await.unwrap(), 1);
    assert!(register.send_log().await.unwrap().is_empty());
    assert_eq!(register.counts().await.unwrap(), vec![(SyncState::Sent, 1)]);
    let sent = ListFilter {
        state: Some(SyncState::Sent),
        ..ListFilter::default()
    };
    assert_eq!(register.list(&sent).await.unwrap().len(), 1);

    register.record_run(now, now, "ok", "read 1").await.unwrap();
    let last = register.last_run().await.unwrap().unwrap();
    assert_eq!(last.3, "read 1");

    let held = register.lock_run().await.expect("takes the lock");
    let refused = reopened.lock_run().await.unwrap_err();
    assert!(matches!(refused, LockError::Busy { .. }), "{refused}");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(error) = reopened.lock_run().await {
        assert!(Instant::now() < deadline, "the lock was not freed: {error}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("the register ran in schema {schema}; drop it when done");
}
