//! The MS SQL register's rows decoded into records: by column name through the database
//! layer's [`MssqlRow`], or by position for the status reads whose computed columns have no
//! name. A NULL in a required column or a cell of the wrong type is a corrupt register.

use chrono::{NaiveDate, NaiveDateTime};

use super::super::records::CheckpointRow;
use super::super::rows::{StoredDeal, StoredDocument};
use super::super::RegisterError;
use crate::db::mssql::MssqlRow;
use crate::domain::run::RunRecord;

pub(super) fn text(row: &MssqlRow, column: &str) -> Result<Option<String>, RegisterError> {
    row.text(column).map_err(RegisterError::Corrupt)
}

fn required_text(row: &MssqlRow, column: &str) -> Result<String, RegisterError> {
    text(row, column)?.ok_or_else(|| missing(column))
}

pub(super) fn time(row: &MssqlRow, column: &str) -> Result<Option<NaiveDateTime>, RegisterError> {
    row.timestamp(column).map_err(RegisterError::Corrupt)
}

fn required_time(row: &MssqlRow, column: &str) -> Result<NaiveDateTime, RegisterError> {
    time(row, column)?.ok_or_else(|| missing(column))
}

pub(super) fn missing(column: &str) -> RegisterError {
    RegisterError::Corrupt(format!("column `{column}` is NULL"))
}

/// A non-NULL text column of a row read by position (the status reads' unnamed columns).
pub(super) fn text_at(
    row: &tiberius::Row,
    index: usize,
    column: &str,
) -> Result<String, RegisterError> {
    let value = row.try_get::<&str, _>(index)?;
    value.map(String::from).ok_or_else(|| missing(column))
}

pub(super) fn at(
    row: &tiberius::Row,
    index: usize,
    column: &str,
) -> Result<NaiveDateTime, RegisterError> {
    row.try_get::<NaiveDateTime, _>(index)?
        .ok_or_else(|| missing(column))
}

/// A `COUNT_BIG(*)`, by position.
pub(super) fn count_at(row: &tiberius::Row, index: usize) -> Result<u64, RegisterError> {
    Ok(row.try_get::<i64, _>(index)?.unwrap_or(0) as u64)
}

pub(super) fn read_checkpoint(row: &MssqlRow) -> Result<CheckpointRow, RegisterError> {
    let since: Option<NaiveDate> = row.date("since").map_err(RegisterError::Corrupt)?;
    Ok(CheckpointRow {
        checkpoint: text(row, "checkpoint")?,
        since,
    })
}

pub(super) fn read_deal(row: &MssqlRow) -> Result<StoredDeal, RegisterError> {
    Ok(StoredDeal {
        order_number: required_text(row, "order_number")?,
        root: required_text(row, "root_ref")?,
        driver: required_text(row, "driver_ref")?,
        driver_kind: required_text(row, "driver_kind")?,
        status: text(row, "status")?,
        revenue: text(row, "revenue")?,
        manager: text(row, "manager")?,
        driver_date: time(row, "doc_date")?,
        account: text(row, "account")?,
    })
}

pub(super) fn read_document(row: &MssqlRow) -> Result<StoredDocument, RegisterError> {
    let attempts = row.integer("attempts").map_err(RegisterError::Corrupt)?;
    Ok(StoredDocument {
        kind: required_text(row, "kind")?,
        reference: required_text(row, "reference")?,
        number: required_text(row, "number")?,
        date: required_time(row, "doc_date")?,
        order_number: text(row, "order_number")?,
        state: required_text(row, "state")?,
        onec_state: text(row, "onec_state")?,
        last_status: text(row, "last_status")?,
        last_revenue: text(row, "last_revenue")?,
        last_manager: text(row, "last_manager")?,
        attempts: i64::from(attempts.unwrap_or(0)),
        last_error: text(row, "last_error")?,
        updated_at: required_time(row, "updated_at")?,
    })
}

pub(super) fn read_run(row: &MssqlRow) -> Result<RunRecord, RegisterError> {
    Ok(RunRecord {
        started_at: required_time(row, "started_at")?,
        finished_at: required_time(row, "finished_at")?,
        outcome: required_text(row, "outcome")?,
        summary: required_text(row, "summary")?,
    })
}

/// A runs row read by position (`TOP (@P1)` reads of the status page).
pub(super) fn run_at(row: &tiberius::Row) -> Result<RunRecord, RegisterError> {
    Ok(RunRecord {
        started_at: at(row, 0, "started_at")?,
        finished_at: at(row, 1, "finished_at")?,
        outcome: text_at(row, 2, "outcome")?,
        summary: text_at(row, 3, "summary")?,
    })
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use tiberius::ColumnData;

    use super::*;
    use crate::domain::snapshot::DocKind;
    use crate::register::SyncState;
    use tiberius::ToSql;

    const REFERENCE: &str = "9022249e-3a1a-c4b9-4be8-faddd2f8bde9";

    fn at(day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
    }

    fn text_cell(text: &'static str) -> ColumnData<'static> {
        ColumnData::String(Some(Cow::Borrowed(text)))
    }

    /// A `datetime2` cell as tiberius decodes it.
    fn time_cell(value: NaiveDateTime) -> ColumnData<'static> {
        match value.to_sql() {
            ColumnData::DateTime2(v) => ColumnData::DateTime2(v),
            other => panic!("tiberius encodes NaiveDateTime as {other:?}"),
        }
    }

    fn date_cell(value: NaiveDate) -> ColumnData<'static> {
        match value.to_sql() {
            ColumnData::Date(v) => ColumnData::Date(v),
            other => panic!("tiberius encodes NaiveDate as {other:?}"),
        }
    }

    fn document_row(kind: ColumnData<'static>) -> MssqlRow {
        MssqlRow::new(vec![
            ("kind", kind),
            ("reference", text_cell(REFERENCE)),
            ("number", text_cell("ЗР-000123")),
            ("doc_date", time_cell(at(3, 10))),
            ("order_number", text_cell("ЗР-000123-2026")),
            ("state", text_cell("failed")),
            ("onec_state", ColumnData::String(None)),
            ("last_status", ColumnData::String(None)),
            ("last_revenue", text_cell("15300.50")),
            ("last_manager", ColumnData::String(None)),
            ("attempts", ColumnData::I32(Some(2))),
            ("last_error", text_cell("rejected")),
            ("updated_at", time_cell(at(4, 12))),
        ])
    }

    #[test]
    fn a_documents_row_decodes_into_its_record() {
        let record = read_document(&document_row(text_cell("booking")))
            .unwrap()
            .into_record()
            .unwrap();
        assert_eq!(record.kind, DocKind::Booking);
        assert_eq!(record.reference.to_uuid_string(), REFERENCE);
        assert_eq!(record.number, "ЗР-000123");
        assert_eq!(record.date, at(3, 10));
        assert_eq!(record.order_number.as_deref(), Some("ЗР-000123-2026"));
        assert_eq!(record.state, SyncState::Failed);
        assert_eq!(record.onec_state, None);
        assert_eq!(record.last_revenue.as_deref(), Some("15300.50"));
        assert_eq!(record.attempts, 2);
        assert_eq!(record.last_error.as_deref(), Some("rejected"));
        assert_eq!(record.updated_at, at(4, 12));
    }

    #[test]
    fn a_null_or_mistyped_required_column_is_corrupt() {
        let null_kind = read_document(&document_row(ColumnData::String(None)));
        assert!(matches!(null_kind, Err(RegisterError::Corrupt(m)) if m.contains("kind")));
        let int_kind = read_document(&document_row(ColumnData::I32(Some(1))));
        assert!(matches!(int_kind, Err(RegisterError::Corrupt(m)) if m.contains("kind")));
    }

    #[test]
    fn a_deals_row_decodes_with_its_drivers_date() {
        let row = MssqlRow::new(vec![
            ("order_number", text_cell("ЗР-000123-2026")),
            ("root_ref", text_cell(REFERENCE)),
            ("driver_ref", text_cell(REFERENCE)),
            ("driver_kind", text_cell("work_order")),
            ("status", text_cell("Выполнен")),
            ("revenue", text_cell("15300.50")),
            ("manager", ColumnData::String(None)),
            ("doc_date", time_cell(at(5, 9))),
            ("account", text_cell("south")),
        ]);
        let deal = read_deal(&row).unwrap().into_record().unwrap();
        assert_eq!(deal.account.as_deref(), Some("south"));
        assert_eq!(deal.driver_kind, DocKind::WorkOrder);
        assert_eq!(deal.driver_date, Some(at(5, 9)));
        assert_eq!(deal.status.as_deref(), Some("Выполнен"));
        assert_eq!(
            deal.revenue.map(|m| m.to_calltouch()).as_deref(),
            Some("15300.50")
        );
        assert_eq!(deal.manager, None);
    }

    #[test]
    fn a_checkpoint_row_decodes_its_since_date() {
        let since = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        let row = MssqlRow::new(vec![
            ("checkpoint", ColumnData::String(None)),
            ("since", date_cell(since)),
        ]);
        let checkpoint = read_checkpoint(&row).unwrap();
        assert_eq!(checkpoint.checkpoint, None);
        assert_eq!(checkpoint.since, Some(since));
    }

    #[test]
    fn a_runs_row_decodes_into_its_record() {
        let row = MssqlRow::new(vec![
            ("started_at", time_cell(at(6, 8))),
            ("finished_at", time_cell(at(6, 9))),
            ("outcome", text_cell("ok")),
            ("summary", text_cell("read 3")),
        ]);
        let run = read_run(&row).unwrap();
        let expected = RunRecord {
            started_at: at(6, 8),
            finished_at: at(6, 9),
            outcome: "ok".into(),
            summary: "read 3".into(),
        };
        assert_eq!(run, expected);
    }
}
