//! The PostgreSQL source against a real server: a throwaway cluster shared by this file, one
//! freshly generated database per test, both Альфа-Авто layouts.
//!
//! These tests fail (they do not skip) when the PostgreSQL server programs are missing.

use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{Duration, NaiveDate, NaiveDateTime};

use alfa_calltouch::domain::snapshot::{DocKind, DocumentSnapshot};
use alfa_calltouch::source::decode::booking_state_enum;
use alfa_calltouch::source::namemap::{Column, CompositeColumns, NameMap};
use alfa_calltouch::source::postgres::{check_name_map, PostgresSource};
use alfa_calltouch::source::settings::Preset;
use alfa_calltouch::source::template::render;
use alfa_calltouch::source::{ChangeSet, ReadFrom, Source, SourceError};
use testkit::cluster::shared as cluster;
use testkit::fixture::{CarValue, Fixture, FixtureSpec};

struct Setup {
    fixture: Fixture,
    source: PostgresSource,
    connection: String,
}

async fn setup_with(preset: Preset, adjust: impl FnOnce(&mut FixtureSpec)) -> Setup {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let connection = cluster()
        .create_database(&format!("alfa_{}_{n}", preset.code()))
        .await
        .expect("create database");
    let mut spec = FixtureSpec::small(preset, 1000 + u64::from(n));
    adjust(&mut spec);
    let fixture = Fixture::generate(&connection, spec)
        .await
        .expect("generate fixture");
    let source =
        PostgresSource::from_connection_string(&connection, preset, fixture.name_map().clone())
            .await
            .expect("open source");
    Setup {
        fixture,
        source,
        connection,
    }
}

async fn setup(preset: Preset) -> Setup {
    setup_with(preset, |_| {}).await
}

/// A third of the generated documents are dated before this day.
fn cutoff(fixture: &Fixture) -> NaiveDate {
    fixture.spec().first_day + Duration::days(i64::from(fixture.spec().days / 3))
}

fn late_moment(fixture: &Fixture) -> NaiveDateTime {
    (fixture.spec().first_day + Duration::days(i64::from(fixture.spec().days) + 1))
        .and_hms_opt(12, 0, 0)
        .unwrap()
}

/// Compares document by document, so a failure names the document and shows both versions.
fn assert_snapshots(actual: &[DocumentSnapshot], expected: &[DocumentSnapshot]) {
    let label = |list: &[DocumentSnapshot]| list.iter().map(|d| d.label()).collect::<Vec<_>>();
    assert_eq!(label(actual), label(expected), "documents differ");
    for (a, e) in actual.iter().zip(expected) {
        assert_eq!(a, e, "{}", e.label());
    }
}

async fn read(source: &mut PostgresSource, from: &ReadFrom, cutoff: NaiveDate) -> ChangeSet {
    source.changes(from, cutoff).await.expect("read changes")
}

/// The first document of a kind dated on or after the cut-off.
fn pick(fixture: &Fixture, kind: DocKind, skip: usize) -> testkit::fixture::FixtureDoc {
    let cutoff = cutoff(fixture);
    fixture
        .documents()
        .iter()
        .filter(|d| d.kind == kind && d.date.date() >= cutoff)
        .nth(skip)
        .cloned()
        .expect("a document after the cut-off")
}

macro_rules! for_both_presets {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn alfa6() {
                super::$name(alfa_calltouch::source::settings::Preset::Alfa6).await
            }
            #[tokio::test]
            async fn alfa5() {
                super::$name(alfa_calltouch::source::settings::Preset::Alfa5).await
            }
        }
    )*};
}

for_both_presets!(
    name_map_loads_and_every_entry_is_checked,
    first_read_returns_every_document_since_the_cutoff,
    idle_read_after_the_checkpoint_returns_nothing,
    state_and_sum_changes_are_returned,
    transaction_committed_after_a_read_is_returned_by_the_next,
    cutoff_excludes_older_documents,
    empty_reference_and_empty_date_read_as_none,
    year_offset_2000_reads_real_dates,
    dangling_reference_reads_as_none,
    closed_work_order_without_journal_dates_from_closing_date,
    undecodable_row_is_rejected_and_the_rest_goes_on,
    an_enum_order_without_a_name_rejects_the_booking_naming_the_field,
    find_by_number_returns_both_kinds,
    foreign_checkpoints_are_refused,
    the_same_documents_read_through_the_other_shape,
);

/// A base where a release or a dealer stored the attributes the other way: every plain reference
/// becomes a composite without `_rtref` but with a string part, every composite without strings
/// becomes a plain reference, with the same values copied over. The preset's queries follow the
/// changed name map and read the same documents.
async fn the_same_documents_read_through_the_other_shape(preset: Preset) {
    let Setup {
        fixture,
        connection,
        ..
    } = setup(preset).await;
    let map = fixture.name_map();
    let used = alfa_calltouch::source::postgres::required_entries(preset);
    let empty = r"'\x00000000000000000000000000000000'::bytea";
    let mut flipped = map.clone();
    let mut sql = String::new();
    let mut changed = 0;
    for (name, column) in map.fields() {
        if !used.iter().any(|u| u == name) {
            continue;
        }
        let owners: Vec<&str> = match name.strip_prefix("ОбщийРеквизит.") {
            Some(_) => vec!["Документ.ЗаявкаНаРемонт", "Документ.ЗаказНаряд"],
            None => vec![name.rsplit_once('.').unwrap().0],
        };
        let column = match column {
            Column::Plain(plain) if plain.ends_with("rref") => {
                let base = plain.trim_end_matches("rref");
                for owner in &owners {
                    let table = map.table(owner).unwrap();
                    sql += &format!(
                        "ALTER TABLE {table} ADD COLUMN {base}_type bytea, ADD COLUMN {base}_rrref bytea, \
                         ADD COLUMN {base}_s mvarchar;\n\
                         UPDATE {table} SET {base}_type = CASE WHEN {plain} = {empty} \
                         THEN '\\x01'::bytea ELSE '\\x08'::bytea END, {base}_rrref = {plain}, {base}_s = '';\n"
                    );
                }
                Column::Composite(CompositeColumns {
                    type_tag: format!("{base}_type"),
                    rtref: None,
                    rrref: format!("{base}_rrref"),
                    string: Some(format!("{base}_s")),
                })
            }
            Column::Composite(c) if c.string.is_none() => {
                let plain = format!("{}rref", c.type_tag.trim_end_matches("_type"));
                let table = map.table(owners[0]).unwrap();
                sql += &format!(
                    "ALTER TABLE {table} ADD COLUMN {plain} bytea;\n\
                     UPDATE {table} SET {plain} = CASE WHEN {} = '\\x08'::bytea THEN {} ELSE {empty} END;\n",
                    c.type_tag, c.rrref
                );
                Column::Plain(plain)
            }
            _ => continue,
        };
        changed += 1;
        flipped = flipped.with_field(name, column);
    }
    assert!(changed > 10, "{changed} attributes changed shape");
    fixture.client().batch_execute(&sql).await.unwrap();
    let mut source = PostgresSource::from_connection_string(&connection, preset, flipped)
        .await
        .expect("open source");
    let changes = read(&mut source, &ReadFrom::Start, cutoff(&fixture)).await;
    assert!(changes.rejected.is_empty(), "{:?}", changes.rejected);
    assert_snapshots(
        &changes.documents,
        &fixture.expected_since(cutoff(&fixture)),
    );
}

async fn name_map_loads_and_every_entry_is_checked(preset: Preset) {
    let Setup {
        fixture,
        connection,
        ..
    } = setup(preset).await;
    let toml = fixture.name_map_toml();
    let loaded = NameMap::parse(&toml).expect("the generated map loads");
    assert_eq!(&loaded, fixture.name_map());
    check_name_map(preset, &loaded).expect("the map covers the preset");

    let dropped = match preset {
        Preset::Alfa6 => "\"Документ.СводныйРемонтныйЗаказ.ДокументОснование\"",
        Preset::Alfa5 => "\"Документ.ЗаявкаНаРемонт.АдресЭлектронойПочты\"",
    };
    let without: String = toml
        .lines()
        .filter(|l| !l.starts_with(dropped))
        .map(|l| format!("{l}\n"))
        .collect();
    let map = NameMap::parse(&without).unwrap();
    let error = PostgresSource::from_connection_string(&connection, preset, map)
        .await
        .err()
        .expect("a missing entry is refused");
    assert!(
        matches!(&error, SourceError::NameMap(m) if m.contains(dropped.trim_matches('"'))),
        "{error}"
    );
}

async fn first_read_returns_every_document_since_the_cutoff(preset: Preset) {
    let Setup {
        fixture,
        mut source,
        ..
    } = setup(preset).await;
    let changes = read(&mut source, &ReadFrom::Start, cutoff(&fixture)).await;
    assert!(changes.rejected.is_empty(), "{:?}", changes.rejected);
    let expected = fixture.expected_since(cutoff(&fixture));
    assert_snapshots(&changes.documents, &expected);
    // The generated data covers the interesting cases.
    let work_orders: Vec<_> = expected
        .iter()
        .filter(|d| d.kind == DocKind::WorkOrder)
        .collect();
    assert!(
        work_orders.iter().any(|d| d.booking.is_some()),
        "a linked work order"
    );
    assert!(
        work_orders.iter().any(|d| d.booking.is_none()),
        "an unlinked work order"
    );
    assert!(
        work_orders.iter().any(|d| d.state_set_at.is_some()),
        "a state date"
    );
    assert!(
        expected.iter().any(|d| d.phones.len() > 1),
        "document and customer phones"
    );
    assert!(expected
        .iter()
        .any(|d| d.car.make.is_some() && d.car.year.is_some()));
    assert!(
        changes.read_at
            > NaiveDate::from_ymd_opt(2020, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
    );
}

async fn idle_read_after_the_checkpoint_returns_nothing(preset: Preset) {
    let Setup {
        fixture,
        mut source,
        ..
    } = setup(preset).await;
    let first = read(&mut source, &ReadFrom::Start, cutoff(&fixture)).await;
    let idle = read(
        &mut source,
        &ReadFrom::Checkpoint(first.checkpoint.clone()),
        cutoff(&fixture),
    )
    .await;
    assert!(idle.documents.is_empty(), "{:?}", idle.documents);
    assert!(idle.rejected.is_empty());
}

async fn state_and_sum_changes_are_returned(preset: Preset) {
    let Setup {
        mut fixture,
        mut source,
        ..
    } = setup(preset).await;
    let first = read(&mut source, &ReadFrom::Start, cutoff(&fixture)).await;
    let booking = pick(&fixture, DocKind::Booking, 0);
    let work_order = pick(&fixture, DocKind::WorkOrder, 0);
    let summed = pick(&fixture, DocKind::WorkOrder, 1);
    let at = late_moment(&fixture);
    fixture
        .set_state(booking.reference, "Отклонено", at)
        .await
        .unwrap();
    fixture
        .set_state(work_order.reference, "В работе", at)
        .await
        .unwrap();
    fixture.set_sum(summed.reference, "15300.5").await.unwrap();

    let next = read(
        &mut source,
        &ReadFrom::Checkpoint(first.checkpoint),
        cutoff(&fixture),
    )
    .await;
    let mut expected: Vec<DocumentSnapshot> =
        [booking.reference, work_order.reference, summed.reference]
            .iter()
            .map(|r| fixture.expected(*r).unwrap())
            .collect();
    expected.sort_by_key(|d| (d.kind, d.date, d.reference));
    assert_snapshots(&next.documents, &expected);
    let changed_order = next
        .documents
        .iter()
        .find(|d| d.reference == work_order.reference)
        .unwrap();
    assert_eq!(changed_order.state.as_deref(), Some("В работе"));
    assert_eq!(
        changed_order.state_set_at,
        Some(at),
        "dated by the new journal record"
    );
    let changed_sum = next
        .documents
        .iter()
        .find(|d| d.reference == summed.reference)
        .unwrap();
    assert_eq!(changed_sum.sum.as_deref(), Some("15300.50"));

    let idle = read(
        &mut source,
        &ReadFrom::Checkpoint(next.checkpoint),
        cutoff(&fixture),
    )
    .await;
    assert!(idle.documents.is_empty());
}

async fn transaction_committed_after_a_read_is_returned_by_the_next(preset: Preset) {
    let Setup {
        mut fixture,
        mut source,
        ..
    } = setup(preset).await;
    let first = read(&mut source, &ReadFrom::Start, cutoff(&fixture)).await;
    let doc = pick(&fixture, DocKind::Booking, 1);

    // A 1C transaction writes before the next read and commits after it.
    fixture.begin().await.unwrap();
    fixture.set_sum(doc.reference, "777.77").await.unwrap();
    let during = read(
        &mut source,
        &ReadFrom::Checkpoint(first.checkpoint),
        cutoff(&fixture),
    )
    .await;
    assert!(during.documents.is_empty(), "uncommitted data is not read");
    fixture.commit().await.unwrap();

    let after = read(
        &mut source,
        &ReadFrom::Checkpoint(during.checkpoint),
        cutoff(&fixture),
    )
    .await;
    assert_snapshots(
        &after.documents,
        &[fixture.expected(doc.reference).unwrap()],
    );
    assert_eq!(after.documents[0].sum.as_deref(), Some("777.77"));
}

async fn cutoff_excludes_older_documents(preset: Preset) {
    let Setup {
        mut fixture,
        mut source,
        ..
    } = setup(preset).await;
    let cutoff = cutoff(&fixture);
    let first = read(&mut source, &ReadFrom::Start, cutoff).await;
    assert!(first.documents.iter().all(|d| d.date.date() >= cutoff));
    assert!(
        fixture.documents().iter().any(|d| d.date.date() < cutoff),
        "older documents exist"
    );

    let before = (cutoff - Duration::days(1))
        .and_hms_opt(23, 59, 59)
        .unwrap();
    let old = fixture.insert_booking(before).await.unwrap();
    let old_order = fixture
        .documents()
        .iter()
        .find(|d| d.kind == DocKind::WorkOrder && d.date.date() < cutoff)
        .unwrap()
        .reference;
    fixture.set_sum(old_order, "1.00").await.unwrap();
    let at_cutoff = fixture
        .insert_booking(cutoff.and_hms_opt(0, 0, 0).unwrap())
        .await
        .unwrap();

    let next = read(&mut source, &ReadFrom::Checkpoint(first.checkpoint), cutoff).await;
    let refs: Vec<_> = next.documents.iter().map(|d| d.reference).collect();
    assert_eq!(
        refs,
        vec![at_cutoff.reference],
        "only the document dated on the cut-off day"
    );
    assert!(!refs.contains(&old.reference));
}

async fn empty_reference_and_empty_date_read_as_none(preset: Preset) {
    let Setup {
        mut fixture,
        mut source,
        ..
    } = setup(preset).await;
    let doc = fixture
        .documents()
        .iter()
        .find(|d| d.date.date() >= cutoff(&fixture) && matches!(d.car, CarValue::Car(_)))
        .cloned()
        .expect("a document with a car");
    let CarValue::Car(car) = doc.car else {
        unreachable!()
    };
    fixture.set_manager(doc.reference, None).await.unwrap();
    // The car's ГодВыпуска becomes 1C's empty date (0001-01-01 plus the year offset).
    let sql = render(
        "UPDATE {{Справочник.Автомобили}} SET {{Справочник.Автомобили.ГодВыпуска}} = $1 WHERE _idrref = $2",
        fixture.name_map(),
    )
    .unwrap();
    let empty = NaiveDate::from_ymd_opt(1, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    fixture
        .client()
        .execute(&sql, &[&empty, &car.0.to_vec()])
        .await
        .unwrap();
    // A booking whose state is the empty reference (16 zero bytes).
    let booking = pick(&fixture, DocKind::Booking, 0);
    let sql = render(
        "UPDATE {{Документ.ЗаявкаНаРемонт}} SET {{Документ.ЗаявкаНаРемонт.Состояние}} = $1 WHERE _idrref = $2",
        fixture.name_map(),
    )
    .unwrap();
    let empty_ref = vec![0u8; 16];
    fixture
        .client()
        .execute(&sql, &[&empty_ref, &booking.reference.0.to_vec()])
        .await
        .unwrap();

    let all = read(&mut source, &ReadFrom::Start, cutoff(&fixture)).await;
    let read_back = all
        .documents
        .iter()
        .find(|d| d.reference == doc.reference)
        .unwrap();
    assert_eq!(read_back.manager, None, "empty reference");
    assert_eq!(read_back.car.year, None, "empty date");
    assert!(read_back.car.model.is_some());
    let booking_back = all
        .documents
        .iter()
        .find(|d| d.reference == booking.reference)
        .unwrap();
    assert_eq!(
        booking_back.state.as_deref(),
        Some(alfa_calltouch::domain::snapshot::EMPTY_STATE),
        "empty state reference"
    );
}

async fn year_offset_2000_reads_real_dates(preset: Preset) {
    let Setup {
        mut fixture,
        mut source,
        ..
    } = setup_with(preset, |spec| spec.year_offset = 2000).await;
    assert_eq!(source.year_offset(), 2000);
    let stored: NaiveDateTime = fixture
        .client()
        .query_one(
            &render(
                "SELECT min(_date_time) FROM {{Документ.ЗаявкаНаРемонт}}",
                fixture.name_map(),
            )
            .unwrap(),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        stored.date() >= NaiveDate::from_ymd_opt(4026, 1, 1).unwrap(),
        "stored with the offset: {stored}"
    );

    let first = read(&mut source, &ReadFrom::Start, cutoff(&fixture)).await;
    assert!(first.rejected.is_empty(), "{:?}", first.rejected);
    assert_snapshots(&first.documents, &fixture.expected_since(cutoff(&fixture)));

    let order = pick(&fixture, DocKind::WorkOrder, 2);
    let at = late_moment(&fixture);
    fixture
        .set_state(order.reference, "Закрыт", at)
        .await
        .unwrap();
    let next = read(
        &mut source,
        &ReadFrom::Checkpoint(first.checkpoint),
        cutoff(&fixture),
    )
    .await;
    assert_snapshots(
        &next.documents,
        &[fixture.expected(order.reference).unwrap()],
    );
    assert_eq!(next.documents[0].state_set_at, Some(at));
}

async fn dangling_reference_reads_as_none(preset: Preset) {
    let Setup {
        mut fixture,
        mut source,
        ..
    } = setup(preset).await;
    let doc = pick(&fixture, DocKind::WorkOrder, 0);
    let employee = fixture.employee_names()[0].clone();
    fixture
        .set_manager(doc.reference, Some(&employee))
        .await
        .unwrap();
    fixture.delete_employee(&employee).await.unwrap();

    let all = read(&mut source, &ReadFrom::Start, cutoff(&fixture)).await;
    assert!(all.rejected.is_empty());
    let read_back = all
        .documents
        .iter()
        .find(|d| d.reference == doc.reference)
        .unwrap();
    assert_eq!(read_back.manager, None);
    assert_snapshots(&all.documents, &fixture.expected_since(cutoff(&fixture)));
}

async fn closed_work_order_without_journal_dates_from_closing_date(preset: Preset) {
    let Setup {
        mut fixture,
        mut source,
        ..
    } = setup(preset).await;
    let first = read(&mut source, &ReadFrom::Start, cutoff(&fixture)).await;
    let order = pick(&fixture, DocKind::WorkOrder, 1);
    let at = late_moment(&fixture);
    fixture
        .set_state(order.reference, "Закрыт", at)
        .await
        .unwrap();
    fixture.clear_state_journal(order.reference).await.unwrap();

    let next = read(
        &mut source,
        &ReadFrom::Checkpoint(first.checkpoint),
        cutoff(&fixture),
    )
    .await;
    assert_snapshots(
        &next.documents,
        &[fixture.expected(order.reference).unwrap()],
    );
    assert_eq!(next.documents[0].state.as_deref(), Some("Закрыт"));
    assert_eq!(
        next.documents[0].state_set_at,
        Some(at),
        "from ДатаЗакрытия"
    );
}

async fn undecodable_row_is_rejected_and_the_rest_goes_on(preset: Preset) {
    let Setup {
        mut fixture,
        mut source,
        ..
    } = setup(preset).await;
    let first = read(&mut source, &ReadFrom::Start, cutoff(&fixture)).await;
    let broken = pick(&fixture, DocKind::Booking, 0);
    let fine = pick(&fixture, DocKind::WorkOrder, 0);
    let sql = render(
        "UPDATE {{Документ.ЗаявкаНаРемонт}} SET _date_time = 'infinity' WHERE _idrref = $1",
        fixture.name_map(),
    )
    .unwrap();
    fixture
        .client()
        .execute(&sql, &[&broken.reference.0.to_vec()])
        .await
        .unwrap();
    fixture.set_sum(fine.reference, "10.00").await.unwrap();

    let next = read(
        &mut source,
        &ReadFrom::Checkpoint(first.checkpoint),
        cutoff(&fixture),
    )
    .await;
    assert_eq!(next.rejected.len(), 1, "{:?}", next.rejected);
    let rejected = &next.rejected[0];
    assert_eq!(rejected.reference, broken.reference);
    assert_eq!(rejected.field, "Дата");
    assert_eq!(rejected.number.as_deref(), Some(broken.number.as_str()));
    assert_snapshots(
        &next.documents,
        &[fixture.expected(fine.reference).unwrap()],
    );
}

async fn an_enum_order_without_a_name_rejects_the_booking_naming_the_field(preset: Preset) {
    let Setup {
        fixture,
        mut source,
        ..
    } = setup(preset).await;
    let enum_name = booking_state_enum(preset);
    let broken = fixture
        .documents()
        .iter()
        .find(|d| {
            d.kind == DocKind::Booking && d.state.is_some() && d.date.date() >= cutoff(&fixture)
        })
        .cloned()
        .expect("a booking with a state");
    // The configuration gained a value the name map does not list yet.
    let sql = render(
        &format!("UPDATE {{{{{enum_name}}}}} SET _enumorder = 99 WHERE _idrref = $1"),
        fixture.name_map(),
    )
    .unwrap();
    fixture
        .client()
        .execute(&sql, &[&broken.state.unwrap().0.to_vec()])
        .await
        .unwrap();
    let read = read(&mut source, &ReadFrom::Start, cutoff(&fixture)).await;
    let rejected: Vec<_> = read
        .rejected
        .iter()
        .filter(|r| r.reference == broken.reference)
        .collect();
    assert_eq!(rejected.len(), 1, "{:?}", read.rejected);
    assert_eq!(rejected[0].field, "Состояние");
    assert!(rejected[0].reason.contains("99"), "{}", rejected[0].reason);
    assert!(
        read.documents.iter().any(|d| d.kind == DocKind::WorkOrder),
        "the rest of the read goes on"
    );
}

async fn find_by_number_returns_both_kinds(preset: Preset) {
    let Setup {
        fixture,
        mut source,
        ..
    } = setup(preset).await;
    let found = source.find_by_number(" 000000001 ").await.unwrap();
    let mut expected: Vec<DocumentSnapshot> = fixture
        .documents()
        .iter()
        .filter(|d| d.number == "000000001")
        .map(|d| fixture.expected(d.reference).unwrap())
        .collect();
    expected.sort_by_key(|d| d.kind);
    assert_eq!(expected.len(), 2);
    assert_snapshots(&found, &expected);
    assert!(source.find_by_number("no such").await.unwrap().is_empty());
}

async fn foreign_checkpoints_are_refused(preset: Preset) {
    let Setup {
        fixture,
        mut source,
        ..
    } = setup(preset).await;
    for checkpoint in ["garbage", "12", "4000000000:4000000000:"] {
        let result = source
            .changes(
                &ReadFrom::Checkpoint(checkpoint.to_string()),
                cutoff(&fixture),
            )
            .await;
        assert!(
            matches!(result, Err(SourceError::BadCheckpoint(_))),
            "{checkpoint}: {result:?}"
        );
    }
}

#[tokio::test]
async fn summary_order_change_flags_its_work_order() {
    let Setup {
        fixture,
        mut source,
        ..
    } = setup(Preset::Alfa6).await;
    let first = read(&mut source, &ReadFrom::Start, cutoff(&fixture)).await;
    let order = fixture
        .documents()
        .iter()
        .find(|d| d.date.date() >= cutoff(&fixture) && d.summary.is_some())
        .cloned()
        .expect("a work order with a СводныйРемонтныйЗаказ");
    let sql = render(
        "UPDATE {{Документ.СводныйРемонтныйЗаказ}} SET {{Документ.СводныйРемонтныйЗаказ.ПредставлениеТелефона}} = $1::text WHERE _idrref = $2",
        fixture.name_map(),
    )
    .unwrap();
    let phone = "+7 (900) 000-00-01".to_string();
    fixture
        .client()
        .execute(&sql, &[&phone, &order.summary.unwrap().0.to_vec()])
        .await
        .unwrap();

    let next = read(
        &mut source,
        &ReadFrom::Checkpoint(first.checkpoint),
        cutoff(&fixture),
    )
    .await;
    assert_eq!(next.documents.len(), 1);
    assert_eq!(next.documents[0].reference, order.reference);
    assert_eq!(next.documents[0].phones.first(), Some(&phone));
}

#[tokio::test]
async fn a_bad_identifier_in_the_map_is_refused_before_any_sql() {
    let bad = "[tables]\n\"Документ.ЗаказНаряд\" = \"_document1; DROP TABLE x\"\n";
    assert!(NameMap::parse(bad).is_err(), "refused on load");

    let cluster_free = "host=127.0.0.1 port=1 user=nobody dbname=none";
    for preset in [Preset::Alfa6, Preset::Alfa5] {
        let map = NameMap::default()
            .with_table("Документ.ЗаявкаНаРемонт", "_document1 d; DROP TABLE x; --");
        let error = PostgresSource::from_connection_string(cluster_free, preset, map)
            .await
            .err()
            .expect("refused");
        assert!(
            matches!(&error, SourceError::NameMap(m) if m.contains("not a safe identifier")),
            "{error}"
        );
    }
}
