//! Text the status endpoints take from the register: HTML escaping, phones and e-mails masked
//! (a rejection reason or a Calltouch answer may quote a customer's contact), and the query
//! string of a search. Pure functions.

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Masks and escapes: what every register text goes through before it reaches the page.
pub fn shown(text: &str) -> String {
    escape(&mask_contacts(text))
}

/// Replaces e-mail addresses with `i***@example.ru` and phone numbers with
/// `+7 *** *** 12 34`; everything else is kept.
pub fn mask_contacts(text: &str) -> String {
    mask_phones(&mask_emails(text))
}

fn is_local_part(c: char) -> bool {
    c.is_alphanumeric() || "._%+-".contains(c)
}

fn is_domain(c: char) -> bool {
    c.is_alphanumeric() || ".-".contains(c)
}

fn mask_emails(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '@' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // The local part was copied already: find where it starts in `out`.
        let local_len = chars[..i]
            .iter()
            .rev()
            .take_while(|c| is_local_part(**c))
            .count();
        let domain_len = chars[i + 1..].iter().take_while(|c| is_domain(**c)).count();
        let domain: String = chars[i + 1..i + 1 + domain_len].iter().collect();
        let domain = domain.trim_end_matches(['.', '-']);
        if local_len == 0 || !domain.contains('.') {
            out.push('@');
            i += 1;
            continue;
        }
        let keep = out.chars().count() - local_len;
        let first = chars[i - local_len];
        out = out.chars().take(keep).collect();
        out.push(first);
        out.push_str("***@");
        out.push_str(domain);
        i += 1 + domain.chars().count();
    }
    out
}

/// Whether a phone may start here: after a non-alphanumeric, with `+`, `(` or the first digit
/// of a Russian number (7, 8 or 9). Dates and years start with other digits.
fn phone_start(chars: &[char], i: usize) -> bool {
    let before_ok = i == 0 || !chars[i - 1].is_alphanumeric();
    let next_digit = chars.get(i + 1).is_some_and(|c| c.is_ascii_digit());
    before_ok
        && match chars[i] {
            '+' => next_digit,
            '(' => next_digit,
            '7' | '8' | '9' => true,
            _ => false,
        }
}

fn mask_phones(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if phone_start(&chars, i) {
            let mut end = i + 1;
            while end < chars.len() && (chars[end].is_ascii_digit() || " -()".contains(chars[end]))
            {
                end += 1;
            }
            // Trailing separators belong to the text around the number.
            while end > i && !chars[end - 1].is_ascii_digit() {
                end -= 1;
            }
            let digits: Vec<char> = chars[i..end]
                .iter()
                .copied()
                .filter(char::is_ascii_digit)
                .collect();
            let after_ok = chars.get(end).is_none_or(|c| !c.is_alphanumeric());
            if after_ok && (10..=15).contains(&digits.len()) {
                out.push_str(&masked_phone(chars[i] == '+', &digits));
                i = end;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn masked_phone(plus: bool, digits: &[char]) -> String {
    let n = digits.len();
    let tail = format!(
        "{}{} {}{}",
        digits[n - 4],
        digits[n - 3],
        digits[n - 2],
        digits[n - 1]
    );
    let lead = if plus {
        format!("+{} ", digits[0])
    } else if n == 11 {
        format!("{} ", digits[0])
    } else {
        String::new()
    };
    format!("{lead}*** *** {tail}")
}

/// The value of `name` in a URL query string (`a=1&b=%D0%97`), percent- and `+`-decoded.
pub fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key) == name).then(|| percent_decode(value))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|digit| digit as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn e_mails_keep_their_first_letter_and_domain() {
        assert_eq!(
            mask_contacts("client ivanov.petr@example.ru rejected"),
            "client i***@example.ru rejected"
        );
        assert_eq!(mask_contacts("a@b"), "a@b", "no domain, no address");
        assert_eq!(mask_contacts("@example.ru"), "@example.ru");
        assert_eq!(
            mask_contacts("почта: анна@пример.рф."),
            "почта: а***@пример.рф."
        );
    }

    #[test]
    fn phones_keep_their_last_four_digits() {
        assert_eq!(
            mask_contacts("phone +7 (916) 123-45-67 is invalid"),
            "phone +7 *** *** 45 67 is invalid"
        );
        assert_eq!(mask_contacts("\"79161234567\""), "\"7 *** *** 45 67\"");
        assert_eq!(mask_contacts("8-916-123-45-67"), "8 *** *** 45 67");
        assert_eq!(mask_contacts("9161234567"), "*** *** 45 67");
    }

    #[test]
    fn dates_amounts_numbers_and_references_are_not_phones() {
        for text in [
            "2026-11-05 10:00:00",
            "sum 8500000.00",
            "ЗР-000123",
            "9022249e-3a1a-c4b9-4be8-faddd2f8bde9",
            "read 7, created 3, updated 2, duration 0.4s",
        ] {
            assert_eq!(mask_contacts(text), text);
        }
    }

    #[test]
    fn a_query_value_is_decoded() {
        assert_eq!(
            query_value("x=1&number=%D0%97%D0%A0-12+a", "number").as_deref(),
            Some("ЗР-12 a")
        );
        assert_eq!(query_value("number=", "number").as_deref(), Some(""));
        assert_eq!(query_value("x=1", "number"), None);
        assert_eq!(query_value("number=50%", "number").as_deref(), Some("50%"));
    }
}
