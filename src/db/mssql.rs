//! MS SQL Server connections of the source, the register and `check`: the tiberius settings of
//! an [`Endpoint`] (host and port, or a named instance through the SQL Server Browser), TLS,
//! the login, the connect timeout, the server's own words when connecting fails, and the rows
//! both read ([`MssqlRow`]).
//!
//! TLS: `off` encrypts nothing (not even the login), `preferred` encrypts when the server can,
//! `required` encrypts everything or fails. The certificate is verified against `ca_file` or
//! the system's roots, and its name against `host`, unless `trust_server_certificate = true`
//! is set explicitly: a default SQL Server install has a self-signed certificate, which is
//! refused without that opt-in. Authentication: a SQL Server login on every platform; Windows
//! integrated authentication (`integrated_auth = true`) in Windows builds only.

use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};
use tiberius::numeric::Numeric;
use tiberius::{AuthMethod, Client, ColumnData, EncryptionLevel, FromSql, SqlBrowser};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

use super::TlsMode;
use super::{io_cause, Cause, ConnectError, Endpoint, Login, Role};

/// A connected tiberius client.
pub type TdsClient = Client<Compat<TcpStream>>;

/// One MS SQL connection's settings.
#[derive(Clone)]
pub struct MssqlTarget {
    pub role: Role,
    tls: TlsMode,
    /// Found through the SQL Server Browser (a named instance) rather than host and port.
    browser: bool,
    tds: tiberius::Config,
    connect_timeout: Duration,
    place: String,
}

/// The tiberius encryption level of a `tls` setting.
pub fn encryption_level(tls: TlsMode) -> EncryptionLevel {
    match tls {
        TlsMode::Required => EncryptionLevel::Required,
        TlsMode::Preferred => EncryptionLevel::On,
        TlsMode::Off => EncryptionLevel::NotSupported,
    }
}

impl MssqlTarget {
    /// The settings of an endpoint; a setting tiberius cannot use is a setup error naming its key.
    pub fn new(endpoint: &Endpoint, application_name: &str) -> Result<MssqlTarget, ConnectError> {
        let section = endpoint.role.section();
        let mut tds = tiberius::Config::new();
        tds.host(&endpoint.host);
        match &endpoint.instance {
            Some(instance) => tds.instance_name(instance),
            None => tds.port(endpoint.port.unwrap_or(1433)),
        }
        tds.database(&endpoint.database);
        tds.application_name(application_name);
        tds.encryption(encryption_level(endpoint.tls.mode));
        if endpoint.tls.trust_server_certificate {
            tds.trust_cert();
        } else if let Some(ca_file) = &endpoint.tls.ca_file {
            // tiberius picks the format by extension and reads exactly one certificate.
            let known = ca_file
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| ["pem", "crt", "der"].contains(&e.to_ascii_lowercase().as_str()));
            if !known || !ca_file.is_file() {
                return Err(endpoint.setup_error(format!(
                    "{section}.ca_file {} must be a readable .pem, .crt or .der file holding the CA certificate",
                    ca_file.display()
                )));
            }
            tds.trust_cert_ca(ca_file.display());
        }
        tds.authentication(match &endpoint.login {
            Login::Password { user, password } => AuthMethod::sql_server(user, password.expose()),
            Login::Integrated => integrated_auth(section).map_err(|m| endpoint.setup_error(m))?,
        });
        Ok(MssqlTarget {
            role: endpoint.role,
            tls: endpoint.tls.mode,
            browser: endpoint.instance.is_some(),
            tds,
            connect_timeout: endpoint.connect_timeout,
            place: endpoint.place(1433),
        })
    }

    /// Settings from an ADO.NET connection string (tests against a real server).
    pub fn from_ado_string(
        role: Role,
        connection: &str,
        connect_timeout: Duration,
    ) -> Result<MssqlTarget, ConnectError> {
        let tds = tiberius::Config::from_ado_string(connection).map_err(|e| ConnectError {
            role,
            place: "the connection string".to_string(),
            cause: Cause::Setup,
            message: format!("bad connection string: {e}"),
        })?;
        let place = tds.get_addr();
        Ok(MssqlTarget {
            role,
            tls: TlsMode::Required,
            browser: true,
            tds,
            connect_timeout,
            place,
        })
    }

    /// The tiberius settings, as handed to tiberius.
    pub fn tds(&self) -> &tiberius::Config {
        &self.tds
    }

    /// `host:port/database` or `host\instance/database`, for messages.
    pub fn place(&self) -> &str {
        &self.place
    }

    /// TCP (after a Browser lookup for a named instance), TLS and login, within the timeout.
    /// With `tls = "preferred"` and a server that offers no encryption, the login is repeated
    /// without asking for it, which is what `preferred` means.
    pub async fn connect(&self) -> Result<TdsClient, ConnectError> {
        match self.attempt(self.tds.clone()).await {
            Err(Attempt::NoEncryption) if self.tls == TlsMode::Preferred => {
                let mut plain = self.tds.clone();
                plain.encryption(EncryptionLevel::NotSupported);
                match self.attempt(plain).await {
                    Err(Attempt::NoEncryption) => Err(self.no_encryption()),
                    Err(Attempt::Failed(error)) => Err(error),
                    Ok(client) => Ok(client),
                }
            }
            Err(Attempt::NoEncryption) => Err(self.no_encryption()),
            Err(Attempt::Failed(error)) => Err(error),
            Ok(client) => Ok(client),
        }
    }

    /// One connection attempt. tiberius panics when the server answers that it has no
    /// encryption after the client asked for it, so the attempt runs as a task of its own and
    /// that panic becomes an answer.
    async fn attempt(&self, tds: tiberius::Config) -> Result<TdsClient, Attempt> {
        let timeout = self.connect_timeout;
        let browser = self.browser;
        let task = tokio::spawn(async move {
            let attempt = async {
                // tiberius's own lookup reports any failure as "Could not resolve server
                // host"; connecting here keeps the network's answer (e.g. connection refused).
                let tcp = match browser {
                    true => TcpStream::connect_named(&tds).await?,
                    false => TcpStream::connect(tds.get_addr()).await?,
                };
                tcp.set_nodelay(true)?;
                Client::connect(tds.clone(), tcp.compat_write()).await
            };
            tokio::time::timeout(timeout, attempt).await
        });
        match task.await {
            Err(join) if join.is_panic() => Err(Attempt::NoEncryption),
            Err(join) => Err(Attempt::Failed(
                self.failure(Cause::Other, join.to_string()),
            )),
            Ok(Err(_)) => Err(Attempt::Failed(self.failure(
                Cause::Timeout,
                format!("no answer within {} s", timeout.as_secs()),
            ))),
            Ok(Ok(Err(error))) => {
                let (cause, message) = describe(&error);
                Err(Attempt::Failed(self.failure(cause, message)))
            }
            Ok(Ok(Ok(client))) => Ok(client),
        }
    }

    fn no_encryption(&self) -> ConnectError {
        self.failure(
            Cause::NoTls,
            "the server does not support TLS (it offers no encryption)".to_string(),
        )
    }

    fn failure(&self, cause: Cause, message: String) -> ConnectError {
        ConnectError {
            role: self.role,
            place: self.place.clone(),
            cause,
            message,
        }
    }
}

/// How one attempt ended when it did not connect.
enum Attempt {
    /// The server offers no encryption and the client asked for it.
    NoEncryption,
    Failed(ConnectError),
}

/// The cause and the words of a failed connection.
fn describe(error: &tiberius::error::Error) -> (Cause, String) {
    use tiberius::error::Error as E;
    match error {
        // 18456: login failed; 4060: cannot open the database; 18452: untrusted domain login.
        E::Server(token) => {
            let cause = match token.code() {
                18456 | 18452 | 18470 | 18486 | 18487 | 18488 | 4060 => Cause::Login,
                _ => Cause::Other,
            };
            (
                cause,
                format!(
                    "the server said: {} (error {})",
                    token.message(),
                    token.code()
                ),
            )
        }
        E::Tls(message) => (Cause::Tls, format!("TLS handshake failed: {message}")),
        E::Io { kind, message } => (io_cause(*kind), message.clone()),
        other => (Cause::Other, other.to_string()),
    }
}

/// One result row as tiberius values with their column names, read by the source (its
/// `Cells`), the register and `discover` alike, each cell through one typed reader below.
#[derive(Debug, Clone)]
pub struct MssqlRow {
    columns: Vec<String>,
    cells: Vec<ColumnData<'static>>,
}

impl MssqlRow {
    /// A row from named values (how tests build rows; tiberius rows cannot be built outside it).
    pub fn new(cells: Vec<(&str, ColumnData<'static>)>) -> MssqlRow {
        let (columns, cells) = cells
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .unzip();
        MssqlRow { columns, cells }
    }

    pub fn from_row(row: tiberius::Row) -> MssqlRow {
        let columns = row.columns().iter().map(|c| c.name().to_string()).collect();
        MssqlRow {
            columns,
            cells: row.into_iter().collect(),
        }
    }

    /// The cell of a column; `None` when it is NULL, whatever its type.
    pub fn cell(&self, column: &str) -> Result<Option<&ColumnData<'static>>, String> {
        let index = self
            .columns
            .iter()
            .position(|c| c == column)
            .ok_or_else(|| format!("the query returns no column `{column}`"))?;
        let cell = &self.cells[index];
        Ok((!is_null(cell)).then_some(cell))
    }

    /// A binary cell: references (16 bytes), row versions (8 bytes), metadata blobs.
    pub fn bytes(&self, column: &str) -> Result<Option<Vec<u8>>, String> {
        match self.cell(column)? {
            None => Ok(None),
            Some(ColumnData::Binary(Some(bytes))) => Ok(Some(bytes.to_vec())),
            Some(other) => Err(wrong_type(column, "binary", other)),
        }
    }

    /// A 1C boolean: stored as `binary(1)`, 0x01 true and 0x00 false; a `bit` reads as itself.
    pub fn flag(&self, column: &str) -> Result<Option<bool>, String> {
        match self.cell(column)? {
            None => Ok(None),
            Some(ColumnData::Binary(Some(bytes))) => match bytes.as_ref() {
                [0x01] => Ok(Some(true)),
                [0x00] => Ok(Some(false)),
                _ => Err(format!(
                    "column `{column}` is not a 1C boolean: {bytes:02X?}"
                )),
            },
            Some(ColumnData::Bit(Some(bit))) => Ok(Some(*bit)),
            Some(other) => Err(wrong_type(column, "binary(1)", other)),
        }
    }

    /// A string cell, or a `numeric` as exact decimal text.
    pub fn text(&self, column: &str) -> Result<Option<String>, String> {
        match self.cell(column)? {
            None => Ok(None),
            Some(ColumnData::String(Some(text))) => Ok(Some(text.to_string())),
            Some(ColumnData::Numeric(Some(n))) => Ok(Some(decimal_text(*n))),
            Some(other) => Err(wrong_type(column, "a string or numeric", other)),
        }
    }

    pub fn integer(&self, column: &str) -> Result<Option<i32>, String> {
        match self.cell(column)? {
            None => Ok(None),
            Some(ColumnData::I32(Some(n))) => Ok(Some(*n)),
            Some(ColumnData::I16(Some(n))) => Ok(Some(i32::from(*n))),
            Some(ColumnData::U8(Some(n))) => Ok(Some(i32::from(*n))),
            Some(other) => Err(wrong_type(column, "an int", other)),
        }
    }

    /// `datetime2`, `datetime` and `smalldatetime` all read as a local date-time.
    pub fn timestamp(&self, column: &str) -> Result<Option<NaiveDateTime>, String> {
        match self.cell(column)? {
            None => Ok(None),
            Some(cell) => {
                NaiveDateTime::from_sql(cell).map_err(|_| wrong_type(column, "a date-time", cell))
            }
        }
    }

    pub fn date(&self, column: &str) -> Result<Option<NaiveDate>, String> {
        match self.cell(column)? {
            None => Ok(None),
            Some(cell) => NaiveDate::from_sql(cell).map_err(|_| wrong_type(column, "a date", cell)),
        }
    }
}

/// A `numeric` as exact decimal text (tiberius's own formatting breaks negative values).
fn decimal_text(n: Numeric) -> String {
    let scale = u32::from(n.scale());
    let digits = n.value().unsigned_abs().to_string();
    let sign = if n.value() < 0 { "-" } else { "" };
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale as usize + 1);
    let (whole, fraction) = padded.split_at(padded.len() - scale as usize);
    format!("{sign}{whole}.{fraction}")
}

fn is_null(cell: &ColumnData<'_>) -> bool {
    use ColumnData as C;
    matches!(
        cell,
        C::U8(None)
            | C::I16(None)
            | C::I32(None)
            | C::I64(None)
            | C::F32(None)
            | C::F64(None)
            | C::Bit(None)
            | C::String(None)
            | C::Guid(None)
            | C::Binary(None)
            | C::Numeric(None)
            | C::Xml(None)
            | C::DateTime(None)
            | C::SmallDateTime(None)
            | C::Time(None)
            | C::Date(None)
            | C::DateTime2(None)
            | C::DateTimeOffset(None)
    )
}

fn wrong_type(column: &str, wanted: &str, cell: &ColumnData<'_>) -> String {
    format!("column `{column}` is not {wanted}: {cell:?}")
}

/// Windows integrated authentication: the identity of the account the tool runs as.
#[cfg(windows)]
fn integrated_auth(_section: &str) -> Result<AuthMethod, String> {
    Ok(AuthMethod::Integrated)
}

#[cfg(not(windows))]
fn integrated_auth(section: &str) -> Result<AuthMethod, String> {
    Err(format!(
        "{section}.integrated_auth works only in the Windows build; use a SQL Server login \
         ({section}.user and its password) here"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Tls;
    use crate::ops::privacy::Secret;

    fn endpoint(role: Role, tls: Tls) -> Endpoint {
        Endpoint {
            role,
            host: "sql.local".into(),
            port: None,
            instance: None,
            database: "alfa".into(),
            login: Login::Password {
                user: "sync".into(),
                password: Secret::new("pw"),
            },
            tls,
            connect_timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn decimals_keep_sign_scale_and_leading_zeros() {
        let text = |value, scale| decimal_text(Numeric::new_with_scale(value, scale));
        assert_eq!(text(1530050, 2), "15300.50");
        assert_eq!(text(-1234, 2), "-12.34");
        assert_eq!(text(-5, 2), "-0.05");
        assert_eq!(text(7, 0), "7");
        assert_eq!(text(0, 2), "0.00");
    }

    #[test]
    fn tls_settings_map_to_encryption_levels() {
        assert!(matches!(
            encryption_level(TlsMode::Required),
            EncryptionLevel::Required
        ));
        assert!(matches!(
            encryption_level(TlsMode::Preferred),
            EncryptionLevel::On
        ));
        assert!(matches!(
            encryption_level(TlsMode::Off),
            EncryptionLevel::NotSupported
        ));
    }

    #[test]
    fn a_named_instance_replaces_the_port_and_names_the_place() {
        let mut e = endpoint(
            Role::Register,
            Tls {
                mode: TlsMode::Required,
                ca_file: None,
                trust_server_certificate: false,
            },
        );
        e.instance = Some("SQLEXPRESS".into());
        let target = MssqlTarget::new(&e, "t").unwrap();
        assert_eq!(target.place(), "sql.local\\SQLEXPRESS/alfa");
        assert_eq!(target.tds().get_addr(), "sql.local:1434");
    }

    #[test]
    fn a_ca_file_tiberius_cannot_read_is_refused_naming_the_key() {
        let e = endpoint(
            Role::Register,
            Tls {
                mode: TlsMode::Required,
                ca_file: Some("/nonexistent/ca.txt".into()),
                trust_server_certificate: false,
            },
        );
        let error = MssqlTarget::new(&e, "t").err().unwrap().to_string();
        assert!(error.contains("register.ca_file"), "{error}");
        assert!(
            error.starts_with("cannot connect to the register"),
            "{error}"
        );
    }

    #[cfg(not(windows))]
    #[test]
    fn integrated_auth_outside_windows_names_the_connections_key() {
        let mut e = endpoint(
            Role::Register,
            Tls {
                mode: TlsMode::Required,
                ca_file: None,
                trust_server_certificate: false,
            },
        );
        e.login = Login::Integrated;
        let error = MssqlTarget::new(&e, "t").err().unwrap();
        assert_eq!(error.cause, Cause::Setup);
        assert!(
            error.to_string().contains("register.integrated_auth"),
            "{error}"
        );
    }

    #[test]
    fn tls_failures_are_tls_causes() {
        let tls =
            tiberius::error::Error::Tls("invalid peer certificate: UnknownIssuer".to_string());
        let (cause, message) = describe(&tls);
        assert_eq!(cause, Cause::Tls);
        assert!(message.contains("UnknownIssuer"), "{message}");
    }

    #[test]
    fn a_self_signed_server_is_trusted_only_on_explicit_opt_in() {
        let tls = |trust_server_certificate| Tls {
            mode: TlsMode::Required,
            ca_file: None,
            trust_server_certificate,
        };
        let verified = MssqlTarget::new(&endpoint(Role::Register, tls(false)), "t").unwrap();
        let trusted = MssqlTarget::new(&endpoint(Role::Register, tls(true)), "t").unwrap();
        let handed = |t: &MssqlTarget| format!("{:?}", t.tds());
        assert!(
            handed(&verified).contains("trust: Default"),
            "{}",
            handed(&verified)
        );
        assert!(handed(&verified).contains("encryption: Required"));
        assert!(
            handed(&trusted).contains("trust: TrustAll"),
            "{}",
            handed(&trusted)
        );
        assert!(
            !handed(&trusted).contains("\"pw\""),
            "the password never prints"
        );
    }
}
