-- The register's tables on PostgreSQL, created in the register's own schema (search_path).
-- Version 1; `schema_version` records it.
CREATE TABLE documents (
    reference      text PRIMARY KEY,
    kind           text NOT NULL,
    number         text NOT NULL,
    doc_date       timestamp(0) NOT NULL,
    order_number   text,
    state          text NOT NULL,
    onec_state     text,
    state_seen_at  timestamp(0),
    last_status    text,
    last_revenue   text,
    last_manager   text,
    attempts       integer NOT NULL DEFAULT 0,
    last_error     text,
    first_seen_at  timestamp(0) NOT NULL,
    updated_at     timestamp(0) NOT NULL
);
CREATE INDEX documents_by_number ON documents (number);
CREATE INDEX documents_by_state ON documents (state);
CREATE TABLE deals (
    order_number   text PRIMARY KEY,
    root_ref       text NOT NULL,
    driver_ref     text NOT NULL,
    driver_kind    text NOT NULL,
    status         text,
    revenue        text,
    manager        text,
    calltouch_id   bigint,
    created_at     timestamp(0) NOT NULL,
    updated_at     timestamp(0) NOT NULL
);
CREATE TABLE checkpoints (
    source         text PRIMARY KEY,
    checkpoint     text,
    since          date,
    updated_at     timestamp(0) NOT NULL
);
CREATE TABLE send_log (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             timestamp(0) NOT NULL,
    endpoint       text NOT NULL,
    order_number   text NOT NULL,
    reference      text NOT NULL,
    request        text NOT NULL,
    outcome        text NOT NULL,
    detail         text
);
CREATE TABLE runs (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at     timestamp(0) NOT NULL,
    finished_at    timestamp(0) NOT NULL,
    outcome        text NOT NULL,
    summary        text NOT NULL
);
