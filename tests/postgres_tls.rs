//! TLS and connection errors against real PostgreSQL servers: a throwaway cluster offering TLS
//! with a certificate for `localhost` signed by a CA made here, and one without TLS, both asking
//! for a password. Each `tls` value is checked for the 1C source and the register, through the
//! config keys of their own sections; whether a session is encrypted is read from the server's
//! `pg_stat_ssl`, never assumed. The binary's `check` must print what the server answered:
//! a wrong password, a closed port, a refused certificate.
//!
//! These tests fail (they do not skip) when the PostgreSQL server programs are missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use tokio_postgres::{Client, NoTls};

use alfa_calltouch::config::Config;
use alfa_calltouch::db::postgres::PgTarget;
use alfa_calltouch::db::{Cause, ConnectError, Endpoint, Role};
use alfa_calltouch::register::{self, RegisterError};
use alfa_calltouch::source::settings::Preset;
use alfa_calltouch::source::{self, SourceError};
use testkit::cluster::SharedCluster;
use testkit::config::{Connection, RegisterKeys, SourceKeys, TestConfig};
use testkit::fixture::{Fixture, FixtureSpec};
use testkit::pgcluster::{ClusterOptions, PgCluster, ServerTls};

const BINARY: &str = env!("CARGO_BIN_EXE_alfa-calltouch");
const PASSWORD: &str = "tls-test-password";

/// A CA, and a server certificate for `localhost` (only) that it signed.
struct Certificates {
    ca_pem: String,
    server: ServerTls,
    /// Another CA, which signed nothing the server holds.
    stranger_pem: String,
}

fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    (params.self_signed(&key).unwrap(), key)
}

fn certificates() -> &'static Certificates {
    static CERTIFICATES: OnceLock<Certificates> = OnceLock::new();
    CERTIFICATES.get_or_init(|| {
        let (ca_cert, ca_key) = ca("alfa-calltouch test CA");
        let server_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let server = params.signed_by(&server_key, &ca_cert, &ca_key).unwrap();
        let (stranger, _) = ca("a CA the server does not use");
        Certificates {
            ca_pem: ca_cert.pem(),
            server: ServerTls {
                certificate_pem: server.pem(),
                key_pem: server_key.serialize_pem(),
            },
            stranger_pem: stranger.pem(),
        }
    })
}

/// The clusters' options: a password over TCP, and TLS with `tls` when given.
fn options(tls: Option<ServerTls>) -> ClusterOptions {
    ClusterOptions {
        password: Some(PASSWORD.to_string()),
        tls,
    }
}

/// The cluster offering TLS, with a generated Альфа-Авто 6.x database `alfa`.
fn tls_cluster() -> &'static PgCluster {
    static CLUSTER: SharedCluster =
        SharedCluster::new(|| options(Some(certificates().server.clone())));
    CLUSTER.get()
}

/// The cluster without TLS.
fn plain_cluster() -> &'static PgCluster {
    static CLUSTER: SharedCluster = SharedCluster::new(|| options(None));
    CLUSTER.get()
}

/// A folder with the CA files, the password file and the name map of `alfa`.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alfa-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ca.pem"), &certificates().ca_pem).unwrap();
    std::fs::write(dir.join("stranger.pem"), &certificates().stranger_pem).unwrap();
    std::fs::write(dir.join("password.txt"), PASSWORD).unwrap();
    std::fs::write(dir.join("wrong-password.txt"), "not-the-password").unwrap();
    std::fs::write(dir.join("token.txt"), "test-token").unwrap();
    dir
}

/// The connection keys both sections share, as one test sets them.
#[derive(Clone)]
struct Keys {
    host: &'static str,
    port: u16,
    /// `postgres` for connection checks; `alfa`, the generated 1C base, to open the source.
    database: &'static str,
    tls: &'static str,
    /// Extra lines: `ca_file`, `trust_server_certificate`, `password_file`.
    extra: String,
}

impl Keys {
    fn new(host: &'static str, port: u16, tls: &'static str, extra: &str) -> Keys {
        Keys {
            host,
            port,
            database: "postgres",
            tls,
            extra: extra.to_string(),
        }
    }

    fn on_alfa(mut self) -> Keys {
        self.database = "alfa";
        self
    }

    /// The keys as a `[source]` or `[register]` connection.
    fn connection(&self) -> Connection {
        let mut connection = Connection::local_postgres(self.port, self.database);
        connection.host = self.host.into();
        connection.tls = Some(self.tls.into());
        connection.connect_timeout_secs = Some(5);
        if self.extra.contains("password_file") {
            connection.password_file = None;
        }
        connection.extra = self.extra.clone();
        connection
    }
}

/// A config whose `[source]` and `[register]` both use `keys`.
fn config_text(keys: &Keys) -> String {
    let connection = keys.connection();
    TestConfig::new(
        "1",
        "http://127.0.0.1:9/",
        SourceKeys::new(connection.clone()),
    )
    .register(RegisterKeys::server(connection))
    .render()
}

fn config(dir: &Path, keys: &Keys) -> Config {
    Config::parse(&config_text(keys), Path::new("tls.toml"), dir).expect("valid config")
}

/// Connects one role through the database layer, as the source and the register do.
async fn connect(config: &Config, role: Role) -> Result<Client, ConnectError> {
    let endpoint = match role {
        Role::Source => Endpoint::source(config)?,
        Role::Register => Endpoint::register(config)?,
    };
    PgTarget::new(&endpoint, "alfa-calltouch tls test")?
        .connect()
        .await
}

/// Whether the server sees this session encrypted.
async fn encrypted(client: &Client) -> bool {
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

const ROLES: [Role; 2] = [Role::Source, Role::Register];

#[tokio::test]
async fn required_verifies_the_certificate_and_the_host_name() {
    let dir = folder("required");
    let port = tls_cluster().port();
    let verified = config(
        &dir,
        &Keys::new("localhost", port, "required", "ca_file = \"ca.pem\""),
    );
    for role in ROLES {
        let client = connect(&verified, role)
            .await
            .unwrap_or_else(|e| panic!("{role}: {e}"));
        assert!(encrypted(&client).await, "{role}: the session is encrypted");
    }
    let cases = [
        // The certificate names localhost, not the address.
        (
            Keys::new("127.0.0.1", port, "required", "ca_file = \"ca.pem\""),
            "not valid for name",
        ),
        (
            Keys::new("localhost", port, "required", "ca_file = \"stranger.pem\""),
            "UnknownIssuer",
        ),
        // The system's roots do not hold the test CA.
        (
            Keys::new("localhost", port, "required", ""),
            "UnknownIssuer",
        ),
        // preferred verifies as required does when the server offers TLS.
        (
            Keys::new("localhost", port, "preferred", "ca_file = \"stranger.pem\""),
            "UnknownIssuer",
        ),
    ];
    for (keys, expected) in cases {
        let refused = config(&dir, &keys);
        for role in ROLES {
            let error = connect(&refused, role)
                .await
                .err()
                .unwrap_or_else(|| panic!("{role} connected with {} {}", keys.host, keys.extra));
            let text = error.to_string();
            assert_eq!(error.cause, Cause::Tls, "{text}");
            assert_eq!(error.role, role);
            assert!(text.contains(expected), "{text}");
            assert!(
                text.contains(&format!("{}.trust_server_certificate", role.section())),
                "{text}"
            );
        }
    }
}

#[tokio::test]
async fn trust_server_certificate_is_the_explicit_opt_in_for_any_certificate() {
    let dir = folder("trust");
    let keys = Keys::new(
        "127.0.0.1",
        tls_cluster().port(),
        "required",
        "trust_server_certificate = true",
    );
    let trusting = config(&dir, &keys);
    for role in ROLES {
        let client = connect(&trusting, role)
            .await
            .unwrap_or_else(|e| panic!("{role}: {e}"));
        assert!(encrypted(&client).await, "{role}");
    }
}

#[tokio::test]
async fn preferred_uses_tls_when_offered_and_plain_only_when_not() {
    let dir = folder("preferred");
    let offered = config(
        &dir,
        &Keys::new(
            "localhost",
            tls_cluster().port(),
            "preferred",
            "ca_file = \"ca.pem\"",
        ),
    );
    let not_offered = config(
        &dir,
        &Keys::new("localhost", plain_cluster().port(), "preferred", ""),
    );
    let required_without = config(
        &dir,
        &Keys::new("localhost", plain_cluster().port(), "required", ""),
    );
    for role in ROLES {
        let client = connect(&offered, role).await.unwrap();
        assert!(encrypted(&client).await, "{role}: TLS when offered");
        let client = connect(&not_offered, role).await.unwrap();
        assert!(!encrypted(&client).await, "{role}: plain when not offered");
        let error = connect(&required_without, role).await.err().unwrap();
        assert_eq!(error.cause, Cause::NoTls, "{error}");
        let text = error.to_string();
        assert!(text.contains("does not support TLS"), "{text}");
        assert!(
            text.contains(&format!("{}.tls = \"off\"", role.section())),
            "{text}"
        );
    }
}

#[tokio::test]
async fn off_never_tries() {
    let dir = folder("off");
    let off = config(
        &dir,
        &Keys::new("localhost", tls_cluster().port(), "off", ""),
    );
    for role in ROLES {
        let client = connect(&off, role).await.unwrap();
        assert!(!encrypted(&client).await, "{role}: plain although offered");
    }
}

/// The generated 1C database of the TLS cluster, and its name map in `dir`.
async fn one_c_database(dir: &Path) {
    static READY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    let map = READY
        .get_or_init(|| async {
            let connection = tls_cluster().create_database("alfa").await.unwrap();
            let fixture = Fixture::generate(&connection, FixtureSpec::small(Preset::Alfa6, 7))
                .await
                .unwrap();
            fixture.name_map_toml()
        })
        .await;
    std::fs::write(dir.join("namemap.toml"), map).unwrap();
}

/// Whether the server's session of this application is encrypted, seen from another session.
async fn session_encrypted(application: &str) -> Option<bool> {
    let admin = tls_cluster().connection_string("postgres");
    let (client, connection) = tokio_postgres::connect(&admin, NoTls).await.unwrap();
    tokio::spawn(connection);
    let row = client
        .query_opt(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.application_name = $1 LIMIT 1",
            &[&application],
        )
        .await
        .unwrap();
    row.map(|row| row.get(0))
}

#[tokio::test]
async fn the_source_and_the_register_open_over_verified_tls_or_say_why_not() {
    let dir = folder("open");
    one_c_database(&dir).await;
    let port = tls_cluster().port();
    let verified = config(
        &dir,
        &Keys::new("localhost", port, "required", "ca_file = \"ca.pem\"").on_alfa(),
    );
    let source = source::open(&verified).await.expect("the source opens");
    assert_eq!(session_encrypted("alfa-calltouch").await, Some(true));
    let register = register::open(&verified).await.expect("the register opens");
    assert_eq!(
        session_encrypted("alfa-calltouch register").await,
        Some(true)
    );
    drop((source, register));

    let wrong_name = config(
        &dir,
        &Keys::new("127.0.0.1", port, "required", "ca_file = \"ca.pem\"").on_alfa(),
    );
    match source::open(&wrong_name).await {
        Err(SourceError::Connection(e)) => {
            assert_eq!((e.role, e.cause), (Role::Source, Cause::Tls), "{e}");
            assert!(
                e.to_string()
                    .starts_with("cannot connect to the 1C database at 127.0.0.1:"),
                "{e}"
            );
        }
        Err(other) => panic!("not a connection error: {other}"),
        Ok(_) => panic!("the source opened with a certificate for another name"),
    }
    match register::open(&wrong_name).await {
        Err(RegisterError::Connection(e)) => {
            assert_eq!((e.role, e.cause), (Role::Register, Cause::Tls), "{e}");
            assert!(
                e.to_string()
                    .starts_with("cannot connect to the register at 127.0.0.1:"),
                "{e}"
            );
        }
        Err(other) => panic!("not a connection error: {other}"),
        Ok(_) => panic!("the register opened with a certificate for another name"),
    }
}

/// Runs `check` with a config and returns its output.
fn check(dir: &Path, keys: &Keys) -> String {
    let path = dir.join("alfa-calltouch.toml");
    std::fs::write(&path, config_text(keys)).unwrap();
    let output = Command::new(BINARY)
        .arg("--config")
        .arg(&path)
        .arg("check")
        .output()
        .expect("runs the binary");
    assert!(
        !output.status.success(),
        "check passed with {}",
        config_text(keys)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn check_prints_what_the_server_answered() {
    let dir = folder("check");
    one_c_database(&dir).await;
    let port = tls_cluster().port();

    let wrong_password = check(
        &dir,
        &Keys::new(
            "localhost",
            port,
            "required",
            "ca_file = \"ca.pem\"\npassword_file = \"wrong-password.txt\"",
        )
        .on_alfa(),
    );
    for (role, section) in [("the 1C database", "source"), ("the register", "register")] {
        let line = wrong_password
            .lines()
            .find(|l| l.contains(&format!("cannot connect to {role}")))
            .unwrap_or_else(|| panic!("no line for {role}:\n{wrong_password}"));
        assert!(
            line.contains("password authentication failed for user \"postgres\""),
            "{line}"
        );
        assert!(line.contains(&format!("{section}.user")), "{line}");
        assert!(!line.contains("unreachable"), "{line}");
        eprintln!("{line}");
    }

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let refused = check(&dir, &Keys::new("127.0.0.1", closed, "off", "").on_alfa());
    let line = refused
        .lines()
        .find(|l| l.contains("cannot connect to the 1C database"))
        .unwrap_or_else(|| panic!("{refused}"));
    assert!(line.contains(&format!("127.0.0.1:{closed}/alfa")), "{line}");
    assert!(line.to_lowercase().contains("connection refused"), "{line}");
    eprintln!("{line}");
    assert!(refused.contains("cannot connect to the register at 127.0.0.1"));

    let untrusted = check(
        &dir,
        &Keys::new("localhost", port, "required", "ca_file = \"stranger.pem\"").on_alfa(),
    );
    for role in ["the 1C database", "the register"] {
        let line = untrusted
            .lines()
            .find(|l| l.contains(&format!("cannot connect to {role}")))
            .unwrap_or_else(|| panic!("no line for {role}:\n{untrusted}"));
        assert!(line.contains("UnknownIssuer"), "{line}");
        eprintln!("{line}");
    }
}
