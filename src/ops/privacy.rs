//! How the tool keeps customers' personal data: the files it creates are readable by their owner
//! only (on Unix; on Windows they inherit the folder's ACL), an existing file others can read is
//! warned about, and the texts the register keeps outside its send log (errors, Calltouch's
//! reasons, run summaries) lose every phone number and e-mail address before they are stored.
//! docs/personal-data.md says what is stored where, and for how long. A [`Secret`] (a token or
//! a password) never prints.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// What a phone number is replaced with in a stored text.
pub const PHONE_MARK: &str = "[phone]";
/// What an e-mail address is replaced with in a stored text.
pub const EMAIL_MARK: &str = "[e-mail]";

/// A secret value. It prints as `***` everywhere, so it cannot leak through logs or `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The value itself; call only where it goes on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Opens `path` for reading and writing, creating it if missing. A new file is created
/// owner-only (0600) on Unix at once, so no other user ever has a moment to open it; an existing
/// file keeps its mode.
pub fn open_owner_only(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).read(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Warns when users other than the owner may read a file that holds or points to secrets or
/// personal data, naming the file and the command that fixes it.
#[cfg(unix)]
pub fn warn_if_others_can_read(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(metadata) = std::fs::metadata(path) else {
        return;
    };
    if metadata.permissions().mode() & 0o077 != 0 {
        tracing::warn!(
            "{} can be read by other users; restrict it with `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
}

/// Windows files inherit the folder's ACL; there is no mode to check.
#[cfg(not(unix))]
pub fn warn_if_others_can_read(_path: &Path) {}

/// The text with every e-mail address and phone number replaced by [`EMAIL_MARK`] /
/// [`PHONE_MARK`]. A phone is a run of 10 to 15 digits, possibly grouped by spaces, dashes,
/// dots, brackets or a leading `+`, standing alone (not inside a word, a UUID or a date).
pub fn redact_contacts(text: &str) -> String {
    redact_phones(&redact_emails(text))
}

fn is_local_part(c: char) -> bool {
    c.is_alphanumeric() || "._%+-'".contains(c)
}

fn is_domain_part(c: char) -> bool {
    c.is_alphanumeric() || ".-".contains(c)
}

fn redact_emails(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '@' {
            let local = out.chars().rev().take_while(|c| is_local_part(*c)).count();
            let domain = chars[i + 1..]
                .iter()
                .take_while(|c| is_domain_part(**c))
                .count();
            if local > 0 && domain > 0 {
                let keep = out.chars().count() - local;
                out = out.chars().take(keep).collect();
                out.push_str(EMAIL_MARK);
                i += 1 + domain;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn is_phone_part(c: char) -> bool {
    c.is_ascii_digit() || " -().+\u{a0}".contains(c)
}

fn redact_phones(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts_run = (chars[i].is_ascii_digit() || chars[i] == '+' || chars[i] == '(')
            && (i == 0 || !chars[i - 1].is_alphanumeric());
        if starts_run {
            let mut end = i;
            while end < chars.len() && is_phone_part(chars[end]) {
                end += 1;
            }
            // Grouping characters at the end belong to the text around it.
            while end > i && !chars[end - 1].is_ascii_digit() {
                end -= 1;
            }
            let run: String = chars[i..end].iter().collect();
            let digits = run.chars().filter(char::is_ascii_digit).count();
            let standalone = end == chars.len() || !chars[end].is_alphanumeric();
            if standalone && (10..=15).contains(&digits) && !looks_like_date_or_time(&run) {
                out.push_str(PHONE_MARK);
                i = end;
                continue;
            }
            if end > i {
                out.extend(&chars[i..end]);
                i = end;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// `2026-11-20 12`, `20-11-2026 18`, `2026.11.20`: dates in messages are not phones.
fn looks_like_date_or_time(run: &str) -> bool {
    let groups: Vec<&str> = run
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect();
    groups.windows(3).any(|w| {
        let lengths = (w[0].len(), w[1].len(), w[2].len());
        lengths == (4, 2, 2) || lengths == (2, 2, 4)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_and_emails_are_replaced_wherever_they_stand() {
        let text = r#"Calltouch rejected the deal: HTTP 400: {"phones":["79157771122"],"emails":["ivan.petrov@mail.ru"]} call +7 (916) 000-11-22 or 8 915 777 11 22, mail Иван@почта.рф"#;
        let redacted = redact_contacts(text);
        assert_eq!(
            redacted,
            r#"Calltouch rejected the deal: HTTP 400: {"phones":["[phone]"],"emails":["[e-mail]"]} call [phone] or [phone], mail [e-mail]"#
        );
    }

    #[test]
    fn dates_numbers_sums_and_references_stay() {
        for text in [
            "statusDate 22-11-2026 18:00:00 before 2026-11-20 12:00:00",
            "orderNumber ЗН-000123 sum 15300.00 attempts 3",
            "reference 0ab12cde-0000-4a5b-9c8d-1234567890ab",
            "HTTP 503: Service Unavailable (gave up after 2 attempts)",
            "id 12345678901234567890 is longer than a phone",
            "a lone @ and user@ and @host stay",
        ] {
            assert_eq!(redact_contacts(text), text);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_new_file_is_owner_only_and_an_existing_one_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("alfa-privacy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let new = dir.join("new");
        let _ = std::fs::remove_file(&new);
        open_owner_only(&new).unwrap();
        let mode = std::fs::metadata(&new).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let old = dir.join("old");
        std::fs::write(&old, "x").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o640)).unwrap();
        open_owner_only(&old).unwrap();
        let mode = std::fs::metadata(&old).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        assert_eq!(std::fs::read_to_string(&old).unwrap(), "x", "not truncated");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
