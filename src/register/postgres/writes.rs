//! How PostgreSQL binds the register's write values, inside the transaction `record_outcomes`
//! opened; what each outcome writes, and in which order, is decided once in `register::write`.

use std::error::Error;

use tokio_postgres::types::{private::BytesMut, IsNull, ToSql, Type};
use tokio_postgres::Transaction;

use super::super::statements;
use super::super::write::{Value, WriteStatement, Writes};
use super::super::RegisterError;
use super::seconds;

/// The write statements run inside one open transaction.
pub(super) struct PostgresWrites<'t>(pub &'t Transaction<'t>);

impl Writes for PostgresWrites<'_> {
    async fn execute(
        &mut self,
        statement: WriteStatement,
        values: &[Value<'_>],
    ) -> Result<(), RegisterError> {
        let values: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as _).collect();
        self.0
            .execute(statements::write(statement), &values)
            .await?;
        Ok(())
    }
}

/// Each value binds as the Rust type it holds would (a flag as `i32`, a time in whole
/// seconds), with that type's own check against the column's type.
impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Value::Text(text) => text.to_sql(ty, out),
            Value::MaybeText(text) => text.to_sql(ty, out),
            Value::Key(key) => key.to_sql(ty, out),
            Value::MaybeNumber(number) => number.to_sql(ty, out),
            Value::Flag(flag) => i32::from(*flag).to_sql(ty, out),
            Value::Time(time) => seconds(*time).to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value in `to_sql_checked`, by the type the value holds.
        true
    }

    fn to_sql_checked(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Value::Text(text) => text.to_sql_checked(ty, out),
            Value::MaybeText(text) => text.to_sql_checked(ty, out),
            Value::Key(key) => key.to_sql_checked(ty, out),
            Value::MaybeNumber(number) => number.to_sql_checked(ty, out),
            Value::Flag(flag) => i32::from(*flag).to_sql_checked(ty, out),
            Value::Time(time) => seconds(*time).to_sql_checked(ty, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveDateTime};

    fn bytes(value: &(dyn ToSql + Sync), ty: &Type) -> Result<Vec<u8>, String> {
        let mut out = BytesMut::new();
        match value.to_sql_checked(ty, &mut out) {
            Ok(IsNull::Yes) => Ok(b"NULL".to_vec()),
            Ok(IsNull::No) => Ok(out.to_vec()),
            Err(error) => Err(error.to_string()),
        }
    }

    /// Each value writes the same bytes as the Rust type it holds, and is refused by a column
    /// type that one would be refused by.
    #[test]
    fn each_value_binds_as_the_rust_type_it_holds() {
        let time = NaiveDate::from_ymd_opt(2026, 3, 1)
            .unwrap()
            .and_hms_milli_opt(10, 20, 30, 456)
            .unwrap();
        let whole: NaiveDateTime = seconds(time);
        let none: Option<&str> = None;
        let key = "9c1f0e4a-0000-4000-8000-000000000001".to_string();
        let cases: [(Value, &(dyn ToSql + Sync), Type); 7] = [
            (Value::Text("ЗН-000123"), &"ЗН-000123", Type::TEXT),
            (Value::MaybeText(None), &none, Type::TEXT),
            (Value::Key(key.clone()), &key, Type::TEXT),
            (Value::MaybeNumber(Some(42)), &Some(42i64), Type::INT8),
            (Value::Flag(true), &1i32, Type::INT4),
            (Value::Time(time), &whole, Type::TIMESTAMP),
            (Value::Text("x"), &"x", Type::INT4),
        ];
        for (value, expected, ty) in &cases {
            assert_eq!(bytes(value, ty), bytes(*expected, ty), "{value:?} as {ty}");
        }
        assert!(
            bytes(&Value::Flag(true), &Type::INT8).is_err(),
            "a flag is an int4"
        );
    }
}
