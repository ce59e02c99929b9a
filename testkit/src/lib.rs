//! The test harness of alfa-calltouch, kept out of the product: a generator of 1C-shaped
//! Альфа-Авто databases ([`fixture`]), a throwaway PostgreSQL ([`pgcluster`]) and the one
//! cluster the tests of a binary share ([`cluster`]), a strict Calltouch emulator
//! ([`emulator`]), and the builder of the config files tests write ([`config`]). The tests, the
//! bench and the demo binary use it; the release binary does not.

pub mod cluster;
pub mod config;
pub mod emulator;
pub mod fixture;
pub mod pgcluster;
