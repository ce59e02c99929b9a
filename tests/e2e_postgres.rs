//! The whole assignment end to end: a real PostgreSQL holding a generated 1C-shaped Альфа-Авто
//! database, the strict Calltouch emulator, and the real `run` command path (config file, name
//! map, source, rules, client, register, lock). One test per case of Tables 1-3 and items 10-12.
//!
//! Expected values are written from the generator's own record of each document (what 1C
//! holds), not computed by the code under test.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde_json::{json, Value};

use alfa_calltouch::config::Config;
use alfa_calltouch::domain::snapshot::EMPTY_STATE;
use alfa_calltouch::domain::snapshot::{DocKind, DocRef, DocumentSnapshot, Money};
use alfa_calltouch::pipeline::run::run;
use alfa_calltouch::register::settings::RegisterKind;
use alfa_calltouch::register::{self, Admin, AnyRegister, CycleStore, SyncState};
use alfa_calltouch::source::settings::Preset;
use testkit::cluster::shared as cluster;
use testkit::config::{Connection, RegisterKeys, SourceKeys, TestConfig};
use testkit::emulator::Emulator;
use testkit::fixture::{Fixture, FixtureSpec};

const SITE_ID: &str = "4242";
const TOKEN: &str = "e2e-token";

/// One generated database, the emulator, and a config file pointing at both.
struct World {
    fixture: Fixture,
    emulator: Emulator,
    config: Config,
    dir: PathBuf,
}

impl World {
    async fn new(preset: Preset, seed: u64, register: RegisterKind) -> World {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let database = format!("e2e_{}_{n}", preset.code());
        let connection = cluster()
            .create_database(&database)
            .await
            .expect("create database");
        let fixture = Fixture::generate(&connection, FixtureSpec::small(preset, seed))
            .await
            .expect("generate fixture");
        let emulator = Emulator::start(SITE_ID, TOKEN)
            .await
            .expect("start emulator");
        let dir = std::env::temp_dir().join(format!("alfa-e2e-{}-{database}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("namemap.toml"), fixture.name_map_toml()).unwrap();
        std::fs::write(dir.join("token.txt"), TOKEN).unwrap();
        std::fs::write(dir.join("password.txt"), "unused").unwrap();
        let mut source = SourceKeys::new(Connection::local_postgres(cluster().port(), &database))
            // Cycles here follow each other at once and edit documents months old: exact every
            // cycle.
            .exact();
        source.preset = preset;
        source.start_date = fixture.spec().first_day.to_string();
        TestConfig::new(SITE_ID, &emulator.base_url(), source)
            .quick()
            .order_number("{kind}-{number}")
            .register(register_keys(register, &database))
            .write(&dir.join("config.toml"));
        let config = Config::load(&dir.join("config.toml")).expect("config");
        World {
            fixture,
            emulator,
            config,
            dir,
        }
    }

    async fn cycle(&self) -> u8 {
        run(&self.config).await.expect("cycle")
    }

    async fn register(&self) -> AnyRegister {
        register::open(&self.config).await.unwrap()
    }

    /// The generator's record of every live document, as 1C holds it.
    fn truth(&self) -> Vec<DocumentSnapshot> {
        self.fixture
            .documents()
            .iter()
            .filter_map(|d| self.fixture.expected(d.reference))
            .collect()
    }

    /// The first document that satisfies `wanted`; panics naming the case when none does.
    fn pick(&self, case: &str, wanted: impl Fn(&DocumentSnapshot) -> bool) -> DocumentSnapshot {
        self.truth()
            .into_iter()
            .find(|d| wanted(d))
            .unwrap_or_else(|| panic!("the generated database has no document for: {case}"))
    }

    /// Work orders created from this booking.
    fn work_orders_of(&self, booking: DocRef) -> Vec<DocumentSnapshot> {
        self.truth()
            .into_iter()
            .filter(|d| d.booking.as_ref().is_some_and(|b| b.reference == booking))
            .collect()
    }

    /// Each order body the emulator received on an endpoint, by orderNumber, in arrival order.
    fn orders_sent(&self, endpoint: &str) -> Vec<Value> {
        self.emulator
            .requests()
            .iter()
            .filter(|r| r.endpoint.ends_with(endpoint))
            .flat_map(|r| {
                let body: Value = serde_json::from_str(&r.body).unwrap();
                body["orders"].as_array().cloned().unwrap_or_default()
            })
            .collect()
    }

    fn orders_for(&self, endpoint: &str, order_number: &str) -> Vec<Value> {
        self.orders_sent(endpoint)
            .into_iter()
            .filter(|o| o["orderNumber"] == order_number)
            .collect()
    }

    fn late(&self, hours: i64) -> NaiveDateTime {
        (self.fixture.spec().first_day + Duration::days(i64::from(self.fixture.spec().days) + 2))
            .and_hms_opt(9, 0, 0)
            .unwrap()
            + Duration::hours(hours)
    }
}

/// The `[register]` section: a SQLite file beside the config, or a schema of its own in the
/// 1C database itself, as on a customer's server.
fn register_keys(kind: RegisterKind, database: &str) -> RegisterKeys {
    match kind {
        RegisterKind::Sqlite => RegisterKeys::sqlite(),
        RegisterKind::Postgres => {
            RegisterKeys::server(Connection::local_postgres(cluster().port(), database))
        }
        RegisterKind::Mssql => unreachable!("no MS SQL register in these tests"),
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn date(t: NaiveDateTime) -> String {
    t.format("%d-%m-%Y %H:%M:%S").to_string()
}

fn money(sum: &Option<String>) -> String {
    Money::parse(sum.as_deref().unwrap())
        .unwrap()
        .to_calltouch()
}

/// A Russian phone as 1C users type it, reduced to the 11 digits Calltouch wants.
fn russian_phone(raw: &str) -> String {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    format!("7{}", &digits[digits.len() - 10..])
}

fn order_number(d: &DocumentSnapshot) -> String {
    match (&d.booking, d.kind) {
        (Some(b), _) => format!("ЗР-{}", b.number),
        (None, DocKind::Booking) => format!("ЗР-{}", d.number),
        (None, DocKind::WorkOrder) => format!("ЗН-{}", d.number),
    }
}

/// Asserts an order body field by field, and that it has no field beyond the expected ones.
fn assert_fields(actual: &Value, expected: &Value) {
    let actual = actual.as_object().expect("an order object");
    let expected = expected.as_object().unwrap();
    for (key, value) in expected {
        assert_eq!(actual.get(key), Some(value), "field {key}");
    }
    let extra: Vec<&String> = actual
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    assert!(
        extra.is_empty(),
        "unexpected fields {extra:?} in {actual:?}"
    );
}

fn booking_status(state: &str) -> Option<&'static str> {
    BTreeMap::from([
        (EMPTY_STATE, "Предварительная заявка"),
        ("НеУказано", "Предварительная заявка"),
        ("Подтверждено", "Подтвержденная заявка"),
        ("Отклонено", "Отказ"),
    ])
    .get(state)
    .copied()
}

fn is_standalone(d: &DocumentSnapshot) -> bool {
    !d.deletion_mark && d.booking.is_none()
}

// ---------------------------------------------------------------------------------------------
// Table 1: the create body.

async fn table1_booking_create_carries_every_field(
    preset: Preset,
    seed: u64,
    register: RegisterKind,
) {
    let w = World::new(preset, seed, register).await;
    let b = w.pick("a booking with every field filled and no work order", |d| {
        d.kind == DocKind::Booking
            && is_standalone(d)
            && w.work_orders_of(d.reference).is_empty()
            && d.state
                .as_deref()
                .is_some_and(|s| booking_status(s).is_some())
            && !d.phones.is_empty()
            && !d.emails.is_empty()
            && d.manager.is_some()
            && d.marketing_programme.is_some()
            && d.contact_reason.is_some()
            && d.car.make.is_some()
            && d.car.model.is_some()
            && d.car.year.is_some()
    });
    assert_eq!(w.cycle().await, 0);
    let number = order_number(&b);
    let creates = w.orders_for("create", &number);
    assert_eq!(creates.len(), 1);
    let phones: Vec<String> = b.phones.iter().map(|p| russian_phone(p)).collect();
    let emails: Vec<String> = b.emails.iter().map(|e| e.to_lowercase()).collect();
    let car = format!(
        "{} ({})",
        b.car.make.clone().unwrap(),
        b.car.model.clone().unwrap()
    );
    assert_fields(
        &creates[0],
        &json!({
            "orderNumber": number,
            "orderDate": date(b.date),
            "status": booking_status(b.state.as_deref().unwrap()),
            "statusDate": date(b.date),
            "revenue": money(&b.sum),
            "manager": b.manager,
            "comment": {"text": b.contact_reason},
            "addTags": [{"tag": "Сервис"}, {"tag": car}, {"tag": b.car.year.unwrap().to_string()}],
            "matching": [
                {"type": "callContact", "callContactParams": {
                    "phones": phones, "date": date(b.date),
                    "callTypeToMatch": "nearest", "searchDepth": 259200}},
                {"type": "requestContact", "requestContactParams": {
                    "emails": emails, "phones": phones, "date": date(b.date),
                    "requestTypeToMatch": "nearest", "searchDepth": 259200}},
                {"type": "customSources", "customSourceParams": {
                    "source": "офлайн визит", "medium": "офлайн визит",
                    "campaign": b.marketing_programme}}
            ]
        }),
    );
    let request = w
        .emulator
        .requests()
        .into_iter()
        .find(|r| r.endpoint.ends_with("create"))
        .unwrap();
    let body: Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(body["crm"], "1С Альфа-Авто");
}

async fn table1_work_order_without_booking_is_its_own_deal(
    preset: Preset,
    seed: u64,
    register: RegisterKind,
) {
    let w = World::new(preset, seed, register).await;
    let wo = w.pick("a work order without a booking", |d| {
        d.kind == DocKind::WorkOrder && is_standalone(d)
    });
    w.cycle().await;
    let creates = w.orders_for("create", &format!("ЗН-{}", wo.number));
    assert_eq!(creates.len(), 1, "its own deal under its own number");
    assert_eq!(creates[0]["orderDate"], date(wo.date));
    assert_eq!(creates[0]["revenue"], money(&wo.sum));
}

async fn table1_no_contact_data_matches_by_custom_source_only(
    preset: Preset,
    seed: u64,
    register: RegisterKind,
) {
    let w = World::new(preset, seed, register).await;
    let d = w.pick("a standalone document without phones and e-mails", |d| {
        is_standalone(d)
            && d.phones.is_empty()
            && d.emails.is_empty()
            && (d.kind == DocKind::WorkOrder || w.work_orders_of(d.reference).is_empty())
    });
    w.cycle().await;
    let creates = w.orders_for("create", &order_number(&d));
    let campaign = d
        .marketing_programme
        .clone()
        .unwrap_or_else(|| "офлайн визит".into());
    assert_eq!(
        creates[0]["matching"],
        json!([{"type": "customSources", "customSourceParams": {
            "source": "офлайн визит", "medium": "офлайн визит", "campaign": campaign}}])
    );
}

async fn table1_campaign_defaults_without_a_marketing_programme(
    preset: Preset,
    seed: u64,
    register: RegisterKind,
) {
    let w = World::new(preset, seed, register).await;
    let d = w.pick("a standalone booking without a marketing programme", |d| {
        d.kind == DocKind::Booking && is_standalone(d) && d.marketing_programme.is_none()
    });
    w.cycle().await;
    let creates = w.orders_for("create", &order_number(&d));
    let matching = creates[0]["matching"].as_array().unwrap();
    assert_eq!(
        matching.last().unwrap()["customSourceParams"]["campaign"],
        "офлайн визит"
    );
}

// ---------------------------------------------------------------------------------------------
// Table 2: statuses.

async fn table2_every_booking_state_maps(preset: Preset, seed: u64, register: RegisterKind) {
    let w = World::new(preset, seed, register).await;
    w.cycle().await;
    let mut seen = BTreeMap::new();
    for b in w
        .truth()
        .into_iter()
        .filter(|d| d.kind == DocKind::Booking && is_standalone(d))
    {
        if !w.work_orders_of(b.reference).is_empty() {
            continue;
        }
        let creates = w.orders_for("create", &order_number(&b));
        let sent = creates[0]
            .get("status")
            .and_then(Value::as_str)
            .map(String::from);
        let expected = b
            .state
            .as_deref()
            .and_then(booking_status)
            .map(String::from);
        assert_eq!(sent, expected, "{}", b.label());
        if let Some(state) = b.state {
            seen.insert(state, sent);
        }
    }
    let names: Vec<&String> = seen.keys().collect();
    let wanted: Vec<&str> = match preset {
        Preset::Alfa6 => vec!["НеУказано", "Отклонено", "Подтверждено"],
        // 5.1 has no «not set» value: a new booking's state is the empty reference.
        Preset::Alfa5 => vec![EMPTY_STATE, "Отклонено", "Подтверждено"],
    };
    assert_eq!(names, wanted, "every booking state was exercised");
}

async fn table2_work_order_states_map_and_others_are_left_out(
    preset: Preset,
    seed: u64,
    register: RegisterKind,
) {
    let w = World::new(preset, seed, register).await;
    w.cycle().await;
    let mut seen = BTreeMap::new();
    for wo in w
        .truth()
        .into_iter()
        .filter(|d| d.kind == DocKind::WorkOrder && is_standalone(d))
    {
        let create = &w.orders_for("create", &order_number(&wo))[0];
        let expected = match wo.state.as_deref() {
            Some("Закрыт") => Some("Закрыт"),
            Some("Отказ" | "Отказ от заезда") => Some("Отказ"),
            _ => None,
        };
        assert_eq!(
            create.get("status").and_then(Value::as_str),
            expected,
            "{}",
            wo.label()
        );
        assert_eq!(
            create.get("statusDate").is_some(),
            expected.is_some(),
            "{}",
            wo.label()
        );
        seen.insert(wo.state.clone().unwrap_or_default(), expected);
    }
    assert!(
        seen.contains_key("Закрыт") && seen.contains_key("Отказ от заезда"),
        "{seen:?}"
    );
    assert!(
        seen.values().any(Option::is_none),
        "an unmapped state was exercised: {seen:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Table 3 and items 10-12: updates.

async fn item10_work_order_state_change_updates_with_the_journal_time(
    preset: Preset,
    seed: u64,
    register: RegisterKind,
) {
    let mut w = World::new(preset, seed, register).await;
    let wo = w.pick("a standalone work order not closed", |d| {
        d.kind == DocKind::WorkOrder && is_standalone(d) && d.state.as_deref() != Some("Закрыт")
    });
    w.cycle().await;
    let at = w.late(3);
    w.fixture
        .set_state(wo.reference, "Закрыт", at)
        .await
        .unwrap();
    w.cycle().await;
    let updates = w.orders_for("update", &order_number(&wo));
    assert_eq!(updates.len(), 1);
    assert_fields(
        &updates[0],
        &json!({
            "orderNumber": order_number(&wo),
            "status": "Закрыт",
            "statusDate": date(at),
            "orderDate": date(at),
            "updateDate": date(at)
        }),
    );
}

async fn item10_booking_state_change_dates_the_status_at_detection(
    preset: Preset,
    seed: u64,
    register: RegisterKind,
) {
    let mut w = World::new(preset, seed, register).await;
    let b = w.pick("a standalone confirmed booking", |d| {
        d.kind == DocKind::Booking
            && is_standalone(d)
            && w.work_orders_of(d.reference).is_empty()
            && d.state.as_deref() == Some("Подтверждено")
    });
    w.cycle().await;
    w.fixture
        .set_state(b.reference, "Отклонено", w.late(1))
        .await
        .unwrap();
    let before = chrono::Local::now().naive_local() - Duration::seconds(5);
    w.cycle().await;
    let after = chrono::Local::now().naive_local() + Duration::seconds(5);
    let update = &w.orders_for("update", &order_number(&b))[0];
    assert_eq!(update["status"], "Отказ");
    let status_date =
        NaiveDateTime::parse_from_str(update["statusDate"].as_str().unwrap(), "%d-%m-%Y %H:%M:%S")
            .unwrap();
    assert!(
        status_date >= before && status_date <= after,
        "detection time, got {status_date}"
    );
    assert_eq!(update["orderDate"], update["statusDate"]);
}

async fn table3_revenue_only_when_the_sum_changed(
    preset: Preset,
    seed: u64,
    register: RegisterKind,
) {
    let mut w = World::new(preset, seed, register).await;
    let wo = w.pick("a standalone work order", |d| {
        d.kind == DocKind::WorkOrder && is_standalone(d)
    });
    w.cycle().await;
    w.fixture.set_sum(wo.reference, "98765.40").await.unwrap();
    w.cycle().await;
    let update = &w.orders_for("update", &order_number(&wo))[0];
    let keys: Vec<&String> = update.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["orderDate", "orderNumber", "revenue", "updateDate"]);
    assert_eq!(update["revenue"], "98765.40");
}

async fn table3_manager_only_when_the_manager_changed(
    preset: Preset,
    seed: u64,
    register: RegisterKind,
) {
    let mut w = World::new(preset, seed, register).await;
    let wo = w.pick("a standalone work order with a manager", |d| {
        d.kind == DocKind::WorkOrder && is_standalone(d) && d.manager.is_some()
    });
    let other = w
        .fixture
        .employee_names()
        .into_iter()
        .find(|name| Some(name) != wo.manager.as_ref())
        .unwrap();
    w.cycle().await;
    w.fixture
        .set_manager(wo.reference, Some(&other))
        .await
        .unwrap();
    w.cycle().await;
    let update = &w.orders_for("update", &order_number(&wo))[0];
    let keys: Vec<&String> = update.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["manager", "orderDate", "orderNumber", "updateDate"]);
    assert_eq!(update["manager"], other.as_str());
}

async fn table3_an_irrelevant_change_sends_nothing(
    preset: Preset,
    seed: u64,
    register: RegisterKind,
) {
    let mut w = World::new(preset, seed, register).await;
    let wo = w.pick("a standalone work order", |d| {
        d.kind == DocKind::WorkOrder && is_standalone(d)
    });
    w.cycle().await;
    let sent = w.emulator.requests().len();
    // Rewrites the same sum: the row changes in the database, nothing Calltouch cares about does.
    w.fixture
        .set_sum(wo.reference, wo.sum.as_deref().unwrap())
        .await
        .unwrap();
    w.cycle().await;
    assert_eq!(w.emulator.requests().len(), sent);
    let register = w.register().await;
    assert_eq!(
        register
            .document(wo.reference)
            .await
            .unwrap()
            .unwrap()
            .state,
        SyncState::Sent
    );
}

async fn item11_a_work_order_from_a_booking_takes_over_its_deal(
    preset: Preset,
    seed: u64,
    register: RegisterKind,
) {
    let w = World::new(preset, seed, register).await;
    let wo = w.pick("a live work order created from a live booking", |d| {
        d.kind == DocKind::WorkOrder
            && !d.deletion_mark
            && d.booking.is_some()
            && w.work_orders_of(d.booking.as_ref().unwrap().reference)
                .len()
                == 1
            && !w
                .fixture
                .document(d.booking.as_ref().unwrap().reference)
                .unwrap()
                .deletion_mark
    });
    w.cycle().await;
    let booking = wo.booking.clone().unwrap();
    let number = format!("ЗР-{}", booking.number);
    assert!(
        w.orders_for("create", &format!("ЗН-{}", wo.number))
            .is_empty(),
        "no deal of its own"
    );
    let deal = &w.emulator.deals()[&number];
    assert_eq!(
        deal["revenue"],
        money(&wo.sum),
        "the sum follows the work order"
    );
    assert_eq!(
        deal.get("manager").and_then(Value::as_str),
        wo.manager.as_deref()
    );
    let register = w.register().await;
    let record = register.deal(&number).await.unwrap().unwrap();
    assert_eq!(record.driver, wo.reference);
}

async fn item11_booking_changes_after_takeover_are_not_sent(
    preset: Preset,
    seed: u64,
    register: RegisterKind,
) {
    let mut w = World::new(preset, seed, register).await;
    let wo = w.pick("a live work order created from a live booking", |d| {
        d.kind == DocKind::WorkOrder
            && !d.deletion_mark
            && d.booking.is_some()
            && !w
                .fixture
                .document(d.booking.as_ref().unwrap().reference)
                .unwrap()
                .deletion_mark
    });
    w.cycle().await;
    let booking = wo.booking.clone().unwrap();
    let sent = w.emulator.requests().len();
    w.fixture.set_sum(booking.reference, "1.00").await.unwrap();
    w.cycle().await;
    assert_eq!(
        w.emulator.requests().len(),
        sent,
        "the deal follows the work order"
    );
    let register = w.register().await;
    let row = register.document(booking.reference).await.unwrap().unwrap();
    assert_eq!(row.state, SyncState::Skipped);
}

async fn a_document_marked_for_deletion_is_not_sent(
    preset: Preset,
    seed: u64,
    register: RegisterKind,
) {
    let mut w = World::new(preset, seed, register).await;
    let d = w.pick("a standalone booking", |d| {
        d.kind == DocKind::Booking && is_standalone(d) && w.work_orders_of(d.reference).is_empty()
    });
    w.fixture.mark_deleted(d.reference, true).await.unwrap();
    w.cycle().await;
    assert!(w.orders_for("create", &order_number(&d)).is_empty());
    let register = w.register().await;
    let row = register.document(d.reference).await.unwrap().unwrap();
    assert_eq!(row.state, SyncState::Skipped);
    assert!(row.last_error.unwrap().contains("deletion"));
}

async fn a_refusal_is_sent_as_otkaz(preset: Preset, seed: u64, register: RegisterKind) {
    let mut w = World::new(preset, seed, register).await;
    let wo = w.pick("a standalone work order in work", |d| {
        d.kind == DocKind::WorkOrder && is_standalone(d) && d.state.as_deref() == Some("В работе")
    });
    w.cycle().await;
    w.fixture
        .set_state(wo.reference, "Отказ от заезда", w.late(2))
        .await
        .unwrap();
    w.cycle().await;
    assert_eq!(w.emulator.deals()[&order_number(&wo)]["status"], "Отказ");
}

async fn an_unmapped_state_change_sends_no_status(
    preset: Preset,
    seed: u64,
    register: RegisterKind,
) {
    let mut w = World::new(preset, seed, register).await;
    let wo = w.pick("a standalone closed work order", |d| {
        d.kind == DocKind::WorkOrder && is_standalone(d) && d.state.as_deref() == Some("Закрыт")
    });
    w.cycle().await;
    let sent = w.emulator.requests().len();
    w.fixture
        .set_state(wo.reference, "В работе", w.late(2))
        .await
        .unwrap();
    w.cycle().await;
    assert_eq!(
        w.emulator.requests().len(),
        sent,
        "status unchanged in Calltouch, nothing else changed"
    );
    assert_eq!(w.emulator.deals()[&order_number(&wo)]["status"], "Закрыт");
}

// ---------------------------------------------------------------------------------------------
// Checkpoint behaviour.

async fn reset_checkpoint_resync_creates_no_duplicates(
    preset: Preset,
    seed: u64,
    register: RegisterKind,
) {
    let w = World::new(preset, seed, register).await;
    w.cycle().await;
    let deals = w.emulator.deals().len();
    let requests = w.emulator.requests().len();
    assert!(deals > 10);
    let register = w.register().await;
    let key = alfa_calltouch::pipeline::checkpoint_key(&w.config);
    register
        .reset_checkpoint(&key, None, chrono::Local::now().naive_local())
        .await
        .unwrap();
    drop(register);
    w.cycle().await;
    let register = w.register().await;
    assert!(
        register
            .checkpoint(&key)
            .await
            .unwrap()
            .checkpoint
            .is_some(),
        "the re-sync completed"
    );
    assert_eq!(w.emulator.deals().len(), deals);
    assert!(w.emulator.creates_per_order().values().all(|n| *n == 1));
    assert_eq!(
        w.emulator.requests().len(),
        requests,
        "every deal is already in Calltouch with these values: nothing to send"
    );
}

async fn the_first_run_stops_at_the_start_date(preset: Preset, seed: u64, register: RegisterKind) {
    let start = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
    let w = World::new(preset, seed, register).await;
    let mut config = w.config.clone();
    config.source.start_date = start;
    run(&config).await.unwrap();
    let register = w.register().await;
    let early: Vec<DocumentSnapshot> = w
        .truth()
        .into_iter()
        .filter(|d| d.date.date() < start)
        .collect();
    assert!(!early.is_empty());
    for d in &early {
        assert!(
            register.document(d.reference).await.unwrap().is_none(),
            "{} is before the start date",
            d.label()
        );
    }
    let late = w
        .truth()
        .into_iter()
        .find(|d| d.date.date() >= start)
        .unwrap();
    assert!(register.document(late.reference).await.unwrap().is_some());
}

async fn a_change_committed_by_a_transaction_open_during_the_last_cycle_is_sent(
    preset: Preset,
    seed: u64,
    register: RegisterKind,
) {
    let mut w = World::new(preset, seed, register).await;
    let wo = w.pick("a standalone work order", |d| {
        d.kind == DocKind::WorkOrder && is_standalone(d)
    });
    w.cycle().await;
    // 1C opens a transaction and writes, the tool runs a cycle, then 1C commits.
    w.fixture.begin().await.unwrap();
    w.fixture.set_sum(wo.reference, "55555.55").await.unwrap();
    w.cycle().await;
    assert!(
        w.orders_for("update", &order_number(&wo)).is_empty(),
        "not committed yet"
    );
    w.fixture.commit().await.unwrap();
    w.cycle().await;
    let updates = w.orders_for("update", &order_number(&wo));
    assert_eq!(updates.len(), 1, "the late commit is not lost");
    assert_eq!(updates[0]["revenue"], "55555.55");
}

async fn a_role_with_only_select_on_the_1c_tables_is_enough(
    preset: Preset,
    seed: u64,
    register: RegisterKind,
) {
    let w = World::new(preset, seed, register).await;
    let role = format!("reader_{}", w.config.source.database);
    let mut grants = format!(
        "CREATE ROLE {role} LOGIN; GRANT USAGE ON SCHEMA public TO {role}; \
         GRANT SELECT ON _yearoffset TO {role};"
    );
    for (_, table) in w.fixture.name_map().tables() {
        grants.push_str(&format!("GRANT SELECT ON {table} TO {role};"));
    }
    w.fixture.client().batch_execute(&grants).await.unwrap();
    let mut config = w.config.clone();
    config.source.user = Some(role);
    assert_eq!(run(&config).await.unwrap(), 0);
    assert!(w.emulator.deals().len() > 10);
}

// ---------------------------------------------------------------------------------------------
// Shapes of a real base (the types of the public 6.1 / 5.1 metadata).

/// 5.1's booking state enum has no «not set» value: a new booking's state is the empty
/// reference, which the default status table maps to «Предварительная заявка».
#[tokio::test]
async fn a_5x_booking_with_the_empty_state_is_a_preliminary_booking() {
    let w = World::new(Preset::Alfa5, 51, RegisterKind::Sqlite).await;
    let b = w.pick("a standalone 5.x booking with the empty state", |d| {
        d.kind == DocKind::Booking
            && is_standalone(d)
            && w.work_orders_of(d.reference).is_empty()
            && w.fixture.document(d.reference).unwrap().state.is_none()
    });
    assert_eq!(b.state.as_deref(), Some(EMPTY_STATE));
    assert_eq!(w.cycle().await, 0);
    let creates = w.orders_for("create", &order_number(&b));
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0]["status"], "Предварительная заявка");
    assert_eq!(creates[0]["statusDate"], date(b.date));
}

/// A 6.x work order without a СводныйРемонтныйЗаказ still has its own Контрагент, whose phone
/// ties the deal to the call.
#[tokio::test]
async fn a_6x_work_order_without_a_summary_order_matches_on_its_counterpartys_phone() {
    let w = World::new(Preset::Alfa6, 61, RegisterKind::Sqlite).await;
    let wo = w.pick(
        "a 6.x work order without a СводныйРемонтныйЗаказ whose Контрагент has a phone",
        |d| {
            d.kind == DocKind::WorkOrder
                && is_standalone(d)
                && w.fixture.document(d.reference).unwrap().summary.is_none()
                && !d.phones.is_empty()
        },
    );
    assert_eq!(w.cycle().await, 0);
    let creates = w.orders_for("create", &format!("ЗН-{}", wo.number));
    assert_eq!(creates.len(), 1);
    let phones: Vec<String> = wo.phones.iter().map(|p| russian_phone(p)).collect();
    let matching = creates[0]["matching"].as_array().unwrap();
    assert_eq!(matching[0]["type"], "callContact");
    assert_eq!(matching[0]["callContactParams"]["phones"], json!(phones));
    assert_eq!(matching[1]["type"], "requestContact");
    assert_eq!(matching[1]["requestContactParams"]["phones"], json!(phones));
}

/// ЖурналСостояний.Состояние is composite: a record holding another type's value (even one with
/// the same 16 bytes as the work order's state) is not the work order's state history.
async fn a_journal_record_of_another_type_never_dates_a_work_order_state(
    preset: Preset,
    seed: u64,
    register: RegisterKind,
) {
    let w = World::new(preset, seed, register).await;
    // Dated by the journal, not by ДатаЗакрытия, so only the journal can give the date.
    let wo = w.pick(
        "a standalone work order with a mapped state the journal dates",
        |d| {
            d.kind == DocKind::WorkOrder
                && is_standalone(d)
                && matches!(
                    d.state.as_deref(),
                    Some("Закрыт" | "Отказ" | "Отказ от заезда")
                )
                && d.state_set_at.is_some()
                && d.state_set_at != w.fixture.document(d.reference).unwrap().closed_at
        },
    );
    let dated = wo.state_set_at.unwrap();
    w.fixture
        .add_foreign_journal_record(wo.reference, w.late(1))
        .await
        .unwrap();
    assert_eq!(w.cycle().await, 0);
    let creates = w.orders_for("create", &order_number(&wo));
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0]["statusDate"], date(dated), "{}", wo.label());
    // A later one changes nothing either.
    w.fixture
        .add_foreign_journal_record(wo.reference, w.late(2))
        .await
        .unwrap();
    assert_eq!(w.cycle().await, 0);
    assert!(w.orders_for("update", &order_number(&wo)).is_empty());
}

macro_rules! for_both_presets {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use alfa_calltouch::source::settings::Preset;
            use alfa_calltouch::register::settings::RegisterKind;
            #[tokio::test]
            async fn alfa6() {
                super::$name(Preset::Alfa6, 61, RegisterKind::Sqlite).await
            }
            #[tokio::test]
            async fn alfa5() {
                super::$name(Preset::Alfa5, 51, RegisterKind::Sqlite).await
            }
        }
    )*};
}

/// The same cases with the register in a schema of the 1C database's own server.
macro_rules! with_the_register_on_postgres {
    ($($name:ident),* $(,)?) => {
        mod register_on_postgres {$(
            #[tokio::test]
            async fn $name() {
                use alfa_calltouch::source::settings::Preset;
                use alfa_calltouch::register::settings::RegisterKind;
                super::$name(Preset::Alfa6, 61, RegisterKind::Postgres).await
            }
        )*}
    };
}

for_both_presets!(
    table1_booking_create_carries_every_field,
    table1_work_order_without_booking_is_its_own_deal,
    table1_no_contact_data_matches_by_custom_source_only,
    table1_campaign_defaults_without_a_marketing_programme,
    table2_every_booking_state_maps,
    table2_work_order_states_map_and_others_are_left_out,
    item10_work_order_state_change_updates_with_the_journal_time,
    item10_booking_state_change_dates_the_status_at_detection,
    table3_revenue_only_when_the_sum_changed,
    table3_manager_only_when_the_manager_changed,
    table3_an_irrelevant_change_sends_nothing,
    item11_a_work_order_from_a_booking_takes_over_its_deal,
    item11_booking_changes_after_takeover_are_not_sent,
    a_document_marked_for_deletion_is_not_sent,
    a_refusal_is_sent_as_otkaz,
    an_unmapped_state_change_sends_no_status,
    reset_checkpoint_resync_creates_no_duplicates,
    the_first_run_stops_at_the_start_date,
    a_change_committed_by_a_transaction_open_during_the_last_cycle_is_sent,
    a_role_with_only_select_on_the_1c_tables_is_enough,
    a_journal_record_of_another_type_never_dates_a_work_order_state,
);

with_the_register_on_postgres!(
    table1_booking_create_carries_every_field,
    table2_every_booking_state_maps,
    item10_work_order_state_change_updates_with_the_journal_time,
    table3_revenue_only_when_the_sum_changed,
    table3_an_irrelevant_change_sends_nothing,
    item11_a_work_order_from_a_booking_takes_over_its_deal,
    item11_booking_changes_after_takeover_are_not_sent,
    a_document_marked_for_deletion_is_not_sent,
    reset_checkpoint_resync_creates_no_duplicates,
    the_first_run_stops_at_the_start_date,
    a_change_committed_by_a_transaction_open_during_the_last_cycle_is_sent,
);
