-- The table that records which migrations a register schema has had.
CREATE TABLE schema_version (
    version     integer PRIMARY KEY,
    applied_at  timestamp(0) NOT NULL DEFAULT LOCALTIMESTAMP
)
