//! Progress of a cycle: a bar on the terminal for long work (a first sync, a re-sync after
//! `reset-checkpoint`), nothing at all under cron, systemd or Task Scheduler, whose logs would
//! only fill with redraws.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Reads shorter than this finish in seconds; a bar would only flicker.
const LONG_WORK: usize = 200;

/// What a cycle reports as it goes.
pub trait Progress: Send + Sync {
    /// The read returned this many documents.
    fn read(&self, documents: usize);
    /// This many more documents are settled (sent, unchanged, skipped or failed).
    fn settled(&self, documents: usize);
}

/// Reports nothing: tests, scheduled runs.
pub struct Silent;

impl Progress for Silent {
    fn read(&self, _documents: usize) {}
    fn settled(&self, _documents: usize) {}
}

/// A bar on stderr, shown once a read turns out long.
pub struct TerminalBar {
    bar: ProgressBar,
}

impl TerminalBar {
    fn new() -> TerminalBar {
        let bar = ProgressBar::hidden();
        let style = ProgressStyle::with_template(
            "{wide_bar} {pos}/{len} documents, {per_sec}, about {eta} left",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        TerminalBar { bar }
    }
}

impl Progress for TerminalBar {
    fn read(&self, documents: usize) {
        self.bar.set_length(documents as u64);
        if documents >= LONG_WORK {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    fn settled(&self, documents: usize) {
        self.bar.inc(documents as u64);
    }
}

impl Drop for TerminalBar {
    /// Clears the bar, so the cycle's summary line stands alone.
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Set once logging starts: a JSON log gets no progress bar, so each of its lines stays JSON.
static JSON_LOG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// Tells [`for_log`] whether the log on stderr is JSON; the first call counts.
pub fn set_json_log(json: bool) {
    let _ = JSON_LOG.set(json);
}

/// What a cycle shows on stderr: nothing into a JSON log, else [`for_stderr`].
pub fn for_log() -> Box<dyn Progress> {
    match JSON_LOG.get() {
        Some(true) => Box::new(Silent),
        _ => for_stderr(),
    }
}

/// A bar when stderr is a terminal someone watches, silence otherwise.
pub fn for_stderr() -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() {
        Box::new(TerminalBar::new())
    } else {
        Box::new(Silent)
    }
}
