//! The `discover` and `import-structure` commands: connect read-only (PostgreSQL or MS SQL),
//! build the name map of the configured preset, check it against the live database, write it,
//! and name what is missing.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::live::LiveDatabase;
use super::mssql::MssqlMetadata;
use super::postgres::PgMetadata;
use super::storage::{Storage, Unresolved};
use super::{live, read_metadata, structure, MetadataStore};
use crate::config::Config;
use crate::db::postgres::PgTarget;
use crate::db::Endpoint;
use crate::ops::exit;
use crate::source::namemap::NameMap;
use crate::source::settings::Preset;
use crate::source::settings::SourceKind;
use crate::source::{mssql, postgres};

/// `discover`: the name map from the database's own metadata.
pub async fn discover(config: &Config, output: Option<&Path>) -> Result<u8> {
    match config.source.kind {
        SourceKind::Postgres => {
            discover_from(config, output, &connect_postgres(config).await?).await
        }
        SourceKind::Mssql => discover_from(config, output, &connect_mssql(config).await?).await,
    }
}

async fn discover_from(
    config: &Config,
    output: Option<&Path>,
    db: &(impl MetadataStore + LiveDatabase),
) -> Result<u8> {
    let required = required_entries(config);
    let storage = read_metadata(db, &required).await?;
    finish(config, output, "the 1C metadata", storage, db).await
}

/// `import-structure`: the name map from an exported storage structure.
pub async fn import_structure(config: &Config, file: &Path, output: Option<&Path>) -> Result<u8> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let storage = structure::read(&text)?;
    let origin = file.display().to_string();
    match config.source.kind {
        SourceKind::Postgres => {
            let db = connect_postgres(config).await?;
            finish(config, output, &origin, storage, &db).await
        }
        SourceKind::Mssql => {
            let db = connect_mssql(config).await?;
            finish(config, output, &origin, storage, &db).await
        }
    }
}

async fn connect_postgres(config: &Config) -> Result<PgMetadata> {
    let target = PgTarget::new(&Endpoint::source(config)?, "alfa-calltouch discover")?;
    Ok(PgMetadata::connect(target).await?)
}

async fn connect_mssql(config: &Config) -> Result<MssqlMetadata> {
    Ok(MssqlMetadata::connect(config).await?)
}

/// Checks against the live schema, keeps what the preset uses, writes the map and reports.
async fn finish(
    config: &Config,
    output: Option<&Path>,
    origin: &str,
    mut storage: Storage,
    db: &impl LiveDatabase,
) -> Result<u8> {
    live::check(&mut storage, db).await?;
    let preset = config.source.preset;
    let (map, missing) = storage.select(&required_entries(config));
    let path = output.map_or_else(|| config.name_map_path(), Path::to_path_buf);
    if missing.is_empty() {
        check_name_map(config, &map)?;
        write_map(&path, &map, preset, origin)?;
        crate::outln!(
            "ok  name map {} written from {origin}: every entry the {} queries use, checked against the database",
            path.display(),
            preset.code()
        )?;
        return Ok(exit::OK);
    }
    let partial = PathBuf::from(format!("{}.incomplete", path.display()));
    write_map(&partial, &map, preset, origin)?;
    report_missing(&missing, &partial);
    Ok(exit::CONFIG)
}

/// Every entry the configured database's queries use.
fn required_entries(config: &Config) -> Vec<String> {
    let preset = config.source.preset;
    match config.source.kind {
        SourceKind::Postgres => postgres::required_entries(preset),
        SourceKind::Mssql => mssql::required_entries(preset),
    }
}

/// The map holds every entry the configured database's queries use, spelled for it.
fn check_name_map(config: &Config, map: &NameMap) -> Result<()> {
    let preset = config.source.preset;
    match config.source.kind {
        SourceKind::Postgres => postgres::check_name_map(preset, map)?,
        SourceKind::Mssql => mssql::check_name_map(preset, map)?,
    }
    Ok(())
}

fn write_map(path: &Path, map: &NameMap, preset: Preset, origin: &str) -> Result<()> {
    let header = format!(
        "# Name map for preset {}, built from {origin} and checked against the live schema.\n\
         # Re-run after every configuration update.\n\n",
        preset.code()
    );
    std::fs::write(path, header + &map.to_toml())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn report_missing(missing: &[Unresolved], partial: &Path) {
    eprintln!("these 1C names could not be resolved:");
    for entry in missing {
        eprintln!("  {entry}");
    }
    eprintln!(
        "the entries found are in {}; add the missing ones by hand or fix the cause, then rename it",
        partial.display()
    );
}
