//! The sections of the config file other stages do not own: `[source]`, `[register]`,
//! `[groups]`, `[sync]`, `[schedule]` and `[status_page]`, with their defaults.

use chrono::NaiveDate;
use serde::Deserialize;
use std::path::{Path, PathBuf};

use super::TlsMode;
use crate::ops::schedule::Interval;
use crate::register::settings::RegisterKind;
use crate::rules::accounts::MAIN_ACCOUNT;
use crate::source::settings::{Preset, SourceKind};

/// `[groups]`: a dealer group's further Calltouch accounts and the rules choosing each one's
/// documents (docs/dealer-groups.md). Absent, `[calltouch]` is the only account and takes all.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GroupsConfig {
    /// The name the register, `preview` and the status page give the `[calltouch]` account.
    pub main: String,
    /// Departments (description or code) whose documents go to the `[calltouch]` account.
    pub departments: Vec<String>,
    /// Organisations (description or code) whose documents go to the `[calltouch]` account.
    pub organisations: Vec<String>,
    /// The account taking documents no rule chooses: an account name, or "none" (not sent).
    pub rest: String,
    pub accounts: Vec<AccountConfig>,
}

impl Default for GroupsConfig {
    fn default() -> Self {
        GroupsConfig {
            main: MAIN_ACCOUNT.into(),
            departments: Vec::new(),
            organisations: Vec::new(),
            rest: MAIN_ACCOUNT.into(),
            accounts: Vec::new(),
        }
    }
}

/// `[[groups.accounts]]`: one more Calltouch account; transport settings are `[calltouch]`'s.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub name: String,
    pub site_id: String,
    /// Environment variable holding this account's `Access-Token`.
    pub token_env: String,
    /// A file holding the token (first line), used when the variable is not set.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    #[serde(default)]
    pub departments: Vec<String>,
    #[serde(default)]
    pub organisations: Vec<String>,
}

/// `[source]`: the 1C database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub kind: SourceKind,
    pub preset: Preset,
    /// The name map file (1C metadata names → storage names).
    pub name_map: PathBuf,
    /// Documents dated before this day are never sent (keeps a first run from sending history).
    pub start_date: NaiveDate,
    pub host: String,
    #[serde(default)]
    pub port: Option<u16>,
    /// MS SQL named instance (`SERVER\INSTANCE`); used instead of `port`.
    #[serde(default)]
    pub instance: Option<String>,
    pub database: String,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default = "default_password_env")]
    pub password_env: String,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// MS SQL: Windows integrated authentication instead of a SQL login (Windows only).
    #[serde(default)]
    pub integrated_auth: bool,
    /// TLS: `required` (the default), `preferred` or `off`.
    #[serde(default)]
    pub tls: TlsMode,
    /// PEM file of the CA that signed the server certificate, instead of the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate. An explicit opt-in; off by default.
    #[serde(default)]
    pub trust_server_certificate: bool,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    #[serde(default = "default_query_timeout")]
    pub query_timeout_secs: u64,
    /// Change detection (`source::window`): 0 finds every change exactly each cycle, scanning
    /// the document tables; N > 0 (the default, 31) reads only documents dated, and state
    /// records written, within N days before the previous read, through 1C's own indexes, and
    /// a periodic exact reconcile finds the rest.
    #[serde(default = "default_change_window_days")]
    pub change_window_days: u32,
    /// With a window: hours between exact reconciles. Set this or `reconcile_at`, not both.
    #[serde(default)]
    pub reconcile_hours: Option<u32>,
    /// With a window: the time of day (`"HH:MM"`, the 1C database server's local time) after
    /// which the next cycle runs the day's exact reconcile. The default when neither this nor
    /// `reconcile_hours` is set: `"03:00"`, off business hours.
    #[serde(default)]
    pub reconcile_at: Option<String>,
}

impl SourceConfig {
    /// How the source finds changes. `validate` has checked `reconcile_at`.
    pub fn change_detection(&self) -> crate::source::window::ChangeDetection {
        let reconcile_at = match (&self.reconcile_at, self.reconcile_hours) {
            (Some(text), _) => parse_time_of_day(text),
            (None, Some(_)) => None,
            (None, None) => parse_time_of_day(DEFAULT_RECONCILE_AT),
        };
        crate::source::window::ChangeDetection {
            window_days: self.change_window_days,
            reconcile_hours: self.reconcile_hours.unwrap_or(24),
            reconcile_at,
        }
    }
}

/// The connection keys `[source]` and a server `[register]` both have, borrowed: the one
/// reading of them that validation, the password and the database endpoint share.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionKeys<'a> {
    /// `"source"` or `"register"`: the prefix of every key an error names.
    pub section: &'static str,
    pub mssql: bool,
    pub host: &'a str,
    pub port: Option<u16>,
    pub instance: Option<&'a str>,
    pub database: &'a str,
    pub user: Option<&'a str>,
    pub password_env: &'a str,
    pub password_file: Option<&'a Path>,
    pub integrated_auth: bool,
    pub tls: TlsMode,
    pub ca_file: Option<&'a Path>,
    pub trust_server_certificate: bool,
    pub connect_timeout_secs: u64,
}

/// Both sections name these keys alike, so one list borrows them from either.
macro_rules! connection_keys {
    ($section:literal, $keys:expr, $mssql:expr) => {
        ConnectionKeys {
            section: $section,
            mssql: $mssql,
            host: &$keys.host,
            port: $keys.port,
            instance: $keys.instance.as_deref(),
            database: &$keys.database,
            user: $keys.user.as_deref(),
            password_env: &$keys.password_env,
            password_file: $keys.password_file.as_deref(),
            integrated_auth: $keys.integrated_auth,
            tls: $keys.tls,
            ca_file: $keys.ca_file.as_deref(),
            trust_server_certificate: $keys.trust_server_certificate,
            connect_timeout_secs: $keys.connect_timeout_secs,
        }
    };
}

impl SourceConfig {
    pub fn connection(&self) -> ConnectionKeys<'_> {
        connection_keys!("source", self, self.kind == SourceKind::Mssql)
    }
}

impl RegisterConfig {
    pub fn connection(&self) -> ConnectionKeys<'_> {
        connection_keys!("register", self, self.kind == RegisterKind::Mssql)
    }
}

/// When the daily reconcile runs if the configuration names no time and no interval.
pub const DEFAULT_RECONCILE_AT: &str = "03:00";

/// `"HH:MM"` as a time of day.
pub(super) fn parse_time_of_day(text: &str) -> Option<chrono::NaiveTime> {
    chrono::NaiveTime::parse_from_str(text.trim(), "%H:%M").ok()
}

/// `[register]`: the sync register (the assignment's «регистр сведений»): a SQLite file, or a
/// schema of its own on a database server (possibly the 1C server, never 1C's own schema).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterConfig {
    #[serde(default)]
    pub kind: RegisterKind,
    /// SQLite: the register file.
    #[serde(default = "default_register_path")]
    pub path: PathBuf,
    /// Days the send log keeps each request body (which holds customers' phones and e-mails)
    /// before the cycle deletes it; every backend.
    #[serde(default = "default_send_log_days")]
    pub send_log_days: u32,
    /// Server backends: where the register's schema lives.
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub port: Option<u16>,
    /// MS SQL named instance (`SERVER\INSTANCE`); used instead of `port`.
    #[serde(default)]
    pub instance: Option<String>,
    #[serde(default)]
    pub database: String,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default = "default_register_password_env")]
    pub password_env: String,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// MS SQL: Windows integrated authentication instead of a SQL login (Windows only).
    #[serde(default)]
    pub integrated_auth: bool,
    /// TLS, as `source.tls`: `required` (the default), `preferred` or `off`.
    #[serde(default)]
    pub tls: TlsMode,
    /// PEM file of the CA that signed the server certificate, instead of the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate. An explicit opt-in; off by default.
    #[serde(default)]
    pub trust_server_certificate: bool,
    /// The schema holding the register's tables; created by the tool when it may.
    #[serde(default = "default_register_schema")]
    pub schema: String,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
}

impl Default for RegisterConfig {
    fn default() -> Self {
        RegisterConfig {
            kind: RegisterKind::Sqlite,
            path: default_register_path(),
            send_log_days: default_send_log_days(),
            host: String::new(),
            port: None,
            instance: None,
            database: String::new(),
            user: None,
            password_env: default_register_password_env(),
            password_file: None,
            integrated_auth: false,
            tls: TlsMode::default(),
            ca_file: None,
            trust_server_certificate: false,
            schema: default_register_schema(),
            connect_timeout_secs: default_connect_timeout(),
        }
    }
}

impl RegisterConfig {
    /// Where the register lives, for messages (never the password).
    pub fn describe(&self) -> String {
        match self.kind {
            RegisterKind::Sqlite => self.path.display().to_string(),
            RegisterKind::Postgres | RegisterKind::Mssql => {
                let server = match (&self.instance, self.port) {
                    (Some(instance), _) => format!("{}\\{instance}", self.host),
                    (None, Some(port)) => format!("{}:{port}", self.host),
                    (None, None) => self.host.clone(),
                };
                format!("{server}/{} schema {}", self.database, self.schema)
            }
        }
    }
}

/// `[sync]`: retry policy for documents that keep failing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// After this many failed attempts a document is `failed` and is no longer retried by itself.
    #[serde(default = "default_max_document_attempts")]
    pub max_document_attempts: u32,
    /// The pause before a deferred document is sent again, doubling with each attempt, so a
    /// document Calltouch keeps refusing does not take a request every cycle.
    #[serde(default = "default_retry_backoff_secs")]
    pub retry_backoff_secs: u64,
    /// The longest pause between two attempts of one document.
    #[serde(default = "default_retry_backoff_max_secs")]
    pub retry_backoff_max_secs: u64,
    /// Documents read, decided, sent and recorded at a time: memory is bounded by this, not by
    /// the change set, and each chunk is its own short read of the 1C database.
    #[serde(default = "default_chunk_documents")]
    pub chunk_documents: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            max_document_attempts: default_max_document_attempts(),
            retry_backoff_secs: default_retry_backoff_secs(),
            retry_backoff_max_secs: default_retry_backoff_max_secs(),
            chunk_documents: default_chunk_documents(),
        }
    }
}

/// `[schedule]`: how often a cycle runs, for `schedule`, `watch` and the register's "next due".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Minutes between cycle starts, 1 to 1440.
    #[serde(default = "default_every_minutes")]
    pub every_minutes: Interval,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            every_minutes: default_every_minutes(),
        }
    }
}

/// `[status_page]`: the read-only status page, `/metrics` and `/healthz` of `serve` and
/// `watch --listen` (docs/status-page.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusPageConfig {
    /// Where `serve` listens; `--listen` overrides.
    #[serde(default = "default_status_listen")]
    pub listen: std::net::SocketAddr,
    /// An address other than loopback is refused unless this is true (and a token is set).
    #[serde(default)]
    pub allow_remote: bool,
    /// Environment variable holding the token clients send as `Authorization: Bearer`.
    #[serde(default = "default_status_token_env")]
    pub token_env: String,
    /// A file holding the token (first line), used when the variable is not set.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
}

impl Default for StatusPageConfig {
    fn default() -> Self {
        StatusPageConfig {
            listen: default_status_listen(),
            allow_remote: false,
            token_env: default_status_token_env(),
            token_file: None,
        }
    }
}

fn default_status_listen() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 8089))
}
fn default_status_token_env() -> String {
    "ALFA_STATUS_TOKEN".into()
}

fn default_password_env() -> String {
    "ALFA_DB_PASSWORD".into()
}
fn default_connect_timeout() -> u64 {
    10
}
fn default_query_timeout() -> u64 {
    120
}
fn default_change_window_days() -> u32 {
    31
}
fn default_register_password_env() -> String {
    "ALFA_REGISTER_PASSWORD".into()
}
fn default_send_log_days() -> u32 {
    30
}
fn default_register_schema() -> String {
    "alfa_calltouch".into()
}
fn default_register_path() -> PathBuf {
    PathBuf::from("alfa-calltouch-register.sqlite")
}
fn default_max_document_attempts() -> u32 {
    5
}
fn default_retry_backoff_secs() -> u64 {
    300
}
fn default_retry_backoff_max_secs() -> u64 {
    3600
}
fn default_chunk_documents() -> usize {
    1000
}
fn default_every_minutes() -> Interval {
    Interval::FIVE_MINUTES
}
