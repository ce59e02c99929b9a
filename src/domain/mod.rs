//! The vocabulary every stage shares: document snapshots and references, the deal as Calltouch
//! last accepted it, and the deal requests the rules build for Calltouch. Depends on nothing else in the crate.

pub mod deal;
pub mod payload;
pub mod snapshot;
