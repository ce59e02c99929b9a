//! The command line's arguments: the global options, each command and its flags, with the help
//! text `--help` prints.

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::ops::logging::LogFormat;
use crate::ops::schedule::{Interval, Scheduler};
use crate::ops::watch;

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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one sync cycle (for cron or Windows Task Scheduler).
    Run(RunArgs),
    // The help names the stop requests of the platform it was built for.
    #[command(about = format!(
        "Run a sync cycle every interval until stopped ({}): for a long-lived service.",
        watch::STOP_REQUESTS
    ))]
    Watch {
        /// Time between cycle starts, e.g. 5m or 1h [default: schedule.every_minutes].
        #[arg(long)]
        every: Option<Interval>,
        /// Also serve the status page, /metrics and /healthz on this address, e.g.
        /// 127.0.0.1:8089 (docs/status-page.md).
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Serve the status page, /metrics and /healthz from the register, for installs that run
    /// `run` from cron or Task Scheduler; until stopped.
    Serve {
        /// The address to listen on [default: status_page.listen, 127.0.0.1:8089].
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// The scheduled interval /healthz judges by [default: schedule.every_minutes].
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
        #[arg(long, value_parser = parse_day)]
        since: Option<NaiveDate>,
    },
    /// Check everything a scheduled run needs: config, secrets, name map against the live
    /// schema, read access to 1C, a writable register, the Calltouch host, and that no two
    /// deals of the next read would share an orderNumber. Exit 1 on a problem.
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
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Read and decide the whole cycle and print the request bodies; send nothing and leave the
    /// register and the checkpoint as they are.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: write the request bodies to this file instead of stdout.
    #[arg(long, value_name = "FILE", requires = "dry_run")]
    pub output: Option<PathBuf>,
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
    /// Documents dated on or after this day (YYYY-MM-DD).
    #[arg(long, value_parser = parse_day)]
    pub from: Option<NaiveDate>,
    /// Documents dated on or before this day (YYYY-MM-DD).
    #[arg(long, value_parser = parse_day)]
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
        #[arg(required_unless_present = "all_failed", conflicts_with = "all_failed")]
        number: Option<String>,
        /// Re-queue every failed document.
        #[arg(long)]
        all_failed: bool,
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

/// A day on the command line, with a message that shows the format.
fn parse_day(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date: write it as YYYY-MM-DD, e.g. 2026-01-31"))
}
