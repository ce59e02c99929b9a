//! `[calltouch]`: where and how deals are sent, owned by the client that reads it: the
//! account's `SiteId` and token, the API address, the batch size, the rate limit, the timeouts
//! and the retry policy of one request.

use serde::Deserialize;
use std::path::PathBuf;

/// `[calltouch]`: where and how deals are sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalltouchConfig {
    /// `SiteId` header: the Calltouch account (ЛК) id.
    pub site_id: String,
    /// Environment variable holding the `Access-Token`.
    #[serde(default = "default_token_env")]
    pub token_env: String,
    /// A file holding the token (first line), used when the variable is not set.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    #[serde(default = "default_base_url")]
    pub base_url: String,
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Requests per second; 0 turns the limit off (benchmarks only).
    #[serde(default = "default_requests_per_second")]
    pub requests_per_second: u32,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    /// Attempts per request on network errors, timeouts, 429 and 5xx.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// First backoff delay; it doubles per attempt, with jitter.
    #[serde(default = "default_backoff_ms")]
    pub backoff_initial_ms: u64,
    /// Upper bound of one backoff delay (also caps `Retry-After`).
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
}

fn default_token_env() -> String {
    "CALLTOUCH_TOKEN".into()
}
fn default_base_url() -> String {
    "https://api.calltouch.ru/lead-service/v1/api/".into()
}
fn default_batch_size() -> usize {
    100
}
fn default_requests_per_second() -> u32 {
    5
}
fn default_request_timeout() -> u64 {
    30
}
fn default_max_attempts() -> u32 {
    4
}
fn default_backoff_ms() -> u64 {
    500
}
fn default_backoff_max_ms() -> u64 {
    30_000
}
fn default_connect_timeout() -> u64 {
    10
}
