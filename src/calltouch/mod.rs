//! Everything that speaks to Calltouch: the HTTP client and its settings, and a strict local
//! emulator of the API used by the tests and the demo. The API bodies are vocabulary the rules
//! build too, so they live in `domain::payload` (re-exported here).

pub mod client;
pub mod emulator;
pub mod settings;
pub use crate::domain::payload;
