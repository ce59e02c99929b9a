//! The metadata and live schema of a 1C database on MS SQL Server: the same `Params`
//! (`DBNames`) and `Config` files as on PostgreSQL, in tables of the same names (`FileName`,
//! `PartNo`, `BinaryData` as `image` / `varbinary(max)`), and the live schema from
//! `INFORMATION_SCHEMA.COLUMNS`. Only SELECTs are sent; every identifier is quoted with `[]`.
//!
//! The statements and the decoding of their rows are plain functions of tiberius values
//! ([`MssqlRow`]), so they are tested without a server; [`MssqlMetadata`] only runs them.

use std::collections::BTreeMap;
use std::time::Duration;

use tiberius::ToSql;
use tokio::sync::Mutex;

use super::live::{LiveColumn, LiveDatabase, LiveSchema};
use super::{DiscoverError, MetadataStore};
use crate::config::Config;
use crate::db::mssql::{MssqlRow, MssqlTarget, TdsClient};
use crate::db::{Endpoint, Role};
use crate::source::namemap::Dialect;

/// `Config` files asked for in one query (SQL Server takes at most 2100 parameters).
const FILES_PER_QUERY: usize = 500;

/// The parts of one `Params` file (`@P1` = its name), in `PartNo` order.
pub const PARAMS_SQL: &str = "SELECT [BinaryData] AS [binary_data] FROM [dbo].[Params] \
     WHERE [FileName] = @P1 ORDER BY [PartNo]";

/// The parts of the `Config` files named by `@P1` … `@P{count}`, by file then `PartNo`. File
/// names are compared as stored: 1C writes them in lower case, and its bases use
/// case-insensitive collations, so the primary key serves the lookup.
pub fn config_sql(count: usize) -> String {
    format!(
        "SELECT LOWER([FileName]) AS [file_name], [BinaryData] AS [binary_data] \
         FROM [dbo].[Config] WHERE [FileName] IN ({}) ORDER BY [FileName], [PartNo]",
        parameter_list(count)
    )
}

/// The columns of the `dbo` tables (1C keeps every table there); with `tables`, of the tables
/// named by `@P1` … `@P{tables}` only.
pub fn columns_sql(tables: Option<usize>) -> String {
    let only = tables.map_or_else(String::new, |count| {
        format!(" AND [TABLE_NAME] IN ({})", parameter_list(count))
    });
    format!(
        "SELECT [TABLE_NAME] AS [table_name], [COLUMN_NAME] AS [column_name], \
         [DATA_TYPE] AS [data_type], [CHARACTER_MAXIMUM_LENGTH] AS [max_length] \
         FROM [INFORMATION_SCHEMA].[COLUMNS] WHERE [TABLE_SCHEMA] = N'dbo'{only}"
    )
}

/// Every row of an enum table (`table` is a checked identifier).
pub fn enum_order_sql(table: &str) -> String {
    format!(
        "SELECT [_IDRRef] AS [reference], CONVERT(int, [_EnumOrder]) AS [enum_order] \
         FROM [dbo].[{table}]"
    )
}

fn parameter_list(count: usize) -> String {
    (1..=count.max(1))
        .map(|n| format!("@P{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every statement discovery sends, by name, for a reviewer or a test to read.
pub fn statements() -> Vec<(&'static str, String)> {
    vec![
        ("Params file", PARAMS_SQL.to_string()),
        ("Config files", config_sql(3)),
        ("live schema", columns_sql(None)),
        ("live schema of the mapped tables", columns_sql(Some(2))),
        ("enum order", enum_order_sql("_Enum123")),
    ]
}

fn bad_row(what: &str, reason: String) -> DiscoverError {
    DiscoverError::Database(format!("{what}: {reason}"))
}

/// The `BinaryData` parts of a `Params` file, as [`PARAMS_SQL`] returns them.
pub fn params_parts(rows: &[MssqlRow]) -> Result<Vec<Vec<u8>>, DiscoverError> {
    rows.iter()
        .map(|row| {
            row.bytes("binary_data")
                .map_err(|e| bad_row("Params", e))?
                .ok_or_else(|| bad_row("Params", "BinaryData is NULL".to_string()))
        })
        .collect()
}

/// The parts of `Config` files by lower-case name, as [`config_sql`] returns them.
pub fn config_parts(rows: &[MssqlRow]) -> Result<BTreeMap<String, Vec<Vec<u8>>>, DiscoverError> {
    let mut files: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for row in rows {
        let name = row
            .text("file_name")
            .map_err(|e| bad_row("Config", e))?
            .ok_or_else(|| bad_row("Config", "FileName is NULL".to_string()))?;
        let part = row
            .bytes("binary_data")
            .map_err(|e| bad_row("Config", e))?
            .ok_or_else(|| bad_row("Config", format!("BinaryData of {name} is NULL")))?;
        files
            .entry(name.trim_end().to_ascii_lowercase())
            .or_default()
            .push(part);
    }
    Ok(files)
}

/// The live schema from the rows of [`columns_sql`].
pub fn live_schema(rows: &[MssqlRow]) -> Result<LiveSchema, DiscoverError> {
    let what = "INFORMATION_SCHEMA.COLUMNS";
    let mut schema = LiveSchema::default();
    for row in rows {
        let text = |column: &str| row.text(column).map_err(|e| bad_row(what, e));
        let (Some(table), Some(column), Some(data_type)) = (
            text("table_name")?,
            text("column_name")?,
            text("data_type")?,
        ) else {
            continue;
        };
        let max_length = row.integer("max_length").map_err(|e| bad_row(what, e))?;
        schema.insert(&table, LiveColumn::mssql(&column, &data_type, max_length));
    }
    Ok(schema)
}

/// `(_IDRRef, _EnumOrder)` from the rows of [`enum_order_sql`].
pub fn enum_orders(table: &str, rows: &[MssqlRow]) -> Result<Vec<(Vec<u8>, i64)>, DiscoverError> {
    rows.iter()
        .map(|row| {
            let reference = row.bytes("reference").map_err(|e| bad_row(table, e))?;
            let order = row.integer("enum_order").map_err(|e| bad_row(table, e))?;
            match (reference, order) {
                (Some(reference), Some(order)) => Ok((reference, i64::from(order))),
                _ => Err(bad_row(table, "_IDRRef or _EnumOrder is NULL".to_string())),
            }
        })
        .collect()
}

/// A read-only connection to a 1C database on MS SQL Server.
pub struct MssqlMetadata {
    /// tiberius needs `&mut` per query; the traits read through `&self`.
    client: Mutex<TdsClient>,
    query_timeout: Duration,
}

impl MssqlMetadata {
    /// Connects with the `[source]` settings through the database layer.
    pub async fn connect(config: &Config) -> Result<MssqlMetadata, DiscoverError> {
        let target = Endpoint::source(config)
            .and_then(|e| MssqlTarget::new(&e, "alfa-calltouch discover"))
            .map_err(|e| DiscoverError::Database(e.to_string()))?;
        let query_timeout = Duration::from_secs(config.source.query_timeout_secs);
        MssqlMetadata::open(target, query_timeout).await
    }

    /// Connects with an ADO.NET connection string (tests).
    pub async fn from_ado_string(connection: &str) -> Result<MssqlMetadata, DiscoverError> {
        let target =
            MssqlTarget::from_ado_string(Role::Source, connection, Duration::from_secs(30))
                .map_err(|e| DiscoverError::Database(e.to_string()))?;
        MssqlMetadata::open(target, Duration::from_secs(300)).await
    }

    /// Connects through a prepared target (the caller reports a refused connection itself).
    pub async fn open(
        target: MssqlTarget,
        query_timeout: Duration,
    ) -> Result<MssqlMetadata, DiscoverError> {
        let client = target
            .connect()
            .await
            .map_err(|e| DiscoverError::Database(e.to_string()))?;
        Ok(MssqlMetadata {
            client: Mutex::new(client),
            query_timeout,
        })
    }

    /// All rows of the first result of one statement, within the query timeout.
    pub async fn rows(
        &self,
        what: &str,
        sql: &str,
        params: &[&dyn ToSql],
    ) -> Result<Vec<MssqlRow>, DiscoverError> {
        let mut client = self.client.lock().await;
        let run = async {
            let stream = client.query(sql, params).await?;
            stream.into_first_result().await
        };
        match tokio::time::timeout(self.query_timeout, run).await {
            Ok(Ok(rows)) => Ok(rows.into_iter().map(MssqlRow::from_row).collect()),
            Ok(Err(error)) => Err(bad_row(what, error.to_string())),
            Err(_) => Err(bad_row(
                what,
                format!(
                    "no answer within {} s (source.query_timeout_secs)",
                    self.query_timeout.as_secs()
                ),
            )),
        }
    }

    /// The columns of the named tables only (what `check` compares the name map with).
    pub async fn tables_schema(&self, tables: &[String]) -> Result<LiveSchema, DiscoverError> {
        let mut schema = LiveSchema::default();
        for chunk in tables.chunks(FILES_PER_QUERY) {
            let params: Vec<&dyn ToSql> = chunk.iter().map(|t| t as &dyn ToSql).collect();
            let sql = columns_sql(Some(chunk.len()));
            let rows = self
                .rows("INFORMATION_SCHEMA.COLUMNS", &sql, &params)
                .await?;
            for (name, table) in live_schema(&rows)?.tables {
                schema.tables.insert(name, table);
            }
        }
        Ok(schema)
    }
}

impl MetadataStore for MssqlMetadata {
    async fn params_file(&self, name: &str) -> Result<Vec<Vec<u8>>, DiscoverError> {
        let rows = self.rows("Params", PARAMS_SQL, &[&name]).await?;
        params_parts(&rows)
    }

    async fn config_files(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, Vec<Vec<u8>>>, DiscoverError> {
        let mut files = BTreeMap::new();
        for chunk in names.chunks(FILES_PER_QUERY) {
            let lower: Vec<String> = chunk.iter().map(|n| n.to_ascii_lowercase()).collect();
            let params: Vec<&dyn ToSql> = lower.iter().map(|n| n as &dyn ToSql).collect();
            let rows = self
                .rows("Config", &config_sql(lower.len()), &params)
                .await?;
            files.extend(config_parts(&rows)?);
        }
        Ok(files)
    }
}

impl LiveDatabase for MssqlMetadata {
    fn dialect(&self) -> Dialect {
        Dialect::MsSql
    }

    async fn schema(&self) -> Result<LiveSchema, DiscoverError> {
        let rows = self
            .rows("INFORMATION_SCHEMA.COLUMNS", &columns_sql(None), &[])
            .await?;
        live_schema(&rows)
    }

    async fn enum_orders(&self, table: &str) -> Result<Vec<(Vec<u8>, i64)>, DiscoverError> {
        // `table` is a checked identifier (see `live::order_enums`).
        let rows = self.rows(table, &enum_order_sql(table), &[]).await?;
        enum_orders(table, &rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiberius::ColumnData;

    fn text(value: &str) -> ColumnData<'static> {
        ColumnData::String(Some(value.to_string().into()))
    }

    #[test]
    fn rows_decode_into_parts_schema_and_enum_orders() {
        let part = |name: &str, bytes: &[u8]| {
            MssqlRow::new(vec![
                ("file_name", text(name)),
                (
                    "binary_data",
                    ColumnData::Binary(Some(bytes.to_vec().into())),
                ),
            ])
        };
        let files =
            config_parts(&[part("root", b"a"), part("root", b"b"), part("X", b"c")]).unwrap();
        assert_eq!(files["root"], vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(files["x"], vec![b"c".to_vec()]);
        let null = MssqlRow::new(vec![("binary_data", ColumnData::Binary(None))]);
        assert!(params_parts(&[null]).is_err());

        let column = |table: &str, name: &str, data_type: &str, length: Option<i32>| {
            MssqlRow::new(vec![
                ("table_name", text(table)),
                ("column_name", text(name)),
                ("data_type", text(data_type)),
                ("max_length", ColumnData::I32(length)),
            ])
        };
        let schema = live_schema(&[
            column("_Document7", "_IDRRef", "binary", Some(16)),
            column("_Document7", "_Fld8", "numeric", None),
        ])
        .unwrap();
        let table = schema.table("_document7").unwrap();
        assert_eq!(table.name, "_Document7");
        assert_eq!(table.column("_idrref").unwrap().type_name, "binary(16)");

        let order = MssqlRow::new(vec![
            ("reference", ColumnData::Binary(Some(vec![1; 16].into()))),
            ("enum_order", ColumnData::I32(Some(2))),
        ]);
        assert_eq!(
            enum_orders("_Enum1", &[order]).unwrap(),
            vec![(vec![1; 16], 2)]
        );
    }

    #[test]
    fn parameter_lists_match_the_values_bound() {
        assert!(config_sql(3).contains("IN (@P1, @P2, @P3)"));
        assert!(columns_sql(Some(1)).ends_with("AND [TABLE_NAME] IN (@P1)"));
        assert!(!columns_sql(None).contains("@P"));
    }
}
