//! A strict local emulator of the Calltouch Deals API (`client-order/create`, `/update`,
//! `/delete`), served over real HTTP on loopback for the tests and the demo.
//!
//! It is stricter than Calltouch is known to be, so that anything it accepts is a body Calltouch
//! documents. It records every request and keeps the resulting deals for assertions, and it can
//! be scripted with [`Fault`]s (server errors, throttling, hangs, dropped connections...).
//!
//! # Assumptions
//!
//! `calltouch-api.md` does not settle these; the emulator makes a choice and the client must cope
//! with any reasonable variant:
//!
//! - **Envelope.** Success is HTTP 200 with `{"data":{"orders":[{"orderNumber", "calltouchOrderId",
//!   "error"}]}}`, one result per order in request order (§4, from client code). A whole-request
//!   problem is HTTP 400 (401/403/404 below) with `{"data":{"validationErrorData":"<what>"}}`.
//! - **HTTP codes.** Unknown path or a method other than POST: 404. Missing or wrong
//!   `Access-Token`: 401. Missing or wrong `SiteId`: 403 (the token is valid, but not for that
//!   account). `Content-Type` other than `application/json`: 400.
//! - **Whole request vs. per order.** Any schema problem (unknown field, wrong JSON type, bad date
//!   or money, bad matching) fails the whole request with 400, naming the path, e.g.
//!   `orders[2].statusDate`. Business-rule problems are per-order errors in a 200 answer:
//!   a duplicate `orderNumber` on create (`order with orderNumber X already exists`), an unknown
//!   one on update or delete (`order with orderNumber X not found`), and a `status` sent without
//!   its `statusDate`.
//! - **Duplicate create.** Create is not an upsert: a second create of the same `orderNumber`
//!   is a per-order error, also within one request (§5 says this is not documented).
//! - **Unknown order on update.** A per-order error; nothing is created (§2.3).
//! - **Limits.** 1 to 100 orders per request (§5, from sibling methods).
//! - **Required fields.** Create: `crm`, and per order `orderNumber`, `orderDate`, a non-empty
//!   `matching`. Update: `orderNumber`. Contact matching entries need `date`.
//! - **Types.** Money (`revenue`, `margin`, `customFields[].value`) must be a JSON string matching
//!   `^-?\d+(\.\d{1,2})?$`: a dot, no thousands separator, zero to two decimals (the docs show both
//!   `"1500"` and `"100000.50"`), never a JSON number although some clients send numbers.
//!   Dates are `dd-MM-yyyy HH:mm:ss` with a real calendar date. `searchDepth` is a non-negative
//!   JSON integer. `*TypeToMatch` is `nearest`, `nearestUniq` or `nearestUniqLead`. `null` is never
//!   accepted where a value is expected.
//! - **Update fields.** Besides the documented update fields, `orderDate` is accepted on update
//!   (clients send it, §2.2 notes); an update overwrites the named top-level fields of the deal.
//! - **Matching types.** Only the documented types and their own params key are accepted:
//!   `request`, `call`, `leadContact`, `requestContact`, `callContact`, `customSources`,
//!   `withoutSource` (no params).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The path every endpoint lives under, as on `api.calltouch.ru`.
const API_PREFIX: &str = "/lead-service/v1/api/";
/// Calltouch's documented per-request ceiling for sibling methods.
const MAX_ORDERS_PER_REQUEST: usize = 100;
/// The first id handed out, so ids never look like small test numbers.
const FIRST_CALLTOUCH_ORDER_ID: i64 = 900_001;

/// A scripted misbehaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status (5xx) without applying anything.
    ServerError(u16),
    /// Answer 429 with `Retry-After`, without applying anything.
    TooManyRequests { retry_after_secs: u64 },
    /// Wait this long, then answer 504 without applying anything (a stalled gateway).
    Hang(Duration),
    /// Close the connection without answering and without applying anything.
    DropConnection,
    /// Answer 200 with a body that is not JSON, without applying anything.
    MalformedJson,
    /// Answer 401 as for a wrong token.
    Unauthorized,
    /// per-order error for this orderNumber on its next appearance
    RejectOrder { order_number: String, error: String },
    /// accept and apply, but drop the connection before answering (ambiguous send)
    AcceptThenDrop,
}

/// One request as the emulator saw it. The token itself is never kept.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub received_at: Instant,
    pub method: String,
    /// The path below the API prefix, e.g. `client-order/create` (or the full path if outside it).
    pub endpoint: String,
    /// Whether `Access-Token` was present and equal to the expected token.
    pub token_matched: bool,
    pub site_id: Option<String>,
    /// The account (its site id) the request was accepted for: its token and `SiteId` both
    /// belong to one account the emulator knows. `None` when either does not.
    pub account: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
    /// `None` when the connection was dropped instead of answered (or the answer is pending).
    pub status: Option<u16>,
    /// The body sent, or that would have been sent before a drop.
    pub response_body: String,
}

/// What the emulator answers to one request.
struct Reply {
    /// `None` drops the connection.
    status: Option<u16>,
    body: String,
    retry_after_secs: Option<u64>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Reply {
            status: Some(status),
            body: body.to_string(),
            retry_after_secs: None,
        }
    }

    fn validation_error(status: u16, what: impl Into<String>) -> Self {
        Reply::json(
            status,
            json!({"data": {"validationErrorData": what.into()}}),
        )
    }
}

/// One account's deals: orderNumbers are unique per account, not across accounts.
#[derive(Default)]
struct Ledger {
    deals: BTreeMap<String, Value>,
    creates_per_order: BTreeMap<String, usize>,
}

#[derive(Default)]
struct Inner {
    requests: Vec<RecordedRequest>,
    /// Per account site id.
    ledgers: BTreeMap<String, Ledger>,
    /// Request-level faults, consumed one per request.
    faults: VecDeque<Fault>,
    /// An outage: from the request with this arrival index on, every request meets the fault
    /// (queued faults first).
    outage: Option<(usize, Fault)>,
    /// Per-order rejections, consumed on the order number's next appearance.
    order_rejections: HashMap<String, VecDeque<String>>,
    next_calltouch_order_id: i64,
    /// Added to every answer, half before and half after applying the request.
    latency: Duration,
}

/// The shared state: cheap to clone into every connection.
#[derive(Clone)]
struct State {
    /// `(site id, token)` of every account; the first is the one `deals()` shows.
    accounts: Arc<[(String, String)]>,
    inner: Arc<Mutex<Inner>>,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// A handle to a running emulator.
pub struct Emulator {
    address: SocketAddr,
    state: State,
    server: JoinHandle<()>,
}

impl Emulator {
    /// Starts serving on `127.0.0.1` on a free port.
    pub async fn start(site_id: &str, token: &str) -> std::io::Result<Emulator> {
        Emulator::start_accounts(&[(site_id, token)]).await
    }

    /// Starts serving several accounts, each `(site id, token)`: a request is accepted only
    /// when its `Access-Token` and `SiteId` belong to the same account, and lands in it.
    pub async fn start_accounts(accounts: &[(&str, &str)]) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let state = State {
            accounts: accounts
                .iter()
                .map(|(site, token)| (site.to_string(), token.to_string()))
                .collect(),
            inner: Arc::new(Mutex::new(Inner {
                next_calltouch_order_id: FIRST_CALLTOUCH_ORDER_ID,
                ..Inner::default()
            })),
        };
        let server = tokio::spawn(accept_connections(listener, state.clone()));
        Ok(Emulator {
            address,
            state,
            server,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}{API_PREFIX}", self.address)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.lock().requests.clone()
    }

    /// The current deal per `orderNumber`: the create body with later updates merged in.
    pub fn deals(&self) -> BTreeMap<String, Value> {
        self.deals_of(&self.state.accounts[0].0)
    }

    /// The deals of the account with this site id.
    pub fn deals_of(&self, site_id: &str) -> BTreeMap<String, Value> {
        let inner = self.state.lock();
        inner
            .ledgers
            .get(site_id)
            .map(|ledger| ledger.deals.clone())
            .unwrap_or_default()
    }

    /// How many creates were accepted per `orderNumber` (the first account).
    pub fn creates_per_order(&self) -> BTreeMap<String, usize> {
        let inner = self.state.lock();
        inner
            .ledgers
            .get(&self.state.accounts[0].0)
            .map(|ledger| ledger.creates_per_order.clone())
            .unwrap_or_default()
    }

    /// Makes every request take this long, half before the request is applied and half after,
    /// so a client killed mid-request leaves either nothing applied or an applied request whose
    /// answer it never read (an ambiguous send).
    pub fn set_latency(&self, latency: Duration) {
        self.state.lock().latency = latency;
    }

    pub fn push_fault(&self, fault: Fault) {
        let mut inner = self.state.lock();
        match fault {
            Fault::RejectOrder {
                order_number,
                error,
            } => inner
                .order_rejections
                .entry(order_number)
                .or_default()
                .push_back(error),
            other => inner.faults.push_back(other),
        }
    }

    /// Starts an outage from the next request on (every request meets `fault`, queued faults
    /// first) or, with `None`, ends it.
    pub fn set_outage(&self, fault: Option<Fault>) {
        let mut inner = self.state.lock();
        let next = inner.requests.len();
        inner.outage = fault.map(|fault| (next, fault));
    }

    /// Starts an outage once `answered` more requests have been served normally.
    pub fn set_outage_after(&self, answered: usize, fault: Fault) {
        let mut inner = self.state.lock();
        let from = inner.requests.len() + answered;
        inner.outage = Some((from, fault));
    }

    /// Stops accepting and closes every open connection.
    pub async fn shutdown(self) {
        self.server.abort();
        // The task was just aborted; its cancellation is the expected result.
        let _ = self.server.await;
    }
}

/// Accepts connections until aborted; the connections live in a `JoinSet` so that aborting
/// this task also closes them (a hanging request must not outlive the emulator).
async fn accept_connections(listener: TcpListener, state: State) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "emulator: accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let state = state.clone();
        connections.spawn(async move {
            let service = service_fn(move |request| handle(state.clone(), request));
            // A dropped connection ends here with an error; that is the scripted behaviour.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

/// Returning an error makes hyper close the connection without an answer.
async fn handle(
    state: State,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => return Err(std::io::Error::other(error)),
    };
    let record = RecordedRequest {
        received_at: Instant::now(),
        method: parts.method.to_string(),
        endpoint: endpoint_of(parts.uri.path()),
        token_matched: state
            .accounts
            .iter()
            .any(|(_, token)| header(&parts.headers, "access-token") == Some(token.as_str())),
        site_id: header(&parts.headers, "siteid").map(str::to_string),
        account: state
            .accounts
            .iter()
            .find(|(site, token)| {
                header(&parts.headers, "access-token") == Some(token.as_str())
                    && header(&parts.headers, "siteid").map(str::trim) == Some(site.as_str())
            })
            .map(|(site, _)| site.clone()),
        content_type: header(&parts.headers, CONTENT_TYPE.as_str()).map(str::to_string),
        body: String::from_utf8_lossy(&body).into_owned(),
        status: None,
        response_body: String::new(),
    };
    // Recorded on arrival, so the log keeps arrival order even when an answer is late (a hang)
    // or never comes because the client went away first; the answer is filled in after.
    let (slot, half_latency) = {
        let mut inner = state.lock();
        inner.requests.push(record.clone());
        (inner.requests.len() - 1, inner.latency / 2)
    };
    tokio::time::sleep(half_latency).await;
    let reply = respond(&state, slot, &parts.method, &record, &body).await;
    tokio::time::sleep(half_latency).await;
    if let Some(recorded) = state.lock().requests.get_mut(slot) {
        recorded.status = reply.status;
        recorded.response_body = reply.body.clone();
    }
    let Some(status) = reply.status else {
        return Err(std::io::Error::other("scripted dropped connection"));
    };
    Ok(build_response(status, reply))
}

fn build_response(status: u16, reply: Reply) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        CONTENT_TYPE,
        "application/json".parse().expect("static header"),
    );
    if let Some(seconds) = reply.retry_after_secs {
        response
            .headers_mut()
            .insert(RETRY_AFTER, seconds.to_string().parse().expect("digits"));
    }
    response
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn endpoint_of(path: &str) -> String {
    path.strip_prefix(API_PREFIX).unwrap_or(path).to_string()
}

/// Scripted faults first (they stand for the network and the gateway), then the API itself.
async fn respond(
    state: &State,
    slot: usize,
    method: &Method,
    record: &RecordedRequest,
    body: &[u8],
) -> Reply {
    let fault = {
        let mut inner = state.lock();
        let outage = inner
            .outage
            .clone()
            .filter(|(from, _)| slot >= *from)
            .map(|(_, fault)| fault);
        inner.faults.pop_front().or(outage)
    };
    match fault {
        Some(Fault::ServerError(status)) => {
            Reply::validation_error(status, "internal server error")
        }
        Some(Fault::TooManyRequests { retry_after_secs }) => Reply {
            retry_after_secs: Some(retry_after_secs),
            ..Reply::validation_error(429, "too many requests")
        },
        Some(Fault::Hang(duration)) => {
            tokio::time::sleep(duration).await;
            Reply::validation_error(504, "gateway timeout")
        }
        Some(Fault::DropConnection) => Reply {
            status: None,
            body: String::new(),
            retry_after_secs: None,
        },
        Some(Fault::MalformedJson) => Reply {
            status: Some(200),
            body: r#"{"data":{"orders":[{"orderNumber""#.into(),
            retry_after_secs: None,
        },
        Some(Fault::Unauthorized) => Reply::validation_error(401, "invalid Access-Token"),
        Some(Fault::AcceptThenDrop) => Reply {
            status: None,
            ..serve_api(state, method, record, body)
        },
        Some(Fault::RejectOrder { .. }) | None => serve_api(state, method, record, body),
    }
}

/// The API proper: request-level checks, then the endpoint.
fn serve_api(state: &State, method: &Method, record: &RecordedRequest, body: &[u8]) -> Reply {
    let endpoint = match record.endpoint.as_str() {
        "client-order/create" => ApiEndpoint::Create,
        "client-order/update" => ApiEndpoint::Update,
        "client-order/delete" => ApiEndpoint::Delete,
        _ => return Reply::validation_error(404, format!("no method {}", record.endpoint)),
    };
    if method != Method::POST {
        return Reply::validation_error(404, format!("no method {method} {}", record.endpoint));
    }
    if !record.token_matched {
        return Reply::validation_error(401, "missing or invalid Access-Token");
    }
    let Some(account) = record.account.as_deref() else {
        return Reply::validation_error(403, "missing SiteId or no access to this SiteId");
    };
    if !is_json_content_type(record.content_type.as_deref()) {
        return Reply::validation_error(400, "Content-Type must be application/json");
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(error) => return Reply::validation_error(400, format!("body is not JSON: {error}")),
    };
    if let Err(problem) = validate(endpoint, &value) {
        return Reply::validation_error(400, problem);
    }
    let results = {
        let mut inner = state.lock();
        apply(&mut inner, account, endpoint, &value)
    };
    Reply::json(200, json!({"data": {"orders": results}}))
}

fn is_json_content_type(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ApiEndpoint {
    Create,
    Update,
    Delete,
}

// ---- Applying a valid request ------------------------------------------------------------

/// Applies every order in turn and returns one result per order.
fn apply(inner: &mut Inner, account: &str, endpoint: ApiEndpoint, request: &Value) -> Vec<Value> {
    match endpoint {
        ApiEndpoint::Create => orders_of(request)
            .map(|order| {
                let number = text_field(order, "orderNumber");
                let outcome = inner.create(account, &number, order);
                order_result(&number, outcome)
            })
            .collect(),
        ApiEndpoint::Update => orders_of(request)
            .map(|order| {
                let number = text_field(order, "orderNumber");
                let outcome = inner.update(account, &number, order);
                order_result(&number, outcome)
            })
            .collect(),
        ApiEndpoint::Delete => request["orderNumbers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|number| {
                let outcome = inner.delete(account, number);
                order_result(number, outcome)
            })
            .collect(),
    }
}

fn orders_of(request: &Value) -> impl Iterator<Item = &Value> {
    request["orders"].as_array().into_iter().flatten()
}

fn text_field(order: &Value, name: &str) -> String {
    order[name].as_str().unwrap_or_default().to_string()
}

fn order_result(order_number: &str, outcome: Result<i64, String>) -> Value {
    match outcome {
        Ok(id) => json!({"orderNumber": order_number, "calltouchOrderId": id, "error": null}),
        Err(error) => {
            json!({"orderNumber": order_number, "calltouchOrderId": null, "error": error})
        }
    }
}

impl Inner {
    fn create(&mut self, account: &str, number: &str, order: &Value) -> Result<i64, String> {
        self.business_rules(number, order)?;
        if self.ledger(account).deals.contains_key(number) {
            return Err(format!("order with orderNumber {number} already exists"));
        }
        let id = self.next_calltouch_order_id;
        self.next_calltouch_order_id += 1;
        let mut deal = order.clone();
        deal["calltouchOrderId"] = json!(id);
        let ledger = self.ledger(account);
        ledger.deals.insert(number.to_string(), deal);
        *ledger
            .creates_per_order
            .entry(number.to_string())
            .or_default() += 1;
        Ok(id)
    }

    fn ledger(&mut self, account: &str) -> &mut Ledger {
        self.ledgers.entry(account.to_string()).or_default()
    }

    fn update(&mut self, account: &str, number: &str, order: &Value) -> Result<i64, String> {
        self.business_rules(number, order)?;
        let Some(deal) = self.ledger(account).deals.get_mut(number) else {
            return Err(format!("order with orderNumber {number} not found"));
        };
        for (key, value) in order.as_object().into_iter().flatten() {
            deal[key] = value.clone();
        }
        Ok(deal["calltouchOrderId"].as_i64().unwrap_or_default())
    }

    fn delete(&mut self, account: &str, number: &str) -> Result<i64, String> {
        let deal = self
            .ledger(account)
            .deals
            .remove(number)
            .ok_or_else(|| format!("order with orderNumber {number} not found"))?;
        Ok(deal["calltouchOrderId"].as_i64().unwrap_or_default())
    }

    /// Per-order checks shared by create and update, including a scripted rejection.
    fn business_rules(&mut self, number: &str, order: &Value) -> Result<(), String> {
        if let Some(error) = self.take_order_rejection(number) {
            return Err(error);
        }
        if order.get("status").is_some() && order.get("statusDate").is_none() {
            return Err(format!("order {number}: status requires statusDate"));
        }
        Ok(())
    }

    fn take_order_rejection(&mut self, number: &str) -> Option<String> {
        let queue = self.order_rejections.get_mut(number)?;
        let error = queue.pop_front();
        if queue.is_empty() {
            self.order_rejections.remove(number);
        }
        error
    }
}

// ---- Schema validation ------------------------------------------------------------------

/// The JSON shape a value must have.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    /// `dd-MM-yyyy HH:mm:ss`, a real calendar date.
    Date,
    /// A string `^-?\d+(\.\d{1,2})?$`.
    Money,
    /// A non-negative JSON integer.
    Count,
    Flag,
    Texts,
    TypeToMatch,
    Object(&'static [Field]),
    Objects(&'static [Field]),
    /// A non-empty matching list.
    Matching,
}

#[derive(Debug, Clone, Copy)]
struct Field {
    name: &'static str,
    kind: Kind,
    required: bool,
}

const fn required(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: true,
    }
}

const fn optional(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
    }
}

const TEXT: &[Field] = &[required("text", Kind::Text)];
const TAG: &[Field] = &[required("tag", Kind::Text)];
const CUSTOM_FIELD: &[Field] = &[
    required("field", Kind::Text),
    required("value", Kind::Money),
];
const TAGS_OVERWRITE: &[Field] = &[
    optional("overwrite", Kind::Flag),
    required("tags", Kind::Objects(TAG)),
];

const CREATE_REQUEST: &[Field] = &[
    required("crm", Kind::Text),
    required("orders", Kind::Objects(CREATE_ORDER)),
];
const CREATE_ORDER: &[Field] = &[
    required("matching", Kind::Matching),
    required("orderNumber", Kind::Text),
    optional("funnel", Kind::Text),
    optional("status", Kind::Text),
    optional("statusDate", Kind::Date),
    required("orderDate", Kind::Date),
    optional("currency", Kind::Text),
    optional("revenue", Kind::Money),
    optional("margin", Kind::Money),
    optional("manager", Kind::Text),
    optional("orderLink", Kind::Text),
    optional("orderName", Kind::Text),
    optional("comment", Kind::Object(TEXT)),
    optional("addTags", Kind::Objects(TAG)),
    optional("customFields", Kind::Objects(CUSTOM_FIELD)),
];

const UPDATE_REQUEST: &[Field] = &[required("orders", Kind::Objects(UPDATE_ORDER))];
const UPDATE_ORDER: &[Field] = &[
    required("orderNumber", Kind::Text),
    optional("funnel", Kind::Text),
    optional("status", Kind::Text),
    optional("statusDate", Kind::Date),
    optional("orderDate", Kind::Date),
    optional("updateDate", Kind::Date),
    optional("currency", Kind::Text),
    optional("revenue", Kind::Money),
    optional("margin", Kind::Money),
    optional("manager", Kind::Text),
    optional("orderLink", Kind::Text),
    optional("orderName", Kind::Text),
    optional("addNewComment", Kind::Object(TEXT)),
    optional("addTags", Kind::Object(TAGS_OVERWRITE)),
    optional("customFields", Kind::Objects(CUSTOM_FIELD)),
    optional("reMatching", Kind::Matching),
];

const DELETE_REQUEST: &[Field] = &[required("orderNumbers", Kind::Texts)];

const REQUEST_PARAMS: &[Field] = &[required("requestId", Kind::Count)];
const CALL_PARAMS: &[Field] = &[required("callId", Kind::Count)];
const LEAD_CONTACT_PARAMS: &[Field] = &[
    optional("emails", Kind::Texts),
    optional("phones", Kind::Texts),
    required("date", Kind::Date),
    optional("tags", Kind::Texts),
    optional("tagsLogic", Kind::Text),
    optional("leadTypeToMatch", Kind::TypeToMatch),
    optional("searchDepth", Kind::Count),
    optional("withChats", Kind::Flag),
    optional("searchAmongPhonesInText", Kind::Flag),
];
const REQUEST_CONTACT_PARAMS: &[Field] = &[
    optional("emails", Kind::Texts),
    optional("phones", Kind::Texts),
    required("date", Kind::Date),
    optional("tags", Kind::Texts),
    optional("tagsLogic", Kind::Text),
    optional("requestTypeToMatch", Kind::TypeToMatch),
    optional("searchDepth", Kind::Count),
];
const CALL_CONTACT_PARAMS: &[Field] = &[
    optional("phones", Kind::Texts),
    required("date", Kind::Date),
    optional("tags", Kind::Texts),
    optional("tagsLogic", Kind::Text),
    optional("callTypeToMatch", Kind::TypeToMatch),
    optional("searchDepth", Kind::Count),
];
const CUSTOM_SOURCE_PARAMS: &[Field] = &[
    optional("source", Kind::Text),
    optional("medium", Kind::Text),
    optional("campaign", Kind::Text),
    optional("content", Kind::Text),
    optional("term", Kind::Text),
];

/// A matching `type` and, when it takes params, its own params key and fields.
struct MatchingType {
    name: &'static str,
    params: Option<(&'static str, &'static [Field])>,
}

const fn matching_type(
    name: &'static str,
    params_key: &'static str,
    fields: &'static [Field],
) -> MatchingType {
    MatchingType {
        name,
        params: Some((params_key, fields)),
    }
}

const MATCHING_TYPES: &[MatchingType] = &[
    matching_type("request", "requestParams", REQUEST_PARAMS),
    matching_type("call", "callParams", CALL_PARAMS),
    matching_type("leadContact", "leadContactParams", LEAD_CONTACT_PARAMS),
    matching_type(
        "requestContact",
        "requestContactParams",
        REQUEST_CONTACT_PARAMS,
    ),
    matching_type("callContact", "callContactParams", CALL_CONTACT_PARAMS),
    matching_type("customSources", "customSourceParams", CUSTOM_SOURCE_PARAMS),
    MatchingType {
        name: "withoutSource",
        params: None,
    },
];

const TYPES_TO_MATCH: &[&str] = &["nearest", "nearestUniq", "nearestUniqLead"];

/// Checks a whole request body; the error names the first problem and where it is.
fn validate(endpoint: ApiEndpoint, request: &Value) -> Result<(), String> {
    let (schema, list) = match endpoint {
        ApiEndpoint::Create => (CREATE_REQUEST, "orders"),
        ApiEndpoint::Update => (UPDATE_REQUEST, "orders"),
        ApiEndpoint::Delete => (DELETE_REQUEST, "orderNumbers"),
    };
    check_object(request, schema, "")?;
    let count = request[list].as_array().map_or(0, Vec::len);
    if count == 0 {
        return Err(format!("{list}: must not be empty"));
    }
    if count > MAX_ORDERS_PER_REQUEST {
        return Err(format!(
            "{list}: {count} given, at most {MAX_ORDERS_PER_REQUEST} per request"
        ));
    }
    Ok(())
}

fn check_object(value: &Value, fields: &[Field], path: &str) -> Result<(), String> {
    let object = as_object(value, path)?;
    reject_unknown_keys(object, fields.iter().map(|field| field.name), path)?;
    for field in fields {
        let field_path = join(path, field.name);
        match object.get(field.name) {
            Some(value) => check_value(value, field.kind, &field_path)?,
            None if field.required => return Err(format!("{field_path}: required")),
            None => {}
        }
    }
    Ok(())
}

fn check_value(value: &Value, kind: Kind, path: &str) -> Result<(), String> {
    let ok = match kind {
        Kind::Text => value.is_string(),
        Kind::Date => value.as_str().is_some_and(is_calltouch_date),
        Kind::Money => value.as_str().is_some_and(is_money),
        Kind::Count => value.is_u64(),
        Kind::Flag => value.is_boolean(),
        Kind::Texts => value
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_string)),
        Kind::TypeToMatch => value
            .as_str()
            .is_some_and(|mode| TYPES_TO_MATCH.contains(&mode)),
        Kind::Object(fields) => return check_object(value, fields, path),
        Kind::Objects(fields) => {
            return check_each(value, path, |item, item_path| {
                check_object(item, fields, item_path)
            })
        }
        Kind::Matching => return check_matching(value, path),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{path}: expected {}, got {value}", describe(kind)))
    }
}

fn describe(kind: Kind) -> &'static str {
    match kind {
        Kind::Text => "a string",
        Kind::Date => "a date string dd-MM-yyyy HH:mm:ss",
        Kind::Money => "a money string like \"1500.50\"",
        Kind::Count => "a non-negative integer",
        Kind::Flag => "true or false",
        Kind::Texts => "an array of strings",
        Kind::TypeToMatch => "nearest, nearestUniq or nearestUniqLead",
        Kind::Object(_) => "an object",
        Kind::Objects(_) => "an array of objects",
        Kind::Matching => "a matching list",
    }
}

fn check_each(
    value: &Value,
    path: &str,
    check: impl Fn(&Value, &str) -> Result<(), String>,
) -> Result<(), String> {
    let items = value
        .as_array()
        .ok_or_else(|| format!("{path}: expected an array, got {value}"))?;
    items
        .iter()
        .enumerate()
        .try_for_each(|(index, item)| check(item, &format!("{path}[{index}]")))
}

/// A non-empty list of `{"type": T, "<T>Params": {...}}` entries.
fn check_matching(value: &Value, path: &str) -> Result<(), String> {
    if value.as_array().is_some_and(Vec::is_empty) {
        return Err(format!("{path}: must not be empty"));
    }
    check_each(value, path, check_matching_entry)
}

fn check_matching_entry(entry: &Value, path: &str) -> Result<(), String> {
    let object = as_object(entry, path)?;
    let type_path = join(path, "type");
    let type_name = object
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{type_path}: required string"))?;
    let params = MATCHING_TYPES
        .iter()
        .find(|known| known.name == type_name)
        .map(|known| known.params)
        .ok_or_else(|| format!("{type_path}: unknown matching type {type_name:?}"))?;
    let Some((params_key, fields)) = params else {
        return reject_unknown_keys(object, ["type"], path);
    };
    reject_unknown_keys(object, ["type", params_key], path)?;
    let params_path = join(path, params_key);
    let params_value = object
        .get(params_key)
        .ok_or_else(|| format!("{params_path}: required for type {type_name}"))?;
    check_object(params_value, fields, &params_path)
}

fn as_object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("{}: expected an object, got {value}", display_path(path)))
}

fn reject_unknown_keys<'k>(
    object: &Map<String, Value>,
    known: impl IntoIterator<Item = &'k str> + Clone,
    path: &str,
) -> Result<(), String> {
    match object
        .keys()
        .find(|key| !known.clone().into_iter().any(|name| name == key.as_str()))
    {
        Some(key) => Err(format!("{}: unknown field", join(path, key))),
        None => Ok(()),
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() {
        "body"
    } else {
        path
    }
}

/// `dd-MM-yyyy HH:mm:ss`, zero-padded, and a date that exists.
fn is_calltouch_date(text: &str) -> bool {
    const SHAPE: &[u8; 19] = b"00-00-0000 00:00:00";
    let bytes = text.as_bytes();
    let shaped = bytes.len() == SHAPE.len()
        && bytes
            .iter()
            .zip(SHAPE)
            .all(|(byte, expected)| match expected {
                b'0' => byte.is_ascii_digit(),
                separator => byte == separator,
            });
    shaped && NaiveDateTime::parse_from_str(text, "%d-%m-%Y %H:%M:%S").is_ok()
}

/// `^-?\d+(\.\d{1,2})?$`
fn is_money(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit());
    digits(whole) && fraction.is_none_or(|part| digits(part) && part.len() <= 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create_body() -> Value {
        json!({
            "crm": "1С Альфа-Авто",
            "orders": [{
                "matching": [
                    {"type": "callContact", "callContactParams": {
                        "phones": ["79157771122"], "date": "01-10-2020 12:00:00",
                        "callTypeToMatch": "nearest", "searchDepth": 259200}},
                    {"type": "customSources", "customSourceParams": {
                        "source": "офлайн визит", "medium": "офлайн визит", "campaign": "x"}},
                    {"type": "withoutSource"}
                ],
                "orderNumber": "ЗН-1",
                "status": "Закрыт",
                "statusDate": "29-02-2024 23:59:59",
                "orderDate": "01-02-2024 09:00:00",
                "revenue": "1500.50",
                "comment": {"text": "ok"},
                "addTags": [{"tag": "Сервис"}]
            }]
        })
    }

    fn create_error(body: &Value) -> String {
        validate(ApiEndpoint::Create, body).expect_err("must be rejected")
    }

    #[test]
    fn a_documented_create_body_passes() {
        assert_eq!(validate(ApiEndpoint::Create, &create_body()), Ok(()));
    }

    #[test]
    fn unknown_fields_are_rejected_at_every_level() {
        let mut top = create_body();
        top["extra"] = json!(1);
        assert_eq!(create_error(&top), "extra: unknown field");

        let mut order = create_body();
        order["orders"][0]["orderId"] = json!("1");
        assert_eq!(create_error(&order), "orders[0].orderId: unknown field");

        let mut params = create_body();
        params["orders"][0]["matching"][0]["callContactParams"]["md5"] = json!([]);
        assert_eq!(
            create_error(&params),
            "orders[0].matching[0].callContactParams.md5: unknown field"
        );
    }

    #[test]
    fn wrong_json_types_are_rejected() {
        let mut revenue = create_body();
        revenue["orders"][0]["revenue"] = json!(1500.5);
        assert!(create_error(&revenue).starts_with("orders[0].revenue: expected a money string"));

        let mut depth = create_body();
        depth["orders"][0]["matching"][0]["callContactParams"]["searchDepth"] = json!("259200");
        assert!(create_error(&depth).contains("searchDepth: expected a non-negative integer"));

        let mut null = create_body();
        null["orders"][0]["manager"] = Value::Null;
        assert!(create_error(&null).starts_with("orders[0].manager: expected a string"));
    }

    #[test]
    fn matching_type_and_params_key_must_agree() {
        let mut unknown = create_body();
        unknown["orders"][0]["matching"][2] = json!({"type": "telepathy"});
        assert!(create_error(&unknown).contains("unknown matching type"));

        let mut mismatched = create_body();
        mismatched["orders"][0]["matching"][0] =
            json!({"type": "requestContact", "callContactParams": {"date": "01-10-2020 12:00:00"}});
        assert_eq!(
            create_error(&mismatched),
            "orders[0].matching[0].callContactParams: unknown field"
        );

        let mut empty = create_body();
        empty["orders"][0]["matching"] = json!([]);
        assert_eq!(
            create_error(&empty),
            "orders[0].matching: must not be empty"
        );
    }

    #[test]
    fn required_fields_and_order_count() {
        let mut no_crm = create_body();
        no_crm.as_object_mut().unwrap().remove("crm");
        assert_eq!(create_error(&no_crm), "crm: required");

        let mut no_date = create_body();
        no_date["orders"][0]
            .as_object_mut()
            .unwrap()
            .remove("orderDate");
        assert_eq!(create_error(&no_date), "orders[0].orderDate: required");

        let mut none = create_body();
        none["orders"] = json!([]);
        assert_eq!(create_error(&none), "orders: must not be empty");

        let mut too_many = create_body();
        let order = too_many["orders"][0].clone();
        too_many["orders"] = Value::Array(vec![order; 101]);
        assert!(create_error(&too_many).contains("at most 100"));
    }

    #[test]
    fn update_accepts_only_update_fields() {
        let update = json!({"orders": [{"orderNumber": "1", "updateDate": "01-02-2024 10:00:00",
                                        "orderDate": "01-02-2024 09:00:00", "revenue": "10"}]});
        assert_eq!(validate(ApiEndpoint::Update, &update), Ok(()));
        let with_crm = json!({"crm": "x", "orders": [{"orderNumber": "1"}]});
        assert_eq!(
            validate(ApiEndpoint::Update, &with_crm),
            Err("crm: unknown field".into())
        );
    }

    #[test]
    fn dates_must_be_real_and_zero_padded() {
        assert!(is_calltouch_date("29-02-2024 23:59:59"));
        assert!(is_calltouch_date("01-01-2025 00:00:00"));
        for bad in [
            "29-02-2023 10:00:00",
            "31-04-2024 10:00:00",
            "1-02-2024 10:00:00",
            "2024-02-01 10:00:00",
            "01.02.2024 10:00:00",
            "01-02-2024T10:00:00",
            "01-02-2024 24:00:00",
            "01-02-2024 10:00",
            "",
        ] {
            assert!(!is_calltouch_date(bad), "{bad}");
        }
    }

    #[test]
    fn money_is_a_dot_decimal_with_at_most_two_places() {
        for good in ["0", "1500", "1500.5", "100000.50", "-12.34"] {
            assert!(is_money(good), "{good}");
        }
        for bad in [
            "", "-", "1,5", "1 500", "1.", ".5", "1.234", "1e3", "+1", "₽1",
        ] {
            assert!(!is_money(bad), "{bad}");
        }
    }

    #[test]
    fn content_type_must_be_json() {
        assert!(is_json_content_type(Some("application/json")));
        assert!(is_json_content_type(Some(
            "Application/JSON; charset=utf-8"
        )));
        assert!(!is_json_content_type(Some("text/plain")));
        assert!(!is_json_content_type(None));
    }

    #[test]
    fn business_rules_are_per_order() {
        let mut inner = Inner::default();
        let order = json!({"orderNumber": "7"});
        assert!(inner.create("1", "7", &order).is_ok());
        assert_eq!(
            inner.create("1", "7", &order),
            Err("order with orderNumber 7 already exists".into())
        );
        assert_eq!(
            inner.update("1", "8", &order),
            Err("order with orderNumber 8 not found".into())
        );
        let status_only = json!({"orderNumber": "7", "status": "Закрыт"});
        assert!(inner
            .update("1", "7", &status_only)
            .unwrap_err()
            .contains("statusDate"));
        assert_eq!(inner.ledgers["1"].creates_per_order["7"], 1);
        // Another account has its own order numbers.
        assert!(inner.create("2", "7", &order).is_ok());
    }
}
