//! The name map against the live schema (PostgreSQL or MS SQL): every mapped table exists,
//! every mapped column exists in its table with the storage type its name promises. A map
//! written for another infobase (the numbers differ from base to base) fails here entry by
//! entry, instead of as one failed query. Types are compared in the vocabulary `discover` uses
//! (`discover::live`); each database's reader fills a [`LiveSchema`].

use tokio_postgres::Client;

use crate::discover::live::{expected_type, type_fits, LiveColumn, LiveSchema};
use crate::discover::storage::ValueKind;
use crate::source::namemap::{Column, NameMap};

/// The catalog, not `information_schema`: the latter hides the columns of tables the login has
/// no rights on, which would read as "missing" instead of "no rights".
const LIVE_COLUMNS_SQL: &str = "
SELECT c.relname::text, a.attname::text, t.typname::text, COALESCE(base.typname::text, '')
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type base ON base.oid = t.typbasetype AND t.typtype = 'd'
WHERE c.relname = ANY($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND pg_table_is_visible(c.oid)";

/// The mapped tables' names, for the reader that fetches their columns.
pub fn mapped_tables(map: &NameMap) -> Vec<String> {
    map.tables().map(|(_, table)| table.to_string()).collect()
}

/// The kind of value a 1C column name promises: references, composite type tags and table
/// codes (`…rref`, `…_type`, `…_rtref`) are binary, a composite's string part (`…_s`) a string,
/// a line number (`_lineno…`) a number; a plain `_fld…` holds whatever the attribute's type is,
/// so only its presence is checked.
fn expected_kind(column: &str) -> ValueKind {
    let column = column.to_ascii_lowercase();
    if column.ends_with("rref") || column.ends_with("_type") || column.ends_with("_rtref") {
        ValueKind::Binary
    } else if column.ends_with("_s") {
        ValueKind::String
    } else if column.starts_with("_lineno") {
        ValueKind::Number
    } else {
        ValueKind::Unknown
    }
}

/// Reads the columns of every mapped table of a PostgreSQL base and returns one line per
/// problem.
pub async fn check(client: &Client, map: &NameMap) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = client
        .query(LIVE_COLUMNS_SQL, &[&mapped_tables(map)])
        .await?;
    let mut live = LiveSchema::default();
    for row in &rows {
        let (table, column, type_name, base): (String, String, String, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let names = [type_name.as_str(), base.as_str()];
        live.insert(&table, LiveColumn::postgres(&column, &type_name, &names));
    }
    Ok(problems(map, &live))
}

/// Every mismatch between the map and the live columns, one line each, saying what to do.
/// Names compare without case (1C bases on MS SQL use case-insensitive collations).
pub fn problems(map: &NameMap, live: &LiveSchema) -> Vec<String> {
    let mut lines = Vec::new();
    for (name, table) in map.tables() {
        if live.table(table).is_none() {
            lines.push(format!(
                "name map entry `{name}`: table {table} does not exist in this database; \
                 regenerate the name map for this infobase"
            ));
        }
    }
    for (name, column) in map.fields() {
        let tables = owner_tables(map, name);
        let storage: Vec<&str> = match column {
            Column::Plain(column) => vec![column.as_str()],
            Column::Composite(parts) => parts.identifiers().collect(),
        };
        for column in storage {
            if let Some(problem) = column_problem(name, column, &tables, live) {
                lines.push(problem);
            }
        }
    }
    lines
}

/// The tables an attribute lives in: its owner's (the longest mapped prefix of its name), or
/// for a common attribute (`ОбщийРеквизит.X`) any mapped table.
fn owner_tables<'m>(map: &'m NameMap, attribute: &str) -> Vec<&'m str> {
    let owner = map
        .tables()
        .filter(|(name, _)| attribute.starts_with(&format!("{name}.")))
        .max_by_key(|(name, _)| name.len());
    match owner {
        Some((_, table)) => vec![table],
        None => map.tables().map(|(_, table)| table).collect(),
    }
}

fn column_problem(name: &str, column: &str, tables: &[&str], live: &LiveSchema) -> Option<String> {
    let expected = expected_kind(column);
    let found: Vec<(&str, &LiveColumn)> = tables
        .iter()
        .filter_map(|table| Some((*table, live.table(table)?.column(column)?)))
        .collect();
    let place = match tables {
        [table] => format!("table {table}"),
        _ => "any mapped table".to_string(),
    };
    if found.is_empty() {
        return Some(format!(
            "name map entry `{name}`: column {column} does not exist in {place}; \
             correct the entry from this infobase's storage structure"
        ));
    }
    let (table, wrong) = found.iter().find(|(_, c)| !type_fits(expected, c))?;
    Some(format!(
        "name map entry `{name}`: column {table}.{column} is {}, expected {}; \
         the entry points at another attribute",
        wrong.type_name,
        expected_type(expected)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::namemap::CompositeColumns;

    fn live(table: &str, column: &str, type_name: &str) -> (String, LiveColumn) {
        (
            table.to_string(),
            LiveColumn::postgres(column, type_name, &[type_name]),
        )
    }

    fn schema_of(columns: Vec<(String, LiveColumn)>) -> LiveSchema {
        let mut schema = LiveSchema::default();
        for (table, column) in columns {
            schema.insert(&table, column);
        }
        schema
    }

    fn map() -> NameMap {
        NameMap::default()
            .with_table("Документ.ЗаказНаряд", "_document10")
            .with_table("Документ.ЗаявкаНаРемонт", "_document11")
            .with_field(
                "Документ.ЗаказНаряд.Состояние",
                Column::Plain("_fld1rref".into()),
            )
            .with_field(
                "ОбщийРеквизит.СуммаДокумента",
                Column::Plain("_fld2".into()),
            )
            .with_field(
                "Документ.ЗаявкаНаРемонт.Заказчик",
                Column::Composite(CompositeColumns {
                    type_tag: "_fld3_type".into(),
                    rtref: Some("_fld3_rtref".into()),
                    rrref: "_fld3_rrref".into(),
                    string: Some("_fld3_s".into()),
                }),
            )
    }

    fn good_schema() -> Vec<(String, LiveColumn)> {
        vec![
            live("_document10", "_fld1rref", "bytea"),
            live("_document10", "_fld2", "numeric"),
            live("_document11", "_fld3_type", "bytea"),
            live("_document11", "_fld3_rtref", "bytea"),
            live("_document11", "_fld3_rrref", "bytea"),
            (
                "_document11".to_string(),
                LiveColumn::postgres("_fld3_s", "mvarchar", &["mvarchar", "text"]),
            ),
        ]
    }

    #[test]
    fn a_matching_schema_has_no_problems() {
        assert_eq!(
            problems(&map(), &schema_of(good_schema())),
            Vec::<String>::new()
        );
    }

    #[test]
    fn each_missing_or_mistyped_column_gets_one_line() {
        let mut schema = good_schema();
        schema.retain(|(_, c)| c.name != "_fld3_rrref");
        schema[0].1 = LiveColumn::postgres("_fld1rref", "numeric", &["numeric"]);
        assert_eq!(
            problems(&map(), &schema_of(schema)),
            vec![
                "name map entry `Документ.ЗаказНаряд.Состояние`: column _document10._fld1rref is numeric, expected bytea or binary(n); the entry points at another attribute",
                "name map entry `Документ.ЗаявкаНаРемонт.Заказчик`: column _fld3_rrref does not exist in table _document11; correct the entry from this infobase's storage structure",
            ]
        );
    }

    #[test]
    fn a_missing_table_and_a_column_in_the_wrong_table_are_named() {
        let schema: Vec<(String, LiveColumn)> = good_schema()
            .into_iter()
            .filter(|(table, _)| table != "_document10")
            .chain([live("_document11", "_fld1rref", "bytea")])
            .collect();
        let lines = problems(&map(), &schema_of(schema));
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(lines[0].contains("table _document10 does not exist"));
        assert!(lines[1].contains("column _fld1rref does not exist in table _document10"));
        assert!(lines[2].contains("column _fld2 does not exist in any mapped table"));
    }

    #[test]
    fn an_mssql_map_compares_with_the_servers_columns_in_any_case() {
        let map = NameMap::default()
            .with_table("Документ.ЗаказНаряд", "_Document10")
            .with_field(
                "Документ.ЗаказНаряд.Состояние",
                Column::Plain("_Fld1RRef".into()),
            )
            .with_field(
                "Документ.ЗаказНаряд.Заказчик",
                Column::Composite(CompositeColumns {
                    type_tag: "_Fld3_TYPE".into(),
                    rtref: Some("_Fld3_RTRef".into()),
                    rrref: "_Fld3_RRRef".into(),
                    string: Some("_Fld3_S".into()),
                }),
            );
        let mut live = LiveSchema::default();
        for (column, data_type, length) in [
            ("_FLD1RREF", "binary", Some(16)),
            ("_Fld3_TYPE", "binary", Some(1)),
            ("_Fld3_RTRef", "binary", Some(4)),
            ("_Fld3_RRRef", "binary", Some(16)),
            ("_Fld3_S", "nvarchar", Some(150)),
        ] {
            live.insert("_document10", LiveColumn::mssql(column, data_type, length));
        }
        assert_eq!(problems(&map, &live), Vec::<String>::new());
        live.insert("_document10", LiveColumn::mssql("_Fld3_S", "int", None));
        assert_eq!(
            problems(&map, &live),
            vec!["name map entry `Документ.ЗаказНаряд.Заказчик`: column _Document10._Fld3_S is int, expected mvarchar/mchar or nvarchar/nchar; the entry points at another attribute"]
        );
    }
}
