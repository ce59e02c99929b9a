//! How a run ends, as a scheduler and the run log see it: the process exit codes and the
//! outcome a run records while it is still at work. The command line, the status page and
//! `discover` all speak these, so they live below every one of them.

/// The cycle completed; every change was settled.
pub const OK: u8 = 0;
/// A failure stopped the command (database, Calltouch authentication, register).
pub const FAILURE: u8 = 1;
/// The configuration or the name map is wrong.
pub const CONFIG: u8 = 2;
/// Another run holds the lock; this one did nothing.
pub const BUSY: u8 = 3;
/// Calltouch deferred some documents, or was unreachable and the cycle stopped sending
/// (counting no attempt); they are retried next run.
pub const DEFERRED: u8 = 4;
/// The cycle completed but some documents failed (bad data, rejected, collided, or given
/// up): `register --state failed` lists them with the fix, `register retry` re-sends.
pub const FAILED_DOCUMENTS: u8 = 5;

/// The outcome a run records when it starts.
pub const RUN_IN_PROGRESS: &str = "running";
