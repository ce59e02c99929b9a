//! The `Params` file `DBNames`: which storage number the platform gave each metadata object,
//! attribute and tabular part. Text: `{<n>,{<count>,{<uuid>,"<Token>",<code>},…}}`; the
//! physical name is `_` + token + code (`{…,"Document",57}` → `_document57`). Subordinate tokens
//! (`VT`, `LineNo`, `DocumentChngR`, …) are listed under the owner's UUID.

use std::collections::HashMap;

use super::brace::{self, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbNamesError {
    #[error("DBNames: {0}")]
    Brace(#[from] brace::BraceError),
    #[error("DBNames: {0}")]
    Shape(String),
}

/// Storage numbers by (metadata UUID, token).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbNames {
    codes: HashMap<(String, String), u32>,
}

impl DbNames {
    /// Parses the inflated `DBNames` text.
    pub fn parse(text: &str) -> Result<DbNames, DbNamesError> {
        let root = brace::parse(text)?;
        let list = root
            .at(&[2])
            .ok_or_else(|| DbNamesError::Shape("no entry list at [2]".into()))?;
        let count = list
            .at(&[1])
            .and_then(Value::number)
            .ok_or_else(|| DbNamesError::Shape("no entry count at [2][1]".into()))?;
        let entries = &list.items()[1..];
        if usize::try_from(count).ok() != Some(entries.len()) {
            return Err(DbNamesError::Shape(format!(
                "the count says {count} entries but {} follow (truncated?)",
                entries.len()
            )));
        }
        let mut codes = HashMap::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let (uuid, token, code) = entry_parts(entry).ok_or_else(|| {
                DbNamesError::Shape(format!("entry {} is not {{uuid,\"Token\",code}}", i + 1))
            })?;
            codes.insert((uuid, token), code);
        }
        Ok(DbNames { codes })
    }

    /// The storage number of `token` for the object, attribute or tabular part `uuid`.
    pub fn code(&self, uuid: &str, token: &str) -> Option<u32> {
        self.codes
            .get(&(uuid.to_ascii_lowercase(), token.to_string()))
            .copied()
    }

    /// Adds an entry (the fixture generator builds its `DBNames` this way).
    pub fn insert(&mut self, uuid: &str, token: &str, code: u32) {
        self.codes
            .insert((uuid.to_ascii_lowercase(), token.to_string()), code);
    }

    /// The `DBNames` text, entries sorted by code as the platform allocates them.
    pub fn to_value(&self) -> Value {
        let mut entries: Vec<(&(String, String), &u32)> = self.codes.iter().collect();
        entries.sort_by_key(|(key, code)| (**code, (*key).clone()));
        let mut list = vec![Value::Atom(entries.len().to_string())];
        list.extend(entries.into_iter().map(|((uuid, token), code)| {
            Value::List(vec![
                Value::Atom(uuid.clone()),
                Value::Text(token.clone()),
                Value::Atom(code.to_string()),
            ])
        }));
        Value::List(vec![Value::Atom("1".into()), Value::List(list)])
    }
}

fn entry_parts(entry: &Value) -> Option<(String, String, u32)> {
    let uuid = entry.at(&[1])?.uuid()?;
    let token = entry.at(&[2])?.text()?.to_string();
    let code = u32::try_from(entry.at(&[3])?.number()?).ok()?;
    Some((uuid, token, code))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str =
        "{1,\r\n{3,\r\n{00000000-0000-0000-0000-000000000000,\"SystemSettings\",1},\r\n\
        {061D872A-5787-460E-95AC-ED74EA3A3E84,\"Document\",245},\r\n\
        {061d872a-5787-460e-95ac-ed74ea3a3e84,\"DocumentChngR\",246}}}";

    #[test]
    fn reads_codes_by_uuid_and_token() {
        let names = DbNames::parse(SAMPLE).unwrap();
        let uuid = "061d872a-5787-460e-95ac-ed74ea3a3e84";
        assert_eq!(names.code(uuid, "Document"), Some(245));
        assert_eq!(names.code(&uuid.to_uppercase(), "DocumentChngR"), Some(246));
        assert_eq!(names.code(uuid, "Fld"), None);
    }

    #[test]
    fn round_trips_through_its_text() {
        let names = DbNames::parse(SAMPLE).unwrap();
        assert_eq!(DbNames::parse(&names.to_value().to_text()).unwrap(), names);
    }

    #[test]
    fn a_short_list_or_a_bad_entry_is_an_error() {
        let short = SAMPLE.replace("{3,", "{4,");
        assert!(DbNames::parse(&short)
            .unwrap_err()
            .to_string()
            .contains("truncated"));
        let bad = SAMPLE.replace(",\"Document\",245", ",Document,245");
        assert!(DbNames::parse(&bad)
            .unwrap_err()
            .to_string()
            .contains("entry 2"));
        assert!(DbNames::parse("{1,{2,{").is_err());
    }
}
