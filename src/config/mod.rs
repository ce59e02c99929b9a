//! Configuration: the TOML file, its defaults (the assignment's constants) and its validation.
//!
//! Secrets (the Calltouch token, the database password) are never required inline: they come from
//! an environment variable or a file, and `Secret` hides them from `Debug` and `Display`.

use chrono::NaiveDate;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::calltouch::settings::CalltouchConfig;
pub use crate::db::TlsMode;
use crate::db::{ConnectError, Endpoint, Login, Role, Tls};
pub use crate::ops::privacy::Secret;
pub use crate::register::settings::RegisterKind;
use crate::register::settings::RegisterSettings;
use crate::rules::accounts::{Account, Accounts, MAIN_ACCOUNT};
pub use crate::rules::settings::{DealConfig, StatusConfig, DEFAULT_ORDER_NUMBER};
use crate::schedule::Interval;
pub use crate::snapshot::EMPTY_STATE;
use crate::source::settings::{NameMapSettings, SourceSettings};
pub use crate::source::settings::{Preset, SourceKind};

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

// Built here, so the pure account choice in `rules::accounts` needs no config.
impl Accounts {
    /// The accounts a config names; a config without `[groups]` has one, the `[calltouch]` one,
    /// taking every document, as before dealer groups existed.
    pub fn of(config: &Config) -> Accounts {
        let groups = &config.groups;
        let mut list = vec![Account {
            name: groups.main.clone(),
            site_id: config.calltouch.site_id.trim().to_string(),
            departments: groups.departments.clone(),
            organisations: groups.organisations.clone(),
        }];
        list.extend(groups.accounts.iter().map(|extra| Account {
            name: extra.name.clone(),
            site_id: extra.site_id.trim().to_string(),
            departments: extra.departments.clone(),
            organisations: extra.organisations.clone(),
        }));
        let rest = match groups.rest.as_str() {
            "none" => None,
            name => list.iter().position(|account| account.name == name),
        };
        Accounts { list, rest }
    }
}

impl From<&Config> for NameMapSettings {
    fn from(config: &Config) -> NameMapSettings {
        NameMapSettings {
            kind: config.source.kind,
            preset: config.source.preset,
            path: config.name_map_path(),
        }
    }
}

impl From<&Config> for SourceSettings {
    fn from(config: &Config) -> SourceSettings {
        SourceSettings {
            name_map: config.into(),
            endpoint: Endpoint::source(config),
            query_timeout: Duration::from_secs(config.source.query_timeout_secs),
            detection: config.source.change_detection(),
        }
    }
}

impl From<&Config> for RegisterSettings {
    fn from(config: &Config) -> RegisterSettings {
        let schema = config.register.schema.clone();
        match config.register.kind {
            RegisterKind::Sqlite => RegisterSettings::Sqlite {
                path: config.register_path(),
            },
            RegisterKind::Postgres => RegisterSettings::Postgres {
                endpoint: Endpoint::register(config),
                schema,
            },
            RegisterKind::Mssql => RegisterSettings::Mssql {
                endpoint: Endpoint::register(config),
                schema,
            },
        }
    }
}

// The database layer's endpoints are built here, so `db` never reads the configuration.
impl Endpoint {
    /// `[source]`, with its password from the environment or its file.
    pub fn source(config: &Config) -> Result<Endpoint, ConnectError> {
        let s = &config.source;
        let mut endpoint = Endpoint {
            role: Role::Source,
            host: s.host.clone(),
            port: s.port,
            instance: s.instance.clone(),
            database: s.database.clone(),
            login: Login::Integrated,
            tls: Tls {
                mode: s.tls,
                ca_file: s.ca_file.as_ref().map(|p| config.resolve(p)),
                trust_server_certificate: s.trust_server_certificate,
            },
            connect_timeout: Duration::from_secs(s.connect_timeout_secs),
        };
        if !s.integrated_auth {
            let password = config
                .database_password()
                .map_err(|e| endpoint.setup_error(e.to_string()))?;
            endpoint.login = Login::Password {
                user: s.user.clone().unwrap_or_default(),
                password,
            };
        }
        Ok(endpoint)
    }

    /// A server `[register]`, with its password from the environment or its file.
    pub fn register(config: &Config) -> Result<Endpoint, ConnectError> {
        let r = &config.register;
        let mut endpoint = Endpoint {
            role: Role::Register,
            host: r.host.clone(),
            port: r.port,
            instance: r.instance.clone(),
            database: r.database.clone(),
            login: Login::Integrated,
            tls: Tls {
                mode: r.tls,
                ca_file: r.ca_file.as_ref().map(|p| config.resolve(p)),
                trust_server_certificate: r.trust_server_certificate,
            },
            connect_timeout: Duration::from_secs(r.connect_timeout_secs),
        };
        if !r.integrated_auth {
            let password = config
                .register_password()
                .map_err(|e| endpoint.setup_error(e.to_string()))?;
            endpoint.login = Login::Password {
                user: r.user.clone().unwrap_or_default(),
                password,
            };
        }
        Ok(endpoint)
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

/// When the daily reconcile runs if the configuration names no time and no interval.
pub const DEFAULT_RECONCILE_AT: &str = "03:00";

/// `"HH:MM"` as a time of day.
fn parse_time_of_day(text: &str) -> Option<chrono::NaiveTime> {
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
            return self.no_server_keys();
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

impl RegisterConfig {
    /// A SQLite register is a file: a server key given with it would be silently ignored, so it
    /// is an error naming the key and both ways out.
    fn no_server_keys(&self) -> Result<(), ConfigError> {
        let given = [
            ("host", !self.host.trim().is_empty()),
            ("port", self.port.is_some()),
            ("instance", self.instance.is_some()),
            ("database", !self.database.trim().is_empty()),
            ("user", self.user.is_some()),
            ("password_file", self.password_file.is_some()),
            ("integrated_auth", self.integrated_auth),
            ("ca_file", self.ca_file.is_some()),
            ("trust_server_certificate", self.trust_server_certificate),
        ];
        match given.iter().find(|(_, set)| *set) {
            Some((key, _)) => Err(ConfigError::invalid(
                &format!("register.{key}"),
                "is a key of a register on a server, and kind is \"sqlite\" (a file at \
                 register.path): set kind = \"postgres\" or \"mssql\", or remove the key",
            )),
            None => Ok(()),
        }
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
        let overlaps = Accounts::of(self).overlaps();
        if !overlaps.is_empty() {
            return Err(ConfigError::invalid("groups", overlaps.join("; ")));
        }
        Ok(())
    }

    /// The cycle does not yet read departments and organisations from the 1C base nor keep a
    /// deal's account in the register, so a config that splits documents between accounts is
    /// refused before anything is sent: sending all to `[calltouch]` would put deals in the
    /// wrong account. `check` still checks such a config in full.
    pub fn sends_to_one_account(&self) -> Result<(), ConfigError> {
        let g = &self.groups;
        if g.accounts.is_empty()
            && g.departments.is_empty()
            && g.organisations.is_empty()
            && g.rest == g.main
        {
            return Ok(());
        }
        Err(ConfigError::invalid(
            "groups",
            "this version checks dealer-group accounts (`check`) but does not send to them yet; \
             remove the [groups] rules and accounts so the [calltouch] account takes every \
             document (docs/dealer-groups.md)",
        ))
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
mod tests;
