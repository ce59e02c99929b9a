-- The register's tables in an SQLite file. Version 1; `PRAGMA user_version` records it.
CREATE TABLE documents (
    reference      TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    number         TEXT NOT NULL,
    doc_date       TEXT NOT NULL,
    order_number   TEXT,
    state          TEXT NOT NULL,
    onec_state     TEXT,
    state_seen_at  TEXT,
    last_status    TEXT,
    last_revenue   TEXT,
    last_manager   TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    first_seen_at  TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX documents_by_number ON documents (number);
CREATE INDEX documents_by_state ON documents (state);
CREATE TABLE deals (
    order_number   TEXT PRIMARY KEY,
    root_ref       TEXT NOT NULL,
    driver_ref     TEXT NOT NULL,
    driver_kind    TEXT NOT NULL,
    status         TEXT,
    revenue        TEXT,
    manager        TEXT,
    calltouch_id   INTEGER,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE TABLE checkpoints (
    source         TEXT PRIMARY KEY,
    checkpoint     TEXT,
    since          TEXT,
    updated_at     TEXT NOT NULL
);
CREATE TABLE send_log (
    id             INTEGER PRIMARY KEY,
    at             TEXT NOT NULL,
    endpoint       TEXT NOT NULL,
    order_number   TEXT NOT NULL,
    reference      TEXT NOT NULL,
    request        TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    detail         TEXT
);
CREATE TABLE runs (
    id             INTEGER PRIMARY KEY,
    started_at     TEXT NOT NULL,
    finished_at    TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    summary        TEXT NOT NULL
);
