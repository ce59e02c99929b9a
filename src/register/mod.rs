//! The sync register: the assignment's «регистр сведений». One row per 1C document with its
//! sync state, one row per Calltouch deal with the values last accepted, the source checkpoint,
//! a log of every request sent and its answer, and the runs.
//!
//! The interface is split by who asks ([`traits`]): the cycle's [`CycleStore`], the run lock
//! and log ([`RunLog`]), and the commands' [`Admin`]. Every backend implements all of it and
//! behaves the same (the shared suite in `tests/register_suite.rs` holds them to it); each
//! binds the SQL under `sql/register/<dialect>/`, and writes a batch through the one loop in
//! [`write`]. [`open`] picks the backend `[register] kind` names: an embedded SQLite file, or
//! a schema of its own on a PostgreSQL or an MS SQL server.

mod any;
pub mod mssql;
pub mod postgres;
mod records;
mod rows;
pub mod settings;
pub mod sqlite;
pub mod statements;
pub mod traits;
mod write;

pub use any::{open, AnyRegister};
pub use records::{
    AcceptedDeal, CheckpointRow, DocumentRecord, DocumentTotal, FailedDocument, ListFilter,
    Outcome, PendingDocument, RunDurations, SendAnswer, SendLogEntry, SendRecord, SendTotal,
    SettledDocument, StateCount, SyncState,
};
pub use traits::{Admin, CycleStore, HeldLock, Register, RunGuard, RunLog};

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("register {place}: {message}")]
    Open { place: String, message: String },
    #[error("register {place} has schema version {found}, newer than this program knows ({known}); upgrade alfa-calltouch")]
    TooNew {
        place: String,
        found: i64,
        known: i64,
    },
    #[error("register: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("register: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("register: {0}")]
    Mssql(#[from] tiberius::error::Error),
    /// A connection that failed, in the words of the server or the network.
    #[error(transparent)]
    Connection(#[from] crate::db::ConnectError),
    #[error("register holds a value it cannot read: {0}")]
    Corrupt(String),
}
