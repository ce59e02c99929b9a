-- The read's position, taken inside the reading transaction: its snapshot (the next
-- checkpoint), the server's local time, and whether the previous checkpoint $1 can come from
-- this server (its xmax is not ahead of ours; otherwise the database was replaced or restored).
SELECT
    pg_current_snapshot()::text AS snapshot,
    LOCALTIMESTAMP AS read_at,
    ($1::text IS NULL OR pg_snapshot_xmax($1::text::pg_snapshot) <= pg_snapshot_xmax(pg_current_snapshot())) AS checkpoint_fits
