//! PostgreSQL connections of the source, the register, `check` and `discover`: the
//! tokio-postgres settings of an [`Endpoint`], TLS through rustls, the connection task, and the
//! server's own words when connecting fails.
//!
//! TLS: `off` never asks for it; `preferred` asks and goes on in plain text only when the server
//! answers that it has no TLS (libpq's `prefer`), while a TLS handshake that fails stays an
//! error; `required` refuses a server without TLS. Whenever TLS is used the certificate chain and
//! the host name are verified against `ca_file` or the system's roots, unless
//! `trust_server_certificate = true` is set explicitly.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, NoTls};

use super::TlsMode;
use super::{error_chain, io_cause, Cause, ConnectError, Endpoint, Login, Role, Tls};

/// One PostgreSQL connection's settings: where, how to log in, and how to encrypt.
#[derive(Clone)]
pub struct PgTarget {
    pub role: Role,
    config: tokio_postgres::Config,
    /// `None`: plain connections only (`tls = "off"`, or a test's connection string).
    tls: Option<RustlsConnector>,
}

impl PgTarget {
    /// The settings of an endpoint; reads the CA file now, so a bad one is a setup error.
    pub fn new(endpoint: &Endpoint, application_name: &str) -> Result<PgTarget, ConnectError> {
        if endpoint.instance.is_some() {
            let key = format!("{}.instance", endpoint.role.section());
            return Err(endpoint.setup_error(format!("{key} is for MS SQL only")));
        }
        let Login::Password { user, password } = &endpoint.login else {
            let key = format!("{}.integrated_auth", endpoint.role.section());
            return Err(endpoint.setup_error(format!("{key} is for MS SQL only")));
        };
        let mut config = tokio_postgres::Config::new();
        config
            .host(&endpoint.host)
            .port(endpoint.port.unwrap_or(5432))
            .dbname(&endpoint.database)
            .user(user)
            .password(password.expose())
            .application_name(application_name)
            .connect_timeout(endpoint.connect_timeout);
        let tls = match endpoint.tls.mode {
            TlsMode::Off => None,
            TlsMode::Preferred | TlsMode::Required => Some(
                RustlsConnector::new(&endpoint.tls)
                    .map_err(|message| endpoint.setup_error(message))?,
            ),
        };
        config.ssl_mode(match endpoint.tls.mode {
            TlsMode::Off => SslMode::Disable,
            TlsMode::Preferred => SslMode::Prefer,
            TlsMode::Required => SslMode::Require,
        });
        Ok(PgTarget {
            role: endpoint.role,
            config,
            tls,
        })
    }

    /// Plain settings as given (tests, the demo's throwaway cluster).
    pub fn plain(role: Role, mut config: tokio_postgres::Config) -> PgTarget {
        config.ssl_mode(SslMode::Disable);
        PgTarget {
            role,
            config,
            tls: None,
        }
    }

    /// The tokio-postgres settings, to add session options before connecting.
    pub fn config_mut(&mut self) -> &mut tokio_postgres::Config {
        &mut self.config
    }

    /// `host:port/database`, for messages.
    pub fn place(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(host)) => host.clone(),
            #[cfg(unix)]
            Some(Host::Unix(path)) => path.display().to_string(),
            None => "localhost".to_string(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let database = self.config.get_dbname().unwrap_or_default();
        format!("{host}:{port}/{database}")
    }

    /// Connects and starts the connection's task; a failure says what the server answered.
    pub async fn connect(&self) -> Result<Client, ConnectError> {
        let role = self.role;
        let failed = |error: tokio_postgres::Error| self.error(&error);
        let client = match &self.tls {
            None => {
                let (client, connection) = self.config.connect(NoTls).await.map_err(failed)?;
                tokio::spawn(watch(role, connection));
                client
            }
            Some(tls) => {
                let (client, connection) =
                    self.config.connect(tls.clone()).await.map_err(failed)?;
                tokio::spawn(watch(role, connection));
                client
            }
        };
        Ok(client)
    }

    /// A connection error in the words of the server (SQLSTATE and message) or of the network.
    pub fn error(&self, error: &tokio_postgres::Error) -> ConnectError {
        let (cause, message) = describe(error, self.config.get_connect_timeout().copied());
        ConnectError {
            role: self.role,
            place: self.place(),
            cause,
            message,
        }
    }
}

/// Logs how a connection ended when it ends with an error.
async fn watch<F>(role: Role, connection: F)
where
    F: Future<Output = Result<(), tokio_postgres::Error>>,
{
    if let Err(error) = connection.await {
        tracing::warn!(error = %error_chain(&error), "PostgreSQL connection to {role} closed");
    }
}

/// The cause and the words of a failed connection.
fn describe(error: &tokio_postgres::Error, timeout: Option<Duration>) -> (Cause, String) {
    if let Some(db) = error.as_db_error() {
        let code = db.code().code();
        // Class 28: invalid authorization; 3D000: the database does not exist.
        let cause = if code.starts_with("28") || code == "3D000" {
            Cause::Login
        } else {
            Cause::Other
        };
        return (
            cause,
            format!("the server said: {} (SQLSTATE {code})", db.message()),
        );
    }
    let text = error_chain(error);
    if text.contains("server does not support TLS") {
        return (Cause::NoTls, text);
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>())
            {
                return (Cause::Tls, text);
            }
            return (io_cause(io.kind()), text);
        }
        if cause.is::<rustls::Error>() {
            return (Cause::Tls, text);
        }
        source = cause.source();
    }
    if text.contains("TLS") {
        return (Cause::Tls, text);
    }
    if text.contains("timeout") || text.contains("timed out") {
        let within = timeout.map_or(String::new(), |t| format!(" within {} s", t.as_secs()));
        return (Cause::Timeout, format!("no answer{within} ({text})"));
    }
    (Cause::Other, text)
}

/// rustls for tokio-postgres: the TLS of a connection, with the roots or the opt-in it names.
#[derive(Clone)]
pub struct RustlsConnector {
    config: Arc<rustls::ClientConfig>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl RustlsConnector {
    /// Roots from `ca_file`, else the system's store; or no verification at all on opt-in.
    pub fn new(tls: &Tls) -> Result<RustlsConnector, String> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?;
        let config = if tls.trust_server_certificate {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
                .with_no_client_auth()
        } else {
            builder
                .with_root_certificates(roots(tls)?)
                .with_no_client_auth()
        };
        Ok(RustlsConnector {
            config: Arc::new(config),
        })
    }
}

/// The CA file's certificates, or the system's trusted roots.
fn roots(tls: &Tls) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match &tls.ca_file {
        Some(path) => {
            let certificates = CertificateDer::pem_file_iter(path)
                .and_then(|all| all.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?;
            if certificates.is_empty() {
                return Err(format!(
                    "the CA file {} holds no PEM certificate",
                    path.display()
                ));
            }
            for certificate in certificates {
                store.add(certificate).map_err(|e| {
                    format!(
                        "the CA file {} holds a bad certificate: {e}",
                        path.display()
                    )
                })?;
            }
        }
        None => {
            // Unreadable entries of the system store are skipped, as browsers do.
            let system = rustls_native_certs::load_native_certs()
                .map_err(|e| format!("cannot read the system's trusted certificates: {e}"))?;
            for certificate in system {
                let _ = store.add(CertificateDer::from(certificate.0));
            }
        }
    }
    Ok(store)
}

/// `trust_server_certificate = true`: any certificate is accepted, but the handshake's
/// signatures are still checked, so the session key belongs to whoever holds the certificate.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

impl<S> MakeTlsConnect<S> for RustlsConnector
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = rustls::pki_types::InvalidDnsNameError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnect, Self::Error> {
        Ok(RustlsConnect {
            connector: tokio_rustls::TlsConnector::from(self.config.clone()),
            name: ServerName::try_from(domain.to_string())?,
        })
    }
}

/// One handshake, for the host name tokio-postgres connects to.
pub struct RustlsConnect {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let stream = self.connector.connect(self.name, stream).await?;
            Ok(RustlsStream(Box::new(stream)))
        })
    }
}

/// An encrypted connection to the server.
pub struct RustlsStream<S>(Box<tokio_rustls::client::TlsStream<S>>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(self.0.as_mut()).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self.0.as_mut()).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.0.as_mut()).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.0.as_mut()).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for RustlsStream<S> {
    /// SCRAM without channel binding, as libpq does unless told to require it.
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}
