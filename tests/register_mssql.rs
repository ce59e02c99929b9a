//! The register's T-SQL for MS SQL Server without a server: every statement of the schema, its
//! migration and each operation parses as T-SQL, names only the register's own schema, and
//! numbers its parameters `@P1…@Pn` without gaps. An ignored test, run with `-- --ignored` and
//! `MSSQL_TEST_URL` (an ADO.NET connection string), has the real [`MssqlRegister`] create and
//! migrate its schema on that server and take a checkpoint, an accepted document, a run and the
//! run lock through it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};

use sqlparser::dialect::MsSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use alfa_calltouch::db::mssql::MssqlTarget;
use alfa_calltouch::db::Role;
use alfa_calltouch::domain::snapshot::{DocKind, DocRef, DocumentSnapshot, Money};
use alfa_calltouch::ops::lock::LockError;
use alfa_calltouch::register::mssql::{self, MssqlRegister, Statement};
use alfa_calltouch::register::{
    AcceptedDeal, Admin, CycleStore, ListFilter, Outcome, Register, RunLog, SendRecord, StateCount,
    SyncState,
};

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
                .replace(&format!("[register_test].[{table}]"), "")
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

/// The status page's reads quote every identifier with `[]`; only function names, the
/// `DATEDIFF` date part and type names stay bare.
#[test]
fn the_status_reads_quote_every_identifier() {
    let status_reads = [
        "recent runs",
        "run durations",
        "last success",
        "document totals",
        "send totals",
        "daily sends",
        "last answer",
    ];
    let bare_allowed = [
        "DATEDIFF",
        "COUNT_BIG",
        "MAX",
        "CAST",
        // DATEDIFF's datepart, a keyword of its own and no identifier.
        "ss",
        "bigint",
        "date",
    ];
    let statements: Vec<Statement> = mssql::operations(SCHEMA)
        .into_iter()
        .filter(|s| status_reads.contains(&s.name))
        .collect();
    assert_eq!(statements.len(), status_reads.len());
    for statement in statements {
        let tokens = Tokenizer::new(&MsSqlDialect {}, &statement.sql)
            .tokenize()
            .expect("tokenizes");
        for token in tokens {
            let Token::Word(word) = token else { continue };
            let bare = word.quote_style.is_none()
                && word.keyword == sqlparser::keywords::Keyword::NoKeyword
                && !word.value.starts_with("@P")
                && !bare_allowed
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(&word.value));
            assert!(!bare, "{}: `{}` is not quoted", statement.name, word.value);
        }
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
            account: None,
        },
        send: SendRecord {
            endpoint: "create",
            order_number: &snapshot.number,
            request_json: "{}",
            outcome: "accepted",
            detail: None,
        },
        state_seen_at,
        note: None,
    }
}

async fn open(url: &str, schema: &str) -> MssqlRegister {
    let target = MssqlTarget::from_ado_string(Role::Register, url, Duration::from_secs(30))
        .expect("ADO.NET connection string");
    MssqlRegister::open(target, schema)
        .await
        .expect("opens the register")
}

/// Against a real server: `MSSQL_TEST_URL` is an ADO.NET connection string to a database where
/// the login may create a schema. The register is opened and migrated, reopened, and then
/// goes through the checkpoint, an accepted document, a run and the run lock, as the shared
/// suite checks SQLite and PostgreSQL.
#[tokio::test]
#[ignore = "needs a SQL Server: set MSSQL_TEST_URL (see docs/mssql.md)"]
async fn a_real_server_runs_the_register() {
    let url =
        std::env::var("MSSQL_TEST_URL").expect("MSSQL_TEST_URL: an ADO.NET connection string");
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
    assert_eq!(register.dump_send_log().await.unwrap().len(), 1);
    assert_eq!(register.prune_send_log(now).await.unwrap(), 0, "kept");
    let later = now + chrono::Duration::seconds(1);
    assert_eq!(register.prune_send_log(later).await.unwrap(), 1);
    assert!(register.dump_send_log().await.unwrap().is_empty());
    let counts = register.counts().await.unwrap();
    assert_eq!(
        counts,
        vec![StateCount {
            state: SyncState::Sent,
            count: 1
        }]
    );
    let sent = ListFilter {
        state: Some(SyncState::Sent),
        ..ListFilter::default()
    };
    assert_eq!(register.list(&sent).await.unwrap().len(), 1);

    register.record_run(now, now, "ok", "read 1").await.unwrap();
    let last = register.last_run().await.unwrap().unwrap();
    assert_eq!(last.summary, "read 1");

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

/// The status page's reads on a real server: runs with their durations, documents per kind
/// and state, the send log per endpoint, per day and the last answer of a deal.
#[tokio::test]
#[ignore = "needs a SQL Server: set MSSQL_TEST_URL"]
async fn a_real_server_answers_the_status_reads() {
    let url = std::env::var("MSSQL_TEST_URL").expect("MSSQL_TEST_URL");
    let schema = format!("alfa_status_test_{}", std::process::id());
    let mut register = open(&url, &schema).await;
    let now = NaiveDate::from_ymd_opt(2026, 11, 2)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap();
    let snapshot = booking("ЗР-000002", now);
    register
        .record_outcomes(&[accepted(&snapshot, now)], now)
        .await
        .unwrap();
    let later = now + chrono::TimeDelta::seconds(42);
    register
        .record_run(now, later, "ok", "read 1")
        .await
        .unwrap();
    register
        .record_run(later, later, "error", "down")
        .await
        .unwrap();

    let runs = register.recent_runs(1).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].outcome, "error");
    let durations = register.run_durations().await.unwrap();
    assert!(durations
        .iter()
        .any(|d| d.outcome == "ok" && d.seconds == 42 && d.count == 1));
    assert_eq!(register.last_success().await.unwrap(), Some(later));
    let totals = register.document_totals().await.unwrap();
    assert_eq!(totals.len(), 1);
    assert_eq!((totals[0].state, totals[0].count), (SyncState::Sent, 1));
    let sends = register.send_totals().await.unwrap();
    assert_eq!((sends[0].endpoint.as_str(), sends[0].count), ("create", 1));
    let daily = register.daily_sends(now).await.unwrap();
    assert_eq!(daily[0].day, Some(now.date()));
    let answer = register
        .last_answer(snapshot.reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.outcome, "accepted");
    assert!(register
        .last_answer(DocRef([9; 16]))
        .await
        .unwrap()
        .is_none());
    eprintln!("the status reads ran in schema {schema}; drop it when done");
}
