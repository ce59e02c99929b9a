//! Everything that speaks to Calltouch: the HTTP client and its settings (the strict local
//! emulator of the API lives in the test harness, `testkit/`). The API bodies are vocabulary the
//! rules build too, so they live in `domain::payload` (re-exported here).

pub mod client;
pub mod settings;
