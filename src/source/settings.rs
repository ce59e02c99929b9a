//! What the 1C source needs to open, built from `[source]` by the config: which database kind
//! and Альфа-Авто edition, where the name map is, the database endpoint, the query timeout and
//! how changes are found. The source reads these and never the whole configuration.

use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

use super::window::ChangeDetection;
use crate::db::{ConnectError, Endpoint};

/// Which Альфа-Авто edition's layout the queries follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Preset {
    #[serde(rename = "alfa6")]
    Alfa6,
    #[serde(rename = "alfa5")]
    Alfa5,
}

impl Preset {
    pub fn code(self) -> &'static str {
        match self {
            Preset::Alfa6 => "alfa6",
            Preset::Alfa5 => "alfa5",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Postgres,
    Mssql,
}

/// What loading and checking the name map needs.
#[derive(Debug, Clone)]
pub struct NameMapSettings {
    pub kind: SourceKind,
    pub preset: Preset,
    /// The name map file, resolved against the config file's folder.
    pub path: PathBuf,
}

/// What opening the source needs.
#[derive(Debug, Clone)]
pub struct SourceSettings {
    pub name_map: NameMapSettings,
    /// The database, or why its settings are unusable (a password that cannot be read): reported
    /// when the source opens, after the name map, as before the settings had a type of their own.
    pub endpoint: Result<Endpoint, ConnectError>,
    pub query_timeout: Duration,
    pub detection: ChangeDetection,
}
