//! The live check: every discovered or imported entry against the tables and columns the
//! database really has (`information_schema.columns` on PostgreSQL, `INFORMATION_SCHEMA.COLUMNS`
//! on MS SQL), with types compared where known. It also switches to an extension's `x1` table
//! when one exists (the object's rows live there), orders enum values by the live `_enumorder`,
//! and spells every storage name as the database does (`_Document245` on MS SQL).
//!
//! Both databases' readers classify their column types into one vocabulary, [`ColumnClass`],
//! which `discover` and `check` (src/doctor) compare against.

use std::collections::BTreeMap;

use super::storage::{EnumValues, FieldEntry, Storage, StoredColumn, ValueKind, ValuesByReference};
use super::DiscoverError;
use crate::source::namemap::{checked_identifier, Dialect};

/// What a live column's SQL type holds, whichever database reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnClass {
    /// `bytea`; `binary(n)`, `varbinary`, `image`, `rowversion` (`length` when fixed: MS SQL
    /// stores 1C booleans as `binary(1)`, references as `binary(16)`).
    Binary {
        length: Option<u32>,
    },
    /// `mvarchar` / `mchar` (PostgreSQL), `nvarchar` / `nchar` (MS SQL).
    String,
    /// `numeric`.
    Number,
    /// `timestamp` (PostgreSQL), `datetime2` / `datetime` (MS SQL).
    DateTime,
    /// `boolean` (PostgreSQL), `bit` (MS SQL).
    Boolean,
    Other,
}

/// One live column: its name as the database spells it and its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveColumn {
    pub name: String,
    /// The type as the database names it (`bytea`, `mvarchar`, `binary(16)`), for messages.
    pub type_name: String,
    pub class: ColumnClass,
}

impl LiveColumn {
    /// A PostgreSQL column: `type_name` is the name to show (a domain's own name, e.g.
    /// `mvarchar`); `names` are every name the type goes by (the type, its base type, the
    /// domain), since 1C's string types are base types in a real base and may be domains
    /// elsewhere.
    pub fn postgres(name: &str, type_name: &str, names: &[&str]) -> LiveColumn {
        let is = |wanted: &[&str]| names.iter().any(|n| wanted.contains(n));
        let class = if is(&["bytea"]) {
            ColumnClass::Binary { length: None }
        } else if is(&[
            "mvarchar",
            "mchar",
            "text",
            "varchar",
            "bpchar",
            "character varying",
            "character",
        ]) {
            ColumnClass::String
        } else if is(&["numeric"]) {
            ColumnClass::Number
        } else if names.iter().any(|n| n.starts_with("timestamp")) {
            ColumnClass::DateTime
        } else if is(&["boolean", "bool"]) {
            ColumnClass::Boolean
        } else {
            ColumnClass::Other
        };
        LiveColumn {
            name: name.to_string(),
            type_name: type_name.to_string(),
            class,
        }
    }

    /// An MS SQL column from `INFORMATION_SCHEMA.COLUMNS`: `DATA_TYPE` and
    /// `CHARACTER_MAXIMUM_LENGTH` (-1 for `max`).
    pub fn mssql(name: &str, data_type: &str, max_length: Option<i32>) -> LiveColumn {
        let data_type = data_type.to_ascii_lowercase();
        let length = max_length.and_then(|n| u32::try_from(n).ok());
        let class = match data_type.as_str() {
            "binary" | "varbinary" | "image" | "timestamp" | "rowversion" => {
                ColumnClass::Binary { length }
            }
            "nvarchar" | "nchar" | "varchar" | "char" | "ntext" | "text" => ColumnClass::String,
            "numeric" | "decimal" => ColumnClass::Number,
            "datetime2" | "datetime" | "smalldatetime" => ColumnClass::DateTime,
            "bit" => ColumnClass::Boolean,
            _ => ColumnClass::Other,
        };
        let type_name = match max_length {
            Some(-1) => format!("{data_type}(max)"),
            Some(n) => format!("{data_type}({n})"),
            None => data_type,
        };
        LiveColumn {
            name: name.to_string(),
            type_name,
            class,
        }
    }
}

/// One live table: its name as the database spells it, its columns by lower-case name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveTable {
    pub name: String,
    pub columns: BTreeMap<String, LiveColumn>,
}

impl LiveTable {
    /// A column by name, whatever its case (1C bases on MS SQL use case-insensitive collations).
    pub fn column(&self, name: &str) -> Option<&LiveColumn> {
        self.columns.get(&name.to_ascii_lowercase())
    }
}

/// The tables of the database by lower-case name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveSchema {
    pub tables: BTreeMap<String, LiveTable>,
}

impl LiveSchema {
    /// Adds a column of `table` (spelled as the database spells it).
    pub fn insert(&mut self, table: &str, column: LiveColumn) {
        let entry = self
            .tables
            .entry(table.to_ascii_lowercase())
            .or_insert_with(|| LiveTable {
                name: table.to_string(),
                columns: BTreeMap::new(),
            });
        entry
            .columns
            .insert(column.name.to_ascii_lowercase(), column);
    }

    /// A table by name, whatever its case.
    pub fn table(&self, name: &str) -> Option<&LiveTable> {
        self.tables.get(&name.to_ascii_lowercase())
    }

    /// A column name as the database spells it, from any table that has it (1C spells a
    /// column the same in every table).
    fn column_spelling(&self, name: &str) -> Option<&str> {
        let lower = name.to_ascii_lowercase();
        self.tables
            .values()
            .find_map(|t| t.columns.get(&lower))
            .map(|c| c.name.as_str())
    }
}

/// Reads the live schema and enum tables. Implementations issue only SELECTs.
#[allow(async_fn_in_trait)]
pub trait LiveDatabase {
    /// The dialect table names are checked against before they go into a query.
    fn dialect(&self) -> Dialect;
    async fn schema(&self) -> Result<LiveSchema, DiscoverError>;
    /// `(_idrref, _enumorder)` of every row of an enum table.
    async fn enum_orders(&self, table: &str) -> Result<Vec<(Vec<u8>, i64)>, DiscoverError>;
}

/// Checks `storage` against the live database: entries that do not hold are moved to the
/// problems with the reason; the rest get the database's spelling.
pub async fn check(storage: &mut Storage, db: &impl LiveDatabase) -> Result<(), DiscoverError> {
    let schema = db.schema().await?;
    check_tables(storage, &schema);
    order_enums(storage, db).await?;
    check_fields(storage, &schema);
    check_tabular_part_owners(storage, &schema);
    respell_fields(storage, &schema);
    Ok(())
}

/// Every table exists; an extended object's `x1` table is preferred. Names take the database's
/// spelling.
fn check_tables(storage: &mut Storage, schema: &LiveSchema) {
    let mut failed = Vec::new();
    for (name, table) in storage.tables.iter_mut() {
        if let Some(extended) = schema.table(&format!("{table}x1")) {
            *table = extended.name.clone();
        } else if let Some(live) = schema.table(table) {
            *table = live.name.clone();
        } else {
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

/// Column names as the database spells them (checked to exist by now).
fn respell_fields(storage: &mut Storage, schema: &LiveSchema) {
    for entry in storage.fields.values_mut() {
        entry.field.rename_columns(|column| {
            schema
                .column_spelling(column)
                .map_or_else(|| column.to_string(), str::to_string)
        });
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
        let table = checked_identifier(db.dialect(), &name, table)
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
        .table(table)
        .ok_or_else(|| format!("table {table} is not in the database"))?;
    for column in columns {
        let found = live
            .column(&column.name)
            .ok_or_else(|| format!("column {} is not in table {table}", column.name))?;
        if !type_fits(column.kind, found) {
            return Err(format!(
                "column {table}.{} is {}, expected {}",
                found.name,
                found.type_name,
                expected_type(column.kind)
            ));
        }
    }
    Ok(())
}

/// The type a column of this kind has, in words for both databases.
pub fn expected_type(kind: ValueKind) -> &'static str {
    match kind {
        ValueKind::Binary => "bytea or binary(n)",
        ValueKind::String => "mvarchar/mchar or nvarchar/nchar",
        ValueKind::Number => "numeric",
        ValueKind::Date => "timestamp or datetime2",
        ValueKind::Boolean => "boolean or binary(1)",
        ValueKind::Unknown => "any type",
    }
}

/// Whether a live column can hold a value of this kind; MS SQL keeps 1C booleans in
/// `binary(1)`.
pub fn type_fits(kind: ValueKind, column: &LiveColumn) -> bool {
    match kind {
        ValueKind::Binary => matches!(column.class, ColumnClass::Binary { .. }),
        ValueKind::String => column.class == ColumnClass::String,
        ValueKind::Number => column.class == ColumnClass::Number,
        ValueKind::Date => column.class == ColumnClass::DateTime,
        ValueKind::Boolean => matches!(
            column.class,
            ColumnClass::Boolean | ColumnClass::Binary { length: Some(1) }
        ),
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

    fn pg(name: &str, type_name: &str) -> LiveColumn {
        LiveColumn::postgres(name, type_name, &[type_name])
    }

    fn schema() -> LiveSchema {
        let mut schema = LiveSchema::default();
        schema.insert("_document5", pg("_idrref", "bytea"));
        schema.insert("_document5x1", pg("_idrref", "bytea"));
        schema.insert(
            "_document5x1",
            LiveColumn::postgres("_fld6", "mvarchar", &["text", "text", "mvarchar"]),
        );
        schema.insert("_document5x1", pg("_fld7", "int4"));
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

    #[test]
    fn mssql_types_compare_and_names_take_the_servers_spelling() {
        let mut schema = LiveSchema::default();
        let columns = [
            ("_IDRRef", "binary", Some(16)),
            ("_Marked", "binary", Some(1)),
            ("_Fld6", "nvarchar", Some(150)),
            ("_Fld7", "numeric", None),
            ("_Fld8", "datetime2", None),
            ("_Fld9", "binary", Some(1)),
            ("_Fld10_TYPE", "binary", Some(1)),
            ("_Fld10_RTRef", "binary", Some(4)),
            ("_Fld10_RRRef", "binary", Some(16)),
            ("_Fld11", "int", None),
            ("_Fld12", "binary", Some(16)),
        ];
        for (name, data_type, length) in columns {
            schema.insert("_Document5", LiveColumn::mssql(name, data_type, length));
        }
        let mut storage = Storage::default();
        storage
            .tables
            .insert("Документ.А".into(), "_document5".into());
        let plain = [
            ("Имя", "_fld6", ValueKind::String),
            ("Сумма", "_fld7", ValueKind::Number),
            ("Дата", "_fld8", ValueKind::Date),
            ("Флаг", "_fld9", ValueKind::Boolean),
            ("Целое", "_fld11", ValueKind::Number),
            ("Булево", "_fld12", ValueKind::Boolean),
        ];
        for (name, column, kind) in plain {
            storage
                .fields
                .insert(format!("Документ.А.{name}"), entry(column, kind));
        }
        storage.fields.insert(
            "Документ.А.Составной".into(),
            FieldEntry {
                owner: Some("Документ.А".into()),
                field: Field::Composite {
                    type_tag: "_fld10_type".into(),
                    rtref: Some("_fld10_rtref".into()),
                    rrref: Some("_fld10_rrref".into()),
                    string: None,
                },
            },
        );
        check_tables(&mut storage, &schema);
        check_fields(&mut storage, &schema);
        respell_fields(&mut storage, &schema);
        assert_eq!(storage.tables["Документ.А"], "_Document5");
        let column = |name: &str| match &storage.fields[name].field {
            Field::Plain(column) => column.name.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(column("Документ.А.Имя"), "_Fld6");
        assert_eq!(column("Документ.А.Сумма"), "_Fld7");
        assert_eq!(column("Документ.А.Дата"), "_Fld8");
        assert_eq!(column("Документ.А.Флаг"), "_Fld9");
        assert_eq!(
            storage.fields["Документ.А.Составной"].field,
            Field::Composite {
                type_tag: "_Fld10_TYPE".into(),
                rtref: Some("_Fld10_RTRef".into()),
                rrref: Some("_Fld10_RRRef".into()),
                string: None,
            }
        );
        assert_eq!(
            storage.problems["Документ.А.Целое"],
            "column _Document5._Fld11 is int, expected numeric"
        );
        assert_eq!(
            storage.problems["Документ.А.Булево"],
            "column _Document5._Fld12 is binary(16), expected boolean or binary(1)"
        );
        assert_eq!(storage.problems.len(), 2, "{:?}", storage.problems);
    }
}
