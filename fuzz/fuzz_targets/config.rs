//! The configuration file: parsed and validated; every mistake must be an error, never a panic.
#![no_main]

use std::path::Path;

use alfa_calltouch::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = Config::parse(text, Path::new("fuzz.toml"), Path::new("."));
});
