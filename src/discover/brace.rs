//! The 1C brace format («скобочный формат») of the `Params` and `Config` files: reading it into a
//! tree, addressing values the way DaJet does (1-based paths), and writing it back (the fixture
//! generator encodes its metadata with [`Value::to_text`]).
//!
//! `{value,value,{nested},"string with "" escaped quote",uuid,123}` — atoms (numbers, UUIDs,
//! bare words) run to the next `,` or `}`, an empty slot (`{,` `,,` `,}`) is an empty atom,
//! strings double their quotes, and CR/LF/spaces between tokens mean nothing.

/// One value of a brace text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A number, a UUID, a bare word, or empty.
    Atom(String),
    /// A quoted string, unescaped.
    Text(String),
    List(Vec<Value>),
}

/// Why a brace text cannot be read: where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("brace text, byte {offset}: {message}")]
pub struct BraceError {
    pub offset: usize,
    pub message: String,
}

/// Deeper nesting than any 1C file has; a guard against stack exhaustion on corrupt input.
const MAX_DEPTH: usize = 512;

/// Parses a whole brace text: one list, nothing but whitespace after it.
pub fn parse(text: &str) -> Result<Value, BraceError> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        text,
        at: 0,
    };
    parser.skip_space();
    let value = parser.list(0)?;
    parser.skip_space();
    if parser.at < parser.bytes.len() {
        return Err(parser.error("text continues after the closing brace"));
    }
    Ok(value)
}

struct Parser<'t> {
    bytes: &'t [u8],
    text: &'t str,
    at: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> BraceError {
        BraceError {
            offset: self.at,
            message: message.to_string(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.at += 1;
        }
    }

    fn list(&mut self, depth: usize) -> Result<Value, BraceError> {
        if depth > MAX_DEPTH {
            return Err(self.error("lists are nested too deeply"));
        }
        if self.peek() != Some(b'{') {
            return Err(self.error("expected `{`"));
        }
        self.at += 1;
        let mut items = Vec::new();
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Value::List(items));
        }
        loop {
            items.push(self.item(depth)?);
            self.skip_space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Value::List(items));
                }
                None => return Err(self.error("the text ends inside a list (truncated?)")),
                Some(_) => return Err(self.error("expected `,` or `}` after a value")),
            }
        }
    }

    fn item(&mut self, depth: usize) -> Result<Value, BraceError> {
        self.skip_space();
        match self.peek() {
            Some(b'{') => self.list(depth + 1),
            Some(b'"') => self.string(),
            None => Err(self.error("the text ends inside a list (truncated?)")),
            Some(_) => self.atom(),
        }
    }

    fn string(&mut self) -> Result<Value, BraceError> {
        let start = self.at;
        self.at += 1;
        let mut out = String::new();
        let mut piece = self.at;
        loop {
            match self.peek() {
                None => {
                    self.at = start;
                    return Err(self.error("a string is not closed (truncated?)"));
                }
                Some(b'"') if self.bytes.get(self.at + 1) == Some(&b'"') => {
                    out.push_str(&self.text[piece..=self.at]);
                    self.at += 2;
                    piece = self.at;
                }
                Some(b'"') => {
                    out.push_str(&self.text[piece..self.at]);
                    self.at += 1;
                    return Ok(Value::Text(out));
                }
                Some(_) => self.at += 1,
            }
        }
    }

    /// A bare value up to the next `,` or `}`. A `{` or `"` inside one means the text is
    /// corrupt (1C never writes them there), and accepting it would read `{1,␌{"x"}` as an atom
    /// that cannot be written back.
    fn atom(&mut self) -> Result<Value, BraceError> {
        let start = self.at;
        loop {
            match self.peek() {
                None | Some(b',' | b'}') => break,
                Some(b'{' | b'"') => {
                    return Err(self.error("`{` or `\"` inside a bare value (corrupt text?)"))
                }
                Some(_) => self.at += 1,
            }
        }
        Ok(Value::Atom(self.text[start..self.at].trim().to_string()))
    }
}

impl Value {
    /// The value at a DaJet 1-based path: `[2, 10, 2, 3]` is the 3rd item of the 2nd item of
    /// the 10th item of the 2nd item of this list.
    pub fn at(&self, path: &[usize]) -> Option<&Value> {
        path.iter().try_fold(self, |value, &index| match value {
            Value::List(items) => index.checked_sub(1).and_then(|i| items.get(i)),
            _ => None,
        })
    }

    pub fn items(&self) -> &[Value] {
        match self {
            Value::List(items) => items,
            _ => &[],
        }
    }

    /// A quoted string's text.
    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }

    /// An atom's text (numbers, UUIDs).
    pub fn atom(&self) -> Option<&str> {
        match self {
            Value::Atom(atom) => Some(atom),
            _ => None,
        }
    }

    pub fn number(&self) -> Option<i64> {
        self.atom()?.parse().ok()
    }

    /// A UUID atom, lower-cased.
    pub fn uuid(&self) -> Option<String> {
        self.atom().and_then(canonical_uuid)
    }

    /// The brace text of this value, with a line break after each list item so that readers must
    /// cope with CR/LF as 1C's own files require.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Value::Atom(atom) => out.push_str(atom),
            Value::Text(text) => {
                out.push('"');
                out.push_str(&text.replace('"', "\"\""));
                out.push('"');
            }
            Value::List(items) => {
                out.push('{');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(",\r\n");
                    }
                    item.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// `aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee` in lower case, or `None` if the text is not a UUID.
pub fn canonical_uuid(text: &str) -> Option<String> {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    let valid = groups.len() == 5
        && groups
            .iter()
            .zip(lengths)
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()));
    valid.then(|| text.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(s: &str) -> Value {
        Value::Atom(s.into())
    }

    #[test]
    fn parses_nested_lists_strings_escapes_empty_values_and_line_breaks() {
        let text = "{1,\r\n{2,\"Say \"\"hi\"\", {not a list}\",,\r\n {}},\"\",\n\
                    D2F8BDE9-FADD-4BE8-9022-249E3A1AC4B9 , -15 ,{\"a,b\",{{}}},}";
        let value = parse(text).unwrap();
        assert_eq!(
            value,
            Value::List(vec![
                atom("1"),
                Value::List(vec![
                    atom("2"),
                    Value::Text("Say \"hi\", {not a list}".into()),
                    atom(""),
                    Value::List(vec![]),
                ]),
                Value::Text(String::new()),
                atom("D2F8BDE9-FADD-4BE8-9022-249E3A1AC4B9"),
                atom("-15"),
                Value::List(vec![
                    Value::Text("a,b".into()),
                    Value::List(vec![Value::List(vec![])])
                ]),
                atom(""),
            ])
        );
        assert_eq!(
            value.at(&[2, 2]).and_then(Value::text),
            Some("Say \"hi\", {not a list}")
        );
        assert_eq!(value.at(&[5]).and_then(Value::number), Some(-15));
        assert_eq!(
            value.at(&[4]).and_then(Value::uuid).as_deref(),
            Some("d2f8bde9-fadd-4be8-9022-249e3a1ac4b9")
        );
        assert_eq!(value.at(&[0]), None);
        assert_eq!(value.at(&[2, 9]), None);
        assert_eq!(value.at(&[1, 1]), None);
    }

    #[test]
    fn writes_what_it_reads() {
        let value = parse("{1,{\"x\"\"y\",{},,\"\"},abc}").unwrap();
        assert_eq!(parse(&value.to_text()).unwrap(), value);
        // Whitespace Rust trims but the tokenizer does not skip stays out of atoms.
        let value = parse("{\u{c}1\u{c},\u{b}x y}").unwrap();
        assert_eq!(
            value.items(),
            [Value::Atom("1".into()), Value::Atom("x y".into())]
        );
        assert_eq!(parse(&value.to_text()).unwrap(), value);
    }

    #[test]
    fn truncated_and_malformed_texts_are_errors_with_a_position() {
        for (text, message) in [
            ("{1,{2,3}", "ends inside a list"),
            ("{1,\"open", "not closed"),
            ("", "expected `{`"),
            ("x{}", "expected `{`"),
            ("{1}{2}", "continues after"),
            ("{1,{2}x}", "expected `,` or `}`"),
            // Found by the fuzz target `brace`: a value that began with a form feed read as
            // the atom `{"Patrn"`, whose written form is a list.
            ("{1,\u{c}{\"Patrn\",){\"#}", "inside a bare value"),
            ("{1,a{b}}", "inside a bare value"),
            ("{1,a\"b\"}", "inside a bare value"),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.to_string().contains(message), "{text:?}: {error}");
        }
        let deep = "{".repeat(10_000);
        assert!(parse(&deep).unwrap_err().to_string().contains("too deeply"));
    }
}
