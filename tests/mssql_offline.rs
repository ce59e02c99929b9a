//! The MS SQL source without a server: every rendered T-SQL statement of both presets parses
//! as T-SQL and names the storage tables, columns and parameters it should; tiberius values of
//! every type the queries return decode into the expected snapshots. The real-server tests are
//! ignored unless run with `cargo test -- --ignored` and `MSSQL_TEST_URL` (an ADO.NET
//! connection string) set.

use std::collections::BTreeSet;

use chrono::{NaiveDate, NaiveDateTime};
use sqlparser::dialect::MsSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};
use tiberius::numeric::Numeric;
use tiberius::time::DateTime;
use tiberius::{ColumnData, ToSql};

use alfa_calltouch::db::mssql::MssqlRow;
use alfa_calltouch::domain::snapshot::{DocKind, DocRef};
use alfa_calltouch::source::decode::Decoder;
use alfa_calltouch::source::mssql::{statements, MssqlSource, RowVersion};
use alfa_calltouch::source::namemap::{Column, CompositeColumns, Dialect, NameMap};
use alfa_calltouch::source::settings::Preset;
use alfa_calltouch::source::window::{ChangeDetection, Checkpoint};
use alfa_calltouch::source::{ReadFrom, Source};
use testkit::fixture::storage_name_map;

const PRESETS: [Preset; 2] = [Preset::Alfa6, Preset::Alfa5];

/// A name map with storage numbers drawn at random, spelled as on MS SQL; the seed is in every
/// failure message.
fn random_map(preset: Preset) -> (u64, NameMap) {
    let seed = fastrand::u64(..);
    (seed, storage_name_map(preset, seed, Dialect::MsSql))
}

/// The identifier words (names and `@P` parameters) of a statement, as the T-SQL tokenizer
/// splits them.
fn words(sql: &str) -> BTreeSet<String> {
    Tokenizer::new(&MsSqlDialect {}, sql)
        .tokenize()
        .expect("tokenizes")
        .into_iter()
        .filter_map(|token| match token {
            Token::Word(word) => Some(word.value),
            _ => None,
        })
        .collect()
}

fn parameters(sql: &str) -> BTreeSet<String> {
    words(sql)
        .into_iter()
        .filter(|w| w.starts_with("@P"))
        .collect()
}

/// The storage names of a metadata entry (a table, a column, or every column of a composite).
fn storage(map: &NameMap, name: &str) -> Vec<String> {
    if let Some(table) = map.table(name) {
        return vec![table.to_string()];
    }
    match map
        .field(name)
        .unwrap_or_else(|| panic!("{name} in the map"))
    {
        Column::Plain(column) => vec![column.clone()],
        Column::Composite(c) => vec![c.rrref.clone()],
    }
}

/// What each document query of the preset must read, by 1C name.
fn expected_entries(preset: Preset, kind: DocKind) -> Vec<&'static str> {
    let mut entries = vec![
        "Справочник.Сотрудники",
        "Справочник.МаркетинговыеПрограммы",
        "Справочник.Автомобили",
        "Справочник.Модели",
        "Справочник.Марки",
        "Справочник.Автомобили.ГодВыпуска",
        "Перечисление.ТипыКонтактнойИнформации",
    ];
    entries.extend(match (preset, kind) {
        (Preset::Alfa6, DocKind::Booking) => vec![
            "Документ.ЗаявкаНаРемонт",
            "Перечисление.СостояниеЗаявкиНаРемонт",
            "ОбщийРеквизит.СуммаДокумента",
            "Документ.ЗаявкаНаРемонт.ПредставлениеТелефона",
            "Справочник.Контрагенты.КонтактнаяИнформация",
        ],
        (Preset::Alfa6, DocKind::WorkOrder) => vec![
            "Документ.ЗаказНаряд",
            "Документ.СводныйРемонтныйЗаказ",
            "Документ.ЗаявкаНаРемонт",
            "РегистрСведений.ЖурналСостояний",
            "Документ.ЗаказНаряд.ДатаЗакрытия",
            "Документ.ЗаказНаряд.Контрагент",
            "Документ.СводныйРемонтныйЗаказ.ДокументОснование",
            "РегистрСведений.ЖурналСостояний.Состояние",
        ],
        (Preset::Alfa5, DocKind::Booking) => vec![
            "Документ.ЗаявкаНаРемонт",
            "Перечисление.СостоянияЗаявкиНаРемонт",
            "Документ.ЗаявкаНаРемонт.СуммаДокумента",
            "Документ.ЗаявкаНаРемонт.АдресЭлектронойПочты",
            "РегистрСведений.КонтактнаяИнформация",
            "Документ.ЗаявкаНаРемонт.Автомобиль",
        ],
        (Preset::Alfa5, DocKind::WorkOrder) => vec![
            "Документ.ЗаказНаряд",
            "Документ.ЗаявкаНаРемонт",
            "РегистрСведений.ЖурналСостояний",
            "Документ.ЗаказНаряд.ДокументОснование",
            "Документ.ЗаказНаряд.Заказчик",
            "РегистрСведений.ЖурналСостояний.Состояние",
        ],
    });
    entries
}

#[test]
fn every_statement_parses_as_t_sql_with_the_expected_names_and_parameters() {
    for preset in PRESETS {
        let (seed, map) = random_map(preset);
        let all = statements(preset, &map).expect("the map covers the preset");
        assert_eq!(all.len(), 18, "{preset:?}");
        for (name, sql) in &all {
            let context = format!("{preset:?} seed {seed}, {name}:\n{sql}");
            Parser::parse_sql(&MsSqlDialect {}, sql)
                .unwrap_or_else(|e| panic!("does not parse: {e}\n{context}"));
            assert!(
                !sql.contains("::") && !sql.contains('$') && !sql.contains("LATERAL"),
                "PostgreSQL syntax left in {context}"
            );
            // A chunk adds the cycle's bound, the keyset date and reference, and the limit.
            let expected_parameters: &[&str] = if name.ends_with("recent, one chunk") {
                &["@P1", "@P2", "@P3", "@P4", "@P5", "@P6", "@P7", "@P8"]
            } else if name.ends_with("changed, one chunk") {
                &["@P1", "@P2", "@P3", "@P4", "@P5", "@P6", "@P7"]
            } else if name.ends_with("dated since, one chunk") {
                &["@P1", "@P2", "@P3", "@P4", "@P5"]
            } else if name.ends_with("recent") {
                &["@P1", "@P2", "@P3", "@P4"]
            } else if name.ends_with("changed") {
                &["@P1", "@P2", "@P3"]
            } else if name.ends_with("dated since") || name.ends_with("with number") {
                &["@P1"]
            } else {
                &[]
            };
            let expected_parameters: BTreeSet<String> =
                expected_parameters.iter().map(|p| p.to_string()).collect();
            assert_eq!(parameters(sql), expected_parameters, "{context}");

            let kind = if name.starts_with("booking") {
                DocKind::Booking
            } else if name.starts_with("work order") {
                DocKind::WorkOrder
            } else {
                continue;
            };
            let found = words(sql);
            for entry in expected_entries(preset, kind) {
                for identifier in storage(&map, entry) {
                    assert!(
                        found.contains(&identifier),
                        "{entry} = {identifier} missing in {context}"
                    );
                }
            }
            for standard in [
                "_IDRRef",
                "_Number",
                "_Date_Time",
                "_Marked",
                "_Description",
            ] {
                assert!(found.contains(standard), "{standard} in {context}");
            }
            if name.ends_with("changed") || name.ends_with("recent") || name.ends_with("chunk") {
                assert!(found.contains("_Version"), "{context}");
            }
        }
    }
}

/// A release or a dealer may store an attribute the other way: every plain reference of the map
/// made composite (with `_RTRef` and `_S`) and every composite made plain. The same preset still
/// renders statements that parse, and reads a composite through its type tag and table code.
#[test]
fn the_statements_follow_each_attributes_shape() {
    for preset in PRESETS {
        let (seed, map) = random_map(preset);
        let mut flipped = map.clone();
        let mut made_composite = Vec::new();
        for (name, column) in map.fields() {
            let column = match column {
                Column::Plain(plain) if plain.ends_with("RRef") => {
                    let base = plain.trim_end_matches("RRef");
                    made_composite.push((name.to_string(), format!("{base}_TYPE")));
                    Column::Composite(CompositeColumns {
                        type_tag: format!("{base}_TYPE"),
                        rtref: Some(format!("{base}_RTRef")),
                        rrref: format!("{base}_RRRef"),
                        string: Some(format!("{base}_S")),
                    })
                }
                Column::Composite(c) => Column::Plain(c.rrref.replace("_RRRef", "RRef")),
                Column::Plain(_) => continue,
            };
            flipped = flipped.with_field(name, column);
        }
        let all =
            statements(preset, &flipped).unwrap_or_else(|e| panic!("{preset:?} seed {seed}: {e}"));
        let mut text = String::new();
        for (name, sql) in &all {
            Parser::parse_sql(&MsSqlDialect {}, sql).unwrap_or_else(|e| {
                panic!("{preset:?} seed {seed}, {name} does not parse: {e}\n{sql}")
            });
            text += sql;
        }
        let found = words(&text);
        for attribute in [
            "Документ.ЗаказНаряд.Состояние",
            "Документ.ЗаявкаНаРемонт.Состояние",
        ] {
            let (_, type_tag) = made_composite
                .iter()
                .find(|(name, _)| name == attribute)
                .unwrap();
            assert!(
                found.contains(type_tag),
                "{preset:?} seed {seed}: {attribute}"
            );
        }
    }
}

#[test]
fn six_x_work_orders_also_change_with_their_summary_order() {
    let (seed, map) = random_map(Preset::Alfa6);
    let all = statements(Preset::Alfa6, &map).unwrap();
    let (_, sql) = all.iter().find(|(n, _)| n == "work order changed").unwrap();
    let where_clause = &sql[sql.rfind("\nWHERE ").expect("the filter")..];
    let summary = map.table("Документ.СводныйРемонтныйЗаказ").unwrap();
    assert!(
        where_clause.contains(summary) && where_clause.matches("_Version").count() == 4,
        "seed {seed}:\n{where_clause}"
    );
}

/// The comparisons of a statement's filter as `alias.column op value` triples, from the T-SQL
/// tokens (so spacing and line breaks do not matter).
fn comparisons(sql: &str) -> Vec<(String, String, String)> {
    let tokens: Vec<Token> = Tokenizer::new(&MsSqlDialect {}, sql)
        .tokenize()
        .expect("tokenizes")
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    tokens
        .windows(5)
        .filter_map(|w| match w {
            [Token::Word(alias), Token::Period, Token::Word(column), op, Token::Word(value)]
                if matches!(op, Token::GtEq | Token::Gt | Token::Lt | Token::Eq) =>
            {
                Some((
                    format!("{}.{}", alias.value, column.value),
                    op.to_string(),
                    value.value.clone(),
                ))
            }
            _ => None,
        })
        .collect()
}

/// The window queries find their candidates through the indexes 1C keeps: the documents'
/// `_ByDocDate` (`_Date_Time`) and the state journal's `_ByPeriod` (`_Period`), both from the
/// window start `@P4`; the row-version test (`_Version` in (`@P2`, `@P3`)) only filters those.
#[test]
fn window_queries_seek_the_date_and_period_indexes_from_the_window_start() {
    for preset in PRESETS {
        let (seed, map) = random_map(preset);
        let all = statements(preset, &map).unwrap();
        let sql = |name: &str| {
            all.iter()
                .find(|(n, _)| n == name)
                .map(|(_, sql)| sql[sql.rfind("\nWHERE ").expect("the filter")..].to_string())
                .unwrap_or_else(|| panic!("{name}"))
        };
        let has = |filter: &[(String, String, String)], left: &str, op: &str, right: &str| {
            filter
                .iter()
                .any(|(l, o, r)| l == left && o == op && r == right)
        };
        let booking = comparisons(&sql("booking recent"));
        let context = format!("{preset:?} seed {seed}: {booking:?}");
        assert!(has(&booking, "d._Date_Time", ">=", "@P4"), "{context}");
        assert!(has(&booking, "d._Version", ">", "@P2"), "{context}");
        assert!(has(&booking, "d._Version", "<", "@P3"), "{context}");

        let work_orders = sql("work order recent");
        let filter = comparisons(&work_orders);
        let context = format!("{preset:?} seed {seed}:\n{work_orders}");
        assert!(has(&filter, "w._Date_Time", ">=", "@P4"), "{context}");
        assert!(has(&filter, "j._Period", ">=", "@P4"), "{context}");
        assert!(has(&filter, "d._Version", ">", "@P2"), "{context}");
        assert!(has(&filter, "d._Version", "<", "@P3"), "{context}");
        let journal = map.table("РегистрСведений.ЖурналСостояний").unwrap();
        let work_order = map.table("Документ.ЗаказНаряд").unwrap();
        assert!(
            words(&work_orders).contains(journal) && words(&work_orders).contains(work_order),
            "{context}"
        );
        // No other comparison against the window start: nothing else needs an index here.
        let on_window: Vec<&str> = filter
            .iter()
            .filter(|(_, _, r)| r == "@P4")
            .map(|(l, _, _)| l.as_str())
            .collect();
        assert_eq!(on_window, ["w._Date_Time", "j._Period"], "{context}");
        if preset == Preset::Alfa6 {
            let summary = map.table("Документ.СводныйРемонтныйЗаказ").unwrap();
            assert!(words(&work_orders).contains(summary), "{context}");
            assert!(has(&filter, "s._Version", ">", "@P2"), "{context}");
        }
    }
}

/// Against a real server, the window mode: a first read, then a windowed read from its
/// checkpoint, then a reconcile once it is due (`reconcile_hours = 0`: every cycle).
#[tokio::test]
#[ignore = "needs a SQL Server: set MSSQL_TEST_URL (see docs/mssql.md)"]
async fn a_real_server_reads_through_the_window_and_reconciles() {
    let url = std::env::var("MSSQL_TEST_URL").expect("MSSQL_TEST_URL");
    let map_path = std::env::var("MSSQL_TEST_NAME_MAP")
        .expect("MSSQL_TEST_NAME_MAP: the name map of the MSSQL_TEST_URL database");
    let preset = match std::env::var("MSSQL_TEST_PRESET").as_deref() {
        Ok("alfa5") => Preset::Alfa5,
        _ => Preset::Alfa6,
    };
    let map = NameMap::load(std::path::Path::new(&map_path)).expect("name map");
    let cutoff = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
    for (reconcile_hours, plan) in [(24, "window"), (0, "reconcile")] {
        let detection = ChangeDetection {
            window_days: 30,
            reconcile_hours,
            reconcile_at: None,
        };
        let mut source = MssqlSource::from_ado_string(&url, preset, map.clone())
            .await
            .expect("connects")
            .with_change_detection(detection);
        let first = source.changes(&ReadFrom::Start, cutoff).await.unwrap();
        let parsed = Checkpoint::parse(&first.checkpoint).unwrap();
        assert!(
            first.checkpoint.starts_with("window;rv:"),
            "{}",
            first.checkpoint
        );
        let again = source
            .changes(&ReadFrom::Checkpoint(first.checkpoint.clone()), cutoff)
            .await
            .unwrap_or_else(|e| panic!("{plan}: {e}"));
        let next = Checkpoint::parse(&again.checkpoint).unwrap();
        assert!(RowVersion::parse(&next.read).unwrap() >= RowVersion::parse(&parsed.read).unwrap());
        if reconcile_hours == 0 {
            assert_eq!(
                next.reconcile, next.read,
                "{plan}: the exact read moved the reconcile"
            );
        } else {
            assert_eq!(
                next.reconcile, parsed.reconcile,
                "{plan}: the window kept the reconcile"
            );
        }
    }
}

fn string(text: &str) -> ColumnData<'static> {
    ColumnData::String(Some(text.to_string().into()))
}

fn binary(bytes: &[u8]) -> ColumnData<'static> {
    ColumnData::Binary(Some(bytes.to_vec().into()))
}

fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(h, min, s)
        .unwrap()
}

/// A `datetime2` cell as tiberius decodes it.
fn datetime2(value: NaiveDateTime) -> ColumnData<'static> {
    match value.to_sql() {
        ColumnData::DateTime2(v) => ColumnData::DateTime2(v),
        other => panic!("tiberius encodes NaiveDateTime as {other:?}"),
    }
}

/// A legacy `datetime` cell: days since 1900-01-01 and 1/300 s ticks.
fn datetime(value: NaiveDateTime) -> ColumnData<'static> {
    let base = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
    let days = (value.date() - base).num_days() as i32;
    let seconds = value.time() - chrono::NaiveTime::MIN;
    ColumnData::DateTime(Some(DateTime::new(
        days,
        seconds.num_seconds() as u32 * 300,
    )))
}

fn stored(value: NaiveDateTime, offset: i32) -> NaiveDateTime {
    value
        .checked_add_months(chrono::Months::new(12 * offset as u32))
        .unwrap()
}

const REFERENCE: [u8; 16] = [
    0x90, 0x22, 0x24, 0x9e, 0x3a, 0x1a, 0xc4, 0xb9, 0x4b, 0xe8, 0xfa, 0xdd, 0xd2, 0xf8, 0xbd, 0xe9,
];
const BOOKING: [u8; 16] = [7; 16];

/// A work-order row as the 6.x query returns it, dates stored with `offset` and built by
/// `date_cell` (datetime2 or datetime).
fn work_order_cells(
    offset: i32,
    date_cell: fn(NaiveDateTime) -> ColumnData<'static>,
) -> Vec<(&'static str, ColumnData<'static>)> {
    let date = |d| date_cell(stored(d, offset));
    vec![
        ("reference", binary(&REFERENCE)),
        ("number", string("ЗН-000123")),
        ("date", date(at(2026, 3, 5, 10, 30, 0))),
        ("deletion_mark", binary(&[0x00])),
        ("state_order", ColumnData::I32(None)),
        ("state_name", string("В работе")),
        ("state_journal_at", date(at(2026, 3, 6, 9, 0, 0))),
        // The empty date: 0001-01-01 plus the offset.
        ("closed_at", date(at(1, 1, 1, 0, 0, 0))),
        (
            "sum",
            ColumnData::Numeric(Some(Numeric::new_with_scale(1530050, 2))),
        ),
        ("manager", string("Иванов Иван")),
        ("marketing_programme", ColumnData::String(None)),
        ("contact_reason", string("Стук в подвеске")),
        ("own_phone", string("+7 900 111-22-33")),
        ("own_email", ColumnData::String(None)),
        (
            "contacts",
            string(
                r#"[{"kind":1,"text":"+7 900 111-22-33"},{"kind":2,"text":"a@b.ru"},{"kind":1}]"#,
            ),
        ),
        ("car_make", string("Лада")),
        ("car_model", string("Веста")),
        ("car_year", date(at(2021, 1, 1, 0, 0, 0))),
        ("booking_reference", binary(&BOOKING)),
        ("booking_number", string("ЗР-000045")),
        ("booking_date", date(at(2026, 3, 1, 8, 0, 0))),
        ("department_name", string("Сервис Юг")),
        ("department_code", string("000000002")),
        ("organisation_name", string("ООО Юг")),
        // A catalog with a numeric code reads it as text.
        ("organisation_code", string("2")),
    ]
}

/// The cells with one column's value replaced, as a row.
fn row_with(
    mut cells: Vec<(&'static str, ColumnData<'static>)>,
    column: &str,
    value: ColumnData<'static>,
) -> MssqlRow {
    let cell = cells
        .iter_mut()
        .find(|(name, _)| *name == column)
        .expect("column");
    cell.1 = value;
    MssqlRow::new(cells)
}

fn decoder(preset: Preset, offset: i32) -> (NameMap, Decoder) {
    let (_, map) = random_map(preset);
    let decoder = Decoder::new(preset, &map, offset).expect("decoder");
    (map, decoder)
}

#[test]
fn work_orders_decode_with_either_year_offset_and_date_type() {
    for offset in [0, 2000] {
        for (cell_type, date_cell) in [
            (
                "datetime2",
                datetime2 as fn(NaiveDateTime) -> ColumnData<'static>,
            ),
            ("datetime", datetime),
        ] {
            if cell_type == "datetime" && offset == 0 {
                continue; // datetime cannot hold year 1: such bases always have offset 2000
            }
            let (map, decoder) = decoder(Preset::Alfa6, offset);
            let kinds = map
                .enum_values("Перечисление.ТипыКонтактнойИнформации")
                .unwrap();
            let phone = kinds.iter().position(|k| k == "Телефон").unwrap() as i32;
            let email = kinds
                .iter()
                .position(|k| k == "АдресЭлектроннойПочты")
                .unwrap() as i32;
            let json = format!(
                r#"[{{"kind":{phone},"text":"+7 900 111-22-33"}},{{"kind":{email},"text":" a@b.ru "}},{{"kind":{phone}}}]"#
            );
            let row = row_with(
                work_order_cells(offset, date_cell),
                "contacts",
                string(&json),
            );
            let context = format!("offset {offset}, {cell_type}");
            let snapshot = decoder
                .snapshot(DocKind::WorkOrder, &row)
                .unwrap_or_else(|r| panic!("{context}: {r:?}"));
            assert_eq!(snapshot.reference, DocRef(REFERENCE), "{context}");
            assert_eq!(snapshot.number, "ЗН-000123");
            assert_eq!(snapshot.date, at(2026, 3, 5, 10, 30, 0), "{context}");
            assert!(!snapshot.deletion_mark);
            assert_eq!(snapshot.state.as_deref(), Some("В работе"));
            assert_eq!(
                snapshot.state_set_at,
                Some(at(2026, 3, 6, 9, 0, 0)),
                "{context}"
            );
            assert_eq!(snapshot.sum.as_deref(), Some("15300.50"));
            assert_eq!(snapshot.marketing_programme, None);
            assert_eq!(snapshot.phones, vec!["+7 900 111-22-33"], "{context}");
            assert_eq!(snapshot.emails, vec!["a@b.ru"], "{context}");
            assert_eq!(snapshot.car.year, Some(2021), "{context}");
            let booking = snapshot.booking.expect("the booking link");
            assert_eq!(booking.reference, DocRef(BOOKING));
            assert_eq!(booking.date, at(2026, 3, 1, 8, 0, 0), "{context}");
            let department = snapshot.department.expect("the department");
            assert_eq!(department.description, "Сервис Юг");
            assert_eq!(department.code.as_deref(), Some("000000002"));
            let organisation = snapshot.organisation.expect("the organisation");
            assert_eq!(organisation.code.as_deref(), Some("2"));
        }
    }
}

#[test]
fn a_booking_with_padding_empty_values_and_nulls_decodes() {
    for offset in [0, 2000] {
        let (map, decoder) = decoder(Preset::Alfa5, offset);
        let states = map
            .enum_values("Перечисление.СостоянияЗаявкиНаРемонт")
            .unwrap();
        let row = MssqlRow::new(vec![
            ("reference", binary(&REFERENCE)),
            // nchar(11) pads with spaces.
            ("number", string("ЗР-45      ")),
            ("date", datetime2(stored(at(2026, 2, 1, 9, 15, 7), offset))),
            ("deletion_mark", binary(&[0x01])),
            ("state_order", ColumnData::I32(Some(1))),
            ("state_name", ColumnData::String(None)),
            ("state_journal_at", ColumnData::DateTime2(None)),
            ("closed_at", ColumnData::DateTime2(None)),
            (
                "sum",
                ColumnData::Numeric(Some(Numeric::new_with_scale(-1234, 2))),
            ),
            ("manager", string("Петров      ")),
            ("marketing_programme", string("          ")),
            ("contact_reason", ColumnData::String(None)),
            ("own_phone", string("  ")),
            ("own_email", string("x@y.ru")),
            ("contacts", ColumnData::String(None)),
            ("car_make", ColumnData::String(None)),
            ("car_model", string("Веста (строкой)")),
            // The empty date of a car year.
            ("car_year", datetime2(stored(at(1, 1, 1, 0, 0, 0), offset))),
            // NULL of another type than the column: T-SQL's untyped NULL reads as int.
            ("booking_reference", ColumnData::I32(None)),
            ("booking_number", ColumnData::String(None)),
            ("booking_date", ColumnData::DateTime2(None)),
            // The empty reference joins no department; the organisation's code is blank.
            ("department_name", ColumnData::String(None)),
            ("department_code", ColumnData::String(None)),
            ("organisation_name", string("ООО Север   ")),
            ("organisation_code", string("   ")),
        ]);
        let snapshot = decoder
            .snapshot(DocKind::Booking, &row)
            .unwrap_or_else(|r| panic!("offset {offset}: {r:?}"));
        assert_eq!(snapshot.number, "ЗР-45");
        assert_eq!(snapshot.date, at(2026, 2, 1, 9, 15, 7), "offset {offset}");
        assert!(snapshot.deletion_mark);
        assert_eq!(snapshot.state.as_ref(), Some(&states[1]));
        assert_eq!(snapshot.state_set_at, None);
        assert_eq!(snapshot.sum.as_deref(), Some("-12.34"));
        assert_eq!(snapshot.manager.as_deref(), Some("Петров"));
        assert_eq!(snapshot.marketing_programme, None);
        assert!(snapshot.phones.is_empty());
        assert_eq!(snapshot.emails, vec!["x@y.ru"]);
        assert_eq!(snapshot.car.model.as_deref(), Some("Веста (строкой)"));
        assert_eq!(snapshot.car.year, None, "offset {offset}: the empty date");
        assert_eq!(snapshot.booking, None);
        assert_eq!(snapshot.department, None);
        let organisation = snapshot.organisation.expect("the organisation");
        assert_eq!(
            (organisation.description.as_str(), organisation.code),
            ("ООО Север", None)
        );
    }
}

#[test]
fn bad_rows_are_rejected_naming_the_field() {
    let (_, decoder) = decoder(Preset::Alfa6, 2000);
    let cases = [
        ("reference", binary(&[0; 16]), "Ссылка"),
        ("deletion_mark", binary(&[0x02]), "ПометкаУдаления"),
        (
            "deletion_mark",
            ColumnData::String(Some("1".into())),
            "ПометкаУдаления",
        ),
        ("date", datetime2(at(2001, 1, 1, 0, 0, 0)), "Дата"),
        ("date", datetime2(at(1999, 5, 1, 0, 0, 0)), "Дата"),
        ("contacts", string("not json"), "КонтактнаяИнформация"),
        ("sum", ColumnData::I64(Some(5)), "СуммаДокумента"),
    ];
    for (column, value, field) in cases {
        let row = row_with(work_order_cells(2000, datetime2), column, value.clone());
        let rejected = decoder
            .snapshot(DocKind::WorkOrder, &row)
            .expect_err(&format!("{column} = {value:?} is refused"));
        assert_eq!(rejected.field, field, "{column} = {value:?}: {rejected:?}");
    }
}

#[test]
fn rowversions_read_as_binary_eight_compare_unsigned_big_endian() {
    let low = RowVersion::from_bytes(&[0, 0, 0, 0, 0, 0x0A, 0x1B, 0x2C]).unwrap();
    let high = RowVersion::from_bytes(&[0x80, 0, 0, 0, 0, 0, 0, 0]).unwrap();
    assert!(high > low);
    assert_eq!(low.to_checkpoint(), "rv:00000000000A1B2C");
    assert_eq!(RowVersion::from_bytes(&[1, 2, 3]), None);
}

/// Against a real server: `MSSQL_TEST_URL` is an ADO.NET connection string to a database with
/// an Альфа-Авто 6.x layout and `MSSQL_TEST_NAME_MAP` the path of its name map.
#[tokio::test]
#[ignore = "needs a SQL Server: set MSSQL_TEST_URL (see docs/mssql.md)"]
async fn a_real_server_reads_changes_when_configured() {
    let url =
        std::env::var("MSSQL_TEST_URL").expect("MSSQL_TEST_URL: an ADO.NET connection string");
    let map_path = std::env::var("MSSQL_TEST_NAME_MAP")
        .expect("MSSQL_TEST_NAME_MAP: the name map of the MSSQL_TEST_URL database");
    let preset = match std::env::var("MSSQL_TEST_PRESET").as_deref() {
        Ok("alfa5") => Preset::Alfa5,
        _ => Preset::Alfa6,
    };
    let map = NameMap::load(std::path::Path::new(&map_path)).expect("name map");
    let mut source = MssqlSource::from_ado_string(&url, preset, map)
        .await
        .expect("connects, checks RCSI, reads the year offset");
    let cutoff = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
    let first = source
        .changes(&ReadFrom::Start, cutoff)
        .await
        .expect("first read");
    let checkpoint = RowVersion::parse(&first.checkpoint).expect("an rv: checkpoint");
    let again = source
        .changes(&ReadFrom::Checkpoint(first.checkpoint.clone()), cutoff)
        .await
        .expect("changes since the checkpoint");
    assert!(RowVersion::parse(&again.checkpoint).unwrap() >= checkpoint);
    eprintln!(
        "read {} documents ({} rejected), then {} changed",
        first.documents.len(),
        first.rejected.len(),
        again.documents.len()
    );
}
