//! The `import-structure` file: what 1C's `ПолучитьСтруктуруХраненияБазыДанных(, Истина)`
//! returns, written as JSON by a few lines of 1C code (see docs/name-map.md), plus the enum
//! value names in order, which the storage structure does not hold:
//!
//! ```json
//! {"Таблицы": [{"ИмяТаблицыХранения": "_Document245", "ИмяТаблицы": "Документ.ЗаказНаряд",
//!               "Метаданные": "Документ.ЗаказНаряд", "Назначение": "Основная",
//!               "Поля": [{"ИмяПоляХранения": "_Fld5678RRef", "ИмяПоля": "Состояние",
//!                         "Метаданные": "Документ.ЗаказНаряд.Реквизит.Состояние"}]}],
//!  "Перечисления": {"Перечисление.ТипыКонтактнойИнформации": ["Адрес", "Телефон"]}}
//! ```
//!
//! Storage names are lower-cased (PostgreSQL's form). Column kinds are known only from name
//! suffixes (`…rref` is a reference, `_lineno…` a line number), so other types are not compared.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::storage::{owner_of, EnumValues, Field, FieldEntry, Storage, StoredColumn, ValueKind};
use super::DiscoverError;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StructureFile {
    #[serde(rename = "Таблицы")]
    pub tables: Vec<StructureTable>,
    #[serde(rename = "Перечисления", default)]
    pub enums: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StructureTable {
    #[serde(rename = "ИмяТаблицыХранения")]
    pub storage_name: String,
    /// The query name, e.g. `Справочник.Контрагенты.КонтактнаяИнформация`; empty for some
    /// service tables.
    #[serde(rename = "ИмяТаблицы", default)]
    pub name: String,
    #[serde(rename = "Метаданные", default)]
    pub metadata: String,
    #[serde(rename = "Назначение", default)]
    pub purpose: String,
    #[serde(rename = "Поля", default)]
    pub fields: Vec<StructureField>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StructureField {
    #[serde(rename = "ИмяПоляХранения")]
    pub storage_name: String,
    #[serde(rename = "ИмяПоля", default)]
    pub name: String,
    #[serde(rename = "Метаданные", default)]
    pub metadata: String,
}

/// Reads the exported file into storage entries.
pub fn read(text: &str) -> Result<Storage, DiscoverError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let file: StructureFile =
        serde_json::from_str(text).map_err(|e| DiscoverError::Structure(e.to_string()))?;
    Ok(storage_of(&file))
}

fn storage_of(file: &StructureFile) -> Storage {
    let mut storage = Storage::default();
    for table in file.tables.iter().filter(|t| !t.name.is_empty()) {
        // The first table of a name is the object's own; later ones are service tables.
        if storage.tables.contains_key(&table.name) {
            continue;
        }
        storage
            .tables
            .insert(table.name.clone(), table.storage_name.to_ascii_lowercase());
        add_fields(&mut storage, table);
    }
    for (name, values) in &file.enums {
        storage
            .enums
            .insert(name.clone(), EnumValues::Ordered(values.clone()));
    }
    storage
}

/// Groups a table's columns by field name (a composite has several) into fields.
fn add_fields(storage: &mut Storage, table: &StructureTable) {
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for field in table.fields.iter().filter(|f| !f.name.is_empty()) {
        let name = if field.metadata.starts_with("ОбщийРеквизит.") {
            field.metadata.clone()
        } else {
            format!("{}.{}", table.name, field.name)
        };
        by_name
            .entry(name)
            .or_default()
            .push(field.storage_name.to_ascii_lowercase());
    }
    for (name, columns) in by_name {
        if storage.fields.contains_key(&name) {
            continue; // a common attribute, seen in an earlier table
        }
        match field_of(&columns) {
            Ok(field) => {
                let owner = owner_of(&name);
                storage.fields.insert(name, FieldEntry { owner, field });
            }
            Err(reason) => storage.add_problem(&name, reason),
        }
    }
}

fn field_of(columns: &[String]) -> Result<Field, String> {
    if let [column] = columns {
        let kind = if column.ends_with("rref") {
            ValueKind::Binary
        } else if column.starts_with("_lineno") {
            ValueKind::Number
        } else {
            ValueKind::Unknown
        };
        return Ok(Field::Plain(StoredColumn::new(column.as_str(), kind)));
    }
    let with_suffix = |suffix: &str| columns.iter().find(|c| c.ends_with(suffix)).cloned();
    let type_tag = with_suffix("_type")
        .ok_or_else(|| format!("several columns ({}) but no `_type`", columns.join(", ")))?;
    Ok(Field::Composite {
        type_tag,
        rtref: with_suffix("_rtref"),
        rrref: with_suffix("_rrref"),
        string: with_suffix("_s"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"Таблицы": [
        {"ИмяТаблицыХранения": "_Document245", "ИмяТаблицы": "Документ.ЗаказНаряд",
         "Метаданные": "Документ.ЗаказНаряд", "Назначение": "Основная",
         "Поля": [
            {"ИмяПоляХранения": "_IDRRef", "ИмяПоля": "Ссылка", "Метаданные": ""},
            {"ИмяПоляХранения": "_Fld5678RRef", "ИмяПоля": "Состояние", "Метаданные": "Документ.ЗаказНаряд.Реквизит.Состояние"},
            {"ИмяПоляХранения": "_Fld900", "ИмяПоля": "СуммаДокумента", "Метаданные": "ОбщийРеквизит.СуммаДокумента"},
            {"ИмяПоляХранения": "_Fld77_TYPE", "ИмяПоля": "Заказчик", "Метаданные": "Документ.ЗаказНаряд.Реквизит.Заказчик"},
            {"ИмяПоляХранения": "_Fld77_RTRef", "ИмяПоля": "Заказчик", "Метаданные": "Документ.ЗаказНаряд.Реквизит.Заказчик"},
            {"ИмяПоляХранения": "_Fld77_RRRef", "ИмяПоля": "Заказчик", "Метаданные": "Документ.ЗаказНаряд.Реквизит.Заказчик"},
            {"ИмяПоляХранения": "_Fld77_S", "ИмяПоля": "Заказчик", "Метаданные": "Документ.ЗаказНаряд.Реквизит.Заказчик"},
            {"ИмяПоляХранения": "_Fld78_TYPE", "ИмяПоля": "Контрагент", "Метаданные": "Документ.ЗаказНаряд.Реквизит.Контрагент"},
            {"ИмяПоляХранения": "_Fld78_S", "ИмяПоля": "Контрагент", "Метаданные": "Документ.ЗаказНаряд.Реквизит.Контрагент"},
            {"ИмяПоляХранения": "_Fld78_RRRef", "ИмяПоля": "Контрагент", "Метаданные": "Документ.ЗаказНаряд.Реквизит.Контрагент"}]},
        {"ИмяТаблицыХранения": "_DocumentChngR246", "ИмяТаблицы": "Документ.ЗаказНаряд.Изменения",
         "Метаданные": "Документ.ЗаказНаряд", "Назначение": "РегистрацияИзменений", "Поля": []},
        {"ИмяТаблицыХранения": "_Reference57_VT1234", "ИмяТаблицы": "Справочник.Контрагенты.КонтактнаяИнформация",
         "Метаданные": "Справочник.Контрагенты.ТабличнаяЧасть.КонтактнаяИнформация", "Назначение": "ТабличнаяЧасть",
         "Поля": [{"ИмяПоляХранения": "_LineNo1235", "ИмяПоля": "НомерСтроки", "Метаданные": ""}]}],
     "Перечисления": {"Перечисление.Типы": ["Адрес", "Телефон"]}}"#;

    #[test]
    fn reads_tables_fields_composites_common_attributes_and_enums() {
        let storage = read(SAMPLE).unwrap();
        assert_eq!(storage.tables["Документ.ЗаказНаряд"], "_document245");
        assert_eq!(
            storage.tables["Справочник.Контрагенты.КонтактнаяИнформация"],
            "_reference57_vt1234"
        );
        let field = |name: &str| storage.fields[name].field.clone();
        assert_eq!(
            field("Документ.ЗаказНаряд.Состояние"),
            Field::Plain(StoredColumn::new("_fld5678rref", ValueKind::Binary))
        );
        assert_eq!(storage.fields["ОбщийРеквизит.СуммаДокумента"].owner, None);
        assert_eq!(
            field("Документ.ЗаказНаряд.Заказчик"),
            Field::Composite {
                type_tag: "_fld77_type".into(),
                rtref: Some("_fld77_rtref".into()),
                rrref: Some("_fld77_rrref".into()),
                string: Some("_fld77_s".into()),
            }
        );
        // One reference type and a string: no `_RTRef`, as 5.1's booking Заказчик.
        assert_eq!(
            field("Документ.ЗаказНаряд.Контрагент"),
            Field::Composite {
                type_tag: "_fld78_type".into(),
                rtref: None,
                rrref: Some("_fld78_rrref".into()),
                string: Some("_fld78_s".into()),
            }
        );
        let (map, missing) = storage.select(&["Документ.ЗаказНаряд.Контрагент".to_string()]);
        assert!(missing.is_empty(), "{missing:?}");
        assert!(map.field("Документ.ЗаказНаряд.Контрагент").is_some());
        assert_eq!(
            field("Справочник.Контрагенты.КонтактнаяИнформация.НомерСтроки"),
            Field::Plain(StoredColumn::new("_lineno1235", ValueKind::Number))
        );
        assert_eq!(
            storage.enums["Перечисление.Типы"],
            EnumValues::Ordered(vec!["Адрес".into(), "Телефон".into()])
        );
    }

    #[test]
    fn a_file_that_is_not_the_export_is_a_clear_error() {
        let error = read("{\"tables\": []}").unwrap_err().to_string();
        assert!(error.contains("Таблицы"), "{error}");
    }
}
