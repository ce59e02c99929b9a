//! The sync cycle end to end without a database: an in-memory 1C source, the real rules, the
//! real client over loopback HTTP, the strict Calltouch emulator, and a real SQLite register.

mod common;

use chrono::{NaiveDate, NaiveDateTime};
use std::path::PathBuf;
use std::time::Duration;

use common::Outcome;

use alfa_calltouch::calltouch::client::{CalltouchClient, ClientError};
use alfa_calltouch::config::Config;
use alfa_calltouch::domain::snapshot::{BookingLink, DocKind, DocRef, DocumentSnapshot};
use alfa_calltouch::ops::privacy::Secret;
use alfa_calltouch::pipeline::{run_cycle, CycleError};
use alfa_calltouch::register::sqlite::SqliteRegister;
use alfa_calltouch::register::{Admin, CycleStore, SyncState};
use alfa_calltouch::source::memory::MemorySource;
use alfa_calltouch::source::RejectedDocument;
use testkit::config::TestConfig;
use testkit::emulator::{Emulator, Fault};

const SITE_ID: &str = "777";
const TOKEN: &str = "pipeline-secret-token";

struct Harness {
    emulator: Emulator,
    config: Config,
    register: SqliteRegister,
    client: CalltouchClient,
    source: MemorySource,
    dir: PathBuf,
}

impl Harness {
    async fn new(name: &str) -> Harness {
        let dir = std::env::temp_dir().join(format!("alfa-pipeline-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let emulator = Emulator::start(SITE_ID, TOKEN).await.unwrap();
        let mut keys = TestConfig::without_database(SITE_ID, &emulator.base_url())
            .quick()
            .backoff(5, 20)
            // The documents here carry numbers unique across kinds and years.
            .order_number("{number}");
        keys.calltouch.connect_timeout_secs = Some(1);
        keys.calltouch.request_timeout_secs = Some(1);
        // Cycles here follow each other at once; a deferred document is retried in each.
        keys.sync.retry_backoff_secs = Some(0);
        let config = keys.parse_in(&dir).unwrap();
        let register = SqliteRegister::open(&config.register_path()).unwrap();
        let client = CalltouchClient::new(
            &config.calltouch,
            Secret::new(TOKEN),
            config.deal.crm.clone(),
        )
        .unwrap();
        let mut source = MemorySource::new();
        source.now = Some(at(20, 12));
        Harness {
            emulator,
            config,
            register,
            client,
            source,
            dir,
        }
    }

    async fn cycle(&mut self) -> Result<alfa_calltouch::pipeline::CycleSummary, CycleError> {
        run_cycle(
            &self.config,
            &mut self.source,
            &mut self.register,
            &self.client,
        )
        .await
    }

    fn endpoints(&self) -> Vec<String> {
        self.emulator
            .requests()
            .iter()
            .map(|r| r.endpoint.clone())
            .collect()
    }

    async fn state_of(&self, reference: DocRef) -> SyncState {
        self.register
            .document(reference)
            .await
            .unwrap()
            .unwrap()
            .state
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn at(day: u32, hour: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, day)
        .unwrap()
        .and_hms_opt(hour, 0, 0)
        .unwrap()
}

fn booking(id: u8, number: &str, state: &str) -> DocumentSnapshot {
    let mut snapshot = DocumentSnapshot::new(DocKind::Booking, DocRef([id; 16]), number, at(2, 10));
    snapshot.state = Some(state.into());
    snapshot.sum = Some("1000.00".into());
    snapshot.manager = Some("Петров Пётр".into());
    snapshot.phones = vec!["8 (915) 777-11-22".into()];
    snapshot
}

fn work_order(
    id: u8,
    number: &str,
    state: &str,
    from: Option<&DocumentSnapshot>,
) -> DocumentSnapshot {
    let mut snapshot =
        DocumentSnapshot::new(DocKind::WorkOrder, DocRef([id; 16]), number, at(3, 10));
    snapshot.state = Some(state.into());
    snapshot.sum = Some("15300".into());
    snapshot.manager = Some("Сидоров Сидор".into());
    snapshot.booking = from.map(|b| BookingLink {
        reference: b.reference,
        number: b.number.clone(),
        date: b.date,
    });
    snapshot
}

#[tokio::test]
async fn a_booking_is_created_then_updated_on_a_state_change_and_idle_cycles_send_nothing() {
    let mut h = Harness::new("booking").await;
    let b = booking(1, "ЗР-001", "НеУказано");
    h.source.put(b.clone());
    let first = h.cycle().await.unwrap();
    assert_eq!((first.created, first.updated), (1, 0));
    let deal = &h.emulator.deals()["ЗР-001"];
    assert_eq!(deal["status"], "Предварительная заявка");
    assert_eq!(
        deal["statusDate"], "02-11-2026 10:00:00",
        "first state: the document date"
    );

    let idle = h.cycle().await.unwrap();
    assert_eq!(idle.read, 0);
    assert_eq!(h.emulator.requests().len(), 1);

    let mut confirmed = b.clone();
    confirmed.state = Some("Подтверждено".into());
    h.source.now = Some(at(21, 9));
    h.source.put(confirmed);
    let second = h.cycle().await.unwrap();
    assert_eq!((second.created, second.updated), (0, 1));
    let update: serde_json::Value = serde_json::from_str(&h.emulator.requests()[1].body).unwrap();
    assert_eq!(
        update["orders"][0],
        serde_json::json!({
            "orderNumber": "ЗР-001",
            "status": "Подтвержденная заявка",
            "statusDate": "21-11-2026 09:00:00",
            "orderDate": "21-11-2026 09:00:00",
            "updateDate": "21-11-2026 09:00:00"
        })
    );
    // A write that changes nothing relevant sends nothing.
    let mut irrelevant = h.source.get(b.reference).unwrap().clone();
    irrelevant.contact_reason = Some("другой текст".into());
    h.source.put(irrelevant);
    let third = h.cycle().await.unwrap();
    assert_eq!((third.unchanged, h.emulator.requests().len()), (1, 2));
    assert_eq!(h.state_of(b.reference).await, SyncState::Sent);
}

#[tokio::test]
async fn a_work_order_from_a_booking_takes_over_its_deal() {
    let mut h = Harness::new("item11").await;
    let b = booking(2, "ЗР-002", "Подтверждено");
    let w = work_order(3, "ЗН-002", "В работе", Some(&b));
    h.source.put(b.clone());
    h.source.put(w.clone());
    let summary = h.cycle().await.unwrap();
    assert_eq!((summary.created, summary.updated), (1, 1));
    assert_eq!(
        h.endpoints(),
        ["client-order/create", "client-order/update"]
    );
    assert_eq!(h.emulator.creates_per_order()["ЗР-002"], 1);
    let deal = &h.emulator.deals()["ЗР-002"];
    assert_eq!(deal["revenue"], "15300.00");
    assert_eq!(deal["manager"], "Сидоров Сидор");
    assert!(
        !h.emulator.deals().contains_key("ЗН-002"),
        "no deal of its own"
    );

    // The booking changes afterwards: the deal follows the work order, so nothing is sent.
    let mut refused = b.clone();
    refused.state = Some("Отклонено".into());
    h.source.put(refused);
    let after = h.cycle().await.unwrap();
    assert_eq!(after.skipped, 1);
    assert_eq!(h.emulator.requests().len(), 2);
    assert_eq!(h.state_of(b.reference).await, SyncState::Skipped);

    let mut closed = w.clone();
    closed.state = Some("Закрыт".into());
    closed.state_set_at = Some(at(22, 18));
    h.source.put(closed);
    h.cycle().await.unwrap();
    let deal = &h.emulator.deals()["ЗР-002"];
    assert_eq!(deal["status"], "Закрыт");
    assert_eq!(deal["statusDate"], "22-11-2026 18:00:00");
}

#[tokio::test]
async fn an_outage_leaves_documents_pending_and_the_checkpoint_in_place() {
    let mut h = Harness::new("outage").await;
    h.source.put(booking(4, "ЗР-004", "Подтверждено"));
    for _ in 0..2 {
        h.emulator.push_fault(Fault::ServerError(503));
    }
    let first = h.cycle().await.unwrap();
    assert_eq!((first.deferred, first.created), (1, 0));
    assert!(!first.checkpoint_moved);
    assert_eq!(h.state_of(DocRef([4; 16])).await, SyncState::Pending);
    let key = alfa_calltouch::pipeline::checkpoint_key(&h.config);
    assert_eq!(h.register.checkpoint(&key).await.unwrap().checkpoint, None);

    let second = h.cycle().await.unwrap();
    assert_eq!(second.created, 1);
    assert!(second.checkpoint_moved);
    assert_eq!(h.emulator.creates_per_order()["ЗР-004"], 1);
    assert_eq!(h.state_of(DocRef([4; 16])).await, SyncState::Sent);
}

#[tokio::test]
async fn a_rejected_order_fails_alone_with_calltouch_s_reason() {
    let mut h = Harness::new("rejected").await;
    h.source.put(booking(5, "ЗР-005", "Подтверждено"));
    h.source.put(booking(6, "ЗР-006", "Подтверждено"));
    h.emulator.push_fault(Fault::RejectOrder {
        order_number: "ЗР-005".into(),
        error: "manager is too long".into(),
    });
    let summary = h.cycle().await.unwrap();
    assert_eq!((summary.created, summary.failed), (1, 1));
    let failed = h.register.document(DocRef([5; 16])).await.unwrap().unwrap();
    assert_eq!(failed.state, SyncState::Failed);
    assert!(failed.last_error.unwrap().contains("manager is too long"));
    assert_eq!(h.state_of(DocRef([6; 16])).await, SyncState::Sent);
    assert!(
        summary.checkpoint_moved,
        "a rejection is settled, not retried"
    );
}

#[tokio::test]
async fn bad_data_is_recorded_per_document_and_the_batch_goes_on() {
    let mut h = Harness::new("baddata").await;
    let mut no_number = booking(7, "   ", "Подтверждено");
    no_number.number = String::new();
    h.source.put(no_number);
    let mut bad_sum = booking(8, "ЗР-008", "Подтверждено");
    bad_sum.sum = Some("12,5".into());
    h.source.put(bad_sum);
    h.source.put_rejected(RejectedDocument {
        kind: DocKind::WorkOrder,
        reference: DocRef([9; 16]),
        number: Some("ЗН-009".into()),
        field: "Дата".into(),
        reason: "the date is empty".into(),
    });
    h.source.put(booking(10, "ЗР-010", "Подтверждено"));
    let summary = h.cycle().await.unwrap();
    assert_eq!((summary.created, summary.failed), (1, 3));
    let mut reasons = Vec::new();
    for id in 7..=9 {
        let record = h.register.document(DocRef([id; 16])).await.unwrap();
        reasons.push(record.unwrap().last_error.unwrap());
    }
    let reason = |id: u8| reasons[usize::from(id - 7)].clone();
    assert!(reason(7).starts_with("Номер"), "{}", reason(7));
    assert!(reason(8).starts_with("СуммаДокумента"), "{}", reason(8));
    assert!(reason(9).starts_with("Дата"), "{}", reason(9));
}

#[tokio::test]
async fn a_number_repeated_across_years_is_not_merged_into_one_deal() {
    let mut h = Harness::new("years").await;
    let old = booking(11, "000001", "Подтверждено");
    h.source.put(old);
    h.cycle().await.unwrap();
    let mut new = booking(12, "000001", "НеУказано");
    new.date = at(25, 10);
    h.source.put(new);
    let summary = h.cycle().await.unwrap();
    assert_eq!(summary.failed, 1);
    let error = h
        .register
        .document(DocRef([12; 16]))
        .await
        .unwrap()
        .unwrap()
        .last_error
        .unwrap();
    assert!(error.contains("{year}"), "{error}");
    assert_eq!(h.emulator.creates_per_order()["000001"], 1);
}

#[tokio::test]
async fn a_bad_token_stops_the_cycle_without_failing_documents() {
    let mut h = Harness::new("token").await;
    h.source.put(booking(13, "ЗР-013", "Подтверждено"));
    h.client = CalltouchClient::new(&h.config.calltouch, Secret::new("wrong"), "x".into()).unwrap();
    let error = h.cycle().await.unwrap_err();
    assert!(
        matches!(
            error,
            CycleError::Calltouch(ClientError::Unauthorized { .. })
        ),
        "{error}"
    );
    assert_eq!(h.state_of(DocRef([13; 16])).await, SyncState::Pending);
    let key = alfa_calltouch::pipeline::checkpoint_key(&h.config);
    assert_eq!(h.register.checkpoint(&key).await.unwrap().checkpoint, None);
    assert!(!format!("{error:?}").contains("wrong"));
}

#[tokio::test]
async fn every_transient_fault_is_retried_and_an_ambiguous_send_makes_no_duplicate() {
    let mut h = Harness::new("transient").await;
    let mut outcome = Outcome::start("transient Calltouch faults retried in bounds");
    let faults = [
        Fault::ServerError(502),
        Fault::TooManyRequests {
            retry_after_secs: 0,
        },
        Fault::Hang(Duration::from_millis(1500)),
        Fault::DropConnection,
        Fault::MalformedJson,
        Fault::AcceptThenDrop,
    ];
    for (index, fault) in faults.iter().enumerate() {
        let id = 30 + index as u8;
        h.source
            .put(booking(id, &format!("ЗР-{id:03}"), "Подтверждено"));
        h.emulator.push_fault(fault.clone());
        let summary = h.cycle().await.unwrap();
        assert_eq!(summary.deferred, 0, "{fault:?}: retried within the cycle");
        assert_eq!(
            h.state_of(DocRef([id; 16])).await,
            SyncState::Sent,
            "{fault:?}"
        );
    }
    let creates = h.emulator.creates_per_order();
    assert!(creates.values().all(|count| *count == 1), "{creates:?}");
    assert_eq!(creates.len(), faults.len());
    outcome.faults = faults.len();
    outcome.documents = faults.len();
    outcome.deals = creates.len();
    outcome.print();
}

#[tokio::test]
async fn faults_past_the_retry_bound_leave_documents_pending_never_sent() {
    let mut h = Harness::new("bound").await;
    let mut outcome = Outcome::start("faults past the bound stay pending");
    let faults = [
        Fault::ServerError(500),
        Fault::TooManyRequests {
            retry_after_secs: 0,
        },
        Fault::DropConnection,
        Fault::MalformedJson,
    ];
    h.source.put(booking(40, "ЗР-040", "Подтверждено"));
    for fault in &faults {
        // The client makes two attempts per cycle; both meet the fault.
        h.emulator.push_fault(fault.clone());
        h.emulator.push_fault(fault.clone());
        let summary = h.cycle().await.unwrap();
        assert_eq!((summary.deferred, summary.created), (1, 0), "{fault:?}");
        assert!(!summary.checkpoint_moved);
        let record = h
            .register
            .document(DocRef([40; 16]))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.state, SyncState::Pending, "{fault:?}");
        assert!(record.last_status.is_none(), "nothing recorded as sent");
        h.register.requeue("ЗР-040", at(20, 12)).await.unwrap();
    }
    assert!(h.emulator.deals().is_empty());
    let last = h.cycle().await.unwrap();
    assert_eq!(last.created, 1);
    outcome.faults = faults.len() * 2;
    outcome.documents = 1;
    outcome.deals = h.emulator.deals().len();
    outcome.print();
}

#[tokio::test]
async fn a_document_calltouch_keeps_deferring_backs_off_fails_and_retry_sends_it() {
    let mut h = Harness::new("poison").await;
    let mut outcome = Outcome::start("poison document backs off, fails, retried");
    h.config.sync.max_document_attempts = 3;
    h.config.sync.retry_backoff_secs = 600;
    h.config.sync.retry_backoff_max_secs = 3600;
    let poison = booking(50, "ЗР-050", "Подтверждено");
    h.source.put(poison.clone());
    let start = at(20, 12);
    let prepare = |h: &mut Harness, minutes: i64, faults: usize| {
        h.source.now = Some(start + chrono::Duration::minutes(minutes));
        for _ in 0..faults {
            h.emulator.push_fault(Fault::ServerError(500));
        }
        faults
    };
    // Attempt 1 at 12:00; the next waits 10 minutes, the one after 20.
    for (minutes, faults, sent) in [(0, 2, true), (5, 0, false), (10, 2, true), (25, 0, false)] {
        outcome.faults += prepare(&mut h, minutes, faults);
        let before = h.emulator.requests().len();
        let summary = h.cycle().await.unwrap();
        assert_eq!(summary.deferred, 1, "at +{minutes} min");
        assert!(
            !summary.checkpoint_moved,
            "a deferred document keeps the checkpoint"
        );
        assert_eq!(
            h.emulator.requests().len() > before,
            sent,
            "at +{minutes} min"
        );
    }
    outcome.faults += prepare(&mut h, 30, 2);
    let last = h.cycle().await.unwrap();
    assert_eq!((last.failed, last.deferred), (1, 0));
    assert!(
        last.checkpoint_moved,
        "a failed document no longer holds the checkpoint"
    );
    let failed = h
        .register
        .document(poison.reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((failed.state, failed.attempts), (SyncState::Failed, 3));
    let reason = failed.last_error.unwrap();
    assert!(
        reason.contains("3 attempts") && reason.contains("HTTP 500"),
        "{reason}"
    );

    // Nothing changed in 1C, so only the re-queue brings it back.
    assert_eq!(h.cycle().await.unwrap().read, 0);
    assert_eq!(h.register.requeue("ЗР-050", start).await.unwrap(), 1);
    let retried = h.cycle().await.unwrap();
    assert_eq!((retried.read, retried.created), (1, 1));
    assert_eq!(h.state_of(poison.reference).await, SyncState::Sent);
    assert_eq!(h.emulator.creates_per_order()["ЗР-050"], 1);
    outcome.documents = 1;
    outcome.deals = h.emulator.deals().len();
    outcome.print();
}

#[tokio::test]
async fn a_requeued_document_that_cannot_be_read_again_is_failed_with_a_reason() {
    let mut h = Harness::new("gone").await;
    h.source.put_rejected(RejectedDocument {
        kind: DocKind::Booking,
        reference: DocRef([60; 16]),
        number: Some("ЗР-060".into()),
        field: "Дата".into(),
        reason: "the date is empty".into(),
    });
    assert_eq!(h.cycle().await.unwrap().failed, 1);
    assert_eq!(h.register.requeue("ЗР-060", at(20, 12)).await.unwrap(), 1);
    let summary = h.cycle().await.unwrap();
    assert_eq!(summary.failed, 1);
    assert!(summary.checkpoint_moved);
    let record = h
        .register
        .document(DocRef([60; 16]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.state, SyncState::Failed);
    assert!(
        record
            .last_error
            .as_deref()
            .unwrap()
            .contains("no longer found"),
        "{record:?}"
    );
}

#[tokio::test]
async fn a_long_outage_counts_no_attempt_and_one_cycle_sends_everything_when_it_ends() {
    let mut h = Harness::new("long-outage").await;
    let mut outcome = Outcome::start("long outage counts no attempt");
    h.config.sync.max_document_attempts = 3;
    let documents: Vec<DocumentSnapshot> = (0..5)
        .map(|i| booking(70 + i, &format!("ЗР-07{i}"), "Подтверждено"))
        .collect();
    for document in &documents {
        h.source.put(document.clone());
    }
    h.emulator.set_outage(Some(Fault::ServerError(503)));
    // Twice as many cycles as the attempts that would fail a document.
    for cycle in 0..6 {
        let before = h.emulator.requests().len();
        let summary = h.cycle().await.unwrap();
        assert_eq!(
            (summary.deferred, summary.failed, summary.created),
            (5, 0, 0),
            "cycle {cycle}"
        );
        assert!(!summary.checkpoint_moved);
        let reason = summary.outage.as_deref().unwrap_or_default();
        assert!(reason.contains("503"), "cycle {cycle}: {summary}");
        // One batch: the client's two attempts and the probe; nothing more is tried.
        assert_eq!(h.emulator.requests().len() - before, 3, "cycle {cycle}");
        outcome.faults += 3;
    }
    for document in &documents {
        let record = h
            .register
            .document(document.reference)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (record.state, record.attempts),
            (SyncState::Pending, 0),
            "{record:?}"
        );
        assert!(record
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("Calltouch unavailable, no attempt counted")));
    }
    assert!(h.emulator.deals().is_empty());

    h.emulator.set_outage(None);
    let back = h.cycle().await.unwrap();
    assert_eq!((back.created, back.deferred, back.failed), (5, 0, 0));
    assert!(back.outage.is_none() && back.checkpoint_moved);
    let creates = h.emulator.creates_per_order();
    assert_eq!(creates.len(), 5);
    assert!(creates.values().all(|&n| n == 1), "{creates:?}");
    for document in &documents {
        assert_eq!(h.state_of(document.reference).await, SyncState::Sent);
    }
    assert_eq!(h.cycle().await.unwrap().created, 0, "nothing sent twice");
    outcome.documents = documents.len();
    outcome.deals = h.emulator.deals().len();
    outcome.duplicates = creates.values().map(|n| n - 1).sum();
    outcome.print();
}

#[tokio::test]
async fn an_outage_stops_the_cycle_at_the_first_batch_and_the_next_cycle_goes_on_from_there() {
    let mut h = Harness::new("outage-stop").await;
    h.config.calltouch.batch_size = 2;
    // The client owns the batch size: rebuilt with it, as a run builds it from the config.
    h.client = CalltouchClient::new(
        &h.config.calltouch,
        Secret::new(TOKEN),
        h.config.deal.crm.clone(),
    )
    .unwrap();
    let documents: Vec<DocumentSnapshot> = (0..5)
        .map(|i| booking(80 + i, &format!("ЗР-08{i}"), "Подтверждено"))
        .collect();
    for document in &documents {
        h.source.put(document.clone());
    }
    // The first batch goes through; the second meets a dropped connection, twice, and the probe
    // finds Calltouch still gone.
    h.emulator.set_outage_after(1, Fault::DropConnection);
    let first = h.cycle().await.unwrap();
    h.emulator.set_outage(None);
    assert_eq!((first.created, first.deferred), (2, 3), "{first}");
    assert!(first.outage.is_some());
    let batches: Vec<String> = h.endpoints();
    assert_eq!(batches.len(), 1 + 2 + 1, "{batches:?}");
    for document in &documents[4..] {
        assert!(
            h.register
                .document(document.reference)
                .await
                .unwrap()
                .is_none(),
            "the cycle stopped before the third batch"
        );
    }

    let second = h.cycle().await.unwrap();
    assert_eq!(
        (second.created, second.unchanged, second.deferred),
        (3, 2, 0)
    );
    assert!(second.checkpoint_moved);
    assert!(h.emulator.creates_per_order().values().all(|&n| n == 1));
    for document in &documents {
        let record = h
            .register
            .document(document.reference)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((record.state, record.attempts), (SyncState::Sent, 0));
    }
}

/// A 1C database whose connection is gone: the read fails, or (`read_works`) the read returns
/// nothing and the re-read of the waiting document by its number fails.
struct LostDatabase {
    read_works: bool,
}

impl alfa_calltouch::source::Source for LostDatabase {
    async fn changes(
        &mut self,
        _from: &alfa_calltouch::source::ReadFrom,
        _cutoff: NaiveDate,
    ) -> Result<alfa_calltouch::source::ChangeSet, alfa_calltouch::source::SourceError> {
        if !self.read_works {
            return Err(alfa_calltouch::source::SourceError::Connect(
                "connection reset by peer".into(),
            ));
        }
        Ok(alfa_calltouch::source::ChangeSet {
            documents: Vec::new(),
            rejected: Vec::new(),
            checkpoint: "0".into(),
            read_at: at(20, 13),
        })
    }

    async fn find_by_number(
        &mut self,
        _number: &str,
    ) -> Result<Vec<DocumentSnapshot>, alfa_calltouch::source::SourceError> {
        Err(alfa_calltouch::source::SourceError::Query {
            query: "with_number".into(),
            message: "connection closed".into(),
        })
    }
}

#[tokio::test]
async fn a_lost_database_connection_counts_no_attempt_and_fails_nothing() {
    let mut h = Harness::new("lost-db").await;
    let waiting = booking(90, "ЗР-090", "Подтверждено");
    h.source.put(waiting.clone());
    // Calltouch answers the probe, so the 500s count one attempt against the booking.
    h.emulator.push_fault(Fault::ServerError(500));
    h.emulator.push_fault(Fault::ServerError(500));
    let first = h.cycle().await.unwrap();
    assert_eq!((first.deferred, first.failed), (1, 0), "{first}");
    let before = h.register.list(&Default::default()).await.unwrap();

    for read_works in [false, true] {
        let mut lost = LostDatabase { read_works };
        let error = run_cycle(&h.config, &mut lost, &mut h.register, &h.client)
            .await
            .unwrap_err();
        assert!(matches!(error, CycleError::Source(_)), "{error}");
        let after = h.register.list(&Default::default()).await.unwrap();
        assert_eq!(after, before, "read works: {read_works}");
    }
    assert_eq!(
        (before[0].state, before[0].attempts),
        (SyncState::Pending, 1)
    );
    // The connection is back: the booking goes out as if nothing had happened.
    let back = h.cycle().await.unwrap();
    assert_eq!((back.created, back.failed), (1, 0), "{back}");
}
