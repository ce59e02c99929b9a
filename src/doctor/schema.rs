//! The name map against the live PostgreSQL schema: every mapped table exists, every mapped
//! column exists in its table with the storage type its name promises. A map written for
//! another infobase (the numbers differ from base to base) fails here entry by entry, instead
//! of as one failed query.

use tokio_postgres::Client;

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

/// A column as the database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveColumn {
    pub table: String,
    pub column: String,
    /// The type's name (`bytea`, `numeric`, `mvarchar`, …).
    pub type_name: String,
    /// For a domain, the type it is based on; else empty.
    pub base_type: String,
}

/// The storage type a 1C column name promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    /// References, composite type tags and table codes: `…rref`, `…_type`, `…_rtref`.
    Binary,
    /// The string part of a composite attribute: `…_s`.
    Text,
    /// A tabular part's line number: `_lineno…`.
    Number,
    /// A plain `_fld…` holds whatever the attribute's type is; only its presence is checked.
    Any,
}

impl Expected {
    fn of(column: &str) -> Expected {
        if column.ends_with("rref") || column.ends_with("_type") || column.ends_with("_rtref") {
            Expected::Binary
        } else if column.ends_with("_s") {
            Expected::Text
        } else if column.starts_with("_lineno") {
            Expected::Number
        } else {
            Expected::Any
        }
    }

    fn accepts(self, live: &LiveColumn) -> bool {
        let is = |names: &[&str]| {
            names.contains(&live.type_name.as_str()) || names.contains(&live.base_type.as_str())
        };
        match self {
            Expected::Binary => is(&["bytea"]),
            Expected::Text => is(&["mvarchar", "mchar", "text", "varchar", "bpchar"]),
            Expected::Number => is(&["numeric"]),
            Expected::Any => true,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Expected::Binary => "bytea",
            Expected::Text => "a string type (mvarchar)",
            Expected::Number => "numeric",
            Expected::Any => "any type",
        }
    }
}

/// Reads the columns of every mapped table and returns one line per problem.
pub async fn check(client: &Client, map: &NameMap) -> Result<Vec<String>, tokio_postgres::Error> {
    let tables: Vec<String> = map.tables().map(|(_, table)| table.to_string()).collect();
    let rows = client.query(LIVE_COLUMNS_SQL, &[&tables]).await?;
    let live: Vec<LiveColumn> = rows
        .iter()
        .map(|row| LiveColumn {
            table: row.get(0),
            column: row.get(1),
            type_name: row.get(2),
            base_type: row.get(3),
        })
        .collect();
    Ok(problems(map, &live))
}

/// Every mismatch between the map and the live columns, one line each, saying what to do.
pub fn problems(map: &NameMap, live: &[LiveColumn]) -> Vec<String> {
    let mut lines = Vec::new();
    for (name, table) in map.tables() {
        if !live.iter().any(|c| c.table == table) {
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

fn column_problem(
    name: &str,
    column: &str,
    tables: &[&str],
    live: &[LiveColumn],
) -> Option<String> {
    let expected = Expected::of(column);
    let found: Vec<&LiveColumn> = live
        .iter()
        .filter(|c| c.column == column && tables.contains(&c.table.as_str()))
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
    let wrong = found.iter().find(|c| !expected.accepts(c))?;
    Some(format!(
        "name map entry `{name}`: column {}.{column} is {}, expected {}; \
         the entry points at another attribute",
        wrong.table,
        wrong.type_name,
        expected.describe()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::namemap::CompositeColumns;

    fn live(table: &str, column: &str, type_name: &str) -> LiveColumn {
        LiveColumn {
            table: table.into(),
            column: column.into(),
            type_name: type_name.into(),
            base_type: String::new(),
        }
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

    fn good_schema() -> Vec<LiveColumn> {
        vec![
            live("_document10", "_fld1rref", "bytea"),
            live("_document10", "_fld2", "numeric"),
            live("_document11", "_fld3_type", "bytea"),
            live("_document11", "_fld3_rtref", "bytea"),
            live("_document11", "_fld3_rrref", "bytea"),
            LiveColumn {
                base_type: "text".into(),
                ..live("_document11", "_fld3_s", "mvarchar")
            },
        ]
    }

    #[test]
    fn a_matching_schema_has_no_problems() {
        assert_eq!(problems(&map(), &good_schema()), Vec::<String>::new());
    }

    #[test]
    fn each_missing_or_mistyped_column_gets_one_line() {
        let mut schema = good_schema();
        schema.retain(|c| c.column != "_fld3_rrref");
        schema[0].type_name = "numeric".into();
        assert_eq!(
            problems(&map(), &schema),
            vec![
                "name map entry `Документ.ЗаказНаряд.Состояние`: column _document10._fld1rref is numeric, expected bytea; the entry points at another attribute",
                "name map entry `Документ.ЗаявкаНаРемонт.Заказчик`: column _fld3_rrref does not exist in table _document11; correct the entry from this infobase's storage structure",
            ]
        );
    }

    #[test]
    fn a_missing_table_and_a_column_in_the_wrong_table_are_named() {
        let schema: Vec<LiveColumn> = good_schema()
            .into_iter()
            .filter(|c| c.table != "_document10")
            .chain([live("_document11", "_fld1rref", "bytea")])
            .collect();
        let lines = problems(&map(), &schema);
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(lines[0].contains("table _document10 does not exist"));
        assert!(lines[1].contains("column _fld1rref does not exist in table _document10"));
        assert!(lines[2].contains("column _fld2 does not exist in any mapped table"));
    }
}
