//! `cargo bench --bench cycle -- [--scale small|full] [--deals N] [--rss-deals N,N,…]
//! [--limited-chunk-documents N,N,…] [--changed N] [--runs N] [--window-days N] [--skip-sync]`:
//! the cost of a sync cycle and of a full sync on a large generated 1C «Альфа-Авто» 6.x database.
//!
//! It starts a throwaway PostgreSQL, bulk-generates the database (`fixture::bulk`), and prints:
//! the idle cycle (no changes) against a plain full scan of the two document tables, a cycle
//! after 1,000 changed documents, the exact read of a change set many chunks long, and full syncs
//! through the Calltouch emulator with the rate limit on and off, with the peak memory of the
//! `run` process as a table by deal count. The `EXPLAIN (ANALYZE, BUFFERS)`
//! plans of the idle cycle's queries are saved to `benches/results/`. BENCHMARKS.md records the
//! figures; targets live there and in this output, never in tests.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::{NaiveDate, NaiveDateTime};
use clap::{Parser, ValueEnum};
use tokio_postgres::{Client, NoTls};

use alfa_calltouch::calltouch::client::CalltouchClient;
use alfa_calltouch::pipeline::{checkpoint_key, run_cycle, CycleSummary};
use alfa_calltouch::register::sqlite::SqliteRegister;
use alfa_calltouch::register::{CycleStore, RunLog};
use alfa_calltouch::source::postgres::{change_queries, PostgresSource, CHANGE_QUERY_SETTINGS};
use alfa_calltouch::source::window::ChangeDetection;
use alfa_calltouch::source::{ReadFrom, Source};
use alfa_calltouch::{config::Config, ops::privacy::Secret, source::settings::Preset};
use testkit::config::{Connection, RegisterKeys, SourceKeys, TestConfig};
use testkit::emulator::Emulator;
use testkit::fixture::bulk::{Age, BulkFixture, BulkSpec};
use testkit::pgcluster::PgCluster;

const SITE_ID: &str = "777";
const TOKEN: &str = "bench-token";
/// Orders per Calltouch request (the API's maximum, the client's default).
const BATCH: u64 = 100;

#[derive(Parser)]
#[command(about = "Cost of a sync cycle and of a full sync on a large generated 1C database")]
struct Args {
    /// `small`: 50,000 bookings and 50,000 work orders; `full`: 1,000,000 of each.
    #[arg(long, value_enum, default_value = "small")]
    scale: Scale,
    /// Deals in the full sync at 5 requests/s (100,000 deals take over 200 s).
    #[arg(long, default_value_t = 20_000)]
    deals: u64,
    /// Deals of the full syncs with the limit off whose peak memory is tabled (default: 10,000
    /// and 20,000 at the small scale; 10,000, 100,000 and 1,000,000 at the full one).
    #[arg(long, value_delimiter = ',')]
    rss_deals: Vec<u64>,
    /// `sync.chunk_documents` of the full syncs at 5 requests/s, one sync each (default: the
    /// configuration's default): a chunk ends with a partial batch, which larger chunks make rarer.
    #[arg(long, value_delimiter = ',')]
    limited_chunk_documents: Vec<usize>,
    /// Documents changed (half of each kind) for the exact read of a large change set.
    #[arg(long)]
    changed: Option<i64>,
    /// Repetitions of each timed read (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// The window of the recent-window change detection compared with the exact one.
    #[arg(long, default_value_t = 31)]
    window_days: u32,
    /// Leave out the full syncs.
    #[arg(long)]
    skip_sync: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Scale {
    Small,
    Full,
}

impl Scale {
    fn documents_per_kind(self) -> u64 {
        match self {
            Scale::Small => 50_000,
            Scale::Full => 1_000_000,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scale::Small => "small",
            Scale::Full => "full",
        }
    }

    fn rss_deals(self) -> Vec<u64> {
        match self {
            Scale::Small => vec![10_000, 20_000],
            Scale::Full => vec![10_000, 100_000, 1_000_000],
        }
    }

    /// Documents changed for the exact read of a large change set: 20 or 100 chunks.
    fn changed(self) -> i64 {
        match self {
            Scale::Small => 20_000,
            Scale::Full => 100_000,
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let cluster = PgCluster::start().context("the benchmark needs the PostgreSQL server")?;
    let admin = connect(&cluster.connection_string("postgres")).await?;
    // Background vacuums would land in the middle of timed reads.
    admin
        .batch_execute("ALTER SYSTEM SET autovacuum = off")
        .await?;
    admin.batch_execute("SELECT pg_reload_conf()").await?;
    print_machine(&admin, &args).await?;
    let database = "bench_main";
    let spec = BulkSpec::dealership(1, args.scale.documents_per_kind());
    let (fixture, start_date) = generate(&cluster, database, &spec).await?;
    let main = MainDatabase {
        cluster: &cluster,
        database,
        fixture: &fixture,
        start_date,
        documents: (spec.bookings + spec.work_orders) as i64,
        scale: args.scale,
    };
    report_reads(&main, &args).await?;
    if !args.skip_sync {
        let rss_deals = match args.rss_deals.is_empty() {
            true => args.scale.rss_deals(),
            false => args.rss_deals.clone(),
        };
        let chunks = match args.limited_chunk_documents.is_empty() {
            true => vec![None],
            false => args
                .limited_chunk_documents
                .iter()
                .map(|&c| Some(c))
                .collect(),
        };
        report_full_syncs(&cluster, &rss_deals, args.deals, &chunks).await?;
    }
    Ok(())
}

async fn connect(connection: &str) -> Result<Client> {
    let (client, driver) = tokio_postgres::connect(connection, NoTls).await?;
    tokio::spawn(driver);
    Ok(client)
}

async fn print_machine(admin: &Client, args: &Args) -> Result<()> {
    let version: String = admin.query_one("SELECT version()", &[]).await?.get(0);
    println!("== alfa-calltouch cycle benchmark");
    println!(
        "date        {}",
        chrono::Local::now().format("%Y-%m-%d %H:%M")
    );
    println!(
        "machine     {} cores, {} RAM",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        total_memory()
    );
    println!("postgresql  {version}");
    println!(
        "command     cargo bench --bench cycle -- {}",
        command_line(args)
    );
    Ok(())
}

fn total_memory() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let kib: u64 = text
                .lines()
                .find(|l| l.starts_with("MemTotal:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some(format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// A scratch folder holding one run's config, name map, secrets and register.
fn scratch_dir(name: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("alfa-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Where a config points.
struct Target<'a> {
    cluster: &'a PgCluster,
    database: &'a str,
    fixture: &'a BulkFixture,
    emulator: &'a Emulator,
    start_date: NaiveDate,
    requests_per_second: u32,
    /// `sync.chunk_documents`, when not the default.
    chunk_documents: Option<usize>,
}

/// Writes the config a real `run` reads, with its name map and secrets, into `dir`.
fn write_config(dir: &Path, target: &Target<'_>) -> Result<Config> {
    std::fs::write(dir.join("namemap.toml"), target.fixture.name_map_toml())?;
    std::fs::write(dir.join("token.txt"), TOKEN)?;
    std::fs::write(dir.join("password.txt"), "unused")?;
    let mut source = SourceKeys::new(Connection::local_postgres(
        target.cluster.port(),
        target.database,
    ));
    source.start_date = target.start_date.to_string();
    source.query_timeout_secs = Some(3600);
    let mut keys = TestConfig::new(SITE_ID, &target.emulator.base_url(), source)
        .order_number("{kind}-{number}")
        .register(RegisterKeys::sqlite());
    keys.calltouch.requests_per_second = Some(target.requests_per_second);
    keys.sync.chunk_documents = target.chunk_documents;
    let path = keys.write(&dir.join("config.toml"));
    Ok(Config::load(&path)?)
}

/// Generates a bulk database; returns it with the first day its documents can be dated.
async fn generate(
    cluster: &PgCluster,
    database: &str,
    spec: &BulkSpec,
) -> Result<(BulkFixture, NaiveDate)> {
    let started = Instant::now();
    let client = connect(&cluster.create_database(database).await?).await?;
    let fixture = BulkFixture::generate(&client, spec).await?;
    println!(
        "generated   {database}: {} bookings, {} work orders, {} customers, {} cars, {} employees in {:.1} s",
        spec.bookings,
        spec.work_orders,
        spec.customers,
        spec.cars,
        spec.employees,
        started.elapsed().as_secs_f64()
    );
    let start_date =
        chrono::Local::now().date_naive() - chrono::Days::new(u64::from(spec.days) + 2);
    Ok((fixture, start_date))
}

/// One measured cycle.
struct Measured {
    wall: Duration,
    /// `seq_tup_read + idx_tup_fetch` over every user table, around the cycle.
    rows_read: i64,
    summary: CycleSummary,
}

/// The bulk database the reads are timed on.
struct MainDatabase<'a> {
    cluster: &'a PgCluster,
    database: &'a str,
    fixture: &'a BulkFixture,
    start_date: NaiveDate,
    documents: i64,
    scale: Scale,
}

/// The exact mode (before) and the recent window (after), on the same database.
fn modes(window_days: u32) -> [(&'static str, ChangeDetection); 2] {
    [
        ("exact", ChangeDetection::default()),
        (
            "window",
            ChangeDetection {
                window_days,
                reconcile_hours: 24,
                reconcile_at: None,
            },
        ),
    ]
}

async fn report_reads(main: &MainDatabase<'_>, args: &Args) -> Result<()> {
    println!("\n== Reads on {} documents", main.documents);
    let stats = connect(&main.cluster.connection_string(main.database)).await?;
    let scan = full_scans(&stats, main.fixture, args.runs).await?;
    flush_own_stats(&stats).await;
    println!(
        "full scan                      median {:>9.1} ms over {} runs, rows read {}",
        millis(scan),
        args.runs,
        main.documents
    );
    let mut benches = Vec::new();
    for (name, detection) in modes(args.window_days) {
        let mut bench = CycleBench::new(main, name, detection).await?;
        bench.report_idle(args.runs, scan).await?;
        benches.push(bench);
    }
    save_plans(main, &stats, args.window_days).await?;
    flush_own_stats(&stats).await;
    let changed = main
        .fixture
        .change_documents(&stats, 500, Age::Newest)
        .await?;
    flush_own_stats(&stats).await;
    for bench in &mut benches {
        let change = bench.measured_cycle().await?;
        println!(
            "{:<6} {changed} changed docs    {:>9.1} ms, rows read {}, cycle: {}",
            bench.name,
            millis(change.wall),
            change.rows_read,
            change.summary
        );
    }
    let per_kind = args.changed.unwrap_or_else(|| main.scale.changed()) / 2;
    let exact = &mut benches[0];
    exact.report_large_change(main, per_kind, scan).await?;
    Ok(())
}

/// An in-process source, register and client in one change-detection mode, for timed cycles.
struct CycleBench {
    name: &'static str,
    documents: i64,
    stats: Client,
    config: Config,
    source: PostgresSource,
    register: SqliteRegister,
    client: CalltouchClient,
    /// Kept alive for the cycles' requests.
    _emulator: Emulator,
}

impl CycleBench {
    async fn new(
        main: &MainDatabase<'_>,
        name: &'static str,
        detection: ChangeDetection,
    ) -> Result<CycleBench> {
        let emulator = Emulator::start(SITE_ID, TOKEN).await?;
        let target = Target {
            cluster: main.cluster,
            database: main.database,
            fixture: main.fixture,
            emulator: &emulator,
            start_date: main.start_date,
            requests_per_second: 0,
            chunk_documents: None,
        };
        let config = write_config(&scratch_dir(name)?, &target)?;
        let connection = main.cluster.connection_string(main.database);
        let source = PostgresSource::from_connection_string(
            &connection,
            Preset::Alfa6,
            main.fixture.name_map().clone(),
        )
        .await?
        .with_change_detection(detection);
        let register = SqliteRegister::open(&config.register_path())?;
        let client = CalltouchClient::new(
            &config.calltouch,
            Secret::new(TOKEN),
            config.deal.crm.clone(),
        )?;
        let mut bench = CycleBench {
            name,
            documents: main.documents,
            stats: connect(&connection).await?,
            config,
            source,
            register,
            client,
            _emulator: emulator,
        };
        bench.seed_checkpoint().await?;
        Ok(bench)
    }

    /// Stores a checkpoint taken now, as if every document had been synced before: what the
    /// register of a tool in steady operation holds. (A read from the start with a cut-off
    /// after every document returns the current snapshot and no documents.)
    async fn seed_checkpoint(&mut self) -> Result<()> {
        let after_everything = chrono::Local::now().date_naive() + chrono::Days::new(2);
        let read = self
            .source
            .changes(&ReadFrom::Start, after_everything)
            .await?;
        self.register
            .save_checkpoint(
                &checkpoint_key(&self.config),
                &read.checkpoint,
                read.read_at,
            )
            .await?;
        Ok(())
    }

    async fn report_idle(&mut self, runs: usize, scan: Duration) -> Result<()> {
        let idle = self.idle_cycles(runs).await?;
        self.report_idle_parts(runs).await?;
        let wall = median(idle.iter().map(|m| m.wall).collect());
        let rows = median(idle.iter().map(|m| m.rows_read).collect());
        println!(
            "{:<6} idle cycle              median {:>9.1} ms over {runs} runs, rows read {rows}; idle / full scan: rows {:.4}× (goal ≤ 0.05×), time {:.3}× (goal ≤ 0.10×; exact ≤ 4×)",
            self.name,
            millis(wall),
            rows as f64 / self.documents as f64,
            wall.as_secs_f64() / scan.as_secs_f64()
        );
        Ok(())
    }

    /// The exact read of a change set many chunks long (`sync.chunk_documents`), without
    /// sending: the oldest `per_kind` documents of each kind changed since a checkpoint taken
    /// just before, read chunk by chunk as a cycle reads them.
    async fn report_large_change(
        &mut self,
        main: &MainDatabase<'_>,
        per_kind: i64,
        scan: Duration,
    ) -> Result<()> {
        let after_everything = chrono::Local::now().date_naive() + chrono::Days::new(2);
        let before = self
            .source
            .changes(&ReadFrom::Start, after_everything)
            .await?
            .checkpoint;
        let changed = main
            .fixture
            .change_documents(&self.stats, per_kind, Age::Oldest)
            .await?;
        flush_own_stats(&self.stats).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let rows_before = self.rows_read().await?;
        let chunk = self.config.sync.chunk_documents;
        let started = Instant::now();
        let read = alfa_calltouch::source::read_all(
            &mut self.source,
            &ReadFrom::Checkpoint(before),
            main.start_date,
            chunk,
        )
        .await?;
        let wall = started.elapsed();
        let rows = self.settled_rows_read().await? - rows_before;
        println!(
            "{:<6} read of {changed} changed docs in chunks of {chunk}  {:>9.1} ms ({:.3}× the full scan), rows read {rows}, documents {}",
            self.name,
            millis(wall),
            wall.as_secs_f64() / scan.as_secs_f64(),
            read.documents.len() + read.rejected.len()
        );
        Ok(())
    }

    /// Where an idle cycle's time goes: the source's read alone (its transaction, position and
    /// change queries) from the stored checkpoint, and one round trip to the server.
    async fn report_idle_parts(&mut self, runs: usize) -> Result<()> {
        let stored = self
            .register
            .checkpoint(&checkpoint_key(&self.config))
            .await?
            .checkpoint
            .context("a checkpoint is stored")?;
        let mut reads = Vec::with_capacity(runs);
        let mut trips = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            let read = alfa_calltouch::source::read_all(
                &mut self.source,
                &ReadFrom::Checkpoint(stored.clone()),
                self.config.source.start_date,
                self.config.sync.chunk_documents,
            )
            .await?;
            reads.push(started.elapsed());
            if !read.documents.is_empty() {
                bail!("an idle read returned {} documents", read.documents.len());
            }
            let started = Instant::now();
            self.stats.query_one("SELECT 1", &[]).await?;
            trips.push(started.elapsed());
        }
        println!(
            "{:<6} idle parts              source read alone median {:.1} ms; one round trip {:.2} ms",
            self.name,
            millis(median(reads)),
            millis(median(trips))
        );
        Ok(())
    }

    async fn idle_cycles(&mut self, runs: usize) -> Result<Vec<Measured>> {
        let mut measured = Vec::with_capacity(runs);
        for _ in 0..runs {
            let cycle = self.measured_cycle().await?;
            if cycle.summary.read != 0 {
                bail!("an idle cycle read {} documents", cycle.summary.read);
            }
            measured.push(cycle);
        }
        Ok(measured)
    }

    /// One cycle with the rows it made PostgreSQL read.
    async fn measured_cycle(&mut self) -> Result<Measured> {
        // Statistics of a backend reach the shared counters when it goes idle at most once a
        // second; a pause first makes the source's flush right after the cycle.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let before = self.rows_read().await?;
        let started = Instant::now();
        let summary = run_cycle(
            &self.config,
            &mut self.source,
            &mut self.register,
            &self.client,
        )
        .await?;
        let wall = started.elapsed();
        let after = self.settled_rows_read().await?;
        Ok(Measured {
            wall,
            rows_read: after - before,
            summary,
        })
    }

    async fn rows_read(&self) -> Result<i64> {
        let row = self
            .stats
            .query_one(
                "SELECT coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0)::bigint
                 FROM pg_stat_user_tables",
                &[],
            )
            .await?;
        Ok(row.get(0))
    }

    /// The counters once the source's statistics have been flushed (they stop moving).
    async fn settled_rows_read(&self) -> Result<i64> {
        let mut last = self.rows_read().await?;
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let now = self.rows_read().await?;
            if now == last {
                break;
            }
            last = now;
        }
        Ok(last)
    }
}

/// Makes this connection's table statistics reach the shared counters now, so that its reads
/// are not counted in a later cycle (PostgreSQL 15 and later; older servers may flush late).
async fn flush_own_stats(client: &Client) {
    // The flush happens when the connection next goes idle, i.e. right after this statement.
    let _ = client
        .batch_execute("SELECT pg_stat_force_next_flush()")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// A plain sequential scan of both document tables, reading one column of every row.
async fn full_scans(stats: &Client, fixture: &BulkFixture, runs: usize) -> Result<Duration> {
    let map = fixture.name_map();
    let tables = ["Документ.ЗаявкаНаРемонт", "Документ.ЗаказНаряд"].map(|t| {
        map.table(t)
            .expect("document tables are mapped")
            .to_string()
    });
    stats
        .batch_execute(
            "SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off",
        )
        .await?;
    let mut walls = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        for table in &tables {
            stats
                .query_one(
                    &format!("SELECT count(*), sum(length(_number::text)) FROM {table}"),
                    &[],
                )
                .await?;
        }
        walls.push(started.elapsed());
    }
    stats.batch_execute("RESET ALL").await?;
    Ok(median(walls))
}

/// `EXPLAIN (ANALYZE, BUFFERS)` of the change queries of an idle cycle, from a snapshot taken
/// now, the window starting `window_days` before now.
async fn save_plans(main: &MainDatabase<'_>, stats: &Client, window_days: u32) -> Result<()> {
    let snapshot: String = stats
        .query_one("SELECT pg_current_snapshot()::text", &[])
        .await?
        .get(0);
    let cutoff: NaiveDateTime = main.start_date.into();
    let window_start =
        chrono::Local::now().naive_local() - chrono::Days::new(u64::from(window_days));
    let mut text = format!(
        "-- EXPLAIN (ANALYZE, BUFFERS) of an idle cycle's change queries, {}\n\
         -- scale {}: {} documents; $1 = {cutoff}, $2 = '{snapshot}', $3 = {window_start}\n",
        chrono::Local::now().format("%Y-%m-%d"),
        main.scale.name(),
        main.documents,
    );
    // Planned as the source plans them.
    for setting in CHANGE_QUERY_SETTINGS {
        stats.batch_execute(&format!("SET {setting}")).await?;
    }
    for (name, sql) in change_queries(Preset::Alfa6, main.fixture.name_map())? {
        let explain = format!("EXPLAIN (ANALYZE, BUFFERS) {sql}");
        let rows = if sql.contains("$3") {
            stats
                .query(&explain, &[&cutoff, &snapshot, &window_start])
                .await?
        } else {
            stats.query(&explain, &[&cutoff, &snapshot]).await?
        };
        text += &format!("\n-- {name}\n{sql}\n\n");
        for row in rows {
            text += row.get::<_, &str>(0);
            text.push('\n');
        }
    }
    stats.batch_execute("RESET ALL").await?;
    let path = results_dir().join(format!("plans-{}.txt", main.scale.name()));
    std::fs::write(&path, text)?;
    println!("plans                          {}", path.display());
    Ok(())
}

fn results_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/results")
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn median<T: Ord + Copy>(mut values: Vec<T>) -> T {
    values.sort();
    values[values.len() / 2]
}

/// One full sync by the real binary.
struct SyncRun {
    deals: u64,
    requests_per_second: u32,
    wall: Duration,
    /// `sync.chunk_documents` when not the default.
    chunk_documents: Option<usize>,
    /// Orders Calltouch accepted (creates and updates).
    orders: u64,
    /// Requests the emulator received, and the span from the first to the last.
    requests: usize,
    request_span: Duration,
    peak_rss_kib: Option<u64>,
}

impl SyncRun {
    fn orders_per_second(&self) -> f64 {
        self.orders as f64 / self.wall.as_secs_f64()
    }

    fn print(&self) {
        let ceiling = match self.requests_per_second {
            0 => "no limit".to_string(),
            rps => {
                let ceiling = (BATCH * u64::from(rps)) as f64;
                format!(
                    "{:.1}% of the {ceiling:.0}/s ceiling (goal ≥ 95%)",
                    100.0 * self.orders_per_second() / ceiling
                )
            }
        };
        let rss = self
            .peak_rss_kib
            .map_or("not measured on this OS".to_string(), |kib| {
                format!("{:.1} MiB", kib as f64 / 1024.0)
            });
        println!(
            "{:>7} deals, {:>2} req/s limit  {:>7.1} s, {:>5} orders, {:>7.1} orders/s, {ceiling}; peak RSS {rss}",
            self.deals,
            self.requests_per_second,
            self.wall.as_secs_f64(),
            self.orders,
            self.orders_per_second(),
        );
        println!(
            "  requests {} (full batches alone: {}), first to last request {:.1} s, before the first and after the last {:.1} s",
            self.requests,
            self.orders.div_ceil(BATCH),
            self.request_span.as_secs_f64(),
            (self.wall.saturating_sub(self.request_span)).as_secs_f64()
        )
    }
}

/// Full syncs of fresh databases by the `run` command: with the limit off for each of
/// `rss_deals` (their peak memory tabled), and with 5 requests/s for `limited_deals`.
async fn report_full_syncs(
    cluster: &PgCluster,
    rss_deals: &[u64],
    limited_deals: u64,
    limited_chunks: &[Option<usize>],
) -> Result<()> {
    println!("\n== Full sync by `alfa-calltouch run` (a fresh register, every document a deal)");
    let mut plan: Vec<(u64, u32, Option<usize>)> =
        rss_deals.iter().map(|&deals| (deals, 0, None)).collect();
    plan.extend(limited_chunks.iter().map(|&c| (limited_deals, 5, c)));
    plan.sort();
    let mut runs = Vec::new();
    let mut generated: Option<(u64, String, BulkFixture, NaiveDate)> = None;
    for (size, requests_per_second, chunk_documents) in plan {
        if generated.as_ref().is_none_or(|(deals, ..)| *deals != size) {
            let database = format!("bench_sync_{size}");
            let spec = BulkSpec {
                bookings: size / 2,
                work_orders: size - size / 2,
                ..BulkSpec::dealership(2, 0)
            };
            let (fixture, start_date) = generate(cluster, &database, &spec).await?;
            generated = Some((size, database, fixture, start_date));
        }
        let Some((_, database, fixture, start_date)) = &generated else {
            unreachable!("generated above");
        };
        let emulator = Emulator::start(SITE_ID, TOKEN).await?;
        let target = Target {
            cluster,
            database,
            fixture,
            emulator: &emulator,
            start_date: *start_date,
            requests_per_second,
            chunk_documents,
        };
        let run = run_binary(size, &target).await?;
        run.print();
        runs.push(run);
        emulator.shutdown().await;
    }
    print_memory_table(&runs);
    Ok(())
}

fn print_memory_table(runs: &[SyncRun]) {
    println!("\npeak RSS of a first full sync (goal ≤ 64 MiB at every size)");
    println!("| deals | limit | chunk | wall | orders | requests | orders/s | peak RSS |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for run in runs {
        let limit = match run.requests_per_second {
            0 => "off".to_string(),
            rps => format!("{rps} req/s"),
        };
        let rss = run
            .peak_rss_kib
            .map_or("not measured on this OS".to_string(), |kib| {
                format!("{:.1} MiB", kib as f64 / 1024.0)
            });
        let chunk = run
            .chunk_documents
            .map_or("default".to_string(), |n| n.to_string());
        println!(
            "| {} | {limit} | {chunk} | {:.1} s | {} | {} | {:.0} | {rss} |",
            run.deals,
            run.wall.as_secs_f64(),
            run.orders,
            run.requests,
            run.orders_per_second()
        );
    }
}

/// Runs `alfa-calltouch run` once against `target`, sampling its peak memory.
async fn run_binary(deals: u64, target: &Target<'_>) -> Result<SyncRun> {
    let dir = scratch_dir(&format!(
        "sync-{deals}-{}-{}",
        target.requests_per_second,
        target.chunk_documents.unwrap_or(0)
    ))?;
    let config = write_config(&dir, target)?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_alfa-calltouch"))
        .arg("--config")
        .arg(dir.join("config.toml"))
        .arg("run")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("run.log"))?)
        .spawn()?;
    let pid = child.id().context("the child has a pid")?;
    let mut peak = None;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                peak = peak_rss_kib(pid).or(peak);
            }
        }
    };
    let wall = started.elapsed();
    if !status.success() {
        bail!(
            "`run` failed ({status}); see {}",
            dir.join("run.log").display()
        );
    }
    let orders = accepted_orders(target.emulator);
    let received = target.emulator.requests();
    let request_span = match (received.first(), received.last()) {
        (Some(first), Some(last)) => last.received_at - first.received_at,
        _ => Duration::ZERO,
    };
    let register = SqliteRegister::open(&config.register_path())?;
    if let Some(run) = register.last_run().await? {
        println!("  run: {}: {}", run.outcome, run.summary);
    }
    Ok(SyncRun {
        deals,
        requests_per_second: target.requests_per_second,
        wall,
        chunk_documents: target.chunk_documents,
        orders,
        requests: received.len(),
        request_span,
        peak_rss_kib: peak,
    })
}

/// Orders in the requests the emulator answered with success.
fn accepted_orders(emulator: &Emulator) -> u64 {
    emulator
        .requests()
        .iter()
        .filter(|r| r.status.is_some_and(|s| (200..300).contains(&s)))
        .filter_map(|r| serde_json::from_str::<serde_json::Value>(&r.body).ok())
        .map(|body| body["orders"].as_array().map_or(0, |o| o.len() as u64))
        .sum()
}

/// `VmHWM` (the peak resident set) of a running process.
#[cfg(target_os = "linux")]
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn peak_rss_kib(_pid: u32) -> Option<u64> {
    None
}

/// The options as given, so that a printed run can be repeated exactly.
fn command_line(args: &Args) -> String {
    let list = |values: Vec<String>| values.join(",");
    let mut line = format!("--scale {} --deals {}", args.scale.name(), args.deals);
    if !args.rss_deals.is_empty() {
        let deals = args.rss_deals.iter().map(u64::to_string).collect();
        line.push_str(&format!(" --rss-deals {}", list(deals)));
    }
    if !args.limited_chunk_documents.is_empty() {
        let chunks = args
            .limited_chunk_documents
            .iter()
            .map(usize::to_string)
            .collect();
        line.push_str(&format!(" --limited-chunk-documents {}", list(chunks)));
    }
    if let Some(changed) = args.changed {
        line.push_str(&format!(" --changed {changed}"));
    }
    line.push_str(&format!(
        " --runs {} --window-days {}",
        args.runs, args.window_days
    ));
    if args.skip_sync {
        line.push_str(" --skip-sync");
    }
    line
}
