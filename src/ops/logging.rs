//! Logging set-up: text or JSON lines on stderr, at the level `-v` asks for unless `RUST_LOG`
//! says otherwise. The command line and the demo binary both log through it.

use clap::ValueEnum;
use std::io::IsTerminal;

use super::progress;

/// How log lines are written: for a person, or one JSON object a line for a collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Logs to stderr at `info` (`-v` debug, `-vv` trace) unless `RUST_LOG` says otherwise.
pub fn init_logging(format: LogFormat, verbose: u8) {
    progress::set_json_log(format == LogFormat::Json);
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
