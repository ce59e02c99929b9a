//! `demo`: the whole pipeline on sample data, with nothing to set up but the PostgreSQL server
//! binaries. It starts a throwaway PostgreSQL holding a small 1C-shaped Альфа-Авто database and
//! a local Calltouch emulator, runs a cycle, changes states and sums as 1C users would, runs
//! another cycle, and prints what Calltouch received and the register.

use anyhow::{Context, Result};
use chrono::NaiveDateTime;
use std::path::Path;

use crate::calltouch::emulator::Emulator;
use crate::cli;
use crate::config::{Config, Preset};
use crate::fixture::{Fixture, FixtureSpec};
use crate::pgcluster::PgCluster;
use crate::register::{self, ListFilter, Register};
use crate::report;
use crate::snapshot::DocKind;

const SITE_ID: &str = "100500";
const DEMO_TOKEN: &str = "demo-token";

/// Runs the demo; returns the exit code of the last cycle.
pub async fn run() -> Result<u8> {
    let cluster = PgCluster::start().context("the demo needs a local PostgreSQL server")?;
    let connection = cluster.create_database("alfa_demo").await?;
    println!(
        "== PostgreSQL started on 127.0.0.1:{}; generating a sample Альфа-Авто 6.x database",
        cluster.port()
    );
    let mut fixture =
        Fixture::generate(&connection, FixtureSpec::small(Preset::Alfa6, 2026)).await?;
    let emulator = Emulator::start(SITE_ID, DEMO_TOKEN).await?;
    let dir = std::env::temp_dir().join(format!("alfa-calltouch-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config = write_demo_config(&dir, &cluster, &fixture, &emulator)?;
    println!(
        "== Calltouch emulator on {}; config in {}",
        emulator.base_url(),
        dir.display()
    );

    println!("\n== Cycle 1: first sync");
    let first = cli::run(&config).await?;
    print_deals(&emulator);

    println!("\n== Changing documents in 1C: states, a sum, a manager");
    let changed_at = fixture
        .spec()
        .first_day
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        + chrono::Duration::days(i64::from(fixture.spec().days));
    apply_changes(&mut fixture, changed_at).await?;

    let requests_before = emulator.requests().len();
    println!("\n== Cycle 2: only the changes are sent");
    let second = cli::run(&config).await?;
    for request in &emulator.requests()[requests_before..] {
        println!(
            "POST {} → {}",
            request.endpoint,
            request.status.map_or("no answer".into(), |s| s.to_string())
        );
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap_or_default();
        println!("{}", serde_json::to_string_pretty(&body)?);
    }
    print_deals(&emulator);

    println!("\n== The register");
    let register = register::open(&config).await?;
    print!(
        "{}",
        report::register_table(&register.list(&ListFilter::default()).await?)
    );
    println!(
        "{}",
        report::register_summary(
            &register.counts().await?,
            register.last_run().await?.as_ref()
        )
    );
    emulator.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    println!("\nfirst cycle exit code {first}, second {second}");
    Ok(second)
}

fn write_demo_config(
    dir: &Path,
    cluster: &PgCluster,
    fixture: &Fixture,
    emulator: &Emulator,
) -> Result<Config> {
    std::fs::write(dir.join("namemap.toml"), fixture.name_map_toml())?;
    std::fs::write(dir.join("calltouch-token.txt"), DEMO_TOKEN)?;
    std::fs::write(
        dir.join("db-password.txt"),
        "not-checked-by-the-demo-server",
    )?;
    let text = format!(
        r#"[calltouch]
site_id = "{SITE_ID}"
token_env = "ALFA_CALLTOUCH_DEMO_TOKEN"
token_file = "calltouch-token.txt"
base_url = "{base_url}"

[deal]
# Bookings and work orders are numbered separately in 1C, so the kind keeps them apart.
order_number = "{{kind}}-{{number}}"

[source]
kind = "postgres"
preset = "alfa6"
name_map = "namemap.toml"
start_date = "{start}"
host = "127.0.0.1"
port = {port}
database = "alfa_demo"
user = "postgres"
password_env = "ALFA_CALLTOUCH_DEMO_DB_PASSWORD"
password_file = "db-password.txt"
tls = "off"

[register]
path = "register.sqlite"
"#,
        base_url = emulator.base_url(),
        start = fixture.spec().first_day,
        port = cluster.port(),
    );
    let path = dir.join("alfa-calltouch.toml");
    std::fs::write(&path, text)?;
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
    if let Some(booking) = refusable {
        println!("  booking {}: state → Отклонено", booking.number);
        fixture
            .set_state(booking.reference, "Отклонено", at)
            .await?;
    }
    let mut work_orders = live(DocKind::WorkOrder);
    if let Some(order) = work_orders.next() {
        println!("  work order {}: state → Закрыт", order.number);
        fixture.set_state(order.reference, "Закрыт", at).await?;
    }
    if let Some(order) = work_orders.next() {
        println!("  work order {}: sum → 48250.50", order.number);
        fixture.set_sum(order.reference, "48250.50").await?;
    }
    if let (Some(order), Some(manager)) =
        (work_orders.next(), fixture.employee_names().last().cloned())
    {
        println!("  work order {}: manager → {manager}", order.number);
        fixture.set_manager(order.reference, Some(&manager)).await?;
    }
    Ok(())
}

fn print_deals(emulator: &Emulator) {
    let deals = emulator.deals();
    println!("Deals in Calltouch: {}", deals.len());
    println!(
        "{:<14} {:<24} {:>12}  manager",
        "orderNumber", "status", "revenue"
    );
    for (number, deal) in &deals {
        let text = |key: &str| deal[key].as_str().unwrap_or("-").to_string();
        println!(
            "{number:<14} {:<24} {:>12}  {}",
            text("status"),
            text("revenue"),
            text("manager")
        );
    }
}
