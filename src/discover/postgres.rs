//! The metadata and live schema of a 1C database on PostgreSQL. The session is opened with
//! `default_transaction_read_only = on`, and only SELECTs are sent.

use std::collections::BTreeMap;

use tokio_postgres::Client;

use super::live::{LiveColumn, LiveDatabase, LiveSchema};
use super::{DiscoverError, MetadataStore};
use crate::db::postgres::PgTarget;
use crate::db::Role;
use crate::source::namemap::Dialect;

/// `Config` files asked for in one query.
const FILES_PER_QUERY: usize = 500;

pub struct PgMetadata {
    client: Client,
}

fn database_error(what: &str, error: tokio_postgres::Error) -> DiscoverError {
    let message = match error.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => error.to_string(),
    };
    DiscoverError::Database(format!("{what}: {message}"))
}

impl PgMetadata {
    /// Connects read-only.
    pub async fn connect(mut target: PgTarget) -> Result<PgMetadata, DiscoverError> {
        target
            .config_mut()
            .options("-c default_transaction_read_only=on");
        let client = target
            .connect()
            .await
            .map_err(|e| DiscoverError::Database(e.to_string()))?;
        Ok(PgMetadata { client })
    }

    /// Connects with a libpq-style connection string (tests).
    pub async fn from_connection_string(connection: &str) -> Result<PgMetadata, DiscoverError> {
        let pg = connection
            .parse()
            .map_err(|e| DiscoverError::Database(format!("bad connection string: {e}")))?;
        PgMetadata::connect(PgTarget::plain(Role::Source, pg)).await
    }
}

impl MetadataStore for PgMetadata {
    async fn params_file(&self, name: &str) -> Result<Vec<Vec<u8>>, DiscoverError> {
        let rows = self
            .client
            .query(
                "SELECT binarydata FROM params WHERE rtrim(filename::text) = $1 ORDER BY partno",
                &[&name],
            )
            .await
            .map_err(|e| database_error("Params", e))?;
        rows.iter()
            .map(|row| row.try_get(0).map_err(|e| database_error("Params", e)))
            .collect()
    }

    async fn config_files(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, Vec<Vec<u8>>>, DiscoverError> {
        let mut files: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
        for chunk in names.chunks(FILES_PER_QUERY) {
            let lower: Vec<String> = chunk.iter().map(|n| n.to_ascii_lowercase()).collect();
            let rows = self
                .client
                .query(
                    "SELECT lower(rtrim(filename::text)), binarydata FROM config \
                     WHERE lower(rtrim(filename::text)) = ANY($1) ORDER BY 1, partno",
                    &[&lower],
                )
                .await
                .map_err(|e| database_error("Config", e))?;
            for row in rows {
                let name: String = row.try_get(0).map_err(|e| database_error("Config", e))?;
                let part: Vec<u8> = row.try_get(1).map_err(|e| database_error("Config", e))?;
                files.entry(name).or_default().push(part);
            }
        }
        Ok(files)
    }
}

impl LiveDatabase for PgMetadata {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn schema(&self) -> Result<LiveSchema, DiscoverError> {
        let rows = self
            .client
            .query(
                "SELECT table_name::text, column_name::text, data_type::text, udt_name::text, \
                        domain_name::text \
                 FROM information_schema.columns WHERE table_schema = current_schema()",
                &[],
            )
            .await
            .map_err(|e| database_error("information_schema.columns", e))?;
        let mut schema = LiveSchema::default();
        for row in rows {
            let get = |i: usize| -> Result<Option<String>, DiscoverError> {
                row.try_get(i)
                    .map_err(|e| database_error("information_schema.columns", e))
            };
            let (Some(table), Some(column)) = (get(0)?, get(1)?) else {
                continue;
            };
            let data_type = get(2)?.unwrap_or_default();
            let udt_name = get(3)?.unwrap_or_default();
            let domain_name = get(4)?;
            let shown = domain_name.as_deref().unwrap_or(&udt_name);
            let mut names = vec![data_type.as_str(), udt_name.as_str()];
            names.extend(domain_name.as_deref());
            schema.insert(&table, LiveColumn::postgres(&column, shown, &names));
        }
        Ok(schema)
    }

    async fn enum_orders(&self, table: &str) -> Result<Vec<(Vec<u8>, i64)>, DiscoverError> {
        // `table` is a checked identifier (see `live::order_enums`).
        let sql = format!("SELECT _idrref, _enumorder::bigint FROM {table}");
        let rows = self
            .client
            .query(&sql, &[])
            .await
            .map_err(|e| database_error(table, e))?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get(0).map_err(|e| database_error(table, e))?,
                    row.try_get(1).map_err(|e| database_error(table, e))?,
                ))
            })
            .collect()
    }
}
