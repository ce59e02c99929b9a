//! Normalisers for what goes on the wire to Calltouch: the date-time format, phone numbers,
//! e-mail addresses and free text. Pure functions; values that cannot be sent are dropped with
//! a warning that names them, so bad contact data never blocks a deal.

use chrono::NaiveDateTime;

/// Calltouch's date-time format for deals: `dd-MM-yyyy HH:mm:ss`.
pub fn calltouch_date(t: NaiveDateTime) -> String {
    t.format("%d-%m-%Y %H:%M:%S").to_string()
}

/// Separators between several values typed into one 1C field.
fn is_list_separator(c: char) -> bool {
    c == ',' || c == ';'
}

/// Normalises raw phone strings to digits-only numbers, Russian ones as `7XXXXXXXXXX`.
/// Returns the numbers (de-duplicated, first-seen order) and a warning per dropped value.
pub fn normalize_phones(raw: &[String]) -> (Vec<String>, Vec<String>) {
    let mut phones = Vec::new();
    let mut warnings = Vec::new();
    let pieces = raw.iter().flat_map(|s| s.split(is_list_separator));
    for piece in pieces.map(str::trim).filter(|p| !p.is_empty()) {
        match normalize_phone(piece) {
            Some(phone) => push_unique(&mut phones, phone),
            None => warnings.push(format!(
                "phone {piece:?} dropped: not a Russian number nor 11-15 digits of a foreign one"
            )),
        }
    }
    (phones, warnings)
}

/// One number: Russian shapes (`8…`/`7…`/`+7…` with 11 digits, or 10 digits without a `+`) become `7` + 10 digits; other 11-15 digit numbers are foreign and kept as given.
fn normalize_phone(piece: &str) -> Option<String> {
    let digits: String = piece.chars().filter(char::is_ascii_digit).collect();
    // With a `+` the digits already include the country code, so 10 of them are not a
    // Russian number without its 8.
    let international = piece.starts_with('+');
    let russian_eleven = digits.len() == 11 && (digits.starts_with('7') || digits.starts_with('8'));
    if russian_eleven {
        return Some(format!("7{}", &digits[1..]));
    }
    if digits.len() == 10 && !international {
        return Some(format!("7{digits}"));
    }
    // A leading 7 is the Russian (and Kazakh) country code, whose numbers have exactly 11
    // digits; anything else starting with 7 is a typo or an extension, not a foreign number.
    let foreign = (11..=15).contains(&digits.len()) && !digits.starts_with('7');
    foreign.then_some(digits)
}

/// The longest address SMTP allows.
const MAX_EMAIL_CHARS: usize = 254;

/// Normalises raw e-mail strings: split, trimmed, lower-cased, validated, de-duplicated.
/// Returns the addresses and a warning per dropped value.
pub fn normalize_emails(raw: &[String]) -> (Vec<String>, Vec<String>) {
    let mut emails = Vec::new();
    let mut warnings = Vec::new();
    let pieces = raw
        .iter()
        .flat_map(|s| s.split(|c: char| is_list_separator(c) || c.is_whitespace()));
    for piece in pieces.filter(|p| !p.is_empty()) {
        let email = piece.to_lowercase();
        if is_valid_email(&email) {
            push_unique(&mut emails, email);
        } else {
            warnings.push(format!("e-mail {piece:?} dropped: not a valid address"));
        }
    }
    (emails, warnings)
}

/// A deliberately simple check: one `@`, a local part, and a dotted domain without empty labels.
fn is_valid_email(email: &str) -> bool {
    if email.chars().count() > MAX_EMAIL_CHARS
        || email.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return false;
    }
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}

/// Makes free 1C text safe to send: control characters removed (line breaks and tabs become
/// spaces), whitespace runs collapsed, trimmed, and cut to `max_chars` characters (not bytes).
/// `None` when nothing is left.
pub fn clean_text(s: &str, max_chars: usize) -> Option<String> {
    let mut cleaned = String::with_capacity(s.len().min(max_chars.saturating_mul(4)));
    let mut kept = 0;
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        if c.is_control() {
            continue;
        }
        // A space is written only before the next visible character, so runs collapse and
        // nothing trails; it counts towards the limit like any other character.
        if pending_space && kept > 0 {
            if kept + 1 >= max_chars {
                break;
            }
            cleaned.push(' ');
            kept += 1;
        }
        pending_space = false;
        if kept >= max_chars {
            break;
        }
        cleaned.push(c);
        kept += 1;
    }
    (!cleaned.is_empty()).then_some(cleaned)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn date_is_day_month_year_with_seconds() {
        let t = NaiveDate::from_ymd_opt(2020, 10, 1)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        assert_eq!(calltouch_date(t), "01-10-2020 12:00:00");
        let t = NaiveDate::from_ymd_opt(2026, 2, 28)
            .unwrap()
            .and_hms_opt(9, 5, 7)
            .unwrap();
        assert_eq!(calltouch_date(t), "28-02-2026 09:05:07");
    }

    #[test]
    fn russian_phones_become_seven_and_ten_digits() {
        let (phones, warnings) = normalize_phones(&strings(&[
            "89157771122",
            "+7 (915) 888-11-22",
            "9163334455",
            "7 916 000 11 22",
            "+8 (917) 111-22-33",
        ]));
        assert_eq!(
            phones,
            [
                "79157771122",
                "79158881122",
                "79163334455",
                "79160001122",
                "79171112233"
            ]
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn foreign_phones_keep_their_digits() {
        let (phones, warnings) = normalize_phones(&strings(&[
            "+375 29 123-45-67",
            "+49 30 12345678",
            "+44 20 7946 0958",
            "380 44 123 4567",
        ]));
        assert_eq!(
            phones,
            [
                "375291234567",
                "493012345678",
                "442079460958",
                "380441234567"
            ]
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn garbage_phones_are_dropped_with_a_warning_naming_them() {
        let (phones, warnings) = normalize_phones(&strings(&[
            "12-34",
            "нет телефона",
            "1234567890123456",
            "+49 30123456",
            "+7 915 888 11 2",
            "7915888112233",
        ]));
        assert!(phones.is_empty(), "{phones:?}");
        assert_eq!(warnings.len(), 6, "{warnings:?}");
        assert!(warnings[0].contains("\"12-34\""), "{}", warnings[0]);
        assert!(warnings[1].contains("нет телефона"), "{}", warnings[1]);
    }

    #[test]
    fn phones_are_deduplicated_in_first_seen_order() {
        let (phones, _) = normalize_phones(&strings(&[
            "8 (916) 000-11-22",
            "89157771122",
            "+79160001122",
            "9157771122",
        ]));
        assert_eq!(phones, ["79160001122", "79157771122"]);
    }

    #[test]
    fn several_phones_in_one_string_are_split() {
        let (phones, warnings) = normalize_phones(&strings(&[
            "8 915 777-11-22, +7(916)000-11-22; 123",
            " ; ,",
        ]));
        assert_eq!(phones, ["79157771122", "79160001122"]);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("\"123\""));
    }

    #[test]
    fn emails_are_split_trimmed_lowercased_and_deduplicated() {
        let (emails, warnings) = normalize_emails(&strings(&[
            " Ivan.Petrov@Mail.RU ; ivan.petrov@mail.ru,other@example.com",
            "third@example.co.uk\tfourth@пример.рф",
        ]));
        assert_eq!(
            emails,
            [
                "ivan.petrov@mail.ru",
                "other@example.com",
                "third@example.co.uk",
                "fourth@пример.рф"
            ]
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn invalid_emails_are_dropped_with_a_warning_naming_them() {
        let long = format!("{}@example.com", "a".repeat(250));
        let (emails, warnings) = normalize_emails(&strings(&[
            "no-at-sign.ru",
            "two@@example.com",
            "a@b@example.com",
            "@example.com",
            "user@localhost",
            "user@example..com",
            "user@.example.com",
            "user@example.com.",
            "bad\u{7}bell@example.com",
            &long,
        ]));
        assert!(emails.is_empty(), "{emails:?}");
        assert_eq!(warnings.len(), 10, "{warnings:?}");
        assert!(warnings[0].contains("no-at-sign.ru"));
        assert!(warnings[4].contains("user@localhost"));
    }

    #[test]
    fn clean_text_collapses_whitespace_and_drops_control_characters() {
        assert_eq!(
            clean_text("  Стучит\tподвеска,\r\n  слева \u{0}\u{1b}[0m ", 255).as_deref(),
            Some("Стучит подвеска, слева [0m")
        );
        assert_eq!(clean_text("a\u{0}b", 10).as_deref(), Some("ab"));
        assert_eq!(
            clean_text("\u{a0}x\u{a0}\u{a0}y", 10).as_deref(),
            Some("x y")
        );
    }

    #[test]
    fn clean_text_returns_none_when_nothing_is_left() {
        assert_eq!(clean_text("", 10), None);
        assert_eq!(clean_text(" \n\t\u{7} ", 10), None);
        assert_eq!(clean_text("text", 0), None);
    }

    #[test]
    fn clean_text_truncates_by_characters_not_bytes() {
        assert_eq!(clean_text("Привет, мир", 6).as_deref(), Some("Привет"));
        assert_eq!(clean_text("🚗🚗🚗🚗", 3).as_deref(), Some("🚗🚗🚗"));
        assert_eq!(clean_text("ab cd", 3).as_deref(), Some("ab"));
        assert_eq!(clean_text("ab cd", 4).as_deref(), Some("ab c"));
        assert_eq!(clean_text("ab    cd", 5).as_deref(), Some("ab cd"));
    }

    #[test]
    fn clean_text_handles_ten_kilobyte_strings() {
        let text = "Ремонт 🚗\n".repeat(1024);
        assert!(text.len() > 10 * 1024);
        let cleaned = clean_text(&text, 255).unwrap();
        assert_eq!(cleaned.chars().count(), 255);
        assert!(cleaned.starts_with("Ремонт 🚗 Ремонт"));
        assert!(!cleaned.ends_with(' '));
        let whole = clean_text(&text, usize::MAX).unwrap();
        assert_eq!(whole.chars().count(), 1024 * 9 - 1);
    }

    /// Random text mixing everything 1C users paste into fields.
    pub(crate) fn random_text(rng: &mut fastrand::Rng) -> String {
        const ALPHABET: &[char] = &[
            'a',
            'Z',
            '0',
            '1',
            '7',
            '8',
            '9',
            '+',
            '-',
            '(',
            ')',
            '@',
            '.',
            ',',
            ';',
            ' ',
            '\t',
            '\n',
            '\r',
            '\u{0}',
            '\u{7}',
            '\u{1b}',
            '\u{7f}',
            '\u{85}',
            '\u{a0}',
            '\u{200b}',
            'Ж',
            'ё',
            '🚗',
            '👍',
            '\u{1f3fd}',
            '\u{301}',
            '{',
            '}',
        ];
        let len = rng.usize(0..40);
        (0..len)
            .map(|_| ALPHABET[rng.usize(..ALPHABET.len())])
            .collect()
    }

    #[test]
    fn normalisers_hold_their_invariants_on_random_input() {
        let mut rng = fastrand::Rng::with_seed(20_240_901);
        for _ in 0..5000 {
            let raw: Vec<String> = (0..rng.usize(0..4))
                .map(|_| random_text(&mut rng))
                .collect();
            let (phones, _) = normalize_phones(&raw);
            for phone in &phones {
                assert!((11..=15).contains(&phone.len()), "{phone:?} from {raw:?}");
                assert!(phone.chars().all(|c| c.is_ascii_digit()), "{phone:?}");
            }
            let (emails, _) = normalize_emails(&raw);
            for email in &emails {
                assert_eq!(email.matches('@').count(), 1, "{email:?}");
            }
            let limit = rng.usize(0..30);
            for text in &raw {
                if let Some(cleaned) = clean_text(text, limit) {
                    assert!(cleaned.chars().count() <= limit, "{cleaned:?}");
                    assert!(!cleaned.chars().any(char::is_control), "{cleaned:?}");
                    assert_eq!(cleaned, cleaned.trim(), "{cleaned:?}");
                }
            }
        }
    }
}
