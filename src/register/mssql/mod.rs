//! The register on MS SQL Server (`[register] kind = "mssql"`): the connection, the schema's
//! creation and versioned migration, the run lock, and every operation of the register, run
//! through tiberius with the T-SQL of `statements`; `rows` decodes what they return.
//!
//! The connection is made by [`crate::db::mssql`] from `[register]`'s own keys, which are the
//! source's: host and port or a named instance, `tls`, `ca_file`, `trust_server_certificate`
//! as an explicit opt-in, a SQL Server login or integrated authentication. The password goes
//! only to the server.
//!
//! tiberius has no transaction object: a write sends `BEGIN TRANSACTION` as a batch of its own,
//! then its statements, then `COMMIT TRANSACTION`, or `ROLLBACK TRANSACTION` when a step
//! failed. The run lock is an `sp_getapplock` session lock taken on a second connection; the
//! server releases it when that connection ends, including when the process is killed.

mod rows;
mod statements;
mod writes;

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime, SubsecRound};
use tiberius::ToSql;
use tokio::sync::Mutex;

use self::rows::{
    at, count_at, missing, read_checkpoint, read_deal, read_document, read_run, run_at, text,
    text_at, time,
};
pub use self::statements::{bootstrap, migration, operations, Statement, SCHEMA_VERSION};
use self::statements::{Rendered, Tsql};
use self::writes::MssqlWrites;
use super::records::{
    CheckpointRow, DocumentRecord, DocumentTotal, ListFilter, Outcome, RunDurations, SendAnswer,
    SendLogEntry, SendTotal, StateCount, SyncState,
};
use super::rows::{self as stored, kept_text, StoredSighting};
use super::statements::date_bounds;
use super::traits::{Admin, CycleStore, HeldLock, Register, RunGuard, RunLog};
use super::write::write_outcomes;
use super::RegisterError;
use crate::db::mssql::{MssqlRow, MssqlTarget, TdsClient};
use crate::domain::deal::DealRecord;
use crate::domain::run::RunRecord;
use crate::domain::snapshot::DocRef;
use crate::ops::lock::LockError;

pub struct MssqlRegister {
    /// The data connection; tiberius needs it mutably even to read.
    client: Mutex<TdsClient>,
    /// For the run lock's own connection.
    target: MssqlTarget,
    schema: String,
    sql: Rendered,
}

/// The run lock: the connection whose session holds the application lock. Dropping it closes
/// the connection, and the server releases the lock.
pub struct AppLock {
    /// Boxed: a tiberius client is large, and the guard is moved around as a `RunGuard`.
    _client: Box<TdsClient>,
    place: String,
}

impl HeldLock for AppLock {}

impl fmt::Debug for AppLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AppLock({})", self.place)
    }
}

impl MssqlRegister {
    /// Connects, creates the schema when it is missing, and migrates it to the newest version.
    pub async fn open(target: MssqlTarget, schema: &str) -> Result<MssqlRegister, RegisterError> {
        let place = describe(&target, schema);
        let open_error = |message: String| RegisterError::Open {
            place: place.clone(),
            message,
        };
        let client = target.connect().await?;
        let mut register = MssqlRegister {
            client: Mutex::new(client),
            target,
            schema: schema.to_string(),
            sql: Rendered::new(schema),
        };
        register.create_schema().await.map_err(|e| {
            open_error(format!(
                "cannot create schema {schema} ({e}); create it for the register's login as \
                 docs/register.md shows (\"Keeping the register on the SQL server\")"
            ))
        })?;
        register.migrate().await?;
        Ok(register)
    }

    /// Creates the schema and the version table only when they are missing: the login then
    /// needs no right on the database once an administrator has created the schema for it.
    async fn create_schema(&mut self) -> Result<(), RegisterError> {
        let client = self.client.get_mut();
        for (exists, create) in [
            (Tsql::SchemaExists, Tsql::CreateSchema),
            (Tsql::SchemaVersionExists, Tsql::SchemaVersionTable),
        ] {
            if scalar_id(client, &self.sql[exists]).await?.is_none() {
                batch(client, &self.sql[create]).await?;
            }
        }
        Ok(())
    }

    /// Applies the migrations after the schema's version, each in the transaction that records
    /// it.
    async fn migrate(&mut self) -> Result<(), RegisterError> {
        let place = self.place();
        let found = self.schema_version().await?;
        if found > SCHEMA_VERSION {
            return Err(RegisterError::TooNew {
                place,
                found,
                known: SCHEMA_VERSION,
            });
        }
        let client = self.client.get_mut();
        for version in found + 1..=SCHEMA_VERSION {
            let steps = migration(version, &self.schema);
            let record = &self.sql[Tsql::RecordVersion];
            let number = i32::try_from(version).unwrap_or(i32::MAX);
            in_transaction(client, async |client| {
                for step in &steps {
                    batch(client, &step.sql).await?;
                }
                client.execute(record, &[&number]).await?;
                Ok(())
            })
            .await?;
        }
        Ok(())
    }
}

/// `host:port/database schema name`, for messages.
fn describe(target: &MssqlTarget, schema: &str) -> String {
    format!("{} schema {schema}", target.place())
}

/// Times are kept to the second, as the other backends keep them (`datetime2(0)`).
pub(super) fn seconds(time: NaiveDateTime) -> NaiveDateTime {
    time.trunc_subsecs(0)
}

/// Runs one statement alone in its batch, discarding what it returns.
pub(super) async fn batch(client: &mut TdsClient, sql: &str) -> Result<(), RegisterError> {
    client.simple_query(sql).await?.into_results().await?;
    Ok(())
}

/// Every row of the first result of one statement.
async fn rows(
    client: &mut TdsClient,
    sql: &str,
    params: &[&dyn ToSql],
) -> Result<Vec<tiberius::Row>, RegisterError> {
    Ok(client.query(sql, params).await?.into_first_result().await?)
}

/// The first row of one statement, decoded by column name.
async fn first_row(
    client: &mut TdsClient,
    sql: &str,
    params: &[&dyn ToSql],
) -> Result<Option<MssqlRow>, RegisterError> {
    let row = client.query(sql, params).await?.into_row().await?;
    Ok(row.map(MssqlRow::from_row))
}

/// The `int` a `SCHEMA_ID` / `OBJECT_ID` query answers: NULL when the object is missing.
async fn scalar_id(client: &mut TdsClient, sql: &str) -> Result<Option<i32>, RegisterError> {
    let row = client.query(sql, &[]).await?.into_row().await?;
    Ok(row
        .map(|row| row.try_get::<i32, _>(0))
        .transpose()?
        .flatten())
}

/// Runs `work` in one transaction: committed when it succeeds, rolled back when it fails.
async fn in_transaction<T>(
    client: &mut TdsClient,
    work: impl AsyncFnOnce(&mut TdsClient) -> Result<T, RegisterError>,
) -> Result<T, RegisterError> {
    batch(client, "BEGIN TRANSACTION").await?;
    match work(client).await {
        Ok(value) => {
            batch(client, "COMMIT TRANSACTION").await?;
            Ok(value)
        }
        Err(error) => {
            // The step's error is the one to report. An error that already ended the
            // transaction makes this rollback fail too, with nothing left to undo.
            let _ = batch(client, "ROLLBACK TRANSACTION").await;
            Err(error)
        }
    }
}

impl Register for MssqlRegister {
    fn place(&self) -> String {
        describe(&self.target, &self.schema)
    }

    async fn schema_version(&self) -> Result<i64, RegisterError> {
        let mut client = self.client.lock().await;
        let rows = rows(&mut client, &self.sql[Tsql::CurrentVersion], &[]).await?;
        let version = rows
            .first()
            .map(|row| row.try_get::<i32, _>(0))
            .transpose()?
            .flatten();
        Ok(i64::from(version.unwrap_or(0)))
    }

    /// Needs the same rights a cycle needs, and rolls back.
    async fn probe_write(&mut self) -> Result<(), RegisterError> {
        batch(self.client.get_mut(), &self.sql[Tsql::ProbeWrite]).await
    }
}

impl CycleStore for MssqlRegister {
    async fn checkpoint(&self, source: &str) -> Result<CheckpointRow, RegisterError> {
        let mut client = self.client.lock().await;
        let row = first_row(&mut client, &self.sql[Tsql::Checkpoint], &[&source]).await?;
        row.map_or_else(|| Ok(CheckpointRow::default()), |row| read_checkpoint(&row))
    }

    async fn save_checkpoint(
        &self,
        source: &str,
        checkpoint: &str,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let mut client = self.client.lock().await;
        let sql = &self.sql[Tsql::SaveCheckpoint];
        client
            .execute(sql, &[&source, &checkpoint, &seconds(now)])
            .await?;
        Ok(())
    }

    async fn deal(&self, order_number: &str) -> Result<Option<DealRecord>, RegisterError> {
        let mut client = self.client.lock().await;
        let row = first_row(&mut client, &self.sql[Tsql::Deal], &[&order_number]).await?;
        row.map(|row| read_deal(&row)?.into_record()).transpose()
    }

    async fn document(&self, reference: DocRef) -> Result<Option<DocumentRecord>, RegisterError> {
        let mut client = self.client.lock().await;
        let reference = reference.to_uuid_string();
        let row = first_row(&mut client, &self.sql[Tsql::Document], &[&reference]).await?;
        row.map(|row| read_document(&row)?.into_record())
            .transpose()
    }

    async fn state_seen_at(
        &self,
        reference: DocRef,
        state: Option<&str>,
    ) -> Result<Option<Option<NaiveDateTime>>, RegisterError> {
        let mut client = self.client.lock().await;
        let reference = reference.to_uuid_string();
        let sql = &self.sql[Tsql::StateSeenAt];
        let row = first_row(&mut client, sql, &[&reference]).await?;
        let stored = row
            .map(|row| -> Result<_, RegisterError> {
                Ok(StoredSighting {
                    state: text(&row, "onec_state")?,
                    since: time(&row, "state_seen_at")?,
                })
            })
            .transpose()?;
        Ok(stored::seen_in_state(stored, state))
    }

    async fn list(&self, filter: &ListFilter) -> Result<Vec<DocumentRecord>, RegisterError> {
        let (from, below) = date_bounds(filter);
        let params: [&dyn ToSql; 6] = [
            &filter.state.map(SyncState::code),
            &filter.kind.map(|kind| kind.code()),
            &filter.number.as_deref().map(str::trim),
            &from,
            &below,
            &i32::from(filter.with_errors),
        ];
        let mut client = self.client.lock().await;
        let rows = rows(&mut client, &self.sql[Tsql::List], &params).await?;
        rows.into_iter()
            .map(|row| read_document(&MssqlRow::from_row(row))?.into_record())
            .collect()
    }

    async fn record_outcomes(
        &mut self,
        outcomes: &[Outcome<'_>],
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let sql = &self.sql;
        in_transaction(self.client.get_mut(), async |client| {
            write_outcomes(&mut MssqlWrites { client, sql }, outcomes, now).await
        })
        .await
    }

    async fn prune_send_log(&mut self, before: NaiveDateTime) -> Result<u64, RegisterError> {
        let client = self.client.get_mut();
        let params: [&dyn ToSql; 1] = [&seconds(before)];
        let result = client
            .execute(&self.sql[Tsql::PruneSendLog], &params)
            .await?;
        Ok(result.total())
    }
}

impl RunLog for MssqlRegister {
    async fn lock_run(&self) -> Result<RunGuard, LockError> {
        let place = format!("application lock of {}", self.place());
        let server_error = |message: String| LockError::Server {
            place: place.clone(),
            message,
        };
        let mut client = self
            .target
            .connect()
            .await
            .map_err(|e| server_error(e.to_string()))?;
        let mode = take_app_lock(&mut client, &self.sql)
            .await
            .map_err(|e| server_error(e.to_string()))?;
        if mode.as_deref() != Some("Exclusive") {
            // Which session holds it needs VIEW SERVER STATE, which the login lacks.
            return Err(LockError::Busy {
                path: place.clone(),
                holder: "another session".to_string(),
            });
        }
        Ok(RunGuard::new(AppLock {
            _client: Box::new(client),
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
        let mut client = self.client.lock().await;
        let params: [&dyn ToSql; 4] = [
            &seconds(started_at),
            &seconds(finished_at),
            &outcome,
            &kept_text(Some(summary)),
        ];
        client.execute(&self.sql[Tsql::RecordRun], &params).await?;
        Ok(())
    }

    async fn last_run(&self) -> Result<Option<RunRecord>, RegisterError> {
        let mut client = self.client.lock().await;
        let row = first_row(&mut client, &self.sql[Tsql::LastRun], &[]).await?;
        row.map(|row| read_run(&row)).transpose()
    }

    async fn recent_runs(&self, limit: u32) -> Result<Vec<RunRecord>, RegisterError> {
        let mut client = self.client.lock().await;
        let limit = i64::from(limit);
        let rows = rows(&mut client, &self.sql[Tsql::RecentRuns], &[&limit]).await?;
        rows.iter().map(run_at).collect()
    }

    async fn run_durations(&self) -> Result<Vec<RunDurations>, RegisterError> {
        let mut client = self.client.lock().await;
        let rows = rows(&mut client, &self.sql[Tsql::RunDurations], &[]).await?;
        rows.iter()
            .map(|row| {
                Ok(RunDurations {
                    outcome: text_at(row, 0, "outcome")?,
                    seconds: row.try_get::<i64, _>(1)?.unwrap_or(0),
                    count: count_at(row, 2)?,
                })
            })
            .collect()
    }

    async fn last_success(&self) -> Result<Option<NaiveDateTime>, RegisterError> {
        let mut client = self.client.lock().await;
        let rows = rows(&mut client, &self.sql[Tsql::LastSuccess], &[]).await?;
        match rows.first() {
            Some(row) => Ok(row.try_get::<NaiveDateTime, _>(0)?),
            None => Ok(None),
        }
    }
}

impl Admin for MssqlRegister {
    async fn reset_checkpoint(
        &self,
        source: &str,
        since: Option<NaiveDate>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let mut client = self.client.lock().await;
        let sql = &self.sql[Tsql::ResetCheckpoint];
        client
            .execute(sql, &[&source, &since, &seconds(now)])
            .await?;
        Ok(())
    }

    async fn requeue(&self, number: &str, now: NaiveDateTime) -> Result<usize, RegisterError> {
        let mut client = self.client.lock().await;
        let sql = &self.sql[Tsql::Requeue];
        let done = client
            .execute(sql, &[&number.trim(), &seconds(now)])
            .await?;
        Ok(usize::try_from(done.total()).unwrap_or(usize::MAX))
    }

    async fn counts(&self) -> Result<Vec<StateCount>, RegisterError> {
        let mut client = self.client.lock().await;
        let rows = rows(&mut client, &self.sql[Tsql::Counts], &[]).await?;
        // `COUNT_BIG(*)` has no column name: read by position.
        rows.iter()
            .map(|row| {
                let state = row.try_get::<&str, _>(0)?.unwrap_or_default();
                Ok(StateCount {
                    state: stored::parse_state(state)?,
                    count: count_at(row, 1)?,
                })
            })
            .collect()
    }

    async fn document_totals(&self) -> Result<Vec<DocumentTotal>, RegisterError> {
        let mut client = self.client.lock().await;
        let rows = rows(&mut client, &self.sql[Tsql::DocumentTotals], &[]).await?;
        rows.iter()
            .map(|row| {
                Ok(DocumentTotal {
                    kind: stored::parse_kind(&text_at(row, 0, "kind")?)?,
                    state: stored::parse_state(&text_at(row, 1, "state")?)?,
                    with_error: row.try_get::<i32, _>(2)?.unwrap_or(0) != 0,
                    count: count_at(row, 3)?,
                })
            })
            .collect()
    }

    async fn send_totals(&self) -> Result<Vec<SendTotal>, RegisterError> {
        let mut client = self.client.lock().await;
        let rows = rows(&mut client, &self.sql[Tsql::SendTotals], &[]).await?;
        rows.iter()
            .map(|row| {
                Ok(SendTotal {
                    day: None,
                    endpoint: text_at(row, 0, "endpoint")?,
                    outcome: text_at(row, 1, "outcome")?,
                    count: count_at(row, 2)?,
                })
            })
            .collect()
    }

    async fn daily_sends(&self, since: NaiveDateTime) -> Result<Vec<SendTotal>, RegisterError> {
        let mut client = self.client.lock().await;
        let since = seconds(since);
        let rows = rows(&mut client, &self.sql[Tsql::DailySends], &[&since]).await?;
        rows.iter()
            .map(|row| {
                Ok(SendTotal {
                    day: Some(
                        row.try_get::<NaiveDate, _>(0)?
                            .ok_or_else(|| missing("day"))?,
                    ),
                    endpoint: text_at(row, 1, "endpoint")?,
                    outcome: text_at(row, 2, "outcome")?,
                    count: count_at(row, 3)?,
                })
            })
            .collect()
    }

    async fn last_answer(&self, reference: DocRef) -> Result<Option<SendAnswer>, RegisterError> {
        let mut client = self.client.lock().await;
        let reference = reference.to_uuid_string();
        let rows = rows(&mut client, &self.sql[Tsql::LastAnswer], &[&reference]).await?;
        rows.first()
            .map(|row| {
                Ok(SendAnswer {
                    at: at(row, 0, "at")?,
                    endpoint: text_at(row, 1, "endpoint")?,
                    outcome: text_at(row, 2, "outcome")?,
                    detail: row.try_get::<&str, _>(3)?.map(String::from),
                })
            })
            .transpose()
    }

    async fn dump_send_log(&self) -> Result<Vec<SendLogEntry>, RegisterError> {
        let mut client = self.client.lock().await;
        let rows = rows(&mut client, &self.sql[Tsql::SendLog], &[]).await?;
        rows.into_iter()
            .map(|row| {
                let row = MssqlRow::from_row(row);
                let required = |column| text(&row, column)?.ok_or_else(|| missing(column));
                Ok(SendLogEntry {
                    endpoint: required("endpoint")?,
                    order_number: required("order_number")?,
                    request: required("request")?,
                    outcome: required("outcome")?,
                })
            })
            .collect()
    }
}

/// Asks for the session application lock and answers the mode the session then holds:
/// `Exclusive` when it was granted, `NoLock` when another session has it.
async fn take_app_lock(
    client: &mut TdsClient,
    sql: &Rendered,
) -> Result<Option<String>, RegisterError> {
    batch(client, &sql[Tsql::LockRun]).await?;
    let row = client
        .query(&sql[Tsql::LockHeld], &[])
        .await?
        .into_row()
        .await?;
    // `APPLOCK_MODE(…)` has no column name: read by position.
    let mode = row.map(|row| row.try_get::<&str, _>(0).map(|mode| mode.map(String::from)));
    Ok(mode.transpose()?.flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
    }

    #[test]
    fn times_are_kept_to_the_second() {
        let precise = at(7, 10) + chrono::Duration::milliseconds(750);
        assert_eq!(seconds(precise), at(7, 10));
    }
}
