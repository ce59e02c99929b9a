//! The register kept in a schema of its own on a PostgreSQL server (`[register] kind =
//! "postgres"`), possibly the server of the 1C database but never in 1C's own schema: the
//! connection, the schema's creation and versioned migrations, the run lock the server holds,
//! and the binding of the shared statements to native column types.
//!
//! Every connection sets `search_path` to the register's schema, so the shared statements name
//! its tables unqualified. The run lock is a session advisory lock on `hashtext(schema)` taken
//! on a connection of its own: the server releases it when that connection ends, including when
//! the process holding it is killed.

mod writes;

use chrono::{NaiveDate, NaiveDateTime, SubsecRound};
use std::fmt;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row};

use self::writes::PostgresWrites;
use super::records::{
    CheckpointRow, DocumentRecord, DocumentTotal, ListFilter, Outcome, RunDurations, SendAnswer,
    SendLogEntry, SendTotal, StateCount,
};
use super::rows::{self, kept_text, StoredDeal, StoredDocument, StoredSighting};
use super::statements::{self, FilterValue};
use super::traits::{Admin, CycleStore, HeldLock, Register, RunGuard, RunLog};
use super::write::write_outcomes;
use super::RegisterError;
use crate::db::postgres::PgTarget;
use crate::db::Role;
use crate::domain::deal::DealRecord;
use crate::domain::run::RunRecord;
use crate::domain::snapshot::DocRef;
use crate::ops::lock::LockError;

/// A statement of this backend: its file under `sql/register/postgres/`.
macro_rules! sql {
    ($name:literal) => {
        include_str!(concat!("../../../sql/register/postgres/", $name, ".sql"))
    };
}

/// Each entry brings the schema from the version before it to its own (1-based) version.
const MIGRATIONS: &[&[&str]] = &[
    // Version 1: the tables and the readable view.
    &[sql!("1_tables"), statements::REGISTER_VIEW],
    &[sql!("2_account")],
];

/// The newest schema version; the `schema_version` table holds the version of a schema.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Backend-specific statements, in PostgreSQL's own spelling.
const SCHEMA_VERSION_TABLE: &str = sql!("schema_version");
const LOCK_HOLDER: &str = sql!("lock_holder");
const PROBE_WRITE: &str = sql!("probe_write");
const RUN_DURATIONS: &str = sql!("run_durations");
const DAILY_SENDS: &str = sql!("daily_sends");
const CURRENT_VERSION: &str = sql!("current_version");
const RECORD_VERSION: &str = sql!("record_version");
const VERSION_TABLE_EXISTS: &str = sql!("version_table_exists");
const MIGRATION_LOCK: &str = sql!("migration_lock");
const SCHEMA_EXISTS: &str = sql!("schema_exists");
/// `{schema}` stands for the schema's name in these two.
const CREATE_SCHEMA: &str = sql!("create_schema");
const SEARCH_PATH: &str = sql!("search_path");
const TRY_LOCK: &str = sql!("try_lock");

pub struct PostgresRegister {
    client: Client,
    /// For the run lock's own connection.
    target: PgTarget,
    schema: String,
}

/// The run lock: the connection that holds the session advisory lock. Dropping it closes the
/// connection, and the server releases the lock.
pub struct AdvisoryLock {
    _client: Client,
    place: String,
}

impl HeldLock for AdvisoryLock {}

impl fmt::Debug for AdvisoryLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AdvisoryLock({})", self.place)
    }
}

impl PostgresRegister {
    /// Connects in plain text with the given settings (tests), as [`PostgresRegister::connect`].
    pub async fn open(
        pg: tokio_postgres::Config,
        schema: &str,
    ) -> Result<PostgresRegister, RegisterError> {
        PostgresRegister::connect(PgTarget::plain(Role::Register, pg), schema).await
    }

    /// Connects, creates the schema when it is missing, and migrates it to the newest version.
    pub async fn connect(
        target: PgTarget,
        schema: &str,
    ) -> Result<PostgresRegister, RegisterError> {
        let place = describe(&target, schema);
        let open_error = |message: String| RegisterError::Open {
            place: place.clone(),
            message,
        };
        let client = target.connect().await?;
        let mut register = PostgresRegister {
            client,
            target,
            schema: schema.to_string(),
        };
        register.create_schema().await.map_err(|e| {
            open_error(format!(
                "cannot create schema {schema} ({e}); create it for the register's login as \
                 docs/register.md («Keeping the register on the SQL server») shows"
            ))
        })?;
        register
            .client
            .batch_execute(&SEARCH_PATH.replace("{schema}", schema))
            .await?;
        register.migrate().await?;
        Ok(register)
    }

    /// Creates the schema only when it is missing: the login then needs no right on the
    /// database once an administrator has created the schema for it.
    async fn create_schema(&self) -> Result<(), tokio_postgres::Error> {
        let exists = self
            .client
            .query_opt(SCHEMA_EXISTS, &[&self.schema])
            .await?
            .is_some();
        if !exists {
            let sql = CREATE_SCHEMA.replace("{schema}", &self.schema);
            self.client.batch_execute(&sql).await?;
        }
        Ok(())
    }

    /// Applies the migrations after the schema's version, each in the transaction that records
    /// it. A transaction lock keeps two processes opening a new register from both migrating.
    async fn migrate(&mut self) -> Result<(), RegisterError> {
        let place = self.place();
        let schema = self.schema.clone();
        let tx = self.client.transaction().await?;
        tx.execute(MIGRATION_LOCK, &[&schema]).await?;
        let versioned: bool = tx.query_one(VERSION_TABLE_EXISTS, &[]).await?.get(0);
        if !versioned {
            tx.batch_execute(SCHEMA_VERSION_TABLE).await?;
        }
        let found: i32 = tx.query_one(CURRENT_VERSION, &[]).await?.get(0);
        let found = i64::from(found);
        if found > SCHEMA_VERSION {
            return Err(RegisterError::TooNew {
                place,
                found,
                known: SCHEMA_VERSION,
            });
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            for step in *migration {
                tx.batch_execute(step).await?;
            }
            let version = index as i32 + 1;
            tx.execute(RECORD_VERSION, &[&version]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Who holds the run lock, as far as the server tells this login.
    async fn lock_holder(&self) -> String {
        let row = self
            .client
            .query_opt(LOCK_HOLDER, &[&self.schema])
            .await
            .ok()
            .flatten();
        match row {
            Some(row) => {
                let name: Option<String> = row.get(0);
                let from: Option<String> = row.get(1);
                let since: Option<String> = row.get(2);
                format!(
                    "{} from {} since {}",
                    name.filter(|n| !n.is_empty())
                        .unwrap_or_else(|| "a session".into()),
                    from.unwrap_or_else(|| "an unknown host".into()),
                    since.unwrap_or_default()
                )
            }
            None => "another session".to_string(),
        }
    }
}

/// `host:port/database schema name`, for messages.
fn describe(target: &PgTarget, schema: &str) -> String {
    format!("{} schema {schema}", target.place())
}

/// Times are kept to the second, as the SQLite backend keeps them.
pub(super) fn seconds(time: NaiveDateTime) -> NaiveDateTime {
    time.trunc_subsecs(0)
}

impl Register for PostgresRegister {
    fn place(&self) -> String {
        describe(&self.target, &self.schema)
    }

    async fn schema_version(&self) -> Result<i64, RegisterError> {
        let version: i32 = self.client.query_one(CURRENT_VERSION, &[]).await?.get(0);
        Ok(i64::from(version))
    }

    /// Needs the same rights a cycle needs, and rolls back.
    async fn probe_write(&mut self) -> Result<(), RegisterError> {
        let tx = self.client.transaction().await?;
        tx.execute(PROBE_WRITE, &[]).await?;
        tx.rollback().await?;
        Ok(())
    }
}

impl CycleStore for PostgresRegister {
    async fn checkpoint(&self, source: &str) -> Result<CheckpointRow, RegisterError> {
        let row = self
            .client
            .query_opt(statements::CHECKPOINT, &[&source])
            .await?;
        Ok(
            row.map_or_else(CheckpointRow::default, |row| CheckpointRow {
                checkpoint: row.get(0),
                since: row.get(1),
            }),
        )
    }

    async fn save_checkpoint(
        &self,
        source: &str,
        checkpoint: &str,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        self.client
            .execute(
                statements::SAVE_CHECKPOINT,
                &[&source, &checkpoint, &seconds(now)],
            )
            .await?;
        Ok(())
    }

    async fn deal(&self, order_number: &str) -> Result<Option<DealRecord>, RegisterError> {
        let row = self
            .client
            .query_opt(statements::DEAL, &[&order_number])
            .await?;
        row.map(|row| {
            StoredDeal {
                order_number: row.get(0),
                root: row.get(1),
                driver: row.get(2),
                driver_kind: row.get(3),
                status: row.get(4),
                revenue: row.get(5),
                manager: row.get(6),
                driver_date: row.get(7),
                account: row.get(8),
            }
            .into_record()
        })
        .transpose()
    }

    async fn document(&self, reference: DocRef) -> Result<Option<DocumentRecord>, RegisterError> {
        let sql = format!("{} WHERE reference = $1", statements::DOCUMENT_COLUMNS);
        let row = self
            .client
            .query_opt(&sql, &[&reference.to_uuid_string()])
            .await?;
        row.map(|row| read_document_row(&row).into_record())
            .transpose()
    }

    async fn state_seen_at(
        &self,
        reference: DocRef,
        state: Option<&str>,
    ) -> Result<Option<Option<NaiveDateTime>>, RegisterError> {
        let row = self
            .client
            .query_opt(statements::STATE_SEEN, &[&reference.to_uuid_string()])
            .await?;
        let stored = row.map(|row| StoredSighting {
            state: row.get(0),
            since: row.get(1),
        });
        Ok(rows::seen_in_state(stored, state))
    }

    async fn list(&self, filter: &ListFilter) -> Result<Vec<DocumentRecord>, RegisterError> {
        let (sql, values) = statements::list(filter);
        let values: Vec<Box<dyn ToSql + Sync>> = values
            .into_iter()
            .map(|value| -> Box<dyn ToSql + Sync> {
                match value {
                    FilterValue::Text(text) => Box::new(text),
                    FilterValue::Time(time) => Box::new(time),
                }
            })
            .collect();
        let parameters: Vec<&(dyn ToSql + Sync)> = values.iter().map(AsRef::as_ref).collect();
        let rows = self.client.query(&sql, &parameters).await?;
        rows.iter()
            .map(|row| read_document_row(row).into_record())
            .collect()
    }

    async fn record_outcomes(
        &mut self,
        outcomes: &[Outcome<'_>],
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let tx = self.client.transaction().await?;
        write_outcomes(&mut PostgresWrites(&tx), outcomes, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn prune_send_log(&mut self, before: NaiveDateTime) -> Result<u64, RegisterError> {
        Ok(self
            .client
            .execute(statements::PRUNE_SEND_LOG, &[&seconds(before)])
            .await?)
    }
}

impl RunLog for PostgresRegister {
    async fn lock_run(&self) -> Result<RunGuard, LockError> {
        let place = format!("advisory lock of {}", self.place());
        let server_error = |error: tokio_postgres::Error| LockError::Server {
            place: place.clone(),
            message: error.to_string(),
        };
        let mut target = self.target.clone();
        let name = format!("alfa-calltouch run, pid {}", std::process::id());
        target.config_mut().application_name(&name);
        let client = target.connect().await.map_err(|e| LockError::Server {
            place: place.clone(),
            message: e.to_string(),
        })?;
        let taken: bool = client
            .query_one(TRY_LOCK, &[&self.schema])
            .await
            .map_err(server_error)?
            .get(0);
        if !taken {
            return Err(LockError::Busy {
                path: place.clone(),
                holder: self.lock_holder().await,
            });
        }
        Ok(RunGuard::new(AdvisoryLock {
            _client: client,
            place,
        }))
    }

    async fn record_run(
        &self,
        started_at: NaiveDateTime,
        finished_at: NaiveDateTime,
        outcome: &str,
        summary: &str,
    ) -> Result<(), RegisterError> {
        self.client
            .execute(
                statements::RECORD_RUN,
                &[
                    &seconds(started_at),
                    &seconds(finished_at),
                    &outcome,
                    &kept_text(Some(summary)),
                ],
            )
            .await?;
        Ok(())
    }

    async fn last_run(&self) -> Result<Option<RunRecord>, RegisterError> {
        let row = self.client.query_opt(statements::LAST_RUN, &[]).await?;
        Ok(row.as_ref().map(read_run_row))
    }

    async fn recent_runs(&self, limit: u32) -> Result<Vec<RunRecord>, RegisterError> {
        let rows = self
            .client
            .query(statements::RECENT_RUNS, &[&i64::from(limit)])
            .await?;
        Ok(rows.iter().map(read_run_row).collect())
    }

    async fn run_durations(&self) -> Result<Vec<RunDurations>, RegisterError> {
        let rows = self.client.query(RUN_DURATIONS, &[]).await?;
        Ok(rows
            .iter()
            .map(|row| RunDurations {
                outcome: row.get(0),
                seconds: row.get(1),
                count: row.get::<_, i64>(2) as u64,
            })
            .collect())
    }

    async fn last_success(&self) -> Result<Option<NaiveDateTime>, RegisterError> {
        let row = self.client.query_one(statements::LAST_SUCCESS, &[]).await?;
        Ok(row.get(0))
    }
}

impl Admin for PostgresRegister {
    async fn reset_checkpoint(
        &self,
        source: &str,
        since: Option<NaiveDate>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        self.client
            .execute(
                statements::RESET_CHECKPOINT,
                &[&source, &since, &seconds(now)],
            )
            .await?;
        Ok(())
    }

    async fn requeue(&self, number: &str, now: NaiveDateTime) -> Result<usize, RegisterError> {
        let count = self
            .client
            .execute(statements::REQUEUE, &[&number.trim(), &seconds(now)])
            .await?;
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }

    async fn counts(&self) -> Result<Vec<StateCount>, RegisterError> {
        let rows = self.client.query(statements::COUNTS, &[]).await?;
        rows.iter()
            .map(|row| {
                Ok(StateCount {
                    state: rows::parse_state(row.get(0))?,
                    count: row.get::<_, i64>(1) as u64,
                })
            })
            .collect()
    }

    async fn document_totals(&self) -> Result<Vec<DocumentTotal>, RegisterError> {
        let rows = self.client.query(statements::DOCUMENT_TOTALS, &[]).await?;
        rows.iter()
            .map(|row| {
                Ok(DocumentTotal {
                    kind: rows::parse_kind(row.get(0))?,
                    state: rows::parse_state(row.get(1))?,
                    with_error: row.get::<_, i32>(2) != 0,
                    count: row.get::<_, i64>(3) as u64,
                })
            })
            .collect()
    }

    async fn send_totals(&self) -> Result<Vec<SendTotal>, RegisterError> {
        let rows = self.client.query(statements::SEND_TOTALS, &[]).await?;
        Ok(rows
            .iter()
            .map(|row| SendTotal {
                day: None,
                endpoint: row.get(0),
                outcome: row.get(1),
                count: row.get::<_, i64>(2) as u64,
            })
            .collect())
    }

    async fn daily_sends(&self, since: NaiveDateTime) -> Result<Vec<SendTotal>, RegisterError> {
        let rows = self.client.query(DAILY_SENDS, &[&seconds(since)]).await?;
        Ok(rows
            .iter()
            .map(|row| SendTotal {
                day: Some(row.get(0)),
                endpoint: row.get(1),
                outcome: row.get(2),
                count: row.get::<_, i64>(3) as u64,
            })
            .collect())
    }

    async fn last_answer(&self, reference: DocRef) -> Result<Option<SendAnswer>, RegisterError> {
        let reference = reference.to_uuid_string();
        let row = self
            .client
            .query_opt(statements::LAST_ANSWER, &[&reference])
            .await?;
        Ok(row.map(|row| SendAnswer {
            at: row.get(0),
            endpoint: row.get(1),
            outcome: row.get(2),
            detail: row.get(3),
        }))
    }

    async fn dump_send_log(&self) -> Result<Vec<SendLogEntry>, RegisterError> {
        let rows = self.client.query(statements::SEND_LOG, &[]).await?;
        Ok(rows
            .iter()
            .map(|row| SendLogEntry {
                endpoint: row.get(0),
                order_number: row.get(1),
                request: row.get(2),
                outcome: row.get(3),
            })
            .collect())
    }
}

fn read_document_row(row: &Row) -> StoredDocument {
    let attempts: i32 = row.get(10);
    StoredDocument {
        kind: row.get(0),
        reference: row.get(1),
        number: row.get(2),
        date: row.get(3),
        order_number: row.get(4),
        state: row.get(5),
        onec_state: row.get(6),
        last_status: row.get(7),
        last_revenue: row.get(8),
        last_manager: row.get(9),
        attempts: i64::from(attempts),
        last_error: row.get(11),
        updated_at: row.get(12),
    }
}

/// A runs row: started, finished, outcome, summary.
fn read_run_row(row: &Row) -> RunRecord {
    RunRecord {
        started_at: row.get(0),
        finished_at: row.get(1),
        outcome: row.get(2),
        summary: row.get(3),
    }
}
