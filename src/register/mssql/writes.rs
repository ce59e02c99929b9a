//! How MS SQL binds the register's write values, inside the transaction `record_outcomes`
//! opened; what each outcome writes, and in which order, is decided once in `register::write`.

use std::borrow::Cow;

use tiberius::{ColumnData, IntoSql, ToSql};

use super::super::write::{Value, WriteStatement, Writes};
use super::super::RegisterError;
use super::seconds;
use super::statements::{Rendered, Tsql};
use crate::db::mssql::TdsClient;

pub(super) struct MssqlWrites<'c> {
    pub client: &'c mut TdsClient,
    pub sql: &'c Rendered,
}

impl Writes for MssqlWrites<'_> {
    async fn execute(
        &mut self,
        statement: WriteStatement,
        values: &[Value<'_>],
    ) -> Result<(), RegisterError> {
        let params: Vec<&dyn ToSql> = values.iter().map(|v| v as _).collect();
        let sql = &self.sql[Tsql::write(statement)];
        self.client.execute(sql, &params).await?;
        Ok(())
    }
}

/// Each value binds as the Rust type it holds would: text as `nvarchar`, a number as
/// `bigint`, a flag as `int`, a time in whole seconds as `datetime2`.
impl ToSql for Value<'_> {
    fn to_sql(&self) -> ColumnData<'_> {
        match self {
            Value::Text(text) => text.to_sql(),
            Value::MaybeText(text) => text.to_sql(),
            Value::Key(key) => ColumnData::String(Some(Cow::Borrowed(key.as_str()))),
            Value::MaybeNumber(number) => number.to_sql(),
            Value::Flag(flag) => ColumnData::I32(Some(i32::from(*flag))),
            // The same `datetime2` as `NaiveDateTime::to_sql`, owned rather than borrowed.
            Value::Time(time) => seconds(*time).into_sql(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    /// No SQL Server runs here: this checks offline that every value reaches the wire as the
    /// same TDS type and data the statements were written against.
    #[test]
    fn each_value_binds_as_the_rust_type_it_holds() {
        let time = NaiveDate::from_ymd_opt(2026, 3, 1)
            .unwrap()
            .and_hms_milli_opt(10, 20, 30, 456)
            .unwrap();
        let whole = seconds(time);
        let key = "9c1f0e4a-0000-4000-8000-000000000001".to_string();
        let none: Option<&str> = None;
        let pairs = [
            (Value::Text("ЗН-000123"), "ЗН-000123".to_sql()),
            (Value::MaybeText(Some("open")), Some("open").to_sql()),
            (Value::MaybeText(None), none.to_sql()),
            (Value::Key(key.clone()), key.to_sql()),
            (Value::MaybeNumber(Some(42)), Some(42i64).to_sql()),
            (Value::MaybeNumber(None), None::<i64>.to_sql()),
            (Value::Flag(true), 1i32.to_sql()),
            (Value::Flag(false), 0i32.to_sql()),
            (Value::Time(time), whole.to_sql()),
        ];
        for (value, expected) in &pairs {
            assert_eq!(&value.to_sql(), expected, "{value:?}");
        }
        assert!(matches!(
            Value::Time(time).to_sql(),
            ColumnData::DateTime2(Some(_))
        ));
        assert_ne!(
            Value::Time(time).to_sql(),
            time.to_sql(),
            "whole seconds only"
        );
    }
}
