//! The register on MS SQL Server (`[register] kind = "mssql"`): its T-SQL — the schema, the
//! versioned migration, the run lock and every statement of [`super::Register`] — rendered for
//! the configured schema. [`super::mssql_server`] runs it; the tests parse every statement as
//! T-SQL and check that no bare identifier is a T-SQL reserved word (every name is written
//! `[name]`: `checkpoint` is one); an ignored test runs the register on the server
//! `MSSQL_TEST_URL` names.
//!
//! T-SQL differs from the statements SQLite and PostgreSQL share in three ways that matter
//! here: upserts are `MERGE` instead of `ON CONFLICT` (every writer holds the run lock, so no
//! two upserts race), parameters are `@Pn`,
//! and `TOP (1)` replaces `LIMIT 1`. The run lock is `sp_getapplock` with a session owner
//! (`lock held` tells whether it was granted), released by the server when the session ends.

/// The newest schema version on MS SQL.
pub const SCHEMA_VERSION: i64 = 2;

/// One named statement, rendered for a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub name: &'static str,
    pub sql: String,
}

/// Each `CREATE` runs only when its `exists` query answered NULL, so a login an administrator
/// gave a ready schema needs no right on the database. `CREATE SCHEMA` is alone in its batch.
const SCHEMA_EXISTS: &str = "SELECT SCHEMA_ID(N'{schema}')";

const CREATE_SCHEMA: &str = "CREATE SCHEMA [{schema}]";

const SCHEMA_VERSION_EXISTS: &str = "SELECT OBJECT_ID(N'[{schema}].schema_version', N'U')";

const SCHEMA_VERSION_TABLE: &str = "CREATE TABLE [{schema}].[schema_version] (
    [version]     int NOT NULL PRIMARY KEY,
    [applied_at]  datetime2(0) NOT NULL DEFAULT SYSDATETIME()
)";

const CURRENT_VERSION: &str = "SELECT COALESCE(MAX([version]), 0) FROM [{schema}].[schema_version]";

const RECORD_VERSION: &str = "INSERT INTO [{schema}].[schema_version] ([version]) VALUES (@P1)";

/// Version 1: the tables, as on PostgreSQL.
const TABLES: &[&str] = &[
    "CREATE TABLE [{schema}].[documents] (
    [reference]      nvarchar(36) NOT NULL PRIMARY KEY,
    [kind]           nvarchar(16) NOT NULL,
    [number]         nvarchar(64) NOT NULL,
    [doc_date]       datetime2(0) NOT NULL,
    [order_number]   nvarchar(128) NULL,
    [state]          nvarchar(16) NOT NULL,
    [onec_state]     nvarchar(256) NULL,
    [state_seen_at]  datetime2(0) NULL,
    [last_status]    nvarchar(256) NULL,
    [last_revenue]   nvarchar(64) NULL,
    [last_manager]   nvarchar(256) NULL,
    [attempts]       int NOT NULL DEFAULT 0,
    [last_error]     nvarchar(max) NULL,
    [first_seen_at]  datetime2(0) NOT NULL,
    [updated_at]     datetime2(0) NOT NULL
)",
    "CREATE INDEX [documents_by_number] ON [{schema}].[documents] ([number])",
    "CREATE INDEX [documents_by_state] ON [{schema}].[documents] ([state])",
    "CREATE TABLE [{schema}].[deals] (
    [order_number]   nvarchar(128) NOT NULL PRIMARY KEY,
    [root_ref]       nvarchar(36) NOT NULL,
    [driver_ref]     nvarchar(36) NOT NULL,
    [driver_kind]    nvarchar(16) NOT NULL,
    [status]         nvarchar(256) NULL,
    [revenue]        nvarchar(64) NULL,
    [manager]        nvarchar(256) NULL,
    [calltouch_id]   bigint NULL,
    [created_at]     datetime2(0) NOT NULL,
    [updated_at]     datetime2(0) NOT NULL
)",
    "CREATE TABLE [{schema}].[checkpoints] (
    [source]         nvarchar(256) NOT NULL PRIMARY KEY,
    [checkpoint]     nvarchar(max) NULL,
    [since]          date NULL,
    [updated_at]     datetime2(0) NOT NULL
)",
    "CREATE TABLE [{schema}].[send_log] (
    [id]             bigint IDENTITY(1, 1) NOT NULL PRIMARY KEY,
    [at]             datetime2(0) NOT NULL,
    [endpoint]       nvarchar(16) NOT NULL,
    [order_number]   nvarchar(128) NOT NULL,
    [reference]      nvarchar(36) NOT NULL,
    [request]        nvarchar(max) NOT NULL,
    [outcome]        nvarchar(16) NOT NULL,
    [detail]         nvarchar(max) NULL
)",
    "CREATE TABLE [{schema}].[runs] (
    [id]             bigint IDENTITY(1, 1) NOT NULL PRIMARY KEY,
    [started_at]     datetime2(0) NOT NULL,
    [finished_at]    datetime2(0) NOT NULL,
    [outcome]        nvarchar(16) NOT NULL,
    [summary]        nvarchar(max) NOT NULL
)",
    "CREATE VIEW [{schema}].[register_view] AS
    SELECT CASE d.[kind] WHEN 'booking' THEN N'Заявка на ремонт'
                       WHEN 'work_order' THEN N'Заказ-наряд' ELSE d.[kind] END AS [document],
           d.[number] AS [number],
           d.[doc_date] AS [document_date],
           d.[order_number] AS [deal],
           d.[state] AS [state],
           d.[last_status] AS [last_status],
           d.[last_error] AS [last_error],
           d.[attempts] AS [attempts],
           d.[updated_at] AS [updated],
           d.[reference] AS [reference]
    FROM [{schema}].[documents] d",
];

/// Every statement of the register's operations, in the order of [`super::Register`].
const OPERATIONS: &[(&str, &str)] = &[
    (
        "lock run",
        "EXEC sp_getapplock @Resource = N'alfa-calltouch {schema}', @LockMode = 'Exclusive',
    @LockOwner = 'Session', @LockTimeout = 0",
    ),
    (
        "lock held",
        "SELECT APPLOCK_MODE('public', N'alfa-calltouch {schema}', 'Session')",
    ),
    (
        "probe write",
        "BEGIN TRANSACTION;
UPDATE [{schema}].[checkpoints] SET [source] = [source] WHERE 1 = 0;
ROLLBACK TRANSACTION",
    ),
    (
        "checkpoint",
        "SELECT [checkpoint], [since] FROM [{schema}].[checkpoints] WHERE [source] = @P1",
    ),
    (
        "save checkpoint",
        "MERGE [{schema}].[checkpoints] AS t
USING (SELECT @P1 AS [source]) AS s ON t.[source] = s.[source]
WHEN MATCHED THEN UPDATE SET [checkpoint] = @P2, [updated_at] = @P3
WHEN NOT MATCHED THEN INSERT ([source], [checkpoint], [since], [updated_at])
    VALUES (@P1, @P2, NULL, @P3);",
    ),
    (
        "reset checkpoint",
        "MERGE [{schema}].[checkpoints] AS t
USING (SELECT @P1 AS [source]) AS s ON t.[source] = s.[source]
WHEN MATCHED THEN UPDATE SET [checkpoint] = NULL, [since] = @P2, [updated_at] = @P3
WHEN NOT MATCHED THEN INSERT ([source], [checkpoint], [since], [updated_at])
    VALUES (@P1, NULL, @P2, @P3);",
    ),
    (
        "deal",
        "SELECT d.[order_number], d.[root_ref], d.[driver_ref], d.[driver_kind], d.[status], d.[revenue],
    d.[manager], driver.[doc_date], d.[account]
FROM [{schema}].[deals] d LEFT JOIN [{schema}].[documents] driver ON driver.[reference] = d.[driver_ref]
WHERE d.[order_number] = @P1",
    ),
    (
        "document",
        "SELECT [kind], [reference], [number], [doc_date], [order_number], [state], [onec_state], [last_status],
    [last_revenue], [last_manager], [attempts], [last_error], [updated_at]
FROM [{schema}].[documents] WHERE [reference] = @P1",
    ),
    (
        "state seen at",
        "SELECT [onec_state], [state_seen_at] FROM [{schema}].[documents] WHERE [reference] = @P1",
    ),
    (
        "upsert document",
        "MERGE [{schema}].[documents] AS t
USING (SELECT @P1 AS [reference]) AS s ON t.[reference] = s.[reference]
WHEN MATCHED THEN UPDATE SET [number] = @P3, [doc_date] = @P4,
    [order_number] = COALESCE(@P5, t.[order_number]), [onec_state] = @P6, [state_seen_at] = @P7
WHEN NOT MATCHED THEN INSERT ([reference], [kind], [number], [doc_date], [order_number], [state],
    [onec_state], [state_seen_at], [first_seen_at], [updated_at])
    VALUES (@P1, @P2, @P3, @P4, @P5, 'pending', @P6, @P7, @P8, @P8);",
    ),
    (
        "mark pending",
        "UPDATE [{schema}].[documents] SET [state] = 'pending', [last_error] = @P2,
    [attempts] = [attempts] + @P3, [updated_at] = @P4
WHERE [reference] = @P1",
    ),
    (
        "mark sent",
        "UPDATE [{schema}].[documents] SET [state] = 'sent', [attempts] = 0, [last_error] = NULL,
    [last_status] = @P2, [last_revenue] = @P3, [last_manager] = @P4, [updated_at] = @P5
WHERE [reference] = @P1",
    ),
    (
        "upsert deal",
        "MERGE [{schema}].[deals] AS t
USING (SELECT @P1 AS [order_number]) AS s ON t.[order_number] = s.[order_number]
WHEN MATCHED THEN UPDATE SET [driver_ref] = @P3, [driver_kind] = @P4, [status] = @P5,
    [revenue] = @P6, [manager] = @P7, [calltouch_id] = COALESCE(@P8, t.[calltouch_id]),
    [updated_at] = @P9
WHEN NOT MATCHED THEN INSERT ([order_number], [root_ref], [driver_ref], [driver_kind], [status],
    [revenue], [manager], [calltouch_id], [created_at], [updated_at], [account])
    VALUES (@P1, @P2, @P3, @P4, @P5, @P6, @P7, @P8, @P9, @P9, @P10);",
    ),
    (
        "mark settled",
        "UPDATE [{schema}].[documents] SET [state] = @P2, [attempts] = 0, [last_error] = @P3,
    [updated_at] = @P4
WHERE [reference] = @P1",
    ),
    (
        "record failed",
        "MERGE [{schema}].[documents] AS t
USING (SELECT @P1 AS [reference]) AS s ON t.[reference] = s.[reference]
WHEN MATCHED THEN UPDATE SET [state] = 'failed', [attempts] = t.[attempts] + 1, [last_error] = @P6,
    [order_number] = COALESCE(@P5, t.[order_number]), [updated_at] = @P7
WHEN NOT MATCHED THEN INSERT ([reference], [kind], [number], [doc_date], [order_number], [state],
    [attempts], [last_error], [first_seen_at], [updated_at])
    VALUES (@P1, @P2, @P3, @P4, @P5, 'failed', 1, @P6, @P7, @P7);",
    ),
    (
        "insert send log",
        "INSERT INTO [{schema}].[send_log] ([at], [endpoint], [order_number], [reference], [request],
    [outcome], [detail])
VALUES (@P1, @P2, @P3, @P4, @P5, @P6, @P7)",
    ),
    (
        "requeue",
        "UPDATE [{schema}].[documents] SET [state] = 'pending', [attempts] = 0,
    [last_error] = 're-queued by register retry', [updated_at] = @P2
WHERE [number] = @P1 AND [state] IN ('failed', 'pending')",
    ),
    (
        "list",
        "SELECT [kind], [reference], [number], [doc_date], [order_number], [state], [onec_state], [last_status],
    [last_revenue], [last_manager], [attempts], [last_error], [updated_at]
FROM [{schema}].[documents]
WHERE (@P1 IS NULL OR [state] = @P1) AND (@P2 IS NULL OR [kind] = @P2)
  AND (@P3 IS NULL OR [number] = @P3) AND (@P4 IS NULL OR [doc_date] >= @P4)
  AND (@P5 IS NULL OR [doc_date] < @P5)
  AND (@P6 = 0 OR ([last_error] IS NOT NULL AND [state] IN ('failed', 'pending')))
ORDER BY [updated_at] DESC, [number]",
    ),
    (
        "counts",
        "SELECT [state], COUNT_BIG(*) FROM [{schema}].[documents] GROUP BY [state] ORDER BY [state]",
    ),
    (
        "send log",
        "SELECT [endpoint], [order_number], [request], [outcome] FROM [{schema}].[send_log] ORDER BY [id]",
    ),
    (
        "prune send log",
        "DELETE FROM [{schema}].[send_log] WHERE [at] < @P1",
    ),
    (
        "record run",
        "INSERT INTO [{schema}].[runs] ([started_at], [finished_at], [outcome], [summary])
VALUES (@P1, @P2, @P3, @P4)",
    ),
    (
        "last run",
        "SELECT TOP (1) [started_at], [finished_at], [outcome], [summary] FROM [{schema}].[runs]
ORDER BY [id] DESC",
    ),
    // The status page's reads; columns are read by position.
    (
        "recent runs",
        "SELECT TOP (@P1) [started_at], [finished_at], [outcome], [summary]
FROM [{schema}].[runs] WHERE [outcome] <> 'running' ORDER BY [id] DESC",
    ),
    (
        "run durations",
        "SELECT [outcome], CAST(DATEDIFF(ss, [started_at], [finished_at]) AS bigint),
    COUNT_BIG(*)
FROM [{schema}].[runs]
WHERE [outcome] <> 'running'
GROUP BY [outcome], DATEDIFF(ss, [started_at], [finished_at])
ORDER BY 1, 2",
    ),
    (
        "last success",
        "SELECT MAX([finished_at]) FROM [{schema}].[runs] WHERE [outcome] NOT IN ('error', 'running')",
    ),
    (
        "document totals",
        "SELECT [kind], [state], CASE WHEN [last_error] IS NULL THEN 0 ELSE 1 END, COUNT_BIG(*)
FROM [{schema}].[documents]
GROUP BY [kind], [state], CASE WHEN [last_error] IS NULL THEN 0 ELSE 1 END
ORDER BY 1, 2, 3",
    ),
    (
        "send totals",
        "SELECT [endpoint], [outcome], COUNT_BIG(*) FROM [{schema}].[send_log]
GROUP BY [endpoint], [outcome] ORDER BY 1, 2",
    ),
    (
        "daily sends",
        "SELECT CAST([at] AS date), [endpoint], [outcome], COUNT_BIG(*)
FROM [{schema}].[send_log] WHERE [at] >= @P1
GROUP BY CAST([at] AS date), [endpoint], [outcome] ORDER BY 1, 2, 3",
    ),
    (
        "last answer",
        "SELECT TOP (1) [at], [endpoint], [outcome], [detail] FROM [{schema}].[send_log]
WHERE [reference] = @P1 ORDER BY [id] DESC",
    ),
];

fn render(template: &str, schema: &str) -> String {
    template.replace("{schema}", schema)
}

/// The schema and version bookkeeping, run before any migration.
pub fn bootstrap(schema: &str) -> Vec<Statement> {
    [
        ("schema exists", SCHEMA_EXISTS),
        ("create schema", CREATE_SCHEMA),
        ("schema version exists", SCHEMA_VERSION_EXISTS),
        ("schema version table", SCHEMA_VERSION_TABLE),
        ("current version", CURRENT_VERSION),
        ("record version", RECORD_VERSION),
    ]
    .into_iter()
    .map(|(name, sql)| Statement {
        name,
        sql: render(sql, schema),
    })
    .collect()
}

/// The statements of migration `version` (1-based), each its own batch.
pub fn migration(version: i64, schema: &str) -> Vec<Statement> {
    let steps: &[&str] = match version {
        1 => TABLES,
        // The Calltouch account of each deal (dealer groups); NULL = `[calltouch]`'s.
        2 => &["ALTER TABLE [{schema}].[deals] ADD [account] nvarchar(128) NULL"],
        _ => &[],
    };
    steps
        .iter()
        .map(|sql| Statement {
            name: "migration",
            sql: render(sql, schema),
        })
        .collect()
}

/// Every statement of the register's operations.
pub fn operations(schema: &str) -> Vec<Statement> {
    OPERATIONS
        .iter()
        .map(|(name, sql)| Statement {
            name,
            sql: render(sql, schema),
        })
        .collect()
}
