//! One MS SQL connection of the source: connecting within the timeouts, the session's isolation
//! level, timed queries, and the base's year offset.

use std::future::Future;
use std::time::Duration;

use tiberius::ToSql;

use super::{DATABASE_STATE_SQL, YEAR_OFFSET_SQL, YEAR_OFFSET_TABLE_SQL};
use crate::db::mssql::{MssqlRow, MssqlTarget, TdsClient};
use crate::source::SourceError;

/// How to (re)connect, and the limits of one connection.
pub(super) struct Connector {
    pub(super) target: MssqlTarget,
    pub(super) query_timeout: Duration,
}

impl Connector {
    /// Connects within the connect timeout; then sets the session's isolation.
    pub(super) async fn connect(&self) -> Result<TdsClient, SourceError> {
        let mut client = self.target.connect().await?;
        let isolation = self.read_isolation(&mut client).await?;
        let lock_timeout_ms = self.query_timeout.as_millis();
        let setup = format!(
            "SET TRANSACTION ISOLATION LEVEL {isolation}; SET LOCK_TIMEOUT {lock_timeout_ms}"
        );
        let run = async { client.simple_query(setup).await?.into_results().await };
        self.timed("session setup", run).await?;
        Ok(client)
    }

    /// The isolation level readers should use in this database, with a warning when reads
    /// can wait for 1C's locks.
    async fn read_isolation(&self, client: &mut TdsClient) -> Result<&'static str, SourceError> {
        let rows = self
            .query(client, "database state", DATABASE_STATE_SQL, &[])
            .await?;
        let row = rows.first().ok_or_else(|| SourceError::Query {
            query: "database state".to_string(),
            message: "the current database is not in sys.databases".to_string(),
        })?;
        let rcsi = row.integer("read_committed_snapshot").ok().flatten() == Some(1);
        let snapshot = row.integer("snapshot_isolation").ok().flatten() == Some(1);
        Ok(choose_isolation(rcsi, snapshot))
    }

    /// Runs one statement within the query timeout; all rows of its first result.
    pub(super) async fn query(
        &self,
        client: &mut TdsClient,
        name: &str,
        sql: &str,
        params: &[&dyn ToSql],
    ) -> Result<Vec<MssqlRow>, SourceError> {
        let run = async {
            let stream = client.query(sql, params).await?;
            stream.into_first_result().await
        };
        let rows = self.timed(name, run).await?;
        Ok(rows.into_iter().map(MssqlRow::from_row).collect())
    }

    async fn timed<T>(
        &self,
        name: &str,
        run: impl Future<Output = tiberius::Result<T>>,
    ) -> Result<T, SourceError> {
        match tokio::time::timeout(self.query_timeout, run).await {
            Ok(result) => result.map_err(|e| SourceError::Query {
                query: name.to_string(),
                message: e.to_string(),
            }),
            Err(_) => Err(SourceError::Query {
                query: name.to_string(),
                message: format!(
                    "no answer within {} s (source.query_timeout_secs)",
                    self.query_timeout.as_secs()
                ),
            }),
        }
    }
}

/// READ COMMITTED when the database versions rows for it (no shared locks); else SNAPSHOT when
/// allowed; else READ COMMITTED with locks, which is what 1C itself uses, with a warning.
pub(super) fn choose_isolation(
    read_committed_snapshot: bool,
    snapshot_allowed: bool,
) -> &'static str {
    if read_committed_snapshot {
        return "READ COMMITTED";
    }
    if snapshot_allowed {
        tracing::warn!(
            "READ_COMMITTED_SNAPSHOT is off in the 1C database; reading under SNAPSHOT isolation"
        );
        return "SNAPSHOT";
    }
    tracing::warn!(
        "READ_COMMITTED_SNAPSHOT is off in the 1C database: reads take shared locks and may wait for 1C writers (bounded by the query timeout); ask the DBA to turn it on"
    );
    "READ COMMITTED"
}

/// `_YearOffset.Offset`; a base without the table has no offset.
pub(super) async fn read_year_offset(
    connector: &Connector,
    client: &mut TdsClient,
) -> Result<i32, SourceError> {
    let present = connector
        .query(client, "year offset", YEAR_OFFSET_TABLE_SQL, &[])
        .await?;
    if present
        .first()
        .and_then(|r| r.integer("present").ok().flatten())
        != Some(1)
    {
        return Ok(0);
    }
    let rows = connector
        .query(client, "year offset", YEAR_OFFSET_SQL, &[])
        .await?;
    let offset = match rows.first() {
        Some(row) => row
            .integer("year_offset")
            .map_err(|message| SourceError::Query {
                query: "year offset".to_string(),
                message,
            })?,
        None => None,
    };
    Ok(offset.unwrap_or(0))
}
