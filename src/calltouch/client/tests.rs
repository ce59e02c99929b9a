//! The Calltouch client's unit tests: back-off and `Retry-After`, reading answers, and a
//! client's debug output.

use super::answer::{interpret, per_order_outcomes, Attempt};
use super::*;

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        backoff_initial: Duration::from_millis(100),
        backoff_max: Duration::from_millis(1000),
    }
}

#[test]
fn backoff_doubles_within_jitter_and_is_capped() {
    for (attempt, full_ms) in [
        (1, 100),
        (2, 200),
        (3, 400),
        (4, 800),
        (5, 1000),
        (30, 1000),
    ] {
        let delay = policy().delay(attempt, None).as_millis() as u64;
        assert!(
            (full_ms / 2..=full_ms).contains(&delay),
            "attempt {attempt}: {delay}"
        );
    }
}

#[test]
fn retry_after_is_honoured_but_capped() {
    let delay = policy().delay(1, Some(Duration::from_millis(700)));
    assert!(delay >= Duration::from_millis(700));
    let capped = policy().delay(1, Some(Duration::from_secs(60)));
    assert_eq!(capped, Duration::from_millis(1000));
}

#[test]
fn count_mismatch_is_malformed() {
    let text = r#"{"data":{"orders":[{"orderNumber":"1","calltouchOrderId":5,"error":null}]}}"#;
    assert!(per_order_outcomes(Endpoint::Create, text, &["1", "2"]).is_none());
    assert!(per_order_outcomes(Endpoint::Create, text, &["2"]).is_none());
    assert_eq!(
        per_order_outcomes(Endpoint::Create, text, &["1"]),
        Some(vec![OrderOutcome::Accepted {
            calltouch_order_id: Some(5),
            via: Endpoint::Create
        }])
    );
}

#[test]
fn whole_batch_validation_error_rejects_every_order_with_trimmed_body() {
    let body = format!("  {}  ", "x".repeat(900));
    let Attempt::Settled(outcomes) = interpret(
        Endpoint::Update,
        StatusCode::BAD_REQUEST,
        None,
        &body,
        &["a", "b"],
    ) else {
        panic!("a 400 settles the batch");
    };
    assert_eq!(outcomes.len(), 2);
    let OrderOutcome::Rejected { reason } = &outcomes[0] else {
        panic!("rejected expected");
    };
    assert!(reason.starts_with("HTTP 400: xxx"));
    assert_eq!(
        reason.chars().count(),
        "HTTP 400: ".len() + MAX_REASON_CHARS
    );
}

#[test]
fn debug_output_never_shows_the_token() {
    let config: crate::calltouch::settings::CalltouchConfig =
        toml::from_str("site_id = \"42\"").unwrap();
    let client =
        CalltouchClient::new(&config, Secret::new("very-secret-token"), "crm".into()).unwrap();
    assert!(!format!("{client:?}").contains("very-secret-token"));
}
