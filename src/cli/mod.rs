//! The command line: parses arguments, sets up logging, and runs one command. Each command is a
//! thin wrapper over the library; errors come back as messages that say what to do.
//!
//! Output goes through [`outln!`](crate::outln) / [`out!`](crate::out), which return the write
//! error instead of panicking, so a command whose output is closed early (`register | head -1`)
//! ends quietly with exit 0.

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::Parser;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use crate::config::Config;
use crate::domain::snapshot::DocKind;
use crate::ops::exit::{self, RUN_IN_PROGRESS};
use crate::ops::lock::LockError;
use crate::ops::logging::{init_logging, LogFormat};
use crate::ops::schedule::{Interval, Scheduler};
use crate::ops::{schedule, watch};
use crate::pipeline::run::run;
use crate::register::{self, Admin, CycleStore, DocumentRecord, ListFilter, RunLog, SyncState};
use crate::rules::accounts::Accounts;
use crate::status::report;
use crate::{discover, doctor, pipeline, source, status};
use tokio_util::sync::CancellationToken;

mod args;
pub use args::{
    Cli, Command, KindArg, RegisterAction, RegisterArgs, RunArgs, ScheduleArgs, StateArg,
};

/// `println!` that returns the write error instead of panicking on a closed stdout.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `print!` that returns the write error instead of panicking on a closed stdout.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// Parses the arguments and runs the command; the binary's whole `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_format = cli.log_format;
    init_logging(log_format, cli.verbose);
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
        // Whoever read the output has all they wanted (`| head`): nothing went wrong.
        Err(error) if closed_stdout(&error) => ExitCode::from(exit::OK),
        Err(error) => {
            let code = exit_code_for(&error);
            match log_format {
                LogFormat::Text => eprintln!("error: {error:#}"),
                // A JSON log stays JSON to its last line.
                LogFormat::Json => {
                    tracing::error!(exit_code = code, "{error:#}");
                }
            }
            ExitCode::from(code)
        }
    }
}

/// Whether the error is a write to a stdout its reader has closed.
fn closed_stdout(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn exit_code_for(error: &anyhow::Error) -> u8 {
    let wrong_setup = |cause: &(dyn std::error::Error + 'static)| {
        cause.is::<crate::config::ConfigError>()
            || matches!(
                cause.downcast_ref::<source::SourceError>(),
                Some(source::SourceError::NameMap(_))
            )
    };
    if error.chain().any(wrong_setup) {
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
        Command::Run(args) if args.dry_run => {
            dry_run(&load(&cli.config)?, args.output.as_deref()).await
        }
        Command::Run(_) => run(&load(&cli.config)?).await,
        Command::Watch { every, listen } => watch(&load(&cli.config)?, every, listen).await,
        Command::Serve { listen, every } => serve(&load(&cli.config)?, listen, every).await,
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

/// `run --dry-run`: the cycle read and decided, the bodies printed or written, nothing sent.
async fn dry_run(config: &Config, output: Option<&Path>) -> Result<u8> {
    let register = register::open(config).await?;
    let mut source = source::open(config).await?;
    let plan = pipeline::dry_run(config, &mut source, &register).await?;
    let mut text = String::new();
    for line in &plan.rejected {
        text += &format!("# failed: {line}\n");
    }
    for item in &plan.items {
        text += &preview_text(item)?;
    }
    let count = |action: &str| plan.items.iter().filter(|i| i.action == action).count();
    let summary = format!(
        "dry run: {} document(s) read: create {}, update {}, nothing {}, skip {}, error {}; \
         nothing sent, the register and the checkpoint unchanged",
        plan.items.len() + plan.rejected.len(),
        count("create"),
        count("update"),
        count("nothing"),
        count("skip"),
        count("error") + plan.rejected.len()
    );
    match output {
        Some(path) => {
            std::fs::write(path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            outln!("{summary}; the request bodies are in {}", path.display())?;
        }
        None => {
            out!("{text}")?;
            outln!("# {summary}")?;
        }
    }
    Ok(exit::OK)
}

/// Cycles every interval until a stop request; a failed cycle is logged and retried.
async fn watch(config: &Config, every: Option<Interval>, listen: Option<SocketAddr>) -> Result<u8> {
    config.group_tokens()?;
    let every = every.unwrap_or(config.schedule.every_minutes);
    let stop = CancellationToken::new();
    let server = match listen {
        Some(listen) => Some(start_status_page(
            config,
            Some(listen),
            every,
            stop.clone(),
        )?),
        None => None,
    };
    watch::cancel_on_stop_request(stop.clone());
    tracing::info!(
        "a cycle every {every}; {} stops after the current cycle",
        watch::STOP_REQUESTS
    );
    watch::run_every(every.duration(), &stop, || run(config)).await;
    if let Some(server) = server {
        tokio::task::spawn_blocking(move || server.join()).await?;
    }
    Ok(exit::OK)
}

/// Serves the status endpoints until a stop request.
async fn serve(config: &Config, listen: Option<SocketAddr>, every: Option<Interval>) -> Result<u8> {
    let every = every.unwrap_or(config.schedule.every_minutes);
    // A register that cannot be opened is reported now, not on the first request.
    register::open(config).await?;
    let stop = CancellationToken::new();
    let server = start_status_page(config, listen, every, stop.clone())?;
    watch::cancel_on_stop_request(stop.clone());
    stop.cancelled().await;
    tokio::task::spawn_blocking(move || server.join()).await?;
    Ok(exit::OK)
}

fn start_status_page(
    config: &Config,
    listen: Option<SocketAddr>,
    every: Interval,
    stop: CancellationToken,
) -> Result<status::server::StatusServer> {
    let settings = status::server::Settings::new(config, listen, every)?;
    let address = settings.listen;
    let server = status::server::start(config.clone(), settings, stop)
        .with_context(|| format!("cannot listen on {address} for the status page"))?;
    tracing::info!(
        "status page on http://{}/ (metrics /metrics, health /healthz)",
        server.address
    );
    Ok(server)
}

async fn show_schedule(config_path: &Path, config: &Config, args: &ScheduleArgs) -> Result<u8> {
    let every = args.every.unwrap_or(config.schedule.every_minutes);
    let now = chrono::Local::now().naive_local();
    if args.show {
        let register = register::open(config).await?;
        let last_run = register.last_run().await?;
        // The lock tells a run at work from one that died before recording its outcome.
        let activity = match register.lock_run().await {
            Err(LockError::Busy { .. }) => schedule::Activity::Running,
            _ if last_run
                .as_ref()
                .is_some_and(|run| run.outcome == RUN_IN_PROGRESS) =>
            {
                schedule::Activity::Died
            }
            _ => schedule::Activity::Idle,
        };
        out!(
            "{}",
            schedule::status(last_run.as_ref(), activity, every, now)
        )?;
        return Ok(exit::OK);
    }
    let plan = schedule_plan(config_path, args.xml_file.as_deref(), every, now)?;
    let targets = if args.target.is_empty() {
        Scheduler::native()
    } else {
        args.target.clone()
    };
    out!("{}", schedule::render(&plan, &targets))?;
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
    if let Some(RegisterAction::Retry { number, all_failed }) = &args.action {
        return retry(config, number.as_deref(), *all_failed).await;
    }
    let register = register::open(config).await?;
    let documents = register.list(&list_filter(args)).await?;
    let accounts = Accounts::of(config);
    let deal_accounts = deal_accounts(&register, &accounts, &documents).await?;
    if args.json {
        print_register_json(&documents, &deal_accounts)?;
    } else {
        let last_run = register.last_run().await?;
        let table = match accounts.is_single() {
            true => report::register_table(&documents),
            false => report::register_table_with_accounts(&documents, &deal_accounts),
        };
        out!("{table}")?;
        outln!(
            "{}; {}",
            report::register_summary(&register.counts().await?, last_run.as_ref()),
            schedule::due_line(
                last_run.map(|run| run.started_at),
                config.schedule.every_minutes,
                chrono::Local::now().naive_local()
            )
        )?;
    }
    Ok(exit::OK)
}

/// The register listing's filter, from the command's options.
fn list_filter(args: &RegisterArgs) -> ListFilter {
    ListFilter {
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
    }
}

/// Dealer groups: each listed document's deal account (`None` without a deal); empty with a
/// single account, whose listing is unchanged.
async fn deal_accounts(
    register: &impl CycleStore,
    accounts: &Accounts,
    documents: &[DocumentRecord],
) -> Result<Vec<Option<String>>> {
    let mut deal_accounts = Vec::new();
    if !accounts.is_single() {
        for document in documents {
            let deal = match &document.order_number {
                Some(number) => register.deal(number).await?,
                None => None,
            };
            deal_accounts
                .push(deal.map(|deal| deal.account.unwrap_or(accounts.list[0].name.clone())));
        }
    }
    Ok(deal_accounts)
}

/// `register --json`: one document a line, with its deal account when there are several.
fn print_register_json(
    documents: &[DocumentRecord],
    deal_accounts: &[Option<String>],
) -> Result<()> {
    for (index, document) in documents.iter().enumerate() {
        let line = match deal_accounts.get(index) {
            None => serde_json::to_string(document)?,
            Some(account) => {
                let mut value = serde_json::to_value(document)?;
                if let Some(fields) = value.as_object_mut() {
                    fields.insert("account".into(), serde_json::json!(account));
                }
                serde_json::to_string(&value)?
            }
        };
        outln!("{line}")?;
    }
    Ok(())
}

async fn retry(config: &Config, number: Option<&str>, all_failed: bool) -> Result<u8> {
    let register = register::open(config).await?;
    let _lock = register.lock_run().await?;
    let now = chrono::Local::now().naive_local();
    if all_failed {
        let failed = register
            .list(&ListFilter {
                state: Some(SyncState::Failed),
                ..ListFilter::default()
            })
            .await?;
        let numbers: std::collections::BTreeSet<&str> =
            failed.iter().map(|d| d.number.as_str()).collect();
        let mut count = 0;
        for number in numbers {
            count += register.requeue(number, now).await?;
        }
        outln!("{count} failed document(s) re-queued: the next run reads and sends them")?;
        return Ok(exit::OK);
    }
    let number = number.unwrap_or_default();
    let count = register.requeue(number, now).await?;
    if count == 0 {
        anyhow::bail!(
            "no failed or pending document with number {number:?} in the register; \
             `register --state failed` lists the failed ones"
        );
    }
    outln!(
        "{count} document(s) with number {number} re-queued: the next run reads and sends them"
    )?;
    Ok(exit::OK)
}

async fn preview(config: &Config, number: &str) -> Result<u8> {
    let register = register::open(config).await?;
    let mut source = source::open(config).await?;
    let items = pipeline::preview(config, &mut source, &register, number).await?;
    if items.is_empty() {
        anyhow::bail!("no booking or work order with number {number:?} in the 1C database");
    }
    for item in &items {
        out!("{}", preview_text(item)?)?;
    }
    Ok(exit::OK)
}

/// One planned document as `preview` and `run --dry-run` print it: a comment line naming it,
/// its orderNumber and action, its notes, then the exact request body.
fn preview_text(item: &pipeline::PreviewItem) -> Result<String> {
    let mut text = format!(
        "# {} → {} ({})",
        item.document,
        item.order_number.as_deref().unwrap_or("-"),
        item.action
    );
    if let Some(account) = &item.account {
        text += &format!(" in account `{account}`");
    }
    text += "\n";
    for note in &item.notes {
        text += &format!("# {note}\n");
    }
    if !item.body.is_null() {
        text += &serde_json::to_string_pretty(&item.body)?;
        text += "\n";
    }
    Ok(text)
}

async fn reset_checkpoint(config: &Config, since: Option<NaiveDate>) -> Result<u8> {
    let register = register::open(config).await?;
    let _lock = register.lock_run().await?;
    register
        .reset_checkpoint(
            &pipeline::checkpoint_key(config),
            since,
            chrono::Local::now().naive_local(),
        )
        .await?;
    let from = since.unwrap_or(config.source.start_date);
    outln!("checkpoint cleared: the next run re-reads documents dated from {from}; deals already in Calltouch are updated, never created twice")?;
    Ok(exit::OK)
}

/// Prints every check's line; fails when any check failed.
async fn check(config_path: &Path, config: &Config) -> Result<u8> {
    let findings = doctor::examine(config_path, config).await;
    for finding in &findings {
        outln!("{finding}")?;
    }
    let failed = findings.iter().filter(|f| !f.passed).count();
    if failed == 0 {
        return Ok(exit::OK);
    }
    outln!("{failed} check(s) failed")?;
    Ok(exit::FAILURE)
}

#[cfg(test)]
mod tests;
