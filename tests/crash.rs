//! The real binary as a scheduler runs it: `run` as a subprocess against a generated 1C-shaped
//! PostgreSQL database and the Calltouch emulator served by this test process on loopback.
//! Owns the process-level guarantees: SIGKILL at random moments loses and duplicates nothing,
//! overlapping runs are refused, a killed run's lock does not block, database faults stop a run
//! without moving the checkpoint, and secrets appear in no output, log or register file.
//!
//! Sizes: `ALFA_STRESS_DOCS` (default 2000) and `ALFA_STRESS_KILLS` (default 20).
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::NaiveDateTime;
use tokio::process::{Child, Command};

use alfa_calltouch::config::Config;
use alfa_calltouch::domain::snapshot::{DocKind, Money};
use alfa_calltouch::ops::exit;
use alfa_calltouch::register::sqlite::SqliteRegister;
use alfa_calltouch::register::{Admin, CycleStore, SyncState};
use alfa_calltouch::rules::{DealRules, Decision};
use alfa_calltouch::source::postgres::PostgresSource;
use alfa_calltouch::source::settings::Preset;
use alfa_calltouch::source::{ReadFrom, Source};
use common::Outcome;
use testkit::cluster::shared as cluster;
use testkit::config::{write_private, Connection, RegisterKeys, SourceKeys, TestConfig};
use testkit::emulator::{Emulator, Fault};
use testkit::fixture::{Fixture, FixtureSpec};

const SITE_ID: &str = "424242";
/// Distinctive, so a leak anywhere is found by a plain search.
const TOKEN: &str = "ct-TOKEN-7c1e9f-never-printed";
const DB_PASSWORD: &str = "pg-PASSWORD-3b8d2a-never-printed";

fn env_size(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A generated database, an emulator and a config folder for the binary.
struct World {
    fixture: Fixture,
    emulator: Emulator,
    connection: String,
    dir: PathBuf,
    config_path: PathBuf,
}

impl World {
    async fn new(name: &str, documents: usize) -> World {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let database = format!("alfa_crash_{name}_{n}");
        let connection = cluster().create_database(&database).await.unwrap();
        let mut spec = FixtureSpec::small(Preset::Alfa6, 7000 + u64::from(n));
        spec.bookings = documents / 2;
        spec.work_orders = documents - documents / 2;
        spec.customers = (documents / 10).max(10);
        spec.cars = (documents / 8).max(12);
        let fixture = Fixture::generate(&connection, spec).await.unwrap();
        let emulator = Emulator::start(SITE_ID, TOKEN).await.unwrap();
        let dir = scratch_dir().join(format!("alfa-crash-{name}-{n}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("namemap.toml"), fixture.name_map_toml()).unwrap();
        write_private(&dir.join("token.txt"), TOKEN).unwrap();
        write_private(&dir.join("db-password.txt"), DB_PASSWORD).unwrap();
        let config_path = dir.join("alfa-calltouch.toml");
        let world = World {
            fixture,
            emulator,
            connection,
            dir,
            config_path,
        };
        world.write_config(
            &world.config_path,
            &world.emulator.base_url(),
            cluster().port(),
        );
        world
    }

    /// The config of this world; `base_url` and `port` vary to point a run elsewhere.
    fn keys(&self, base_url: &str, port: u16) -> TestConfig {
        let database = self.connection.rsplit("dbname=").next().unwrap();
        let mut source = Connection::local_postgres(port, database);
        source.password_file = Some("db-password.txt".into());
        source.connect_timeout_secs = Some(2);
        let mut source = SourceKeys::new(source);
        source.start_date = self.fixture.spec().first_day.to_string();
        let mut keys = TestConfig::new(SITE_ID, base_url, source)
            .order_number("{kind}-{number}")
            .register(RegisterKeys::sqlite_at(self.register_path()));
        let calltouch = &mut keys.calltouch;
        calltouch.batch_size = Some(25);
        calltouch.requests_per_second = Some(0);
        calltouch.connect_timeout_secs = Some(2);
        calltouch.request_timeout_secs = Some(5);
        calltouch.max_attempts = Some(4);
        calltouch.backoff_initial_ms = Some(10);
        calltouch.backoff_max_ms = Some(50);
        keys.sync.retry_backoff_secs = Some(0);
        keys
    }

    /// Writes this world's config to `path`.
    fn write_config(&self, path: &Path, base_url: &str, port: u16) {
        self.keys(base_url, port).write(path);
    }

    fn register_path(&self) -> PathBuf {
        self.dir.join("register.sqlite")
    }

    fn config(&self) -> Config {
        Config::load(&self.config_path).unwrap()
    }

    fn command(&self, config: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_alfa-calltouch"));
        command
            .arg("--config")
            .arg(config)
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    fn spawn_run(&self) -> Child {
        self.command(&self.config_path, &["run"]).spawn().unwrap()
    }

    async fn run(&self) -> Output {
        self.command(&self.config_path, &["run"])
            .output()
            .await
            .unwrap()
    }

    /// Runs until a run completes with every change settled.
    async fn run_to_completion(&self) {
        for _ in 0..3 {
            let output = self.run().await;
            match output.status.code() {
                Some(code) if code == i32::from(exit::OK) => return,
                Some(code) if code == i32::from(exit::DEFERRED) => continue,
                _ => panic!("run failed: {}", String::from_utf8_lossy(&output.stderr)),
            }
        }
        panic!("three runs left documents deferred");
    }

    /// Returns at the kill moment (never, if the run sends fewer requests: it then completes).
    async fn reach(&self, moment: KillMoment) {
        match moment {
            KillMoment::After(delay) => tokio::time::sleep(delay).await,
            KillMoment::AfterRequests { count, then } => {
                while self.emulator.requests().len() < count {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                tokio::time::sleep(then).await;
            }
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A memory-backed folder where there is one: SIGKILL needs no fsync to keep what was written
/// (only a power cut does), and the register's per-document fsyncs would dominate the test time.
fn scratch_dir() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// What the final state holds against what the database and the rules say.
struct Verdict {
    documents: usize,
    deals: usize,
    duplicates: usize,
    lost: usize,
}

/// Compares Calltouch's deals, the register and the database: one create per deal, the deal's
/// status, sum and manager as the register accepted them, and nothing the rules would still
/// send for the database as it is now.
async fn verify(world: &World) -> Verdict {
    let config = world.config();
    let register = SqliteRegister::open(&world.register_path()).unwrap();
    let pending = register
        .counts()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.state == SyncState::Pending)
        .map_or(0, |c| c.count);
    assert_eq!(pending, 0, "the register holds pending documents");
    let creates = world.emulator.creates_per_order();
    let duplicates = creates.values().filter(|count| **count > 1).count();
    let deals = world.emulator.deals();
    let mut lost = 0;
    for (number, deal) in &deals {
        let record = register.deal(number).await.unwrap();
        let Some(record) = record else {
            panic!("deal {number} is in Calltouch but not in the register");
        };
        let text = |key: &str| deal[key].as_str().map(str::to_string);
        assert_eq!(text("status"), record.status, "{number} status");
        assert_eq!(
            text("revenue").as_deref().and_then(Money::parse),
            record.revenue,
            "{number} sum"
        );
        assert_eq!(text("manager"), record.manager, "{number} manager");
    }
    let mut source = PostgresSource::from_connection_string(
        &world.connection,
        Preset::Alfa6,
        world.fixture.name_map().clone(),
    )
    .await
    .unwrap();
    let changes = source
        .changes(&ReadFrom::Start, config.source.start_date)
        .await
        .unwrap();
    let rules = DealRules::new(&config.deal, &config.statuses);
    for snapshot in &changes.documents {
        let number = rules.order_number(snapshot).unwrap();
        let record = register.deal(&number).await.unwrap();
        if record.is_some() && !deals.contains_key(&number) {
            lost += 1;
            continue;
        }
        // Several work orders made from one booking: the deal follows the latest to take it.
        let drives = record
            .as_ref()
            .is_none_or(|r| r.driver == snapshot.reference || snapshot.kind == DocKind::Booking);
        if !drives {
            continue;
        }
        match rules.decide(snapshot, record.as_ref(), changes.read_at) {
            Ok(plan) => match plan.decision {
                Decision::Unchanged | Decision::Skip { .. } => {}
                Decision::Create { .. } | Decision::Update { .. } => {
                    eprintln!(
                        "not delivered: {} {:?} {:?}",
                        snapshot.label(),
                        record,
                        register.document(snapshot.reference).await.unwrap()
                    );
                    lost += 1;
                }
            },
            Err(error) => {
                let state = register
                    .document(snapshot.reference)
                    .await
                    .unwrap()
                    .map(|d| d.state);
                assert_eq!(
                    state,
                    Some(SyncState::Failed),
                    "{}: {error}",
                    snapshot.label()
                );
            }
        }
    }
    Verdict {
        documents: changes.documents.len(),
        deals: deals.len(),
        duplicates,
        lost,
    }
}

/// Changes a few random documents the way 1C users would: a state, a sum, a manager.
async fn change_documents(world: &mut World, rng: &mut fastrand::Rng, at: NaiveDateTime) {
    let documents = world.fixture.documents().to_vec();
    let states: BTreeMap<DocKind, Vec<String>> = [DocKind::Booking, DocKind::WorkOrder]
        .into_iter()
        .map(|kind| {
            let mut names: Vec<String> = documents
                .iter()
                .filter(|d| d.kind == kind)
                .filter_map(|d| world.fixture.expected(d.reference)?.state)
                .collect();
            names.sort();
            names.dedup();
            (kind, names)
        })
        .collect();
    let employees = world.fixture.employee_names();
    for _ in 0..3 {
        let doc = &documents[rng.usize(..documents.len())];
        let state = &states[&doc.kind][rng.usize(..states[&doc.kind].len())];
        world
            .fixture
            .set_state(doc.reference, state, at)
            .await
            .unwrap();
        let doc = &documents[rng.usize(..documents.len())];
        let sum = format!("{}.{:02}", rng.u32(100..400_000), rng.u8(0..100));
        world.fixture.set_sum(doc.reference, &sum).await.unwrap();
        let doc = &documents[rng.usize(..documents.len())];
        let manager = &employees[rng.usize(..employees.len())];
        world
            .fixture
            .set_manager(doc.reference, Some(manager))
            .await
            .unwrap();
    }
}

/// Requests of the current run the emulator has received but not answered yet.
fn unanswered_since(world: &World, first: usize) -> usize {
    world.emulator.requests()[first..]
        .iter()
        .filter(|r| r.status.is_none())
        .count()
}

/// When to kill a run: while it reads and decides, or once it has sent some requests, plus a
/// few milliseconds to land inside a request or between an answer and its recording.
enum KillMoment {
    After(Duration),
    AfterRequests { count: usize, then: Duration },
}

fn kill_moment(rng: &mut fastrand::Rng, sent_before: usize) -> KillMoment {
    if rng.u8(0..3) == 0 {
        KillMoment::After(Duration::from_millis(rng.u64(10..800)))
    } else {
        KillMoment::AfterRequests {
            count: sent_before + rng.usize(1..=12),
            then: Duration::from_millis(rng.u64(0..45)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_and_duplicates_nothing() {
    let documents = env_size("ALFA_STRESS_DOCS", 2000);
    let kills_wanted = env_size("ALFA_STRESS_KILLS", 20);
    let mut outcome = Outcome::start("SIGKILL at random moments of run");
    let mut world = World::new("kill", documents).await;
    world.emulator.set_latency(Duration::from_millis(30));
    let seed = fastrand::u64(..);
    let _ = std::io::Write::write_all(
        &mut std::io::stderr().lock(),
        format!("crash test seed {seed}\n").as_bytes(),
    );
    let mut rng = fastrand::Rng::with_seed(seed);
    let last_day = world.fixture.spec().first_day
        + chrono::Duration::days(i64::from(world.fixture.spec().days));
    let (mut kills, mut completed, mut mid_request) = (0, 0, 0);
    let mut restart = 0;
    while kills < kills_wanted && restart < kills_wanted * 3 {
        restart += 1;
        match restart % 4 {
            0 => world.emulator.push_fault(Fault::AcceptThenDrop),
            2 => world.emulator.push_fault(Fault::DropConnection),
            _ => {}
        }
        outcome.faults += usize::from(restart % 2 == 0);
        if restart % 3 == 0 {
            let at =
                last_day.and_hms_opt(8, 0, 0).unwrap() + chrono::Duration::hours(restart as i64);
            change_documents(&mut world, &mut rng, at).await;
        }
        let sent_before = world.emulator.requests().len();
        let mut child = world.spawn_run();
        let moment = kill_moment(&mut rng, sent_before);
        tokio::select! {
            status = child.wait() => {
                let code = status.unwrap().code();
                assert!(
                    code == Some(i32::from(exit::OK)) || code == Some(i32::from(exit::DEFERRED)),
                    "an unkilled run ended with {code:?}"
                );
                completed += 1;
            }
            () = world.reach(moment) => {
                child.kill().await.unwrap();
                kills += 1;
                mid_request += usize::from(unanswered_since(&world, sent_before) > 0);
            }
        }
    }
    assert!(kills >= kills_wanted, "only {kills} runs were killed");
    // A request in flight at the kill is still answered to nobody; let it finish.
    tokio::time::sleep(Duration::from_millis(100)).await;
    world.emulator.set_latency(Duration::ZERO);
    world.run_to_completion().await;
    let verdict = verify(&world).await;
    outcome.documents = verdict.documents;
    outcome.deals = verdict.deals;
    outcome.duplicates = verdict.duplicates;
    outcome.lost = verdict.lost;
    outcome.extra = vec![
        ("kills", kills),
        ("killed mid-request", mid_request),
        ("completed runs", completed),
    ];
    outcome.print();
    assert!(
        verdict.documents >= documents * 9 / 10,
        "the read covers the fixture"
    );
    assert_eq!(
        verdict.duplicates,
        0,
        "{:?}",
        world.emulator.creates_per_order()
    );
    assert_eq!(verdict.lost, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_is_refused_at_once_and_a_killed_run_leaves_no_lock() {
    let mut outcome = Outcome::start("overlapping run refused, killed lock freed");
    let world = World::new("lock", 60).await;
    world.emulator.set_latency(Duration::from_millis(200));
    // The second run sends to its own emulator, so anything it sent would show there.
    let other = Emulator::start(SITE_ID, TOKEN).await.unwrap();
    let second_config = world.dir.join("second.toml");
    world.write_config(&second_config, &other.base_url(), cluster().port());

    let mut first = world.spawn_run();
    world
        .reach(KillMoment::AfterRequests {
            count: 1,
            then: Duration::ZERO,
        })
        .await;
    let started = std::time::Instant::now();
    let second = world
        .command(&second_config, &["run"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(
        second.status.code(),
        Some(i32::from(exit::BUSY)),
        "{stderr}"
    );
    assert!(
        stderr.contains("another alfa-calltouch run is active"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once"
    );
    assert!(other.requests().is_empty(), "the refused run sent nothing");

    first.kill().await.unwrap();
    world.emulator.set_latency(Duration::ZERO);
    world.run_to_completion().await;
    let verdict = verify(&world).await;
    assert_eq!((verdict.duplicates, verdict.lost), (0, 0));
    outcome.faults = 2;
    outcome.documents = verdict.documents;
    outcome.deals = verdict.deals;
    outcome.extra = vec![("kills", 1), ("refused runs", 1)];
    outcome.print();
}

/// A local port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_faults_stop_the_run_and_keep_the_checkpoint() {
    let mut outcome = Outcome::start("database refused or dropped mid-cycle");
    let world = World::new("dbfault", 60).await;
    let config = world.config();
    let key = alfa_calltouch::pipeline::checkpoint_key(&config);

    let refused_config = world.dir.join("refused.toml");
    world.write_config(&refused_config, &world.emulator.base_url(), closed_port());
    let refused = world
        .command(&refused_config, &["run"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(
        refused.status.code(),
        Some(i32::from(exit::FAILURE)),
        "{stderr}"
    );
    assert!(
        stderr.contains("cannot connect to the 1C database"),
        "{stderr}"
    );
    assert!(world.emulator.requests().is_empty());

    // The connection dies between connecting and reading: the cycle stops, nothing moves.
    let mut register = SqliteRegister::open(&world.register_path()).unwrap();
    let client = alfa_calltouch::calltouch::client::CalltouchClient::new(
        &config.calltouch,
        alfa_calltouch::ops::privacy::Secret::new(TOKEN),
        config.deal.crm.clone(),
    )
    .unwrap();
    let connection = format!("{} application_name=alfa-dropped", world.connection);
    let mut source = PostgresSource::from_connection_string(
        &connection,
        Preset::Alfa6,
        world.fixture.name_map().clone(),
    )
    .await
    .unwrap();
    world
        .fixture
        .client()
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'alfa-dropped'",
            &[],
        )
        .await
        .unwrap();
    let error = alfa_calltouch::pipeline::run_cycle(&config, &mut source, &mut register, &client)
        .await
        .unwrap_err();
    assert!(
        matches!(error, alfa_calltouch::pipeline::CycleError::Source(_)),
        "{error}"
    );
    assert_eq!(register.checkpoint(&key).await.unwrap().checkpoint, None);
    assert!(world.emulator.requests().is_empty());
    drop(register);

    world.run_to_completion().await;
    let verdict = verify(&world).await;
    assert_eq!((verdict.duplicates, verdict.lost), (0, 0));
    let register = SqliteRegister::open(&world.register_path()).unwrap();
    assert!(register
        .checkpoint(&key)
        .await
        .unwrap()
        .checkpoint
        .is_some());
    outcome.faults = 2;
    outcome.documents = verdict.documents;
    outcome.deals = verdict.deals;
    outcome.print();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_appear_in_no_output_log_error_or_register_file() {
    let mut outcome = Outcome::start("secrets never leak");
    let world = World::new("secrets", 60).await;
    let mut seen = Vec::new();
    let mut record = |output: Output| {
        seen.push(String::from_utf8_lossy(&output.stdout).into_owned());
        seen.push(String::from_utf8_lossy(&output.stderr).into_owned());
        output.status.code()
    };
    // A refused token stops the run with an error message.
    world.emulator.push_fault(Fault::Unauthorized);
    let refused = world
        .command(&world.config_path, &["-vv", "run"])
        .output()
        .await;
    assert_eq!(record(refused.unwrap()), Some(i32::from(exit::FAILURE)));
    // A full run with faults at every log level, in both log formats.
    for fault in [
        Fault::ServerError(503),
        Fault::AcceptThenDrop,
        Fault::DropConnection,
        Fault::MalformedJson,
    ] {
        world.emulator.push_fault(fault);
    }
    outcome.faults = 5;
    let traced = world
        .command(&world.config_path, &["run"])
        .env("RUST_LOG", "trace")
        .output()
        .await;
    // Four faults in a row outlast one batch's attempts: the run may end deferred.
    let code = record(traced.unwrap());
    assert!(
        code == Some(i32::from(exit::OK)) || code == Some(i32::from(exit::DEFERRED)),
        "{code:?}"
    );
    let number = world.fixture.documents()[0].number.clone();
    for args in [
        &["-vv", "--log-format", "json", "run"][..],
        &["-vv", "register", "--json"],
        &["-vv", "register"],
        &["-vv", "check"],
        &["-vv", "preview", &number],
    ] {
        let output = world.command(&world.config_path, args).output().await;
        record(output.unwrap());
    }
    // A database error message.
    let refused_config = world.dir.join("refused.toml");
    world.write_config(&refused_config, &world.emulator.base_url(), closed_port());
    let output = world
        .command(&refused_config, &["-vv", "run"])
        .output()
        .await;
    record(output.unwrap());
    let config = world.config();
    seen.push(format!("{config:?}"));
    seen.push(format!(
        "{:?} {:?}",
        config.calltouch_token().unwrap(),
        config.database_password().unwrap()
    ));
    for suffix in ["", "-wal", "-shm"] {
        let mut path = world.register_path().into_os_string();
        path.push(suffix);
        if let Ok(bytes) = std::fs::read(&path) {
            seen.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    let traced_lines = seen.iter().map(|text| text.lines().count()).sum::<usize>();
    assert!(
        traced_lines > 100,
        "the trace run logged little: {traced_lines} lines"
    );
    for text in &seen {
        assert!(!text.contains(TOKEN), "the token leaked:\n{text}");
        assert!(!text.contains(DB_PASSWORD), "the password leaked:\n{text}");
    }
    outcome.documents = world.fixture.documents().len();
    outcome.deals = world.emulator.deals().len();
    outcome.extra = vec![("outputs searched", seen.len())];
    outcome.print();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_file_others_can_read_is_warned_about() {
    let world = World::new("mode", 4).await;
    let open_config = world.dir.join("open.toml");
    world.write_config(&open_config, &world.emulator.base_url(), cluster().port());
    std::fs::set_permissions(&open_config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = world
        .command(&open_config, &["check"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("chmod 600") && stderr.contains("open.toml"),
        "{stderr}"
    );
    let private = world
        .command(&world.config_path, &["check"])
        .output()
        .await
        .unwrap();
    assert!(!String::from_utf8_lossy(&private.stderr).contains("chmod 600"));
}

/// Reads in chunks of 40: a run killed after some chunks were sent and recorded keeps them
/// recorded, leaves the checkpoint where it was, and the next runs send the rest once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_between_chunks_loses_and_duplicates_nothing() {
    let mut outcome = Outcome::start("SIGKILL between chunks of run");
    let world = World::new("chunks", 400).await;
    let mut keys = world.keys(&world.emulator.base_url(), cluster().port());
    keys.sync.chunk_documents = Some(40);
    keys.write(&world.config_path);
    world.emulator.set_latency(Duration::from_millis(20));
    let config = world.config();
    let key = alfa_calltouch::pipeline::checkpoint_key(&config);
    let mut settled_before = 0;
    let mut kills = 0;
    for _ in 0..3 {
        let answered = |world: &World| {
            world
                .emulator
                .requests()
                .iter()
                .filter(|r| r.status.is_some())
                .count()
        };
        // A chunk of 40 goes out in two batches of 25 or more: three answers are past one.
        let target = answered(&world) + 3;
        let mut child = world.spawn_run();
        tokio::select! {
            status = child.wait() => panic!("the run ended before the kill: {:?}", status.unwrap()),
            () = async {
                while answered(&world) < target {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            } => {
                child.kill().await.unwrap();
                kills += 1;
            }
        }
        let register = SqliteRegister::open(&world.register_path()).unwrap();
        let settled: u64 = register
            .counts()
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.state != SyncState::Pending)
            .map(|c| c.count)
            .sum();
        assert!(
            settled > settled_before,
            "the killed run recorded its first chunks ({settled} settled, {settled_before} before)"
        );
        settled_before = settled;
        let stored = register.checkpoint(&key).await.unwrap();
        assert_eq!(
            stored.checkpoint, None,
            "the checkpoint moves only after the last chunk"
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    world.emulator.set_latency(Duration::ZERO);
    world.run_to_completion().await;
    let register = SqliteRegister::open(&world.register_path()).unwrap();
    let stored = register.checkpoint(&key).await.unwrap();
    assert!(
        stored.checkpoint.is_some(),
        "a whole run moves the checkpoint"
    );
    let verdict = verify(&world).await;
    outcome.documents = verdict.documents;
    outcome.deals = verdict.deals;
    outcome.duplicates = verdict.duplicates;
    outcome.lost = verdict.lost;
    outcome.extra = vec![("kills", kills)];
    outcome.print();
    assert!(verdict.documents >= 360, "the read covers the fixture");
    assert_eq!(
        verdict.duplicates,
        0,
        "{:?}",
        world.emulator.creates_per_order()
    );
    assert_eq!(verdict.lost, 0);
}
