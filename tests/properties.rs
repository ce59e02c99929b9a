//! Property tests of what goes on the wire: the phone, e-mail, date, money and text normalisers
//! and the create body built from any document, however broken its data. None may panic, and
//! whatever they let through must be a value Calltouch accepts.

use chrono::{NaiveDate, NaiveDateTime};
use proptest::prelude::*;

use alfa_calltouch::domain::snapshot::{DocKind, DocRef, DocumentSnapshot, Money};
use alfa_calltouch::rules::format::{
    calltouch_date, clean_text, normalize_emails, normalize_phones,
};
use alfa_calltouch::rules::settings::DealConfig;
use alfa_calltouch::rules::settings::StatusConfig;
use alfa_calltouch::rules::DealRules;

/// Calltouch's money shape: a dot and exactly two decimals.
fn is_calltouch_money(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let Some((whole, cents)) = digits.split_once('.') else {
        return false;
    };
    !whole.is_empty()
        && whole.chars().all(|c| c.is_ascii_digit())
        && cents.len() == 2
        && cents.chars().all(|c| c.is_ascii_digit())
}

fn moment() -> impl Strategy<Value = NaiveDateTime> {
    (
        1900i32..2200,
        1u32..=12,
        1u32..=28,
        0u32..24,
        0u32..60,
        0u32..60,
    )
        .prop_map(|(y, mo, d, h, mi, s)| {
            NaiveDate::from_ymd_opt(y, mo, d)
                .unwrap()
                .and_hms_opt(h, mi, s)
                .unwrap()
        })
}

/// Text as 1C users type it: digits, phone punctuation, letters, control characters, emoji.
fn messy_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9+()\\- ,;]{0,40}",
        "[a-zA-Zа-яА-Я0-9@._ \\-]{0,40}",
        any::<String>(),
        Just("😀\u{0}\u{7}\t\r\n".to_string()),
        Just("x".repeat(10_240)),
    ]
}

proptest! {
    #[test]
    fn phones_are_digits_of_a_russian_or_foreign_number(raw in prop::collection::vec(messy_text(), 0..4)) {
        let (phones, _warnings) = normalize_phones(&raw);
        let mut unique = phones.clone();
        unique.dedup();
        for phone in &phones {
            prop_assert!(phone.chars().all(|c| c.is_ascii_digit()), "{phone}");
            prop_assert!((11..=15).contains(&phone.len()), "{phone}");
            if phone.starts_with('7') {
                prop_assert_eq!(phone.len(), 11);
            }
            prop_assert_eq!(phones.iter().filter(|p| *p == phone).count(), 1);
        }
    }

    #[test]
    fn emails_are_lower_case_single_at_and_unique(raw in prop::collection::vec(messy_text(), 0..4)) {
        let (emails, _warnings) = normalize_emails(&raw);
        for email in &emails {
            prop_assert_eq!(email.matches('@').count(), 1, "{}", email);
            prop_assert_eq!(email, &email.to_lowercase());
            prop_assert!(!email.chars().any(|c| c.is_whitespace() || c.is_control()), "{}", email);
            prop_assert!(email.chars().count() <= 254);
            prop_assert_eq!(emails.iter().filter(|e| *e == email).count(), 1);
        }
    }

    #[test]
    fn dates_read_back_as_written(at in moment()) {
        let text = calltouch_date(at);
        prop_assert_eq!(NaiveDateTime::parse_from_str(&text, "%d-%m-%Y %H:%M:%S").unwrap(), at);
    }

    #[test]
    fn money_round_trips_in_calltouch_shape(cents in any::<i64>()) {
        let text = Money(i128::from(cents)).to_calltouch();
        prop_assert!(is_calltouch_money(&text), "{}", text);
        prop_assert_eq!(Money::parse(&text), Some(Money(i128::from(cents))));
    }

    #[test]
    fn money_parsing_never_panics(text in messy_text()) {
        if let Some(money) = Money::parse(&text) {
            prop_assert!(is_calltouch_money(&money.to_calltouch()));
        }
    }

    #[test]
    fn cleaned_text_has_no_control_characters_and_fits(text in messy_text(), max in 1usize..300) {
        if let Some(clean) = clean_text(&text, max) {
            prop_assert!(!clean.is_empty());
            prop_assert!(clean.chars().count() <= max);
            prop_assert!(!clean.chars().any(char::is_control));
            prop_assert_eq!(clean.trim(), clean.as_str());
        }
    }

    #[test]
    fn a_create_body_from_any_document_is_well_formed_or_a_named_error(
        number in messy_text(),
        sum in proptest::option::of(messy_text()),
        manager in proptest::option::of(messy_text()),
        reason in proptest::option::of(messy_text()),
        phones in prop::collection::vec(messy_text(), 0..3),
        emails in prop::collection::vec(messy_text(), 0..3),
        date in moment(),
        now in moment(),
    ) {
        let deal = DealConfig::default();
        let statuses = StatusConfig::default();
        let rules = DealRules::new(&deal, &statuses);
        let mut snapshot = DocumentSnapshot::new(DocKind::Booking, DocRef([7; 16]), &number, date);
        snapshot.sum = sum;
        snapshot.manager = manager;
        snapshot.contact_reason = reason;
        snapshot.phones = phones;
        snapshot.emails = emails;
        snapshot.state = Some("Подтверждено".into());
        match rules.create_order(&snapshot, now) {
            Ok((order, _sent, _warnings)) => {
                prop_assert!(!order.order_number.trim().is_empty());
                prop_assert!(!order.matching.is_empty());
                prop_assert!(NaiveDateTime::parse_from_str(&order.order_date, "%d-%m-%Y %H:%M:%S").is_ok());
                if let Some(revenue) = &order.revenue {
                    prop_assert!(is_calltouch_money(revenue), "{}", revenue);
                    prop_assert!(!revenue.starts_with('-'), "{}", revenue);
                }
                if let Some(manager) = &order.manager {
                    prop_assert!(!manager.chars().any(char::is_control));
                }
                prop_assert!(serde_json::to_string(&order).is_ok());
            }
            Err(error) => prop_assert!(!error.field.is_empty(), "{}", error),
        }
    }
}
