//! The register's T-SQL for MS SQL Server without a server: every statement of the schema, its
//! migration and each operation parses as T-SQL, names only the register's own schema, and
//! numbers its parameters `@P1…@Pn` without gaps. When `MSSQL_TEST_URL` (an ADO.NET connection
//! string) is set, the schema is created and migrated on that server and the run lock, a
//! checkpoint and a run go through it.

use std::collections::BTreeSet;

use sqlparser::dialect::MsSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use alfa_calltouch::register::mssql::{self, Statement};

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

/// Against a real server: `MSSQL_TEST_URL` is an ADO.NET connection string to a database where
/// the login may create a schema.
#[tokio::test]
async fn a_real_server_takes_the_schema_and_the_statements_when_configured() {
    let Ok(url) = std::env::var("MSSQL_TEST_URL") else {
        eprintln!("skipped: MSSQL_TEST_URL not set, the register's T-SQL was only parsed");
        return;
    };
    use tokio_util::compat::TokioAsyncWriteCompatExt;
    let config = tiberius::Config::from_ado_string(&url).expect("ADO.NET connection string");
    let tcp = tokio::net::TcpStream::connect(config.get_addr())
        .await
        .expect("reaches the server");
    let mut client = tiberius::Client::connect(config, tcp.compat_write())
        .await
        .expect("logs in");
    let schema = format!("alfa_register_test_{}", std::process::id());
    for statement in mssql::bootstrap(&schema)
        .into_iter()
        .filter(|s| s.name == "create schema" || s.name == "schema version table")
        .chain(mssql::migration(1, &schema))
    {
        let done = client.simple_query(statement.sql.clone()).await;
        done.unwrap_or_else(|e| panic!("{}: {e}", statement.name))
            .into_results()
            .await
            .unwrap();
    }
    let by_name = |name: &str| {
        mssql::operations(&schema)
            .into_iter()
            .chain(mssql::bootstrap(&schema))
            .find(|s| s.name == name)
            .unwrap()
            .sql
    };
    let now = chrono::Local::now().naive_local();
    client
        .execute(by_name("record version"), &[&1i32])
        .await
        .expect("records the version");
    client
        .simple_query(by_name("lock run"))
        .await
        .expect("takes the lock")
        .into_results()
        .await
        .unwrap();
    let held = client
        .simple_query(by_name("lock held"))
        .await
        .unwrap()
        .into_row()
        .await
        .unwrap()
        .and_then(|row| row.get::<&str, _>(0).map(String::from));
    assert_eq!(held.as_deref(), Some("Exclusive"));
    client
        .execute(by_name("save checkpoint"), &[&"src", &"rv:01", &now])
        .await
        .expect("saves a checkpoint");
    client
        .execute(by_name("record run"), &[&now, &now, &"ok", &"read 0"])
        .await
        .expect("records a run");
    let last = client
        .query(by_name("last run"), &[])
        .await
        .unwrap()
        .into_row()
        .await
        .unwrap();
    assert!(last.is_some());
    eprintln!("the register's T-SQL ran in schema {schema}; drop it when done");
}
