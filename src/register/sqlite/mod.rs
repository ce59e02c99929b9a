//! The register kept in an embedded SQLite file (the default backend): its migrations (SQL in
//! `sql/register/sqlite/`), the OS file lock beside it, and the binding of the shared
//! statements. Each step is one transaction, so a crash leaves either the old or the new state
//! of a document, never half.

mod writes;

use chrono::{NaiveDate, NaiveDateTime};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::path::{Path, PathBuf};

use self::writes::SqliteWrites;
use super::records::{
    CheckpointRow, DocumentRecord, DocumentTotal, ListFilter, Outcome, RunDurations, SendAnswer,
    SendLogEntry, SendTotal, StateCount,
};
use super::rows::{self, kept_text, StoredDeal, StoredDocument, StoredSighting};
use super::statements::{self, FilterValue};
use super::traits::{Admin, CycleStore, Register, RunGuard, RunLog};
use super::write::write_outcomes;
use super::RegisterError;
use crate::domain::deal::DealRecord;
use crate::domain::run::RunRecord;
use crate::domain::snapshot::DocRef;
use crate::ops::lock::{LockError, RunLock};

/// A statement of this backend: its file under `sql/register/sqlite/`.
macro_rules! sql {
    ($name:literal) => {
        include_str!(concat!("../../../sql/register/sqlite/", $name, ".sql"))
    };
}

/// The newest schema version; `PRAGMA user_version` holds the version of a file.
pub const SCHEMA_VERSION: i64 = 3;

const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    sql!("1_tables"),
    // Version 2: the readable view, as on the server backends.
    statements::REGISTER_VIEW,
    sql!("3_account"),
];

/// Backend-specific statements, in SQLite's own spelling.
const PROBE_WRITE: &str = sql!("probe_write");
const RUN_DURATIONS: &str = sql!("run_durations");
const DAILY_SENDS: &str = sql!("daily_sends");

const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";
const DATE_FORMAT: &str = "%Y-%m-%d";

pub struct SqliteRegister {
    conn: Connection,
    path: PathBuf,
}

/// Switches the file to WAL. SQLite answers "database is locked" at once, without waiting for
/// the busy timeout, when another connection switches the same new file at that moment (a cycle
/// and the status page opening a new register together), so that answer is retried briefly.
fn set_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

impl SqliteRegister {
    /// Opens (creating or migrating) the register file.
    pub fn open(path: &Path) -> Result<SqliteRegister, RegisterError> {
        let open_error = |source: rusqlite::Error| RegisterError::Open {
            place: path.display().to_string(),
            message: source.to_string(),
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(parent);
        }
        // Created owner-only before SQLite opens it: SQLite gives its -wal, -shm and -journal
        // files the mode of the database file.
        let created =
            crate::ops::privacy::open_owner_only(path).map_err(|e| RegisterError::Open {
                place: path.display().to_string(),
                message: format!("cannot create the register file: {e}"),
            })?;
        drop(created);
        crate::ops::privacy::warn_if_others_can_read(path);
        let conn = Connection::open(path).map_err(open_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(open_error)?;
        set_wal(&conn).map_err(open_error)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_error)?;
        // Pruned send-log rows are overwritten, not left readable in free pages.
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(open_error)?;
        let mut register = SqliteRegister {
            conn,
            path: path.to_path_buf(),
        };
        register.migrate()?;
        Ok(register)
    }

    fn migrate(&mut self) -> Result<(), RegisterError> {
        let place = self.place();
        let too_new = |found| RegisterError::TooNew {
            place: place.clone(),
            found,
            known: SCHEMA_VERSION,
        };
        let found = self.user_version()?;
        if found > SCHEMA_VERSION {
            return Err(too_new(found));
        }
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        // Two processes may open a new file at once (a cycle and the status page): the write
        // lock is taken before the version is read again, so the second one waits and then
        // finds the schema current instead of creating it twice.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let found: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(too_new(found));
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            tx.execute_batch(migration)?;
            tx.pragma_update(None, "user_version", index as i64 + 1)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn user_version(&self) -> Result<i64, RegisterError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Sets the schema version a file claims, to test how a newer file is refused.
    #[doc(hidden)]
    pub fn claim_schema_version(&self, version: i64) -> Result<(), RegisterError> {
        Ok(self.conn.pragma_update(None, "user_version", version)?)
    }
}

/// A shared statement in SQLite's spelling: `$n` becomes the numbered parameter `?n`.
pub(super) fn dialect(sql: &str) -> String {
    sql.replace('$', "?")
}

impl Register for SqliteRegister {
    fn place(&self) -> String {
        self.path.display().to_string()
    }

    async fn schema_version(&self) -> Result<i64, RegisterError> {
        self.user_version()
    }

    /// Takes the write lock and rolls back.
    async fn probe_write(&mut self) -> Result<(), RegisterError> {
        self.conn.execute_batch(PROBE_WRITE)?;
        Ok(())
    }
}

impl CycleStore for SqliteRegister {
    async fn checkpoint(&self, source: &str) -> Result<CheckpointRow, RegisterError> {
        let row = self
            .conn
            .query_row(&dialect(statements::CHECKPOINT), [source], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                ))
            })
            .optional()?;
        let Some((checkpoint, since)) = row else {
            return Ok(CheckpointRow::default());
        };
        let since = since.as_deref().map(parse_date).transpose()?;
        Ok(CheckpointRow { checkpoint, since })
    }

    async fn save_checkpoint(
        &self,
        source: &str,
        checkpoint: &str,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        self.conn.execute(
            &dialect(statements::SAVE_CHECKPOINT),
            params![source, checkpoint, fmt_time(now)],
        )?;
        Ok(())
    }

    async fn deal(&self, order_number: &str) -> Result<Option<DealRecord>, RegisterError> {
        let row = self
            .conn
            .query_row(&dialect(statements::DEAL), [order_number], |r| {
                Ok((
                    StoredDeal {
                        order_number: r.get(0)?,
                        root: r.get(1)?,
                        driver: r.get(2)?,
                        driver_kind: r.get(3)?,
                        status: r.get(4)?,
                        revenue: r.get(5)?,
                        manager: r.get(6)?,
                        driver_date: None,
                        account: r.get(8)?,
                    },
                    r.get::<_, Option<String>>(7)?,
                ))
            })
            .optional()?;
        row.map(|(mut deal, driver_date)| {
            deal.driver_date = driver_date.as_deref().and_then(|t| parse_time(t).ok());
            deal.into_record()
        })
        .transpose()
    }

    async fn document(&self, reference: DocRef) -> Result<Option<DocumentRecord>, RegisterError> {
        let sql = format!("{} WHERE reference = ?1", statements::DOCUMENT_COLUMNS);
        let row = self
            .conn
            .query_row(&sql, [reference.to_uuid_string()], read_document_row)
            .optional()?;
        row.map(|row| row?.into_record()).transpose()
    }

    async fn state_seen_at(
        &self,
        reference: DocRef,
        state: Option<&str>,
    ) -> Result<Option<Option<NaiveDateTime>>, RegisterError> {
        let sql = dialect(statements::STATE_SEEN);
        let row = self
            .conn
            .query_row(&sql, [reference.to_uuid_string()], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                ))
            })
            .optional()?;
        let stored = match row {
            Some((state, since)) => Some(StoredSighting {
                state,
                since: since.as_deref().map(parse_time).transpose()?,
            }),
            None => None,
        };
        Ok(rows::seen_in_state(stored, state))
    }

    async fn list(&self, filter: &ListFilter) -> Result<Vec<DocumentRecord>, RegisterError> {
        let (sql, values) = statements::list(filter);
        let values: Vec<String> = values
            .into_iter()
            .map(|value| match value {
                FilterValue::Text(text) => text,
                FilterValue::Time(time) => fmt_time(time),
            })
            .collect();
        let mut statement = self.conn.prepare(&dialect(&sql))?;
        let rows = statement.query_map(rusqlite::params_from_iter(values), read_document_row)?;
        rows.map(|row| row??.into_record()).collect()
    }

    async fn record_outcomes(
        &mut self,
        outcomes: &[Outcome<'_>],
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let tx = self.conn.transaction()?;
        write_outcomes(&mut SqliteWrites(&tx), outcomes, now).await?;
        tx.commit()?;
        Ok(())
    }

    async fn prune_send_log(&mut self, before: NaiveDateTime) -> Result<u64, RegisterError> {
        let deleted = self
            .conn
            .execute(&dialect(statements::PRUNE_SEND_LOG), [fmt_time(before)])?;
        Ok(deleted as u64)
    }
}

impl RunLog for SqliteRegister {
    async fn lock_run(&self) -> Result<RunGuard, LockError> {
        RunLock::acquire(&self.path).map(RunGuard::new)
    }

    async fn record_run(
        &self,
        started_at: NaiveDateTime,
        finished_at: NaiveDateTime,
        outcome: &str,
        summary: &str,
    ) -> Result<(), RegisterError> {
        self.conn.execute(
            &dialect(statements::RECORD_RUN),
            params![
                fmt_time(started_at),
                fmt_time(finished_at),
                outcome,
                kept_text(Some(summary))
            ],
        )?;
        Ok(())
    }

    async fn last_run(&self) -> Result<Option<RunRecord>, RegisterError> {
        let row = self
            .conn
            .query_row(statements::LAST_RUN, [], read_run_row)
            .optional()?;
        row.transpose()
    }

    async fn recent_runs(&self, limit: u32) -> Result<Vec<RunRecord>, RegisterError> {
        let mut statement = self.conn.prepare(&dialect(statements::RECENT_RUNS))?;
        let rows = statement.query_map([i64::from(limit)], read_run_row)?;
        rows.map(|row| row?).collect()
    }

    async fn run_durations(&self) -> Result<Vec<RunDurations>, RegisterError> {
        let mut statement = self.conn.prepare(RUN_DURATIONS)?;
        let rows = statement.query_map([], |r| {
            Ok(RunDurations {
                outcome: r.get(0)?,
                seconds: r.get(1)?,
                count: r.get::<_, i64>(2)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn last_success(&self) -> Result<Option<NaiveDateTime>, RegisterError> {
        let finished: Option<String> = self
            .conn
            .query_row(statements::LAST_SUCCESS, [], |r| r.get(0))?;
        finished.as_deref().map(parse_time).transpose()
    }
}

impl Admin for SqliteRegister {
    async fn reset_checkpoint(
        &self,
        source: &str,
        since: Option<NaiveDate>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let since = since.map(|d| d.format(DATE_FORMAT).to_string());
        self.conn.execute(
            &dialect(statements::RESET_CHECKPOINT),
            params![source, since, fmt_time(now)],
        )?;
        Ok(())
    }

    async fn requeue(&self, number: &str, now: NaiveDateTime) -> Result<usize, RegisterError> {
        Ok(self.conn.execute(
            &dialect(statements::REQUEUE),
            params![number.trim(), fmt_time(now)],
        )?)
    }

    async fn counts(&self) -> Result<Vec<StateCount>, RegisterError> {
        let mut statement = self.conn.prepare(statements::COUNTS)?;
        let rows =
            statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        rows.map(|row| {
            let (state, count) = row?;
            Ok(StateCount {
                state: rows::parse_state(&state)?,
                count: count as u64,
            })
        })
        .collect()
    }

    async fn document_totals(&self) -> Result<Vec<DocumentTotal>, RegisterError> {
        let mut statement = self.conn.prepare(statements::DOCUMENT_TOTALS)?;
        let rows = statement.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (kind, state, with_error, count) = row?;
            Ok(DocumentTotal {
                kind: rows::parse_kind(&kind)?,
                state: rows::parse_state(&state)?,
                with_error: with_error != 0,
                count: count as u64,
            })
        })
        .collect()
    }

    async fn send_totals(&self) -> Result<Vec<SendTotal>, RegisterError> {
        let mut statement = self.conn.prepare(statements::SEND_TOTALS)?;
        let rows = statement.query_map([], |r| {
            Ok(SendTotal {
                day: None,
                endpoint: r.get(0)?,
                outcome: r.get(1)?,
                count: r.get::<_, i64>(2)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn daily_sends(&self, since: NaiveDateTime) -> Result<Vec<SendTotal>, RegisterError> {
        let mut statement = self.conn.prepare(&dialect(DAILY_SENDS))?;
        let rows = statement.query_map([fmt_time(since)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (day, endpoint, outcome, count) = row?;
            Ok(SendTotal {
                day: Some(parse_date(&day)?),
                endpoint,
                outcome,
                count: count as u64,
            })
        })
        .collect()
    }

    async fn last_answer(&self, reference: DocRef) -> Result<Option<SendAnswer>, RegisterError> {
        let reference = reference.to_uuid_string();
        let row = self
            .conn
            .query_row(&dialect(statements::LAST_ANSWER), [reference], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })
            .optional()?;
        row.map(|(at, endpoint, outcome, detail)| {
            Ok(SendAnswer {
                at: parse_time(&at)?,
                endpoint,
                outcome,
                detail,
            })
        })
        .transpose()
    }

    async fn dump_send_log(&self) -> Result<Vec<SendLogEntry>, RegisterError> {
        let mut statement = self.conn.prepare(statements::SEND_LOG)?;
        let rows = statement.query_map([], |r| {
            Ok(SendLogEntry {
                endpoint: r.get(0)?,
                order_number: r.get(1)?,
                request: r.get(2)?,
                outcome: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Reads a documents row; its text times are parsed here, the codes by `into_record`.
fn read_document_row(r: &Row<'_>) -> rusqlite::Result<Result<StoredDocument, RegisterError>> {
    let date: String = r.get(3)?;
    let updated_at: String = r.get(12)?;
    let updated_at = match parse_time(&updated_at) {
        Ok(time) => time,
        Err(error) => return Ok(Err(error)),
    };
    Ok(Ok(StoredDocument {
        kind: r.get(0)?,
        reference: r.get(1)?,
        number: r.get(2)?,
        // A document failed before its date could be read keeps an empty or zero date.
        date: parse_time(&date).unwrap_or_default(),
        order_number: r.get(4)?,
        state: r.get(5)?,
        onec_state: r.get(6)?,
        last_status: r.get(7)?,
        last_revenue: r.get(8)?,
        last_manager: r.get(9)?,
        attempts: r.get(10)?,
        last_error: r.get(11)?,
        updated_at,
    }))
}

/// Reads a runs row (started, finished, outcome, summary); its text times are parsed here.
fn read_run_row(r: &Row<'_>) -> rusqlite::Result<Result<RunRecord, RegisterError>> {
    let started: String = r.get(0)?;
    let finished: String = r.get(1)?;
    let (outcome, summary) = (r.get(2)?, r.get(3)?);
    let times = parse_time(&started).and_then(|s| Ok((s, parse_time(&finished)?)));
    Ok(times.map(|(started_at, finished_at)| RunRecord {
        started_at,
        finished_at,
        outcome,
        summary,
    }))
}

pub(super) fn fmt_time(t: NaiveDateTime) -> String {
    t.format(TIME_FORMAT).to_string()
}

fn parse_time(text: &str) -> Result<NaiveDateTime, RegisterError> {
    NaiveDateTime::parse_from_str(text, TIME_FORMAT)
        .map_err(|_| RegisterError::Corrupt(format!("time {text:?}")))
}

fn parse_date(text: &str) -> Result<NaiveDate, RegisterError> {
    NaiveDate::parse_from_str(text, DATE_FORMAT)
        .map_err(|_| RegisterError::Corrupt(format!("checkpoint date {text:?}")))
}
