//! alfa-calltouch: registers Альфа-Авто repair bookings and work orders as Calltouch deals.
//!
//! Data flows one way: a 1C [`source`] yields [`snapshot`]s of changed documents, the pure
//! [`rules`] turn them into deal requests, the [`calltouch`] client sends them, and the
//! [`register`] records what was accepted. [`sync`] runs that cycle.

pub mod accounts;
pub mod calltouch;
pub mod cli;
pub mod config;
pub mod db;
pub mod discover;
pub mod doctor;
pub mod format;
pub mod lock;
pub mod privacy;
pub mod progress;
pub mod register;
pub mod report;
pub mod rules;
pub mod schedule;
pub mod snapshot;
pub mod source;
pub mod status;
pub mod sync;
pub mod watch;
