//! The name map TOML: parsed, checked, and written back when valid.
#![no_main]

use alfa_calltouch::source::namemap::NameMap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(map) = NameMap::parse(text) {
        if map.check().is_ok() {
            // A valid map written by `discover` loads again.
            let again = NameMap::parse(&map.to_toml());
            assert!(again.is_ok(), "{:?}", again.err());
        }
    }
});
