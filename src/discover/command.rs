//! The `discover` and `import-structure` commands: connect read-only, build the name map of the
//! configured preset, check it against the live database, write it, and name what is missing.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::postgres::PgMetadata;
use super::storage::{Storage, Unresolved};
use super::{live, read_metadata, structure};
use crate::cli::exit;
use crate::config::{Config, Preset, SourceKind};
use crate::source::namemap::NameMap;
use crate::source::postgres::{check_name_map, connection_config, required_entries};

/// `discover`: the name map from the database's own metadata.
pub async fn discover(config: &Config, output: Option<&Path>) -> Result<u8> {
    let db = connect(config).await?;
    let required = required_entries(config.source.preset);
    let storage = read_metadata(&db, &required).await?;
    finish(config, output, "the 1C metadata", storage, &db).await
}

/// `import-structure`: the name map from an exported storage structure.
pub async fn import_structure(config: &Config, file: &Path, output: Option<&Path>) -> Result<u8> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let storage = structure::read(&text)?;
    let db = connect(config).await?;
    let origin = file.display().to_string();
    finish(config, output, &origin, storage, &db).await
}

async fn connect(config: &Config) -> Result<PgMetadata> {
    if config.source.kind != SourceKind::Postgres {
        bail!(
            "discovery reads PostgreSQL bases only in this build; use source.kind = \"postgres\""
        );
    }
    let password = config.database_password()?;
    let pg = connection_config(&config.source, &password)?;
    Ok(PgMetadata::connect(pg).await?)
}

/// Checks against the live schema, keeps what the preset uses, writes the map and reports.
async fn finish(
    config: &Config,
    output: Option<&Path>,
    origin: &str,
    mut storage: Storage,
    db: &PgMetadata,
) -> Result<u8> {
    live::check(&mut storage, db).await?;
    let preset = config.source.preset;
    let (map, missing) = storage.select(&required_entries(preset));
    let path = output.map_or_else(|| config.name_map_path(), Path::to_path_buf);
    if missing.is_empty() {
        check_name_map(preset, &map)?;
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
