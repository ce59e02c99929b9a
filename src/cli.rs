//! The command line: parses arguments, sets up logging, and runs one command. Each command is a
//! thin wrapper over the library; errors come back as messages that say what to do.

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::calltouch::client::CalltouchClient;
use crate::config::Config;
use crate::lock::LockError;
use crate::register::{self, ListFilter, Register, SyncState};
use crate::schedule::{Interval, Scheduler};
use crate::snapshot::DocKind;
use crate::{demo, discover, doctor, progress, report, schedule, source, sync, watch};
use tokio_util::sync::CancellationToken;

/// Exit codes, so a scheduler can tell outcomes apart.
pub mod exit {
    /// The cycle completed; every change was settled.
    pub const OK: u8 = 0;
    /// A failure stopped the command (database, Calltouch authentication, register).
    pub const FAILURE: u8 = 1;
    /// The configuration or the name map is wrong.
    pub const CONFIG: u8 = 2;
    /// Another run holds the lock; this one did nothing.
    pub const BUSY: u8 = 3;
    /// Calltouch deferred some documents, or was unreachable and the cycle stopped sending
    /// (counting no attempt); they are retried next run.
    pub const DEFERRED: u8 = 4;
}

#[derive(Debug, Parser)]
#[command(
    name = "alfa-calltouch",
    version,
    about = "Registers Альфа-Авто repair bookings and work orders as Calltouch deals"
)]
pub struct Cli {
    /// Configuration file.
    #[arg(
        long,
        short,
        global = true,
        env = "ALFA_CALLTOUCH_CONFIG",
        default_value = "alfa-calltouch.toml"
    )]
    pub config: PathBuf,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// More log detail (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one sync cycle (for cron or Windows Task Scheduler).
    Run,
    /// Run a sync cycle every interval until stopped (Ctrl-C, SIGTERM): for a long-lived service.
    Watch {
        /// Time between cycle starts, e.g. 5m or 1h [default: schedule.every_minutes].
        #[arg(long)]
        every: Option<Interval>,
    },
    /// Print ready-to-paste entries that run a cycle every interval: crontab, systemd, Windows
    /// Task Scheduler. With --show: when the last run was and when the next is due.
    Schedule(ScheduleArgs),
    /// Show the sync register: one row per document.
    Register(RegisterArgs),
    /// Show the exact JSON the next cycle would send for a document number, without sending.
    Preview {
        /// The 1C document number (booking or work order).
        number: String,
    },
    /// Forget the checkpoint so the next run re-reads documents (no duplicate deals are made).
    ResetCheckpoint {
        /// Re-read documents dated on or after this day (YYYY-MM-DD) instead of source.start_date.
        #[arg(long)]
        since: Option<NaiveDate>,
    },
    /// Check everything a scheduled run needs: config, secrets, name map against the live
    /// schema, read access to 1C, a writable register, the Calltouch host. Exit 1 on a problem.
    Check,
    /// Build the name map from the 1C database's own metadata (read-only) and check it.
    Discover {
        /// Where to write the map (default: source.name_map).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Build the name map from a file exported with ПолучитьСтруктуруХраненияБазыДанных().
    ImportStructure {
        /// The JSON file the 1C code in docs/name-map.md writes.
        file: PathBuf,
        /// Where to write the map (default: source.name_map).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Run the whole pipeline on a throwaway PostgreSQL with sample Альфа-Авто data and a local
    /// Calltouch emulator.
    Demo,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RegisterArgs {
    #[command(subcommand)]
    pub action: Option<RegisterAction>,
    /// Only documents in this sync state.
    #[arg(long, value_enum)]
    pub state: Option<StateArg>,
    /// Only this document kind.
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    /// Only documents with this number.
    #[arg(long)]
    pub number: Option<String>,
    /// Documents dated on or after this day.
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// Documents dated on or before this day.
    #[arg(long)]
    pub to: Option<NaiveDate>,
    /// Only documents with an error.
    #[arg(long)]
    pub errors: bool,
    /// JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RegisterAction {
    /// Re-queue the failed documents with this number: the next run reads them again and sends
    /// them, with their attempts counted from zero.
    Retry {
        /// The 1C document number (booking or work order).
        number: String,
    },
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// Time between runs, e.g. 5m, 15m or 1h [default: schedule.every_minutes].
    #[arg(long)]
    pub every: Option<Interval>,
    /// Which scheduler's entries to print [default: cron and systemd; windows on Windows].
    #[arg(long = "for", value_enum)]
    pub target: Vec<Scheduler>,
    /// Also write the Windows task XML to this file, in the UTF-16 `schtasks /XML` reads.
    #[arg(long, value_name = "FILE")]
    pub xml_file: Option<PathBuf>,
    /// Show when the last run happened and how it ended, and when the next is due.
    #[arg(long)]
    pub show: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StateArg {
    Pending,
    Sent,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    Booking,
    WorkOrder,
}

/// Parses the arguments and runs the command; the binary's whole `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format, cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    match runtime.block_on(execute(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(exit_code_for(&error))
        }
    }
}

fn init_logging(format: LogFormat, verbose: u8) {
    let default_level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("alfa_calltouch={default_level},warn"))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into cron's or a service's log file.
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

fn exit_code_for(error: &anyhow::Error) -> u8 {
    if error
        .chain()
        .any(|cause| cause.is::<crate::config::ConfigError>())
    {
        return exit::CONFIG;
    }
    if error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<LockError>(),
            Some(LockError::Busy { .. })
        )
    }) {
        return exit::BUSY;
    }
    exit::FAILURE
}

async fn execute(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Demo => demo::run().await,
        Command::Run => run(&load(&cli.config)?).await,
        Command::Watch { every } => watch(&load(&cli.config)?, every).await,
        Command::Schedule(args) => show_schedule(&cli.config, &load(&cli.config)?, &args).await,
        Command::Register(args) => show_register(&load(&cli.config)?, &args).await,
        Command::Preview { number } => preview(&load(&cli.config)?, &number).await,
        Command::ResetCheckpoint { since } => reset_checkpoint(&load(&cli.config)?, since).await,
        Command::Check => check(&cli.config, &load(&cli.config)?).await,
        Command::Discover { output } => {
            discover::command::discover(&load(&cli.config)?, output.as_deref()).await
        }
        Command::ImportStructure { file, output } => {
            discover::command::import_structure(&load(&cli.config)?, &file, output.as_deref()).await
        }
    }
}

fn load(path: &Path) -> Result<Config> {
    Ok(Config::load(path)?)
}

/// One cycle under the run lock, with its outcome recorded in the register.
pub async fn run(config: &Config) -> Result<u8> {
    let mut register = register::open(config).await?;
    let _lock = register.lock_run().await?;
    let client = CalltouchClient::new(
        &config.calltouch,
        config.calltouch_token()?,
        config.deal.crm.clone(),
    )?;
    let started = chrono::Local::now().naive_local();
    let outcome = async {
        let mut source = source::open(config).await?;
        let progress = progress::for_stderr();
        let summary = sync::run_cycle_with_progress(
            config,
            &mut source,
            &mut register,
            &client,
            progress.as_ref(),
        )
        .await?;
        Ok::<_, anyhow::Error>(summary)
    }
    .await;
    let finished = chrono::Local::now().naive_local();
    match outcome {
        Ok(summary) => {
            tracing::info!("cycle finished: {summary}");
            let code = if summary.deferred > 0 {
                exit::DEFERRED
            } else {
                exit::OK
            };
            let result = if code == exit::OK { "ok" } else { "deferred" };
            register
                .record_run(started, finished, result, &summary.to_string())
                .await?;
            Ok(code)
        }
        Err(error) => {
            register
                .record_run(started, finished, "error", &format!("{error:#}"))
                .await?;
            Err(error)
        }
    }
}

/// Cycles every interval until a stop request; a failed cycle is logged and retried.
async fn watch(config: &Config, every: Option<Interval>) -> Result<u8> {
    let every = every.unwrap_or(config.schedule.every_minutes);
    let stop = CancellationToken::new();
    watch::cancel_on_stop_request(stop.clone());
    tracing::info!("a cycle every {every}; Ctrl-C or SIGTERM stops after the current cycle");
    watch::run_every(every.duration(), &stop, || run(config)).await;
    Ok(exit::OK)
}

async fn show_schedule(config_path: &Path, config: &Config, args: &ScheduleArgs) -> Result<u8> {
    let every = args.every.unwrap_or(config.schedule.every_minutes);
    let now = chrono::Local::now().naive_local();
    if args.show {
        let register = register::open(config).await?;
        print!(
            "{}",
            schedule::status(register.last_run().await?.as_ref(), every, now)
        );
        return Ok(exit::OK);
    }
    let plan = schedule_plan(config_path, args.xml_file.as_deref(), every, now)?;
    let targets = if args.target.is_empty() {
        Scheduler::native()
    } else {
        args.target.clone()
    };
    print!("{}", schedule::render(&plan, &targets));
    if let Some(xml_file) = &args.xml_file {
        std::fs::write(
            xml_file,
            schedule::utf16_with_bom(&schedule::windows_task_xml(&plan)),
        )
        .with_context(|| format!("cannot write {}", xml_file.display()))?;
        eprintln!("wrote the task XML to {}", plan.task_xml_file);
    }
    Ok(exit::OK)
}

/// The absolute paths the scheduled entries need: this binary, the config, its folder.
fn schedule_plan(
    config_path: &Path,
    xml_file: Option<&Path>,
    every: Interval,
    now: chrono::NaiveDateTime,
) -> Result<schedule::Plan> {
    let exe = std::env::current_exe().context("cannot tell where this program is")?;
    let config = std::path::absolute(config_path)?;
    let work_dir = config.parent().map(Path::to_path_buf).unwrap_or_default();
    let task_xml_file = match xml_file {
        Some(path) => std::path::absolute(path)?,
        None => work_dir.join("alfa-calltouch-task.xml"),
    };
    let text = |path: &Path| path.display().to_string();
    Ok(schedule::Plan {
        exe: text(&exe),
        config: text(&config),
        log_file: text(&work_dir.join("alfa-calltouch.log")),
        task_xml_file: text(&task_xml_file),
        work_dir: text(&work_dir),
        every,
        windows_start: now.date().and_time(chrono::NaiveTime::MIN),
    })
}

async fn show_register(config: &Config, args: &RegisterArgs) -> Result<u8> {
    if let Some(RegisterAction::Retry { number }) = &args.action {
        return retry(config, number).await;
    }
    let register = register::open(config).await?;
    let filter = ListFilter {
        state: args.state.map(|s| match s {
            StateArg::Pending => SyncState::Pending,
            StateArg::Sent => SyncState::Sent,
            StateArg::Failed => SyncState::Failed,
            StateArg::Skipped => SyncState::Skipped,
        }),
        kind: args.kind.map(|k| match k {
            KindArg::Booking => DocKind::Booking,
            KindArg::WorkOrder => DocKind::WorkOrder,
        }),
        number: args.number.clone(),
        from: args.from,
        to: args.to,
        with_errors: args.errors,
    };
    let documents = register.list(&filter).await?;
    if args.json {
        for document in &documents {
            println!("{}", serde_json::to_string(document)?);
        }
    } else {
        let last_run = register.last_run().await?;
        print!("{}", report::register_table(&documents));
        println!(
            "{}; {}",
            report::register_summary(&register.counts().await?, last_run.as_ref()),
            schedule::due_line(
                last_run.map(|(started, ..)| started),
                config.schedule.every_minutes,
                chrono::Local::now().naive_local()
            )
        );
    }
    Ok(exit::OK)
}

async fn retry(config: &Config, number: &str) -> Result<u8> {
    let register = register::open(config).await?;
    let _lock = register.lock_run().await?;
    let count = register
        .requeue(number, chrono::Local::now().naive_local())
        .await?;
    if count == 0 {
        anyhow::bail!("no failed or pending document with number {number:?} in the register");
    }
    println!(
        "{count} document(s) with number {number} re-queued: the next run reads and sends them"
    );
    Ok(exit::OK)
}

async fn preview(config: &Config, number: &str) -> Result<u8> {
    let register = register::open(config).await?;
    let mut source = source::open(config).await?;
    let items = sync::preview(config, &mut source, &register, number).await?;
    if items.is_empty() {
        anyhow::bail!("no booking or work order with number {number:?} in the 1C database");
    }
    for item in items {
        println!(
            "# {} → {} ({})",
            item.document,
            item.order_number.as_deref().unwrap_or("-"),
            item.action
        );
        for note in &item.notes {
            println!("# {note}");
        }
        if !item.body.is_null() {
            println!("{}", serde_json::to_string_pretty(&item.body)?);
        }
    }
    Ok(exit::OK)
}

async fn reset_checkpoint(config: &Config, since: Option<NaiveDate>) -> Result<u8> {
    let register = register::open(config).await?;
    let _lock = register.lock_run().await?;
    register
        .reset_checkpoint(
            &sync::checkpoint_key(config),
            since,
            chrono::Local::now().naive_local(),
        )
        .await?;
    let from = since.unwrap_or(config.source.start_date);
    println!("checkpoint cleared: the next run re-reads documents dated from {from}; deals already in Calltouch are updated, never created twice");
    Ok(exit::OK)
}

/// Prints every check's line; fails when any check failed.
async fn check(config_path: &Path, config: &Config) -> Result<u8> {
    let findings = doctor::examine(config_path, config).await;
    for finding in &findings {
        println!("{finding}");
    }
    let failed = findings.iter().filter(|f| !f.passed).count();
    if failed == 0 {
        return Ok(exit::OK);
    }
    println!("{failed} check(s) failed");
    Ok(exit::FAILURE)
}
