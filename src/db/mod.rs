//! The one database layer of the 1C source and the server register, on PostgreSQL and MS SQL:
//! the connection settings built from `[source]` or `[register]` (the same keys, read by the
//! same code), TLS, the connect timeout, and connection errors that name the connection that
//! failed, where it pointed, and what the server or the network answered.
//!
//! [`postgres`] and [`mssql`] turn an [`Endpoint`] into a connection of their kind; the config
//! builds the endpoints, so this layer never reads the whole configuration.

pub mod mssql;
pub mod postgres;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::ops::privacy::Secret;

/// Which of the tool's two connections a setting or an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The 1C database, `[source]`.
    Source,
    /// The sync register on a server, `[register]`.
    Register,
}

impl Role {
    /// The config section whose keys set this connection.
    pub fn section(self) -> &'static str {
        match self {
            Role::Source => "source",
            Role::Register => "register",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Source => "the 1C database",
            Role::Register => "the register",
        })
    }
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

/// How a connection is encrypted, and which certificates it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub mode: TlsMode,
    /// The CA that signed the server certificate (PEM), instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate: an explicit opt-in for a server with a self-signed one.
    pub trust_server_certificate: bool,
}

/// How the connection logs in.
#[derive(Debug, Clone)]
pub enum Login {
    /// A database login and its password.
    Password { user: String, password: Secret },
    /// MS SQL Windows integrated authentication: the account the tool runs as.
    Integrated,
}

/// Where a database is and how to reach it: one struct for both roles and both kinds.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub role: Role,
    pub host: String,
    pub port: Option<u16>,
    /// An MS SQL named instance, found through the SQL Server Browser instead of `port`.
    pub instance: Option<String>,
    pub database: String,
    pub login: Login,
    pub tls: Tls,
    pub connect_timeout: Duration,
}

impl Endpoint {
    /// `host:port/database` or `host\instance/database`, for messages (never the password).
    pub fn place(&self, default_port: u16) -> String {
        match &self.instance {
            Some(instance) => format!("{}\\{instance}/{}", self.host, self.database),
            None => format!(
                "{}:{}/{}",
                self.host,
                self.port.unwrap_or(default_port),
                self.database
            ),
        }
    }

    /// A mistake in this connection's settings, found before connecting.
    pub fn setup_error(&self, message: impl Into<String>) -> ConnectError {
        ConnectError {
            role: self.role,
            place: match (&self.instance, self.port) {
                (None, None) => format!("{}/{}", self.host, self.database),
                _ => self.place(0),
            },
            cause: Cause::Setup,
            message: message.into(),
        }
    }
}

/// What kind of failure a connection met, which decides the advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The server refused the login (wrong user or password, no access to the database).
    Login,
    /// Nothing answered: no route, connection refused, no such host.
    Unreachable,
    /// The TLS negotiation or the certificate check failed.
    Tls,
    /// `tls = "required"` and the server offers no TLS at all.
    NoTls,
    /// The connect timeout passed.
    Timeout,
    /// The settings are wrong before any connection (a password or CA file cannot be read).
    Setup,
    /// Anything else the server said.
    Other,
}

/// A failed connection: which one, where to, what was answered, and what to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    pub role: Role,
    pub place: String,
    pub cause: Cause,
    /// What the server or the network said.
    pub message: String,
}

impl ConnectError {
    /// What to check, naming the keys of the connection's own section.
    pub fn advice(&self) -> String {
        let s = self.role.section();
        match self.cause {
            Cause::Login => format!(
                "check {s}.user and its password ({s}.password_env or {s}.password_file), and \
                 that the login may open database {s}.database"
            ),
            Cause::Unreachable => format!(
                "check {s}.host and {s}.port (or {s}.instance), that the server runs and \
                 accepts connections from this machine (firewall, listen address)"
            ),
            Cause::Timeout => format!(
                "check {s}.host and {s}.port and the firewall; a slow network needs a larger \
                 {s}.connect_timeout_secs"
            ),
            Cause::Tls => format!(
                "check {s}.tls and {s}.ca_file: the certificate must be signed by a trusted CA \
                 (or {s}.ca_file) and name {s}.host; a self-signed certificate is accepted only \
                 with {s}.trust_server_certificate = true"
            ),
            Cause::NoTls => format!(
                "the server offers no TLS: turn it on at the server (PostgreSQL: ssl = on with a \
                 certificate), or set {s}.tls = \"off\" if the network is trusted"
            ),
            Cause::Setup => format!("fix [{s}] in the config"),
            Cause::Other => format!("check the [{s}] settings and the server's log"),
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot connect to {} at {}: {}; {}",
            self.role,
            self.place,
            self.message,
            self.advice()
        )
    }
}

impl std::error::Error for ConnectError {}

/// An error's message followed by each of its causes that adds something, so a wrapper such as
/// "error connecting to server" never hides the refusal or the certificate problem under it.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

/// The cause of an I/O error met while connecting.
pub(crate) fn io_cause(kind: std::io::ErrorKind) -> Cause {
    use std::io::ErrorKind as K;
    match kind {
        K::ConnectionRefused
        | K::ConnectionReset
        | K::ConnectionAborted
        | K::NotConnected
        | K::AddrNotAvailable
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::NotFound => Cause::Unreachable,
        K::TimedOut => Cause::Timeout,
        K::InvalidData => Cause::Tls,
        _ => Cause::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn config(extra: &str) -> Config {
        let text = format!(
            r#"
            [calltouch]
            site_id = "1"
            [source]
            kind = "postgres"
            preset = "alfa6"
            name_map = "map.toml"
            start_date = "2026-01-01"
            host = "db.local"
            database = "alfa"
            user = "reader"
            password_env = "ALFA_DB_TEST_UNSET_PASSWORD"
            password_file = "secret.txt"
            {extra}
            "#
        );
        Config::parse(&text, Path::new("t.toml"), Path::new("/etc/alfa")).unwrap()
    }

    #[test]
    fn a_password_that_cannot_be_read_is_a_setup_error_of_its_connection() {
        let error = Endpoint::source(&config("")).unwrap_err();
        assert_eq!(error.role, Role::Source);
        assert_eq!(error.cause, Cause::Setup);
        let text = error.to_string();
        assert!(text.starts_with("cannot connect to the 1C database at db.local/alfa"));
        assert!(text.contains("source.password_file"), "{text}");
    }

    #[test]
    fn errors_name_their_connection_and_the_keys_to_check() {
        let error = ConnectError {
            role: Role::Register,
            place: "sql.local:1433/alfa".into(),
            cause: Cause::Login,
            message: "Login failed for user 'sync'.".into(),
        };
        let text = error.to_string();
        assert!(text.starts_with("cannot connect to the register at sql.local:1433/alfa"));
        assert!(text.contains("Login failed for user 'sync'."));
        assert!(text.contains("register.user"), "{text}");
        assert!(!text.contains("unreachable"), "{text}");
        let tls = ConnectError {
            cause: Cause::Tls,
            ..error
        };
        assert!(tls
            .advice()
            .contains("register.trust_server_certificate = true"));
    }

    #[test]
    fn the_chain_keeps_every_cause_once() {
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        #[derive(Debug, thiserror::Error)]
        #[error("error connecting to server")]
        struct Outer(#[source] std::io::Error);
        assert_eq!(
            error_chain(&Outer(inner)),
            "error connecting to server: refused"
        );
        assert_eq!(
            io_cause(std::io::ErrorKind::ConnectionRefused),
            Cause::Unreachable
        );
    }
}
