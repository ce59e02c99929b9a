//! No MS SQL statement of the tool uses a T-SQL reserved word as a bare identifier: every
//! identifier of the register's statements and of the 1C source's queries (rendered from a
//! generated name map, for both presets) is checked against Microsoft's three lists — SQL
//! Server reserved keywords, ODBC reserved keywords and future keywords
//! (`tests/data/tsql_reserved.txt`) — and every column type of the register's tables must be a
//! T-SQL type. A parser accepting a statement is no proof that SQL Server does: the register's
//! `checkpoint` column parsed, and SQL Server refuses it (Msg 156).

use std::collections::BTreeSet;

use sqlparser::ast::Statement as Ast;
use sqlparser::dialect::MsSqlDialect;
use sqlparser::parser::Parser;

use alfa_calltouch::register::mssql as register;
use alfa_calltouch::source::mssql::statements;
use alfa_calltouch::source::namemap::Dialect;
use alfa_calltouch::source::settings::Preset;
use testkit::fixture::storage_name_map;

/// The words of all three lists, upper case.
fn reserved() -> BTreeSet<String> {
    include_str!("data/tsql_reserved.txt")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with('['))
        .flat_map(str::split_whitespace)
        .map(str::to_ascii_uppercase)
        .collect()
}

/// Every statement the MS SQL register sends, by name.
fn register_statements() -> Vec<(String, String)> {
    let schema = "alfa_calltouch";
    let mut all = register::bootstrap(schema);
    for version in 1..=register::SCHEMA_VERSION {
        all.extend(register::migration(version, schema));
    }
    all.extend(register::operations(schema));
    all.into_iter()
        .map(|s| (format!("register: {}", s.name), s.sql))
        .collect()
}

/// Every statement the MS SQL source sends, for each preset and a random name map.
fn source_statements() -> Vec<(String, String)> {
    let mut all = Vec::new();
    for preset in [Preset::Alfa6, Preset::Alfa5] {
        let seed = fastrand::u64(..);
        let map = storage_name_map(preset, seed, Dialect::MsSql);
        for (name, sql) in statements(preset, &map).expect("renders") {
            all.push((
                format!("source {} (seed {seed}): {name}", preset.code()),
                sql,
            ));
        }
    }
    all
}

/// The identifiers a statement spells without `[]` or quotes, leaving out function names
/// (`COALESCE(…)` is the keyword used as the grammar means it). Read from the parsed tree, so
/// keywords used as keywords are not identifiers.
fn bare_identifiers(sql: &str) -> Vec<String> {
    let tree = Parser::parse_sql(&MsSqlDialect {}, sql)
        .unwrap_or_else(|e| panic!("does not parse as T-SQL ({e}):\n{sql}"));
    let text = format!("{tree:?}");
    let marker = "Ident { value: \"";
    let mut found = Vec::new();
    let mut rest = text.as_str();
    let mut offset = 0;
    while let Some(at) = rest.find(marker) {
        let start = offset + at;
        let value_start = start + marker.len();
        let value_end = value_start + text[value_start..].find('"').expect("closing quote");
        let value = &text[value_start..value_end];
        let after = &text[value_end..];
        let bare = after.starts_with("\", quote_style: None");
        let function = text[..start].ends_with("Function { name: ObjectName([");
        if bare && !function {
            found.push(value.to_string());
        }
        offset = value_end;
        rest = &text[value_end..];
    }
    found
}

/// Bare identifiers that are reserved words: what SQL Server would refuse or may one day.
fn reserved_identifiers(sql: &str, reserved: &BTreeSet<String>) -> Vec<String> {
    bare_identifiers(sql)
        .into_iter()
        .filter(|word| reserved.contains(&word.to_ascii_uppercase()))
        .collect()
}

#[test]
fn the_word_lists_are_microsofts_whole_lists() {
    let words = reserved();
    // 186 + 235 + 273 entries, many of them in more than one list.
    assert!(words.len() > 400, "{} words", words.len());
    for word in [
        "CHECKPOINT",
        "STATE",
        "AT",
        "VALUE",
        "DATA",
        "LABEL",
        "ZONE",
        "TRY_CONVERT",
    ] {
        assert!(words.contains(word), "{word}");
    }
}

#[test]
fn a_bare_reserved_column_is_found() {
    let words = reserved();
    let old = "SELECT checkpoint, since FROM [alfa_calltouch].checkpoints WHERE source = @P1";
    assert_eq!(reserved_identifiers(old, &words), vec!["checkpoint"]);
    let quoted =
        "SELECT [checkpoint], [since] FROM [alfa_calltouch].[checkpoints] WHERE [source] = @P1";
    assert!(reserved_identifiers(quoted, &words).is_empty());
    let function = "SELECT COALESCE(MAX([version]), 0) FROM [s].[schema_version]";
    assert!(reserved_identifiers(function, &words).is_empty());
}

#[test]
fn no_ms_sql_statement_uses_a_reserved_word_as_an_identifier() {
    let words = reserved();
    let mut problems = Vec::new();
    let all: Vec<_> = register_statements()
        .into_iter()
        .chain(source_statements())
        .collect();
    assert!(all.len() > 40, "{} statements", all.len());
    for (name, sql) in &all {
        let bad = reserved_identifiers(sql, &words);
        if !bad.is_empty() {
            problems.push(format!("{name}: {bad:?} must be written [name]"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The T-SQL data types (SQL Server's «Data types (Transact-SQL)» list).
const TSQL_TYPES: &[&str] = &[
    "bigint",
    "int",
    "smallint",
    "tinyint",
    "bit",
    "decimal",
    "numeric",
    "money",
    "smallmoney",
    "float",
    "real",
    "date",
    "datetime2",
    "datetime",
    "datetimeoffset",
    "smalldatetime",
    "time",
    "char",
    "varchar",
    "nchar",
    "nvarchar",
    "binary",
    "varbinary",
    "uniqueidentifier",
    "xml",
    "rowversion",
    "sql_variant",
];

#[test]
fn every_column_of_the_register_has_a_t_sql_type() {
    let mut columns = 0;
    for (name, sql) in register_statements() {
        for statement in Parser::parse_sql(&MsSqlDialect {}, &sql).expect("parses") {
            let Ast::CreateTable(table) = statement else {
                continue;
            };
            for column in &table.columns {
                columns += 1;
                let spelled = column.data_type.to_string().to_ascii_lowercase();
                let base = spelled.split('(').next().unwrap_or_default().trim();
                assert!(
                    TSQL_TYPES.contains(&base),
                    "{name}: column {} has type {spelled}, which T-SQL does not have",
                    column.name
                );
            }
        }
    }
    assert!(columns >= 40, "{columns} columns checked");
}
