//! The query renderer: turns SQL written with 1C metadata names into SQL with the storage names
//! of one database, through the [`NameMap`], for the database's [`Dialect`].
//!
//! Placeholders:
//! - `{{Документ.ЗаказНаряд}}` — a table, or a single-column attribute
//!   (`{{Документ.ЗаказНаряд.Состояние}}`, `{{ОбщийРеквизит.СуммаДокумента}}`);
//! - `{{Документ.ЗаявкаНаРемонт.Заказчик:rrref}}` — one column of a composite attribute: `type`,
//!   `rtref`, `rrref` or `string`. `rrref` also accepts a single-column reference attribute, so a
//!   query that only follows the reference works whichever way a base declares the attribute;
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
    #[error("name map has no entry for: {}", .0.join(", "))]
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
    let (name, part) = match placeholder.split_once(':') {
        Some((name, part)) => (name.trim(), Some(part.trim())),
        None => (placeholder, None),
    };
    let storage = storage_name(name, part, map)?;
    Ok(checked_identifier(dialect, name, storage)?.to_string())
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
        (Column::Composite(c), Some("rtref")) => Ok(&c.rtref),
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
    Ok(format!(
        "NOT pg_visible_in_snapshot(({xmax} - (({xmax} - {alias}.xmin::text::bigint) & 4294967295))::text::xid8, {parameter}::text::pg_snapshot)"
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
                    rtref: "_fld100_rtref".into(),
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
            "name map has no entry for: Документ.А, Документ.Б.В"
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

    #[test]
    fn changed_since_widens_xmin_against_the_snapshot_xmax() {
        let sql = render("{{changed_since(d, $2)}}", &map()).unwrap();
        assert!(sql.starts_with("NOT pg_visible_in_snapshot(("));
        assert!(sql
            .contains("d.xmin::text::bigint) & 4294967295))::text::xid8, $2::text::pg_snapshot)"));
    }
}
