//! Configuration: the TOML file, its defaults (the assignment's constants) and its validation.
//!
//! Secrets (the Calltouch token, the database password) are never required inline: they come from
//! an environment variable or a file, and `Secret` hides them from `Debug` and `Display`.

use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::schedule::Interval;
use crate::snapshot::DocKind;

/// A configuration mistake, always naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The cause is part of the message and not chained, so it prints once.
    #[error("cannot read config file {path}: {cause}{}", read_hint(cause))]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

/// What to do about a config file that cannot be read.
fn read_hint(cause: &std::io::Error) -> &'static str {
    match cause.kind() {
        std::io::ErrorKind::NotFound => {
            "; copy config/alfa-calltouch.example.toml there and fill in [calltouch] and \
             [source], or name another file with --config (or ALFA_CALLTOUCH_CONFIG)"
        }
        std::io::ErrorKind::PermissionDenied => "; let the account that runs the tool read it",
        _ => "",
    }
}

impl ConfigError {
    fn invalid(key: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.to_string(),
            message: message.into(),
        }
    }
}

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

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub calltouch: CalltouchConfig,
    #[serde(default)]
    pub deal: DealConfig,
    #[serde(default)]
    pub statuses: StatusConfig,
    pub source: SourceConfig,
    #[serde(default)]
    pub register: RegisterConfig,
    #[serde(default)]
    pub sync: SyncConfig,
    #[serde(default)]
    pub schedule: ScheduleConfig,
    #[serde(default)]
    pub status_page: StatusPageConfig,
    #[serde(default)]
    pub groups: GroupsConfig,
    /// Where the file was read from; relative paths inside it are resolved against its folder.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

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
            main: crate::accounts::MAIN_ACCOUNT.into(),
            departments: Vec::new(),
            organisations: Vec::new(),
            rest: crate::accounts::MAIN_ACCOUNT.into(),
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

/// `[deal]`: the constants of Table 1, all overridable.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DealConfig {
    pub crm: String,
    /// Template of `orderNumber` for deals not yet created: `{number}` (trimmed document
    /// number), `{year}` (document year), `{kind}` (`ЗР` for a booking, `ЗН` for a work order).
    /// A deal keeps the number it was created with when the template changes later.
    pub order_number: String,
    pub source: String,
    pub medium: String,
    /// Campaign when the document has no marketing programme.
    pub default_campaign: String,
    pub call_type_to_match: String,
    pub request_type_to_match: String,
    /// Minutes; 259200 = 180 days.
    pub search_depth: u32,
    /// The first tag of every deal.
    pub service_tag: String,
    /// Status sent when a document already sent is marked for deletion; unset = send nothing.
    pub deleted_status: Option<String>,
}

/// The default orderNumber template. 1C numbers bookings and work orders separately and many
/// bases restart numbering every year, so a number alone may name two documents; kind and year
/// together keep them apart.
pub const DEFAULT_ORDER_NUMBER: &str = "{kind}-{year}-{number}";

impl Default for DealConfig {
    fn default() -> Self {
        DealConfig {
            crm: "1С Альфа-Авто".into(),
            order_number: DEFAULT_ORDER_NUMBER.into(),
            source: "офлайн визит".into(),
            medium: "офлайн визит".into(),
            default_campaign: "офлайн визит".into(),
            call_type_to_match: "nearest".into(),
            request_type_to_match: "nearest".into(),
            search_depth: 259_200,
            service_tag: "Сервис".into(),
            deleted_status: None,
        }
    }
}

/// The state name of a booking whose `Состояние` is the empty reference (a new 5.x booking: the
/// 5.1 enum has no «not set» value), so `[statuses.booking]` can map it like any other.
pub const EMPTY_STATE: &str = "(не указано)";

/// `[statuses]`: Table 2, 1C state name → Calltouch status, per document kind.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StatusConfig {
    pub booking: BTreeMap<String, String>,
    pub work_order: BTreeMap<String, String>,
}

impl Default for StatusConfig {
    fn default() -> Self {
        let pairs = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(from, to)| (from.to_string(), to.to_string()))
                .collect()
        };
        StatusConfig {
            booking: pairs(&[
                ("Предварительная заявка", "Предварительная заявка"),
                ("Подтвержденная заявка", "Подтвержденная заявка"),
                ("Отказ от заезда", "Отказ"),
                ("НеУказано", "Предварительная заявка"),
                (EMPTY_STATE, "Предварительная заявка"),
                ("Подтверждено", "Подтвержденная заявка"),
                ("Отклонено", "Отказ"),
            ]),
            work_order: pairs(&[
                ("Закрыт", "Закрыт"),
                ("Отказ", "Отказ"),
                ("Отказ от заезда", "Отказ"),
            ]),
        }
    }
}

impl StatusConfig {
    /// The Calltouch status for a 1C state, if the state maps.
    pub fn map(&self, kind: DocKind, state: &str) -> Option<&str> {
        let table = match kind {
            DocKind::Booking => &self.booking,
            DocKind::WorkOrder => &self.work_order,
        };
        table.get(state.trim()).map(String::as_str)
    }
}

/// Which Альфа-Авто edition's layout the queries follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Preset {
    #[serde(rename = "alfa6")]
    Alfa6,
    #[serde(rename = "alfa5")]
    Alfa5,
}

impl Preset {
    pub fn code(self) -> &'static str {
        match self {
            Preset::Alfa6 => "alfa6",
            Preset::Alfa5 => "alfa5",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Postgres,
    Mssql,
}

/// `tls` of `[source]` and `[register]`: the same three values on PostgreSQL and MS SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Never encrypt (PostgreSQL: no TLS request; MS SQL: not even the login).
    Off,
    /// Encrypt when the server offers TLS, verifying its certificate as `required` does; plain
    /// only when the server does not offer TLS at all (libpq's `prefer`).
    Preferred,
    /// Encrypt or fail; the certificate and the host name are verified.
    #[default]
    Required,
}

impl TlsMode {
    pub fn code(self) -> &'static str {
        match self {
            TlsMode::Off => "off",
            TlsMode::Preferred => "preferred",
            TlsMode::Required => "required",
        }
    }
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

/// When the daily reconcile runs if the configuration names no time and no interval.
pub const DEFAULT_RECONCILE_AT: &str = "03:00";

/// `"HH:MM"` as a time of day.
fn parse_time_of_day(text: &str) -> Option<chrono::NaiveTime> {
    chrono::NaiveTime::parse_from_str(text.trim(), "%H:%M").ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RegisterKind {
    /// An embedded SQLite file at `path`.
    #[default]
    Sqlite,
    /// A schema of its own on a PostgreSQL server.
    Postgres,
    /// A schema of its own on an MS SQL Server.
    Mssql,
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

/// Schemas that belong to the database itself (and so to 1C), never to the register.
const FOREIGN_SCHEMAS: [&str; 6] = [
    "public",
    "dbo",
    "sys",
    "information_schema",
    "pg_catalog",
    "guest",
];

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

    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=3650).contains(&self.send_log_days) {
            return Err(ConfigError::invalid(
                "register.send_log_days",
                "must be between 1 and 3650 days (the send log keeps customers' phones and \
                 e-mails that long)",
            ));
        }
        if self.kind == RegisterKind::Sqlite {
            return Ok(());
        }
        if self.host.trim().is_empty() {
            return Err(ConfigError::invalid("register.host", "must not be empty"));
        }
        if self.database.trim().is_empty() {
            return Err(ConfigError::invalid(
                "register.database",
                "must not be empty",
            ));
        }
        let mssql = self.kind == RegisterKind::Mssql;
        validate_connection(
            "register",
            mssql,
            self.integrated_auth,
            self.user.as_deref(),
            self.instance.as_deref(),
            self.tls,
            self.ca_file.is_some(),
            self.trust_server_certificate,
        )?;
        validate_register_schema(&self.schema)
    }
}

/// The connection keys `[source]` and `[register]` share, checked the same way for both.
#[allow(clippy::too_many_arguments)]
fn validate_connection(
    section: &str,
    mssql: bool,
    integrated_auth: bool,
    user: Option<&str>,
    instance: Option<&str>,
    tls: TlsMode,
    ca_file: bool,
    trust_server_certificate: bool,
) -> Result<(), ConfigError> {
    let key = |name: &str| format!("{section}.{name}");
    if integrated_auth && !mssql {
        return Err(ConfigError::invalid(
            &key("integrated_auth"),
            "Windows integrated authentication exists only for kind = \"mssql\"",
        ));
    }
    if !integrated_auth && user.unwrap_or("").trim().is_empty() {
        let message = match section {
            "register" => "set the login that owns (or may create in) the register's schema",
            _ => "set the database login (read-only role), or integrated_auth = true on Windows",
        };
        return Err(ConfigError::invalid(&key("user"), message));
    }
    if instance.is_some() && !mssql {
        return Err(ConfigError::invalid(
            &key("instance"),
            "a named instance exists only for kind = \"mssql\"; set the port instead",
        ));
    }
    if tls == TlsMode::Off && (ca_file || trust_server_certificate) {
        return Err(ConfigError::invalid(
            &key("tls"),
            "is \"off\", so ca_file and trust_server_certificate do nothing; set tls = \"required\" or remove them",
        ));
    }
    if ca_file && trust_server_certificate {
        return Err(ConfigError::invalid(
            &key("trust_server_certificate"),
            "trusting any certificate makes ca_file pointless; keep ca_file (verified) and remove trust_server_certificate",
        ));
    }
    Ok(())
}

/// The register's schema name: a plain lowercase identifier (it is written into statements),
/// and never a schema of the database itself, where 1C keeps its tables.
fn validate_register_schema(schema: &str) -> Result<(), ConfigError> {
    let plain = schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && schema.len() <= 63;
    if !plain {
        return Err(ConfigError::invalid(
            "register.schema",
            "must be a lowercase name of letters, digits and _ (for example alfa_calltouch)",
        ));
    }
    if FOREIGN_SCHEMAS.contains(&schema) || schema.starts_with("pg_") {
        return Err(ConfigError::invalid(
            "register.schema",
            format!(
                "{schema:?} holds the database's (1C's) own tables; the register keeps to a \
                 schema of its own, such as alfa_calltouch"
            ),
        ));
    }
    Ok(())
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

fn default_token_env() -> String {
    "CALLTOUCH_TOKEN".into()
}
fn default_password_env() -> String {
    "ALFA_DB_PASSWORD".into()
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
fn default_connect_timeout() -> u64 {
    10
}
fn default_request_timeout() -> u64 {
    30
}
fn default_query_timeout() -> u64 {
    120
}
fn default_change_window_days() -> u32 {
    31
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

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        crate::privacy::warn_if_others_can_read(path);
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Config::parse(&text, path, &base_dir)
    }

    /// Parses config text; `origin` only names the file in messages.
    pub fn parse(text: &str, origin: &Path, base_dir: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_path_buf(),
            message: e.to_string(),
        })?;
        config.base_dir = base_dir.to_path_buf();
        config.validate()?;
        Ok(config)
    }

    /// A path from the file, resolved against the file's folder.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }

    pub fn register_path(&self) -> PathBuf {
        self.resolve(&self.register.path)
    }

    pub fn name_map_path(&self) -> PathBuf {
        self.resolve(&self.source.name_map)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let c = &self.calltouch;
        if c.site_id.trim().is_empty() || !c.site_id.trim().chars().all(|ch| ch.is_ascii_digit()) {
            return Err(ConfigError::invalid(
                "calltouch.site_id",
                "must be the numeric Calltouch account id (ЛК → Интеграции → API)",
            ));
        }
        if !(c.base_url.starts_with("https://") || c.base_url.starts_with("http://")) {
            return Err(ConfigError::invalid(
                "calltouch.base_url",
                "must start with https:// (or http:// for a local emulator)",
            ));
        }
        if !(1..=100).contains(&c.batch_size) {
            return Err(ConfigError::invalid(
                "calltouch.batch_size",
                "must be between 1 and 100 orders per request",
            ));
        }
        if c.requests_per_second > 5 {
            return Err(ConfigError::invalid(
                "calltouch.requests_per_second",
                "Calltouch allows at most 5 requests per second per IP",
            ));
        }
        if c.max_attempts == 0 {
            return Err(ConfigError::invalid(
                "calltouch.max_attempts",
                "must be at least 1",
            ));
        }
        if c.request_timeout_secs == 0 || c.connect_timeout_secs == 0 {
            return Err(ConfigError::invalid(
                "calltouch.request_timeout_secs",
                "timeouts must be at least 1 second",
            ));
        }
        let d = &self.deal;
        for (key, value) in [
            ("deal.crm", &d.crm),
            ("deal.source", &d.source),
            ("deal.medium", &d.medium),
            ("deal.default_campaign", &d.default_campaign),
            ("deal.service_tag", &d.service_tag),
        ] {
            if value.trim().is_empty() {
                return Err(ConfigError::invalid(key, "must not be empty"));
            }
        }
        if !d.order_number.contains("{number}") {
            return Err(ConfigError::invalid(
                "deal.order_number",
                "the template must contain {number}",
            ));
        }
        let unknown_placeholder = d
            .order_number
            .replace("{number}", "")
            .replace("{year}", "")
            .replace("{kind}", "");
        if unknown_placeholder.contains('{') || unknown_placeholder.contains('}') {
            return Err(ConfigError::invalid(
                "deal.order_number",
                "only {number}, {year} and {kind} may be used",
            ));
        }
        for (key, value) in [
            ("deal.call_type_to_match", &d.call_type_to_match),
            ("deal.request_type_to_match", &d.request_type_to_match),
        ] {
            if !["nearest", "nearestUniq", "nearestUniqLead"].contains(&value.as_str()) {
                return Err(ConfigError::invalid(
                    key,
                    "must be nearest, nearestUniq or nearestUniqLead",
                ));
            }
        }
        if d.search_depth == 0 {
            return Err(ConfigError::invalid(
                "deal.search_depth",
                "must be positive (minutes)",
            ));
        }
        for (kind, table) in [
            ("booking", &self.statuses.booking),
            ("work_order", &self.statuses.work_order),
        ] {
            if let Some((state, _)) = table.iter().find(|(_, status)| status.trim().is_empty()) {
                return Err(ConfigError::invalid(
                    &format!("statuses.{kind}.{state}"),
                    "the Calltouch status must not be empty",
                ));
            }
        }
        let s = &self.source;
        if s.host.trim().is_empty() {
            return Err(ConfigError::invalid("source.host", "must not be empty"));
        }
        if s.database.trim().is_empty() {
            return Err(ConfigError::invalid("source.database", "must not be empty"));
        }
        validate_connection(
            "source",
            s.kind == SourceKind::Mssql,
            s.integrated_auth,
            s.user.as_deref(),
            s.instance.as_deref(),
            s.tls,
            s.ca_file.is_some(),
            s.trust_server_certificate,
        )?;
        self.register.validate()?;
        self.validate_groups()?;
        if self.sync.max_document_attempts == 0 {
            return Err(ConfigError::invalid(
                "sync.max_document_attempts",
                "must be at least 1",
            ));
        }
        if let Some(text) = &s.reconcile_at {
            if s.reconcile_hours.is_some() {
                return Err(ConfigError::invalid(
                    "source.reconcile_at",
                    "set either reconcile_at (a time of day) or reconcile_hours (an interval), not both",
                ));
            }
            if parse_time_of_day(text).is_none() {
                return Err(ConfigError::invalid(
                    "source.reconcile_at",
                    format!("{text:?} is not a time of day; write it as \"HH:MM\", e.g. \"03:00\""),
                ));
            }
        }
        if self.sync.chunk_documents == 0 {
            return Err(ConfigError::invalid(
                "sync.chunk_documents",
                "must be at least 1 (1000 keeps memory small and each read short)",
            ));
        }
        Ok(())
    }

    /// `[groups]`: unique names, numeric site ids, a known default, every account reachable,
    /// and no department or organisation named by two accounts.
    fn validate_groups(&self) -> Result<(), ConfigError> {
        let g = &self.groups;
        let mut names = vec![g.main.trim()];
        for (i, account) in g.accounts.iter().enumerate() {
            let key = format!("groups.accounts[{i}]");
            let name = account.name.trim();
            if name.is_empty() || name == "none" {
                return Err(ConfigError::invalid(
                    &format!("{key}.name"),
                    "give the account a name (not \"none\"); the register shows it",
                ));
            }
            if names.contains(&name) {
                return Err(ConfigError::invalid(
                    &format!("{key}.name"),
                    format!("`{name}` names two accounts; give each its own name"),
                ));
            }
            names.push(name);
            let site = account.site_id.trim();
            if site.is_empty() || !site.chars().all(|ch| ch.is_ascii_digit()) {
                return Err(ConfigError::invalid(
                    &format!("{key}.site_id"),
                    "must be the numeric Calltouch account id (ЛК → Интеграции → API)",
                ));
            }
            if account.departments.is_empty() && account.organisations.is_empty() && g.rest != name
            {
                return Err(ConfigError::invalid(
                    &format!("{key}.departments"),
                    format!("account `{name}` takes no documents: list its departments or organisations, or make it [groups] rest"),
                ));
            }
        }
        if g.rest != "none" && !names.contains(&g.rest.as_str()) {
            return Err(ConfigError::invalid(
                "groups.rest",
                format!(
                    "`{}` is no account; name one of {} or write \"none\"",
                    g.rest,
                    names.join(", ")
                ),
            ));
        }
        let overlaps = crate::accounts::Accounts::of(self).overlaps();
        if !overlaps.is_empty() {
            return Err(ConfigError::invalid("groups", overlaps.join("; ")));
        }
        Ok(())
    }

    /// The tokens of the `[[groups.accounts]]` are readable, so `run` and `watch` stop before
    /// anything is sent rather than leave one account's documents failing every cycle.
    pub fn group_tokens(&self) -> Result<(), ConfigError> {
        for account in &self.groups.accounts {
            self.account_token(&account.name)?;
        }
        Ok(())
    }

    /// The token of a named account: `[calltouch]`'s for the main one.
    pub fn account_token(&self, name: &str) -> Result<Secret, ConfigError> {
        if name == self.groups.main {
            return self.calltouch_token();
        }
        let Some((i, account)) = self
            .groups
            .accounts
            .iter()
            .enumerate()
            .find(|(_, account)| account.name == name)
        else {
            return Err(ConfigError::invalid(
                "groups.accounts",
                format!("no account is named `{name}`"),
            ));
        };
        read_secret(
            &format!("groups.accounts[{i}].token_env"),
            &account.token_env,
            &format!("groups.accounts[{i}].token_file"),
            account.token_file.as_ref().map(|p| self.resolve(p)),
        )
    }

    /// The Calltouch token: from the environment variable, else from `token_file`.
    pub fn calltouch_token(&self) -> Result<Secret, ConfigError> {
        read_secret(
            "calltouch.token_env",
            &self.calltouch.token_env,
            "calltouch.token_file",
            self.calltouch.token_file.as_ref().map(|p| self.resolve(p)),
        )
    }

    /// The database password: from the environment variable, else from `password_file`.
    pub fn database_password(&self) -> Result<Secret, ConfigError> {
        read_secret(
            "source.password_env",
            &self.source.password_env,
            "source.password_file",
            self.source.password_file.as_ref().map(|p| self.resolve(p)),
        )
    }

    /// The register server's password: from the environment variable, else `password_file`.
    pub fn register_password(&self) -> Result<Secret, ConfigError> {
        read_secret(
            "register.password_env",
            &self.register.password_env,
            "register.password_file",
            self.register
                .password_file
                .as_ref()
                .map(|p| self.resolve(p)),
        )
    }
}

impl Config {
    /// The status page's token, when one is set (the variable, else `token_file`): `None`
    /// when neither is, an error when the file cannot be read.
    pub fn status_token(&self) -> Result<Option<Secret>, ConfigError> {
        let settings = &self.status_page;
        let in_env = std::env::var(&settings.token_env).is_ok_and(|v| !v.trim().is_empty());
        if !in_env && settings.token_file.is_none() {
            return Ok(None);
        }
        read_secret(
            "status_page.token_env",
            &settings.token_env,
            "status_page.token_file",
            settings.token_file.as_ref().map(|p| self.resolve(p)),
        )
        .map(Some)
    }
}

fn read_secret(
    env_key: &str,
    env_name: &str,
    file_key: &str,
    file: Option<PathBuf>,
) -> Result<Secret, ConfigError> {
    if let Ok(value) = std::env::var(env_name) {
        if !value.trim().is_empty() {
            return Ok(Secret::new(value.trim()));
        }
    }
    let Some(path) = file else {
        return Err(ConfigError::invalid(
            env_key,
            format!("set the environment variable {env_name}, or `{file_key}`"),
        ));
    };
    crate::privacy::warn_if_others_can_read(&path);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        ConfigError::invalid(file_key, format!("cannot read {}: {e}", path.display()))
    })?;
    let value = text.lines().next().unwrap_or("").trim();
    if value.is_empty() {
        return Err(ConfigError::invalid(
            file_key,
            format!("{} is empty", path.display()),
        ));
    }
    Ok(Secret::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"), Path::new("."))
    }

    const MINIMAL: &str = r#"
        [calltouch]
        site_id = "123"
        [source]
        kind = "postgres"
        preset = "alfa6"
        name_map = "map.toml"
        start_date = "2026-01-01"
        host = "localhost"
        database = "alfa"
        user = "reader"
    "#;

    #[test]
    fn the_example_config_is_valid() {
        let text = include_str!("../config/alfa-calltouch.example.toml");
        let config = parse(text).unwrap();
        assert_eq!(config.deal, DealConfig::default());
        assert_eq!(config.statuses, StatusConfig::default());
    }

    #[test]
    fn a_fresh_install_reads_a_window_and_reconciles_nightly() {
        let detection = parse(MINIMAL).unwrap().source.change_detection();
        assert_eq!(detection.window_days, 31);
        assert_eq!(
            detection.reconcile_at,
            chrono::NaiveTime::from_hms_opt(3, 0, 0)
        );
        assert_eq!(parse(MINIMAL).unwrap().sync.chunk_documents, 1000);

        let with = |lines: &str| {
            parse(&MINIMAL.replace("user = \"reader\"", &format!("user = \"reader\"\n{lines}")))
        };
        let hourly = with("reconcile_hours = 6")
            .unwrap()
            .source
            .change_detection();
        assert_eq!((hourly.reconcile_at, hourly.reconcile_hours), (None, 6));
        let at = with("reconcile_at = \"22:30\"")
            .unwrap()
            .source
            .change_detection();
        assert_eq!(at.reconcile_at, chrono::NaiveTime::from_hms_opt(22, 30, 0));
        let exact = with("change_window_days = 0")
            .unwrap()
            .source
            .change_detection();
        assert_eq!(exact.window_days, 0);
        for (lines, says) in [
            ("reconcile_at = \"3am\"", "HH:MM"),
            ("reconcile_at = \"03:00\"\nreconcile_hours = 24", "not both"),
        ] {
            let error = with(lines).unwrap_err().to_string();
            assert!(
                error.contains("reconcile_at") && error.contains(says),
                "{error}"
            );
        }
        let error = parse(&format!("{MINIMAL}\n[sync]\nchunk_documents = 0"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("sync.chunk_documents"), "{error}");
    }

    #[test]
    fn defaults_are_the_assignment_constants() {
        let config = parse(MINIMAL).unwrap();
        assert_eq!(config.deal.crm, "1С Альфа-Авто");
        assert_eq!(config.deal.source, "офлайн визит");
        assert_eq!(config.deal.medium, "офлайн визит");
        assert_eq!(config.deal.call_type_to_match, "nearest");
        assert_eq!(config.deal.request_type_to_match, "nearest");
        assert_eq!(config.deal.search_depth, 259_200);
        assert_eq!(config.deal.service_tag, "Сервис");
        assert_eq!(config.calltouch.batch_size, 100);
        assert_eq!(config.calltouch.requests_per_second, 5);
        assert_eq!(config.schedule.every_minutes.minutes(), 5);
        assert_eq!(
            config.statuses.map(DocKind::Booking, "Отклонено"),
            Some("Отказ")
        );
        assert_eq!(
            config.statuses.map(DocKind::WorkOrder, "Закрыт"),
            Some("Закрыт")
        );
        assert_eq!(config.statuses.map(DocKind::WorkOrder, "В работе"), None);
    }

    #[test]
    fn every_mistake_names_its_key() {
        let cases = [
            (
                MINIMAL.replace("site_id = \"123\"", "site_id = \"abc\""),
                "calltouch.site_id",
            ),
            (
                MINIMAL.replace("[source]", "[deal]\norder_number = \"{id}\"\n[source]"),
                "deal.order_number",
            ),
            (
                MINIMAL.replace("[source]", "[deal]\ncall_type_to_match = \"any\"\n[source]"),
                "deal.call_type_to_match",
            ),
            (MINIMAL.replace("[source]", "[calltouch.x]\n[source]"), "x"),
            (MINIMAL.replace("user = \"reader\"", ""), "source.user"),
            (
                MINIMAL.replace("preset = \"alfa6\"", "preset = \"alfa7\""),
                "alfa7",
            ),
            (
                MINIMAL.replace("site_id = \"123\"", "site_id = \"123\"\nbatch_size = 500"),
                "calltouch.batch_size",
            ),
            (
                MINIMAL.replace("start_date = \"2026-01-01\"", "start_date = \"yesterday\""),
                "start_date",
            ),
            (
                format!("{MINIMAL}\n[schedule]\nevery_minutes = 0\n"),
                "every_minutes",
            ),
            (
                format!("{MINIMAL}\n[register]\nkind = \"postgres\"\ndatabase = \"a\"\nuser = \"u\"\n"),
                "register.host",
            ),
            (
                format!("{MINIMAL}\n[register]\nkind = \"mssql\"\nhost = \"h\"\ndatabase = \"a\"\nuser = \"u\"\nschema = \"dbo\"\n"),
                "register.schema",
            ),
            (
                format!("{MINIMAL}\n[register]\nkind = \"postgres\"\nhost = \"h\"\ndatabase = \"a\"\nuser = \"u\"\nschema = \"public\"\n"),
                "1C's",
            ),
            (
                format!("{MINIMAL}\n[register]\nkind = \"postgres\"\nhost = \"h\"\ndatabase = \"a\"\nuser = \"u\"\nschema = \"Alfa; drop\"\n"),
                "register.schema",
            ),
            (
                MINIMAL.replace("user = \"reader\"", "user = \"reader\"\ntls = \"yes\""),
                "`off`, `preferred`, `required`",
            ),
            (
                MINIMAL.replace("user = \"reader\"", "user = \"reader\"\ntls = \"off\"\nca_file = \"ca.pem\""),
                "source.tls",
            ),
            (
                MINIMAL.replace("user = \"reader\"", "user = \"reader\"\ninstance = \"SQLEXPRESS\""),
                "source.instance",
            ),
            (
                format!("{MINIMAL}\n[register]\nkind = \"postgres\"\nhost = \"h\"\ndatabase = \"a\"\nintegrated_auth = true\n"),
                "register.integrated_auth",
            ),
            (
                format!("{MINIMAL}\n[register]\nkind = \"mssql\"\nhost = \"h\"\ndatabase = \"a\"\nuser = \"u\"\nca_file = \"ca.pem\"\ntrust_server_certificate = true\n"),
                "register.trust_server_certificate",
            ),
        ];
        for (text, key) in cases {
            let error = parse(&text).unwrap_err().to_string();
            assert!(error.contains(key), "{key:?} not named in: {error}");
        }
    }

    #[test]
    fn the_register_on_ms_sql_takes_the_sources_connection_keys() {
        let config = parse(&format!(
            "{MINIMAL}\n[register]\nkind = \"mssql\"\nhost = \"sql01\"\ninstance = \"ALFA\"\n\
             database = \"alfa_sync\"\nintegrated_auth = true\ntls = \"preferred\"\n\
             trust_server_certificate = true\n"
        ))
        .unwrap();
        let r = &config.register;
        assert_eq!(r.tls, TlsMode::Preferred);
        assert!(r.trust_server_certificate && r.integrated_auth);
        assert_eq!(r.describe(), "sql01\\ALFA/alfa_sync schema alfa_calltouch");
        // The default verifies: required, no opt-in.
        let default = parse(MINIMAL).unwrap();
        assert_eq!(default.source.tls, TlsMode::Required);
        assert!(!default.source.trust_server_certificate);
        assert_eq!(default.register.tls, TlsMode::Required);
    }

    #[test]
    fn secrets_come_from_the_environment_or_a_file_and_never_print() {
        let dir = std::env::temp_dir().join(format!("alfa-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("token.txt"), "file-token-value\n").unwrap();
        let text = MINIMAL.replace(
            "site_id = \"123\"",
            "site_id = \"123\"\ntoken_env = \"ALFA_TEST_TOKEN_UNSET_VAR\"\ntoken_file = \"token.txt\"",
        );
        let config = Config::parse(&text, Path::new("t.toml"), &dir).unwrap();
        let token = config.calltouch_token().unwrap();
        assert_eq!(token.expose(), "file-token-value");
        assert!(!format!("{token:?} {token}").contains("file-token-value"));
        let missing = parse(
            MINIMAL
                .replace(
                    "site_id = \"123\"",
                    "site_id = \"123\"\ntoken_env = \"ALFA_TEST_TOKEN_UNSET_VAR\"",
                )
                .as_str(),
        )
        .unwrap()
        .calltouch_token()
        .unwrap_err()
        .to_string();
        assert!(missing.contains("ALFA_TEST_TOKEN_UNSET_VAR"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
