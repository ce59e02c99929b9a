//! What runs around the cycle: the schedule, `watch`, the run lock, progress, the register
//! report and the owner-only file handling of secrets and personal data.

pub mod lock;
pub mod privacy;
pub mod progress;
pub mod report;
pub mod schedule;
pub mod watch;
