//! `/healthz`: healthy while the last cycle completed (every change settled, or some deferred)
//! and finished within two intervals; otherwise the reason. A pure rule over the last run.

use chrono::{NaiveDateTime, TimeDelta};

use crate::domain::run::RunRecord;
use crate::ops::schedule::Interval;

use super::text::mask_contacts;

/// What the last run says about the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    NoRun,
    Failed {
        started: NaiveDateTime,
        summary: String,
    },
    Stale {
        finished: NaiveDateTime,
    },
    Fine {
        finished: NaiveDateTime,
        outcome: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub healthy: bool,
    /// One line saying why, in English: for a monitor's alert (`/healthz`).
    pub reason: String,
    /// The same line in Russian, for the page.
    pub reason_ru: String,
    pub verdict: Verdict,
}

/// Whether the last run counts as a successful cycle: `error` is the one failed outcome.
pub fn succeeded(outcome: &str) -> bool {
    outcome != "error"
}

pub fn health(last_run: Option<&RunRecord>, every: Interval, now: NaiveDateTime) -> Health {
    let verdict = match last_run {
        None => Verdict::NoRun,
        Some(run) if !succeeded(&run.outcome) => Verdict::Failed {
            started: run.started_at,
            summary: mask_contacts(&run.summary),
        },
        Some(run) if now - run.finished_at > TimeDelta::minutes(2 * i64::from(every.minutes())) => {
            Verdict::Stale {
                finished: run.finished_at,
            }
        }
        Some(run) => Verdict::Fine {
            finished: run.finished_at,
            outcome: run.outcome.clone(),
        },
    };
    let at = |time: &NaiveDateTime| time.format("%Y-%m-%d %H:%M:%S").to_string();
    let ru = |time: &NaiveDateTime| time.format("%d.%m.%Y %H:%M:%S").to_string();
    let (reason, reason_ru) = match &verdict {
        Verdict::NoRun => (
            "no cycle has run yet".to_string(),
            "циклов ещё не было".to_string(),
        ),
        Verdict::Failed { started, summary } => (
            format!("the last cycle (started {}) failed: {summary}", at(started)),
            format!(
                "последний цикл (начат {}) завершился ошибкой: {summary}",
                ru(started)
            ),
        ),
        Verdict::Stale { finished } => (
            format!(
                "the last cycle finished at {}, more than two intervals ({every} each) ago: \
                 is the scheduled task or the service running?",
                at(finished)
            ),
            format!(
                "последний цикл закончился {}, больше двух интервалов ({every}) назад: \
                 запущены ли задание планировщика или служба?",
                ru(finished)
            ),
        ),
        Verdict::Fine { finished, outcome } => (
            format!("the last cycle finished at {} ({outcome})", at(finished)),
            format!("последний цикл закончился {}", ru(finished)),
        ),
    };
    Health {
        healthy: matches!(verdict, Verdict::Fine { .. }),
        reason,
        reason_ru,
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(hour: u32, minute: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 5)
            .unwrap()
            .and_hms_opt(hour, minute, 0)
            .unwrap()
    }

    fn run(finished: NaiveDateTime, outcome: &str, summary: &str) -> RunRecord {
        RunRecord {
            started_at: finished - TimeDelta::seconds(30),
            finished_at: finished,
            outcome: outcome.into(),
            summary: summary.into(),
        }
    }

    const EVERY: fn() -> Interval = || Interval::from_minutes(5).unwrap();

    #[test]
    fn no_run_is_unhealthy() {
        let health = health(None, EVERY(), at(10, 0));
        assert!(!health.healthy);
        assert_eq!(health.reason, "no cycle has run yet");
    }

    #[test]
    fn a_recent_completed_cycle_is_healthy_deferred_too() {
        for outcome in ["ok", "deferred"] {
            let last = run(at(10, 0), outcome, "read 1");
            let health = health(Some(&last), EVERY(), at(10, 10));
            assert!(health.healthy, "{outcome}: {}", health.reason);
        }
    }

    #[test]
    fn a_cycle_older_than_two_intervals_is_unhealthy() {
        let last = run(at(10, 0), "ok", "read 1");
        let health = health(Some(&last), EVERY(), at(10, 11));
        assert!(!health.healthy);
        assert!(
            health.reason.contains("more than two intervals"),
            "{}",
            health.reason
        );
    }

    #[test]
    fn a_failed_cycle_is_unhealthy_with_its_error_masked() {
        let last = run(at(10, 0), "error", "cannot reach client ivan@example.ru");
        let health = health(Some(&last), EVERY(), at(10, 1));
        assert!(!health.healthy);
        assert_eq!(
            health.reason,
            "the last cycle (started 2026-11-05 09:59:30) failed: cannot reach client i***@example.ru"
        );
        assert_eq!(
            health.reason_ru,
            "последний цикл (начат 05.11.2026 09:59:30) завершился ошибкой: cannot reach client i***@example.ru"
        );
    }
}
