//! `check`: the doctor. It runs every check an administrator needs before scheduling the tool:
//! the config and secrets, the name map against the live 1C schema (PostgreSQL or MS SQL), read
//! access to the 1C data, a writable register, a resolvable Calltouch host, and orderNumbers that
//! no two deals of the next read would share. It goes on after a failure, so one run lists every
//! problem, each on one line that says what to do.

pub mod schema;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::config::Config;
use crate::db::mssql::MssqlTarget;
use crate::db::postgres::PgTarget;
use crate::db::Endpoint;
use crate::discover::mssql::MssqlMetadata;
use crate::pipeline;
use crate::register::settings::RegisterKind;
use crate::register::{self, Register};
use crate::source::namemap::NameMap;
use crate::source::settings::SourceKind;
use crate::source::{self, Source};

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub passed: bool,
    pub line: String,
}

impl Finding {
    fn ok(line: impl Into<String>) -> Finding {
        Finding {
            passed: true,
            line: line.into(),
        }
    }

    fn fail(line: impl Into<String>) -> Finding {
        Finding {
            passed: false,
            line: line.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.passed { "ok  " } else { "FAIL" };
        write!(f, "{mark} {}", self.line)
    }
}

/// Runs every check of a config loaded from `config_path`.
pub async fn examine(config_path: &Path, config: &Config) -> Vec<Finding> {
    let mut findings = vec![Finding::ok(format!(
        "config {} is valid",
        config_path.display()
    ))];
    findings.extend(tokens(config));
    let database = database(config).await;
    let readable = database.iter().all(|finding| finding.passed);
    findings.extend(database);
    findings.push(register(config).await);
    if readable {
        findings.extend(order_numbers(config).await);
    }
    findings.push(calltouch_host(&config.calltouch.base_url).await);
    findings
}

/// Every account's token; a single-account config keeps its one line as before.
fn tokens(config: &Config) -> Vec<Finding> {
    if config.groups.accounts.is_empty() {
        return vec![match config.calltouch_token() {
            Ok(_) => Finding::ok("Calltouch token is set"),
            Err(error) => Finding::fail(format!("Calltouch token: {error}")),
        }];
    }
    let names = std::iter::once(&config.groups.main)
        .chain(config.groups.accounts.iter().map(|account| &account.name));
    names
        .map(|name| match config.account_token(name) {
            Ok(_) => Finding::ok(format!("Calltouch token of account `{name}` is set")),
            Err(error) => Finding::fail(format!("Calltouch token of account `{name}`: {error}")),
        })
        .collect()
}

/// The name map, the live schema behind it, and one read through the real source.
async fn database(config: &Config) -> Vec<Finding> {
    let map = match source::load_name_map(config) {
        Ok(map) => map,
        Err(error) => {
            return vec![Finding::fail(format!(
                "{error}; fix the file source.name_map names"
            ))]
        }
    };
    let mut findings = vec![Finding::ok(format!(
        "name map {} has every entry the {} queries use",
        config.name_map_path().display(),
        config.source.preset.code()
    ))];
    if config.source.kind == SourceKind::Mssql {
        findings.extend(mssql_database(config, &map).await);
        return findings;
    }
    let target =
        match Endpoint::source(config).and_then(|e| PgTarget::new(&e, "alfa-calltouch check")) {
            Ok(target) => target,
            Err(error) => {
                findings.push(Finding::fail(error.to_string()));
                return findings;
            }
        };
    let place = target.place();
    // The error says what the server answered and what to check: a refused login is not
    // reported as an unreachable server.
    let client = match target.connect().await {
        Ok(client) => client,
        Err(error) => {
            findings.push(Finding::fail(error.to_string()));
            return findings;
        }
    };
    findings.push(Finding::ok(format!("database {place} accepts the login")));
    let problems = match schema::check(&client, &map).await {
        Ok(problems) => problems,
        Err(error) => vec![format!(
            "cannot read the schema of {place} ({error}); the login needs to read pg_catalog"
        )],
    };
    findings.extend(schema_findings(config, problems).await);
    findings
}

/// The same walk on MS SQL: the login, the mapped tables' columns from
/// `INFORMATION_SCHEMA.COLUMNS`, then a read.
async fn mssql_database(config: &Config, map: &NameMap) -> Vec<Finding> {
    let target =
        match Endpoint::source(config).and_then(|e| MssqlTarget::new(&e, "alfa-calltouch check")) {
            Ok(target) => target,
            Err(error) => return vec![Finding::fail(error.to_string())],
        };
    let place = target.place().to_string();
    // The error says what the server answered and what to check: a refused login is not
    // reported as an unreachable server.
    let db = match MssqlMetadata::open(
        target,
        Duration::from_secs(config.source.query_timeout_secs),
    )
    .await
    {
        Ok(db) => db,
        Err(error) => return vec![Finding::fail(error.to_string())],
    };
    let mut findings = vec![Finding::ok(format!("database {place} accepts the login"))];
    let problems = match db.tables_schema(&schema::mapped_tables(map)).await {
        Ok(live) => schema::problems(map, &live),
        Err(error) => vec![format!(
            "cannot read the schema of {place} ({error}); the login needs SELECT on schema dbo \
             (sql/mssql/grants.sql)"
        )],
    };
    findings.extend(schema_findings(config, problems).await);
    findings
}

/// The schema walk's problems, or its success and then one read through the real source.
async fn schema_findings(config: &Config, problems: Vec<String>) -> Vec<Finding> {
    let mut findings = Vec::new();
    if problems.is_empty() {
        findings.push(Finding::ok(
            "every name map entry exists in the database with the expected type",
        ));
        findings.push(read_one(config).await);
    }
    findings.extend(problems.into_iter().map(Finding::fail));
    findings
}

/// Opens the real source (which prepares every query) and runs one cheap read.
async fn read_one(config: &Config) -> Finding {
    let result = async {
        let mut source = source::open(config).await?;
        source.find_by_number("").await
    }
    .await;
    match result {
        Ok(_) => Finding::ok("the login can read bookings and work orders"),
        // Not a grant problem: the connection's own error says what to check.
        Err(source::SourceError::Connection(error)) => Finding::fail(error.to_string()),
        Err(error) => Finding::fail(format!(
            "reading 1C data failed: {error}; grant the login SELECT on the mapped tables \
             (see config/alfa-calltouch.example.toml, source.user)"
        )),
    }
}

/// Collisions shown at most, so a base numbered wholly against the template gives a readable
/// answer.
const COLLISIONS_SHOWN: usize = 5;

/// The documents the next run reads, given their orderNumbers (the ones their deals already
/// have, else the template's): two deals must never share one, or the second document fails.
async fn order_numbers(config: &Config) -> Vec<Finding> {
    let result = async {
        let register = register::open(config).await?;
        let mut source = source::open(config).await?;
        let changes = pipeline::next_read(config, &mut source, &register).await?;
        let collisions = pipeline::collisions(config, &register, &changes.documents).await?;
        Ok::<_, anyhow::Error>((changes.documents.len(), collisions))
    }
    .await;
    match result {
        Ok((read, collisions)) if collisions.is_empty() => vec![Finding::ok(format!(
            "the {read} document(s) the next run reads get distinct orderNumbers \
             (deal.order_number = \"{}\")",
            config.deal.order_number
        ))],
        Ok((_, collisions)) => {
            let more = collisions.len().saturating_sub(COLLISIONS_SHOWN);
            let mut findings: Vec<Finding> = collisions
                .into_iter()
                .take(COLLISIONS_SHOWN)
                .map(Finding::fail)
                .collect();
            if more > 0 {
                findings.push(Finding::fail(format!(
                    "{more} more orderNumber collision(s) of the same kind"
                )));
            }
            findings
        }
        Err(error) => vec![Finding::fail(format!(
            "cannot read the documents the next run would send to compare their orderNumbers: \
             {error:#}"
        ))],
    }
}

/// The register opens (created or migrated) and takes a write.
async fn register(config: &Config) -> Finding {
    let result = async {
        let mut register = register::open(config).await?;
        register.schema_version().await?;
        register.probe_write().await
    }
    .await;
    let place = config.register.describe();
    match result {
        Ok(()) => Finding::ok(format!("register {place} is writable")),
        // A connection error carries its own advice, for the cause the server gave.
        Err(register::RegisterError::Connection(error)) => Finding::fail(error.to_string()),
        Err(error) => Finding::fail(format!("{error}; {}", register_advice(config))),
    }
}

/// What to do when the register cannot be written, per backend.
fn register_advice(config: &Config) -> String {
    match config.register.kind {
        RegisterKind::Sqlite => {
            let path = config.register_path();
            format!(
                "let the account that runs the tool write to {} (or set register.path)",
                path.parent()
                    .map_or(path.clone(), |p| p.to_path_buf())
                    .display()
            )
        }
        RegisterKind::Postgres | RegisterKind::Mssql => format!(
            "check register.host, register.database, register.user and its password, and \
             that the login may create in schema {} (docs/register.md, «Keeping the register on the SQL server»)",
            config.register.schema
        ),
    }
}

/// The Calltouch host resolves (the request itself needs the token and is left to `run`).
async fn calltouch_host(base_url: &str) -> Finding {
    let url = match reqwest::Url::parse(base_url) {
        Ok(url) => url,
        Err(error) => {
            return Finding::fail(format!(
                "calltouch.base_url {base_url:?} is not a URL ({error})"
            ))
        }
    };
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let resolved = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map(|mut addresses| addresses.next().is_some());
    match resolved {
        Ok(true) => Finding::ok(format!("Calltouch host {host} resolves")),
        Ok(false) => Finding::fail(format!(
            "Calltouch host {host} has no address; check this server's DNS settings"
        )),
        Err(error) => Finding::fail(format!(
            "Calltouch host {host} does not resolve ({error}); check this server's DNS and \
             internet access, or calltouch.base_url"
        )),
    }
}
