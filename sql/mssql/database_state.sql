-- How readers are isolated in this database: with READ_COMMITTED_SNAPSHOT on, READ COMMITTED
-- readers take no shared locks and never wait for 1C writers.
SELECT
    CAST(is_read_committed_snapshot_on AS int) AS read_committed_snapshot,
    CAST(snapshot_isolation_state AS int) AS snapshot_isolation
FROM sys.databases
WHERE name = DB_NAME()
