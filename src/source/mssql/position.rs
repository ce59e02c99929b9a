//! Where one MS SQL read stands: the read position the server reports, the previous checkpoint
//! with its row versions, the next checkpoint, what the cycle's queries read, and the cells of
//! an MS SQL row for the decoder.

use chrono::NaiveDateTime;

use super::RowVersion;
use crate::db::mssql::MssqlRow;
use crate::source::decode::{Cells, ContactLine};
use crate::source::window::Checkpoint;
use crate::source::SourceError;

/// The next checkpoint from this cycle's `MIN_ACTIVE_ROWVERSION()`, refusing a previous one
/// the server has not reached.
pub(super) fn next_checkpoint(
    previous: Option<RowVersion>,
    upper_bound: RowVersion,
) -> Result<RowVersion, SourceError> {
    let next = RowVersion(upper_bound.0.saturating_sub(1));
    match previous {
        Some(previous) if previous > next => {
            Err(SourceError::BadCheckpoint(previous.to_checkpoint()))
        }
        _ => Ok(next),
    }
}

/// What one cycle's document queries read (see `source::window`).
pub(super) enum Read {
    /// Every document dated since the cut-off.
    DatedSince,
    /// Every document changed since this version (a scan: `_Version` has no index).
    Changed(RowVersion),
    /// Candidates dated or journalled from the window start (stored time), changed since this
    /// version.
    Recent(RowVersion, NaiveDateTime),
}

/// A checkpoint of either form of `source::window`, with its row versions.
pub(super) struct PreviousRead {
    pub(super) text: Checkpoint,
    pub(super) read: RowVersion,
    pub(super) reconcile: RowVersion,
}

pub(super) fn parsed_checkpoint(text: &str) -> Result<PreviousRead, SourceError> {
    let checkpoint =
        Checkpoint::parse(text).ok_or_else(|| SourceError::BadCheckpoint(text.to_string()))?;
    Ok(PreviousRead {
        read: RowVersion::parse(&checkpoint.read)?,
        reconcile: RowVersion::parse(&checkpoint.reconcile)?,
        text: checkpoint,
    })
}

/// What `read_position.sql` returns.
pub(super) struct ReadPosition {
    pub(super) upper_bound: RowVersion,
    pub(super) read_at: NaiveDateTime,
}

impl ReadPosition {
    pub(super) fn of(row: Option<&MssqlRow>) -> Result<ReadPosition, SourceError> {
        let bad = |message: String| SourceError::Query {
            query: "read position".to_string(),
            message,
        };
        let row = row.ok_or_else(|| bad("no row".to_string()))?;
        let upper_bound = row
            .bytes("upper_bound")
            .map_err(bad)?
            .as_deref()
            .and_then(RowVersion::from_bytes)
            .ok_or_else(|| bad("MIN_ACTIVE_ROWVERSION() is not 8 bytes".to_string()))?;
        let read_at = row
            .timestamp("read_at")
            .map_err(bad)?
            .ok_or_else(|| bad("no server time".to_string()))?;
        Ok(ReadPosition {
            upper_bound,
            read_at,
        })
    }
}

impl Cells for MssqlRow {
    fn bytes(&self, column: &str) -> Result<Option<Vec<u8>>, String> {
        MssqlRow::bytes(self, column)
    }

    fn text(&self, column: &str) -> Result<Option<String>, String> {
        MssqlRow::text(self, column)
    }

    fn integer(&self, column: &str) -> Result<Option<i32>, String> {
        MssqlRow::integer(self, column)
    }

    fn flag(&self, column: &str) -> Result<Option<bool>, String> {
        MssqlRow::flag(self, column)
    }

    fn timestamp(&self, column: &str) -> Result<Option<NaiveDateTime>, String> {
        MssqlRow::timestamp(self, column)
    }

    /// The `FOR JSON PATH` array of `{"kind": …, "text": …}`; no lines is NULL.
    fn contacts(&self) -> Result<Vec<ContactLine>, String> {
        match MssqlRow::text(self, "contacts")? {
            None => Ok(Vec::new()),
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| format!("column `contacts` is not the expected JSON: {e}")),
        }
    }
}
