//! A run as the register's run log keeps it: when it started and ended and how. The schedule
//! and the status views read it; the register stores it.

use chrono::NaiveDateTime;

/// How a run ended (`running` while it works).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub started_at: NaiveDateTime,
    pub finished_at: NaiveDateTime,
    pub outcome: String,
    pub summary: String,
}
