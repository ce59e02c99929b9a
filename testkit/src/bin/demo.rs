//! The demo: the whole pipeline on sample data, with nothing to set up but the PostgreSQL server
//! binaries (`cargo run -p alfa-calltouch-testkit --bin demo`). It starts a throwaway PostgreSQL
//! holding a small 1C-shaped Альфа-Авто database and a local Calltouch emulator, runs a cycle,
//! changes states and sums as 1C users would, runs another cycle, and prints what Calltouch
//! received and the register. With `--keep` it leaves the database, the emulator and the config
//! running for the tool's commands to be tried on. It drives the product only through its library.

use anyhow::{Context, Result};
use chrono::NaiveDateTime;
use std::path::Path;
use std::process::ExitCode;

use alfa_calltouch::config::Config;
use alfa_calltouch::domain::snapshot::DocKind;
use alfa_calltouch::ops::exit;
use alfa_calltouch::ops::logging::{init_logging, LogFormat};
use alfa_calltouch::ops::watch;
use alfa_calltouch::pipeline;
use alfa_calltouch::register::{self, Admin, CycleStore, ListFilter, RunLog};
use alfa_calltouch::source::settings::Preset;
use alfa_calltouch::status::report;
use alfa_calltouch::{out, outln};
use testkit::config::{write_private, Connection, RegisterKeys, SourceKeys, TestConfig};
use testkit::emulator::Emulator;
use testkit::fixture::{Fixture, FixtureSpec};
use testkit::pgcluster::PgCluster;

const USAGE: &str = "usage: demo [--keep]\n  \
     --keep  leave the database, the emulator and the config running (until Ctrl-C) and print \
     how to try `preview`, `register` and `run` on them";

#[tokio::main]
async fn main() -> ExitCode {
    let mut keep = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--keep" => keep = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => {
                eprintln!("error: unexpected argument {arg:?}\n{USAGE}");
                return ExitCode::from(exit::CONFIG);
            }
        }
    }
    init_logging(LogFormat::Text, 0);
    match run(keep).await {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

const SITE_ID: &str = "100500";
const DEMO_TOKEN: &str = "demo-token";

/// Runs the demo; returns the exit code of the last cycle. `keep`: stay up until Ctrl-C.
async fn run(keep: bool) -> Result<u8> {
    let cluster = PgCluster::start().context("the demo needs a local PostgreSQL server")?;
    let connection = cluster.create_database("alfa_demo").await?;
    outln!(
        "== PostgreSQL started on 127.0.0.1:{}; generating a sample Альфа-Авто 6.x database",
        cluster.port()
    )?;
    let mut fixture =
        Fixture::generate(&connection, FixtureSpec::small(Preset::Alfa6, 2026)).await?;
    let emulator = Emulator::start(SITE_ID, DEMO_TOKEN).await?;
    let dir = std::env::temp_dir().join(format!("alfa-calltouch-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config = write_demo_config(&dir, &cluster, &fixture, &emulator)?;
    outln!(
        "== Calltouch emulator on {}; config in {}",
        emulator.base_url(),
        dir.display()
    )?;

    outln!("\n== Cycle 1: first sync")?;
    let first = pipeline::run::run(&config).await?;
    print_deals(&emulator)?;

    outln!("\n== Changing documents in 1C: states, a sum, a manager")?;
    let changed_at = fixture
        .spec()
        .first_day
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        + chrono::Duration::days(i64::from(fixture.spec().days));
    apply_changes(&mut fixture, changed_at).await?;

    let requests_before = emulator.requests().len();
    outln!("\n== Cycle 2: only the changes are sent")?;
    let second = pipeline::run::run(&config).await?;
    let sent = emulator.requests().len() - requests_before;
    for request in &emulator.requests()[requests_before..] {
        outln!(
            "POST {} → {}",
            request.endpoint,
            request.status.map_or("no answer".into(), |s| s.to_string())
        )?;
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap_or_default();
        outln!("{}", serde_json::to_string_pretty(&body)?)?;
    }
    print_deals(&emulator)?;

    outln!("\n== The register")?;
    let register = register::open(&config).await?;
    out!(
        "{}",
        report::register_table(&register.list(&ListFilter::default()).await?)
    )?;
    outln!(
        "{}",
        report::register_summary(
            &register.counts().await?,
            register.last_run().await?.as_ref()
        )
    )?;
    drop(register);
    outln!("\nfirst cycle exit code {first}, second {second}")?;
    // The point of the demo is the second cycle sending exactly the changes.
    anyhow::ensure!(
        sent > 0,
        "the demo changed documents, but the second cycle sent no request"
    );
    if keep {
        keep_running(&dir, &cluster, &fixture).await?;
    }
    emulator.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(second)
}

/// Prints how to use the other commands on the running demo, and waits for Ctrl-C.
async fn keep_running(dir: &Path, cluster: &PgCluster, fixture: &Fixture) -> Result<()> {
    let command = format!(
        "{} --config {}",
        tool_command()?,
        dir.join("alfa-calltouch.toml").display()
    );
    let number = fixture
        .documents()
        .iter()
        .find(|d| d.kind == DocKind::Booking && !d.deletion_mark)
        .map_or("000000001".to_string(), |d| d.number.trim().to_string());
    outln!(
        "\n== Kept running until Ctrl-C: the 1C database on 127.0.0.1:{port} (database alfa_demo, \
         user postgres), the Calltouch emulator, the config and register in {dir}.\n\
         In another terminal:\n  \
         {command} preview {number}       # the exact JSON for one document\n  \
         {command} register               # the sync register\n  \
         {command} run --dry-run          # what the next cycle would send\n  \
         {command} run                    # one cycle against the emulator\n  \
         {command} reset-checkpoint       # re-read everything: no deal is created twice\n\
         Documents can be changed with psql -h 127.0.0.1 -p {port} -U postgres alfa_demo.",
        port = cluster.port(),
        dir = dir.display(),
    )?;
    let stop = tokio_util::sync::CancellationToken::new();
    watch::cancel_on_stop_request(stop.clone());
    stop.cancelled().await;
    outln!("== Stopping the demo")?;
    Ok(())
}

/// How to start the tool: its binary when it was built beside this one, else through cargo from
/// the project's folder.
fn tool_command() -> Result<String> {
    let exe = std::env::current_exe().context("cannot tell where this program is")?;
    let tool = exe.with_file_name(format!("alfa-calltouch{}", std::env::consts::EXE_SUFFIX));
    Ok(if tool.is_file() {
        tool.display().to_string()
    } else {
        "cargo run -q --".to_string()
    })
}

fn write_demo_config(
    dir: &Path,
    cluster: &PgCluster,
    fixture: &Fixture,
    emulator: &Emulator,
) -> Result<Config> {
    std::fs::write(dir.join("namemap.toml"), fixture.name_map_toml())?;
    write_private(&dir.join("calltouch-token.txt"), DEMO_TOKEN)?;
    write_private(
        &dir.join("db-password.txt"),
        "not-checked-by-the-demo-server",
    )?;
    let mut connection = Connection::local_postgres(cluster.port(), "alfa_demo");
    connection.password_env = Some("ALFA_CALLTOUCH_DEMO_DB_PASSWORD".into());
    connection.password_file = Some("db-password.txt".into());
    // The demo's documents are months old and edited between the cycles: a base this small is
    // read exactly every cycle instead of through the recent-days window.
    let mut source = SourceKeys::new(connection).exact();
    source.start_date = fixture.spec().first_day.to_string();
    let mut keys =
        TestConfig::new(SITE_ID, &emulator.base_url(), source).register(RegisterKeys::sqlite());
    keys.calltouch.token_env = Some("ALFA_CALLTOUCH_DEMO_TOKEN".into());
    keys.calltouch.token_file = Some("calltouch-token.txt".into());
    let path = dir.join("alfa-calltouch.toml");
    write_private(&path, &keys.render())?;
    Ok(Config::load(&path)?)
}

/// Changes a few documents the way 1C users would.
async fn apply_changes(fixture: &mut Fixture, at: NaiveDateTime) -> Result<()> {
    let documents = fixture.documents().to_vec();
    let live = |kind: DocKind| {
        documents
            .iter()
            .filter(move |d| d.kind == kind && !d.deletion_mark)
    };
    let linked: Vec<_> = documents.iter().filter_map(|d| d.booking).collect();
    let state_of = |reference| fixture.expected(reference).and_then(|s| s.state);
    let refusable = live(DocKind::Booking).find(|d| {
        !linked.contains(&d.reference) && state_of(d.reference).as_deref() != Some("Отклонено")
    });
    // Work orders without a booking own their deals, so each change below is sent (a work
    // order of a booking may not drive the booking's deal).
    let mut work_orders = live(DocKind::WorkOrder).filter(|d| d.booking.is_none());
    let to_close = work_orders
        .by_ref()
        .find(|d| state_of(d.reference).as_deref() != Some("Закрыт"));
    if let Some(booking) = refusable {
        outln!("  booking {}: state → Отклонено", booking.number)?;
        fixture
            .set_state(booking.reference, "Отклонено", at)
            .await?;
    }
    if let Some(order) = to_close {
        outln!("  work order {}: state → Закрыт", order.number)?;
        fixture.set_state(order.reference, "Закрыт", at).await?;
    }
    if let Some(order) = work_orders.next() {
        outln!("  work order {}: sum → 48250.50", order.number)?;
        fixture.set_sum(order.reference, "48250.50").await?;
    }
    if let Some(order) = work_orders.next() {
        let current = fixture.expected(order.reference).and_then(|s| s.manager);
        let other = fixture
            .employee_names()
            .into_iter()
            .rev()
            .find(|name| Some(name) != current.as_ref());
        if let Some(manager) = other {
            outln!("  work order {}: manager → {manager}", order.number)?;
            fixture.set_manager(order.reference, Some(&manager)).await?;
        }
    }
    Ok(())
}

fn print_deals(emulator: &Emulator) -> std::io::Result<()> {
    let deals = emulator.deals();
    outln!("Deals in Calltouch: {}", deals.len())?;
    outln!(
        "{:<19} {:<24} {:>12}  manager",
        "orderNumber",
        "status",
        "revenue"
    )?;
    for (number, deal) in &deals {
        let text = |key: &str| deal[key].as_str().unwrap_or("-").to_string();
        outln!(
            "{number:<19} {:<24} {:>12}  {}",
            text("status"),
            text("revenue"),
            text("manager")
        )?;
    }
    Ok(())
}
