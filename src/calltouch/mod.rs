//! Everything that speaks to Calltouch: the API bodies, the HTTP client, and a strict local
//! emulator of the API used by the tests and the demo.

pub mod client;
pub mod emulator;
pub mod settings;
pub use crate::domain::payload;
