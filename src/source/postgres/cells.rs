//! The cells of a PostgreSQL row for the decoder: strings and sums come `::text`, contact
//! information as two parallel arrays.

use chrono::NaiveDateTime;
use tokio_postgres::types::FromSql;
use tokio_postgres::Row;

use crate::source::decode::{Cells, ContactLine};

/// Cells of a PostgreSQL row: strings come `::text`, sums `::text`, contact information as
/// two parallel arrays.
impl Cells for Row {
    fn bytes(&self, column: &str) -> Result<Option<Vec<u8>>, String> {
        cell(self, column)
    }

    fn text(&self, column: &str) -> Result<Option<String>, String> {
        cell(self, column)
    }

    fn integer(&self, column: &str) -> Result<Option<i32>, String> {
        cell(self, column)
    }

    fn flag(&self, column: &str) -> Result<Option<bool>, String> {
        cell(self, column)
    }

    fn timestamp(&self, column: &str) -> Result<Option<NaiveDateTime>, String> {
        cell(self, column)
    }

    fn contacts(&self) -> Result<Vec<ContactLine>, String> {
        let kinds: Vec<Option<i32>> = cell::<Option<_>>(self, "contact_kinds")?.unwrap_or_default();
        let texts: Vec<Option<String>> =
            cell::<Option<_>>(self, "contact_texts")?.unwrap_or_default();
        let lines = kinds.into_iter().zip(texts);
        Ok(lines
            .map(|(kind, text)| ContactLine { kind, text })
            .collect())
    }
}

fn cell<'r, T: FromSql<'r>>(row: &'r Row, column: &str) -> Result<T, String> {
    row.try_get(column).map_err(|e| e.to_string())
}
