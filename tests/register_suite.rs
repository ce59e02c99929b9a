//! The register's behaviour, held identical on every backend: each case runs against a SQLite
//! file and against a schema on a real PostgreSQL server (a throwaway `PgCluster`). It covers
//! the schema version, checkpoints, per-document rows, deals, the send log, runs, filters,
//! re-queueing, the run lock, and that each step, a whole batch included, is one transaction.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};

use alfa_calltouch::domain::run::RunRecord;
use alfa_calltouch::domain::snapshot::{DocKind, DocRef, DocumentSnapshot, Money};
use alfa_calltouch::ops::lock::LockError;
use alfa_calltouch::register::postgres::{self, PostgresRegister};
use alfa_calltouch::register::sqlite::{self, SqliteRegister};
use alfa_calltouch::register::{
    AcceptedDeal, Admin, AnyRegister, CheckpointRow, CycleStore, DocumentRecord, FailedDocument,
    ListFilter, Outcome, PendingDocument, Register, RegisterError, RunLog, SendLogEntry,
    SendRecord, StateCount, SyncState,
};
use testkit::cluster::shared as cluster;

#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Where one case's register lives, so it can be reopened and reached from outside.
enum Place {
    File(PathBuf),
    Schema(String),
}

struct Subject {
    place: Place,
}

impl Subject {
    fn new(backend: Backend, name: &str) -> Subject {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let unique = format!("{name}_{}_{n}", std::process::id());
        let place = match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("alfa-register-{unique}.sqlite"));
                let _ = std::fs::remove_file(&path);
                Place::File(path)
            }
            Backend::Postgres => Place::Schema(format!("register_{unique}")),
        };
        Subject { place }
    }

    fn pg_config() -> tokio_postgres::Config {
        cluster().connection_string("postgres").parse().unwrap()
    }

    async fn open(&self) -> Result<AnyRegister, RegisterError> {
        Ok(match &self.place {
            Place::File(path) => AnyRegister::Sqlite(SqliteRegister::open(path)?),
            Place::Schema(schema) => {
                let register = PostgresRegister::open(Self::pg_config(), schema).await?;
                AnyRegister::Postgres(Box::new(register))
            }
        })
    }

    fn newest_version(&self) -> i64 {
        match self.place {
            Place::File(_) => sqlite::SCHEMA_VERSION,
            Place::Schema(_) => postgres::SCHEMA_VERSION,
        }
    }

    /// Runs statements on a connection of its own, as an administrator or a crash would.
    async fn outside(&self, sql: &str) {
        match &self.place {
            Place::File(path) => rusqlite::Connection::open(path)
                .unwrap()
                .execute_batch(sql)
                .unwrap(),
            Place::Schema(schema) => {
                let (client, connection) = Self::pg_config()
                    .connect(tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("SET search_path TO {schema}; {sql}"))
                    .await
                    .unwrap();
            }
        }
    }

    /// Makes the register claim a schema version newer than this program knows.
    async fn claim_version(&self, register: &AnyRegister, version: i64) {
        match register {
            AnyRegister::Sqlite(sqlite) => sqlite.claim_schema_version(version).unwrap(),
            AnyRegister::Postgres(_) => {
                self.outside(&format!(
                    "INSERT INTO schema_version (version) VALUES ({version})"
                ))
                .await
            }
            AnyRegister::Mssql(_) => unreachable!("this suite opens no MS SQL register"),
        }
    }
}

impl Drop for Subject {
    fn drop(&mut self) {
        if let Place::File(path) = &self.place {
            for suffix in ["", "-wal", "-shm", ".lock"] {
                let mut file = path.as_os_str().to_owned();
                file.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(file));
            }
        }
    }
}

fn at(day: u32, hour: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, day)
        .unwrap()
        .and_hms_opt(hour, 0, 0)
        .unwrap()
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

fn send<'a>(number: &'a str) -> SendRecord<'a> {
    SendRecord {
        endpoint: "create",
        order_number: number,
        request_json: "{}",
        outcome: "accepted",
        detail: None,
    }
}

async fn accept(
    register: &mut AnyRegister,
    snapshot: &DocumentSnapshot,
    status: &str,
    now: NaiveDateTime,
) -> Result<(), RegisterError> {
    register
        .record_outcomes(&[accepted(snapshot, status, now)], now)
        .await
}

/// Calltouch accepted the booking's deal, numbered as the booking.
fn accepted<'a>(
    snapshot: &'a DocumentSnapshot,
    status: &'a str,
    state_seen_at: NaiveDateTime,
) -> Outcome<'a> {
    Outcome::Accepted {
        snapshot,
        deal: AcceptedDeal {
            order_number: &snapshot.number,
            root: snapshot.reference,
            status: Some(status),
            revenue: Money::parse("100.5"),
            manager: Some("Иванов И.И."),
            calltouch_id: Some(7),
            account: None,
        },
        send: send(&snapshot.number),
        state_seen_at,
        note: None,
    }
}

/// The booking as pending under its own number.
fn pending<'a>(
    snapshot: &'a DocumentSnapshot,
    error: Option<&'a str>,
    count_attempt: bool,
) -> PendingDocument<'a> {
    PendingDocument {
        snapshot,
        order_number: &snapshot.number,
        state_seen_at: at(1, 9),
        error: error.map(Into::into),
        count_attempt,
    }
}

/// Bookings numbered `first`, `first + 1`, … with references of their own.
fn bookings(first: u32, count: u8) -> Vec<DocumentSnapshot> {
    (0..count)
        .map(|index| {
            let mut snapshot = booking(&format!("{:06}", first + u32::from(index)));
            snapshot.reference = DocRef([100 + index; 16]);
            snapshot
        })
        .collect()
}

async fn stored(register: &AnyRegister, snapshot: &DocumentSnapshot) -> Option<DocumentRecord> {
    register.document(snapshot.reference).await.unwrap()
}

fn failure<'a>(snapshot: &'a DocumentSnapshot, reason: &'a str) -> FailedDocument<'a> {
    FailedDocument {
        kind: snapshot.kind,
        reference: snapshot.reference,
        number: &snapshot.number,
        date: Some(snapshot.date),
        order_number: None,
        reason: reason.into(),
    }
}

async fn a_new_register_gets_the_current_schema_and_reopening_keeps_it(backend: Backend) {
    let subject = Subject::new(backend, "schema");
    let register = subject.open().await.unwrap();
    assert_eq!(
        register.schema_version().await.unwrap(),
        subject.newest_version()
    );
    drop(register);
    let register = subject.open().await.unwrap();
    assert_eq!(
        register.schema_version().await.unwrap(),
        subject.newest_version()
    );
}

async fn a_newer_schema_is_refused_with_advice(backend: Backend) {
    let subject = Subject::new(backend, "newer");
    let register = subject.open().await.unwrap();
    subject.claim_version(&register, 99).await;
    drop(register);
    let error = subject.open().await.err().unwrap().to_string();
    assert!(error.contains("upgrade alfa-calltouch"), "{error}");
}

async fn an_accepted_deal_is_remembered_with_its_values_and_logged(backend: Backend) {
    let subject = Subject::new(backend, "accepted");
    let mut register = subject.open().await.unwrap();
    let snapshot = booking("000101");
    register
        .mark_pending_batch(&[pending(&snapshot, None, false)], at(2, 10))
        .await
        .unwrap();
    let pending = register
        .document(snapshot.reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pending.state, SyncState::Pending);
    accept(&mut register, &snapshot, "Подтвержденная заявка", at(2, 10))
        .await
        .unwrap();
    let deal = register.deal("000101").await.unwrap().unwrap();
    assert_eq!(deal.status.as_deref(), Some("Подтвержденная заявка"));
    assert_eq!(deal.revenue, Money::parse("100.50"));
    assert_eq!(deal.driver_kind, DocKind::Booking);
    assert_eq!(deal.driver, snapshot.reference);
    assert_eq!(deal.driver_date, Some(at(1, 9)));
    let document = register
        .document(snapshot.reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(document.state, SyncState::Sent);
    assert_eq!(document.last_revenue.as_deref(), Some("100.50"));
    assert_eq!(document.updated_at, at(2, 10));
    assert_eq!(
        register.dump_send_log().await.unwrap(),
        vec![SendLogEntry {
            endpoint: "create".to_string(),
            order_number: "000101".to_string(),
            request: "{}".to_string(),
            outcome: "accepted".to_string()
        }]
    );
    assert!(register.deal("000999").await.unwrap().is_none());
}

async fn state_seen_time_is_kept_while_the_state_stays(backend: Backend) {
    let subject = Subject::new(backend, "seen");
    let mut register = subject.open().await.unwrap();
    let snapshot = booking("000102");
    let seen_first = register
        .state_seen_at(snapshot.reference, Some("Подтверждено"))
        .await;
    assert_eq!(seen_first.unwrap(), None);
    accept(&mut register, &snapshot, "x", at(3, 8))
        .await
        .unwrap();
    let seen = |state| register.state_seen_at(snapshot.reference, Some(state));
    assert_eq!(seen("Подтверждено").await.unwrap(), Some(Some(at(3, 8))));
    assert_eq!(seen("Отклонено").await.unwrap(), Some(None));
}

async fn failures_count_attempts_and_filters_find_them(backend: Backend) {
    let subject = Subject::new(backend, "failed");
    let mut register = subject.open().await.unwrap();
    let good = booking("000103");
    accept(&mut register, &good, "x", at(4, 8)).await.unwrap();
    let bad = booking("0001040");
    for _ in 0..2 {
        register
            .record_failed(&failure(&bad, "Номер: empty"), None, at(4, 9))
            .await
            .unwrap();
    }
    let list = |filter: ListFilter| {
        let register = &register;
        async move { register.list(&filter).await.unwrap() }
    };
    let failed = list(ListFilter {
        with_errors: true,
        ..ListFilter::default()
    })
    .await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attempts, 2);
    assert_eq!(failed[0].last_error.as_deref(), Some("Номер: empty"));
    let by_number = list(ListFilter {
        number: Some(" 000103 ".into()),
        ..ListFilter::default()
    })
    .await;
    assert_eq!(by_number.len(), 1);
    let day = NaiveDate::from_ymd_opt(2026, 11, 1);
    let sent = list(ListFilter {
        state: Some(SyncState::Sent),
        kind: Some(DocKind::Booking),
        from: day,
        to: day,
        ..ListFilter::default()
    })
    .await;
    assert_eq!(sent.len(), 1);
    let later = list(ListFilter {
        from: NaiveDate::from_ymd_opt(2026, 11, 2),
        ..ListFilter::default()
    })
    .await;
    assert!(later.is_empty());
    let newest_first: Vec<String> = list(ListFilter::default())
        .await
        .into_iter()
        .map(|d| d.number)
        .collect();
    assert_eq!(newest_first, ["0001040", "000103"]);
    assert_eq!(
        register.counts().await.unwrap(),
        vec![
            StateCount {
                state: SyncState::Failed,
                count: 1
            },
            StateCount {
                state: SyncState::Sent,
                count: 1
            }
        ]
    );
}

async fn a_rejection_is_logged_with_the_failure(backend: Backend) {
    let subject = Subject::new(backend, "rejected");
    let mut register = subject.open().await.unwrap();
    let snapshot = booking("000105");
    let rejected = SendRecord {
        outcome: "rejected",
        detail: Some("phone is not valid".into()),
        ..send("000105")
    };
    register
        .record_failed(
            &failure(&snapshot, "Calltouch rejected the deal"),
            Some(&rejected),
            at(5, 9),
        )
        .await
        .unwrap();
    let log = register.dump_send_log().await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].outcome, "rejected");
}

async fn skipped_and_settled_documents_keep_their_reason(backend: Backend) {
    let subject = Subject::new(backend, "settled");
    let mut register = subject.open().await.unwrap();
    let snapshot = booking("000106");
    register
        .record_settled(
            &snapshot,
            Some("000106"),
            SyncState::Skipped,
            Some("a deletion mark"),
            at(1, 9),
            at(6, 9),
        )
        .await
        .unwrap();
    let row = register
        .document(snapshot.reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.state, SyncState::Skipped);
    assert_eq!(row.order_number.as_deref(), Some("000106"));
    assert_eq!(row.last_error.as_deref(), Some("a deletion mark"));
    assert_eq!(row.onec_state.as_deref(), Some("Подтверждено"));
}

async fn a_deferred_document_counts_attempts_and_retry_requeues_it(backend: Backend) {
    let subject = Subject::new(backend, "requeue");
    let mut register = subject.open().await.unwrap();
    let snapshot = booking("000107");
    for _ in 0..3 {
        let deferred = Outcome::Deferred(pending(&snapshot, Some("429"), true));
        register
            .record_outcomes(&[deferred], at(7, 9))
            .await
            .unwrap();
    }
    let row = register
        .document(snapshot.reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.state, row.attempts), (SyncState::Pending, 3));
    register
        .record_failed(&failure(&snapshot, "gave up"), None, at(7, 10))
        .await
        .unwrap();
    assert_eq!(register.requeue("000107 ", at(7, 11)).await.unwrap(), 1);
    assert_eq!(register.requeue("000999", at(7, 11)).await.unwrap(), 0);
    let row = register
        .document(snapshot.reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.state, row.attempts), (SyncState::Pending, 0));
    assert_eq!(
        row.last_error.as_deref(),
        Some("re-queued by register retry")
    );
}

async fn checkpoint_is_saved_and_reset_with_a_since_date(backend: Backend) {
    let subject = Subject::new(backend, "checkpoint");
    let register = subject.open().await.unwrap();
    assert_eq!(
        register.checkpoint("pg").await.unwrap(),
        CheckpointRow::default()
    );
    register
        .save_checkpoint("pg", "100:105:", at(5, 1))
        .await
        .unwrap();
    assert_eq!(
        register
            .checkpoint("pg")
            .await
            .unwrap()
            .checkpoint
            .as_deref(),
        Some("100:105:")
    );
    let since = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
    register
        .reset_checkpoint("pg", Some(since), at(5, 2))
        .await
        .unwrap();
    assert_eq!(
        register.checkpoint("pg").await.unwrap(),
        CheckpointRow {
            checkpoint: None,
            since: Some(since)
        }
    );
    // The cut-off chosen at reset stays for the cycles after it.
    register
        .save_checkpoint("pg", "200:200:", at(5, 3))
        .await
        .unwrap();
    assert_eq!(
        register.checkpoint("pg").await.unwrap(),
        CheckpointRow {
            checkpoint: Some("200:200:".into()),
            since: Some(since)
        }
    );
    assert_eq!(
        register.checkpoint("other").await.unwrap(),
        CheckpointRow::default()
    );
}

async fn runs_are_recorded_and_the_last_one_is_shown(backend: Backend) {
    let subject = Subject::new(backend, "runs");
    let register = subject.open().await.unwrap();
    assert_eq!(register.last_run().await.unwrap(), None);
    register
        .record_run(at(8, 9), at(8, 10), "error", "no database")
        .await
        .unwrap();
    register
        .record_run(at(8, 11), at(8, 12), "ok", "read 2")
        .await
        .unwrap();
    assert_eq!(
        register.last_run().await.unwrap(),
        Some(RunRecord {
            started_at: at(8, 11),
            finished_at: at(8, 12),
            outcome: "ok".into(),
            summary: "read 2".into()
        })
    );
}

/// The status page's reads: recent runs, durations, the last success, documents per kind and
/// state, the send log per endpoint and per day, a deal's last answer.
async fn the_status_reads_count_runs_documents_and_sends(backend: Backend) {
    let subject = Subject::new(backend, "status_reads");
    let mut register = subject.open().await.unwrap();
    assert!(register.recent_runs(5).await.unwrap().is_empty());
    assert_eq!(register.last_success().await.unwrap(), None);
    assert!(register
        .last_answer(DocRef([7; 16]))
        .await
        .unwrap()
        .is_none());

    let started = at(8, 9);
    let seconds = |s: i64| started + chrono::TimeDelta::seconds(s);
    register
        .record_run(started, seconds(42), "ok", "read 2")
        .await
        .unwrap();
    register
        .record_run(seconds(60), seconds(62), "ok", "read 0")
        .await
        .unwrap();
    register
        .record_run(seconds(120), seconds(120), "error", "no database")
        .await
        .unwrap();
    // A run records `running` when it starts; the status reads count finished runs only.
    register
        .record_run(seconds(180), seconds(180), "running", "")
        .await
        .unwrap();
    let recent = register.recent_runs(2).await.unwrap();
    assert_eq!(
        recent
            .iter()
            .map(|r| r.outcome.as_str())
            .collect::<Vec<_>>(),
        ["error", "ok"],
        "newest first, no more than asked"
    );
    let durations = register.run_durations().await.unwrap();
    let find = |outcome: &str, secs: i64| {
        durations
            .iter()
            .find(|d| d.outcome == outcome && d.seconds == secs)
            .map(|d| d.count)
    };
    assert_eq!(find("ok", 42), Some(1));
    assert_eq!(find("ok", 2), Some(1));
    assert_eq!(find("error", 0), Some(1));
    assert_eq!(durations.len(), 3);
    assert_eq!(register.last_success().await.unwrap(), Some(seconds(62)));

    // One booking sent on the 2nd, one deferred, one failed with Calltouch's answer on the 3rd.
    let sent = booking("000001");
    accept(&mut register, &sent, "Подтверждено", at(2, 10))
        .await
        .unwrap();
    let [deferred, failed]: [DocumentSnapshot; 2] = bookings(10, 2).try_into().unwrap();
    register
        .mark_pending_batch(&[pending(&deferred, Some("HTTP 503"), true)], at(3, 9))
        .await
        .unwrap();
    let refusal = SendRecord {
        endpoint: "send",
        order_number: &failed.number,
        request_json: "{}",
        outcome: "rejected",
        detail: Some("bad phone".into()),
    };
    let mut refused = failure(&failed, "Calltouch refused the order: bad phone");
    refused.order_number = Some(failed.number.as_str());
    register
        .record_failed(&refused, Some(&refusal), at(3, 11))
        .await
        .unwrap();

    let totals = register.document_totals().await.unwrap();
    let count = |state: SyncState, with_error: bool| {
        totals
            .iter()
            .find(|t| t.kind == DocKind::Booking && t.state == state && t.with_error == with_error)
            .map(|t| t.count)
    };
    assert_eq!(count(SyncState::Sent, false), Some(1));
    assert_eq!(count(SyncState::Pending, true), Some(1));
    assert_eq!(count(SyncState::Failed, true), Some(1));
    assert_eq!(totals.len(), 3);

    let sends = register.send_totals().await.unwrap();
    let pairs: Vec<_> = sends
        .iter()
        .map(|s| (s.endpoint.as_str(), s.outcome.as_str(), s.count, s.day))
        .collect();
    assert_eq!(
        pairs,
        [
            ("create", "accepted", 1, None),
            ("send", "rejected", 1, None)
        ]
    );
    let daily = register.daily_sends(at(3, 0)).await.unwrap();
    assert_eq!(daily.len(), 1, "only from the 3rd on");
    assert_eq!(daily[0].day, Some(at(3, 0).date()));
    assert_eq!(daily[0].outcome, "rejected");
    assert_eq!(register.daily_sends(at(1, 0)).await.unwrap().len(), 2);

    let answer = register
        .last_answer(failed.reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.at, at(3, 11));
    assert_eq!(answer.outcome, "rejected");
    assert_eq!(answer.detail.as_deref(), Some("bad phone"));
}

async fn a_second_run_lock_is_refused_until_the_holder_is_gone(backend: Backend) {
    let subject = Subject::new(backend, "lock");
    let first_register = subject.open().await.unwrap();
    let second_register = subject.open().await.unwrap();
    let held = first_register.lock_run().await.unwrap();
    let refused = second_register.lock_run().await.unwrap_err();
    assert!(
        matches!(&refused, LockError::Busy { holder, .. }
            if holder.contains(&std::process::id().to_string())),
        "{refused}"
    );
    // The holder's end, as when its process is killed: the file handle or the server
    // connection goes away, and with it the lock.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match second_register.lock_run().await {
            Ok(_) => break,
            Err(LockError::Busy { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(error) => panic!("the lock was not freed: {error}"),
        }
    }
}

async fn a_step_that_fails_midway_leaves_nothing_behind(backend: Backend) {
    let subject = Subject::new(backend, "transaction");
    let mut register = subject.open().await.unwrap();
    let snapshot = booking("000108");
    // The send log is the last write of the step; without it the step fails there.
    subject
        .outside("ALTER TABLE send_log RENAME TO send_log_away")
        .await;
    let error = accept(&mut register, &snapshot, "x", at(9, 9)).await;
    assert!(error.is_err());
    assert!(register
        .document(snapshot.reference)
        .await
        .unwrap()
        .is_none());
    assert!(register.deal("000108").await.unwrap().is_none());
    subject
        .outside("ALTER TABLE send_log_away RENAME TO send_log")
        .await;
    accept(&mut register, &snapshot, "x", at(9, 10))
        .await
        .unwrap();
    assert!(register.deal("000108").await.unwrap().is_some());
    assert_eq!(register.dump_send_log().await.unwrap().len(), 1);
}

async fn a_batch_is_marked_pending_in_one_step(backend: Backend) {
    let subject = Subject::new(backend, "pending_batch");
    let mut register = subject.open().await.unwrap();
    let batch = bookings(201, 3);
    let documents = [
        pending(&batch[0], None, false),
        pending(&batch[1], None, false),
        pending(&batch[2], Some("waiting for an earlier change"), false),
    ];
    register
        .mark_pending_batch(&documents, at(10, 9))
        .await
        .unwrap();
    for snapshot in &batch {
        let row = stored(&register, snapshot).await.unwrap();
        assert_eq!(row.state, SyncState::Pending);
        assert_eq!(row.order_number.as_deref(), Some(snapshot.number.as_str()));
        assert_eq!((row.attempts, row.updated_at), (0, at(10, 9)));
    }
    let waiting = stored(&register, &batch[2]).await.unwrap();
    assert_eq!(
        waiting.last_error.as_deref(),
        Some("waiting for an earlier change")
    );
    assert!(register.dump_send_log().await.unwrap().is_empty());
}

async fn a_batch_of_outcomes_is_recorded_together(backend: Backend) {
    let subject = Subject::new(backend, "outcome_batch");
    let mut register = subject.open().await.unwrap();
    let batch = bookings(301, 3);
    let sent: Vec<_> = batch.iter().map(|s| pending(s, None, false)).collect();
    register.mark_pending_batch(&sent, at(11, 9)).await.unwrap();
    let rejected = SendRecord {
        endpoint: "send",
        outcome: "rejected",
        detail: Some("bad phone".into()),
        ..send(&batch[1].number)
    };
    let outcomes = [
        accepted(&batch[0], "Подтвержденная заявка", at(1, 9)),
        Outcome::Failed {
            failed: failure(&batch[1], "Calltouch rejected the deal: bad phone"),
            send: Some(rejected),
        },
        Outcome::Deferred(pending(&batch[2], Some("503"), true)),
    ];
    register
        .record_outcomes(&outcomes, at(11, 10))
        .await
        .unwrap();
    let mut states = Vec::new();
    for snapshot in &batch {
        let row = stored(&register, snapshot).await.unwrap();
        states.push((row.state, row.attempts));
    }
    assert_eq!(
        states,
        vec![
            (SyncState::Sent, 0),
            (SyncState::Failed, 1),
            (SyncState::Pending, 1)
        ]
    );
    assert!(register.deal(&batch[0].number).await.unwrap().is_some());
    assert!(register.deal(&batch[1].number).await.unwrap().is_none());
    assert!(register.deal(&batch[2].number).await.unwrap().is_none());
    let outcomes: Vec<String> = register
        .dump_send_log()
        .await
        .unwrap()
        .into_iter()
        .map(|entry| format!("{} {}", entry.order_number, entry.outcome))
        .collect();
    assert_eq!(outcomes, vec!["000301 accepted", "000302 rejected"]);
}

async fn a_batch_that_fails_midway_leaves_nothing_of_it(backend: Backend) {
    let subject = Subject::new(backend, "batch_transaction");
    let mut register = subject.open().await.unwrap();
    let batch = bookings(401, 2);
    let sent: Vec<_> = batch.iter().map(|s| pending(s, None, false)).collect();
    register.mark_pending_batch(&sent, at(12, 9)).await.unwrap();
    // The first outcome writes only documents; the second fails at the send log.
    subject
        .outside("ALTER TABLE send_log RENAME TO send_log_away")
        .await;
    let outcomes = [
        Outcome::Deferred(pending(&batch[0], Some("503"), true)),
        accepted(&batch[1], "x", at(1, 9)),
    ];
    assert!(register
        .record_outcomes(&outcomes, at(12, 10))
        .await
        .is_err());
    for snapshot in &batch {
        let row = stored(&register, snapshot).await.unwrap();
        assert_eq!(
            (row.state, row.attempts, row.last_error, row.updated_at),
            (SyncState::Pending, 0, None, at(12, 9))
        );
    }
    assert!(register.deal(&batch[1].number).await.unwrap().is_none());
    // The same batch, retried once the failure is gone, is recorded whole.
    subject
        .outside("ALTER TABLE send_log_away RENAME TO send_log")
        .await;
    register
        .record_outcomes(&outcomes, at(12, 11))
        .await
        .unwrap();
    assert_eq!(stored(&register, &batch[0]).await.unwrap().attempts, 1);
    assert!(register.deal(&batch[1].number).await.unwrap().is_some());
}

async fn the_write_probe_changes_nothing(backend: Backend) {
    let subject = Subject::new(backend, "probe");
    let mut register = subject.open().await.unwrap();
    register
        .save_checkpoint("pg", "1:1:", at(10, 9))
        .await
        .unwrap();
    register.probe_write().await.unwrap();
    assert_eq!(
        register
            .checkpoint("pg")
            .await
            .unwrap()
            .checkpoint
            .as_deref(),
        Some("1:1:")
    );
}

async fn the_register_view_shows_readable_columns(backend: Backend) {
    let subject = Subject::new(backend, "view");
    let mut register = subject.open().await.unwrap();
    let snapshot = booking("000109");
    accept(&mut register, &snapshot, "Отказ", at(11, 9))
        .await
        .unwrap();
    drop(register);
    // Reads the view as an administrator would; a missing column fails the statement.
    subject
        .outside(
            "CREATE TABLE view_copy AS SELECT document, number, document_date, deal, state, \
             last_status, last_error, attempts, updated, reference FROM register_view",
        )
        .await;
}

/// What the send log keeps past `[register] send_log_days` is deleted, and the texts kept
/// elsewhere never held a phone or an e-mail in the first place.
async fn the_send_log_is_pruned_and_nothing_else_keeps_phones_or_emails(backend: Backend) {
    const BODY: &str = r#"{"crm":"1С","orders":[{"orderNumber":"000130","requestContactParams":{"phones":["79157771122"],"emails":["ivan.petrov@mail.ru"]}}]}"#;
    const ECHO: &str = r#"HTTP 400: {"phones":["79157771122"],"emails":["ivan.petrov@mail.ru"]}"#;
    let subject = Subject::new(backend, "prune");
    let mut register = subject.open().await.unwrap();
    let documents = bookings(130, 3);
    let old_send = SendRecord {
        request_json: BODY,
        ..send("000130")
    };
    let old = Outcome::Accepted {
        snapshot: &documents[0],
        deal: AcceptedDeal {
            order_number: "000130",
            root: documents[0].reference,
            status: Some("Новая"),
            revenue: None,
            manager: Some("Иванов И.И."),
            calltouch_id: Some(7),
            account: None,
        },
        send: old_send.clone(),
        state_seen_at: at(2, 9),
        note: None,
    };
    register.record_outcomes(&[old], at(2, 9)).await.unwrap();
    let reason = format!("Calltouch rejected the deal: {ECHO}");
    let rejected = SendRecord {
        request_json: BODY,
        outcome: "rejected",
        detail: Some(ECHO.into()),
        ..send("000131")
    };
    register
        .record_failed(&failure(&documents[1], &reason), Some(&rejected), at(3, 9))
        .await
        .unwrap();
    let waiting = format!("left for the next cycle: {ECHO}; call +7 (915) 777-11-22");
    register
        .mark_pending_batch(&[pending(&documents[2], Some(&waiting), true)], at(3, 9))
        .await
        .unwrap();
    register
        .record_run(
            at(3, 9),
            at(3, 10),
            "error",
            &format!("Calltouch answered {ECHO}"),
        )
        .await
        .unwrap();
    let recent = Outcome::Accepted {
        snapshot: &documents[0],
        deal: AcceptedDeal {
            order_number: "000130",
            root: documents[0].reference,
            status: Some("Закрыт"),
            revenue: None,
            manager: Some("Иванов И.И."),
            calltouch_id: Some(7),
            account: None,
        },
        send: old_send.clone(),
        state_seen_at: at(10, 9),
        note: None,
    };
    register
        .record_outcomes(&[recent], at(10, 9))
        .await
        .unwrap();
    assert_eq!(register.dump_send_log().await.unwrap().len(), 3);

    // A cycle on day 12 keeping 7 days deletes what was sent before day 5.
    assert_eq!(register.prune_send_log(at(5, 9)).await.unwrap(), 2);
    let log = register.dump_send_log().await.unwrap();
    assert_eq!(log.len(), 1, "the kept window stays");
    assert_eq!(log[0].outcome, "accepted");
    assert_eq!(register.prune_send_log(at(5, 9)).await.unwrap(), 0);

    let mut kept: Vec<String> = Vec::new();
    for record in register.list(&ListFilter::default()).await.unwrap() {
        kept.extend(
            [
                Some(record.number),
                record.order_number,
                record.onec_state,
                record.last_status,
                record.last_revenue,
                record.last_manager,
                record.last_error,
            ]
            .into_iter()
            .flatten(),
        );
    }
    let deal = register.deal("000130").await.unwrap().unwrap();
    kept.extend([deal.status, deal.manager].into_iter().flatten());
    let run = register.last_run().await.unwrap().unwrap();
    kept.extend([run.outcome, run.summary]);
    let text = kept.join("\n");
    assert!(
        text.contains("Calltouch rejected the deal: HTTP 400"),
        "{text}"
    );
    for personal in ["79157771122", "915", "ivan.petrov", "mail.ru"] {
        assert!(!text.contains(personal), "{personal} kept in:\n{text}");
    }
    assert!(
        text.contains("[phone]") && text.contains("[e-mail]"),
        "{text}"
    );
}

/// `accepted`, in a named account.
fn in_account<'a>(
    snapshot: &'a DocumentSnapshot,
    account: Option<&'a str>,
    now: NaiveDateTime,
) -> Outcome<'a> {
    let mut outcome = accepted(snapshot, "Подтвержденная заявка", now);
    if let Outcome::Accepted { deal, .. } = &mut outcome {
        deal.account = account;
    }
    outcome
}

/// A deal keeps the Calltouch account it was created in: a later accepted update naming
/// another account does not move it (docs/dealer-groups.md); a deal of the single-account
/// setup has none.
async fn a_deal_keeps_the_account_it_was_created_in(backend: Backend) {
    let subject = Subject::new(backend, "account");
    let mut register = subject.open().await.unwrap();
    let south = booking("000140");
    let plain = booking("000141");
    register
        .record_outcomes(&[in_account(&south, Some("south"), at(2, 10))], at(2, 10))
        .await
        .unwrap();
    register
        .record_outcomes(&[in_account(&plain, None, at(2, 10))], at(2, 10))
        .await
        .unwrap();
    register
        .record_outcomes(&[in_account(&south, Some("north"), at(3, 10))], at(3, 10))
        .await
        .unwrap();
    let deal = register.deal("000140").await.unwrap().unwrap();
    assert_eq!(deal.account.as_deref(), Some("south"));
    let deal = register.deal("000141").await.unwrap().unwrap();
    assert_eq!(deal.account, None);
}

/// A register made before dealer groups (SQLite version 2, PostgreSQL version 1: no deal
/// account) opens, is migrated to the newest version, and keeps its rows.
async fn a_register_from_before_dealer_groups_is_migrated_keeping_its_rows(backend: Backend) {
    let subject = Subject::new(backend, "migrated");
    let mut register = subject.open().await.unwrap();
    accept(&mut register, &booking("000150"), "Подтверждено", at(2, 10))
        .await
        .unwrap();
    drop(register);
    let downgrade = match subject.place {
        Place::File(_) => "ALTER TABLE deals DROP COLUMN account; PRAGMA user_version = 2;",
        Place::Schema(_) => {
            "ALTER TABLE deals DROP COLUMN account; DELETE FROM schema_version WHERE version = 2;"
        }
    };
    subject.outside(downgrade).await;

    let mut register = subject.open().await.unwrap();
    assert_eq!(
        register.schema_version().await.unwrap(),
        subject.newest_version()
    );
    let kept = register.deal("000150").await.unwrap().unwrap();
    assert_eq!(kept.status.as_deref(), Some("Подтверждено"));
    assert_eq!(kept.account, None);
    let south = booking("000151");
    register
        .record_outcomes(&[in_account(&south, Some("south"), at(3, 10))], at(3, 10))
        .await
        .unwrap();
    let deal = register.deal("000151").await.unwrap().unwrap();
    assert_eq!(deal.account.as_deref(), Some("south"));
}

macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(super::Backend::Postgres).await
            }
        }
    )*};
}

on_every_backend!(
    a_new_register_gets_the_current_schema_and_reopening_keeps_it,
    a_newer_schema_is_refused_with_advice,
    an_accepted_deal_is_remembered_with_its_values_and_logged,
    state_seen_time_is_kept_while_the_state_stays,
    failures_count_attempts_and_filters_find_them,
    a_rejection_is_logged_with_the_failure,
    skipped_and_settled_documents_keep_their_reason,
    a_deferred_document_counts_attempts_and_retry_requeues_it,
    checkpoint_is_saved_and_reset_with_a_since_date,
    runs_are_recorded_and_the_last_one_is_shown,
    the_status_reads_count_runs_documents_and_sends,
    a_second_run_lock_is_refused_until_the_holder_is_gone,
    a_step_that_fails_midway_leaves_nothing_behind,
    a_batch_is_marked_pending_in_one_step,
    a_batch_of_outcomes_is_recorded_together,
    a_batch_that_fails_midway_leaves_nothing_of_it,
    the_write_probe_changes_nothing,
    the_register_view_shows_readable_columns,
    the_send_log_is_pruned_and_nothing_else_keeps_phones_or_emails,
    a_deal_keeps_the_account_it_was_created_in,
    a_register_from_before_dealer_groups_is_migrated_keeping_its_rows,
);

/// The grants docs/register.md gives are enough: a login that owns only the register's
/// schema, with no right on the database or on any other schema.
#[tokio::test]
async fn postgres_needs_only_a_schema_of_its_own() {
    let subject = Subject::new(Backend::Postgres, "grants");
    let Place::Schema(schema) = &subject.place else {
        unreachable!()
    };
    let login = format!("{schema}_login");
    subject
        .outside(&format!(
            "CREATE ROLE {login} LOGIN; \
             CREATE SCHEMA {schema} AUTHORIZATION {login};"
        ))
        .await;
    let mut pg = Subject::pg_config();
    pg.user(&login);
    let mut register =
        AnyRegister::Postgres(Box::new(PostgresRegister::open(pg, schema).await.unwrap()));
    accept(&mut register, &booking("000110"), "x", at(12, 9))
        .await
        .unwrap();
    register.probe_write().await.unwrap();
    assert!(register.lock_run().await.is_ok());
}

/// A cycle and the status page may open a new SQLite register at the same moment: both get
/// the schema, neither fails creating it twice.
#[test]
fn a_new_sqlite_file_opened_at_once_by_several_is_created_once() {
    for round in 0..10 {
        let subject = Subject::new(Backend::Sqlite, &format!("concurrent_open_{round}"));
        let Place::File(path) = &subject.place else {
            unreachable!()
        };
        let start = std::sync::Arc::new(std::sync::Barrier::new(4));
        let openers: Vec<_> = (0..4)
            .map(|_| {
                let (path, start) = (path.to_path_buf(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    SqliteRegister::open(&path).map(|_| ())
                })
            })
            .collect();
        for opener in openers {
            if let Err(error) = opener.join().unwrap() {
                panic!("round {round}: {error}");
            }
        }
    }
}
