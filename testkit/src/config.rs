//! The config files tests write, built from typed settings instead of TOML written out by hand:
//! [`TestConfig`] holds the `[calltouch]`, `[deal]`, `[source]`, `[register]` and `[sync]` keys a
//! test sets and renders the TOML the product reads (`Config::load` / `Config::parse`). Keys left
//! `None` are not written, so the product's defaults apply, as in a customer's file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use alfa_calltouch::config::{Config, ConfigError};
use alfa_calltouch::source::settings::Preset;

/// The environment variables the configs name for secrets; no test sets them, so the secrets come
/// from the files beside the config.
pub const TOKEN_ENV: &str = "ALFA_TEST_TOKEN_UNSET";
pub const PASSWORD_ENV: &str = "ALFA_TEST_PASSWORD_UNSET";

/// A whole config file.
#[derive(Debug, Clone)]
pub struct TestConfig {
    pub calltouch: CalltouchKeys,
    /// `[deal] order_number`.
    pub order_number: Option<String>,
    pub source: SourceKeys,
    pub register: RegisterKeys,
    pub sync: SyncKeys,
    /// Further sections as TOML, written after the others (`[groups]`, `[status_page]`).
    pub extra: String,
}

/// `[calltouch]`.
#[derive(Debug, Clone, Default)]
pub struct CalltouchKeys {
    pub site_id: String,
    pub base_url: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<String>,
    pub batch_size: Option<usize>,
    pub requests_per_second: Option<u32>,
    pub connect_timeout_secs: Option<u64>,
    pub request_timeout_secs: Option<u64>,
    pub max_attempts: Option<u32>,
    pub backoff_initial_ms: Option<u64>,
    pub backoff_max_ms: Option<u64>,
}

/// The database servers a section can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Postgres,
    Mssql,
}

impl Server {
    fn code(self) -> &'static str {
        match self {
            Server::Postgres => "postgres",
            Server::Mssql => "mssql",
        }
    }
}

/// The connection keys `[source]` and a server `[register]` share.
#[derive(Debug, Clone)]
pub struct Connection {
    pub server: Server,
    pub host: String,
    pub port: Option<u16>,
    pub database: String,
    pub user: String,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    /// `tls`, as written (`off`, `required`, …); `None` leaves the product's default.
    pub tls: Option<String>,
    pub connect_timeout_secs: Option<u64>,
    /// Further keys as TOML lines (`ca_file`, `trust_server_certificate`).
    pub extra: String,
}

impl Connection {
    /// A database on a local PostgreSQL cluster (a [`crate::pgcluster::PgCluster`]), as its
    /// superuser without TLS; the password (unused with trust) comes from `password.txt`.
    pub fn local_postgres(port: u16, database: &str) -> Connection {
        Connection {
            server: Server::Postgres,
            host: "127.0.0.1".into(),
            port: Some(port),
            database: database.into(),
            user: "postgres".into(),
            password_env: Some(PASSWORD_ENV.into()),
            password_file: Some("password.txt".into()),
            tls: Some("off".into()),
            connect_timeout_secs: None,
            extra: String::new(),
        }
    }

    /// A PostgreSQL database nothing connects to: for tests that hand the cycle a source or a
    /// register of their own and need only the rest of the config.
    pub fn unused() -> Connection {
        Connection {
            server: Server::Postgres,
            host: "memory".into(),
            port: None,
            database: "memory".into(),
            user: "reader".into(),
            password_env: None,
            password_file: None,
            tls: None,
            connect_timeout_secs: None,
            extra: String::new(),
        }
    }

    fn render(&self, out: &mut String) {
        line(out, "host", &self.host);
        number(out, "port", self.port);
        line(out, "database", &self.database);
        line(out, "user", &self.user);
        optional(out, "password_env", &self.password_env);
        optional(out, "password_file", &self.password_file);
        optional(out, "tls", &self.tls);
        number(out, "connect_timeout_secs", self.connect_timeout_secs);
        raw(out, &self.extra);
    }
}

/// `[source]`.
#[derive(Debug, Clone)]
pub struct SourceKeys {
    pub preset: Preset,
    pub name_map: String,
    pub start_date: String,
    pub connection: Connection,
    pub query_timeout_secs: Option<u64>,
    pub change_window_days: Option<u32>,
}

impl SourceKeys {
    /// An Альфа-Авто 6.x base read through `connection`, its name map in `namemap.toml`,
    /// documents from 2026-01-01.
    pub fn new(connection: Connection) -> SourceKeys {
        SourceKeys {
            preset: Preset::Alfa6,
            name_map: "namemap.toml".into(),
            start_date: "2026-01-01".into(),
            connection,
            query_timeout_secs: None,
            change_window_days: None,
        }
    }

    /// Reads every document exactly each cycle instead of through the recent-days window: the
    /// tests' cycles follow each other at once and edit documents months old.
    pub fn exact(mut self) -> SourceKeys {
        self.change_window_days = Some(0);
        self
    }
}

/// `[register]`.
#[derive(Debug, Clone, Default)]
pub struct RegisterKeys {
    pub place: RegisterPlace,
    pub send_log_days: Option<u32>,
}

/// Where the register lives.
#[derive(Debug, Clone, Default)]
pub enum RegisterPlace {
    /// No key: the product's default SQLite file beside the config.
    #[default]
    Default,
    /// An SQLite file (`path`, relative to the config's folder or absolute).
    Sqlite(PathBuf),
    /// A schema of its own on a server.
    Server {
        connection: Connection,
        schema: String,
    },
}

impl RegisterKeys {
    /// `register.sqlite` beside the config.
    pub fn sqlite() -> RegisterKeys {
        RegisterKeys::sqlite_at("register.sqlite")
    }

    pub fn sqlite_at(path: impl Into<PathBuf>) -> RegisterKeys {
        RegisterKeys {
            place: RegisterPlace::Sqlite(path.into()),
            send_log_days: None,
        }
    }

    /// The schema `alfa_calltouch` on the server `connection` names.
    pub fn server(connection: Connection) -> RegisterKeys {
        RegisterKeys {
            place: RegisterPlace::Server {
                connection,
                schema: "alfa_calltouch".into(),
            },
            send_log_days: None,
        }
    }
}

/// `[sync]`.
#[derive(Debug, Clone, Default)]
pub struct SyncKeys {
    pub chunk_documents: Option<usize>,
    pub retry_backoff_secs: Option<u64>,
}

impl TestConfig {
    /// A config for the Calltouch account `site_id` at `base_url` (an emulator's), its token in
    /// `token.txt`, reading `source`, with the register's default place.
    pub fn new(site_id: &str, base_url: &str, source: SourceKeys) -> TestConfig {
        TestConfig {
            calltouch: CalltouchKeys {
                site_id: site_id.into(),
                base_url: Some(base_url.into()),
                token_env: Some(TOKEN_ENV.into()),
                token_file: Some("token.txt".into()),
                ..CalltouchKeys::default()
            },
            order_number: None,
            source,
            register: RegisterKeys::default(),
            sync: SyncKeys::default(),
            extra: String::new(),
        }
    }

    /// A config for tests that hand the cycle a source of their own (the memory source, a
    /// source opened from a connection string): the `[source]` keys are never used.
    pub fn without_database(site_id: &str, base_url: &str) -> TestConfig {
        TestConfig::new(site_id, base_url, SourceKeys::new(Connection::unused()))
    }

    /// Sends as fast as the emulator answers and gives up quickly: what the tests of a cycle
    /// want (no pacing, two attempts, short backoff).
    pub fn quick(mut self) -> TestConfig {
        self.calltouch.requests_per_second = Some(0);
        self.calltouch.max_attempts = Some(2);
        self.calltouch.backoff_initial_ms = Some(10);
        self
    }

    /// The client's backoff between attempts: from `initial_ms`, doubling up to `max_ms`.
    pub fn backoff(mut self, initial_ms: u64, max_ms: u64) -> TestConfig {
        self.calltouch.backoff_initial_ms = Some(initial_ms);
        self.calltouch.backoff_max_ms = Some(max_ms);
        self
    }

    pub fn order_number(mut self, template: &str) -> TestConfig {
        self.order_number = Some(template.into());
        self
    }

    pub fn register(mut self, register: RegisterKeys) -> TestConfig {
        self.register = register;
        self
    }

    /// The TOML text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let c = &self.calltouch;
        out.push_str("[calltouch]\n");
        line(&mut out, "site_id", &c.site_id);
        optional(&mut out, "token_env", &c.token_env);
        optional(&mut out, "token_file", &c.token_file);
        optional(&mut out, "base_url", &c.base_url);
        number(&mut out, "batch_size", c.batch_size);
        number(&mut out, "requests_per_second", c.requests_per_second);
        number(&mut out, "connect_timeout_secs", c.connect_timeout_secs);
        number(&mut out, "request_timeout_secs", c.request_timeout_secs);
        number(&mut out, "max_attempts", c.max_attempts);
        number(&mut out, "backoff_initial_ms", c.backoff_initial_ms);
        number(&mut out, "backoff_max_ms", c.backoff_max_ms);
        if let Some(template) = &self.order_number {
            out.push_str("\n[deal]\n");
            line(&mut out, "order_number", template);
        }
        let s = &self.source;
        out.push_str("\n[source]\n");
        line(&mut out, "kind", s.connection.server.code());
        line(&mut out, "preset", s.preset.code());
        line(&mut out, "name_map", &s.name_map);
        line(&mut out, "start_date", &s.start_date);
        s.connection.render(&mut out);
        number(&mut out, "query_timeout_secs", s.query_timeout_secs);
        number(&mut out, "change_window_days", s.change_window_days);
        self.render_register(&mut out);
        if self.sync.chunk_documents.is_some() || self.sync.retry_backoff_secs.is_some() {
            out.push_str("\n[sync]\n");
            number(&mut out, "chunk_documents", self.sync.chunk_documents);
            number(&mut out, "retry_backoff_secs", self.sync.retry_backoff_secs);
        }
        if !self.extra.is_empty() {
            out.push('\n');
            raw(&mut out, &self.extra);
        }
        out
    }

    fn render_register(&self, out: &mut String) {
        let r = &self.register;
        if matches!(r.place, RegisterPlace::Default) && r.send_log_days.is_none() {
            return;
        }
        out.push_str("\n[register]\n");
        match &r.place {
            RegisterPlace::Default => {}
            RegisterPlace::Sqlite(path) => line(out, "path", &path.to_string_lossy()),
            RegisterPlace::Server { connection, schema } => {
                line(out, "kind", connection.server.code());
                line(out, "schema", schema);
                connection.render(out);
            }
        }
        number(out, "send_log_days", r.send_log_days);
    }

    /// Writes the config to `path`, readable by its owner only (it names secrets' files, and
    /// the product warns about config files others can read); returns `path`.
    pub fn write(&self, path: &Path) -> PathBuf {
        write_private(path, &self.render())
            .unwrap_or_else(|e| panic!("cannot write the test config {}: {e}", path.display()));
        path.to_path_buf()
    }

    /// Parses the config as if it were `c.toml` in `dir`, without writing it.
    pub fn parse_in(&self, dir: &Path) -> Result<Config, ConfigError> {
        Config::parse(&self.render(), &dir.join("c.toml"), dir)
    }
}

/// Writes a file only its owner may read: it holds a token or a password, or names their files.
/// An existing file is made private too (a mode given at creation applies to new files only).
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, contents.as_bytes())?;
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(())
}

/// `key = "value"`, quoted as TOML quotes it (a Windows path's backslashes included).
fn line(out: &mut String, key: &str, value: &str) {
    let _ = writeln!(out, "{key} = {}", toml::Value::String(value.to_string()));
}

fn optional(out: &mut String, key: &str, value: &Option<String>) {
    if let Some(value) = value {
        line(out, key, value);
    }
}

fn number(out: &mut String, key: &str, value: Option<impl std::fmt::Display>) {
    if let Some(value) = value {
        let _ = writeln!(out, "{key} = {value}");
    }
}

fn raw(out: &mut String, text: &str) {
    if !text.is_empty() {
        out.push_str(text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The product accepts every key the builder writes (its sections deny unknown keys), and
    /// each key set arrives with its value.
    #[test]
    fn the_product_reads_what_the_builder_writes() {
        let dir = std::env::temp_dir().join(format!("testkit-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = TestConfig::new(
            "4242",
            "http://127.0.0.1:9/",
            SourceKeys::new(Connection::local_postgres(5999, "alfa")).exact(),
        )
        .quick()
        .order_number("{kind}-{number}")
        .register(RegisterKeys::server(Connection::local_postgres(
            5999, "alfa",
        )));
        config.calltouch.batch_size = Some(4);
        config.calltouch.backoff_max_ms = Some(50);
        config.source.connection.connect_timeout_secs = Some(2);
        config.source.query_timeout_secs = Some(60);
        config.sync.chunk_documents = Some(7);
        config.sync.retry_backoff_secs = Some(0);
        config.register.send_log_days = Some(30);
        config.source.start_date = "2025-03-01".into();
        let parsed = config.parse_in(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        parsed.expect("the product reads the config");
        let table: toml::Table = config.render().parse().unwrap();
        let key = |section: &str, key: &str| table[section][key].to_string();
        assert_eq!(key("calltouch", "site_id"), "\"4242\"");
        assert_eq!(key("calltouch", "batch_size"), "4");
        assert_eq!(key("calltouch", "requests_per_second"), "0");
        assert_eq!(key("deal", "order_number"), "\"{kind}-{number}\"");
        assert_eq!(key("source", "kind"), "\"postgres\"");
        assert_eq!(key("source", "start_date"), "\"2025-03-01\"");
        assert_eq!(key("source", "port"), "5999");
        assert_eq!(key("source", "change_window_days"), "0");
        assert_eq!(key("register", "schema"), "\"alfa_calltouch\"");
        assert_eq!(key("register", "send_log_days"), "30");
        assert_eq!(key("sync", "chunk_documents"), "7");
    }

    /// A path with backslashes (a Windows one) survives quoting.
    #[test]
    fn a_windows_path_is_quoted_for_toml() {
        let config = TestConfig::new(
            "1",
            "http://127.0.0.1:9/",
            SourceKeys::new(Connection::unused()),
        )
        .register(RegisterKeys::sqlite_at(r"C:\alfa\register.sqlite"));
        let text = config.render();
        let table: toml::Table = text.parse().expect("valid TOML");
        assert_eq!(
            table["register"]["path"].as_str(),
            Some(r"C:\alfa\register.sqlite")
        );
    }
}
