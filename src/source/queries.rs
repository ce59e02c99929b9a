//! The document queries of one preset, rendered for one database: each database supplies its
//! templates (`sql/postgres`, `sql/mssql`) and dialect; the assembly of a query (select body,
//! filter on alias `d`, stable order) and the reporting of missing name-map entries are here.

use super::decode::{booking_state_enum, CONTACT_KIND_ENUM};
use super::namemap::{Dialect, NameMap};
use super::template::{render_for, TemplateError};
use super::SourceError;
use crate::config::Preset;

/// The query templates of one preset in one dialect.
pub struct QueryTemplates {
    pub dialect: Dialect,
    pub booking: &'static str,
    pub work_order: &'static str,
    /// Filters on alias `d`.
    pub booking_changed: &'static str,
    pub work_order_changed: &'static str,
    pub dated_since: &'static str,
    pub with_number: &'static str,
    /// Filters on alias `d` for documents found through indexes 1C already has (dates, the
    /// state journal), where the database supports the windowed change detection.
    pub booking_recent: Option<&'static str>,
    pub work_order_recent: Option<&'static str>,
    /// The stable order every document query ends with.
    pub order_by: &'static str,
}

/// The rendered SQL for one document kind.
pub struct KindSql {
    pub changed: String,
    /// Present where the templates have a windowed change filter.
    pub recent: Option<String>,
    pub dated_since: String,
    pub with_number: String,
}

/// Every document query of a preset, rendered for one database.
pub struct RenderedSql {
    pub booking: KindSql,
    pub work_order: KindSql,
}

/// Renders every query, reporting all missing name-map entries (enums included) at once.
pub fn render_all(
    templates: &QueryTemplates,
    preset: Preset,
    map: &NameMap,
) -> Result<RenderedSql, SourceError> {
    let (rendered, missing) = render_collecting_missing(templates, preset, map)?;
    if missing.is_empty() {
        Ok(rendered)
    } else {
        Err(SourceError::NameMap(
            TemplateError::Missing(missing).to_string(),
        ))
    }
}

/// Every name-map entry the preset's queries and decoder use (tables, attributes and enums),
/// in first-use order: rendering against an empty map lists each one as missing.
pub fn required_entries(templates: &QueryTemplates, preset: Preset) -> Vec<String> {
    render_collecting_missing(templates, preset, &NameMap::default())
        .map(|(_, missing)| missing)
        .unwrap_or_default()
}

fn render_collecting_missing(
    templates: &QueryTemplates,
    preset: Preset,
    map: &NameMap,
) -> Result<(RenderedSql, Vec<String>), SourceError> {
    let t = templates;
    let mut missing: Vec<String> = Vec::new();
    let mut one = |body: &str, filter: &str| -> Result<String, SourceError> {
        let template = format!("{body}\nWHERE {filter}\n{}", t.order_by);
        match render_for(t.dialect, &template, map) {
            Ok(sql) => Ok(sql),
            Err(TemplateError::Missing(names)) => {
                for name in names {
                    if !missing.contains(&name) {
                        missing.push(name);
                    }
                }
                Ok(String::new())
            }
            Err(other) => Err(SourceError::NameMap(other.to_string())),
        }
    };
    let rendered = RenderedSql {
        booking: KindSql {
            changed: one(t.booking, t.booking_changed)?,
            recent: t.booking_recent.map(|f| one(t.booking, f)).transpose()?,
            dated_since: one(t.booking, t.dated_since)?,
            with_number: one(t.booking, t.with_number)?,
        },
        work_order: KindSql {
            changed: one(t.work_order, t.work_order_changed)?,
            recent: t
                .work_order_recent
                .map(|f| one(t.work_order, f))
                .transpose()?,
            dated_since: one(t.work_order, t.dated_since)?,
            with_number: one(t.work_order, t.with_number)?,
        },
    };
    for name in [booking_state_enum(preset), CONTACT_KIND_ENUM] {
        if map.enum_values(name).is_err() && !missing.iter().any(|m| m == name) {
            missing.push(name.to_string());
        }
    }
    Ok((rendered, missing))
}
