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
    /// Where the database reads in chunks: a filter and its number of parameters turned into
    /// the filter, order and limit of one chunk (`source::postgres::chunk_filter`).
    pub chunk: Option<fn(&str, usize) -> String>,
}

/// The rendered SQL for one document kind.
pub struct KindSql {
    pub changed: String,
    /// Present where the templates have a windowed change filter.
    pub recent: Option<String>,
    pub dated_since: String,
    pub with_number: String,
    /// One chunk of `dated_since`, `changed` and `recent`, where the database reads in chunks.
    pub dated_since_chunk: Option<String>,
    pub changed_chunk: Option<String>,
    pub recent_chunk: Option<String>,
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
    let mut one = |body: &str, filter: &str, chunk: Option<usize>| -> Result<String, SourceError> {
        let template = match (chunk, t.chunk) {
            (Some(params), Some(chunk)) => format!("{body}\nWHERE {}", chunk(filter, params)),
            _ => format!("{body}\nWHERE {filter}\n{}", t.order_by),
        };
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
    let chunked = t.chunk.is_some();
    let mut kind =
        |body: &str, changed: &str, recent: Option<&str>| -> Result<KindSql, SourceError> {
            // Parameters: the cut-off; the previous snapshot; the window start.
            Ok(KindSql {
                changed: one(body, changed, None)?,
                recent: recent.map(|f| one(body, f, None)).transpose()?,
                dated_since: one(body, t.dated_since, None)?,
                with_number: one(body, t.with_number, None)?,
                dated_since_chunk: chunked
                    .then(|| one(body, t.dated_since, Some(1)))
                    .transpose()?,
                changed_chunk: chunked.then(|| one(body, changed, Some(2))).transpose()?,
                recent_chunk: match recent {
                    Some(f) if chunked => Some(one(body, f, Some(3))?),
                    _ => None,
                },
            })
        };
    let rendered = RenderedSql {
        booking: kind(t.booking, t.booking_changed, t.booking_recent)?,
        work_order: kind(t.work_order, t.work_order_changed, t.work_order_recent)?,
    };
    for name in [booking_state_enum(preset), CONTACT_KIND_ENUM] {
        if map.enum_values(name).is_err() && !missing.iter().any(|m| m == name) {
            missing.push(name.to_string());
        }
    }
    Ok((rendered, missing))
}
