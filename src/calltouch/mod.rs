//! Everything that speaks to Calltouch: the API bodies and the HTTP client (the strict local
//! emulator of the API lives in the test harness, `testkit/`).

pub mod client;
pub mod payload;
