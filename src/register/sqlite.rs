//! The register kept in an embedded SQLite file (the default backend): schema, migrations, and
//! every read and write the sync cycle and the `register` command need. Each step is one
//! transaction, so a crash leaves either the old or the new state of a document, never half.

use chrono::{NaiveDate, NaiveDateTime};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::path::Path;

use super::{DealRecord, DocumentRecord, SyncState};
use crate::snapshot::{DocKind, DocRef, DocumentSnapshot, Money};

/// The newest schema version; `PRAGMA user_version` holds the version of a file.
const SCHEMA_VERSION: i64 = 1;

const MIGRATIONS: &[&str] = &[
    // Version 1.
    "CREATE TABLE documents (
        reference      TEXT PRIMARY KEY,
        kind           TEXT NOT NULL,
        number         TEXT NOT NULL,
        doc_date       TEXT NOT NULL,
        order_number   TEXT,
        state          TEXT NOT NULL,
        onec_state     TEXT,
        state_seen_at  TEXT,
        last_status    TEXT,
        last_revenue   TEXT,
        last_manager   TEXT,
        attempts       INTEGER NOT NULL DEFAULT 0,
        last_error     TEXT,
        first_seen_at  TEXT NOT NULL,
        updated_at     TEXT NOT NULL
    );
    CREATE INDEX documents_by_number ON documents (number);
    CREATE INDEX documents_by_state ON documents (state);
    CREATE TABLE deals (
        order_number   TEXT PRIMARY KEY,
        root_ref       TEXT NOT NULL,
        driver_ref     TEXT NOT NULL,
        driver_kind    TEXT NOT NULL,
        status         TEXT,
        revenue        TEXT,
        manager        TEXT,
        calltouch_id   INTEGER,
        created_at     TEXT NOT NULL,
        updated_at     TEXT NOT NULL
    );
    CREATE TABLE checkpoints (
        source         TEXT PRIMARY KEY,
        checkpoint     TEXT,
        since          TEXT,
        updated_at     TEXT NOT NULL
    );
    CREATE TABLE send_log (
        id             INTEGER PRIMARY KEY,
        at             TEXT NOT NULL,
        endpoint       TEXT NOT NULL,
        order_number   TEXT NOT NULL,
        reference      TEXT NOT NULL,
        request        TEXT NOT NULL,
        outcome        TEXT NOT NULL,
        detail         TEXT
    );
    CREATE TABLE runs (
        id             INTEGER PRIMARY KEY,
        started_at     TEXT NOT NULL,
        finished_at    TEXT NOT NULL,
        outcome        TEXT NOT NULL,
        summary        TEXT NOT NULL
    );",
];

const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("register {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("register {path} has schema version {found}, newer than this program knows ({known}); upgrade alfa-calltouch")]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("register: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("register holds a value it cannot read: {0}")]
    Corrupt(String),
}

/// The stored checkpoint of one source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckpointRow {
    pub checkpoint: Option<String>,
    /// Cut-off set by `reset-checkpoint --since`, overriding `source.start_date`.
    pub since: Option<NaiveDate>,
}

/// What Calltouch answered for one order, for the send log.
#[derive(Debug, Clone)]
pub struct SendRecord<'a> {
    pub endpoint: &'a str,
    pub order_number: &'a str,
    pub request_json: &'a str,
    pub outcome: &'a str,
    pub detail: Option<&'a str>,
}

/// The values of a deal once Calltouch accepted a request for it.
#[derive(Debug, Clone)]
pub struct AcceptedDeal<'a> {
    pub order_number: &'a str,
    pub root: DocRef,
    pub status: Option<&'a str>,
    pub revenue: Option<Money>,
    pub manager: Option<&'a str>,
    pub calltouch_id: Option<i64>,
}

/// Filters of the `register` listing.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub state: Option<SyncState>,
    pub kind: Option<DocKind>,
    pub number: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub with_errors: bool,
}

pub struct SqliteRegister {
    conn: Connection,
}

impl SqliteRegister {
    /// Opens (creating or migrating) the register file.
    pub fn open(path: &Path) -> Result<SqliteRegister, RegisterError> {
        let open_error = |source| RegisterError::Open {
            path: path.display().to_string(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(parent);
        }
        let conn = Connection::open(path).map_err(open_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(open_error)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_error)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_error)?;
        let mut register = SqliteRegister { conn };
        register.migrate(path)?;
        Ok(register)
    }

    fn migrate(&mut self, path: &Path) -> Result<(), RegisterError> {
        let found: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(RegisterError::TooNew {
                path: path.display().to_string(),
                found,
                known: SCHEMA_VERSION,
            });
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(migration)?;
            tx.pragma_update(None, "user_version", index as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    pub fn schema_version(&self) -> Result<i64, RegisterError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    pub fn checkpoint(&self, source: &str) -> Result<CheckpointRow, RegisterError> {
        let row = self
            .conn
            .query_row(
                "SELECT checkpoint, since FROM checkpoints WHERE source = ?1",
                [source],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<String>>(1)?,
                    ))
                },
            )
            .optional()?;
        let Some((checkpoint, since)) = row else {
            return Ok(CheckpointRow::default());
        };
        let since = since
            .map(|s| {
                NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                    .map_err(|_| RegisterError::Corrupt(format!("checkpoint date {s:?}")))
            })
            .transpose()?;
        Ok(CheckpointRow { checkpoint, since })
    }

    /// Stores the checkpoint a fully processed read returned.
    pub fn save_checkpoint(
        &self,
        source: &str,
        checkpoint: &str,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        self.conn.execute(
            "INSERT INTO checkpoints (source, checkpoint, since, updated_at) VALUES (?1, ?2, NULL, ?3)
             ON CONFLICT (source) DO UPDATE SET checkpoint = excluded.checkpoint, updated_at = excluded.updated_at",
            params![source, checkpoint, fmt_time(now)],
        )?;
        Ok(())
    }

    /// Forgets the checkpoint so the next cycle re-reads everything from `since` (or the
    /// configured start date). Deals already in Calltouch stay known, so no duplicate is created.
    pub fn reset_checkpoint(
        &self,
        source: &str,
        since: Option<NaiveDate>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        self.conn.execute(
            "INSERT INTO checkpoints (source, checkpoint, since, updated_at) VALUES (?1, NULL, ?2, ?3)
             ON CONFLICT (source) DO UPDATE SET checkpoint = NULL, since = excluded.since, updated_at = excluded.updated_at",
            params![source, since.map(|d| d.format("%Y-%m-%d").to_string()), fmt_time(now)],
        )?;
        Ok(())
    }

    pub fn deal(&self, order_number: &str) -> Result<Option<DealRecord>, RegisterError> {
        self.conn
            .query_row(
                "SELECT d.order_number, d.root_ref, d.driver_ref, d.driver_kind, d.status,
                     d.revenue, d.manager, driver.doc_date
                 FROM deals d LEFT JOIN documents driver ON driver.reference = d.driver_ref
                 WHERE d.order_number = ?1",
                [order_number],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, Option<String>>(6)?,
                        r.get::<_, Option<String>>(7)?,
                    ))
                },
            )
            .optional()?
            .map(
                |(
                    order_number,
                    root,
                    driver,
                    driver_kind,
                    status,
                    revenue,
                    manager,
                    driver_date,
                )| {
                    Ok(DealRecord {
                        order_number,
                        root: parse_ref(&root)?,
                        driver: parse_ref(&driver)?,
                        driver_kind: parse_kind(&driver_kind)?,
                        driver_date: driver_date.as_deref().and_then(|t| parse_time(t).ok()),
                        status,
                        revenue: revenue.as_deref().map(parse_money).transpose()?,
                        manager,
                    })
                },
            )
            .transpose()
    }

    pub fn document(&self, reference: DocRef) -> Result<Option<DocumentRecord>, RegisterError> {
        let sql = format!("{DOCUMENT_COLUMNS} WHERE reference = ?1");
        let row = self
            .conn
            .query_row(&sql, [reference.to_uuid_string()], read_document_row)
            .optional()?;
        row.map(DocumentRow::into_record).transpose()
    }

    /// When the register first saw the document in its current 1C state, if it did.
    pub fn state_seen_at(
        &self,
        reference: DocRef,
        state: Option<&str>,
    ) -> Result<Option<Option<NaiveDateTime>>, RegisterError> {
        let row = self
            .conn
            .query_row(
                "SELECT onec_state, state_seen_at FROM documents WHERE reference = ?1",
                [reference.to_uuid_string()],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<String>>(1)?,
                    ))
                },
            )
            .optional()?;
        match row {
            None => Ok(None),
            Some((seen_state, seen_at)) if seen_state.as_deref() == state => {
                Ok(Some(seen_at.as_deref().map(parse_time).transpose()?))
            }
            Some(_) => Ok(Some(None)),
        }
    }

    /// Records that a document is about to be sent (or is waiting to be retried).
    pub fn mark_pending(
        &mut self,
        snapshot: &DocumentSnapshot,
        order_number: &str,
        state_seen_at: NaiveDateTime,
        now: NaiveDateTime,
        error: Option<&str>,
        count_attempt: bool,
    ) -> Result<(), RegisterError> {
        let tx = self.conn.transaction()?;
        upsert_document(&tx, snapshot, Some(order_number), state_seen_at, now)?;
        tx.execute(
            "UPDATE documents SET state = 'pending', last_error = ?2,
                 attempts = attempts + ?3, updated_at = ?4
             WHERE reference = ?1",
            params![
                snapshot.reference.to_uuid_string(),
                error,
                i64::from(count_attempt),
                fmt_time(now)
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records an accepted request in one transaction: the document, its deal, the send log.
    pub fn record_accepted(
        &mut self,
        snapshot: &DocumentSnapshot,
        deal: &AcceptedDeal<'_>,
        send: &SendRecord<'_>,
        state_seen_at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let tx = self.conn.transaction()?;
        upsert_document(&tx, snapshot, Some(deal.order_number), state_seen_at, now)?;
        let revenue = deal.revenue.map(|m| m.to_calltouch());
        tx.execute(
            "UPDATE documents SET state = 'sent', attempts = 0, last_error = NULL,
                 last_status = ?2, last_revenue = ?3, last_manager = ?4, updated_at = ?5
             WHERE reference = ?1",
            params![
                snapshot.reference.to_uuid_string(),
                deal.status,
                revenue,
                deal.manager,
                fmt_time(now)
            ],
        )?;
        tx.execute(
            "INSERT INTO deals (order_number, root_ref, driver_ref, driver_kind, status, revenue,
                 manager, calltouch_id, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
             ON CONFLICT (order_number) DO UPDATE SET driver_ref = excluded.driver_ref,
                 driver_kind = excluded.driver_kind, status = excluded.status,
                 revenue = excluded.revenue, manager = excluded.manager,
                 calltouch_id = COALESCE(excluded.calltouch_id, deals.calltouch_id),
                 updated_at = excluded.updated_at",
            params![
                deal.order_number,
                deal.root.to_uuid_string(),
                snapshot.reference.to_uuid_string(),
                snapshot.kind.code(),
                deal.status,
                revenue,
                deal.manager,
                deal.calltouch_id,
                fmt_time(now)
            ],
        )?;
        insert_send_log(&tx, snapshot.reference, send, now)?;
        tx.commit()?;
        Ok(())
    }

    /// Records a document whose latest version needs nothing sent, or is deliberately skipped.
    pub fn record_settled(
        &mut self,
        snapshot: &DocumentSnapshot,
        order_number: Option<&str>,
        state: SyncState,
        reason: Option<&str>,
        state_seen_at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let tx = self.conn.transaction()?;
        upsert_document(&tx, snapshot, order_number, state_seen_at, now)?;
        tx.execute(
            "UPDATE documents SET state = ?2, attempts = 0, last_error = ?3, updated_at = ?4
             WHERE reference = ?1",
            params![
                snapshot.reference.to_uuid_string(),
                state.code(),
                reason,
                fmt_time(now)
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records a document that failed: bad data, or rejected by Calltouch.
    #[allow(clippy::too_many_arguments)]
    pub fn record_failed(
        &mut self,
        kind: DocKind,
        reference: DocRef,
        number: &str,
        date: Option<NaiveDateTime>,
        order_number: Option<&str>,
        reason: &str,
        send: Option<&SendRecord<'_>>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO documents (reference, kind, number, doc_date, order_number, state,
                 attempts, last_error, first_seen_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'failed', 1, ?6, ?7, ?7)
             ON CONFLICT (reference) DO UPDATE SET state = 'failed',
                 attempts = documents.attempts + 1, last_error = excluded.last_error,
                 order_number = COALESCE(excluded.order_number, documents.order_number),
                 updated_at = excluded.updated_at",
            params![
                reference.to_uuid_string(),
                kind.code(),
                number,
                date.map(fmt_time).unwrap_or_default(),
                order_number,
                reason,
                fmt_time(now)
            ],
        )?;
        if let Some(send) = send {
            insert_send_log(&tx, reference, send, now)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Puts the failed or waiting documents with this number back in line: pending, no attempts
    /// counted, so the next cycle reads them again by number and sends them. Returns how many.
    pub fn requeue(&self, number: &str, now: NaiveDateTime) -> Result<usize, RegisterError> {
        Ok(self.conn.execute(
            "UPDATE documents SET state = 'pending', attempts = 0,
                 last_error = 're-queued by register retry', updated_at = ?2
             WHERE number = ?1 AND state IN ('failed', 'pending')",
            params![number.trim(), fmt_time(now)],
        )?)
    }

    /// Documents for the `register` command, newest change first.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<DocumentRecord>, RegisterError> {
        let mut sql = format!("{DOCUMENT_COLUMNS} WHERE 1 = 1");
        let mut values: Vec<String> = Vec::new();
        let mut bind = |sql: &mut String, clause: &str, value: String| {
            values.push(value);
            sql.push_str(&clause.replace('?', &format!("?{}", values.len())));
        };
        if let Some(state) = filter.state {
            bind(&mut sql, " AND state = ?", state.code().to_string());
        }
        if let Some(kind) = filter.kind {
            bind(&mut sql, " AND kind = ?", kind.code().to_string());
        }
        if let Some(number) = &filter.number {
            bind(&mut sql, " AND number = ?", number.trim().to_string());
        }
        if let Some(from) = filter.from {
            bind(
                &mut sql,
                " AND doc_date >= ?",
                from.format("%Y-%m-%d").to_string(),
            );
        }
        if let Some(to) = filter.to {
            let next_day = to.succ_opt().unwrap_or(to);
            bind(
                &mut sql,
                " AND doc_date < ?",
                next_day.format("%Y-%m-%d").to_string(),
            );
        }
        if filter.with_errors {
            sql.push_str(" AND last_error IS NOT NULL AND state IN ('failed', 'pending')");
        }
        sql.push_str(" ORDER BY updated_at DESC, number");
        let mut statement = self.conn.prepare(&sql)?;
        let rows =
            statement.query_map(rusqlite::params_from_iter(values.iter()), read_document_row)?;
        rows.map(|row| row?.into_record()).collect()
    }

    /// Document counts per sync state.
    pub fn counts(&self) -> Result<Vec<(SyncState, u64)>, RegisterError> {
        let mut statement = self
            .conn
            .prepare("SELECT state, COUNT(*) FROM documents GROUP BY state ORDER BY state")?;
        let rows =
            statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        rows.map(|row| {
            let (state, count) = row?;
            let state = SyncState::from_code(&state)
                .ok_or_else(|| RegisterError::Corrupt(format!("state {state:?}")))?;
            Ok((state, count as u64))
        })
        .collect()
    }

    /// The send log, oldest first: (endpoint, orderNumber, request JSON, outcome).
    pub fn send_log(&self) -> Result<Vec<(String, String, String, String)>, RegisterError> {
        let mut statement = self
            .conn
            .prepare("SELECT endpoint, order_number, request, outcome FROM send_log ORDER BY id")?;
        let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records how a run ended.
    pub fn record_run(
        &self,
        started_at: NaiveDateTime,
        finished_at: NaiveDateTime,
        outcome: &str,
        summary: &str,
    ) -> Result<(), RegisterError> {
        self.conn.execute(
            "INSERT INTO runs (started_at, finished_at, outcome, summary) VALUES (?1, ?2, ?3, ?4)",
            params![
                fmt_time(started_at),
                fmt_time(finished_at),
                outcome,
                summary
            ],
        )?;
        Ok(())
    }

    /// The last run: (started, finished, outcome, summary).
    pub fn last_run(
        &self,
    ) -> Result<Option<(NaiveDateTime, NaiveDateTime, String, String)>, RegisterError> {
        let row = self
            .conn
            .query_row(
                "SELECT started_at, finished_at, outcome, summary FROM runs ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(started, finished, outcome, summary)| {
            Ok((
                parse_time(&started)?,
                parse_time(&finished)?,
                outcome,
                summary,
            ))
        })
        .transpose()
    }
}

fn upsert_document(
    tx: &rusqlite::Transaction<'_>,
    snapshot: &DocumentSnapshot,
    order_number: Option<&str>,
    state_seen_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    tx.execute(
        "INSERT INTO documents (reference, kind, number, doc_date, order_number, state, onec_state,
             state_seen_at, first_seen_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?8, ?8)
         ON CONFLICT (reference) DO UPDATE SET number = excluded.number,
             doc_date = excluded.doc_date,
             order_number = COALESCE(excluded.order_number, documents.order_number),
             onec_state = excluded.onec_state, state_seen_at = excluded.state_seen_at",
        params![
            snapshot.reference.to_uuid_string(),
            snapshot.kind.code(),
            snapshot.number,
            fmt_time(snapshot.date),
            order_number,
            snapshot.state,
            fmt_time(state_seen_at),
            fmt_time(now)
        ],
    )?;
    Ok(())
}

fn insert_send_log(
    tx: &rusqlite::Transaction<'_>,
    reference: DocRef,
    send: &SendRecord<'_>,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    tx.execute(
        "INSERT INTO send_log (at, endpoint, order_number, reference, request, outcome, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            fmt_time(now),
            send.endpoint,
            send.order_number,
            reference.to_uuid_string(),
            send.request_json,
            send.outcome,
            send.detail
        ],
    )?;
    Ok(())
}

const DOCUMENT_COLUMNS: &str = "SELECT kind, reference, number, doc_date, order_number, state,
    onec_state, last_status, last_revenue, last_manager, attempts, last_error, updated_at
    FROM documents";

/// A documents row as stored, before its text columns are parsed.
struct DocumentRow {
    kind: String,
    reference: String,
    number: String,
    date: String,
    order_number: Option<String>,
    state: String,
    onec_state: Option<String>,
    last_status: Option<String>,
    last_revenue: Option<String>,
    last_manager: Option<String>,
    attempts: i64,
    last_error: Option<String>,
    updated_at: String,
}

fn read_document_row(r: &Row<'_>) -> rusqlite::Result<DocumentRow> {
    Ok(DocumentRow {
        kind: r.get(0)?,
        reference: r.get(1)?,
        number: r.get(2)?,
        date: r.get(3)?,
        order_number: r.get(4)?,
        state: r.get(5)?,
        onec_state: r.get(6)?,
        last_status: r.get(7)?,
        last_revenue: r.get(8)?,
        last_manager: r.get(9)?,
        attempts: r.get(10)?,
        last_error: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

impl DocumentRow {
    fn into_record(self) -> Result<DocumentRecord, RegisterError> {
        Ok(DocumentRecord {
            kind: parse_kind(&self.kind)?,
            reference: parse_ref(&self.reference)?,
            number: self.number,
            date: parse_time(&self.date).unwrap_or_default(),
            order_number: self.order_number,
            state: SyncState::from_code(&self.state)
                .ok_or_else(|| RegisterError::Corrupt(format!("state {:?}", self.state)))?,
            onec_state: self.onec_state,
            last_status: self.last_status,
            last_revenue: self.last_revenue,
            last_manager: self.last_manager,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            last_error: self.last_error,
            updated_at: parse_time(&self.updated_at)?,
        })
    }
}

fn fmt_time(t: NaiveDateTime) -> String {
    t.format(TIME_FORMAT).to_string()
}

fn parse_time(text: &str) -> Result<NaiveDateTime, RegisterError> {
    NaiveDateTime::parse_from_str(text, TIME_FORMAT)
        .map_err(|_| RegisterError::Corrupt(format!("time {text:?}")))
}

fn parse_ref(text: &str) -> Result<DocRef, RegisterError> {
    DocRef::from_uuid_string(text)
        .ok_or_else(|| RegisterError::Corrupt(format!("reference {text:?}")))
}

fn parse_kind(text: &str) -> Result<DocKind, RegisterError> {
    DocKind::from_code(text)
        .ok_or_else(|| RegisterError::Corrupt(format!("document kind {text:?}")))
}

fn parse_money(text: &str) -> Result<Money, RegisterError> {
    Money::parse(text).ok_or_else(|| RegisterError::Corrupt(format!("sum {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
    }

    fn temp_register(name: &str) -> (SqliteRegister, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!(
            "alfa-register-{name}-{}.sqlite",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        (SqliteRegister::open(&path).unwrap(), path)
    }

    fn booking(number: &str) -> DocumentSnapshot {
        let mut snapshot = DocumentSnapshot::new(
            DocKind::Booking,
            DocRef([number.len() as u8 + 1; 16]),
            number,
            at(1, 9),
        );
        snapshot.state = Some("Подтверждено".into());
        snapshot
    }

    fn accept(
        register: &mut SqliteRegister,
        snapshot: &DocumentSnapshot,
        status: &str,
        now: NaiveDateTime,
    ) {
        register
            .record_accepted(
                snapshot,
                &AcceptedDeal {
                    order_number: &snapshot.number,
                    root: snapshot.reference,
                    status: Some(status),
                    revenue: Money::parse("100.5"),
                    manager: Some("Иванов И.И."),
                    calltouch_id: Some(7),
                },
                &SendRecord {
                    endpoint: "create",
                    order_number: &snapshot.number,
                    request_json: "{}",
                    outcome: "accepted",
                    detail: None,
                },
                now,
                now,
            )
            .unwrap();
    }

    #[test]
    fn a_new_file_gets_the_current_schema_and_reopening_keeps_it() {
        let (register, path) = temp_register("schema");
        assert_eq!(register.schema_version().unwrap(), SCHEMA_VERSION);
        drop(register);
        assert_eq!(
            SqliteRegister::open(&path)
                .unwrap()
                .schema_version()
                .unwrap(),
            SCHEMA_VERSION
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_newer_schema_is_refused_with_advice() {
        let (register, path) = temp_register("newer");
        register
            .conn
            .pragma_update(None, "user_version", 99)
            .unwrap();
        drop(register);
        let error = SqliteRegister::open(&path).err().unwrap().to_string();
        assert!(error.contains("upgrade alfa-calltouch"), "{error}");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn an_accepted_deal_is_remembered_with_its_values_and_logged() {
        let (mut register, path) = temp_register("accepted");
        let snapshot = booking("000101");
        register
            .mark_pending(&snapshot, "000101", at(1, 9), at(2, 10), None, false)
            .unwrap();
        assert_eq!(
            register
                .document(snapshot.reference)
                .unwrap()
                .unwrap()
                .state,
            SyncState::Pending
        );
        accept(&mut register, &snapshot, "Подтвержденная заявка", at(2, 10));
        let deal = register.deal("000101").unwrap().unwrap();
        assert_eq!(deal.status.as_deref(), Some("Подтвержденная заявка"));
        assert_eq!(deal.revenue, Money::parse("100.50"));
        assert_eq!(deal.driver_kind, DocKind::Booking);
        let document = register.document(snapshot.reference).unwrap().unwrap();
        assert_eq!(document.state, SyncState::Sent);
        assert_eq!(document.last_revenue.as_deref(), Some("100.50"));
        assert_eq!(register.send_log().unwrap().len(), 1);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn state_seen_time_is_kept_while_the_state_stays() {
        let (mut register, path) = temp_register("seen");
        let snapshot = booking("000102");
        assert_eq!(
            register
                .state_seen_at(snapshot.reference, Some("Подтверждено"))
                .unwrap(),
            None
        );
        accept(&mut register, &snapshot, "x", at(3, 8));
        assert_eq!(
            register
                .state_seen_at(snapshot.reference, Some("Подтверждено"))
                .unwrap(),
            Some(Some(at(3, 8)))
        );
        assert_eq!(
            register
                .state_seen_at(snapshot.reference, Some("Отклонено"))
                .unwrap(),
            Some(None)
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn failures_count_attempts_and_filters_find_them() {
        let (mut register, path) = temp_register("failed");
        let good = booking("000103");
        accept(&mut register, &good, "x", at(4, 8));
        let bad = booking("0001040");
        for _ in 0..2 {
            register
                .record_failed(
                    bad.kind,
                    bad.reference,
                    &bad.number,
                    Some(bad.date),
                    None,
                    "Номер: empty",
                    None,
                    at(4, 9),
                )
                .unwrap();
        }
        let failed = register
            .list(&ListFilter {
                with_errors: true,
                ..ListFilter::default()
            })
            .unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].attempts, 2);
        assert_eq!(failed[0].last_error.as_deref(), Some("Номер: empty"));
        let by_number = register
            .list(&ListFilter {
                number: Some("000103".into()),
                ..ListFilter::default()
            })
            .unwrap();
        assert_eq!(by_number.len(), 1);
        let sent = register
            .list(&ListFilter {
                state: Some(SyncState::Sent),
                kind: Some(DocKind::Booking),
                from: Some(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()),
                to: Some(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()),
                ..ListFilter::default()
            })
            .unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(
            register.counts().unwrap(),
            vec![(SyncState::Failed, 1), (SyncState::Sent, 1)]
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn checkpoint_is_saved_and_reset_with_a_since_date() {
        let (register, path) = temp_register("checkpoint");
        assert_eq!(register.checkpoint("pg").unwrap(), CheckpointRow::default());
        register
            .save_checkpoint("pg", "100:105:", at(5, 1))
            .unwrap();
        assert_eq!(
            register.checkpoint("pg").unwrap().checkpoint.as_deref(),
            Some("100:105:")
        );
        let since = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        register
            .reset_checkpoint("pg", Some(since), at(5, 2))
            .unwrap();
        assert_eq!(
            register.checkpoint("pg").unwrap(),
            CheckpointRow {
                checkpoint: None,
                since: Some(since)
            }
        );
        // The cut-off chosen at reset stays for the cycles after it.
        register
            .save_checkpoint("pg", "200:200:", at(5, 3))
            .unwrap();
        assert_eq!(
            register.checkpoint("pg").unwrap(),
            CheckpointRow {
                checkpoint: Some("200:200:".into()),
                since: Some(since)
            }
        );
        std::fs::remove_file(&path).unwrap();
    }
}
