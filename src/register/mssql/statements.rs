//! The register's T-SQL for MS SQL Server: every statement it sends, one file each under
//! `sql/register/mssql/`, named by [`Tsql`] and rendered for the configured schema. The tests
//! parse every statement as T-SQL and check that no bare identifier is a T-SQL reserved word
//! (every name is written `[name]`: `checkpoint` is one); an ignored test runs the register on
//! the server `MSSQL_TEST_URL` names.
//!
//! T-SQL differs from the statements SQLite and PostgreSQL share in three ways that matter
//! here: upserts are `MERGE` instead of `ON CONFLICT` (every writer holds the run lock, so no
//! two upserts race), parameters are `@Pn`, and `TOP (1)` replaces `LIMIT 1`. The run lock is
//! `sp_getapplock` with a session owner (`lock held` tells whether it was granted), released by
//! the server when the session ends.

use super::super::write::WriteStatement;
use std::ops::Index;

/// The newest schema version on MS SQL.
pub const SCHEMA_VERSION: i64 = 2;

/// One statement, rendered for a schema, with its name for messages and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub name: &'static str,
    pub sql: String,
}

/// Every statement the register sends outside its migrations. A name is a variant, so a
/// statement that does not exist cannot be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tsql {
    // Schema and version bookkeeping, run before any migration. Each `CREATE` runs only when
    // its `exists` query answered NULL, so a login given a ready schema needs no right on the
    // database. `CREATE SCHEMA` is alone in its batch.
    SchemaExists,
    CreateSchema,
    SchemaVersionExists,
    SchemaVersionTable,
    CurrentVersion,
    RecordVersion,
    // The register's operations.
    LockRun,
    LockHeld,
    ProbeWrite,
    Checkpoint,
    SaveCheckpoint,
    ResetCheckpoint,
    Deal,
    Document,
    StateSeenAt,
    UpsertDocument,
    MarkPending,
    MarkSent,
    UpsertDeal,
    MarkSettled,
    RecordFailed,
    InsertSendLog,
    Requeue,
    List,
    Counts,
    SendLog,
    PruneSendLog,
    RecordRun,
    LastRun,
    // The status page's reads; their columns are read by position.
    RecentRuns,
    RunDurations,
    LastSuccess,
    DocumentTotals,
    SendTotals,
    DailySends,
    LastAnswer,
}

/// The bookkeeping statements, in the order they run.
const BOOTSTRAP: [Tsql; 6] = [
    Tsql::SchemaExists,
    Tsql::CreateSchema,
    Tsql::SchemaVersionExists,
    Tsql::SchemaVersionTable,
    Tsql::CurrentVersion,
    Tsql::RecordVersion,
];

/// The operations' statements.
const OPERATIONS: [Tsql; 30] = [
    Tsql::LockRun,
    Tsql::LockHeld,
    Tsql::ProbeWrite,
    Tsql::Checkpoint,
    Tsql::SaveCheckpoint,
    Tsql::ResetCheckpoint,
    Tsql::Deal,
    Tsql::Document,
    Tsql::StateSeenAt,
    Tsql::UpsertDocument,
    Tsql::MarkPending,
    Tsql::MarkSent,
    Tsql::UpsertDeal,
    Tsql::MarkSettled,
    Tsql::RecordFailed,
    Tsql::InsertSendLog,
    Tsql::Requeue,
    Tsql::List,
    Tsql::Counts,
    Tsql::SendLog,
    Tsql::PruneSendLog,
    Tsql::RecordRun,
    Tsql::LastRun,
    Tsql::RecentRuns,
    Tsql::RunDurations,
    Tsql::LastSuccess,
    Tsql::DocumentTotals,
    Tsql::SendTotals,
    Tsql::DailySends,
    Tsql::LastAnswer,
];

/// Every statement, in the order of the enum: [`Rendered`] is indexed by it.
const ALL: [Tsql; 36] = {
    let mut all = [Tsql::SchemaExists; 36];
    let mut i = 0;
    while i < BOOTSTRAP.len() {
        all[i] = BOOTSTRAP[i];
        i += 1;
    }
    while i < all.len() {
        all[i] = OPERATIONS[i - BOOTSTRAP.len()];
        i += 1;
    }
    all
};

impl Tsql {
    /// The T-SQL of a write statement.
    pub(crate) fn write(statement: WriteStatement) -> Tsql {
        match statement {
            WriteStatement::UpsertDocument => Tsql::UpsertDocument,
            WriteStatement::MarkPending => Tsql::MarkPending,
            WriteStatement::MarkSent => Tsql::MarkSent,
            WriteStatement::UpsertDeal => Tsql::UpsertDeal,
            WriteStatement::MarkSettled => Tsql::MarkSettled,
            WriteStatement::RecordFailed => Tsql::RecordFailed,
            WriteStatement::InsertSendLog => Tsql::InsertSendLog,
        }
    }

    /// The statement's name in messages and tests.
    pub fn name(self) -> &'static str {
        match self {
            Tsql::SchemaExists => "schema exists",
            Tsql::CreateSchema => "create schema",
            Tsql::SchemaVersionExists => "schema version exists",
            Tsql::SchemaVersionTable => "schema version table",
            Tsql::CurrentVersion => "current version",
            Tsql::RecordVersion => "record version",
            Tsql::LockRun => "lock run",
            Tsql::LockHeld => "lock held",
            Tsql::ProbeWrite => "probe write",
            Tsql::Checkpoint => "checkpoint",
            Tsql::SaveCheckpoint => "save checkpoint",
            Tsql::ResetCheckpoint => "reset checkpoint",
            Tsql::Deal => "deal",
            Tsql::Document => "document",
            Tsql::StateSeenAt => "state seen at",
            Tsql::UpsertDocument => "upsert document",
            Tsql::MarkPending => "mark pending",
            Tsql::MarkSent => "mark sent",
            Tsql::UpsertDeal => "upsert deal",
            Tsql::MarkSettled => "mark settled",
            Tsql::RecordFailed => "record failed",
            Tsql::InsertSendLog => "insert send log",
            Tsql::Requeue => "requeue",
            Tsql::List => "list",
            Tsql::Counts => "counts",
            Tsql::SendLog => "send log",
            Tsql::PruneSendLog => "prune send log",
            Tsql::RecordRun => "record run",
            Tsql::LastRun => "last run",
            Tsql::RecentRuns => "recent runs",
            Tsql::RunDurations => "run durations",
            Tsql::LastSuccess => "last success",
            Tsql::DocumentTotals => "document totals",
            Tsql::SendTotals => "send totals",
            Tsql::DailySends => "daily sends",
            Tsql::LastAnswer => "last answer",
        }
    }

    /// The statement with `{schema}` where the schema's name goes.
    fn template(self) -> &'static str {
        macro_rules! file {
            ($name:literal) => {
                include_str!(concat!("../../../sql/register/mssql/", $name, ".sql"))
            };
        }
        match self {
            Tsql::SchemaExists => file!("schema_exists"),
            Tsql::CreateSchema => file!("create_schema"),
            Tsql::SchemaVersionExists => file!("schema_version_exists"),
            Tsql::SchemaVersionTable => file!("schema_version_table"),
            Tsql::CurrentVersion => file!("current_version"),
            Tsql::RecordVersion => file!("record_version"),
            Tsql::LockRun => file!("lock_run"),
            Tsql::LockHeld => file!("lock_held"),
            Tsql::ProbeWrite => file!("probe_write"),
            Tsql::Checkpoint => file!("checkpoint"),
            Tsql::SaveCheckpoint => file!("save_checkpoint"),
            Tsql::ResetCheckpoint => file!("reset_checkpoint"),
            Tsql::Deal => file!("deal"),
            Tsql::Document => file!("document"),
            Tsql::StateSeenAt => file!("state_seen_at"),
            Tsql::UpsertDocument => file!("upsert_document"),
            Tsql::MarkPending => file!("mark_pending"),
            Tsql::MarkSent => file!("mark_sent"),
            Tsql::UpsertDeal => file!("upsert_deal"),
            Tsql::MarkSettled => file!("mark_settled"),
            Tsql::RecordFailed => file!("record_failed"),
            Tsql::InsertSendLog => file!("insert_send_log"),
            Tsql::Requeue => file!("requeue"),
            Tsql::List => file!("list"),
            Tsql::Counts => file!("counts"),
            Tsql::SendLog => file!("send_log"),
            Tsql::PruneSendLog => file!("prune_send_log"),
            Tsql::RecordRun => file!("record_run"),
            Tsql::LastRun => file!("last_run"),
            Tsql::RecentRuns => file!("recent_runs"),
            Tsql::RunDurations => file!("run_durations"),
            Tsql::LastSuccess => file!("last_success"),
            Tsql::DocumentTotals => file!("document_totals"),
            Tsql::SendTotals => file!("send_totals"),
            Tsql::DailySends => file!("daily_sends"),
            Tsql::LastAnswer => file!("last_answer"),
        }
    }

    fn render(self, schema: &str) -> Statement {
        Statement {
            name: self.name(),
            sql: render(self.template(), schema),
        }
    }
}

/// The migration that brings the schema from the version before to its own (1-based); each
/// holds batches separated by lines `GO`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    include_str!("../../../sql/register/mssql/1_tables.sql"),
    include_str!("../../../sql/register/mssql/2_account.sql"),
];

fn render(template: &str, schema: &str) -> String {
    template.replace("{schema}", schema)
}

/// Every statement rendered once for a schema, read by [`Tsql`].
#[derive(Debug)]
pub struct Rendered(Vec<String>);

impl Rendered {
    pub fn new(schema: &str) -> Rendered {
        Rendered(ALL.iter().map(|s| s.render(schema).sql).collect())
    }
}

impl Index<Tsql> for Rendered {
    type Output = str;

    fn index(&self, statement: Tsql) -> &str {
        // `ALL` lists the variants in declaration order (a test holds it to that).
        &self.0[statement as usize]
    }
}

/// The schema and version bookkeeping, run before any migration.
pub fn bootstrap(schema: &str) -> Vec<Statement> {
    BOOTSTRAP.iter().map(|s| s.render(schema)).collect()
}

/// The statements of migration `version` (1-based), each its own batch.
pub fn migration(version: i64, schema: &str) -> Vec<Statement> {
    let file = usize::try_from(version - 1)
        .ok()
        .and_then(|index| MIGRATIONS.get(index));
    let Some(file) = file else {
        return Vec::new();
    };
    batches(file)
        .map(|sql| Statement {
            name: "migration",
            sql: render(sql, schema),
        })
        .collect()
}

/// The batches of a file, split at lines `GO`.
fn batches(file: &str) -> impl Iterator<Item = &str> {
    file.split("\nGO\n")
        .map(str::trim)
        .filter(|b| !b.is_empty())
}

/// Every statement of the register's operations.
pub fn operations(schema: &str) -> Vec<Statement> {
    OPERATIONS.iter().map(|s| s.render(schema)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_statement_is_indexed_by_its_own_variant() {
        let rendered = Rendered::new("register_test");
        for (index, statement) in ALL.iter().enumerate() {
            assert_eq!(*statement as usize, index, "{}", statement.name());
            assert_eq!(
                &rendered[*statement],
                render(statement.template(), "register_test")
            );
            assert!(
                rendered[*statement].contains("register_test"),
                "{}",
                statement.name()
            );
        }
    }

    #[test]
    fn the_first_migration_creates_each_table_in_a_batch_of_its_own() {
        let steps = migration(1, "s");
        assert_eq!(steps.len(), 8);
        assert!(steps[7].sql.contains("CREATE VIEW [s].[register_view]"));
        assert!(steps.iter().all(|s| !s.sql.contains("\nGO")));
        assert_eq!(migration(2, "s").len(), 1);
        assert!(migration(3, "s").is_empty() && migration(0, "s").is_empty());
    }
}
