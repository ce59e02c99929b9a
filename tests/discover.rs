//! Name-map discovery against generated 1C-shaped databases: the metadata route and the
//! storage-structure route must both give back the generator's own name map for each preset;
//! corrupt metadata gives clear errors; and `discover` or `import-structure` followed by `run` —
//! the real binary, against the Calltouch emulator — creates every deal with no hand editing, on
//! bases laid out with the real types of the 6.1 and 5.1 metadata.
//!
//! These tests fail (they do not skip) when the PostgreSQL server programs are missing.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use alfa_calltouch::discover::postgres::PgMetadata;
use alfa_calltouch::discover::storage::{Storage, Unresolved};
use alfa_calltouch::discover::{live, read_metadata, structure, DiscoverError};
use alfa_calltouch::domain::snapshot::{DocKind, DocumentSnapshot};
use alfa_calltouch::rules::settings::StatusConfig;
use alfa_calltouch::source::namemap::{Column, NameMap};
use alfa_calltouch::source::postgres::required_entries;
use alfa_calltouch::source::settings::Preset;
use testkit::cluster::shared as cluster;
use testkit::config::{Connection, RegisterKeys, SourceKeys, TestConfig};
use testkit::emulator::Emulator;
use testkit::fixture::{Fixture, FixtureSpec};

/// A fresh database with random storage numbers; returns it and its name.
async fn generated(preset: Preset) -> (Fixture, String, String) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = format!("discover_{}_{n}", preset.code());
    let connection = cluster().create_database(&name).await.expect("database");
    let seed = fastrand::u64(..);
    let fixture = Fixture::generate(&connection, FixtureSpec::small(preset, seed))
        .await
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    (fixture, connection, name)
}

/// The generator's map, restricted to the entries the preset's queries use.
fn expected_map(fixture: &Fixture) -> NameMap {
    let truth = fixture.name_map();
    let mut map = NameMap::default();
    for name in required_entries(fixture.preset()) {
        if let Some(table) = truth.table(&name) {
            map = map.with_table(&name, table);
        }
        if let Some(column) = truth.field(&name) {
            map = map.with_field(&name, column.clone());
        }
        if let Ok(values) = truth.enum_values(&name) {
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            map = map.with_enum(&name, &values);
        }
        truth
            .require(&name)
            .unwrap_or_else(|_| panic!("the generator maps every required entry: {name}"));
    }
    map
}

async fn checked_map(
    mut storage: Storage,
    db: &PgMetadata,
    preset: Preset,
) -> (NameMap, Vec<Unresolved>) {
    live::check(&mut storage, db).await.expect("live check");
    storage.select(&required_entries(preset))
}

async fn discovered(
    connection: &str,
    preset: Preset,
) -> Result<(NameMap, Vec<Unresolved>), DiscoverError> {
    let db = PgMetadata::from_connection_string(connection).await?;
    let storage = read_metadata(&db, &required_entries(preset)).await?;
    Ok(checked_map(storage, &db, preset).await)
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
    metadata_gives_the_generators_map,
    storage_structure_gives_the_generators_map,
);

async fn metadata_gives_the_generators_map(preset: Preset) {
    let (fixture, connection, _) = generated(preset).await;
    let (map, missing) = discovered(&connection, preset).await.expect("discover");
    assert!(missing.is_empty(), "unresolved: {missing:?}");
    assert_eq!(map.to_toml(), expected_map(&fixture).to_toml());
}

async fn storage_structure_gives_the_generators_map(preset: Preset) {
    let (fixture, connection, _) = generated(preset).await;
    let storage = structure::read(&fixture.storage_structure_json()).expect("structure");
    let db = PgMetadata::from_connection_string(&connection)
        .await
        .unwrap();
    let (map, missing) = checked_map(storage, &db, preset).await;
    assert!(missing.is_empty(), "unresolved: {missing:?}");
    assert_eq!(map.to_toml(), expected_map(&fixture).to_toml());
}

#[tokio::test]
async fn a_column_missing_from_the_live_schema_is_reported_by_its_1c_name() {
    let (fixture, connection, _) = generated(Preset::Alfa6).await;
    let Some(Column::Plain(column)) = fixture.name_map().field("Документ.ЗаказНаряд.ДатаЗакрытия")
    else {
        panic!("a plain column");
    };
    let table = fixture.name_map().table("Документ.ЗаказНаряд").unwrap();
    fixture
        .client()
        .batch_execute(&format!(
            "ALTER TABLE {table} RENAME COLUMN {column} TO renamed"
        ))
        .await
        .unwrap();
    let (_, missing) = discovered(&connection, Preset::Alfa6).await.unwrap();
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(missing[0].name, "Документ.ЗаказНаряд.ДатаЗакрытия");
    assert!(
        missing[0].reason.contains("is not in table"),
        "{}",
        missing[0]
    );
}

#[tokio::test]
async fn an_extension_x1_table_is_preferred() {
    let (fixture, connection, _) = generated(Preset::Alfa6).await;
    let table = fixture.name_map().table("Документ.ЗаказНаряд").unwrap();
    fixture
        .client()
        .batch_execute(&format!(
            "CREATE TABLE {table}x1 (LIKE {table} INCLUDING ALL)"
        ))
        .await
        .unwrap();
    let (map, missing) = discovered(&connection, Preset::Alfa6).await.unwrap();
    assert!(missing.is_empty(), "{missing:?}");
    assert_eq!(
        map.table("Документ.ЗаказНаряд"),
        Some(format!("{table}x1").as_str())
    );
}

#[tokio::test]
async fn missing_dbnames_is_a_clear_error() {
    let (fixture, connection, _) = generated(Preset::Alfa5).await;
    fixture
        .client()
        .batch_execute("DELETE FROM params")
        .await
        .unwrap();
    let error = discovered(&connection, Preset::Alfa5).await.unwrap_err();
    assert_eq!(error.to_string(), "Params has no file `DBNames`");
}

#[tokio::test]
async fn corrupt_and_truncated_metadata_are_clear_errors() {
    let (fixture, connection, _) = generated(Preset::Alfa6).await;
    let client = fixture.client();
    // A part lost: the joined blob is cut short.
    client
        .batch_execute(
            "DELETE FROM params WHERE partno = (SELECT max(partno) FROM params WHERE filename::text = 'DBNames')",
        )
        .await
        .unwrap();
    let error = discovered(&connection, Preset::Alfa6).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "Params file `DBNames`: not a raw DEFLATE stream (incomplete deflate stream)"
    );

    // Not a DEFLATE stream at all.
    client
        .batch_execute("UPDATE params SET binarydata = '\\xffffff0013'::bytea")
        .await
        .unwrap();
    let error = discovered(&connection, Preset::Alfa6).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("Params file `DBNames`: not a raw DEFLATE stream"),
        "{error}"
    );

    // An uncompressed (BOM) root whose brace text is cut.
    client
        .batch_execute(
            "DELETE FROM params; \
             DELETE FROM config WHERE filename::text = 'root'; \
             INSERT INTO params VALUES ('DBNames', now(), now(), 0, 0, '\\xefbbbf7b312c7b307d7d'::bytea, 0); \
             INSERT INTO config VALUES ('root', now(), now(), 0, 0, '\\xefbbbf7b322c'::bytea, 0)",
        )
        .await
        .unwrap();
    let error = discovered(&connection, Preset::Alfa6).await.unwrap_err();
    assert!(
        error.to_string().contains("Config file `root`") && error.to_string().contains("truncated"),
        "{error}"
    );
}

/// Writes the configuration a deployment would have: no name map yet.
fn write_config(dir: &Path, database: &str, emulator: &Emulator, preset: Preset, start: &str) {
    std::fs::write(dir.join("token.txt"), "discover-token").unwrap();
    std::fs::write(dir.join("db-password.txt"), "unused").unwrap();
    let mut source = Connection::local_postgres(cluster().port(), database);
    source.password_file = Some("db-password.txt".into());
    let mut source = SourceKeys::new(source);
    source.preset = preset;
    source.start_date = start.into();
    TestConfig::new("4242", &emulator.base_url(), source)
        .order_number("{kind}-{number}")
        .register(RegisterKeys::sqlite())
        .write(&dir.join("alfa-calltouch.toml"));
}

async fn binary(dir: &Path, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_alfa-calltouch"))
        .arg("--config")
        .arg(dir.join("alfa-calltouch.toml"))
        .args(args)
        .output()
        .await
        .expect("the binary runs")
}

for_both_presets!(
    discover_then_run_creates_deals,
    import_structure_then_run_creates_deals
);

async fn discover_then_run_creates_deals(preset: Preset) {
    map_then_run_creates_deals(preset, MapRoute::Discover).await
}

async fn import_structure_then_run_creates_deals(preset: Preset) {
    map_then_run_creates_deals(preset, MapRoute::ImportStructure).await
}

enum MapRoute {
    Discover,
    ImportStructure,
}

/// On a base laid out with the real 6.1 / 5.1 types, the map written by `discover` or
/// `import-structure` is the one `run` uses as is: every live document gets its deal, with the
/// status of the default tables.
async fn map_then_run_creates_deals(preset: Preset, route: MapRoute) {
    let (fixture, _, database) = generated(preset).await;
    let emulator = Emulator::start("4242", "discover-token").await.unwrap();
    let dir = std::env::temp_dir().join(format!("alfa-discover-{database}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    write_config(
        &dir,
        &database,
        &emulator,
        preset,
        &fixture.spec().first_day.to_string(),
    );

    let mapped = match route {
        MapRoute::Discover => binary(&dir, &["discover"]).await,
        MapRoute::ImportStructure => {
            let export = dir.join("structure.json");
            std::fs::write(&export, fixture.storage_structure_json()).unwrap();
            binary(&dir, &["import-structure", export.to_str().unwrap()]).await
        }
    };
    let stderr = String::from_utf8_lossy(&mapped.stderr);
    assert_eq!(mapped.status.code(), Some(0), "mapping: {stderr}");
    let written = NameMap::load(&dir.join("namemap.toml")).unwrap();
    assert_eq!(written.to_toml(), expected_map(&fixture).to_toml());

    let run = binary(&dir, &["run"]).await;
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "run: {stderr}");
    let deals = emulator.deals();
    let truth: Vec<DocumentSnapshot> = fixture
        .documents()
        .iter()
        .filter_map(|d| fixture.expected(d.reference))
        .filter(|d| !d.deletion_mark)
        .collect();
    let statuses = StatusConfig::default();
    for doc in &truth {
        let number = match (&doc.booking, doc.kind) {
            (Some(b), _) => format!("ЗР-{}", b.number),
            (None, DocKind::Booking) => format!("ЗР-{}", doc.number),
            (None, DocKind::WorkOrder) => format!("ЗН-{}", doc.number),
        };
        let deal = deals
            .get(&number)
            .unwrap_or_else(|| panic!("no deal {number} for {}; run said: {stderr}", doc.label()));
        let taken_over = truth.iter().any(|w| {
            w.booking
                .as_ref()
                .is_some_and(|b| b.reference == doc.reference)
        });
        if doc.booking.is_none() && !taken_over {
            let state = doc.state.as_deref().unwrap_or_default();
            assert_eq!(
                deal.get("status").and_then(|s| s.as_str()),
                statuses.map(doc.kind, state),
                "{}",
                doc.label()
            );
        }
    }
    emulator.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn discover_names_what_it_cannot_find_and_exits_non_zero() {
    let (fixture, _, database) = generated(Preset::Alfa5).await;
    let table = fixture
        .name_map()
        .table("РегистрСведений.ЖурналСостояний")
        .unwrap();
    fixture
        .client()
        .batch_execute(&format!("DROP TABLE {table}"))
        .await
        .unwrap();
    let emulator = Emulator::start("4242", "discover-token").await.unwrap();
    let dir = std::env::temp_dir().join(format!("alfa-discover-{database}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    write_config(&dir, &database, &emulator, Preset::Alfa5, "2026-01-01");
    let output = binary(&dir, &["discover"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "РегистрСведений.ЖурналСостояний: table {table} is not in the database"
        )),
        "{stderr}"
    );
    assert!(
        !dir.join("namemap.toml").exists(),
        "an incomplete map must not pose as the map"
    );
    assert!(dir.join("namemap.toml.incomplete").exists());
    emulator.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
