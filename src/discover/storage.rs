//! What a database stores where, by 1C name, as learnt from the metadata or from an exported
//! storage structure — with the value kind of each column where it is known, so the live check
//! can compare types. [`Storage::select`] turns it into the name map of one preset.

use std::collections::BTreeMap;

use crate::source::namemap::{Column, CompositeColumns, NameMap};

/// The kind of value a column holds, which decides its expected SQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A reference, a composite's type tag or table code, a binary value: `bytea`.
    Binary,
    /// `mvarchar` / `mchar`.
    String,
    Number,
    Date,
    Boolean,
    /// Known only by name (an imported structure does not say).
    Unknown,
}

/// One storage column and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredColumn {
    pub name: String,
    pub kind: ValueKind,
}

impl StoredColumn {
    pub fn new(name: impl Into<String>, kind: ValueKind) -> StoredColumn {
        StoredColumn {
            name: name.into().to_ascii_lowercase(),
            kind,
        }
    }
}

/// The columns of an attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Plain(StoredColumn),
    /// Composite: `_type`, and `_rtref` (several reference types), `_rrref` (any reference
    /// type), `_s` (strings) when present.
    Composite {
        type_tag: String,
        rtref: Option<String>,
        rrref: Option<String>,
        string: Option<String>,
    },
}

impl Field {
    /// Every column with its kind, for the live check.
    pub fn columns(&self) -> Vec<StoredColumn> {
        match self {
            Field::Plain(column) => vec![column.clone()],
            Field::Composite {
                type_tag,
                rtref,
                rrref,
                string,
            } => {
                let binary = [Some(type_tag), rtref.as_ref(), rrref.as_ref()]
                    .into_iter()
                    .flatten()
                    .map(|c| StoredColumn::new(c.as_str(), ValueKind::Binary));
                let text = string
                    .iter()
                    .map(|c| StoredColumn::new(c.as_str(), ValueKind::String));
                binary.chain(text).collect()
            }
        }
    }

    /// Renames every column (to the spelling the database uses).
    pub fn rename_columns(&mut self, rename: impl Fn(&str) -> String) {
        match self {
            Field::Plain(column) => column.name = rename(&column.name),
            Field::Composite {
                type_tag,
                rtref,
                rrref,
                string,
            } => {
                *type_tag = rename(type_tag);
                for column in [rtref, rrref, string].into_iter().flatten() {
                    *column = rename(column);
                }
            }
        }
    }

    /// The name-map form: every shape the platform creates for a reference-holding attribute
    /// (`_rtref` only with several reference types, `_s` only with strings).
    fn to_column(&self) -> Result<Column, String> {
        match self {
            Field::Plain(column) => Ok(Column::Plain(column.name.clone())),
            Field::Composite {
                type_tag,
                rtref,
                rrref: Some(rrref),
                string,
            } => Ok(Column::Composite(CompositeColumns {
                type_tag: type_tag.clone(),
                rtref: rtref.clone(),
                rrref: rrref.clone(),
                string: string.clone(),
            })),
            Field::Composite { .. } => Err(
                "composite with no reference type (no `_rrref` column): the tool reads only attributes that can hold a reference or a single value"
                    .to_string(),
            ),
        }
    }
}

/// An attribute and the 1C table it lives in (`None` for a common attribute: every table that
/// uses it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldEntry {
    pub owner: Option<String>,
    pub field: Field,
}

/// Enum values by stored reference (`_idrref` bytes) and name.
pub type ValuesByReference = Vec<([u8; 16], String)>;

/// An enum's values: already in `_EnumOrder` order, or by stored reference (ordered by the
/// live `_enumorder`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnumValues {
    Ordered(Vec<String>),
    ByReference(ValuesByReference),
}

/// Storage names by 1C name, plus the reason for each name that could not be resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Storage {
    pub tables: BTreeMap<String, String>,
    pub fields: BTreeMap<String, FieldEntry>,
    pub enums: BTreeMap<String, EnumValues>,
    pub problems: BTreeMap<String, String>,
}

/// An entry the name map needs but could not be resolved, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    pub name: String,
    pub reason: String,
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.reason)
    }
}

impl Storage {
    pub fn add_problem(&mut self, name: &str, reason: impl Into<String>) {
        self.problems.insert(name.to_string(), reason.into());
    }

    /// The name map with exactly the `required` entries (enums ordered), and what is missing.
    /// Enum values must be [`EnumValues::Ordered`] by now.
    pub fn select(&self, required: &[String]) -> (NameMap, Vec<Unresolved>) {
        let mut map = NameMap::default();
        let mut missing = Vec::new();
        for name in required {
            let mut found = false;
            if let Some(table) = self.tables.get(name) {
                map = map.with_table(name, table);
                found = true;
            }
            if let Some(EnumValues::Ordered(values)) = self.enums.get(name) {
                let values: Vec<&str> = values.iter().map(String::as_str).collect();
                map = map.with_enum(name, &values);
                found = true;
            }
            if let Some(entry) = self.fields.get(name) {
                match entry.field.to_column() {
                    Ok(column) => {
                        map = map.with_field(name, column);
                        found = true;
                    }
                    Err(reason) => {
                        missing.push(Unresolved {
                            name: name.clone(),
                            reason,
                        });
                        continue;
                    }
                }
            }
            if !found {
                let reason = self
                    .problems
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| "not found".to_string());
                missing.push(Unresolved {
                    name: name.clone(),
                    reason,
                });
            }
        }
        (map, missing)
    }
}

/// The 1C table a field of `name` lives in: everything before the last dot, unless it is a
/// common attribute.
pub fn owner_of(name: &str) -> Option<String> {
    if name.starts_with("ОбщийРеквизит.") {
        return None;
    }
    name.rsplit_once('.').map(|(owner, _)| owner.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_required_entries_and_names_what_is_missing() {
        let mut storage = Storage::default();
        storage
            .tables
            .insert("Документ.А".into(), "_document1".into());
        storage
            .tables
            .insert("Документ.Лишний".into(), "_document2".into());
        storage.fields.insert(
            "Документ.А.Связь".into(),
            FieldEntry {
                owner: owner_of("Документ.А.Связь"),
                field: Field::Composite {
                    type_tag: "_fld3_type".into(),
                    rtref: None,
                    rrref: Some("_fld3_rrref".into()),
                    string: None,
                },
            },
        );
        storage.fields.insert(
            "Документ.А.Число".into(),
            FieldEntry {
                owner: owner_of("Документ.А.Число"),
                field: Field::Composite {
                    type_tag: "_fld4_type".into(),
                    rtref: None,
                    rrref: None,
                    string: Some("_fld4_s".into()),
                },
            },
        );
        storage.add_problem("Документ.Б", "not in the configuration");
        let required = [
            "Документ.А",
            "Документ.А.Связь",
            "Документ.А.Число",
            "Документ.Б",
            "Документ.В",
        ]
        .map(String::from);
        let (map, missing) = storage.select(&required);
        assert_eq!(map.table("Документ.А"), Some("_document1"));
        assert_eq!(map.table("Документ.Лишний"), None);
        // A composite with one reference type has no `_rtref`, and maps all the same.
        assert_eq!(
            map.field("Документ.А.Связь"),
            Some(&Column::Composite(CompositeColumns {
                type_tag: "_fld3_type".into(),
                rtref: None,
                rrref: "_fld3_rrref".into(),
                string: None,
            }))
        );
        let names: Vec<&str> = missing.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["Документ.А.Число", "Документ.Б", "Документ.В"]);
        assert_eq!(missing[1].reason, "not in the configuration");
        assert_eq!(missing[2].reason, "not found");
    }

    #[test]
    fn owners_are_the_name_without_its_last_part() {
        assert_eq!(
            owner_of("Справочник.К.ТЧ.Тип").as_deref(),
            Some("Справочник.К.ТЧ")
        );
        assert_eq!(owner_of("ОбщийРеквизит.СуммаДокумента"), None);
    }
}
