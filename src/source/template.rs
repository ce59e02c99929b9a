//! The query renderer: turns SQL written with 1C metadata names into SQL with the storage names
//! of one database, through the [`NameMap`], for the database's [`Dialect`].
//!
//! Placeholders:
//! - `{{Документ.ЗаказНаряд}}` — a table, or a single-column attribute
//!   (`{{Документ.ЗаказНаряд.Состояние}}`, `{{ОбщийРеквизит.СуммаДокумента}}`);
//! - `{{ref(d, Документ.ЗаказНаряд.Заказчик, Справочник.Контрагенты)}}` — the reference held by
//!   attribute `Заказчик` of the row aliased `d` when it points to a `Справочник.Контрагенты`
//!   item, else NULL. The query says what it means; the attribute's shape in this base decides
//!   the SQL: a plain reference column as it is; a composite's `_rrref` when `_type` says
//!   "reference" and, where the base has `_rtref`, that holds the catalog's table code;
//! - `{{is_ref(j, РегистрСведений.ЖурналСостояний.Объект, Документ.ЗаказНаряд, d._idrref)}}` — the
//!   same test as a condition on plain columns (`j._type = … AND j._rtref = … AND j._rrref =
//!   d._idrref`), so the server can use an index on the attribute;
//! - `{{string(d, Документ.ЗаявкаНаРемонт.Автомобиль)}}` — the string an attribute holds: a
//!   composite's `_s` when `_type` says "string", a plain string column, or NULL where the shape
//!   allows no string (a plain reference);
//! - `{{Документ.ЗаявкаНаРемонт.Заказчик:rrref}}` — one column of a composite attribute: `type`,
//!   `rtref`, `rrref` or `string`, for the generator that writes rows. `rrref` also accepts a
//!   single-column reference attribute;
//! - `{{changed_since(d, $2)}}` (PostgreSQL only) — true when the row version of table alias `d`
//!   was written by a transaction not visible in the previous snapshot passed as parameter `$2`
//!   (see `source::postgres` for why this is exact). MS SQL queries compare `_Version` in plain
//!   SQL instead (see `source::mssql`).
//!
//! Every storage name is checked with [`checked_identifier`] for the dialect before it is pasted,
//! so a tampered map cannot inject SQL; values never go through here, they are bound parameters.

use super::namemap::{checked_identifier, Column, Dialect, NameMap, NameMapError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("name map has no entry for: {}; rebuild it for this base with `discover` (or `import-structure`)", .0.join(", "))]
    Missing(Vec<String>),
    #[error(transparent)]
    NameMap(#[from] NameMapError),
    #[error("query template: {0}")]
    Syntax(String),
}

/// Renders a PostgreSQL query template with the storage names of `map`.
pub fn render(template: &str, map: &NameMap) -> Result<String, TemplateError> {
    render_for(Dialect::Postgres, template, map)
}

/// Renders a query template of `dialect` with the storage names of `map`. Reports every missing
/// entry at once.
pub fn render_for(
    dialect: Dialect,
    template: &str,
    map: &NameMap,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let mut missing = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| {
            TemplateError::Syntax(format!("unclosed placeholder near {:?}", first_line(after)))
        })?;
        let placeholder = after[..end].trim();
        match expand(dialect, placeholder, map) {
            Ok(text) => out.push_str(&text),
            Err(TemplateError::NameMap(NameMapError::Missing(name))) => {
                if !missing.contains(&name) {
                    missing.push(name);
                }
            }
            Err(TemplateError::Missing(names)) => {
                for name in names {
                    if !missing.contains(&name) {
                        missing.push(name);
                    }
                }
            }
            Err(other) => return Err(other),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(TemplateError::Missing(missing))
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

fn expand(dialect: Dialect, placeholder: &str, map: &NameMap) -> Result<String, TemplateError> {
    if let Some(arguments) = placeholder
        .strip_prefix("changed_since(")
        .and_then(|a| a.strip_suffix(')'))
    {
        return match dialect {
            Dialect::Postgres => changed_since(arguments),
            Dialect::MsSql => Err(TemplateError::Syntax(
                "changed_since() is PostgreSQL-only; compare `_Version` on MS SQL".to_string(),
            )),
        };
    }
    for (function, expand_call) in [
        ("ref(", reference as ShapeCall),
        ("is_ref(", is_reference),
        ("string(", string),
    ] {
        if let Some(arguments) = placeholder
            .strip_prefix(function)
            .and_then(|a| a.strip_suffix(')'))
        {
            let arguments: Vec<&str> = arguments.split(',').map(str::trim).collect();
            return expand_call(dialect, &arguments, map);
        }
    }
    let (name, part) = match placeholder.split_once(':') {
        Some((name, part)) => (name.trim(), Some(part.trim())),
        None => (placeholder, None),
    };
    let storage = storage_name(name, part, map)?;
    Ok(checked_identifier(dialect, name, storage)?.to_string())
}

type ShapeCall = fn(Dialect, &[&str], &NameMap) -> Result<String, TemplateError>;

/// `_type` of a composite holding a reference.
const TYPE_REFERENCE: u8 = 0x08;
/// `_type` of a composite holding a string.
const TYPE_STRING: u8 = 0x05;

/// `ref(alias, attribute, target)`: the reference when it points to `target`, else NULL.
fn reference(dialect: Dialect, arguments: &[&str], map: &NameMap) -> Result<String, TemplateError> {
    let [alias, attribute, target] = arguments else {
        return Err(call_syntax("ref(alias, attribute, target)", arguments));
    };
    match reference_parts(dialect, alias, attribute, target, map)? {
        Reference::Plain(column) => Ok(column),
        Reference::None => Ok("NULL".to_string()),
        Reference::Composite { test, rrref } => Ok(format!("CASE WHEN {test} THEN {rrref} END")),
    }
}

/// `is_ref(alias, attribute, target, expression)`: a condition that the attribute holds the
/// reference `expression` to a `target` item.
fn is_reference(
    dialect: Dialect,
    arguments: &[&str],
    map: &NameMap,
) -> Result<String, TemplateError> {
    let [alias, attribute, target, expression] = arguments else {
        return Err(call_syntax(
            "is_ref(alias, attribute, target, alias.column)",
            arguments,
        ));
    };
    let expression_ok = expression.split('.').count() <= 2
        && expression.split('.').all(|part| {
            part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if !expression_ok {
        return Err(call_syntax(
            "is_ref(alias, attribute, target, alias.column)",
            arguments,
        ));
    }
    match reference_parts(dialect, alias, attribute, target, map)? {
        Reference::Plain(column) => Ok(format!("{column} = {expression}")),
        Reference::None => Ok("1 = 0".to_string()),
        Reference::Composite { test, rrref } => Ok(format!("({test} AND {rrref} = {expression})")),
    }
}

/// `string(alias, attribute)`: the string the attribute holds, else NULL.
fn string(dialect: Dialect, arguments: &[&str], map: &NameMap) -> Result<String, TemplateError> {
    let [alias, attribute] = arguments else {
        return Err(call_syntax("string(alias, attribute)", arguments));
    };
    let alias = checked_alias(alias)?;
    let column = map
        .field(attribute)
        .ok_or_else(|| NameMapError::Missing(attribute.to_string()))?;
    let name = |value: &str| -> Result<String, TemplateError> {
        Ok(format!(
            "{alias}.{}",
            checked_identifier(dialect, attribute, value)?
        ))
    };
    match column {
        Column::Plain(value) if is_reference_column(value) => Ok("NULL".to_string()),
        Column::Plain(value) => name(value),
        Column::Composite(c) => match &c.string {
            None => Ok("NULL".to_string()),
            Some(text) => Ok(format!(
                "CASE WHEN {} = {} THEN {} END",
                name(&c.type_tag)?,
                binary_literal(dialect, &[TYPE_STRING]),
                name(text)?
            )),
        },
    }
}

/// How an attribute holds a reference to one target, in SQL of one alias.
enum Reference {
    /// A plain reference column.
    Plain(String),
    /// The attribute cannot hold a reference (a plain string or number).
    None,
    /// A composite: the condition that it holds a target reference, and its `_rrref`.
    Composite { test: String, rrref: String },
}

fn reference_parts(
    dialect: Dialect,
    alias: &str,
    attribute: &str,
    target: &str,
    map: &NameMap,
) -> Result<Reference, TemplateError> {
    let alias = checked_alias(alias)?;
    // The target is required whatever this base's shape, so a map built from the queries'
    // entries serves a base where the attribute is composite too.
    let mut missing = Vec::new();
    let target_table = map.table(target);
    if target_table.is_none() {
        missing.push(target.to_string());
    }
    let column = map.field(attribute);
    if column.is_none() {
        missing.insert(0, attribute.to_string());
    }
    let (Some(column), Some(target_table)) = (column, target_table) else {
        return Err(TemplateError::Missing(missing));
    };
    let name = |value: &str| -> Result<String, TemplateError> {
        Ok(format!(
            "{alias}.{}",
            checked_identifier(dialect, attribute, value)?
        ))
    };
    match column {
        Column::Plain(value) if is_reference_column(value) => Ok(Reference::Plain(name(value)?)),
        Column::Plain(_) => Ok(Reference::None),
        Column::Composite(c) => {
            let mut test = format!(
                "{} = {}",
                name(&c.type_tag)?,
                binary_literal(dialect, &[TYPE_REFERENCE])
            );
            if let Some(rtref) = &c.rtref {
                let code = table_code(target, target_table)?;
                test += &format!(
                    " AND {} = {}",
                    name(rtref)?,
                    binary_literal(dialect, &code.to_be_bytes())
                );
            }
            Ok(Reference::Composite {
                test,
                rrref: name(&c.rrref)?,
            })
        }
    }
}

/// A reference column's name ends in `RRef` (`_fld12rref`, `_Fld12RRef`).
fn is_reference_column(column: &str) -> bool {
    column.to_ascii_lowercase().ends_with("rref")
}

/// The table code `_rtref` holds for a table: the number in its name (`_reference57` → 57).
fn table_code(name: &str, table: &str) -> Result<u32, TemplateError> {
    let digits: String = table
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().map_err(|_| {
        TemplateError::NameMap(NameMapError::Invalid {
            name: name.to_string(),
            message: format!(
                "table {table:?} has no number, which a composite's `_rtref` compares with"
            ),
        })
    })
}

fn binary_literal(dialect: Dialect, bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    match dialect {
        Dialect::Postgres => format!("'\\x{hex}'::bytea"),
        Dialect::MsSql => format!("0x{hex}"),
    }
}

fn checked_alias(alias: &str) -> Result<&str, TemplateError> {
    let ok = alias.starts_with(|c: char| c.is_ascii_lowercase())
        && alias
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(alias)
    } else {
        Err(TemplateError::Syntax(format!(
            "table alias {alias:?}: expected lower-case letters, digits and `_`"
        )))
    }
}

fn call_syntax(expected: &str, arguments: &[&str]) -> TemplateError {
    TemplateError::Syntax(format!("{:?}: expected {expected}", arguments.join(", ")))
}

/// The storage name for a metadata name and an optional composite part.
fn storage_name<'m>(
    name: &str,
    part: Option<&str>,
    map: &'m NameMap,
) -> Result<&'m str, TemplateError> {
    if let Some(table) = map.table(name) {
        return match part {
            None => Ok(table),
            Some(part) => Err(TemplateError::Syntax(format!(
                "`{name}` is a table; `:{part}` applies to attributes"
            ))),
        };
    }
    let column = map
        .field(name)
        .ok_or_else(|| NameMapError::Missing(name.to_string()))?;
    let wrong_shape = |what: &str| TemplateError::Syntax(format!("`{name}` {what}"));
    match (column, part) {
        (Column::Plain(value), None | Some("rrref")) => Ok(value),
        (Column::Plain(_), Some(part)) => {
            Err(wrong_shape(&format!("has one column; it has no `:{part}`")))
        }
        (Column::Composite(_), None) => Err(wrong_shape(
            "is composite; name a part: `:type`, `:rtref`, `:rrref` or `:string`",
        )),
        (Column::Composite(c), Some("type")) => Ok(&c.type_tag),
        (Column::Composite(c), Some("rtref")) => c
            .rtref
            .as_deref()
            .ok_or_else(|| wrong_shape("has one reference type, so no `_rtref` column")),
        (Column::Composite(c), Some("rrref")) => Ok(&c.rrref),
        (Column::Composite(c), Some("string")) => c
            .string
            .as_deref()
            .ok_or_else(|| wrong_shape("has no string column in the name map")),
        (Column::Composite(_), Some(part)) => Err(wrong_shape(&format!("has no part `:{part}`"))),
    }
}

/// `NOT pg_visible_in_snapshot(<alias.xmin widened to xid8>, $N::pg_snapshot)`.
///
/// `xmin` is a 32-bit transaction id; `pg_visible_in_snapshot` wants the 64-bit `xid8`. A row
/// version visible to the reading transaction was written before that transaction's snapshot
/// `xmax`, i.e. less than 2^32 transactions before it. So the full id is `xmax` minus the 32-bit
/// distance `(xmax - xmin) mod 2^32`: the epoch of `xmax`, or the one before when `xmin` is
/// numerically above `xmax`'s low half. The `xmax` sub-select runs once per statement.
///
/// That exact test costs text conversions per row, so a cheap prefilter on the raw `xmin` runs
/// first: a changed row's widened id is at or above the previous snapshot's `xmin` (anything
/// below it is visible in that snapshot), i.e. its `age()` (the 32-bit distance to the next
/// transaction id, one value per transaction) is at most the age of that `xmin`, computed once.
/// Both ages are taken against the same id, so the prefilter keeps exactly the rows whose
/// 32-bit distance to the current `xmax` is at most that of the previous `xmin`: the rows the
/// widening places at or above it. A row whose raw `xmin` lies more than 2^31 back (frozen, kept
/// across a wraparound) reads a negative age and goes on to the exact test, which finds it old;
/// `FrozenTransactionId` (pre-9.4 freezing) reads `i32::MAX`: unchanged. A previous snapshot more than 2^31 transactions old gives no
/// usable age (NULL): then every row goes to the exact test.
fn changed_since(arguments: &str) -> Result<String, TemplateError> {
    let bad = || {
        TemplateError::Syntax(format!(
            "changed_since({arguments}) expects (table_alias, $N)"
        ))
    };
    let (alias, parameter) = arguments.split_once(',').ok_or_else(bad)?;
    let (alias, parameter) = (alias.trim(), parameter.trim());
    let alias_ok = alias.starts_with(|c: char| c.is_ascii_lowercase())
        && alias
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    let parameter_ok = parameter.len() > 1
        && parameter.starts_with('$')
        && parameter[1..].chars().all(|c| c.is_ascii_digit());
    if !alias_ok || !parameter_ok {
        return Err(bad());
    }
    let xmax = "(SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint)";
    let horizon = format!(
        "(SELECT CASE WHEN a >= 0 THEN a END FROM (SELECT age(xid(pg_snapshot_xmin({parameter}::text::pg_snapshot))) AS a) h)"
    );
    Ok(format!(
        "((age({alias}.xmin) <= {horizon}) IS NOT FALSE AND NOT pg_visible_in_snapshot(({xmax} - (({xmax} - {alias}.xmin::text::bigint) & 4294967295))::text::xid8, {parameter}::text::pg_snapshot))"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::namemap::CompositeColumns;

    fn map() -> NameMap {
        NameMap::default()
            .with_table("Документ.ЗаказНаряд", "_document245")
            .with_field(
                "Документ.ЗаказНаряд.Состояние",
                Column::Plain("_fld5678rref".into()),
            )
            .with_field(
                "Документ.ЗаявкаНаРемонт.Заказчик",
                Column::Composite(CompositeColumns {
                    type_tag: "_fld100_type".into(),
                    rtref: Some("_fld100_rtref".into()),
                    rrref: "_fld100_rrref".into(),
                    string: Some("_fld100_s".into()),
                }),
            )
    }

    #[test]
    fn renders_tables_fields_and_composite_parts() {
        let sql = render(
            "SELECT d.{{Документ.ЗаказНаряд.Состояние}}, b.{{Документ.ЗаявкаНаРемонт.Заказчик:string}} FROM {{ Документ.ЗаказНаряд }} d WHERE x = $1",
            &map(),
        )
        .unwrap();
        assert_eq!(
            sql,
            "SELECT d._fld5678rref, b._fld100_s FROM _document245 d WHERE x = $1"
        );
        assert_eq!(
            render("{{Документ.ЗаказНаряд.Состояние:rrref}}", &map()).unwrap(),
            "_fld5678rref"
        );
    }

    #[test]
    fn lists_every_missing_entry() {
        let err = render("{{Документ.А}} {{Документ.Б.В}} {{Документ.А}}", &map()).unwrap_err();
        assert_eq!(
            err,
            TemplateError::Missing(vec!["Документ.А".into(), "Документ.Б.В".into()])
        );
        assert_eq!(
            err.to_string(),
            "name map has no entry for: Документ.А, Документ.Б.В; rebuild it for this base with `discover` (or `import-structure`)"
        );
    }

    #[test]
    fn refuses_a_bad_identifier_in_the_map() {
        let map = map().with_table("Документ.ЗаявкаНаРемонт", "_document1; DELETE FROM x");
        let err = render("SELECT 1 FROM {{Документ.ЗаявкаНаРемонт}}", &map).unwrap_err();
        assert!(
            matches!(
                err,
                TemplateError::NameMap(NameMapError::BadIdentifier { .. })
            ),
            "{err}"
        );
    }

    #[test]
    fn refuses_wrong_shapes_and_syntax() {
        for template in [
            "{{Документ.ЗаявкаНаРемонт.Заказчик}}",
            "{{Документ.ЗаказНаряд.Состояние:string}}",
            "{{Документ.ЗаказНаряд:rrref}}",
            "{{Документ.ЗаказНаряд",
            "{{changed_since(d; drop, $2)}}",
            "{{changed_since(d, 2)}}",
        ] {
            assert!(
                matches!(render(template, &map()), Err(TemplateError::Syntax(_))),
                "{template}"
            );
        }
    }

    #[test]
    fn ms_sql_keeps_mixed_case_and_postgres_refuses_it() {
        let map = NameMap::default()
            .with_table("Документ.ЗаказНаряд", "_Document245")
            .with_field(
                "Документ.ЗаказНаряд.Состояние",
                Column::Plain("_Fld5678RRef".into()),
            );
        let template = "SELECT d.{{Документ.ЗаказНаряд.Состояние}} FROM {{Документ.ЗаказНаряд}} d";
        assert_eq!(
            render_for(Dialect::MsSql, template, &map).unwrap(),
            "SELECT d._Fld5678RRef FROM _Document245 d"
        );
        assert!(matches!(
            render(template, &map),
            Err(TemplateError::NameMap(NameMapError::BadIdentifier { .. }))
        ));
        assert!(matches!(
            render_for(Dialect::MsSql, "{{changed_since(d, $2)}}", &map),
            Err(TemplateError::Syntax(_))
        ));
    }

    /// `Заказчик` in the three shapes a base may give it, and its target catalog.
    fn shaped(column: Column) -> NameMap {
        NameMap::default()
            .with_table("Справочник.Контрагенты", "_reference57")
            .with_field("Документ.ЗаказНаряд.Заказчик", column)
    }

    fn composite(rtref: bool, string: bool) -> Column {
        Column::Composite(CompositeColumns {
            type_tag: "_fld7_type".into(),
            rtref: rtref.then(|| "_fld7_rtref".into()),
            rrref: "_fld7_rrref".into(),
            string: string.then(|| "_fld7_s".into()),
        })
    }

    #[test]
    fn a_reference_follows_the_shape_of_this_base() {
        let template = "{{ref(d, Документ.ЗаказНаряд.Заказчик, Справочник.Контрагенты)}}";
        let plain = shaped(Column::Plain("_fld7rref".into()));
        assert_eq!(render(template, &plain).unwrap(), "d._fld7rref");
        assert_eq!(
            render(template, &shaped(composite(true, true))).unwrap(),
            "CASE WHEN d._fld7_type = '\\x08'::bytea AND d._fld7_rtref = '\\x00000039'::bytea THEN d._fld7_rrref END"
        );
        assert_eq!(
            render(template, &shaped(composite(false, true))).unwrap(),
            "CASE WHEN d._fld7_type = '\\x08'::bytea THEN d._fld7_rrref END"
        );
        let mssql = NameMap::default()
            .with_table("Справочник.Контрагенты", "_Reference57")
            .with_field(
                "Документ.ЗаказНаряд.Заказчик",
                Column::Composite(CompositeColumns {
                    type_tag: "_Fld7_TYPE".into(),
                    rtref: Some("_Fld7_RTRef".into()),
                    rrref: "_Fld7_RRRef".into(),
                    string: None,
                }),
            );
        assert_eq!(
            render_for(Dialect::MsSql, template, &mssql).unwrap(),
            "CASE WHEN d._Fld7_TYPE = 0x08 AND d._Fld7_RTRef = 0x00000039 THEN d._Fld7_RRRef END"
        );
        let condition =
            "{{is_ref(j, Документ.ЗаказНаряд.Заказчик, Справочник.Контрагенты, c._idrref)}}";
        assert_eq!(
            render(condition, &plain).unwrap(),
            "j._fld7rref = c._idrref"
        );
        assert_eq!(
            render(condition, &shaped(composite(false, false))).unwrap(),
            "(j._fld7_type = '\\x08'::bytea AND j._fld7_rrref = c._idrref)"
        );
        assert_eq!(
            render(condition, &shaped(Column::Plain("_fld7".into()))).unwrap(),
            "1 = 0"
        );
    }

    #[test]
    fn a_string_follows_the_shape_of_this_base() {
        let template = "{{string(d, Документ.ЗаказНаряд.Заказчик)}}";
        assert_eq!(
            render(template, &shaped(composite(false, true))).unwrap(),
            "CASE WHEN d._fld7_type = '\\x05'::bytea THEN d._fld7_s END"
        );
        for no_string in [composite(true, false), Column::Plain("_fld7rref".into())] {
            assert_eq!(render(template, &shaped(no_string)).unwrap(), "NULL");
        }
        assert_eq!(
            render(template, &shaped(Column::Plain("_fld7".into()))).unwrap(),
            "d._fld7"
        );
    }

    #[test]
    fn a_reference_needs_its_target_and_checks_its_arguments() {
        let err = render(
            "{{ref(d, Документ.Х.Заказчик, Справочник.Контрагенты)}}",
            &NameMap::default(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            TemplateError::Missing(vec![
                "Документ.Х.Заказчик".into(),
                "Справочник.Контрагенты".into()
            ])
        );
        let map = shaped(composite(true, false));
        for bad in [
            "{{ref(D, Документ.ЗаказНаряд.Заказчик, Справочник.Контрагенты)}}",
            "{{ref(d, Документ.ЗаказНаряд.Заказчик)}}",
            "{{is_ref(j, Документ.ЗаказНаряд.Заказчик, Справочник.Контрагенты, 1; drop)}}",
            "{{Документ.ЗаказНаряд.Заказчик}}",
        ] {
            assert!(
                matches!(render(bad, &map), Err(TemplateError::Syntax(_))),
                "{bad}"
            );
        }
        let unnumbered = map.with_table("Справочник.Контрагенты", "_reference");
        assert!(matches!(
            render(
                "{{ref(d, Документ.ЗаказНаряд.Заказчик, Справочник.Контрагенты)}}",
                &unnumbered
            ),
            Err(TemplateError::NameMap(NameMapError::Invalid { .. }))
        ));
    }

    #[test]
    fn changed_since_widens_xmin_against_the_snapshot_xmax() {
        let sql = render("{{changed_since(d, $2)}}", &map()).unwrap();
        assert!(sql.starts_with("((age(d.xmin) <= (SELECT CASE WHEN a >= 0 THEN a END"));
        assert!(sql.contains("IS NOT FALSE AND NOT pg_visible_in_snapshot(("));
        assert!(sql
            .contains("d.xmin::text::bigint) & 4294967295))::text::xid8, $2::text::pg_snapshot)"));
    }
}
