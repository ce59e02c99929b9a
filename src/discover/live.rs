//! The live check: every discovered or imported entry against the tables and columns the
//! database really has (`information_schema.columns`), with types compared where known. It also
//! switches to an extension's `x1` table when one exists (the object's rows live there) and
//! orders enum values by the live `_enumorder`.

use std::collections::BTreeMap;

use super::storage::{EnumValues, FieldEntry, Storage, StoredColumn, ValueKind, ValuesByReference};
use super::DiscoverError;
use crate::source::namemap::{checked_identifier, Dialect};

/// One live column's type as `information_schema` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveColumn {
    pub data_type: String,
    pub udt_name: String,
    pub domain_name: Option<String>,
}

/// Tables → columns of the database (lower-case names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveSchema {
    pub tables: BTreeMap<String, BTreeMap<String, LiveColumn>>,
}

/// Reads the live schema and enum tables. Implementations issue only SELECTs.
#[allow(async_fn_in_trait)]
pub trait LiveDatabase {
    async fn schema(&self) -> Result<LiveSchema, DiscoverError>;
    /// `(_idrref, _enumorder)` of every row of an enum table.
    async fn enum_orders(&self, table: &str) -> Result<Vec<(Vec<u8>, i64)>, DiscoverError>;
}

/// Checks `storage` against the live database: entries that do not hold are moved to the
/// problems with the reason.
pub async fn check(storage: &mut Storage, db: &impl LiveDatabase) -> Result<(), DiscoverError> {
    let schema = db.schema().await?;
    check_tables(storage, &schema);
    order_enums(storage, db).await?;
    check_fields(storage, &schema);
    check_tabular_part_owners(storage, &schema);
    Ok(())
}

/// Every table exists; an extended object's `x1` table is preferred.
fn check_tables(storage: &mut Storage, schema: &LiveSchema) {
    let mut failed = Vec::new();
    for (name, table) in storage.tables.iter_mut() {
        let extended = format!("{table}x1");
        if schema.tables.contains_key(&extended) {
            *table = extended;
        } else if !schema.tables.contains_key(table.as_str()) {
            failed.push((
                name.clone(),
                format!("table {table} is not in the database"),
            ));
        }
    }
    for (name, reason) in failed {
        storage.tables.remove(&name);
        storage.add_problem(&name, reason);
    }
}

/// Enum values by reference → names in `_enumorder` order (positions 0, 1, 2, … as the
/// decoder indexes them).
async fn order_enums(storage: &mut Storage, db: &impl LiveDatabase) -> Result<(), DiscoverError> {
    let by_reference: Vec<(String, ValuesByReference)> = storage
        .enums
        .iter()
        .filter_map(|(name, values)| match values {
            EnumValues::ByReference(values) => Some((name.clone(), values.clone())),
            EnumValues::Ordered(_) => None,
        })
        .collect();
    for (name, values) in by_reference {
        storage.enums.remove(&name);
        let Some(table) = storage.tables.get(&name) else {
            continue; // the table problem is reported already
        };
        let table = checked_identifier(Dialect::Postgres, &name, table)
            .map_err(|e| DiscoverError::Database(e.to_string()))?;
        let rows = db.enum_orders(table).await?;
        match ordered_names(&values, rows) {
            Ok(names) => {
                storage.enums.insert(name, EnumValues::Ordered(names));
            }
            Err(reason) => storage.add_problem(&name, format!("{table}: {reason}")),
        }
    }
    Ok(())
}

/// The value names by `_enumorder`, matching rows to values by reference.
pub fn ordered_names(
    values: &[([u8; 16], String)],
    mut rows: Vec<(Vec<u8>, i64)>,
) -> Result<Vec<String>, String> {
    rows.sort_by_key(|(_, order)| *order);
    let mut names = Vec::with_capacity(rows.len());
    for (position, (reference, order)) in rows.iter().enumerate() {
        if usize::try_from(*order).ok() != Some(position) {
            return Err(format!("_enumorder {order} where {position} was expected"));
        }
        let name = values
            .iter()
            .find(|(value, _)| value.as_slice() == reference.as_slice())
            .map(|(_, name)| name.clone())
            .ok_or_else(|| {
                format!("row with _enumorder {order} is not a value of the configuration")
            })?;
        names.push(name);
    }
    Ok(names)
}

/// Every field's columns exist in its table with a fitting type. A common attribute must be
/// found whole in at least one mapped table.
fn check_fields(storage: &mut Storage, schema: &LiveSchema) {
    let mut failed = Vec::new();
    for (name, entry) in &storage.fields {
        if let Err(reason) = check_field(entry, &storage.tables, schema) {
            failed.push((name.clone(), reason));
        }
    }
    for (name, reason) in failed {
        storage.fields.remove(&name);
        storage.add_problem(&name, reason);
    }
}

fn check_field(
    entry: &FieldEntry,
    tables: &BTreeMap<String, String>,
    schema: &LiveSchema,
) -> Result<(), String> {
    let columns = entry.field.columns();
    let Some(owner) = &entry.owner else {
        let candidates: Vec<&String> = tables.values().collect();
        return candidates
            .iter()
            .find(|table| columns_fit(table, &columns, schema).is_ok())
            .map(|_| ())
            .ok_or_else(|| {
                let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
                format!("no mapped table has column(s) {}", names.join(", "))
            });
    };
    let table = tables
        .get(owner)
        .ok_or_else(|| format!("its table {owner} is not resolved"))?;
    columns_fit(table, &columns, schema)
}

fn columns_fit(table: &str, columns: &[StoredColumn], schema: &LiveSchema) -> Result<(), String> {
    let live = schema
        .tables
        .get(table)
        .ok_or_else(|| format!("table {table} is not in the database"))?;
    for column in columns {
        let found = live
            .get(&column.name)
            .ok_or_else(|| format!("column {} is not in table {table}", column.name))?;
        if !type_fits(column.kind, found) {
            return Err(format!(
                "column {table}.{} is {}, expected {}",
                column.name,
                found.domain_name.as_deref().unwrap_or(&found.udt_name),
                expected_type(column.kind)
            ));
        }
    }
    Ok(())
}

fn expected_type(kind: ValueKind) -> &'static str {
    match kind {
        ValueKind::Binary => "bytea",
        ValueKind::String => "mvarchar or mchar",
        ValueKind::Number => "numeric",
        ValueKind::Date => "timestamp",
        ValueKind::Boolean => "boolean",
        ValueKind::Unknown => "any type",
    }
}

/// 1C's string types are base types (`udt_name`) in a real base, and may be domains elsewhere.
fn type_fits(kind: ValueKind, column: &LiveColumn) -> bool {
    let is_string_type = |name: &str| matches!(name, "mvarchar" | "mchar");
    match kind {
        ValueKind::Binary => column.data_type == "bytea",
        ValueKind::String => {
            is_string_type(&column.udt_name)
                || column.domain_name.as_deref().is_some_and(is_string_type)
        }
        ValueKind::Number => column.data_type == "numeric",
        ValueKind::Date => column.data_type.starts_with("timestamp"),
        ValueKind::Boolean => column.data_type == "boolean",
        ValueKind::Unknown => true,
    }
}

/// The queries join a tabular part to its owner by `{owner table}_idrref`; with an `x1` owner
/// that column name changes, so it is checked too.
fn check_tabular_part_owners(storage: &mut Storage, schema: &LiveSchema) {
    let mut failed = Vec::new();
    for (name, table) in &storage.tables {
        let Some((owner, _)) = name.rsplit_once('.') else {
            continue;
        };
        let Some(owner_table) = owner
            .contains('.')
            .then(|| storage.tables.get(owner))
            .flatten()
        else {
            continue;
        };
        let link = StoredColumn::new(format!("{owner_table}_idrref"), ValueKind::Binary);
        if let Err(reason) = columns_fit(table, &[link], schema) {
            failed.push((name.clone(), reason));
        }
    }
    for (name, reason) in failed {
        storage.tables.remove(&name);
        storage.add_problem(&name, reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::storage::Field;

    fn column(data_type: &str, udt: &str, domain: Option<&str>) -> LiveColumn {
        LiveColumn {
            data_type: data_type.into(),
            udt_name: udt.into(),
            domain_name: domain.map(String::from),
        }
    }

    fn schema() -> LiveSchema {
        let mut schema = LiveSchema::default();
        let table = |cols: &[(&str, LiveColumn)]| {
            cols.iter()
                .map(|(n, c)| (n.to_string(), c.clone()))
                .collect::<BTreeMap<_, _>>()
        };
        schema.tables.insert(
            "_document5".into(),
            table(&[("_idrref", column("bytea", "bytea", None))]),
        );
        schema.tables.insert(
            "_document5x1".into(),
            table(&[
                ("_idrref", column("bytea", "bytea", None)),
                ("_fld6", column("USER-DEFINED", "mvarchar", None)),
                ("_fld7", column("integer", "int4", None)),
            ]),
        );
        schema
    }

    fn entry(column: &str, kind: ValueKind) -> FieldEntry {
        FieldEntry {
            owner: Some("Документ.А".into()),
            field: Field::Plain(StoredColumn::new(column, kind)),
        }
    }

    #[test]
    fn prefers_x1_tables_and_compares_types() {
        let mut storage = Storage::default();
        storage
            .tables
            .insert("Документ.А".into(), "_document5".into());
        storage
            .tables
            .insert("Документ.Б".into(), "_document9".into());
        storage
            .fields
            .insert("Документ.А.Имя".into(), entry("_fld6", ValueKind::String));
        storage
            .fields
            .insert("Документ.А.Сумма".into(), entry("_fld7", ValueKind::Number));
        storage
            .fields
            .insert("Документ.А.Нет".into(), entry("_fld8", ValueKind::Unknown));
        let schema = schema();
        check_tables(&mut storage, &schema);
        check_fields(&mut storage, &schema);
        assert_eq!(storage.tables["Документ.А"], "_document5x1");
        assert!(storage.fields.contains_key("Документ.А.Имя"));
        assert_eq!(
            storage.problems["Документ.А.Сумма"],
            "column _document5x1._fld7 is int4, expected numeric"
        );
        assert_eq!(
            storage.problems["Документ.А.Нет"],
            "column _fld8 is not in table _document5x1"
        );
        assert_eq!(
            storage.problems["Документ.Б"],
            "table _document9 is not in the database"
        );
    }

    #[test]
    fn enum_names_follow_the_live_order() {
        let values = vec![
            ([1; 16], "Первое".to_string()),
            ([2; 16], "Второе".to_string()),
        ];
        let rows = vec![(vec![1; 16], 1), (vec![2; 16], 0)];
        assert_eq!(ordered_names(&values, rows).unwrap(), ["Второе", "Первое"]);
        let gap = vec![(vec![1; 16], 0), (vec![2; 16], 2)];
        assert!(ordered_names(&values, gap).is_err());
        let stranger = vec![(vec![3; 16], 0)];
        assert!(ordered_names(&values, stranger)
            .unwrap_err()
            .contains("not a value"));
    }
}
