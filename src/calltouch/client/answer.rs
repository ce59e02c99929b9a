//! What a Calltouch answer means: how one HTTP attempt ended, the per-order outcomes of an answer,
//! a rejected batch, `Retry-After`, and transport errors in words.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;

use super::{ClientError, Endpoint, OrderOutcome, MAX_REASON_CHARS};
use crate::domain::payload::{OrderResult, OrdersResponse};

/// How one HTTP attempt ended.
pub(super) enum Attempt {
    /// An answer that settles every order of the batch.
    Settled(Vec<OrderOutcome>),
    /// Worth another attempt; `retry_after` is the server's requested pause.
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    Fatal(ClientError),
}

impl Attempt {
    pub(super) fn transient(reason: String) -> Self {
        Attempt::Transient {
            reason,
            retry_after: None,
        }
    }
}

/// `Retry-After` in seconds; the HTTP-date form is not used by APIs like this one and is ignored.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// A transport failure in words. reqwest errors name the URL but never the headers.
pub(super) fn describe_transport_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        format!("request timed out: {error}")
    } else if error.is_connect() {
        format!("cannot connect: {error}")
    } else {
        format!("connection failed: {error}")
    }
}

/// What an HTTP answer means for the batch.
pub(super) fn interpret(
    endpoint: Endpoint,
    status: StatusCode,
    retry_after: Option<Duration>,
    text: &str,
    order_numbers: &[&str],
) -> Attempt {
    match status.as_u16() {
        401 | 403 => Attempt::Fatal(ClientError::Unauthorized {
            status: status.as_u16(),
        }),
        429 => Attempt::Transient {
            reason: "HTTP 429 too many requests".into(),
            retry_after,
        },
        500..=599 => Attempt::transient(format!("HTTP {status}: {}", trimmed(text))),
        200..=299 => match per_order_outcomes(endpoint, text, order_numbers) {
            Some(outcomes) => Attempt::Settled(outcomes),
            None => Attempt::transient(format!("malformed answer: {}", trimmed(text))),
        },
        400 | 409 | 422 => Attempt::Settled(
            per_order_outcomes(endpoint, text, order_numbers)
                .unwrap_or_else(|| rejected_batch(status, text, order_numbers.len())),
        ),
        other => Attempt::Fatal(ClientError::UnexpectedStatus {
            status: other,
            endpoint: endpoint.path(),
            body: trimmed(text),
        }),
    }
}

/// The per-order results of an answer, or `None` when the answer does not give exactly one
/// result per order sent (in order, when it echoes the order numbers).
pub(super) fn per_order_outcomes(
    endpoint: Endpoint,
    text: &str,
    order_numbers: &[&str],
) -> Option<Vec<OrderOutcome>> {
    let response: OrdersResponse = serde_json::from_str(text).ok()?;
    let results = response.data.orders;
    if results.len() != order_numbers.len() {
        return None;
    }
    results
        .into_iter()
        .zip(order_numbers)
        .map(|(result, sent)| order_outcome(endpoint, result, sent))
        .collect()
}

fn order_outcome(endpoint: Endpoint, result: OrderResult, sent: &str) -> Option<OrderOutcome> {
    if result
        .order_number
        .as_deref()
        .is_some_and(|echo| echo != sent)
    {
        return None;
    }
    Some(
        match result.error.filter(|error| !error.trim().is_empty()) {
            Some(reason) => OrderOutcome::Rejected { reason },
            None => OrderOutcome::Accepted {
                calltouch_order_id: result.calltouch_order_id,
                via: endpoint,
            },
        },
    )
}

fn rejected_batch(status: StatusCode, text: &str, count: usize) -> Vec<OrderOutcome> {
    let reason = format!("HTTP {}: {}", status.as_u16(), trimmed(text));
    vec![OrderOutcome::Rejected { reason }; count]
}

/// An answer body cut to a size that fits a register record.
pub(super) fn trimmed(text: &str) -> String {
    text.trim().chars().take(MAX_REASON_CHARS).collect()
}
