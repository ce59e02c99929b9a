//! The status endpoints for real: the server started on a real register (an SQLite file, and a
//! schema on the throwaway PostgreSQL) and each endpoint fetched over HTTP; the token; the
//! refusal of a network address; and, end to end, a cycle against a generated 1C base and the
//! strict Calltouch emulator in which Calltouch refuses a document, then `serve` and Debian's
//! headless Chromium reading the page, whose screenshot is kept in target/test-artefacts/.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use chrono::{Local, NaiveDateTime, TimeDelta};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;

use alfa_calltouch::config::Config;
use alfa_calltouch::domain::snapshot::{DocKind, DocRef, DocumentSnapshot, Money};
use alfa_calltouch::ops::schedule::Interval;
use alfa_calltouch::register::{
    self, AcceptedDeal, CycleStore, FailedDocument, ListFilter, Outcome, RunLog, SendRecord,
    SyncState,
};
use alfa_calltouch::source::settings::Preset;
use alfa_calltouch::status::server::{self, Settings, StatusServer};
use testkit::cluster::shared as cluster;
use testkit::config::{Connection, RegisterKeys, SourceKeys, TestConfig};
use testkit::emulator::{Emulator, Fault};
use testkit::fixture::{Fixture, FixtureSpec};

const BINARY: &str = env!("CARGO_BIN_EXE_alfa-calltouch");
const CALLTOUCH_TOKEN: &str = "ct-token-never-shown";
const DB_PASSWORD: &str = "db-password-never-shown";
const PHONE: &str = "+7 916 555-12-34";
const MASKED_PHONE: &str = "+7 *** *** 12 34";

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alfa-status-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token.txt"), CALLTOUCH_TOKEN).unwrap();
    std::fs::write(dir.join("db-password.txt"), DB_PASSWORD).unwrap();
    dir
}

#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A config whose source is a PostgreSQL database `database` and whose register is `backend`;
/// `extra`: further `[status_page]` keys.
fn keys(
    dir: &Path,
    backend: Backend,
    database: &str,
    base_url: &str,
    extra: &str,
) -> (TestConfig, PathBuf) {
    let mut connection = Connection::local_postgres(cluster().port(), database);
    connection.password_file = Some("db-password.txt".into());
    let register = match backend {
        Backend::Sqlite => RegisterKeys::sqlite(),
        Backend::Postgres => RegisterKeys::server(connection.clone()),
    };
    connection.connect_timeout_secs = Some(5);
    let mut keys =
        TestConfig::new("100500", base_url, SourceKeys::new(connection)).register(register);
    keys.calltouch.requests_per_second = Some(0);
    keys.extra =
        format!("[status_page]\ntoken_env = \"ALFA_STATUS_TEST_PAGE_TOKEN_UNSET\"\n{extra}\n");
    (keys, dir.join("alfa-calltouch.toml"))
}

/// Writes the config of [`keys`] and returns its path.
fn write_config(
    dir: &Path,
    backend: Backend,
    database: &str,
    base_url: &str,
    extra: &str,
) -> PathBuf {
    let (keys, path) = keys(dir, backend, database, base_url, extra);
    keys.write(&path)
}

fn now() -> NaiveDateTime {
    Local::now().naive_local()
}

fn every() -> Interval {
    Interval::from_minutes(5).unwrap()
}

/// A sent booking, a refused one and a cycle, as a real cycle leaves them.
async fn fill(register: &mut (impl CycleStore + RunLog)) -> (DocumentSnapshot, DocumentSnapshot) {
    let at = now() - TimeDelta::minutes(1);
    let mut sent = DocumentSnapshot::new(DocKind::Booking, DocRef([1; 16]), "ЗР-000101", at);
    sent.state = Some("Подтверждено".into());
    let refused = DocumentSnapshot::new(DocKind::Booking, DocRef([2; 16]), "ЗР-000102", at);
    let accepted = Outcome::Accepted {
        snapshot: &sent,
        deal: AcceptedDeal {
            order_number: &sent.number,
            root: sent.reference,
            status: Some("Подтвержденная заявка"),
            revenue: Money::parse("1500"),
            manager: Some("Иванов И.И."),
            calltouch_id: Some(11),
            account: None,
        },
        send: SendRecord {
            endpoint: "create",
            order_number: &sent.number,
            request_json: "{}",
            outcome: "accepted",
            detail: None,
        },
        state_seen_at: at,
        note: None,
    };
    register.record_outcomes(&[accepted], at).await.unwrap();
    let reason = format!("Calltouch refused the order: phone {PHONE} of ivanova@example.ru");
    let failed = FailedDocument {
        kind: DocKind::Booking,
        reference: refused.reference,
        number: &refused.number,
        date: Some(at),
        order_number: Some(&refused.number),
        reason: reason.as_str().into(),
    };
    let answer = SendRecord {
        endpoint: "send",
        order_number: &refused.number,
        request_json: "{}",
        outcome: "rejected",
        detail: Some("invalid phone <script>".into()),
    };
    register
        .record_failed(&failed, Some(&answer), at)
        .await
        .unwrap();
    register
        .record_run(
            at,
            at + TimeDelta::seconds(3),
            "ok",
            "read 2, created 1, failed 1",
        )
        .await
        .unwrap();
    (sent, refused)
}

fn start(config: &Config, stop: &CancellationToken) -> StatusServer {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let settings = Settings::new(config, Some(listen), every()).unwrap();
    server::start(config.clone(), settings, stop.clone()).unwrap()
}

async fn get(url: &str, token: Option<&str>) -> (u16, String, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

async fn stop_server(stop: CancellationToken, server: StatusServer) {
    stop.cancel();
    tokio::task::spawn_blocking(move || server.join())
        .await
        .unwrap();
}

async fn every_endpoint_answers_from_the_register(backend: Backend) {
    let name = format!("endpoints_{backend:?}").to_lowercase();
    let database = match backend {
        Backend::Sqlite => "unused".to_string(),
        Backend::Postgres => {
            cluster().create_database(&name).await.unwrap();
            name.clone()
        }
    };
    let dir = folder(&name);
    let path = write_config(&dir, backend, &database, "http://127.0.0.1:9/", "");
    let config = Config::load(&path).unwrap();
    let mut register = register::open(&config).await.unwrap();
    let (sent, refused) = fill(&mut register).await;
    let stop = CancellationToken::new();
    let server = start(&config, &stop);
    let base = format!("http://{}", server.address);

    let (status, content_type, page) = get(&format!("{base}/"), None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert!(page.contains("Документы с ошибками: 1"), "{page}");
    assert!(page.contains(&format!("Заявка на ремонт {}", refused.number)));
    // The register keeps no contacts outside its send log: the reason names them by kind.
    assert!(
        page.contains("Calltouch refused the order: phone [phone] of [e-mail]"),
        "{page}"
    );
    assert!(page.contains("send: rejected — invalid phone &lt;script&gt;"));
    assert!(page.contains("class=\"health ok\""), "{page}");
    assert!(page.contains("<td class=\"ok\">успешно</td><td class=\"num\">0</td>"));
    assert!(page.contains("<svg id=\"chart\""));
    assert!(
        page.contains("создано 1, обновлено 0, ошибок 1"),
        "today's bar"
    );
    for secret in [PHONE, "ivanova@", CALLTOUCH_TOKEN, DB_PASSWORD, "<script>"] {
        assert!(!page.contains(secret), "the page shows {secret}");
    }

    let search = format!("{base}/?number={}", sent.number);
    let (status, _, found) = get(&search, None).await;
    assert_eq!(status, 200);
    assert!(found.contains("<table id=\"found\">"), "{found}");
    assert!(found.contains("create: accepted"), "{found}");

    let (status, content_type, metrics) = get(&format!("{base}/metrics"), None).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    for line in [
        "alfa_calltouch_healthy 1",
        "alfa_calltouch_cycles_total{outcome=\"ok\"} 1",
        "alfa_calltouch_cycle_duration_seconds_bucket{le=\"5\"} 1",
        "alfa_calltouch_documents{kind=\"booking\",state=\"failed\"} 1",
        "alfa_calltouch_documents{kind=\"booking\",state=\"sent\"} 1",
        "alfa_calltouch_calltouch_orders_total{endpoint=\"send\",outcome=\"rejected\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "no {line}:\n{metrics}");
    }
    assert!(metrics.contains("alfa_calltouch_last_success_timestamp_seconds "));

    let (status, _, health) = get(&format!("{base}/healthz"), None).await;
    assert_eq!(
        (status, health.starts_with("ok: the last cycle")),
        (200, true),
        "{health}"
    );
    let at = now();
    register
        .record_run(at, at, "error", "cannot connect to the 1C database")
        .await
        .unwrap();
    let (status, _, health) = get(&format!("{base}/healthz"), None).await;
    assert_eq!(status, 503);
    assert!(
        health.contains("failed: cannot connect to the 1C database"),
        "{health}"
    );

    let (status, _, _) = get(&format!("{base}/nothing"), None).await;
    assert_eq!(status, 404);
    let posted = reqwest::Client::new()
        .post(format!("{base}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 405, "read-only");

    stop_server(stop, server).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn every_endpoint_answers_from_a_sqlite_register() {
    every_endpoint_answers_from_the_register(Backend::Sqlite).await;
}

#[tokio::test]
async fn every_endpoint_answers_from_a_postgres_register() {
    every_endpoint_answers_from_the_register(Backend::Postgres).await;
}

#[tokio::test]
async fn a_configured_token_is_required_as_a_bearer() {
    let dir = folder("token");
    std::fs::write(dir.join("page-token.txt"), "page-secret\n").unwrap();
    let path = write_config(
        &dir,
        Backend::Sqlite,
        "unused",
        "http://127.0.0.1:9/",
        "token_file = \"page-token.txt\"",
    );
    let config = Config::load(&path).unwrap();
    let stop = CancellationToken::new();
    let server = start(&config, &stop);
    let base = format!("http://{}", server.address);
    for endpoint in ["/", "/metrics", "/healthz"] {
        let url = format!("{base}{endpoint}");
        assert_eq!(get(&url, None).await.0, 401, "{endpoint} without a token");
        assert_eq!(get(&url, Some("page-secreT")).await.0, 401, "{endpoint}");
    }
    let (status, _, page) = get(&format!("{base}/"), Some("page-secret")).await;
    assert_eq!(status, 200);
    assert!(page.contains("циклов ещё не было"), "{page}");
    let (status, _, health) = get(&format!("{base}/healthz"), Some("page-secret")).await;
    assert_eq!(
        (status, health.as_str()),
        (503, "unhealthy: no cycle has run yet\n")
    );
    stop_server(stop, server).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends `request` over a plain TCP connection and reads the whole answer (the server closes).
async fn raw(address: SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8(answer).unwrap()
}

#[tokio::test]
async fn odd_clients_get_plain_answers_and_do_not_hold_up_the_others() {
    let dir = folder("wire");
    let path = write_config(&dir, Backend::Sqlite, "unused", "http://127.0.0.1:9/", "");
    let config = Config::load(&path).unwrap();
    let stop = CancellationToken::new();
    let server = start(&config, &stop);
    let address = server.address;

    // A client that connects and says nothing does not stop the page answering others.
    let _silent = tokio::net::TcpStream::connect(address).await.unwrap();
    let answer = raw(address, b"GET /healthz HTTP/1.0\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(
        answer.ends_with("\r\n\r\nunhealthy: no cycle has run yet\n"),
        "{answer}"
    );
    for header in [
        "connection: close",
        "cache-control: no-store",
        "x-content-type-options: nosniff",
        "content-security-policy: default-src 'none'; style-src 'unsafe-inline'",
    ] {
        assert!(answer.lines().any(|l| l == header), "{header}: {answer}");
    }

    // A write with a large body is refused whole, not cut off by a reset.
    let mut post = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n".to_vec();
    post.resize(post.len() + 300_000, b'x');
    let answer = raw(address, &post).await;
    assert!(answer.starts_with("HTTP/1.1 405 "), "{answer}");
    assert!(
        answer.ends_with("read-only: only GET and HEAD\n"),
        "{answer}"
    );
    assert!(answer.lines().any(|l| l == "allow: GET, HEAD"), "{answer}");

    // HEAD is GET without the body: the same status and length, nothing after the head.
    let head = raw(address, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
    assert!(head.ends_with("\r\n\r\n"), "no body after the head: {head}");
    let length = "unhealthy: no cycle has run yet\n".len();
    assert!(
        head.lines()
            .any(|l| l == format!("content-length: {length}")),
        "{head}"
    );

    // Not HTTP, and a head too large to be a status request.
    let answer = raw(address, b"\x16\x03\x01 hello\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    let mut huge = b"GET / HTTP/1.1\r\nx-padding: ".to_vec();
    huge.resize(64 * 1024, b'a');
    let answer = raw(address, &huge).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");

    stop_server(stop, server).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn serve_refuses_a_network_address_without_the_setting() {
    let dir = folder("remote");
    let path = write_config(&dir, Backend::Sqlite, "unused", "http://127.0.0.1:9/", "");
    let output = tokio::process::Command::new(BINARY)
        .arg("--config")
        .arg(&path)
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("status_page.allow_remote"), "{stderr}");
    assert!(stderr.contains("listen on 127.0.0.1"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The page's address, from the line `serve` / `watch --listen` logs once it listens.
async fn listening_url(child: &mut tokio::process::Child) -> String {
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.split("status page on ").nth(1) {
                let url = rest.split_whitespace().next().unwrap().to_string();
                // Keep reading the log, so the child never blocks on a full pipe.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                return url;
            }
        }
        panic!("the command ended without listening");
    })
    .await
    .expect("the command says where it listens within 20 s")
}

/// `watch --listen`: the page is served while cycles run, `/healthz` reports the failing
/// cycle, and SIGTERM stops the loop and the server cleanly.
#[cfg(unix)]
#[tokio::test]
async fn watch_listen_serves_while_cycles_run_and_stops_on_sigterm() {
    let dir = folder("watch_listen");
    // No name map was written: every cycle fails before reading 1C.
    let path = write_config(&dir, Backend::Sqlite, "unused", "http://127.0.0.1:9/", "");
    let mut watch = tokio::process::Command::new(BINARY)
        .arg("--config")
        .arg(&path)
        .args(["watch", "--every", "1m", "--listen", "127.0.0.1:0"])
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = listening_url(&mut watch).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let health = loop {
        let (status, _, health) = get(&format!("{url}healthz"), None).await;
        if health.contains("failed") {
            assert_eq!(status, 503);
            break health;
        }
        assert!(tokio::time::Instant::now() < deadline, "{health}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(health.contains("name map"), "{health}");
    assert!(health.contains("does not exist"), "{health}");
    let (status, _, page) = get(&url, None).await;
    assert_eq!(status, 200);
    assert!(page.contains("class=\"health bad\""), "{page}");
    let (_, _, metrics) = get(&format!("{url}metrics"), None).await;
    assert!(
        metrics.contains("alfa_calltouch_cycles_total{outcome=\"error\"} 1\n"),
        "{metrics}"
    );

    let pid = watch.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), watch.wait())
        .await
        .expect("watch stops within 10 s")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        reqwest::get(url.as_str()).await.is_err(),
        "the page is gone with the process"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Where the screenshot is kept: target/test-artefacts/.
fn artefacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("test-artefacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless Chromium with `mode` (`--dump-dom`, `--screenshot=…`) on `url`.
async fn chromium(mode: &str, url: &str) -> String {
    let profile = std::env::temp_dir().join(format!(
        "alfa-status-chromium-{}-{}",
        std::process::id(),
        mode.len()
    ));
    let _ = std::fs::remove_dir_all(&profile);
    let run = tokio::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(mode)
        .arg(url)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(Duration::from_secs(90), run).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => panic!(
            "cannot start chromium ({error}); install it: \
             apt-get update && apt-get install -y chromium"
        ),
        Err(_) => panic!("chromium {mode} did not finish within 90 s"),
    };
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        output.status.success(),
        "chromium {mode}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A cycle in which Calltouch refuses a booking, then `serve` and Chromium: the page shows the
/// failed document with its reason, masked, and a screenshot is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_shows_a_document_a_failing_cycle_left_failed() {
    let name = "status_chromium";
    let connection = cluster().create_database(name).await.unwrap();
    let fixture = Fixture::generate(&connection, FixtureSpec::small(Preset::Alfa6, 91))
        .await
        .unwrap();
    let dir = folder(name);
    std::fs::write(dir.join("namemap.toml"), fixture.name_map_toml()).unwrap();
    let emulator = Emulator::start("100500", CALLTOUCH_TOKEN).await.unwrap();
    let (keys, path) = keys(&dir, Backend::Sqlite, name, &emulator.base_url(), "");
    // Bookings and work orders share numbers in the generated base: deals named by kind keep
    // them apart, so the only failures are the ones Calltouch is told to make.
    let path = keys.order_number("{kind}-{number}").write(&path);
    let reason = format!("phone {PHONE} is not valid");
    let bookings: Vec<String> = fixture
        .documents()
        .iter()
        .filter(|d| d.kind == DocKind::Booking && !d.deletion_mark)
        .take(2)
        .map(|d| d.number.clone())
        .collect();
    assert_eq!(bookings.len(), 2, "the generated base has bookings");
    for number in &bookings {
        emulator.push_fault(Fault::RejectOrder {
            order_number: format!("ЗР-{number}"),
            error: reason.clone(),
        });
    }

    let cycle = tokio::process::Command::new(BINARY)
        .arg("--config")
        .arg(&path)
        .arg("run")
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap();
    let cycle_log = String::from_utf8_lossy(&cycle.stderr).into_owned();
    assert!(cycle.status.code().is_some(), "{cycle_log}");
    let config = Config::load(&path).unwrap();
    let failed = register::open(&config)
        .await
        .unwrap()
        .list(&ListFilter {
            state: Some(SyncState::Failed),
            ..ListFilter::default()
        })
        .await
        .unwrap();
    let failed_numbers: Vec<&str> = failed.iter().map(|d| d.number.as_str()).collect();
    assert!(
        bookings
            .iter()
            .any(|b| failed_numbers.contains(&b.as_str())),
        "Calltouch's refusal left no failed booking: {failed_numbers:?}\n{cycle_log}"
    );
    let shown = failed
        .iter()
        .find(|d| bookings.contains(&d.number))
        .unwrap()
        .number
        .clone();

    let mut serve = tokio::process::Command::new(BINARY)
        .arg("--config")
        .arg(&path)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = listening_url(&mut serve).await;

    let dom = chromium("--dump-dom", &url).await;
    assert!(dom.contains("Документы с ошибками"), "{dom}");
    assert!(dom.contains(&format!("Заявка на ремонт {shown}")), "{dom}");
    assert!(
        dom.contains(&format!("phone {MASKED_PHONE} is not valid")),
        "the reason, masked: {dom}"
    );
    assert!(!dom.contains(PHONE), "an unmasked phone");
    assert!(!dom.contains(CALLTOUCH_TOKEN) && !dom.contains(DB_PASSWORD));

    let screenshot = artefacts().join("status-page.png");
    let _ = std::fs::remove_file(&screenshot);
    chromium(&format!("--screenshot={}", screenshot.display()), &url).await;
    let size = std::fs::metadata(&screenshot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "screenshot {} is {size} bytes",
        screenshot.display()
    );
    eprintln!(
        "status page | failed documents {} | screenshot {} ({size} bytes)",
        failed.len(),
        screenshot.display()
    );

    serve.kill().await.unwrap();
    emulator.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
