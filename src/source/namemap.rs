//! The name map: which storage table and column holds which 1C metadata object and attribute in
//! one particular database.
//!
//! Storage numbers (`_document245`, `_fld5678rref`) differ from one infobase to the next, so the
//! queries name 1C metadata and this map translates. It is one TOML file per database, written to
//! be read and diffed by people:
//!
//! ```toml
//! [tables]
//! "Документ.ЗаказНаряд" = "_document245"
//! "Справочник.Контрагенты.КонтактнаяИнформация" = "_reference57_vt1234"   # tabular part
//!
//! [fields]
//! "Документ.ЗаказНаряд.Состояние" = "_fld5678rref"
//! "ОбщийРеквизит.СуммаДокумента" = "_fld900"     # common attribute: same column in each table
//! "Документ.ЗаявкаНаРемонт.Автомобиль" = { type = "_fld100_type", rtref = "_fld100_rtref", rrref = "_fld100_rrref", string = "_fld100_s" }
//! "Документ.ЗаявкаНаРемонт.Заказчик" = { type = "_fld101_type", rrref = "_fld101_rrref", string = "_fld101_s" }  # one reference type: no rtref
//!
//! [enums]
//! "Перечисление.СостояниеЗаявкиНаРемонт" = ["Подтверждено", "НеУказано", "Отклонено"]  # in _EnumOrder order
//! ```
//!
//! MS SQL storage names are written as the platform creates them (`_Document245`,
//! `_Fld5678RRef`); PostgreSQL ones are lower case, as PostgreSQL folds unquoted names.
//!
//! Every storage name is checked when the file is loaded (a safe identifier in either dialect),
//! and again by the query renderer with [`checked_identifier`] for the database's [`Dialect`],
//! because these names are pasted into SQL text.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// A name-map problem, naming the entry at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameMapError {
    #[error("cannot read name map {path}: {message}")]
    Read { path: String, message: String },
    #[error("name map is not valid TOML: {0}")]
    Parse(String),
    #[error("name map entry `{name}`: storage name {value:?} is not a safe identifier for {dialect} (expected {expected})")]
    BadIdentifier {
        name: String,
        value: String,
        dialect: Dialect,
        expected: &'static str,
    },
    #[error("name map has no entry for `{0}`")]
    Missing(String),
    #[error("name map entry `{name}`: {message}")]
    Invalid { name: String, message: String },
}

/// The columns of one attribute.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Column {
    /// A single-type attribute: one column (`_fld123`, `_fld123rref`).
    Plain(String),
    /// A composite-type attribute (several types): a type tag, a table code and a reference,
    /// plus a string column when strings are among the types.
    Composite(CompositeColumns),
}

/// The storage columns of a composite-type attribute. Which of them exist is the attribute's
/// shape in this base, and the query renderer follows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompositeColumns {
    /// `_fld{K}_type`: 0x01 undefined, 0x05 string, 0x08 reference.
    #[serde(rename = "type")]
    pub type_tag: String,
    /// `_fld{K}_rtref`: the referenced table's code, 4 bytes big-endian. The platform creates it
    /// only when more than one reference type is allowed.
    #[serde(default)]
    pub rtref: Option<String>,
    /// `_fld{K}_rrref`: the referenced row's `_idrref`.
    pub rrref: String,
    /// `_fld{K}_s`: the string value, when the type allows strings.
    #[serde(default)]
    pub string: Option<String>,
}

impl CompositeColumns {
    /// Every storage column of the attribute.
    pub fn identifiers(&self) -> impl Iterator<Item = &str> {
        [Some(&self.type_tag), self.rtref.as_ref(), Some(&self.rrref)]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .chain(self.string.as_deref())
    }
}

/// 1C metadata names → storage names of one database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameMap {
    /// `Документ.X`, `Справочник.X`, `Перечисление.X`, `РегистрСведений.X`, and tabular parts
    /// `Справочник.X.ТабличнаяЧасть` → table names.
    #[serde(default)]
    tables: BTreeMap<String, String>,
    /// `Документ.X.Реквизит`, `ОбщийРеквизит.X`, … → columns.
    #[serde(default)]
    fields: BTreeMap<String, Column>,
    /// `Перечисление.X` → value names in `_EnumOrder` order (the database holds no names).
    #[serde(default)]
    enums: BTreeMap<String, Vec<String>>,
}

/// The SQL dialect storage names are pasted into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    MsSql,
}

impl Dialect {
    /// PostgreSQL folds unquoted names to lower case, so 1C's are all lower case there and an
    /// upper-case name in a PostgreSQL map is a mistake; MS SQL keeps the platform's spelling.
    fn allows_letter(self, c: char) -> bool {
        match self {
            Dialect::Postgres => c.is_ascii_lowercase(),
            Dialect::MsSql => c.is_ascii_alphabetic(),
        }
    }

    /// The longest identifier the server accepts.
    fn max_identifier_len(self) -> usize {
        match self {
            Dialect::Postgres => 63,
            Dialect::MsSql => 128,
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Dialect::Postgres => "lower-case `_name` of letters, digits and `_`",
            Dialect::MsSql => "`_Name` of ASCII letters, digits and `_`",
        }
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::MsSql => "MS SQL",
        })
    }
}

/// Checks that a storage name is safe to paste into SQL of `dialect`: `_` then ASCII letters the
/// dialect allows, digits and `_`, not longer than the server allows.
pub fn checked_identifier<'a>(
    dialect: Dialect,
    name: &str,
    value: &'a str,
) -> Result<&'a str, NameMapError> {
    let mut chars = value.chars();
    let safe = chars.next() == Some('_')
        && value.len() > 1
        && value.len() <= dialect.max_identifier_len()
        && chars.all(|c| dialect.allows_letter(c) || c.is_ascii_digit() || c == '_');
    if safe {
        Ok(value)
    } else {
        Err(NameMapError::BadIdentifier {
            name: name.to_string(),
            value: value.to_string(),
            dialect,
            expected: dialect.expected(),
        })
    }
}

/// The load-time check: safe in the most permissive dialect. The renderer checks again for the
/// dialect of the database the query goes to.
fn loadable_identifier<'a>(name: &str, value: &'a str) -> Result<&'a str, NameMapError> {
    checked_identifier(Dialect::MsSql, name, value)
}

impl NameMap {
    /// Reads and checks a name-map file.
    pub fn load(path: &Path) -> Result<NameMap, NameMapError> {
        let text = std::fs::read_to_string(path).map_err(|e| NameMapError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        NameMap::parse(&text)
    }

    /// Parses and checks name-map text.
    pub fn parse(text: &str) -> Result<NameMap, NameMapError> {
        let map: NameMap = toml::from_str(text).map_err(|e| NameMapError::Parse(e.to_string()))?;
        map.check()?;
        Ok(map)
    }

    /// Every storage name is a safe identifier and every enum lists distinct, non-empty names.
    pub fn check(&self) -> Result<(), NameMapError> {
        for (name, table) in &self.tables {
            loadable_identifier(name, table)?;
        }
        for (name, column) in &self.fields {
            match column {
                Column::Plain(value) => {
                    loadable_identifier(name, value)?;
                }
                Column::Composite(parts) => {
                    for value in parts.identifiers() {
                        loadable_identifier(name, value)?;
                    }
                }
            }
        }
        for (name, values) in &self.enums {
            let mut seen = std::collections::BTreeSet::new();
            if let Some(bad) = values
                .iter()
                .find(|v| v.trim().is_empty() || !seen.insert(v.as_str()))
            {
                return Err(NameMapError::Invalid {
                    name: name.clone(),
                    message: format!("enum value {bad:?} is empty or repeated"),
                });
            }
        }
        Ok(())
    }

    /// The table of a metadata object, e.g. `Документ.ЗаказНаряд`.
    pub fn table(&self, name: &str) -> Option<&str> {
        self.tables.get(name).map(String::as_str)
    }

    /// The columns of an attribute, e.g. `Документ.ЗаказНаряд.Состояние`.
    pub fn field(&self, name: &str) -> Option<&Column> {
        self.fields.get(name)
    }

    /// The value names of an enum in `_EnumOrder` order, or an error naming the missing enum.
    pub fn enum_values(&self, name: &str) -> Result<&[String], NameMapError> {
        self.enums
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| NameMapError::Missing(name.to_string()))
    }

    /// Every table entry: metadata name → table.
    pub fn tables(&self) -> impl Iterator<Item = (&str, &str)> {
        self.tables.iter().map(|(n, t)| (n.as_str(), t.as_str()))
    }

    /// Every attribute entry: metadata name → columns.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &Column)> {
        self.fields.iter().map(|(n, c)| (n.as_str(), c))
    }

    /// Requires an entry of any kind, for a clear message at start.
    pub fn require(&self, name: &str) -> Result<(), NameMapError> {
        let known = self.tables.contains_key(name)
            || self.fields.contains_key(name)
            || self.enums.contains_key(name);
        known
            .then_some(())
            .ok_or_else(|| NameMapError::Missing(name.to_string()))
    }

    /// Adds a table entry (used by generators; `check` and the renderer validate it).
    pub fn with_table(mut self, name: &str, table: &str) -> Self {
        self.tables.insert(name.to_string(), table.to_string());
        self
    }

    /// Adds an attribute entry.
    pub fn with_field(mut self, name: &str, column: Column) -> Self {
        self.fields.insert(name.to_string(), column);
        self
    }

    /// Adds an enum's value names in `_EnumOrder` order.
    pub fn with_enum(mut self, name: &str, values: &[&str]) -> Self {
        self.enums.insert(
            name.to_string(),
            values.iter().map(|v| v.to_string()).collect(),
        );
        self
    }

    /// The map as TOML in the documented layout: one line per entry, sorted, diff-friendly.
    pub fn to_toml(&self) -> String {
        let quote = toml_string;
        let mut out = String::from("[tables]\n");
        for (name, table) in &self.tables {
            out += &format!("{} = {}\n", quote(name), quote(table));
        }
        out += "\n[fields]\n";
        for (name, column) in &self.fields {
            let value = match column {
                Column::Plain(value) => quote(value),
                Column::Composite(c) => {
                    let optional = |key: &str, value: &Option<String>| {
                        value
                            .as_deref()
                            .map(|v| format!(", {key} = {}", quote(v)))
                            .unwrap_or_default()
                    };
                    format!(
                        "{{ type = {}{}, rrref = {}{} }}",
                        quote(&c.type_tag),
                        optional("rtref", &c.rtref),
                        quote(&c.rrref),
                        optional("string", &c.string)
                    )
                }
            };
            out += &format!("{} = {value}\n", quote(name));
        }
        out += "\n[enums]\n";
        for (name, values) in &self.enums {
            let list: Vec<String> = values.iter().map(|v| quote(v)).collect();
            out += &format!("{} = [{}]\n", quote(name), list.join(", "));
        }
        out
    }
}

/// A TOML basic string (`"…"` with escapes), valid as a key and as a value. The toml crate's own
/// writer picks a multi-line literal (`'''…'''`) for text with quotes and backslashes, which is
/// no valid key: a name map with such a name could not be read back (found by fuzzing).
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_quotes_backslashes_and_control_characters_are_written_readably() {
        let odd = "Доку'мент\\\\'\\\"x\"\u{1}\n.ЗаказНаряд";
        let map = NameMap::default()
            .with_table(odd, "_document245")
            .with_enum("Перечисление.'Q'", &["a\\b", "'''"]);
        let text = map.to_toml();
        let again = NameMap::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(again.table(odd), Some("_document245"));
        assert_eq!(
            again.enum_values("Перечисление.'Q'").unwrap(),
            ["a\\b".to_string(), "'''".to_string()]
        );
    }

    const SAMPLE: &str = r#"
[tables]
"Документ.ЗаказНаряд" = "_document245"
"Справочник.Контрагенты.КонтактнаяИнформация" = "_reference57_vt1234"

[fields]
"Документ.ЗаказНаряд.Состояние" = "_fld5678rref"
"Документ.ЗаявкаНаРемонт.Заказчик" = { type = "_fld100_type", rtref = "_fld100_rtref", rrref = "_fld100_rrref", string = "_fld100_s" }
"Документ.ЗаявкаНаРемонт.Контрагент" = { type = "_fld101_type", rrref = "_fld101_rrref", string = "_fld101_s" }

[enums]
"Перечисление.СостояниеЗаявкиНаРемонт" = ["Подтверждено", "НеУказано", "Отклонено"]
"#;

    #[test]
    fn parses_tables_fields_composites_and_enums() {
        let map = NameMap::parse(SAMPLE).unwrap();
        assert_eq!(map.table("Документ.ЗаказНаряд"), Some("_document245"));
        assert_eq!(
            map.field("Документ.ЗаказНаряд.Состояние"),
            Some(&Column::Plain("_fld5678rref".into()))
        );
        let Some(Column::Composite(c)) = map.field("Документ.ЗаявкаНаРемонт.Заказчик")
        else {
            panic!("composite expected");
        };
        assert_eq!(c.string.as_deref(), Some("_fld100_s"));
        let Some(Column::Composite(one_reference)) =
            map.field("Документ.ЗаявкаНаРемонт.Контрагент")
        else {
            panic!("composite expected");
        };
        assert_eq!(one_reference.rtref, None);
        assert_eq!(
            map.enum_values("Перечисление.СостояниеЗаявкиНаРемонт")
                .unwrap()[1],
            "НеУказано"
        );
    }

    #[test]
    fn round_trips_through_its_own_toml() {
        let map = NameMap::parse(SAMPLE).unwrap();
        assert_eq!(NameMap::parse(&map.to_toml()).unwrap(), map);
    }

    #[test]
    fn refuses_unsafe_identifiers() {
        for bad in ["document1", "_doc; drop table x", "_doc\"x", "_"] {
            let text = format!("[tables]\n\"Документ.ЗаказНаряд\" = {bad:?}\n");
            let err = NameMap::parse(&text).unwrap_err();
            assert!(
                matches!(&err, NameMapError::BadIdentifier { name, .. } if name == "Документ.ЗаказНаряд"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn upper_case_is_for_ms_sql_only() {
        let text = "[tables]\n\"Документ.ЗаказНаряд\" = \"_Document245\"\n";
        let map = NameMap::parse(text).unwrap();
        let table = map.table("Документ.ЗаказНаряд").unwrap();
        assert!(checked_identifier(Dialect::MsSql, "x", table).is_ok());
        let err = checked_identifier(Dialect::Postgres, "x", table).unwrap_err();
        assert!(err.to_string().contains("PostgreSQL"), "{err}");
        assert!(checked_identifier(Dialect::Postgres, "x", "_document245").is_ok());
        assert!(
            checked_identifier(Dialect::Postgres, "x", &format!("_{}", "a".repeat(63))).is_err()
        );
        assert!(checked_identifier(Dialect::MsSql, "x", &format!("_{}", "a".repeat(63))).is_ok());
    }

    #[test]
    fn missing_entries_are_named() {
        let map = NameMap::parse(SAMPLE).unwrap();
        assert_eq!(
            map.require("Документ.СводныйРемонтныйЗаказ")
                .unwrap_err()
                .to_string(),
            "name map has no entry for `Документ.СводныйРемонтныйЗаказ`"
        );
        assert!(map.enum_values("Перечисление.Нет").is_err());
    }

    #[test]
    fn repeated_enum_values_are_refused() {
        let text = "[enums]\n\"Перечисление.X\" = [\"А\", \"А\"]\n";
        assert!(matches!(
            NameMap::parse(text),
            Err(NameMapError::Invalid { .. })
        ));
    }
}
