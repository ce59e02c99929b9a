//! What opening the register needs, built from `[register]` by the config: the backend, and
//! its file or its server and schema. The register reads these and never the whole
//! configuration.

use serde::Deserialize;
use std::path::PathBuf;

use crate::db::{ConnectError, Endpoint};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RegisterKind {
    /// An embedded SQLite file at `path`.
    #[default]
    Sqlite,
    /// A schema of its own on a PostgreSQL server.
    Postgres,
    /// A schema of its own on an MS SQL Server.
    Mssql,
}

/// Where the register lives.
#[derive(Debug, Clone)]
pub enum RegisterSettings {
    /// The SQLite file, resolved against the config file's folder.
    Sqlite { path: PathBuf },
    /// A schema on a PostgreSQL server; the endpoint, or why its settings are unusable.
    Postgres {
        endpoint: Result<Endpoint, ConnectError>,
        schema: String,
    },
    /// A schema on an MS SQL Server, as for PostgreSQL.
    Mssql {
        endpoint: Result<Endpoint, ConnectError>,
        schema: String,
    },
}
