//! The Calltouch HTTP client: owns batching, pacing, retries and the create/update fallbacks.
//!
//! The caller hands over a list of [`Operation`]s and gets back one [`OrderOutcome`] per
//! operation, in input order. What the answer means for the sync register is decided here:
//! a per-order error is a [`OrderOutcome::Rejected`] (record, do not retry), a transient failure
//! that outlived the retry bound is [`OrderOutcome::Deferred`] (try again next cycle), and a bad
//! token stops the whole cycle with [`ClientError::Unauthorized`].
//!
//! Creates are not idempotent (`calltouch-api.md` §5), so a create that Calltouch answers with
//! "already exists" (for example after an ambiguous send whose answer was lost) is re-sent as an
//! update, and an update of an order Calltouch does not know is re-sent as its create body.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::StatusCode;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::settings::CalltouchConfig;
use crate::domain::payload::{CreateOrder, CreateRequest, UpdateOrder, UpdateRequest};
use crate::ops::privacy::Secret;

mod answer;

use answer::{describe_transport_error, interpret, retry_after, trimmed, Attempt};

/// The longest error body kept in a rejection reason.
const MAX_REASON_CHARS: usize = 500;

/// What to do with one deal.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// A deal Calltouch has not seen yet.
    Create(CreateOrder),
    /// A change to a deal already sent; `fallback` is sent as a create if Calltouch does not
    /// know the order.
    Update {
        order: UpdateOrder,
        fallback: CreateOrder,
    },
}

/// The Calltouch method an order went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Create,
    Update,
}

impl Endpoint {
    /// The path below the API base URL.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Create => "client-order/create",
            Endpoint::Update => "client-order/update",
        }
    }
}

/// The fate of one operation.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderOutcome {
    /// Calltouch accepted it. `via` tells which endpoint finally accepted it (create or update),
    /// after fallbacks.
    Accepted {
        calltouch_order_id: Option<i64>,
        via: Endpoint,
    },
    /// Calltouch rejected this order (validation / per-order error): record, do not retry.
    Rejected { reason: String },
    /// Not accepted for a transient reason after the retry bound (5xx, 429, timeouts, dropped
    /// connection, malformed answer): leave pending for the next cycle.
    Deferred { reason: String },
}

/// A failure that stops the whole cycle; no document is marked failed because of it.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// 401/403: the cycle must stop; no document is marked failed.
    #[error(
        "Calltouch refused the credentials (HTTP {status}): check the Access-Token and SiteId"
    )]
    Unauthorized { status: u16 },
    /// An answer that says the client is misconfigured (e.g. 404 for a wrong `base_url`), not
    /// that an order is bad.
    #[error("Calltouch answered HTTP {status} on {endpoint}: {body}")]
    UnexpectedStatus {
        status: u16,
        endpoint: &'static str,
        body: String,
    },
    /// A header value (token or site id) that cannot go into an HTTP header.
    #[error("calltouch {name} contains characters not allowed in an HTTP header")]
    InvalidHeader { name: &'static str },
    #[error("cannot build the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
    #[error("cannot encode the request body: {0}")]
    Encode(#[source] serde_json::Error),
}

/// Retry bounds from the configuration.
#[derive(Debug, Clone, Copy)]
struct RetryPolicy {
    max_attempts: u32,
    backoff_initial: Duration,
    backoff_max: Duration,
}

impl RetryPolicy {
    /// The pause after failed attempt number `attempt` (1-based): doubling from the initial
    /// delay, capped, with jitter over its upper half so that parallel clients spread out.
    /// A server `Retry-After` (capped at the maximum) is never undercut.
    fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let doubling = 2u32.saturating_pow(attempt.saturating_sub(1));
        let base = self
            .backoff_initial
            .saturating_mul(doubling)
            .min(self.backoff_max);
        let half = base / 2;
        let jitter_ms = fastrand::u64(0..=half.as_millis() as u64);
        let backoff = half + Duration::from_millis(jitter_ms);
        match retry_after {
            Some(wanted) => backoff.max(wanted.min(self.backoff_max)),
            None => backoff,
        }
    }
}

/// Spaces request starts at least `interval` apart across every client that shares it:
/// Calltouch limits requests per IP, so a dealer group's accounts share one pacer.
#[derive(Debug)]
pub struct Pacer {
    interval: Option<Duration>,
    next_start: Mutex<Instant>,
}

impl Pacer {
    fn new(requests_per_second: u32) -> Self {
        let interval =
            (requests_per_second > 0).then(|| Duration::from_secs(1) / requests_per_second);
        Pacer {
            interval,
            next_start: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this request's slot.
    async fn wait(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let slot = {
            let mut next_start = self.next_start.lock().await;
            let slot = (*next_start).max(Instant::now());
            *next_start = slot + interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// One order on its way: which operation it answers, what is sent now, and what is sent if the
/// answer calls for the fallback.
struct Job {
    index: usize,
    body: Body,
    fallback: Option<Body>,
}

#[derive(Clone)]
enum Body {
    Create(CreateOrder),
    Update(UpdateOrder),
}

impl Body {
    fn endpoint(&self) -> Endpoint {
        match self {
            Body::Create(_) => Endpoint::Create,
            Body::Update(_) => Endpoint::Update,
        }
    }
}

impl Job {
    fn new(index: usize, operation: Operation) -> Self {
        match operation {
            Operation::Create(order) => Job {
                index,
                fallback: Some(Body::Update(update_from_create(&order))),
                body: Body::Create(order),
            },
            Operation::Update { order, fallback } => Job {
                index,
                body: Body::Update(order),
                fallback: Some(Body::Create(fallback)),
            },
        }
    }

    /// The follow-up job when Calltouch's per-order error calls for the other endpoint; at most
    /// one fallback per operation, so create/update can never ping-pong.
    fn fallback_for(&self, outcome: &OrderOutcome) -> Option<Job> {
        let OrderOutcome::Rejected { reason } = outcome else {
            return None;
        };
        let fallback = self.fallback.clone()?;
        let reason = reason.to_lowercase();
        let wanted = match self.body.endpoint() {
            Endpoint::Create => reason.contains("already exists"),
            Endpoint::Update => reason.contains("not found"),
        };
        wanted.then_some(Job {
            index: self.index,
            body: fallback,
            fallback: None,
        })
    }

    fn order_number(&self) -> &str {
        match &self.body {
            Body::Create(order) => &order.order_number,
            Body::Update(order) => &order.order_number,
        }
    }

    fn create_body(&self) -> Option<CreateOrder> {
        match &self.body {
            Body::Create(order) => Some(order.clone()),
            Body::Update(_) => None,
        }
    }

    fn update_body(&self) -> Option<UpdateOrder> {
        match &self.body {
            Body::Update(order) => Some(order.clone()),
            Body::Create(_) => None,
        }
    }
}

/// The update that carries a create's state, for a deal Calltouch already has.
pub fn update_from_create(order: &CreateOrder) -> UpdateOrder {
    UpdateOrder {
        order_number: order.order_number.clone(),
        status: order.status.clone(),
        status_date: order.status_date.clone(),
        order_date: Some(order.order_date.clone()),
        update_date: Some(order.order_date.clone()),
        revenue: order.revenue.clone(),
        manager: order.manager.clone(),
    }
}

/// The Calltouch Deals API client. Cheap to share by reference; one pacer covers every request.
pub struct CalltouchClient {
    http: reqwest::Client,
    base_url: String,
    /// `Access-Token` (marked sensitive), `SiteId` and `Content-Type`.
    headers: HeaderMap,
    crm: String,
    batch_size: usize,
    retry: RetryPolicy,
    pacer: Arc<Pacer>,
}

impl fmt::Debug for CalltouchClient {
    /// Leaves the headers out entirely: they hold the token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CalltouchClient")
            .field("base_url", &self.base_url)
            .field("crm", &self.crm)
            .field("batch_size", &self.batch_size)
            .field("retry", &self.retry)
            .field("pacer", &self.pacer)
            .finish_non_exhaustive()
    }
}

impl CalltouchClient {
    pub fn new(config: &CalltouchConfig, token: Secret, crm: String) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(Duration::from_secs(config.connect_timeout_secs))
            .timeout(Duration::from_secs(config.request_timeout_secs))
            .build()
            .map_err(ClientError::Build)?;
        let mut base_url = config.base_url.clone();
        if !base_url.ends_with('/') {
            base_url.push('/');
        }
        Ok(CalltouchClient {
            http,
            base_url,
            headers: request_headers(&token, &config.site_id)?,
            crm,
            batch_size: config.batch_size.clamp(1, 100),
            retry: RetryPolicy {
                max_attempts: config.max_attempts.max(1),
                backoff_initial: Duration::from_millis(config.backoff_initial_ms),
                backoff_max: Duration::from_millis(config.backoff_max_ms),
            },
            pacer: Arc::new(Pacer::new(config.requests_per_second)),
        })
    }

    /// A client for another account of the same group: its own `SiteId` and token, every
    /// other setting and the pacer shared, so the rate limit holds for the sum of accounts.
    pub fn for_account(&self, site_id: &str, token: &Secret) -> Result<Self, ClientError> {
        Ok(CalltouchClient {
            http: self.http.clone(),
            base_url: self.base_url.clone(),
            headers: request_headers(token, site_id)?,
            crm: self.crm.clone(),
            batch_size: self.batch_size,
            retry: self.retry,
            pacer: Arc::clone(&self.pacer),
        })
    }

    /// Orders per request: the one owner of `calltouch.batch_size`, which the cycle asks so
    /// that it records and reports a batch at a time.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Sends all operations, batching and pacing; results in input order.
    pub async fn send(&self, operations: Vec<Operation>) -> Result<Vec<OrderOutcome>, ClientError> {
        let mut outcomes: Vec<Option<OrderOutcome>> = vec![None; operations.len()];
        let mut jobs: Vec<Job> = operations
            .into_iter()
            .enumerate()
            .map(|(index, operation)| Job::new(index, operation))
            .collect();
        while !jobs.is_empty() {
            let mut fallbacks = Vec::new();
            for endpoint in [Endpoint::Create, Endpoint::Update] {
                let group: Vec<&Job> = jobs
                    .iter()
                    .filter(|job| job.body.endpoint() == endpoint)
                    .collect();
                for batch in group.chunks(self.batch_size) {
                    let results = self.send_batch(endpoint, batch).await?;
                    for (job, outcome) in batch.iter().zip(results) {
                        match job.fallback_for(&outcome) {
                            Some(next) => fallbacks.push(next),
                            None => outcomes[job.index] = Some(outcome),
                        }
                    }
                }
            }
            jobs = fallbacks;
        }
        Ok(outcomes
            .into_iter()
            .map(|outcome| outcome.expect("every job ends with an outcome or a fallback job"))
            .collect())
    }

    /// One batch of one endpoint, retried until it is settled or the attempts run out.
    async fn send_batch(
        &self,
        endpoint: Endpoint,
        batch: &[&Job],
    ) -> Result<Vec<OrderOutcome>, ClientError> {
        let body = self.encode(endpoint, batch)?;
        let order_numbers: Vec<&str> = batch.iter().map(|job| job.order_number()).collect();
        let mut last_reason = String::new();
        for attempt in 1..=self.retry.max_attempts {
            self.pacer.wait().await;
            tracing::debug!(
                endpoint = endpoint.path(),
                orders = batch.len(),
                attempt,
                "sending"
            );
            match self.attempt(endpoint, &body, &order_numbers, attempt).await {
                Attempt::Settled(outcomes) => return Ok(outcomes),
                Attempt::Fatal(error) => return Err(error),
                Attempt::Transient {
                    reason,
                    retry_after,
                } => {
                    tracing::warn!(endpoint = endpoint.path(), attempt, %reason, "transient failure");
                    if attempt < self.retry.max_attempts {
                        tokio::time::sleep(self.retry.delay(attempt, retry_after)).await;
                    }
                    last_reason = reason;
                }
            }
        }
        let reason = format!(
            "{last_reason} (gave up after {} attempts)",
            self.retry.max_attempts
        );
        Ok(vec![OrderOutcome::Deferred { reason }; batch.len()])
    }

    /// Whether Calltouch answers at all, asked after a batch outlived its retries: one update of
    /// no orders, which changes nothing. Any answer but 5xx or 429 means the service is up, so
    /// the batch itself is the trouble; a transport failure, 5xx or 429 means an outage, whose
    /// description is returned.
    pub async fn probe(&self) -> Result<(), String> {
        self.pacer.wait().await;
        let url = format!("{}{}", self.base_url, Endpoint::Update.path());
        let sent = self
            .http
            .post(url)
            .headers(self.headers.clone())
            .body(r#"{"orders":[]}"#)
            .send()
            .await;
        let response = sent.map_err(|error| describe_transport_error(&error))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|error| describe_transport_error(&error))?;
        tracing::debug!(status = status.as_u16(), "probe answered");
        match status.as_u16() {
            429 => Err("HTTP 429 too many requests".into()),
            500..=599 => Err(format!("HTTP {status}: {}", trimmed(&text))),
            _ => Ok(()),
        }
    }

    fn encode(&self, endpoint: Endpoint, batch: &[&Job]) -> Result<Vec<u8>, ClientError> {
        let encoded = match endpoint {
            Endpoint::Create => serde_json::to_vec(&CreateRequest {
                crm: self.crm.clone(),
                orders: batch.iter().filter_map(|job| job.create_body()).collect(),
            }),
            Endpoint::Update => serde_json::to_vec(&UpdateRequest {
                orders: batch.iter().filter_map(|job| job.update_body()).collect(),
            }),
        };
        encoded.map_err(ClientError::Encode)
    }

    /// One HTTP request and what its answer means.
    async fn attempt(
        &self,
        endpoint: Endpoint,
        body: &[u8],
        order_numbers: &[&str],
        attempt: u32,
    ) -> Attempt {
        let url = format!("{}{}", self.base_url, endpoint.path());
        let sent = self
            .http
            .post(url)
            .headers(self.headers.clone())
            .body(body.to_vec())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Attempt::transient(describe_transport_error(&error)),
        };
        let status = response.status();
        let retry_after = retry_after(response.headers());
        tracing::info!(
            endpoint = endpoint.path(),
            orders = order_numbers.len(),
            status = status.as_u16(),
            attempt,
            "answered"
        );
        let text = match response.text().await {
            Ok(text) => text,
            Err(error) => return Attempt::transient(describe_transport_error(&error)),
        };
        interpret(endpoint, status, retry_after, &text, order_numbers)
    }
}

fn request_headers(token: &Secret, site_id: &str) -> Result<HeaderMap, ClientError> {
    let mut token_value = HeaderValue::from_str(token.expose())
        .map_err(|_| ClientError::InvalidHeader { name: "token" })?;
    token_value.set_sensitive(true);
    let site_value = HeaderValue::from_str(site_id.trim())
        .map_err(|_| ClientError::InvalidHeader { name: "site_id" })?;
    let mut headers = HeaderMap::new();
    headers.insert(HeaderName::from_static("access-token"), token_value);
    headers.insert(HeaderName::from_static("siteid"), site_value);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(headers)
}

/// What an answer with this status and body settles, or `None` when the batch is to be retried
/// or the cycle stopped: the client's reading of an answer, open to the fuzz targets in `fuzz/`.
pub fn settled_outcomes(
    endpoint: Endpoint,
    status: u16,
    text: &str,
    order_numbers: &[&str],
) -> Option<Vec<OrderOutcome>> {
    let status = StatusCode::from_u16(status).ok()?;
    match interpret(endpoint, status, None, text, order_numbers) {
        Attempt::Settled(outcomes) => Some(outcomes),
        Attempt::Transient { .. } | Attempt::Fatal(_) => None,
    }
}

#[cfg(test)]
mod tests;
