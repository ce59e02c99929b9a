//! The register kept in a schema of its own on a PostgreSQL server (`[register] kind =
//! "postgres"`), possibly the server of the 1C database but never in 1C's own schema: the
//! connection, the schema's creation and versioned migrations, the run lock the server holds,
//! and the binding of the shared statements to native column types.
//!
//! Every connection sets `search_path` to the register's schema, so the shared statements name
//! its tables unqualified. The run lock is a session advisory lock on `hashtext(schema)` taken
//! on a connection of its own: the server releases it when that connection ends, including when
//! the process holding it is killed.

use chrono::{NaiveDate, NaiveDateTime, SubsecRound};
use std::fmt;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Transaction};

use super::statements::{self, FilterValue};
use super::{
    AcceptedDeal, CheckpointRow, DealRecord, DocumentRecord, DocumentTotal, FailedDocument,
    ListFilter, Outcome, PendingDocument, Register, RegisterError, RunDurations, RunGuard,
    RunRecord, SendAnswer, SendLogEntry, SendRecord, SendTotal, StoredDeal, StoredDocument,
    SyncState,
};
use crate::db::postgres::PgTarget;
use crate::db::Role;
use crate::lock::LockError;
use crate::snapshot::{DocRef, DocumentSnapshot};

/// Each entry brings the schema from the version before it to its own (1-based) version.
const MIGRATIONS: &[&[&str]] = &[
    // Version 1: the tables and the readable view.
    &[
        include_str!("../../sql/register/postgres/1_tables.sql"),
        statements::REGISTER_VIEW,
    ],
    // Version 2: the Calltouch account of each deal (dealer groups); NULL = `[calltouch]`'s.
    &["ALTER TABLE deals ADD COLUMN account text"],
];

/// The newest schema version; the `schema_version` table holds the version of a schema.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const SCHEMA_VERSION_TABLE: &str = "CREATE TABLE schema_version (
    version     integer PRIMARY KEY,
    applied_at  timestamp(0) NOT NULL DEFAULT LOCALTIMESTAMP
)";

/// The session holding the advisory lock, for the message a second run prints.
const LOCK_HOLDER: &str = "SELECT a.application_name, COALESCE(host(a.client_addr), 'local'),
        to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS')
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.objid = (hashtext($1)::bigint & 4294967295)::oid";

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
            .batch_execute(&format!("SET search_path TO \"{schema}\""))
            .await?;
        register.migrate().await?;
        Ok(register)
    }

    /// Creates the schema only when it is missing: the login then needs no right on the
    /// database once an administrator has created the schema for it.
    async fn create_schema(&self) -> Result<(), tokio_postgres::Error> {
        let exists = self
            .client
            .query_opt(
                "SELECT 1 FROM pg_namespace WHERE nspname = $1",
                &[&self.schema],
            )
            .await?
            .is_some();
        if !exists {
            let sql = format!("CREATE SCHEMA IF NOT EXISTS \"{}\"", self.schema);
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
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1 || ' migration'))",
            &[&schema],
        )
        .await?;
        let versioned: bool = tx
            .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
            .await?
            .get(0);
        if !versioned {
            tx.batch_execute(SCHEMA_VERSION_TABLE).await?;
        }
        let found: i32 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])
            .await?
            .get(0);
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
            tx.execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&version],
            )
            .await?;
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
fn seconds(time: NaiveDateTime) -> NaiveDateTime {
    time.trunc_subsecs(0)
}

impl Register for PostgresRegister {
    fn place(&self) -> String {
        describe(&self.target, &self.schema)
    }

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
            .query_one("SELECT pg_try_advisory_lock(hashtext($1))", &[&self.schema])
            .await
            .map_err(server_error)?
            .get(0);
        if !taken {
            return Err(LockError::Busy {
                path: place.clone(),
                holder: self.lock_holder().await,
            });
        }
        Ok(RunGuard::Server(AdvisoryLock {
            _client: client,
            place,
        }))
    }

    async fn schema_version(&self) -> Result<i64, RegisterError> {
        let version: i32 = self
            .client
            .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])
            .await?
            .get(0);
        Ok(i64::from(version))
    }

    /// Needs the same rights a cycle needs, and rolls back.
    async fn probe_write(&mut self) -> Result<(), RegisterError> {
        let tx = self.client.transaction().await?;
        tx.execute("UPDATE checkpoints SET source = source WHERE false", &[])
            .await?;
        tx.rollback().await?;
        Ok(())
    }

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
        let stored = row.map(|row| (row.get(0), row.get(1)));
        Ok(super::seen_in_state(stored, state))
    }

    async fn mark_pending_batch(
        &mut self,
        documents: &[PendingDocument<'_>],
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let tx = self.client.transaction().await?;
        for document in documents {
            mark_pending(&tx, document, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn record_outcomes(
        &mut self,
        outcomes: &[Outcome<'_>],
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let tx = self.client.transaction().await?;
        for outcome in outcomes {
            match outcome {
                Outcome::Accepted {
                    snapshot,
                    deal,
                    send,
                    state_seen_at,
                } => record_accepted(&tx, snapshot, deal, send, *state_seen_at, now).await?,
                Outcome::Failed { failed, send } => {
                    record_failed(&tx, failed, send.as_ref(), now).await?
                }
                Outcome::Deferred(document) => mark_pending(&tx, document, now).await?,
            }
        }
        tx.commit().await?;
        Ok(())
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
        let tx = self.client.transaction().await?;
        upsert_document(&tx, snapshot, order_number, state_seen_at, now).await?;
        tx.execute(
            statements::MARK_SETTLED,
            &[
                &snapshot.reference.to_uuid_string(),
                &state.code(),
                &super::kept_text(reason),
                &seconds(now),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn requeue(&self, number: &str, now: NaiveDateTime) -> Result<usize, RegisterError> {
        let count = self
            .client
            .execute(statements::REQUEUE, &[&number.trim(), &seconds(now)])
            .await?;
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
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

    async fn counts(&self) -> Result<Vec<(SyncState, u64)>, RegisterError> {
        let rows = self.client.query(statements::COUNTS, &[]).await?;
        rows.iter()
            .map(|row| {
                let count: i64 = row.get(1);
                Ok((super::parse_state(row.get(0))?, count as u64))
            })
            .collect()
    }

    async fn send_log(&self) -> Result<Vec<SendLogEntry>, RegisterError> {
        let rows = self.client.query(statements::SEND_LOG, &[]).await?;
        Ok(rows
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
            .collect())
    }

    async fn prune_send_log(&mut self, before: NaiveDateTime) -> Result<u64, RegisterError> {
        Ok(self
            .client
            .execute(statements::PRUNE_SEND_LOG, &[&seconds(before)])
            .await?)
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
                    &super::kept_text(Some(summary)),
                ],
            )
            .await?;
        Ok(())
    }

    async fn last_run(&self) -> Result<Option<RunRecord>, RegisterError> {
        let row = self.client.query_opt(statements::LAST_RUN, &[]).await?;
        Ok(row.map(|row| (row.get(0), row.get(1), row.get(2), row.get(3))))
    }

    async fn recent_runs(&self, limit: u32) -> Result<Vec<RunRecord>, RegisterError> {
        let rows = self
            .client
            .query(statements::RECENT_RUNS, &[&i64::from(limit)])
            .await?;
        Ok(rows
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
            .collect())
    }

    async fn run_durations(&self) -> Result<Vec<RunDurations>, RegisterError> {
        let sql = statements::run_durations(
            "CAST(ROUND(EXTRACT(EPOCH FROM finished_at - started_at)) AS bigint)",
        );
        let rows = self.client.query(&sql, &[]).await?;
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

    async fn document_totals(&self) -> Result<Vec<DocumentTotal>, RegisterError> {
        let rows = self.client.query(statements::DOCUMENT_TOTALS, &[]).await?;
        rows.iter()
            .map(|row| {
                Ok(DocumentTotal {
                    kind: super::parse_kind(row.get(0))?,
                    state: super::parse_state(row.get(1))?,
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
        let sql = statements::daily_sends("CAST(at AS date)");
        let rows = self.client.query(&sql, &[&seconds(since)]).await?;
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
}

async fn mark_pending(
    tx: &Transaction<'_>,
    document: &PendingDocument<'_>,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    let snapshot = document.snapshot;
    upsert_document(
        tx,
        snapshot,
        Some(document.order_number),
        document.state_seen_at,
        now,
    )
    .await?;
    tx.execute(
        statements::MARK_PENDING,
        &[
            &snapshot.reference.to_uuid_string(),
            &super::kept_text(document.error),
            &i32::from(document.count_attempt),
            &seconds(now),
        ],
    )
    .await?;
    Ok(())
}

async fn record_accepted(
    tx: &Transaction<'_>,
    snapshot: &DocumentSnapshot,
    deal: &AcceptedDeal<'_>,
    send: &SendRecord<'_>,
    state_seen_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    upsert_document(tx, snapshot, Some(deal.order_number), state_seen_at, now).await?;
    let revenue = deal.revenue.map(|m| m.to_calltouch());
    let reference = snapshot.reference.to_uuid_string();
    tx.execute(
        statements::MARK_SENT,
        &[
            &reference,
            &deal.status,
            &revenue,
            &deal.manager,
            &seconds(now),
        ],
    )
    .await?;
    tx.execute(
        statements::UPSERT_DEAL,
        &[
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
        ],
    )
    .await?;
    insert_send_log(tx, snapshot.reference, send, now).await
}

async fn record_failed(
    tx: &Transaction<'_>,
    failed: &FailedDocument<'_>,
    send: Option<&SendRecord<'_>>,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    tx.execute(
        statements::RECORD_FAILED,
        &[
            &failed.reference.to_uuid_string(),
            &failed.kind.code(),
            &failed.number,
            &seconds(failed.date.unwrap_or_default()),
            &failed.order_number,
            &super::kept_text(Some(failed.reason)),
            &seconds(now),
        ],
    )
    .await?;
    match send {
        Some(send) => insert_send_log(tx, failed.reference, send, now).await,
        None => Ok(()),
    }
}

async fn upsert_document(
    tx: &Transaction<'_>,
    snapshot: &DocumentSnapshot,
    order_number: Option<&str>,
    state_seen_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    tx.execute(
        statements::UPSERT_DOCUMENT,
        &[
            &snapshot.reference.to_uuid_string(),
            &snapshot.kind.code(),
            &snapshot.number,
            &seconds(snapshot.date),
            &order_number,
            &snapshot.state,
            &seconds(state_seen_at),
            &seconds(now),
        ],
    )
    .await?;
    Ok(())
}

async fn insert_send_log(
    tx: &Transaction<'_>,
    reference: DocRef,
    send: &SendRecord<'_>,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    tx.execute(
        statements::INSERT_SEND_LOG,
        &[
            &seconds(now),
            &send.endpoint,
            &send.order_number,
            &reference.to_uuid_string(),
            &send.request_json,
            &send.outcome,
            &send.detail,
        ],
    )
    .await?;
    Ok(())
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
