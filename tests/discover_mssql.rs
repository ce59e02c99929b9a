//! Name-map discovery on MS SQL without a server: the generator's `Params` / `Config` files and
//! enum rows, taken byte for byte from a generated 1C-shaped database, and its columns with the
//! types SQL Server gives them, are handed to discover's MS SQL reader as tiberius values; it
//! must give back the generator's own name map, spelled as on MS SQL (`_Document245`,
//! `_Fld12RRef`). Against a real server, a test reads a base's map when `MSSQL_TEST_URL` is set.
//!
//! The generated database lives in the throwaway PostgreSQL; these tests fail (they do not skip)
//! when its server programs are missing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlparser::dialect::MsSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};
use tiberius::ColumnData;
use tokio_postgres::Client;

use alfa_calltouch::db::mssql::MssqlRow;
use alfa_calltouch::discover::live::{self, ColumnClass, LiveDatabase, LiveSchema};
use alfa_calltouch::discover::mssql::{self, MssqlMetadata};
use alfa_calltouch::discover::postgres::PgMetadata;
use alfa_calltouch::discover::{read_metadata, DiscoverError, MetadataStore};
use alfa_calltouch::source::mssql::required_entries;
use alfa_calltouch::source::namemap::{Column, Dialect, NameMap};
use alfa_calltouch::source::settings::Preset;
use testkit::cluster::shared as cluster;
use testkit::fixture::{storage_name_map, Fixture, FixtureSpec};

fn text(value: &str) -> ColumnData<'static> {
    ColumnData::String(Some(value.to_string().into()))
}

fn binary(bytes: &[u8]) -> ColumnData<'static> {
    ColumnData::Binary(Some(bytes.to_vec().into()))
}

/// A `Params` or `Config` row as SQL Server stores it.
struct FileRow {
    file_name: String,
    part_no: i32,
    binary_data: Vec<u8>,
}

/// The rows of an MS SQL 1C base, as tiberius values, answering discover's statements the way
/// the server would (`WHERE [FileName] = …`, `ORDER BY [PartNo]`).
struct ServerRows {
    params: Vec<FileRow>,
    config: Vec<FileRow>,
    columns: Vec<MssqlRow>,
    enums: BTreeMap<String, Vec<MssqlRow>>,
}

impl ServerRows {
    /// The rows of the files named (in any case), ordered by name and part.
    fn file_rows(rows: &[FileRow], names: &[String]) -> Vec<MssqlRow> {
        let mut found: Vec<&FileRow> = rows
            .iter()
            .filter(|r| names.iter().any(|n| n.eq_ignore_ascii_case(&r.file_name)))
            .collect();
        found.sort_by_key(|r| (r.file_name.to_ascii_lowercase(), r.part_no));
        found
            .into_iter()
            .map(|r| {
                MssqlRow::new(vec![
                    ("file_name", text(&r.file_name.to_ascii_lowercase())),
                    ("binary_data", binary(&r.binary_data)),
                ])
            })
            .collect()
    }
}

impl MetadataStore for ServerRows {
    async fn params_file(&self, name: &str) -> Result<Vec<Vec<u8>>, DiscoverError> {
        mssql::params_parts(&ServerRows::file_rows(&self.params, &[name.to_string()]))
    }

    async fn config_files(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, Vec<Vec<u8>>>, DiscoverError> {
        mssql::config_parts(&ServerRows::file_rows(&self.config, names))
    }
}

impl LiveDatabase for ServerRows {
    fn dialect(&self) -> Dialect {
        Dialect::MsSql
    }

    async fn schema(&self) -> Result<LiveSchema, DiscoverError> {
        mssql::live_schema(&self.columns)
    }

    async fn enum_orders(&self, table: &str) -> Result<Vec<(Vec<u8>, i64)>, DiscoverError> {
        let rows = self
            .enums
            .get(table)
            .unwrap_or_else(|| panic!("{table} is spelled as the server spells it"));
        mssql::enum_orders(table, rows)
    }
}

async fn file_rows(client: &Client, table: &str) -> Vec<FileRow> {
    let sql = format!("SELECT filename::text, partno, binarydata FROM {table}");
    client
        .query(&sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|row| FileRow {
            file_name: row.get(0),
            part_no: row.get(1),
            binary_data: row.get(2),
        })
        .collect()
}

/// The SQL Server type of a generated column (`DATA_TYPE`, `CHARACTER_MAXIMUM_LENGTH`): what
/// 1C creates on MS SQL for what it creates as `bytea`, `mvarchar`, … on PostgreSQL.
fn server_type(column: &str, class: ColumnClass, pg_type: &str) -> (&'static str, Option<i32>) {
    match class {
        ColumnClass::Binary { .. } if column.ends_with("_type") => ("binary", Some(1)),
        ColumnClass::Binary { .. } if column.ends_with("_rtref") => ("binary", Some(4)),
        ColumnClass::Binary { .. } => ("binary", Some(16)),
        ColumnClass::String if pg_type == "mchar" => ("nchar", Some(11)),
        ColumnClass::String => ("nvarchar", Some(150)),
        ColumnClass::Number => ("numeric", None),
        ColumnClass::DateTime => ("datetime2", None),
        ColumnClass::Boolean => ("binary", Some(1)),
        // `_version`: a rowversion on MS SQL.
        ColumnClass::Other => ("timestamp", Some(8)),
    }
}

/// Lower-case storage names → the platform's spelling, from the MS SQL name map of the same
/// seed, plus the standard columns discover checks.
fn spellings(map: &NameMap) -> BTreeMap<String, String> {
    let mut names: BTreeMap<String, String> = [
        "_IDRRef",
        "_EnumOrder",
        "_Date_Time",
        "_Number",
        "_Marked",
        "_Period",
    ]
    .iter()
    .map(|n| (n.to_ascii_lowercase(), n.to_string()))
    .collect();
    for (_, table) in map.tables() {
        names.insert(table.to_ascii_lowercase(), table.to_string());
        let link = format!("{table}_IDRRef");
        names.insert(link.to_ascii_lowercase(), link);
    }
    for (_, column) in map.fields() {
        let identifiers: Vec<&str> = match column {
            Column::Plain(column) => vec![column.as_str()],
            Column::Composite(parts) => parts.identifiers().collect(),
        };
        for identifier in identifiers {
            names.insert(identifier.to_ascii_lowercase(), identifier.to_string());
        }
    }
    names
}

/// The generated base as it would be on MS SQL: the same metadata bytes and enum rows, every
/// column with the server's name and type.
async fn server_rows(fixture: &Fixture, connection: &str, server_map: &NameMap) -> ServerRows {
    let client = fixture.client();
    let spelled = spellings(server_map);
    let spell = |name: &str| {
        spelled
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    };
    let pg_schema = PgMetadata::from_connection_string(connection)
        .await
        .unwrap()
        .schema()
        .await
        .unwrap();
    let mut columns = Vec::new();
    for (table, live) in &pg_schema.tables {
        for (name, column) in &live.columns {
            let (data_type, length) = server_type(name, column.class, &column.type_name);
            columns.push(MssqlRow::new(vec![
                ("table_name", text(&spell(table))),
                ("column_name", text(&spell(name))),
                ("data_type", text(data_type)),
                ("max_length", ColumnData::I32(length)),
            ]));
        }
    }
    let mut enums = BTreeMap::new();
    for (name, table) in fixture.name_map().tables() {
        if !name.starts_with("Перечисление.") {
            continue;
        }
        let sql = format!("SELECT _idrref, _enumorder::int FROM {table}");
        let rows = client.query(&sql, &[]).await.unwrap();
        let rows = rows
            .iter()
            .map(|row| {
                let reference: Vec<u8> = row.get(0);
                MssqlRow::new(vec![
                    ("reference", binary(&reference)),
                    ("enum_order", ColumnData::I32(Some(row.get(1)))),
                ])
            })
            .collect();
        enums.insert(spell(table), rows);
    }
    ServerRows {
        params: file_rows(client, "params").await,
        config: file_rows(client, "config").await,
        columns,
        enums,
    }
}

/// The generator's MS SQL map restricted to what the preset's queries use, with the enum
/// values in the generated base's `_EnumOrder` order.
fn expected_map(fixture: &Fixture, server_map: &NameMap) -> NameMap {
    let mut map = NameMap::default();
    for name in required_entries(fixture.preset()) {
        if let Some(table) = server_map.table(&name) {
            map = map.with_table(&name, table);
        }
        if let Some(column) = server_map.field(&name) {
            map = map.with_field(&name, column.clone());
        }
        if let Ok(values) = fixture.name_map().enum_values(&name) {
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            map = map.with_enum(&name, &values);
        }
    }
    map
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

for_both_presets!(tiberius_rows_give_the_generators_mssql_map);

async fn tiberius_rows_give_the_generators_mssql_map(preset: Preset) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "discover_mssql_{}_{}",
        preset.code(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let connection = cluster().create_database(&name).await.expect("database");
    let seed = fastrand::u64(..);
    let fixture = Fixture::generate(&connection, FixtureSpec::small(preset, seed))
        .await
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    let server_map = storage_name_map(preset, seed, Dialect::MsSql);
    let rows = server_rows(&fixture, &connection, &server_map).await;
    assert!(
        rows.config.iter().any(|r| r.part_no > 0),
        "seed {seed}: some file is split into parts"
    );

    let required = required_entries(preset);
    let mut storage = read_metadata(&rows, &required)
        .await
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    live::check(&mut storage, &rows).await.expect("live check");
    let (map, missing) = storage.select(&required);
    assert!(missing.is_empty(), "seed {seed}: unresolved {missing:?}");
    let toml = map.to_toml();
    assert_eq!(
        toml,
        expected_map(&fixture, &server_map).to_toml(),
        "seed {seed}"
    );
    let booking = server_map.table("Документ.ЗаявкаНаРемонт").unwrap();
    assert!(
        booking.starts_with("_Document") && toml.contains(booking),
        "seed {seed}: the server's spelling {booking} in\n{toml}"
    );
    alfa_calltouch::source::mssql::check_name_map(preset, &map)
        .unwrap_or_else(|e| panic!("seed {seed}: the MS SQL source accepts the map: {e}"));
}

/// Discovery's T-SQL parses, and every identifier in it is quoted with `[]`: the only bare
/// words are the statement's own keywords and functions, so no reserved word can be read as
/// one.
#[test]
fn every_discovery_statement_parses_with_every_identifier_quoted() {
    const BARE: [&str; 12] = [
        "SELECT", "AS", "FROM", "WHERE", "IN", "ORDER", "BY", "AND", "LOWER", "CONVERT", "int", "N",
    ];
    for (name, sql) in mssql::statements() {
        Parser::parse_sql(&MsSqlDialect {}, &sql)
            .unwrap_or_else(|e| panic!("{name} does not parse: {e}\n{sql}"));
        let tokens = Tokenizer::new(&MsSqlDialect {}, &sql).tokenize().unwrap();
        let mut quoted = 0;
        for token in tokens {
            if let Token::Word(word) = token {
                match word.quote_style {
                    Some('[') => quoted += 1,
                    Some(other) => panic!("{name}: {other}-quoted {}", word.value),
                    None => assert!(
                        BARE.contains(&word.value.as_str()) || word.value.starts_with("@P"),
                        "{name}: bare word {} in\n{sql}",
                        word.value
                    ),
                }
            }
        }
        assert!(quoted >= 3, "{name}: {sql}");
    }
}

/// Against a real server: `MSSQL_TEST_URL` is an ADO.NET connection string to a 1C database
/// and `MSSQL_TEST_NAME_MAP` the name map written for it by hand or by an earlier `discover`;
/// discovery must find the same entries.
#[tokio::test]
#[ignore = "needs a SQL Server: set MSSQL_TEST_URL (see docs/mssql.md)"]
async fn a_real_server_gives_the_known_name_map() {
    let url = std::env::var("MSSQL_TEST_URL").expect("MSSQL_TEST_URL");
    let preset = match std::env::var("MSSQL_TEST_PRESET").as_deref() {
        Ok("alfa5") => Preset::Alfa5,
        _ => Preset::Alfa6,
    };
    let db = MssqlMetadata::from_ado_string(&url)
        .await
        .expect("connects");
    let required = required_entries(preset);
    let mut storage = read_metadata(&db, &required).await.expect("metadata");
    live::check(&mut storage, &db).await.expect("live schema");
    let (map, missing) = storage.select(&required);
    assert!(missing.is_empty(), "unresolved: {missing:?}");
    if let Ok(path) = std::env::var("MSSQL_TEST_NAME_MAP") {
        let known = NameMap::load(std::path::Path::new(&path)).expect("name map");
        assert_eq!(map.to_toml(), known.to_toml());
    }
    alfa_calltouch::source::mssql::check_name_map(preset, &map).expect("a usable map");
}
