//! TLS to MS SQL Server without a SQL Server: a local endpoint that speaks the start of TDS —
//! it answers the PRELOGIN message with "encryption on" and then runs the TLS handshake
//! wrapped in PRELOGIN packets, as SQL Server does — presents a self-signed certificate, the
//! kind a default SQL Server install has. tiberius, configured by the tool from `[register]`
//! and `[source]`, must refuse it without `trust_server_certificate`, naming the connection,
//! and with the opt-in complete the handshake and send its LOGIN7 packet inside TLS. What
//! follows the login (the server's answer) is not emulated: that part needs a real server
//! (`MSSQL_TEST_URL`, see docs/mssql.md).

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use rcgen::{CertificateParams, DnType, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use alfa_calltouch::config::Config;
use alfa_calltouch::db::mssql::MssqlTarget;
use alfa_calltouch::db::{Cause, Endpoint, Role};
use alfa_calltouch::register::{self, RegisterError};
use testkit::config::{Connection, RegisterKeys, Server, SourceKeys, TestConfig, PASSWORD_ENV};

/// What the endpoint saw of one connection.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// The client gave up during the TLS handshake (it refused the certificate).
    HandshakeAborted,
    /// The handshake completed and the first packet inside TLS had this TDS type.
    PacketInsideTls(u8),
    /// No TLS: the packet after PRELOGIN came in clear, with this TDS type.
    PacketInClear(u8),
}

const TDS_HEADER: usize = 8;
const PRELOGIN: u8 = 0x12;
const TABULAR_RESULT: u8 = 0x04;
const LOGIN7: u8 = 0x10;
const ENCRYPT_ON: u8 = 0x01;
const ENCRYPT_NOT_SUP: u8 = 0x02;

/// A TDS packet: header (type, end of message, length, spid, packet id, window) and payload.
fn packet(kind: u8, payload: &[u8]) -> Vec<u8> {
    let length = u16::try_from(TDS_HEADER + payload.len()).unwrap();
    let mut out = vec![kind, 0x01];
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&[0, 0, 1, 0]);
    out.extend_from_slice(payload);
    out
}

/// The server's PRELOGIN answer: a version and its encryption.
fn prelogin_answer(encryption: u8) -> Vec<u8> {
    let mut payload = vec![
        0x00, 0, 11, 0, 6, // VERSION at offset 11, 6 bytes
        0x01, 0, 17, 0, 1,    // ENCRYPTION at offset 17, 1 byte
        0xFF, // terminator
    ];
    payload.extend_from_slice(&[16, 0, 0x10, 0x00, 0, 0]); // 16.0.4096.0
    payload.push(encryption);
    packet(TABULAR_RESULT, &payload)
}

/// The TCP stream of one connection: while `wrapping`, TLS records travel inside PRELOGIN
/// packets (headers stripped on read, added on write); afterwards they travel bare.
struct PreloginFramed {
    tcp: TcpStream,
    wrapping: bool,
    header: [u8; TDS_HEADER],
    header_read: usize,
    payload_left: usize,
    outgoing: Vec<u8>,
}

impl PreloginFramed {
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.outgoing.is_empty() {
            let written = ready!(Pin::new(&mut self.tcp).poll_write(cx, &self.outgoing))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.outgoing.drain(..written);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for PreloginFramed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.wrapping {
            return Pin::new(&mut this.tcp).poll_read(cx, buf);
        }
        while this.payload_left == 0 {
            let mut header = ReadBuf::new(&mut this.header[this.header_read..]);
            ready!(Pin::new(&mut this.tcp).poll_read(cx, &mut header))?;
            let got = header.filled().len();
            if got == 0 {
                return Poll::Ready(Ok(()));
            }
            this.header_read += got;
            if this.header_read == TDS_HEADER {
                this.header_read = 0;
                let length = u16::from_be_bytes([this.header[2], this.header[3]]) as usize;
                this.payload_left = length.saturating_sub(TDS_HEADER);
            }
        }
        let room = buf.remaining().min(this.payload_left);
        let mut part = ReadBuf::new(buf.initialize_unfilled_to(room));
        ready!(Pin::new(&mut this.tcp).poll_read(cx, &mut part))?;
        let got = part.filled().len();
        buf.advance(got);
        this.payload_left -= got;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for PreloginFramed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if !this.wrapping {
            return Pin::new(&mut this.tcp).poll_write(cx, data);
        }
        ready!(this.poll_drain(cx))?;
        this.outgoing = packet(PRELOGIN, data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// Serves one connection: PRELOGIN, then the wrapped TLS handshake (unless the endpoint offers
/// no encryption), then the first packet.
async fn serve(
    mut tcp: TcpStream,
    tls: Arc<rustls::ServerConfig>,
    encryption: u8,
) -> io::Result<Seen> {
    let mut header = [0u8; TDS_HEADER];
    tcp.read_exact(&mut header).await?;
    assert_eq!(header[0], PRELOGIN, "the client starts with PRELOGIN");
    let length = u16::from_be_bytes([header[2], header[3]]) as usize;
    let mut payload = vec![0u8; length - TDS_HEADER];
    tcp.read_exact(&mut payload).await?;
    tcp.write_all(&prelogin_answer(encryption)).await?;
    if encryption == ENCRYPT_NOT_SUP {
        tcp.read_exact(&mut header).await?;
        return Ok(Seen::PacketInClear(header[0]));
    }
    let framed = PreloginFramed {
        tcp,
        wrapping: true,
        header: [0; TDS_HEADER],
        header_read: 0,
        payload_left: 0,
        outgoing: Vec::new(),
    };
    let mut stream = match tokio_rustls::TlsAcceptor::from(tls).accept(framed).await {
        Ok(stream) => stream,
        Err(_) => return Ok(Seen::HandshakeAborted),
    };
    stream.get_mut().0.wrapping = false;
    let mut first = [0u8; TDS_HEADER];
    stream.read_exact(&mut first).await?;
    Ok(Seen::PacketInsideTls(first[0]))
}

/// A listening endpoint with a self-signed certificate for `localhost`, answering PRELOGIN
/// with `encryption`; reports each connection.
async fn endpoint(encryption: u8) -> (u16, mpsc::UnboundedReceiver<Seen>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "SSL_Self_Signed_Fallback");
    let certificate = params.self_signed(&key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // TLS 1.2, as SQL Server negotiates inside TDS 7.x: the client's last handshake message
    // then still travels inside a PRELOGIN packet.
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(certificate.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    // Tickets would follow the handshake while the client already reads bare TLS.
    tls.send_tls13_tickets = 0;
    let tls = Arc::new(tls);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (report, seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let tls = tls.clone();
            let report = report.clone();
            tokio::spawn(async move {
                if let Ok(seen) = serve(tcp, tls, encryption).await {
                    let _ = report.send(seen);
                }
            });
        }
    });
    (port, seen)
}

/// A config whose `[source]` and `[register]` are MS SQL at the endpoint, with `keys` added.
fn config(port: u16, keys: &str) -> Config {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("alfa-mssql-tls-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("password.txt"), "not-used-by-the-endpoint").unwrap();
    let connection = Connection {
        server: Server::Mssql,
        host: "127.0.0.1".into(),
        port: Some(port),
        database: "alfa".into(),
        user: "sync".into(),
        password_env: Some(PASSWORD_ENV.into()),
        password_file: Some("password.txt".into()),
        tls: None,
        connect_timeout_secs: Some(10),
        extra: keys.into(),
    };
    let mut config = TestConfig::new(
        "1",
        "http://127.0.0.1:9/",
        SourceKeys::new(connection.clone()),
    )
    .register(RegisterKeys::server(connection));
    config.calltouch.base_url = None;
    let text = config.render();
    Config::parse(&text, Path::new("mssql-tls.toml"), &dir).expect("valid config")
}

fn target(config: &Config, role: Role) -> MssqlTarget {
    let endpoint = match role {
        Role::Source => Endpoint::source(config),
        Role::Register => Endpoint::register(config),
    }
    .unwrap();
    MssqlTarget::new(&endpoint, "alfa-calltouch tls test").unwrap()
}

#[tokio::test]
async fn a_self_signed_server_is_refused_without_the_opt_in_naming_the_connection() {
    let (port, mut seen) = endpoint(ENCRYPT_ON).await;
    for tls in ["required", "preferred"] {
        let config = config(port, &format!("tls = \"{tls}\""));
        for role in [Role::Source, Role::Register] {
            let error = target(&config, role).connect().await.err().unwrap();
            let text = error.to_string();
            assert_eq!((error.role, error.cause), (role, Cause::Tls), "{text}");
            assert!(text.contains("invalid peer certificate"), "{text}");
            assert!(
                text.contains(&format!(
                    "{}.trust_server_certificate = true",
                    role.section()
                )),
                "{text}"
            );
            assert_eq!(seen.recv().await, Some(Seen::HandshakeAborted));
            eprintln!("{tls}: {text}");
        }
        // The register itself, opened from the config as `run` opens it.
        match register::open(&config).await {
            Err(RegisterError::Connection(e)) => {
                assert_eq!((e.role, e.cause), (Role::Register, Cause::Tls), "{e}");
                assert!(
                    e.to_string().starts_with(&format!(
                        "cannot connect to the register at 127.0.0.1:{port}/alfa"
                    )),
                    "{e}"
                );
            }
            Err(other) => panic!("not a connection error: {other}"),
            Ok(_) => panic!("the register opened against a certificate nobody trusts"),
        }
        assert_eq!(seen.recv().await, Some(Seen::HandshakeAborted));
    }
}

#[tokio::test]
async fn with_the_opt_in_the_handshake_completes_and_the_login_goes_inside_tls() {
    let (port, mut seen) = endpoint(ENCRYPT_ON).await;
    let config = config(port, "tls = \"required\"\ntrust_server_certificate = true");
    for role in [Role::Source, Role::Register] {
        // The endpoint stops after the first packet, so the connection then fails, but not on
        // TLS: the login was already sent, encrypted.
        let error = target(&config, role).connect().await.err().unwrap();
        assert_ne!(error.cause, Cause::Tls, "{error}");
        assert_eq!(seen.recv().await, Some(Seen::PacketInsideTls(LOGIN7)));
    }
    let opened = register::open(&config).await;
    assert!(
        !matches!(&opened, Err(RegisterError::Connection(e)) if e.cause == Cause::Tls),
        "{:?}",
        opened.err()
    );
    assert_eq!(seen.recv().await, Some(Seen::PacketInsideTls(LOGIN7)));
}

#[tokio::test]
async fn without_encryption_at_the_server_preferred_and_off_log_in_plain_and_required_does_not() {
    let (port, mut seen) = endpoint(ENCRYPT_NOT_SUP).await;
    let preferred = config(port, "tls = \"preferred\"");
    let off = config(port, "tls = \"off\"");
    for role in [Role::Source, Role::Register] {
        // The endpoint stops after the login packet; what matters is how that packet came.
        let error = target(&preferred, role).connect().await.err().unwrap();
        assert_ne!(error.cause, Cause::Tls, "{error}");
        assert_eq!(seen.recv().await, Some(Seen::PacketInClear(LOGIN7)));
        let error = target(&off, role).connect().await.err().unwrap();
        assert_ne!(error.cause, Cause::Tls, "{error}");
        assert_eq!(seen.recv().await, Some(Seen::PacketInClear(LOGIN7)));
        // required never logs in without TLS: it starts a handshake, which this server
        // cannot answer, and the login is never sent.
        let required = config(port, "tls = \"required\"");
        assert!(target(&required, role).connect().await.is_err());
        assert_eq!(seen.recv().await, Some(Seen::PacketInClear(PRELOGIN)));
    }
}
