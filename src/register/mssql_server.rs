//! The register on MS SQL Server (`[register] kind = "mssql"`): the connection, the schema's
//! creation and versioned migration, the run lock, and every operation of [`Register`], run
//! through tiberius with the T-SQL of [`super::mssql`].
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

use std::collections::BTreeMap;
use std::fmt;

use chrono::{NaiveDate, NaiveDateTime, SubsecRound};
use tiberius::{FromSql, ToSql};
use tokio::sync::Mutex;

use super::mssql::{self as tsql, SCHEMA_VERSION};
use super::statements;
use super::{
    AcceptedDeal, CheckpointRow, DealRecord, DocumentRecord, DocumentTotal, FailedDocument,
    ListFilter, Outcome, PendingDocument, Register, RegisterError, RunDurations, RunGuard,
    RunRecord, SendAnswer, SendLogEntry, SendRecord, SendTotal, StoredDeal, StoredDocument,
    SyncState,
};
use crate::db::mssql::{wrong_type, MssqlRow};
use crate::db::mssql::{MssqlTarget, TdsClient};
use crate::lock::LockError;
use crate::snapshot::{DocRef, DocumentSnapshot};
use crate::source::decode::Cells;

/// The register's statements by name, rendered for its schema.
struct Operations(BTreeMap<&'static str, String>);

impl Operations {
    fn new(schema: &str) -> Operations {
        let all = tsql::bootstrap(schema)
            .into_iter()
            .chain(tsql::operations(schema));
        Operations(all.map(|s| (s.name, s.sql)).collect())
    }

    /// A statement this module names; `super::mssql` renders every one of them.
    fn get(&self, name: &str) -> &str {
        self.0
            .get(name)
            .unwrap_or_else(|| panic!("the register has no statement named {name:?}"))
    }
}

pub struct MssqlRegister {
    /// The data connection; tiberius needs it mutably even to read.
    client: Mutex<TdsClient>,
    /// For the run lock's own connection.
    target: MssqlTarget,
    schema: String,
    sql: Operations,
}

/// The run lock: the connection whose session holds the application lock. Dropping it closes
/// the connection, and the server releases the lock.
pub struct AppLock {
    /// Boxed: a tiberius client is large, and the guard is moved around as a `RunGuard`.
    _client: Box<TdsClient>,
    place: String,
}

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
            sql: Operations::new(schema),
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
            ("schema exists", "create schema"),
            ("schema version exists", "schema version table"),
        ] {
            if scalar_id(client, self.sql.get(exists)).await?.is_none() {
                batch(client, self.sql.get(create)).await?;
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
            let steps = tsql::migration(version, &self.schema);
            let record = self.sql.get("record version");
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
fn seconds(time: NaiveDateTime) -> NaiveDateTime {
    time.trunc_subsecs(0)
}

/// Runs one statement alone in its batch, discarding what it returns.
async fn batch(client: &mut TdsClient, sql: &str) -> Result<(), RegisterError> {
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
        Ok(RunGuard::AppLock(AppLock {
            _client: Box::new(client),
            place,
        }))
    }

    async fn schema_version(&self) -> Result<i64, RegisterError> {
        let mut client = self.client.lock().await;
        let rows = rows(&mut client, self.sql.get("current version"), &[]).await?;
        let version = rows
            .first()
            .map(|row| row.try_get::<i32, _>(0))
            .transpose()?
            .flatten();
        Ok(i64::from(version.unwrap_or(0)))
    }

    /// Needs the same rights a cycle needs, and rolls back.
    async fn probe_write(&mut self) -> Result<(), RegisterError> {
        batch(self.client.get_mut(), self.sql.get("probe write")).await
    }

    async fn checkpoint(&self, source: &str) -> Result<CheckpointRow, RegisterError> {
        let mut client = self.client.lock().await;
        let row = first_row(&mut client, self.sql.get("checkpoint"), &[&source]).await?;
        row.map_or_else(|| Ok(CheckpointRow::default()), |row| read_checkpoint(&row))
    }

    async fn save_checkpoint(
        &self,
        source: &str,
        checkpoint: &str,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let mut client = self.client.lock().await;
        let sql = self.sql.get("save checkpoint");
        client
            .execute(sql, &[&source, &checkpoint, &seconds(now)])
            .await?;
        Ok(())
    }

    async fn reset_checkpoint(
        &self,
        source: &str,
        since: Option<NaiveDate>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let mut client = self.client.lock().await;
        let sql = self.sql.get("reset checkpoint");
        client
            .execute(sql, &[&source, &since, &seconds(now)])
            .await?;
        Ok(())
    }

    async fn deal(&self, order_number: &str) -> Result<Option<DealRecord>, RegisterError> {
        let mut client = self.client.lock().await;
        let row = first_row(&mut client, self.sql.get("deal"), &[&order_number]).await?;
        row.map(|row| read_deal(&row)?.into_record()).transpose()
    }

    async fn document(&self, reference: DocRef) -> Result<Option<DocumentRecord>, RegisterError> {
        let mut client = self.client.lock().await;
        let reference = reference.to_uuid_string();
        let row = first_row(&mut client, self.sql.get("document"), &[&reference]).await?;
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
        let row = first_row(&mut client, self.sql.get("state seen at"), &[&reference]).await?;
        let stored = row
            .map(|row| -> Result<_, RegisterError> {
                Ok((text(&row, "onec_state")?, time(&row, "state_seen_at")?))
            })
            .transpose()?;
        Ok(super::seen_in_state(stored, state))
    }

    async fn mark_pending_batch(
        &mut self,
        documents: &[PendingDocument<'_>],
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let sql = &self.sql;
        in_transaction(self.client.get_mut(), async |client| {
            for document in documents {
                mark_pending(client, sql, document, now).await?;
            }
            Ok(())
        })
        .await
    }

    async fn record_outcomes(
        &mut self,
        outcomes: &[Outcome<'_>],
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let sql = &self.sql;
        in_transaction(self.client.get_mut(), async |client| {
            for outcome in outcomes {
                record_outcome(client, sql, outcome, now).await?;
            }
            Ok(())
        })
        .await
    }

    async fn record_settled(
        &mut self,
        snapshot: &DocumentSnapshot,
        order_number: Option<&str>,
        state: SyncState,
        reason: Option<&str>,
        state_seen_at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let sql = &self.sql;
        in_transaction(self.client.get_mut(), async |client| {
            upsert_document(client, sql, snapshot, order_number, state_seen_at, now).await?;
            let reference = snapshot.reference.to_uuid_string();
            let reason = super::kept_text(reason);
            let params: [&dyn ToSql; 4] = [&reference, &state.code(), &reason, &seconds(now)];
            client.execute(sql.get("mark settled"), &params).await?;
            Ok(())
        })
        .await
    }

    async fn requeue(&self, number: &str, now: NaiveDateTime) -> Result<usize, RegisterError> {
        let mut client = self.client.lock().await;
        let sql = self.sql.get("requeue");
        let done = client
            .execute(sql, &[&number.trim(), &seconds(now)])
            .await?;
        Ok(usize::try_from(done.total()).unwrap_or(usize::MAX))
    }

    async fn list(&self, filter: &ListFilter) -> Result<Vec<DocumentRecord>, RegisterError> {
        let (from, below) = statements::date_bounds(filter);
        let params: [&dyn ToSql; 6] = [
            &filter.state.map(SyncState::code),
            &filter.kind.map(|kind| kind.code()),
            &filter.number.as_deref().map(str::trim),
            &from,
            &below,
            &i32::from(filter.with_errors),
        ];
        let mut client = self.client.lock().await;
        let rows = rows(&mut client, self.sql.get("list"), &params).await?;
        rows.into_iter()
            .map(|row| read_document(&MssqlRow::from_row(row))?.into_record())
            .collect()
    }

    async fn counts(&self) -> Result<Vec<(SyncState, u64)>, RegisterError> {
        let mut client = self.client.lock().await;
        let rows = rows(&mut client, self.sql.get("counts"), &[]).await?;
        // `COUNT_BIG(*)` has no column name: read by position.
        rows.iter()
            .map(|row| {
                let state = row.try_get::<&str, _>(0)?.unwrap_or_default();
                let count = row.try_get::<i64, _>(1)?.unwrap_or(0);
                Ok((super::parse_state(state)?, count as u64))
            })
            .collect()
    }

    async fn send_log(&self) -> Result<Vec<SendLogEntry>, RegisterError> {
        let mut client = self.client.lock().await;
        let rows = rows(&mut client, self.sql.get("send log"), &[]).await?;
        rows.into_iter()
            .map(|row| {
                let row = MssqlRow::from_row(row);
                Ok((
                    required_text(&row, "endpoint")?,
                    required_text(&row, "order_number")?,
                    required_text(&row, "request")?,
                    required_text(&row, "outcome")?,
                ))
            })
            .collect()
    }

    async fn prune_send_log(&mut self, before: NaiveDateTime) -> Result<u64, RegisterError> {
        let mut client = self.client.lock().await;
        let params: [&dyn ToSql; 1] = [&seconds(before)];
        let result = client
            .execute(self.sql.get("prune send log"), &params)
            .await?;
        Ok(result.total())
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
            &super::kept_text(Some(summary)),
        ];
        client.execute(self.sql.get("record run"), &params).await?;
        Ok(())
    }

    async fn last_run(&self) -> Result<Option<RunRecord>, RegisterError> {
        let mut client = self.client.lock().await;
        let row = first_row(&mut client, self.sql.get("last run"), &[]).await?;
        row.map(|row| read_run(&row)).transpose()
    }

    async fn recent_runs(&self, limit: u32) -> Result<Vec<RunRecord>, RegisterError> {
        let mut client = self.client.lock().await;
        let limit = i64::from(limit);
        let rows = rows(&mut client, self.sql.get("recent runs"), &[&limit]).await?;
        rows.iter()
            .map(|row| {
                Ok((
                    at(row, 0, "started_at")?,
                    at(row, 1, "finished_at")?,
                    text_at(row, 2, "outcome")?,
                    text_at(row, 3, "summary")?,
                ))
            })
            .collect()
    }

    async fn run_durations(&self) -> Result<Vec<RunDurations>, RegisterError> {
        let mut client = self.client.lock().await;
        let rows = rows(&mut client, self.sql.get("run durations"), &[]).await?;
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
        let rows = rows(&mut client, self.sql.get("last success"), &[]).await?;
        match rows.first() {
            Some(row) => Ok(row.try_get::<NaiveDateTime, _>(0)?),
            None => Ok(None),
        }
    }

    async fn document_totals(&self) -> Result<Vec<DocumentTotal>, RegisterError> {
        let mut client = self.client.lock().await;
        let rows = rows(&mut client, self.sql.get("document totals"), &[]).await?;
        rows.iter()
            .map(|row| {
                Ok(DocumentTotal {
                    kind: super::parse_kind(&text_at(row, 0, "kind")?)?,
                    state: super::parse_state(&text_at(row, 1, "state")?)?,
                    with_error: row.try_get::<i32, _>(2)?.unwrap_or(0) != 0,
                    count: count_at(row, 3)?,
                })
            })
            .collect()
    }

    async fn send_totals(&self) -> Result<Vec<SendTotal>, RegisterError> {
        let mut client = self.client.lock().await;
        let rows = rows(&mut client, self.sql.get("send totals"), &[]).await?;
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
        let rows = rows(&mut client, self.sql.get("daily sends"), &[&since]).await?;
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
        let rows = rows(&mut client, self.sql.get("last answer"), &[&reference]).await?;
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
}

/// A non-NULL text column of a row read by position (the status reads' unnamed columns).
fn text_at(row: &tiberius::Row, index: usize, column: &str) -> Result<String, RegisterError> {
    let value = row.try_get::<&str, _>(index)?;
    value.map(String::from).ok_or_else(|| missing(column))
}

fn at(row: &tiberius::Row, index: usize, column: &str) -> Result<NaiveDateTime, RegisterError> {
    row.try_get::<NaiveDateTime, _>(index)?
        .ok_or_else(|| missing(column))
}

/// A `COUNT_BIG(*)`, by position.
fn count_at(row: &tiberius::Row, index: usize) -> Result<u64, RegisterError> {
    Ok(row.try_get::<i64, _>(index)?.unwrap_or(0) as u64)
}

/// Asks for the session application lock and answers the mode the session then holds:
/// `Exclusive` when it was granted, `NoLock` when another session has it.
async fn take_app_lock(
    client: &mut TdsClient,
    sql: &Operations,
) -> Result<Option<String>, RegisterError> {
    batch(client, sql.get("lock run")).await?;
    let row = client
        .query(sql.get("lock held"), &[])
        .await?
        .into_row()
        .await?;
    // `APPLOCK_MODE(…)` has no column name: read by position.
    let mode = row.map(|row| row.try_get::<&str, _>(0).map(|mode| mode.map(String::from)));
    Ok(mode.transpose()?.flatten())
}

async fn record_outcome(
    client: &mut TdsClient,
    sql: &Operations,
    outcome: &Outcome<'_>,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    match outcome {
        Outcome::Accepted {
            snapshot,
            deal,
            send,
            state_seen_at,
        } => record_accepted(client, sql, snapshot, deal, send, *state_seen_at, now).await,
        Outcome::Failed { failed, send } => {
            record_failed(client, sql, failed, send.as_ref(), now).await
        }
        Outcome::Deferred(document) => mark_pending(client, sql, document, now).await,
    }
}

async fn mark_pending(
    client: &mut TdsClient,
    sql: &Operations,
    document: &PendingDocument<'_>,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    let snapshot = document.snapshot;
    let order_number = Some(document.order_number);
    upsert_document(
        client,
        sql,
        snapshot,
        order_number,
        document.state_seen_at,
        now,
    )
    .await?;
    let params: [&dyn ToSql; 4] = [
        &snapshot.reference.to_uuid_string(),
        &super::kept_text(document.error),
        &i32::from(document.count_attempt),
        &seconds(now),
    ];
    client.execute(sql.get("mark pending"), &params).await?;
    Ok(())
}

async fn record_accepted(
    client: &mut TdsClient,
    sql: &Operations,
    snapshot: &DocumentSnapshot,
    deal: &AcceptedDeal<'_>,
    send: &SendRecord<'_>,
    state_seen_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    let order_number = Some(deal.order_number);
    upsert_document(client, sql, snapshot, order_number, state_seen_at, now).await?;
    let revenue = deal.revenue.map(|m| m.to_calltouch());
    let reference = snapshot.reference.to_uuid_string();
    let sent: [&dyn ToSql; 5] = [
        &reference,
        &deal.status,
        &revenue,
        &deal.manager,
        &seconds(now),
    ];
    client.execute(sql.get("mark sent"), &sent).await?;
    let upsert: [&dyn ToSql; 10] = [
        &deal.order_number,
        &deal.root.to_uuid_string(),
        &reference,
        &snapshot.kind.code(),
        &deal.status,
        &revenue,
        &deal.manager,
        &deal.calltouch_id,
        &seconds(now),
        &deal.account,
    ];
    client.execute(sql.get("upsert deal"), &upsert).await?;
    insert_send_log(client, sql, snapshot.reference, send, now).await
}

async fn record_failed(
    client: &mut TdsClient,
    sql: &Operations,
    failed: &FailedDocument<'_>,
    send: Option<&SendRecord<'_>>,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    let params: [&dyn ToSql; 7] = [
        &failed.reference.to_uuid_string(),
        &failed.kind.code(),
        &failed.number,
        &seconds(failed.date.unwrap_or_default()),
        &failed.order_number,
        &super::kept_text(Some(failed.reason)),
        &seconds(now),
    ];
    client.execute(sql.get("record failed"), &params).await?;
    match send {
        Some(send) => insert_send_log(client, sql, failed.reference, send, now).await,
        None => Ok(()),
    }
}

async fn upsert_document(
    client: &mut TdsClient,
    sql: &Operations,
    snapshot: &DocumentSnapshot,
    order_number: Option<&str>,
    state_seen_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    let params: [&dyn ToSql; 8] = [
        &snapshot.reference.to_uuid_string(),
        &snapshot.kind.code(),
        &snapshot.number,
        &seconds(snapshot.date),
        &order_number,
        &snapshot.state,
        &seconds(state_seen_at),
        &seconds(now),
    ];
    client.execute(sql.get("upsert document"), &params).await?;
    Ok(())
}

async fn insert_send_log(
    client: &mut TdsClient,
    sql: &Operations,
    reference: DocRef,
    send: &SendRecord<'_>,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    let params: [&dyn ToSql; 7] = [
        &seconds(now),
        &send.endpoint,
        &send.order_number,
        &reference.to_uuid_string(),
        &send.request_json,
        &send.outcome,
        &send.detail,
    ];
    client.execute(sql.get("insert send log"), &params).await?;
    Ok(())
}

fn text(row: &MssqlRow, column: &str) -> Result<Option<String>, RegisterError> {
    row.text(column).map_err(RegisterError::Corrupt)
}

fn required_text(row: &MssqlRow, column: &str) -> Result<String, RegisterError> {
    text(row, column)?.ok_or_else(|| missing(column))
}

fn time(row: &MssqlRow, column: &str) -> Result<Option<NaiveDateTime>, RegisterError> {
    row.timestamp(column).map_err(RegisterError::Corrupt)
}

fn required_time(row: &MssqlRow, column: &str) -> Result<NaiveDateTime, RegisterError> {
    time(row, column)?.ok_or_else(|| missing(column))
}

fn date(row: &MssqlRow, column: &str) -> Result<Option<NaiveDate>, RegisterError> {
    match row.cell(column).map_err(RegisterError::Corrupt)? {
        None => Ok(None),
        Some(cell) => NaiveDate::from_sql(cell)
            .map_err(|_| RegisterError::Corrupt(wrong_type(column, "a date", cell))),
    }
}

fn missing(column: &str) -> RegisterError {
    RegisterError::Corrupt(format!("column `{column}` is NULL"))
}

fn read_checkpoint(row: &MssqlRow) -> Result<CheckpointRow, RegisterError> {
    Ok(CheckpointRow {
        checkpoint: text(row, "checkpoint")?,
        since: date(row, "since")?,
    })
}

fn read_deal(row: &MssqlRow) -> Result<StoredDeal, RegisterError> {
    Ok(StoredDeal {
        order_number: required_text(row, "order_number")?,
        root: required_text(row, "root_ref")?,
        driver: required_text(row, "driver_ref")?,
        driver_kind: required_text(row, "driver_kind")?,
        status: text(row, "status")?,
        revenue: text(row, "revenue")?,
        manager: text(row, "manager")?,
        driver_date: time(row, "doc_date")?,
        account: text(row, "account")?,
    })
}

fn read_document(row: &MssqlRow) -> Result<StoredDocument, RegisterError> {
    let attempts = row.integer("attempts").map_err(RegisterError::Corrupt)?;
    Ok(StoredDocument {
        kind: required_text(row, "kind")?,
        reference: required_text(row, "reference")?,
        number: required_text(row, "number")?,
        date: required_time(row, "doc_date")?,
        order_number: text(row, "order_number")?,
        state: required_text(row, "state")?,
        onec_state: text(row, "onec_state")?,
        last_status: text(row, "last_status")?,
        last_revenue: text(row, "last_revenue")?,
        last_manager: text(row, "last_manager")?,
        attempts: i64::from(attempts.unwrap_or(0)),
        last_error: text(row, "last_error")?,
        updated_at: required_time(row, "updated_at")?,
    })
}

fn read_run(row: &MssqlRow) -> Result<RunRecord, RegisterError> {
    Ok((
        required_time(row, "started_at")?,
        required_time(row, "finished_at")?,
        required_text(row, "outcome")?,
        required_text(row, "summary")?,
    ))
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use tiberius::ColumnData;

    use super::*;
    use crate::snapshot::DocKind;

    const REFERENCE: &str = "9022249e-3a1a-c4b9-4be8-faddd2f8bde9";

    fn at(day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
    }

    fn text_cell(text: &'static str) -> ColumnData<'static> {
        ColumnData::String(Some(Cow::Borrowed(text)))
    }

    /// A `datetime2` cell as tiberius decodes it.
    fn time_cell(value: NaiveDateTime) -> ColumnData<'static> {
        match value.to_sql() {
            ColumnData::DateTime2(v) => ColumnData::DateTime2(v),
            other => panic!("tiberius encodes NaiveDateTime as {other:?}"),
        }
    }

    fn date_cell(value: NaiveDate) -> ColumnData<'static> {
        match value.to_sql() {
            ColumnData::Date(v) => ColumnData::Date(v),
            other => panic!("tiberius encodes NaiveDate as {other:?}"),
        }
    }

    fn document_row(kind: ColumnData<'static>) -> MssqlRow {
        MssqlRow::new(vec![
            ("kind", kind),
            ("reference", text_cell(REFERENCE)),
            ("number", text_cell("ЗР-000123")),
            ("doc_date", time_cell(at(3, 10))),
            ("order_number", text_cell("ЗР-000123-2026")),
            ("state", text_cell("failed")),
            ("onec_state", ColumnData::String(None)),
            ("last_status", ColumnData::String(None)),
            ("last_revenue", text_cell("15300.50")),
            ("last_manager", ColumnData::String(None)),
            ("attempts", ColumnData::I32(Some(2))),
            ("last_error", text_cell("rejected")),
            ("updated_at", time_cell(at(4, 12))),
        ])
    }

    #[test]
    fn a_documents_row_decodes_into_its_record() {
        let record = read_document(&document_row(text_cell("booking")))
            .unwrap()
            .into_record()
            .unwrap();
        assert_eq!(record.kind, DocKind::Booking);
        assert_eq!(record.reference.to_uuid_string(), REFERENCE);
        assert_eq!(record.number, "ЗР-000123");
        assert_eq!(record.date, at(3, 10));
        assert_eq!(record.order_number.as_deref(), Some("ЗР-000123-2026"));
        assert_eq!(record.state, SyncState::Failed);
        assert_eq!(record.onec_state, None);
        assert_eq!(record.last_revenue.as_deref(), Some("15300.50"));
        assert_eq!(record.attempts, 2);
        assert_eq!(record.last_error.as_deref(), Some("rejected"));
        assert_eq!(record.updated_at, at(4, 12));
    }

    #[test]
    fn a_null_or_mistyped_required_column_is_corrupt() {
        let null_kind = read_document(&document_row(ColumnData::String(None)));
        assert!(matches!(null_kind, Err(RegisterError::Corrupt(m)) if m.contains("kind")));
        let int_kind = read_document(&document_row(ColumnData::I32(Some(1))));
        assert!(matches!(int_kind, Err(RegisterError::Corrupt(m)) if m.contains("kind")));
    }

    #[test]
    fn a_deals_row_decodes_with_its_drivers_date() {
        let row = MssqlRow::new(vec![
            ("order_number", text_cell("ЗР-000123-2026")),
            ("root_ref", text_cell(REFERENCE)),
            ("driver_ref", text_cell(REFERENCE)),
            ("driver_kind", text_cell("work_order")),
            ("status", text_cell("Выполнен")),
            ("revenue", text_cell("15300.50")),
            ("manager", ColumnData::String(None)),
            ("doc_date", time_cell(at(5, 9))),
            ("account", text_cell("south")),
        ]);
        let deal = read_deal(&row).unwrap().into_record().unwrap();
        assert_eq!(deal.account.as_deref(), Some("south"));
        assert_eq!(deal.driver_kind, DocKind::WorkOrder);
        assert_eq!(deal.driver_date, Some(at(5, 9)));
        assert_eq!(deal.status.as_deref(), Some("Выполнен"));
        assert_eq!(
            deal.revenue.map(|m| m.to_calltouch()).as_deref(),
            Some("15300.50")
        );
        assert_eq!(deal.manager, None);
    }

    #[test]
    fn a_checkpoint_row_decodes_its_since_date() {
        let since = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        let row = MssqlRow::new(vec![
            ("checkpoint", ColumnData::String(None)),
            ("since", date_cell(since)),
        ]);
        let checkpoint = read_checkpoint(&row).unwrap();
        assert_eq!(checkpoint.checkpoint, None);
        assert_eq!(checkpoint.since, Some(since));
    }

    #[test]
    fn a_runs_row_decodes_into_its_record() {
        let row = MssqlRow::new(vec![
            ("started_at", time_cell(at(6, 8))),
            ("finished_at", time_cell(at(6, 9))),
            ("outcome", text_cell("ok")),
            ("summary", text_cell("read 3")),
        ]);
        let run = read_run(&row).unwrap();
        assert_eq!(run, (at(6, 8), at(6, 9), "ok".into(), "read 3".into()));
    }

    #[test]
    fn every_statement_this_backend_runs_is_rendered() {
        let sql = Operations::new("register_test");
        for name in [
            "schema exists",
            "create schema",
            "schema version exists",
            "schema version table",
            "current version",
            "record version",
            "lock run",
            "lock held",
            "probe write",
            "checkpoint",
            "save checkpoint",
            "reset checkpoint",
            "deal",
            "document",
            "state seen at",
            "upsert document",
            "mark pending",
            "mark sent",
            "upsert deal",
            "mark settled",
            "record failed",
            "insert send log",
            "requeue",
            "list",
            "counts",
            "send log",
            "prune send log",
            "record run",
            "last run",
        ] {
            assert!(sql.get(name).contains("register_test"), "{name}");
        }
    }

    #[test]
    fn times_are_kept_to_the_second() {
        let precise = at(7, 10) + chrono::Duration::milliseconds(750);
        assert_eq!(seconds(precise), at(7, 10));
    }
}
