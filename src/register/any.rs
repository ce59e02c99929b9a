//! The register the configuration names ([`open`]) and the forwarding of every method to the
//! backend in use.

use chrono::{NaiveDate, NaiveDateTime};

use super::records::{
    CheckpointRow, DocumentRecord, DocumentTotal, ListFilter, Outcome, RunDurations, SendAnswer,
    SendLogEntry, SendTotal, StateCount,
};
use super::settings::RegisterSettings;
use super::traits::{Admin, CycleStore, Register, RunGuard, RunLog};
use super::{mssql, postgres, sqlite, RegisterError};
use crate::db::mssql::MssqlTarget;
use crate::db::postgres::PgTarget;
use crate::domain::deal::DealRecord;
use crate::domain::run::RunRecord;
use crate::domain::snapshot::DocRef;
use crate::ops::lock::LockError;

/// The register the configuration names.
pub enum AnyRegister {
    Sqlite(sqlite::SqliteRegister),
    /// Boxed: a PostgreSQL client is much larger than a SQLite connection.
    Postgres(Box<postgres::PostgresRegister>),
    /// Boxed for the same reason.
    Mssql(Box<mssql::MssqlRegister>),
}

/// Opens (creating or migrating) the register `[register]` names. Takes the config (`&Config`)
/// or its settings.
pub async fn open(settings: impl Into<RegisterSettings>) -> Result<AnyRegister, RegisterError> {
    match settings.into() {
        RegisterSettings::Sqlite { path } => {
            Ok(AnyRegister::Sqlite(sqlite::SqliteRegister::open(&path)?))
        }
        RegisterSettings::Postgres { endpoint, schema } => {
            let target = PgTarget::new(&endpoint?, "alfa-calltouch register")?;
            let register = postgres::PostgresRegister::connect(target, &schema).await?;
            Ok(AnyRegister::Postgres(Box::new(register)))
        }
        RegisterSettings::Mssql { endpoint, schema } => {
            let target = MssqlTarget::new(&endpoint?, "alfa-calltouch register")?;
            let register = mssql::MssqlRegister::open(target, &schema).await?;
            Ok(AnyRegister::Mssql(Box::new(register)))
        }
    }
}

/// Forwards each method to the backend in use.
macro_rules! dispatch {
    ($self:ident, $register:ident => $call:expr) => {
        match $self {
            AnyRegister::Sqlite($register) => $call,
            AnyRegister::Postgres($register) => $call,
            AnyRegister::Mssql($register) => $call,
        }
    };
}

impl Register for AnyRegister {
    fn place(&self) -> String {
        dispatch!(self, r => r.place())
    }
    async fn schema_version(&self) -> Result<i64, RegisterError> {
        dispatch!(self, r => r.schema_version().await)
    }
    async fn probe_write(&mut self) -> Result<(), RegisterError> {
        dispatch!(self, r => r.probe_write().await)
    }
}

impl CycleStore for AnyRegister {
    async fn checkpoint(&self, source: &str) -> Result<CheckpointRow, RegisterError> {
        dispatch!(self, r => r.checkpoint(source).await)
    }
    async fn save_checkpoint(
        &self,
        source: &str,
        checkpoint: &str,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        dispatch!(self, r => r.save_checkpoint(source, checkpoint, now).await)
    }
    async fn deal(&self, order_number: &str) -> Result<Option<DealRecord>, RegisterError> {
        dispatch!(self, r => r.deal(order_number).await)
    }
    async fn document(&self, reference: DocRef) -> Result<Option<DocumentRecord>, RegisterError> {
        dispatch!(self, r => r.document(reference).await)
    }
    async fn state_seen_at(
        &self,
        reference: DocRef,
        state: Option<&str>,
    ) -> Result<Option<Option<NaiveDateTime>>, RegisterError> {
        dispatch!(self, r => r.state_seen_at(reference, state).await)
    }
    async fn list(&self, filter: &ListFilter) -> Result<Vec<DocumentRecord>, RegisterError> {
        dispatch!(self, r => r.list(filter).await)
    }
    async fn record_outcomes(
        &mut self,
        outcomes: &[Outcome<'_>],
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        dispatch!(self, r => r.record_outcomes(outcomes, now).await)
    }
    async fn prune_send_log(&mut self, before: NaiveDateTime) -> Result<u64, RegisterError> {
        dispatch!(self, r => r.prune_send_log(before).await)
    }
}

impl RunLog for AnyRegister {
    async fn lock_run(&self) -> Result<RunGuard, LockError> {
        dispatch!(self, r => r.lock_run().await)
    }
    async fn record_run(
        &self,
        started_at: NaiveDateTime,
        finished_at: NaiveDateTime,
        outcome: &str,
        summary: &str,
    ) -> Result<(), RegisterError> {
        dispatch!(self, r => r.record_run(started_at, finished_at, outcome, summary).await)
    }
    async fn last_run(&self) -> Result<Option<RunRecord>, RegisterError> {
        dispatch!(self, r => r.last_run().await)
    }
    async fn recent_runs(&self, limit: u32) -> Result<Vec<RunRecord>, RegisterError> {
        dispatch!(self, r => r.recent_runs(limit).await)
    }
    async fn run_durations(&self) -> Result<Vec<RunDurations>, RegisterError> {
        dispatch!(self, r => r.run_durations().await)
    }
    async fn last_success(&self) -> Result<Option<NaiveDateTime>, RegisterError> {
        dispatch!(self, r => r.last_success().await)
    }
}

impl Admin for AnyRegister {
    async fn reset_checkpoint(
        &self,
        source: &str,
        since: Option<NaiveDate>,
        now: NaiveDateTime,
    ) -> Result<(), RegisterError> {
        dispatch!(self, r => r.reset_checkpoint(source, since, now).await)
    }
    async fn requeue(&self, number: &str, now: NaiveDateTime) -> Result<usize, RegisterError> {
        dispatch!(self, r => r.requeue(number, now).await)
    }
    async fn counts(&self) -> Result<Vec<StateCount>, RegisterError> {
        dispatch!(self, r => r.counts().await)
    }
    async fn document_totals(&self) -> Result<Vec<DocumentTotal>, RegisterError> {
        dispatch!(self, r => r.document_totals().await)
    }
    async fn send_totals(&self) -> Result<Vec<SendTotal>, RegisterError> {
        dispatch!(self, r => r.send_totals().await)
    }
    async fn daily_sends(&self, since: NaiveDateTime) -> Result<Vec<SendTotal>, RegisterError> {
        dispatch!(self, r => r.daily_sends(since).await)
    }
    async fn last_answer(&self, reference: DocRef) -> Result<Option<SendAnswer>, RegisterError> {
        dispatch!(self, r => r.last_answer(reference).await)
    }
    async fn dump_send_log(&self) -> Result<Vec<SendLogEntry>, RegisterError> {
        dispatch!(self, r => r.dump_send_log().await)
    }
}
