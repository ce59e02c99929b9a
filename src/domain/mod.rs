//! The vocabulary every stage shares: document snapshots and references, and the deal requests
//! the rules build for Calltouch. Depends on nothing else in the crate.

pub mod payload;
pub mod snapshot;
