//! How SQLite binds the register's write values, inside the transaction `record_outcomes`
//! opened; what each outcome writes, and in which order, is decided once in `register::write`.

use rusqlite::types::ToSqlOutput;
use rusqlite::{ToSql, Transaction};

use super::super::statements;
use super::super::write::{Value, WriteStatement, Writes};
use super::super::RegisterError;
use super::{dialect, fmt_time};

/// The write statements run inside one open transaction.
pub(super) struct SqliteWrites<'t>(pub &'t Transaction<'t>);

impl Writes for SqliteWrites<'_> {
    async fn execute(
        &mut self,
        statement: WriteStatement,
        values: &[Value<'_>],
    ) -> Result<(), RegisterError> {
        let sql = dialect(statements::write(statement));
        self.0
            .prepare_cached(&sql)?
            .execute(rusqlite::params_from_iter(values))?;
        Ok(())
    }
}

/// SQLite keeps times as text (`fmt_time`) and a flag as an integer.
impl ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Value::Text(text) => text.to_sql(),
            Value::MaybeText(text) => text.to_sql(),
            Value::Key(key) => key.to_sql(),
            Value::MaybeNumber(number) => number.to_sql(),
            Value::Flag(flag) => Ok(ToSqlOutput::from(i64::from(*flag))),
            Value::Time(time) => Ok(ToSqlOutput::from(fmt_time(*time))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use rusqlite::types::Value as Stored;

    /// What reaches SQLite, whether the driver borrowed or copied it.
    fn stored(output: rusqlite::Result<ToSqlOutput<'_>>) -> Stored {
        match output.unwrap() {
            ToSqlOutput::Borrowed(value) => value.into(),
            ToSqlOutput::Owned(value) => value,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_value_binds_as_the_register_stores_it() {
        let time = NaiveDate::from_ymd_opt(2026, 3, 1)
            .unwrap()
            .and_hms_opt(10, 20, 30)
            .unwrap();
        let text = fmt_time(time);
        let none: Option<&str> = None;
        let pairs = [
            (Value::Text("ЗН-000123"), stored("ЗН-000123".to_sql())),
            (Value::MaybeText(None), stored(none.to_sql())),
            (Value::MaybeNumber(Some(42)), stored(42i64.to_sql())),
            (Value::Flag(true), stored(1i64.to_sql())),
            (Value::Time(time), stored(text.to_sql())),
        ];
        for (value, expected) in &pairs {
            assert_eq!(&stored(value.to_sql()), expected, "{value:?}");
        }
        assert_eq!(
            stored(Value::Time(time).to_sql()),
            Stored::Text("2026-03-01 10:20:30".into())
        );
    }
}
