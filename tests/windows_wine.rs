//! The Windows build run, not only compiled: the `x86_64-pc-windows-gnu` release `.exe` under
//! Wine for `--version`, the `watch` help and log, `schedule` with Windows paths, `check`, the
//! status endpoints of `serve`, and real `run` cycles against a generated 1C base on the test PostgreSQL and the Calltouch
//! emulator on loopback. The requests Calltouch receives from the `.exe` must equal those the
//! Linux binary sends for an identical base.
//!
//! Ignored by default, because it needs Wine and the `.exe`: `bash .ci/windows` builds the zip
//! and runs these tests on the `.exe` unpacked from it; by hand:
//! `cargo build --release --target x86_64-pc-windows-gnu --bin alfa-calltouch &&
//! cargo test --test windows_wine -- --ignored`. With `--ignored` and no Wine or no `.exe`, the
//! tests fail saying what to install; they never pass without running the `.exe`.
//! What this proves and what it does not is in docs/windows.md.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use serde_json::Value;

use alfa_calltouch::domain::snapshot::DocKind;
use alfa_calltouch::source::settings::Preset;
use testkit::cluster::shared as cluster;
use testkit::config::{Connection, RegisterKeys, SourceKeys, TestConfig};
use testkit::emulator::Emulator;
use testkit::fixture::{Fixture, FixtureSpec};

const LINUX_BINARY: &str = env!("CARGO_BIN_EXE_alfa-calltouch");
const SITE_ID: &str = "31337";
const TOKEN: &str = "wine-token";
/// A Wine start (a fresh prefix takes ~20 s) plus a cycle on a small base, with room for a
/// loaded 2-core machine; past this the `.exe` is taken to hang.
const DEADLINE: Duration = Duration::from_secs(300);

/// The `.exe` in a folder of this test's own, and how to run it under Wine.
struct Wine {
    /// The `wine` launcher.
    launcher: PathBuf,
    /// The Wine prefix (its `C:` drive and registry), kept between runs: creating one takes
    /// about 20 seconds.
    prefix: PathBuf,
    /// The copy of the `.exe` that runs, beside the stand-in DLL when one is needed.
    exe: PathBuf,
}

fn wine() -> &'static Wine {
    static WINE: OnceLock<Wine> = OnceLock::new();
    WINE.get_or_init(Wine::prepare)
}

/// The folder cargo builds into: the Linux binary is `<target>/debug/alfa-calltouch`.
fn target_dir() -> PathBuf {
    let binary = Path::new(LINUX_BINARY);
    binary
        .parent()
        .and_then(Path::parent)
        .expect("the binary lies in <target>/<profile>/")
        .to_path_buf()
}

/// A fresh folder for one part of a test.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alfa-wine-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// How a Windows program sees a path of this machine: Wine maps `Z:` to `/`.
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

impl Wine {
    fn prepare() -> Wine {
        let launcher =
            PathBuf::from(std::env::var_os("ALFA_WINE").unwrap_or_else(|| "wine".into()));
        let version = Command::new(&launcher).arg("--version").output();
        let version = match version {
            Ok(output) if output.status.success() => {
                String::from_utf8_lossy(&output.stdout).trim().to_string()
            }
            _ => panic!(
                "Wine is not installed ({} does not run): on Debian `apt-get install wine64 wine`, \
                 or run `bash .ci/windows`, which installs it",
                launcher.display()
            ),
        };
        let built = std::env::var_os("ALFA_WINDOWS_EXE")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                target_dir().join("x86_64-pc-windows-gnu/release/alfa-calltouch.exe")
            });
        assert!(
            built.is_file(),
            "no Windows build at {}: run `cargo build --release --target x86_64-pc-windows-gnu \
             --bin alfa-calltouch` (or `bash .ci/windows`), or set ALFA_WINDOWS_EXE",
            built.display()
        );
        // Beside the build, not in the temporary folder: it holds a 20 MB copy of the `.exe`.
        let bin = target_dir().join("wine-test-bin");
        let _ = std::fs::remove_dir_all(&bin);
        std::fs::create_dir_all(&bin).unwrap();
        let exe = bin.join("alfa-calltouch.exe");
        std::fs::copy(&built, &exe).unwrap();
        let wine = Wine {
            launcher,
            prefix: target_dir().join("wine-prefix"),
            exe,
        };

        // Rust's standard library imports ProcessPrng from bcryptprimitives.dll; a Wine without
        // that DLL (Debian 12's 8.0) refuses to load the `.exe`. Only then is the stand-in put
        // beside it.
        let first = wine.exe(&["--version"]);
        let stand_in = if first.status.success() {
            "not needed: this Wine has bcryptprimitives.dll".to_string()
        } else {
            let complaint = String::from_utf8_lossy(&first.stderr).to_string();
            assert!(
                complaint.contains("bcryptprimitives") || first.status.code() == Some(53),
                "the .exe does not start under Wine, and not for the known missing DLL: \
                 exit {:?}\n{complaint}",
                first.status.code()
            );
            build_stand_in(&bin);
            format!(
                "built with MinGW, because this Wine lacks it (exit {:?} without it)",
                first.status.code()
            )
        };
        say(format!(
            "windows_wine | {version} | {} ({} bytes) | prefix {} | bcryptprimitives.dll {stand_in}",
            built.display(),
            std::fs::metadata(&built).unwrap().len(),
            wine.prefix.display()
        ));
        wine
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.launcher);
        command
            .arg(&self.exe)
            .args(args)
            .env("WINEPREFIX", &self.prefix)
            // Quiet: Wine's own diagnostics would mix with the tool's stderr.
            .env("WINEDEBUG", "-all")
            // No Mono or Gecko install prompt when the prefix is created.
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            .env_remove("RUST_LOG")
            .env_remove("ALFA_CALLTOUCH_CONFIG")
            .env_remove("DISPLAY")
            .current_dir(self.exe.parent().unwrap());
        command
    }

    /// Runs the `.exe` with these arguments to its end.
    fn exe(&self, args: &[&str]) -> Output {
        finish(
            self.command(args),
            &format!("wine alfa-calltouch.exe {args:?}"),
        )
    }
}

/// Compiles `tests/windows/bcryptprimitives.c` into `bin`, beside the `.exe`.
fn build_stand_in(bin: &Path) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/windows/bcryptprimitives.c");
    let output = Command::new("x86_64-w64-mingw32-gcc")
        .args(["-shared", "-O2", "-Wall", "-o"])
        .arg(bin.join("bcryptprimitives.dll"))
        .arg(&source)
        .arg("-ladvapi32")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run x86_64-w64-mingw32-gcc ({e}): on Debian \
                 `apt-get install gcc-mingw-w64-x86-64`"
            )
        });
    assert!(
        output.status.success(),
        "the stand-in DLL does not build:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs a command to its end within [`DEADLINE`], or kills it and fails.
fn finish(mut command: Command, what: &str) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let status = wait(&mut child, what);
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

fn wait(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Writes a line to the process's stderr directly: the test harness captures only the
/// `print!` family, so CI output shows what ran even when the test passes.
fn say(line: String) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
#[ignore = "needs Wine and the Windows .exe: bash .ci/windows (or cargo build --release --target x86_64-pc-windows-gnu --bin alfa-calltouch, then cargo test --test windows_wine -- --ignored)"]
fn the_exe_starts_and_reports_the_linux_binarys_version() {
    let windows = wine().exe(&["--version"]);
    assert!(windows.status.success(), "{}", text(&windows.stderr));
    let linux = Command::new(LINUX_BINARY)
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        text(&windows.stdout),
        format!("alfa-calltouch {}\n", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(text(&windows.stdout), text(&linux.stdout));
}

#[test]
#[ignore = "needs Wine and the Windows .exe: bash .ci/windows (or cargo build --release --target x86_64-pc-windows-gnu --bin alfa-calltouch, then cargo test --test windows_wine -- --ignored)"]
fn watch_names_ctrl_break_on_windows_and_sigterm_on_linux() {
    let windows = text(&wine().exe(&["watch", "--help"]).stdout);
    assert!(windows.contains("(Ctrl-C or Ctrl-Break)"), "{windows}");
    assert!(!windows.contains("SIGTERM"), "{windows}");
    let linux = Command::new(LINUX_BINARY)
        .args(["watch", "--help"])
        .output()
        .unwrap();
    let linux = text(&linux.stdout);
    assert!(linux.contains("(Ctrl-C or SIGTERM)"), "{linux}");
    assert!(!linux.contains("Ctrl-Break"), "{linux}");

    // The log line of a running `watch` says the same. Its cycles fail against a closed port,
    // which `watch` survives; the process is killed once the line is read, since Wine offers no
    // way to send it a console Ctrl-C from here.
    let dir = folder("watch");
    std::fs::write(dir.join("namemap.toml"), "").unwrap();
    let config = write_config(&dir, "http://127.0.0.1:9/", closed_port(), "absent");
    let mut child = wine()
        .command(&["--config", &windows_path(&config), "watch", "--every", "1m"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (found, log) = log_until(&mut child, "stops after the current cycle");
    let _ = child.kill();
    let _ = child.wait();
    assert!(found.is_some(), "no stop line in the log of watch:\n{log}");
    assert!(
        log.contains("a cycle every 1m; Ctrl-C or Ctrl-Break stops after the current cycle"),
        "{log}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs Wine and the Windows .exe: bash .ci/windows (or cargo build --release --target x86_64-pc-windows-gnu --bin alfa-calltouch, then cargo test --test windows_wine -- --ignored)"]
fn serve_under_wine_answers_the_status_endpoints() {
    let dir = folder("serve");
    std::fs::write(dir.join("namemap.toml"), "").unwrap();
    let config = write_config(&dir, "http://127.0.0.1:9/", closed_port(), "absent");
    let mut child = wine()
        .command(&[
            "--config",
            &windows_path(&config),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (line, log) = log_until(&mut child, "status page on ");
    let answers = line.map(|line| {
        let rest = line
            .split("status page on http://")
            .nth(1)
            .unwrap_or_default();
        let address = rest.split('/').next().unwrap_or_default().to_string();
        let get = |path: &str| http(&address, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"));
        let posted = http(
            &address,
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
        );
        (get("/healthz"), get("/metrics"), get("/"), posted)
    });
    let _ = child.kill();
    let _ = child.wait();
    let (health, metrics, page, posted) =
        answers.unwrap_or_else(|| panic!("serve never said where it listens:\n{log}"));
    say(format!(
        "serve under Wine: /healthz {}, /metrics {}, / {}",
        health.0, metrics.0, page.0
    ));
    assert_eq!(
        health,
        (503, "unhealthy: no cycle has run yet\n".to_string())
    );
    assert_eq!(metrics.0, 200, "{}", metrics.1);
    assert!(
        metrics.1.contains("alfa_calltouch_healthy 0"),
        "{}",
        metrics.1
    );
    assert_eq!(page.0, 200);
    assert!(page.1.contains("циклов ещё не было"), "{}", page.1);
    assert_eq!(posted.0, 405, "read-only: {}", posted.1);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One request over a plain TCP connection to `address` (`host:port`): the status code and the
/// body of the answer, which the status page ends by closing the connection.
fn http(address: &str, request: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(address)
        .unwrap_or_else(|e| panic!("cannot connect to {address}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = text(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

/// Reads the child's stderr until a line containing `needle` (within [`DEADLINE`]): whether
/// it came, and the log read so far. The rest of the log is drained in the background.
fn log_until(child: &mut Child, needle: &str) -> (Option<String>, String) {
    let (lines, received) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + DEADLINE;
    let mut log = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(line) => {
                log.push_str(&line);
                log.push('\n');
                if line.contains(needle) {
                    return (Some(line), log);
                }
            }
            Err(_) => return (None, log),
        }
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The same config text for both binaries: relative paths resolve against the config's folder,
/// so only the database and the emulator differ.
fn write_config(dir: &Path, base_url: &str, port: u16, database: &str) -> PathBuf {
    std::fs::write(dir.join("token.txt"), TOKEN).unwrap();
    std::fs::write(dir.join("password.txt"), "unused-with-trust").unwrap();
    let mut connection = Connection::local_postgres(port, database);
    connection.connect_timeout_secs = Some(5);
    // The bases' documents are months old and edited between the cycles: read exactly every
    // cycle, so the comparison covers the change cycle, not the window's nightly reconcile.
    let source = SourceKeys::new(connection).exact();
    TestConfig::new(SITE_ID, base_url, source)
        .quick()
        .order_number("{kind}-{number}")
        .register(RegisterKeys::sqlite())
        .write(&dir.join("alfa-calltouch.toml"))
}

/// A generated 1C base, an emulator and a config folder pointing at both.
struct Side {
    fixture: Fixture,
    emulator: Emulator,
    config: PathBuf,
}

impl Drop for Side {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.config.parent().unwrap());
    }
}

/// The same seed gives the same database, so the two sides start identical.
const SEED: u64 = 1808;

async fn side(name: &str) -> Side {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let database = format!("wine_{name}_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let connection = cluster().create_database(&database).await.unwrap();
    let fixture = Fixture::generate(&connection, FixtureSpec::small(Preset::Alfa6, SEED))
        .await
        .unwrap();
    let emulator = Emulator::start(SITE_ID, TOKEN).await.unwrap();
    let dir = folder(&database);
    std::fs::write(dir.join("namemap.toml"), fixture.name_map_toml()).unwrap();
    let config = write_config(&dir, &emulator.base_url(), cluster().port(), &database);
    Side {
        fixture,
        emulator,
        config,
    }
}

/// Runs the binary off the async runtime, so the emulator keeps answering meanwhile.
async fn spawn(command: Command, what: String) -> Output {
    tokio::task::spawn_blocking(move || finish(command, &what))
        .await
        .unwrap()
}

async fn linux(side: &Side, args: &[&str]) -> Output {
    let mut command = Command::new(LINUX_BINARY);
    command
        .arg("--config")
        .arg(&side.config)
        .args(args)
        .env_remove("RUST_LOG");
    spawn(command, format!("alfa-calltouch {args:?}")).await
}

async fn windows(side: &Side, args: &[&str]) -> Output {
    let mut full = vec!["--config".to_string(), windows_path(&side.config)];
    full.extend(args.iter().map(|a| a.to_string()));
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    let command = wine().command(&full);
    spawn(command, format!("wine alfa-calltouch.exe {args:?}")).await
}

/// One request as Calltouch received it, comparable across the two sides.
#[derive(Debug, PartialEq)]
struct Received {
    method: String,
    endpoint: String,
    token_matched: bool,
    status: Option<u16>,
    body: Value,
}

/// The marker for a time the tool took from its own clock.
const CLOCK: &str = "<the run's own clock>";

/// Runs one `run` cycle of a side's binary; returns its output, the requests it made, and how
/// many times in them came from the tool's own clock. Such times (a change detected without a
/// 1C time, e.g. a sum edited) differ between any two runs, so each is replaced by [`CLOCK`]
/// when it lies within the run; every other value is compared as sent.
async fn cycle(side: &Side, on_windows: bool) -> (Output, Vec<Received>, usize) {
    let before = side.emulator.requests().len();
    let started = seconds(chrono::Local::now().naive_local());
    let output = if on_windows {
        windows(side, &["run"]).await
    } else {
        linux(side, &["run"]).await
    };
    let finished = chrono::Local::now().naive_local();
    let mut masked = 0;
    let requests = side.emulator.requests()[before..]
        .iter()
        .map(|r| {
            let mut body = serde_json::from_str(&r.body).unwrap_or(Value::String(r.body.clone()));
            masked += mask_clock_times(&mut body, started, finished);
            Received {
                method: r.method.clone(),
                endpoint: r.endpoint.clone(),
                token_matched: r.token_matched,
                status: r.status,
                body,
            }
        })
        .collect();
    (output, requests, masked)
}

fn seconds(t: NaiveDateTime) -> NaiveDateTime {
    t - chrono::Duration::nanoseconds(i64::from(t.and_utc().timestamp_subsec_nanos()))
}

/// Replaces every Calltouch date (`dd-mm-yyyy hh:mm:ss`) within `from..=to` by [`CLOCK`].
fn mask_clock_times(value: &mut Value, from: NaiveDateTime, to: NaiveDateTime) -> usize {
    match value {
        Value::String(text) => match NaiveDateTime::parse_from_str(text, "%d-%m-%Y %H:%M:%S") {
            Ok(t) if t >= from && t <= to => {
                *text = CLOCK.to_string();
                1
            }
            _ => 0,
        },
        Value::Array(items) => items
            .iter_mut()
            .map(|v| mask_clock_times(v, from, to))
            .sum(),
        Value::Object(fields) => fields
            .values_mut()
            .map(|v| mask_clock_times(v, from, to))
            .sum(),
        _ => 0,
    }
}

fn orders(requests: &[Received], endpoint: &str) -> usize {
    requests
        .iter()
        .filter(|r| r.endpoint.ends_with(endpoint))
        .map(|r| r.body["orders"].as_array().map_or(0, Vec::len))
        .sum()
}

/// Fails at the first request that differs, showing both.
fn assert_same(cycle: &str, linux: &[Received], windows: &[Received]) {
    for (i, (l, w)) in linux.iter().zip(windows).enumerate() {
        if l != w {
            let show = |r: &Received| {
                let mut text = format!(
                    "{} {} token {} status {:?}\n{}",
                    r.method,
                    r.endpoint,
                    r.token_matched,
                    r.status,
                    serde_json::to_string_pretty(&r.body).unwrap()
                );
                text.truncate(6000);
                text
            };
            panic!(
                "{cycle}: request {i} differs\n--- Linux:\n{}\n--- Windows:\n{}",
                show(l),
                show(w)
            );
        }
    }
    assert_eq!(
        linux.len(),
        windows.len(),
        "{cycle}: the Linux binary sent {} requests, the .exe {}",
        linux.len(),
        windows.len()
    );
}

fn succeeded(output: &Output, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{what}:\n{}",
        text(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Wine and the Windows .exe: bash .ci/windows (or cargo build --release --target x86_64-pc-windows-gnu --bin alfa-calltouch, then cargo test --test windows_wine -- --ignored)"]
async fn check_passes_under_wine_against_the_test_postgresql() {
    let side = side("check").await;
    let output = windows(&side, &["check"]).await;
    let report = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{report}{}",
        text(&output.stderr)
    );
    assert!(report.lines().all(|l| l.starts_with("ok ")), "{report}");
    for expected in [
        "accepts the login",
        "every name map entry exists in the database with the expected type",
        "the login can read bookings and work orders",
        "is writable",
        "Calltouch host 127.0.0.1 resolves",
    ] {
        assert!(
            report.contains(expected),
            "{expected:?} missing in:\n{report}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Wine and the Windows .exe: bash .ci/windows (or cargo build --release --target x86_64-pc-windows-gnu --bin alfa-calltouch, then cargo test --test windows_wine -- --ignored)"]
async fn run_under_wine_sends_what_the_linux_binary_sends() {
    let mut on_linux = side("linux").await;
    let mut on_windows = side("windows").await;

    let began = seconds(chrono::Local::now().naive_local());
    // Cycle 1: every document becomes a deal.
    let (output, linux_first, linux_masked) = cycle(&on_linux, false).await;
    succeeded(&output, "the Linux binary's first run");
    let (output, windows_first, windows_masked) = cycle(&on_windows, true).await;
    succeeded(&output, "the .exe's first run");
    assert!(
        orders(&linux_first, "create") > 0,
        "the first cycle created deals"
    );
    assert_same("cycle 1", &linux_first, &windows_first);

    // 1C users change the same documents on both bases; cycle 2 sends only those changes.
    let work_orders: Vec<_> = on_linux
        .fixture
        .documents()
        .iter()
        .filter(|d| d.kind == DocKind::WorkOrder)
        .map(|d| d.reference)
        .take(2)
        .collect();
    assert_eq!(work_orders.len(), 2, "the base has work orders");
    let at = NaiveDateTime::parse_from_str("2026-03-15 10:30:00", "%Y-%m-%d %H:%M:%S").unwrap();
    for side in [&mut on_linux, &mut on_windows] {
        side.fixture
            .set_state(work_orders[0], "Закрыт", at)
            .await
            .unwrap();
        side.fixture
            .set_sum(work_orders[1], "12345.60")
            .await
            .unwrap();
    }
    let (output, linux_second, more_linux) = cycle(&on_linux, false).await;
    succeeded(&output, "the Linux binary's second run");
    let (output, windows_second, more_windows) = cycle(&on_windows, true).await;
    succeeded(&output, "the .exe's second run");
    assert_eq!(orders(&linux_second, "create"), 0, "{linux_second:?}");
    assert!(orders(&linux_second, "update") > 0, "{linux_second:?}");
    assert_same("cycle 2", &linux_second, &windows_second);
    assert_eq!(
        (linux_masked + more_linux),
        (windows_masked + more_windows),
        "clock times"
    );
    // The deals as Calltouch holds them: the create bodies with the updates merged in.
    let ended = chrono::Local::now().naive_local();
    let deals = |side: &Side| {
        let mut deals = Value::from_iter(side.emulator.deals().into_values());
        mask_clock_times(&mut deals, began, ended);
        deals
    };
    let linux_deals = deals(&on_linux);
    assert!(linux_deals.as_array().is_some_and(|d| !d.is_empty()));
    assert_eq!(deals(&on_windows), linux_deals, "the deals differ");
    assert_eq!(
        on_windows.emulator.creates_per_order(),
        on_linux.emulator.creates_per_order()
    );

    // The `.exe` kept its register: a third run finds nothing to send.
    let (output, windows_third, _) = cycle(&on_windows, true).await;
    succeeded(&output, "the .exe's third run");
    assert!(
        windows_third.is_empty(),
        "cycle 3 sent again: {windows_third:?}"
    );
    assert!(
        text(&output.stderr).contains("cycle finished"),
        "{}",
        text(&output.stderr)
    );

    let all: Vec<Received> = linux_first.into_iter().chain(linux_second).collect();
    say(format!(
        "windows_wine | requests {} | orders created {} | updated {} | deals {} | clock times masked {} | identical to the Linux binary",
        all.len(),
        orders(&all, "create"),
        orders(&all, "update"),
        linux_deals.as_array().map_or(0, Vec::len),
        linux_masked + more_linux
    ));
}

#[test]
#[ignore = "needs Wine and the Windows .exe: bash .ci/windows (or cargo build --release --target x86_64-pc-windows-gnu --bin alfa-calltouch, then cargo test --test windows_wine -- --ignored)"]
fn schedule_under_wine_writes_task_scheduler_entries_with_windows_paths() {
    let dir = folder("schedule");
    let config = write_config(&dir, "http://127.0.0.1:9/", closed_port(), "absent");
    let xml = dir.join("task.xml");
    let output = wine().exe(&[
        "--config",
        &windows_path(&config),
        "schedule",
        "--every",
        "10m",
        "--xml-file",
        &windows_path(&xml),
    ]);
    let entries = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    // Without --for, the entries are the running system's own: Task Scheduler only.
    assert!(
        entries.starts_with("== Windows Task Scheduler, in an administrator's cmd ==\n"),
        "{entries}"
    );
    assert!(
        !entries.contains("crontab") && !entries.contains("systemd"),
        "{entries}"
    );
    let exe = windows_path(&wine().exe);
    let config = windows_path(&config);
    assert!(
        entries.contains(&format!(
            r#"schtasks /Create /TN "alfa-calltouch" /TR "\"{exe}\" --config \"{config}\" run" /SC MINUTE /MO 10 /RU SYSTEM /F"#
        )),
        "{entries}"
    );
    // The XML file is UTF-16 LE with a byte-order mark, as `schtasks /XML` reads it.
    let bytes = std::fs::read(&xml).expect("the task XML was written");
    assert_eq!(bytes[..2], [0xFF, 0xFE], "byte-order mark");
    let units: Vec<u16> = bytes[2..]
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    let task = String::from_utf16(&units).unwrap();
    assert!(task.contains("<Interval>PT10M</Interval>"), "{task}");
    assert!(
        task.contains(&format!(
            "&quot;{exe}&quot; --config &quot;{config}&quot; run"
        )),
        "{task}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
