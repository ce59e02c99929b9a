//! The `Config` files: the root pointer, the configuration file's object lists, and one object
//! file per metadata object (name, attributes with their types, tabular parts, enum values).
//!
//! Object files are read at DaJet's 1-based addresses ([`layout`]); the configuration file's
//! object lists and a common attribute's descriptor are found structurally, because their
//! positions vary between platform versions. The same addresses are what the fixture generator
//! writes, so reader and writer cannot drift apart.

use std::collections::BTreeMap;

use super::brace::{self, Value};

/// The metadata kinds the presets read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    Document,
    Catalog,
    Enum,
    InfoRegister,
    CommonAttribute,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 5] = [
        ObjectKind::Document,
        ObjectKind::Catalog,
        ObjectKind::Enum,
        ObjectKind::InfoRegister,
        ObjectKind::CommonAttribute,
    ];

    /// The metadata-type UUID that heads this kind's list in the configuration file.
    pub fn type_uuid(self) -> &'static str {
        match self {
            ObjectKind::Document => "061d872a-5787-460e-95ac-ed74ea3a3e84",
            ObjectKind::Catalog => "cf4abea6-37b2-11d4-940f-008048da11f9",
            ObjectKind::Enum => "f6a80749-5ad7-400b-8519-39dc5dff2542",
            ObjectKind::InfoRegister => "13134201-f60b-11d5-a3c7-0050bae0a776",
            ObjectKind::CommonAttribute => "15794563-ccec-41f6-a83c-ec5f7b9a5bc1",
        }
    }

    /// The first part of a 1C full name: `Документ.ЗаказНаряд`.
    pub fn prefix(self) -> &'static str {
        match self {
            ObjectKind::Document => "Документ",
            ObjectKind::Catalog => "Справочник",
            ObjectKind::Enum => "Перечисление",
            ObjectKind::InfoRegister => "РегистрСведений",
            ObjectKind::CommonAttribute => "ОбщийРеквизит",
        }
    }

    pub fn from_prefix(prefix: &str) -> Option<ObjectKind> {
        ObjectKind::ALL.into_iter().find(|k| k.prefix() == prefix)
    }

    /// The `DBNames` token of the object's storage: its table, or for a common attribute its
    /// column.
    pub fn token(self) -> &'static str {
        match self {
            ObjectKind::Document => "Document",
            ObjectKind::Catalog => "Reference",
            ObjectKind::Enum => "Enum",
            ObjectKind::InfoRegister => "InfoRg",
            ObjectKind::CommonAttribute => "Fld",
        }
    }
}

/// Where things are in an object file (DaJet's addresses, 1-based).
pub mod layout {
    use super::ObjectKind;

    /// The descriptor group `D`: `D[2][3]` is the own UUID, `D[3]` the name.
    pub const DESCRIPTOR_UUID: [usize; 2] = [2, 3];
    pub const DESCRIPTOR_NAME: [usize; 1] = [3];

    /// The descriptor of an object of this kind; `None` where it is found structurally.
    pub fn descriptor(kind: ObjectKind) -> Option<&'static [usize]> {
        match kind {
            ObjectKind::Document | ObjectKind::Catalog => Some(&[2, 10, 2]),
            ObjectKind::Enum => Some(&[2, 6, 2]),
            ObjectKind::InfoRegister => Some(&[2, 16, 2]),
            ObjectKind::CommonAttribute => None,
        }
    }

    /// Attribute collections (for registers: resources, dimensions, attributes) with the
    /// collection-type UUID each must carry at `[1]`.
    pub fn attribute_collections(kind: ObjectKind) -> &'static [(usize, &'static str)] {
        match kind {
            ObjectKind::Document => &[(6, "45e46cbc-3e24-4165-8b7b-cc98a6f80211")],
            ObjectKind::Catalog => &[(7, "cf4abea7-37b2-11d4-940f-008048da11f9")],
            ObjectKind::InfoRegister => &[
                (4, "13134202-f60b-11d5-a3c7-0050bae0a776"),
                (5, "13134203-f60b-11d5-a3c7-0050bae0a776"),
                (8, "a2207540-1400-11d6-a3c7-0050bae0a776"),
            ],
            ObjectKind::Enum | ObjectKind::CommonAttribute => &[],
        }
    }

    /// The tabular-part collection and its collection-type UUID.
    pub fn tabular_parts(kind: ObjectKind) -> Option<(usize, &'static str)> {
        match kind {
            ObjectKind::Document => Some((4, "21c53e09-8950-4b5e-a6a0-1054f1bbc274")),
            ObjectKind::Catalog => Some((6, "932159f9-95b2-4e76-a8dd-8849fe5c5ded")),
            _ => None,
        }
    }

    /// The enum-value collection and its collection-type UUID.
    pub const ENUM_VALUES: (usize, &str) = (7, "bee0a08c-07eb-40c0-8544-5c364c171465");
    /// A tabular part's attribute collection type.
    pub const TABULAR_PART_ATTRIBUTES: &str = "888744e1-b616-11d4-9436-004095e12fc7";

    /// Collection items start at position 3: `[1]` collection type, `[2]` count.
    pub const FIRST_ITEM: usize = 3;
    /// Inside an attribute item: its descriptor and its type pattern.
    pub const ATTRIBUTE_DESCRIPTOR: [usize; 4] = [1, 2, 2, 2];
    pub const ATTRIBUTE_PATTERN: [usize; 4] = [1, 2, 2, 3];
    /// Inside a tabular-part item: its descriptor and its attribute collection.
    pub const TABULAR_PART_DESCRIPTOR: [usize; 4] = [1, 2, 6, 2];
    pub const TABULAR_PART_COLLECTION: usize = 3;
    /// Inside an enum-value item: its descriptor.
    pub const VALUE_DESCRIPTOR: [usize; 2] = [1, 2];
    /// The root file `Config/root` names the configuration file at `[2]`.
    pub const ROOT_FILE: [usize; 1] = [2];
}

/// Special type UUIDs of `{"#",<uuid>}` type-pattern items.
const VALUE_STORAGE: &str = "e199ca70-93cf-46ce-a54b-6edc88c3a296";
const UNIQUE_ID: &str = "fc01b5df-97fe-449b-83d4-218a090e681e";
/// `ЛюбаяСсылка`, `ДокументСсылка`, `СправочникСсылка`, `ПеречислениеСсылка`: several tables.
const ANY_REFERENCE: [&str; 4] = [
    "280f5f0e-9c8a-49cc-bf6d-4d296cc17a63",
    "38bfd075-3e63-4aaa-a93e-94521380d579",
    "e61ef7b8-f3e1-4f4b-8ac7-676e90524997",
    "474c3bf6-08b5-4ddc-a2ad-989cedf11583",
];

/// The types an attribute allows, as far as they decide its storage columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeSet {
    /// Reference types; an "any reference" type counts as several.
    pub references: usize,
    pub string: bool,
    pub number: bool,
    pub date: bool,
    pub boolean: bool,
    /// ХранилищеЗначения, УникальныйИдентификатор: binary columns.
    pub binary: bool,
}

impl TypeSet {
    /// How many storage kinds the attribute has; more than one makes it composite.
    pub fn kinds(&self) -> usize {
        [
            self.string,
            self.number,
            self.date,
            self.boolean,
            self.binary,
        ]
        .iter()
        .filter(|b| **b)
        .count()
            + self.references
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub uuid: String,
    pub name: String,
    pub types: TypeSet,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TabularPart {
    pub uuid: String,
    pub name: String,
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumValue {
    pub uuid: String,
    pub name: String,
}

/// One metadata object. A common attribute has itself as its only attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub kind: ObjectKind,
    pub uuid: String,
    pub name: String,
    pub attributes: Vec<Attribute>,
    pub tabular_parts: Vec<TabularPart>,
    pub values: Vec<EnumValue>,
}

/// Why a `Config` file cannot be read, naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Config file `{file}`: {message}")]
pub struct MetadataError {
    pub file: String,
    pub message: String,
}

fn parse_file(file: &str, text: &str) -> Result<Value, MetadataError> {
    brace::parse(text).map_err(|e| MetadataError {
        file: file.to_string(),
        message: e.to_string(),
    })
}

/// The configuration file's UUID from the `root` file.
pub fn root_file(text: &str) -> Result<String, MetadataError> {
    let root = parse_file("root", text)?;
    root.at(&layout::ROOT_FILE)
        .and_then(Value::uuid)
        .ok_or_else(|| MetadataError {
            file: "root".into(),
            message: "no configuration UUID at [2]".into(),
        })
}

/// Object UUIDs by kind from the configuration file: the lists
/// `{<metadata-type uuid>, <count>, <uuid>, …}` wherever they are.
pub fn object_lists(
    file: &str,
    text: &str,
) -> Result<BTreeMap<ObjectKind, Vec<String>>, MetadataError> {
    let root = parse_file(file, text)?;
    let mut lists = BTreeMap::new();
    collect_object_lists(&root, &mut lists);
    Ok(lists)
}

fn collect_object_lists(value: &Value, into: &mut BTreeMap<ObjectKind, Vec<String>>) {
    let items = value.items();
    let kind = items
        .first()
        .and_then(Value::uuid)
        .and_then(|uuid| ObjectKind::ALL.into_iter().find(|k| k.type_uuid() == uuid));
    let count = items.get(1).and_then(Value::number);
    if let (Some(kind), Some(count)) = (kind, count) {
        let uuids: Vec<String> = items[2..].iter().filter_map(Value::uuid).collect();
        if usize::try_from(count).ok() == Some(uuids.len()) && uuids.len() == items.len() - 2 {
            into.entry(kind).or_default().extend(uuids);
            return;
        }
    }
    for item in items {
        collect_object_lists(item, into);
    }
}

/// Reads one object file (`Config` row named by the object's UUID).
pub fn parse_object(kind: ObjectKind, file: &str, text: &str) -> Result<Object, MetadataError> {
    let root = parse_file(file, text)?;
    let reader = ObjectReader { file, root: &root };
    let (uuid, name) = match layout::descriptor(kind) {
        Some(path) => reader.descriptor(&root, path, "the object")?,
        None => reader.structural_descriptor()?,
    };
    if uuid != file.to_ascii_lowercase() {
        return Err(reader.error(format!(
            "the descriptor names {uuid}, not the file's own UUID; unknown file layout"
        )));
    }
    let mut object = Object {
        kind,
        uuid,
        name,
        attributes: Vec::new(),
        tabular_parts: Vec::new(),
        values: Vec::new(),
    };
    match kind {
        ObjectKind::CommonAttribute => {
            let pattern = find_pattern(&root)
                .ok_or_else(|| reader.error("no type pattern (`{\"Pattern\",…}`)".into()))?;
            object.attributes.push(Attribute {
                uuid: object.uuid.clone(),
                name: object.name.clone(),
                types: reader.types(pattern)?,
            });
        }
        ObjectKind::Enum => {
            let (at, type_uuid) = layout::ENUM_VALUES;
            for item in reader.collection(&root, at, type_uuid)? {
                let (uuid, name) =
                    reader.descriptor(item, &layout::VALUE_DESCRIPTOR, "an enum value")?;
                object.values.push(EnumValue { uuid, name });
            }
        }
        _ => {
            for &(at, type_uuid) in layout::attribute_collections(kind) {
                let collection = reader.collection(&root, at, type_uuid)?;
                object.attributes.extend(reader.attributes(collection)?);
            }
            if let Some((at, type_uuid)) = layout::tabular_parts(kind) {
                for item in reader.collection(&root, at, type_uuid)? {
                    object.tabular_parts.push(reader.tabular_part(item)?);
                }
            }
        }
    }
    Ok(object)
}

struct ObjectReader<'a> {
    file: &'a str,
    root: &'a Value,
}

impl ObjectReader<'_> {
    fn error(&self, message: String) -> MetadataError {
        MetadataError {
            file: self.file.to_string(),
            message,
        }
    }

    fn descriptor(
        &self,
        within: &Value,
        path: &[usize],
        what: &str,
    ) -> Result<(String, String), MetadataError> {
        let descriptor = within
            .at(path)
            .ok_or_else(|| self.error(format!("no descriptor of {what} at {path:?}")))?;
        descriptor_parts(descriptor).ok_or_else(|| {
            self.error(format!(
                "the descriptor of {what} at {path:?} has no UUID and name"
            ))
        })
    }

    /// The list whose `[2][3]` is the file's own UUID and whose `[3]` is a name.
    fn structural_descriptor(&self) -> Result<(String, String), MetadataError> {
        let own = self.file.to_ascii_lowercase();
        find(self.root, &|v| {
            descriptor_parts(v).filter(|(uuid, _)| *uuid == own)
        })
        .ok_or_else(|| self.error("no descriptor naming the file's own UUID".into()))
    }

    /// The items of the collection at `[at]`, checking its collection type.
    fn collection<'v>(
        &self,
        within: &'v Value,
        at: usize,
        type_uuid: &str,
    ) -> Result<&'v [Value], MetadataError> {
        let collection = within
            .at(&[at])
            .ok_or_else(|| self.error(format!("no collection at [{at}]")))?;
        let found = collection.at(&[1]).and_then(Value::uuid);
        if found.as_deref() != Some(type_uuid) {
            return Err(self.error(format!(
                "the collection at [{at}] has type {}, expected {type_uuid}",
                found.unwrap_or_else(|| "(none)".into())
            )));
        }
        let count = collection.at(&[2]).and_then(Value::number);
        let items = collection
            .items()
            .get(layout::FIRST_ITEM - 1..)
            .unwrap_or(&[]);
        if usize::try_from(count.unwrap_or(-1)).ok() != Some(items.len()) {
            return Err(self.error(format!(
                "the collection at [{at}] counts {count:?} items but holds {}",
                items.len()
            )));
        }
        Ok(items)
    }

    fn attributes(&self, items: &[Value]) -> Result<Vec<Attribute>, MetadataError> {
        items
            .iter()
            .map(|item| {
                let (uuid, name) =
                    self.descriptor(item, &layout::ATTRIBUTE_DESCRIPTOR, "an attribute")?;
                let pattern = item
                    .at(&layout::ATTRIBUTE_PATTERN)
                    .ok_or_else(|| self.error(format!("attribute {name} has no type pattern")))?;
                let types = self.types(pattern)?;
                Ok(Attribute { uuid, name, types })
            })
            .collect()
    }

    fn tabular_part(&self, item: &Value) -> Result<TabularPart, MetadataError> {
        let (uuid, name) =
            self.descriptor(item, &layout::TABULAR_PART_DESCRIPTOR, "a tabular part")?;
        let collection = self.collection(
            item,
            layout::TABULAR_PART_COLLECTION,
            layout::TABULAR_PART_ATTRIBUTES,
        )?;
        Ok(TabularPart {
            uuid,
            name,
            attributes: self.attributes(collection)?,
        })
    }

    /// `{"Pattern",{"S",len,1},{"#",uuid},…}` → the kinds of values allowed.
    fn types(&self, pattern: &Value) -> Result<TypeSet, MetadataError> {
        if pattern.at(&[1]).and_then(Value::text) != Some("Pattern") {
            return Err(self.error("a type pattern does not start with \"Pattern\"".into()));
        }
        let mut types = TypeSet::default();
        for item in &pattern.items()[1..] {
            match item.at(&[1]).and_then(Value::text) {
                Some("B") => types.boolean = true,
                Some("N") => types.number = true,
                Some("D") => types.date = true,
                Some("S") => types.string = true,
                Some("#") => match item.at(&[2]).and_then(Value::uuid).as_deref() {
                    Some(VALUE_STORAGE | UNIQUE_ID) => types.binary = true,
                    Some(any) if ANY_REFERENCE.contains(&any) => types.references += 2,
                    Some(_) => types.references += 1,
                    None => return Err(self.error("a reference type has no UUID".into())),
                },
                other => return Err(self.error(format!("unknown type pattern item {other:?}"))),
            }
        }
        Ok(types)
    }
}

/// `(D[2][3] uuid, D[3] name)` of a descriptor group.
fn descriptor_parts(descriptor: &Value) -> Option<(String, String)> {
    let uuid = descriptor.at(&layout::DESCRIPTOR_UUID)?.uuid()?;
    let name = descriptor.at(&layout::DESCRIPTOR_NAME)?.text()?.to_string();
    Some((uuid, name))
}

fn find_pattern(value: &Value) -> Option<&Value> {
    find(value, &|v| {
        (v.at(&[1]).and_then(Value::text) == Some("Pattern")).then_some(v)
    })
}

/// The first match of `test` in a depth-first walk.
fn find<'v, T>(value: &'v Value, test: &dyn Fn(&'v Value) -> Option<T>) -> Option<T> {
    test(value).or_else(|| value.items().iter().find_map(|item| find(item, test)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "5ac9bd32-4b1e-4a4b-9f0e-2c3d4e5f6a7b";
    const ATTR: &str = "11111111-2222-4333-8444-555555555555";
    const TP: &str = "66666666-7777-4888-9999-aaaaaaaaaaaa";
    const ANY_DOC: &str = "38bfd075-3e63-4aaa-a93e-94521380d579";

    fn descriptor(uuid: &str, name: &str) -> String {
        format!("{{0,{{0,0,{uuid}}},\"{name}\",{{1,\"ru\",\"{name}\"}},\"\"}}")
    }

    /// A document file laid out at DaJet's addresses, by hand.
    fn document_text() -> String {
        let attribute = format!(
            "{{{{0,{{0,{{0,{},{{\"Pattern\",{{\"S\",50,1}},{{\"#\",{ANY_DOC}}}}}}}}}}}}}",
            descriptor(ATTR, "Основание")
        );
        let part = format!(
            "{{{{0,{{0,0,0,0,0,{{0,{}}}}}}},0,{{888744e1-b616-11d4-9436-004095e12fc7,0}}}}",
            descriptor(TP, "Товары")
        );
        format!(
            "{{1,{{0,0,0,0,0,0,0,0,0,{{0,{}}}}},0,\
             {{21c53e09-8950-4b5e-a6a0-1054f1bbc274,1,{part}}},0,\
             {{45e46cbc-3e24-4165-8b7b-cc98a6f80211,1,{attribute}}}}}",
            descriptor(DOC, "Заказ \"\"Срочный\"\"")
        )
    }

    #[test]
    fn reads_a_document_at_dajet_addresses() {
        let object = parse_object(ObjectKind::Document, DOC, &document_text()).unwrap();
        assert_eq!(object.name, "Заказ \"Срочный\"");
        assert_eq!(object.attributes.len(), 1);
        let attribute = &object.attributes[0];
        assert_eq!(
            (attribute.uuid.as_str(), attribute.name.as_str()),
            (ATTR, "Основание")
        );
        assert!(attribute.types.string);
        assert_eq!(attribute.types.references, 2);
        assert_eq!(object.tabular_parts[0].name, "Товары");
        assert!(object.tabular_parts[0].attributes.is_empty());
    }

    #[test]
    fn a_file_of_another_object_or_layout_is_refused() {
        let error = parse_object(ObjectKind::Document, TP, &document_text()).unwrap_err();
        assert!(error.message.contains("not the file's own UUID"), "{error}");
        let error = parse_object(ObjectKind::Catalog, DOC, &document_text()).unwrap_err();
        assert!(error.message.contains("no collection at [7]"), "{error}");
        let cut = document_text();
        let error = parse_object(ObjectKind::Document, DOC, &cut[..cut.len() - 9]).unwrap_err();
        assert!(error.message.contains("truncated"), "{error}");
    }

    #[test]
    fn finds_object_lists_anywhere_in_the_configuration() {
        let text = format!(
            "{{2,{{0,{{\"name\"}}}},2,{{0,{{{}, 2, {DOC}, {TP}}},{{x,{{{},0}}}}}}}}",
            ObjectKind::Document.type_uuid(),
            ObjectKind::Enum.type_uuid()
        );
        let lists = object_lists("config", &text).unwrap();
        assert_eq!(lists[&ObjectKind::Document], vec![DOC, TP]);
        assert!(lists[&ObjectKind::Enum].is_empty());
    }
}
