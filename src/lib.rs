//! alfa-calltouch: registers Альфа-Авто repair bookings and work orders as Calltouch deals.
//!
//! Data flows one way: a 1C [`source`] yields [`domain`] snapshots of changed documents, the pure
//! [`rules`] turn them into deal requests, the [`calltouch`] client sends them, and the
//! [`register`] records what was accepted. [`pipeline`] runs that cycle; [`ops`] holds what runs
//! around it (schedule, watch, lock, progress, report). docs/architecture.md maps the folders.

pub mod calltouch;
pub mod cli;
pub mod config;
pub mod db;
pub mod discover;
pub mod doctor;
pub mod domain;
pub mod ops;
pub mod pipeline;
pub mod register;
pub mod rules;
pub mod source;
pub mod status;
