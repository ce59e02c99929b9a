//! The document queries of one preset, rendered for one database: each database supplies its
//! templates (`sql/postgres`, `sql/mssql`) and dialect; the assembly of a query (select body,
//! filter on alias `d`, stable order) and the reporting of missing name-map entries are here.

use super::decode::{booking_state_enum, CONTACT_KIND_ENUM};
use super::namemap::{Dialect, NameMap};
use super::settings::Preset;
use super::template::{render_for, TemplateError};
use super::SourceError;

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
    /// Where the database reads in chunks: a select body, a filter and the filter's number of
    /// parameters turned into the query of one chunk (`source::postgres::chunk_query`).
    pub chunk: Option<fn(&str, &str, usize) -> String>,
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

/// The highest parameter number a filter uses (`$N` or `@PN`): a chunk's own parameters follow.
fn parameter_count(filter: &str) -> usize {
    let mut highest = 0;
    for (index, _) in filter.match_indices(['$', '@']) {
        let rest = &filter[index + 1..];
        let rest = rest.strip_prefix('P').unwrap_or(rest);
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        highest = highest.max(digits.parse().unwrap_or(0));
    }
    highest
}

fn render_collecting_missing(
    templates: &QueryTemplates,
    preset: Preset,
    map: &NameMap,
) -> Result<(RenderedSql, Vec<String>), SourceError> {
    let t = templates;
    let mut missing: Vec<String> = Vec::new();
    let mut one = |body: &str, filter: &str, chunked: bool| -> Result<String, SourceError> {
        let template = match (chunked, t.chunk) {
            (true, Some(chunk)) => chunk(body, filter, parameter_count(filter)),
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
            Ok(KindSql {
                changed: one(body, changed, false)?,
                recent: recent.map(|f| one(body, f, false)).transpose()?,
                dated_since: one(body, t.dated_since, false)?,
                with_number: one(body, t.with_number, false)?,
                dated_since_chunk: chunked
                    .then(|| one(body, t.dated_since, true))
                    .transpose()?,
                changed_chunk: chunked.then(|| one(body, changed, true)).transpose()?,
                recent_chunk: match recent {
                    Some(f) if chunked => Some(one(body, f, true)?),
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

#[cfg(test)]
mod tests {
    use super::parameter_count;

    #[test]
    fn a_chunk_numbers_its_parameters_after_the_filters() {
        assert_eq!(parameter_count("d._date_time >= $1"), 1);
        assert_eq!(parameter_count("a >= $1 AND b > $3 AND c = $2"), 3);
        assert_eq!(parameter_count("d._Version > @P2 AND d._Version < @P3"), 3);
        assert_eq!(parameter_count("-- no parameters"), 0);
    }
}
