//! The vocabulary every stage shares: document snapshots and references, the deal as Calltouch
//! last accepted it, the deal requests the rules build for Calltouch, and a run as the run log
//! records it. Depends on nothing else in the crate.

pub mod deal;
pub mod payload;
pub mod run;
pub mod snapshot;
