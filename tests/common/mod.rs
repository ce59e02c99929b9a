//! The outcome line every reliability test prints: what was injected and what came out, so a CI
//! log shows the figures of a passing run, not only of a failing one.

use std::io::Write;
use std::time::Instant;

/// Figures of one reliability test.
pub struct Outcome {
    test: &'static str,
    started: Instant,
    pub faults: usize,
    pub documents: usize,
    pub deals: usize,
    pub duplicates: usize,
    pub lost: usize,
    /// Further figures, e.g. `("kills", 20)`.
    pub extra: Vec<(&'static str, usize)>,
}

impl Outcome {
    pub fn start(test: &'static str) -> Outcome {
        Outcome {
            test,
            started: Instant::now(),
            faults: 0,
            documents: 0,
            deals: 0,
            duplicates: 0,
            lost: 0,
            extra: Vec::new(),
        }
    }

    /// Writes the line to the process's stderr directly: the test harness captures only the
    /// `print!` family, so this shows in CI output even when the test passes.
    pub fn print(&self) {
        let mut line = format!(
            "reliability | {:<44} | faults {:>4} | documents {:>5} | deals {:>5} | duplicates {} | lost {}",
            self.test, self.faults, self.documents, self.deals, self.duplicates, self.lost
        );
        for (name, value) in &self.extra {
            line.push_str(&format!(" | {name} {value}"));
        }
        line.push_str(&format!(" | {:.1}s", self.started.elapsed().as_secs_f64()));
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}
