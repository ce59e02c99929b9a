//! Building the name map without hand work: from the 1C database's own metadata (`discover`) or
//! from a storage structure exported by 1C (`import-structure`), always checked against the live
//! schema.
//!
//! The metadata route: `Params/DBNames` gives storage numbers by metadata UUID
//! ([`dbnames`]); `Config/root` → the configuration file → object UUIDs by kind; each needed
//! object's `Config` file gives names, attributes, types, tabular parts and enum values
//! ([`metadata`]). Joining them yields [`storage::Storage`]; [`live::check`] confirms every entry
//! against `information_schema`, prefers extension `x1` tables and orders enum values by the
//! live `_enumorder`; [`storage::Storage::select`] keeps exactly what the preset's queries use.
//!
//! The database is reached through two small traits, [`MetadataStore`] and
//! [`live::LiveDatabase`]: [`postgres`] reads a PostgreSQL base, [`mssql`] an MS SQL one; every
//! parser is shared.

pub mod blob;
pub mod brace;
pub mod command;
pub mod dbnames;
pub mod live;
pub mod metadata;
pub mod mssql;
pub mod postgres;
pub mod storage;
pub mod structure;

use std::collections::{BTreeMap, BTreeSet};

use blob::{file_text, BlobError};
use dbnames::{DbNames, DbNamesError};
use metadata::{Attribute, MetadataError, Object, ObjectKind, TabularPart, TypeSet};
use storage::{EnumValues, Field, FieldEntry, Storage, StoredColumn, ValueKind};

use crate::domain::snapshot::DocRef;

/// A failure that stops discovery; entries that merely cannot be resolved are reported instead.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    DbNames(#[from] DbNamesError),
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error("reading the 1C database: {0}")]
    Database(String),
    #[error("storage structure file: {0}")]
    Structure(String),
}

/// Reads the platform's service tables. Implementations issue only SELECTs.
#[allow(async_fn_in_trait)]
pub trait MetadataStore {
    /// The `BinaryData` parts of a `Params` file in `PartNo` order; empty if there is none.
    async fn params_file(&self, name: &str) -> Result<Vec<Vec<u8>>, DiscoverError>;
    /// The parts of `Config` files by lower-case file name; absent files are left out.
    async fn config_files(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, Vec<Vec<u8>>>, DiscoverError>;
}

/// The objects the `required` names belong to, by kind: `Документ.X.Y` needs `Документ.X`.
fn needed_objects(
    required: &[String],
    storage: &mut Storage,
) -> BTreeMap<ObjectKind, BTreeSet<String>> {
    let mut needed: BTreeMap<ObjectKind, BTreeSet<String>> = BTreeMap::new();
    for name in required {
        let mut parts = name.split('.');
        match (parts.next().and_then(ObjectKind::from_prefix), parts.next()) {
            (Some(kind), Some(object)) => {
                needed.entry(kind).or_default().insert(object.to_string());
            }
            _ => storage.add_problem(name, "not a metadata name this tool can discover"),
        }
    }
    needed
}

/// Reads the metadata of every object the `required` names belong to.
pub async fn read_metadata(
    store: &impl MetadataStore,
    required: &[String],
) -> Result<Storage, DiscoverError> {
    let mut storage = Storage::default();
    let dbnames = DbNames::parse(&file_text(
        "Params",
        "DBNames",
        &store.params_file("DBNames").await?,
    )?)?;
    let configuration = metadata::root_file(&one_config_file(store, "root").await?)?;
    let lists = metadata::object_lists(
        &configuration,
        &one_config_file(store, &configuration).await?,
    )?;
    for (kind, names) in needed_objects(required, &mut storage) {
        let uuids = lists.get(&kind).cloned().unwrap_or_default();
        let files = store.config_files(&uuids).await?;
        let found = find_objects(kind, &names, &files, &mut storage);
        for object in found {
            add_object(&mut storage, &dbnames, &object);
        }
    }
    Ok(storage)
}

async fn one_config_file(store: &impl MetadataStore, name: &str) -> Result<String, DiscoverError> {
    let mut files = store.config_files(&[name.to_string()]).await?;
    let parts = files.remove(name).unwrap_or_default();
    Ok(file_text("Config", name, &parts)?)
}

/// Reads the object files of one kind and keeps those with a wanted name. Files that cannot be
/// read are skipped — they may belong to objects nobody asked for — but are named if a wanted
/// object is then not found.
fn find_objects(
    kind: ObjectKind,
    names: &BTreeSet<String>,
    files: &BTreeMap<String, Vec<Vec<u8>>>,
    storage: &mut Storage,
) -> Vec<Object> {
    let mut found = Vec::new();
    let mut unreadable: Vec<String> = Vec::new();
    for (uuid, parts) in files {
        let object = file_text("Config", uuid, parts)
            .map_err(|e| e.to_string())
            .and_then(|text| metadata::parse_object(kind, uuid, &text).map_err(|e| e.to_string()));
        match object {
            Ok(object) if names.contains(&object.name) => found.push(object),
            Ok(_) => {}
            Err(error) => unreadable.push(error),
        }
    }
    for name in names {
        if !found.iter().any(|o| &o.name == name) {
            let mut reason = format!("no {} named so in the configuration", kind.prefix());
            if let Some(first) = unreadable.first() {
                reason += &format!(
                    "; {} object file(s) of this kind could not be read, e.g. {first}",
                    unreadable.len()
                );
            }
            storage.add_problem(&format!("{}.{name}", kind.prefix()), reason);
        }
    }
    found
}

/// Joins an object with its `DBNames` codes into storage entries.
fn add_object(storage: &mut Storage, dbnames: &DbNames, object: &Object) {
    let full = format!("{}.{}", object.kind.prefix(), object.name);
    if object.kind == ObjectKind::CommonAttribute {
        for attribute in &object.attributes {
            add_field(storage, dbnames, &full, None, attribute);
        }
        return;
    }
    let token = object.kind.token();
    let Some(code) = dbnames.code(&object.uuid, token) else {
        storage.add_problem(&full, missing_code(&object.uuid, token));
        return;
    };
    let table = format!("_{}{code}", token.to_ascii_lowercase());
    storage.tables.insert(full.clone(), table.clone());
    if object.kind == ObjectKind::Enum {
        let values = object
            .values
            .iter()
            .filter_map(|v| DocRef::from_uuid_string(&v.uuid).map(|r| (r.0, v.name.clone())))
            .collect();
        storage
            .enums
            .insert(full.clone(), EnumValues::ByReference(values));
    }
    for attribute in &object.attributes {
        add_field(
            storage,
            dbnames,
            &format!("{full}.{}", attribute.name),
            Some(&full),
            attribute,
        );
    }
    for part in &object.tabular_parts {
        add_tabular_part(storage, dbnames, &full, &table, part);
    }
}

/// A tabular part of the object `full` stored in `table`: its own table, line number and
/// attributes; a part without its `DBNames` codes is a problem of its own.
fn add_tabular_part(
    storage: &mut Storage,
    dbnames: &DbNames,
    full: &str,
    table: &str,
    part: &TabularPart,
) {
    let part_name = format!("{full}.{}", part.name);
    let (Some(vt), Some(line)) = (
        dbnames.code(&part.uuid, "VT"),
        dbnames.code(&part.uuid, "LineNo"),
    ) else {
        storage.add_problem(&part_name, missing_code(&part.uuid, "VT/LineNo"));
        return;
    };
    storage
        .tables
        .insert(part_name.clone(), format!("{table}_vt{vt}"));
    storage.fields.insert(
        format!("{part_name}.НомерСтроки"),
        FieldEntry {
            owner: Some(part_name.clone()),
            field: Field::Plain(StoredColumn::new(
                format!("_lineno{line}"),
                ValueKind::Number,
            )),
        },
    );
    for attribute in &part.attributes {
        let name = format!("{part_name}.{}", attribute.name);
        add_field(storage, dbnames, &name, Some(&part_name), attribute);
    }
}

fn missing_code(uuid: &str, token: &str) -> String {
    format!("DBNames has no `{token}` entry for {uuid}")
}

fn add_field(
    storage: &mut Storage,
    dbnames: &DbNames,
    name: &str,
    owner: Option<&str>,
    attribute: &Attribute,
) {
    let Some(code) = dbnames.code(&attribute.uuid, "Fld") else {
        storage.add_problem(name, missing_code(&attribute.uuid, "Fld"));
        return;
    };
    match field_columns(code, &attribute.types) {
        Ok(field) => {
            let owner = owner.map(str::to_string);
            storage
                .fields
                .insert(name.to_string(), FieldEntry { owner, field });
        }
        Err(reason) => storage.add_problem(name, reason),
    }
}

/// The columns of attribute `_fld{code}` with these types (platform rules: one kind → one
/// column, several → `_type` plus one column per kind; `_rtref` only for several references).
pub fn field_columns(code: u32, types: &TypeSet) -> Result<Field, String> {
    let base = format!("_fld{code}");
    if types.kinds() == 1 {
        let (suffix, kind) = if types.references == 1 {
            ("rref", ValueKind::Binary)
        } else if types.string {
            ("", ValueKind::String)
        } else if types.number {
            ("", ValueKind::Number)
        } else if types.date {
            ("", ValueKind::Date)
        } else if types.boolean {
            ("", ValueKind::Boolean)
        } else {
            ("", ValueKind::Binary)
        };
        return Ok(Field::Plain(StoredColumn::new(
            format!("{base}{suffix}"),
            kind,
        )));
    }
    if types.kinds() == 0 {
        return Err(format!("attribute {base} has no types"));
    }
    Ok(Field::Composite {
        type_tag: format!("{base}_type"),
        rtref: (types.references > 1).then(|| format!("{base}_rtref")),
        rrref: (types.references > 0).then(|| format!("{base}_rrref")),
        string: types.string.then(|| format!("{base}_s")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_follow_the_platform_rules() {
        let plain = |types: TypeSet| match field_columns(7, &types).unwrap() {
            Field::Plain(column) => (column.name, column.kind),
            other => panic!("{other:?}"),
        };
        let one_ref = TypeSet {
            references: 1,
            ..TypeSet::default()
        };
        assert_eq!(plain(one_ref), ("_fld7rref".into(), ValueKind::Binary));
        let money = TypeSet {
            number: true,
            ..TypeSet::default()
        };
        assert_eq!(plain(money), ("_fld7".into(), ValueKind::Number));
        let mixed = TypeSet {
            references: 2,
            string: true,
            ..TypeSet::default()
        };
        assert_eq!(
            field_columns(7, &mixed).unwrap(),
            Field::Composite {
                type_tag: "_fld7_type".into(),
                rtref: Some("_fld7_rtref".into()),
                rrref: Some("_fld7_rrref".into()),
                string: Some("_fld7_s".into()),
            }
        );
        let one_ref_or_string = TypeSet {
            references: 1,
            string: true,
            ..TypeSet::default()
        };
        assert!(matches!(
            field_columns(7, &one_ref_or_string).unwrap(),
            Field::Composite {
                rtref: None,
                rrref: Some(_),
                ..
            }
        ));
        assert!(field_columns(7, &TypeSet::default()).is_err());
    }
}
