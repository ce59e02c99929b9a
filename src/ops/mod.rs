//! What runs around the cycle: exit codes, logging, the schedule, `watch`, the run lock, progress,
//! and the owner-only handling of files that hold secrets and personal data.

pub mod exit;
pub mod lock;
pub mod logging;
pub mod privacy;
pub mod progress;
pub mod schedule;
pub mod watch;
