//! How the sources find changes each cycle — an exact scan, or a recent window with a periodic
//! exact reconcile — and the checkpoint text that carries that state between cycles. The mode
//! logic here is shared; each source supplies its own exact test ("changed since"): on
//! PostgreSQL a `pg_snapshot` (`source::postgres`), on MS SQL a `_Version` row version
//! (`rv:…`, `source::mssql`). Below, "snapshot" stands for either.
//!
//! # Exact (`change_window_days = 0`)
//! Every cycle tests `NOT pg_visible_in_snapshot(xmin, previous)` (MS SQL: `_Version` above the
//! previous checkpoint) on every document dated since the cut-off. Every change is reported by
//! the next cycle; the cost is a scan of the document tables (and a journal probe per work
//! order) each cycle, since 1C keeps no index on `xmin` or `_version`, and a read-only tool
//! cannot add one.
//!
//! # Recent window (`change_window_days = N > 0`; the default is 31 with `reconcile_at = "03:00"`)
//! Most cycles apply the same exact snapshot test to candidates found through indexes 1C already
//! has: documents dated within N days before the previous read (`_ByDocDate`), work orders with
//! a state-journal record whose `_period` is in that window (the journal's `_ByPeriod`), and
//! (6.x) windowed work orders whose `СводныйРемонтныйЗаказ` changed. Such a cycle reports every
//! change of those candidates, so a new document, an edit of a recent one, and any state change
//! 1C journals are seen by the next cycle. An edit of a document dated before the window with no
//! journal record (a late sum or manager correction) is not a candidate: the **reconcile** finds
//! it — once a day at `reconcile_at` (or every `reconcile_hours`) a cycle runs the exact scan from
//! the snapshot of the previous reconcile, so such a change is reported by the first cycle after
//! the next reconcile time. Documents
//! already sent in between come out unchanged from the register and are not sent again.
//!
//! # Checkpoint text
//! Exact mode stores the plain snapshot text (`pg_snapshot`, or `rv:` + 16 hex digits), as
//! before. Window mode stores
//! `window;<snapshot of the last read>;<snapshot of the last reconcile>;<reconcile time>;<read time>`
//! (times are the database server's local time). A plain snapshot read in window mode counts as
//! a reconcile that is due; a window checkpoint read in exact mode is read from its reconcile
//! snapshot, the older one, so switching modes never skips a change.

use chrono::{Duration, NaiveDateTime, NaiveTime};

const PREFIX: &str = "window";
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.f";

/// The change-detection settings of `[source]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChangeDetection {
    /// 0: exact every cycle. Otherwise the window, in days before the previous read.
    pub window_days: u32,
    /// Window mode: hours between exact reconciles (0: every cycle), unless `reconcile_at`.
    pub reconcile_hours: u32,
    /// Window mode: the reconcile runs at the first cycle at or after this time of day (the
    /// database server's local time), once a day; `reconcile_hours` is then not used.
    pub reconcile_at: Option<NaiveTime>,
}

/// A parsed checkpoint. Snapshot texts are checked by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The snapshot of the last read.
    pub read: String,
    /// The snapshot of the last exact read; equal to `read` in exact mode.
    pub reconcile: String,
    /// When the last exact read ran; `None` for a plain snapshot.
    pub reconciled_at: Option<NaiveDateTime>,
    /// When the last read ran; `None` for a plain snapshot.
    pub read_at: Option<NaiveDateTime>,
}

/// What one cycle reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadPlan {
    /// No checkpoint: every document dated since the cut-off.
    Start,
    /// Every document changed since this snapshot (a scan).
    Exact { since: String },
    /// Candidates dated or journalled from `from` on, changed since this snapshot.
    Window { since: String, from: NaiveDateTime },
}

impl Checkpoint {
    /// A plain snapshot or the window form; `None` when the text has neither shape.
    pub fn parse(text: &str) -> Option<Checkpoint> {
        if !text.starts_with(PREFIX) {
            return Some(Checkpoint {
                read: text.to_string(),
                reconcile: text.to_string(),
                reconciled_at: None,
                read_at: None,
            });
        }
        let parts: Vec<&str> = text.split(';').collect();
        let [PREFIX, read, reconcile, reconciled_at, read_at] = parts.as_slice() else {
            return None;
        };
        let time = |t: &str| NaiveDateTime::parse_from_str(t, TIME_FORMAT).ok();
        Some(Checkpoint {
            read: read.to_string(),
            reconcile: reconcile.to_string(),
            reconciled_at: Some(time(reconciled_at)?),
            read_at: Some(time(read_at)?),
        })
    }
}

impl ChangeDetection {
    /// How to read, given the previous checkpoint and the server's time of this read.
    pub fn plan(&self, previous: Option<&Checkpoint>, now: NaiveDateTime) -> ReadPlan {
        let Some(previous) = previous else {
            return ReadPlan::Start;
        };
        let exact = ReadPlan::Exact {
            since: previous.reconcile.clone(),
        };
        if self.window_days == 0 {
            return exact;
        }
        let (Some(reconciled_at), Some(read_at)) = (previous.reconciled_at, previous.read_at)
        else {
            return exact;
        };
        if self.reconcile_due(reconciled_at, now) {
            return exact;
        }
        ReadPlan::Window {
            since: previous.read.clone(),
            from: read_at - Duration::days(i64::from(self.window_days)),
        }
    }

    /// Whether a reconcile is due now, the last one having run at `reconciled_at`: at a set time
    /// of day, when the last one ran before that time's latest passing; else after
    /// `reconcile_hours`.
    pub fn reconcile_due(&self, reconciled_at: NaiveDateTime, now: NaiveDateTime) -> bool {
        match self.reconcile_at {
            Some(at) => {
                let today = now.date().and_time(at);
                let latest = match now >= today {
                    true => today,
                    false => today - Duration::days(1),
                };
                reconciled_at < latest
            }
            None => now - reconciled_at >= Duration::hours(i64::from(self.reconcile_hours)),
        }
    }

    /// The checkpoint text to store after a read made with `plan`, whose snapshot is `snapshot`.
    pub fn next(
        &self,
        previous: Option<&Checkpoint>,
        plan: &ReadPlan,
        snapshot: &str,
        now: NaiveDateTime,
    ) -> String {
        if self.window_days == 0 {
            return snapshot.to_string();
        }
        let (reconcile, reconciled_at) = match (plan, previous) {
            (ReadPlan::Window { .. }, Some(previous)) => (
                previous.reconcile.as_str(),
                previous.reconciled_at.unwrap_or(now),
            ),
            _ => (snapshot, now),
        };
        format!(
            "{PREFIX};{snapshot};{reconcile};{};{}",
            reconciled_at.format(TIME_FORMAT),
            now.format(TIME_FORMAT)
        )
    }
}

/// The plan's name for logs and benchmarks.
impl std::fmt::Display for ReadPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadPlan::Start => write!(f, "first read"),
            ReadPlan::Exact { .. } => write!(f, "exact scan"),
            ReadPlan::Window { from, .. } => write!(f, "window from {from}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, day)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
    }

    const WINDOW: ChangeDetection = ChangeDetection {
        window_days: 30,
        reconcile_hours: 24,
        reconcile_at: None,
    };

    #[test]
    fn a_reconcile_at_a_time_of_day_runs_once_at_the_first_cycle_after_it() {
        let nightly = ChangeDetection {
            reconcile_at: NaiveTime::from_hms_opt(3, 0, 0),
            ..WINDOW
        };
        let plan_at = |reconciled_at: NaiveDateTime, now: NaiveDateTime| {
            let previous = Checkpoint {
                read: "9:9:".into(),
                reconcile: "5:5:".into(),
                reconciled_at: Some(reconciled_at),
                read_at: Some(now - Duration::minutes(5)),
            };
            matches!(nightly.plan(Some(&previous), now), ReadPlan::Exact { .. })
        };
        // Reconciled at 03:05 on the 1st: window all day, also at 02:55 on the 2nd.
        assert!(!plan_at(at(1, 3) + Duration::minutes(5), at(1, 23)));
        assert!(!plan_at(
            at(1, 3) + Duration::minutes(5),
            at(2, 2) + Duration::minutes(55)
        ));
        // The first cycle at or after 03:00 on the 2nd reconciles, however long ago the last.
        assert!(plan_at(at(1, 3) + Duration::minutes(5), at(2, 3)));
        assert!(plan_at(at(1, 10), at(2, 3) + Duration::minutes(5)));
        // A reconcile missed overnight (the server was off) runs at the next cycle.
        assert!(plan_at(at(1, 3) + Duration::minutes(5), at(3, 11)));
        // The hours are not used when a time is set.
        assert!(!plan_at(at(1, 4), at(2, 2)));
    }

    #[test]
    fn exact_mode_keeps_the_plain_snapshot_and_reads_from_the_oldest_one() {
        let exact = ChangeDetection::default();
        let plain = Checkpoint::parse("10:12:").unwrap();
        let plan = exact.plan(Some(&plain), at(1, 0));
        assert_eq!(
            plan,
            ReadPlan::Exact {
                since: "10:12:".into()
            }
        );
        assert_eq!(
            exact.next(Some(&plain), &plan, "20:20:", at(1, 0)),
            "20:20:"
        );
        let windowed = Checkpoint::parse(&WINDOW.next(None, &ReadPlan::Start, "5:5:", at(1, 0)))
            .map(|c| Checkpoint {
                read: "30:30:".into(),
                ..c
            })
            .unwrap();
        assert_eq!(
            exact.plan(Some(&windowed), at(1, 1)),
            ReadPlan::Exact {
                since: "5:5:".into()
            }
        );
    }

    #[test]
    fn window_mode_reads_the_window_between_reconciles() {
        let first = WINDOW.next(None, &ReadPlan::Start, "5:5:", at(1, 8));
        assert_eq!(
            first,
            "window;5:5:;5:5:;2026-03-01T08:00:00;2026-03-01T08:00:00"
        );
        let previous = Checkpoint::parse(&first).unwrap();
        let plan = WINDOW.plan(Some(&previous), at(1, 9));
        assert_eq!(
            plan,
            ReadPlan::Window {
                since: "5:5:".into(),
                from: at(1, 8) - Duration::days(30)
            }
        );
        let second = Checkpoint::parse(&WINDOW.next(Some(&previous), &plan, "9:9:", at(1, 9)));
        assert_eq!(
            second,
            Some(Checkpoint {
                read: "9:9:".into(),
                reconcile: "5:5:".into(),
                reconciled_at: Some(at(1, 8)),
                read_at: Some(at(1, 9)),
            })
        );
    }

    #[test]
    fn window_mode_reconciles_from_the_last_reconcile_when_due() {
        let previous = Checkpoint {
            read: "9:9:".into(),
            reconcile: "5:5:".into(),
            reconciled_at: Some(at(1, 8)),
            read_at: Some(at(2, 7)),
        };
        let plan = WINDOW.plan(Some(&previous), at(2, 8));
        assert_eq!(
            plan,
            ReadPlan::Exact {
                since: "5:5:".into()
            }
        );
        let next = Checkpoint::parse(&WINDOW.next(Some(&previous), &plan, "12:12:", at(2, 8)));
        assert_eq!(
            next.map(|c| (c.reconcile, c.reconciled_at)),
            Some(("12:12:".into(), Some(at(2, 8))))
        );
        let plain = Checkpoint::parse("9:9:").unwrap();
        assert_eq!(
            WINDOW.plan(Some(&plain), at(2, 8)),
            ReadPlan::Exact {
                since: "9:9:".into()
            }
        );
    }

    #[test]
    fn malformed_window_checkpoints_are_refused() {
        for bad in [
            "window;1:1:",
            "window;1:1:;1:1:;yesterday;2026-03-01T08:00:00",
        ] {
            assert_eq!(Checkpoint::parse(bad), None, "{bad}");
        }
    }
}
