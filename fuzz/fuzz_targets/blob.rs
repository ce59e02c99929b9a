//! A stored `Params` / `Config` file: parts joined, raw DEFLATE unless it starts with the BOM,
//! then UTF-8. The first byte splits the input into parts, as `PartNo` rows would.
#![no_main]

use alfa_calltouch::discover::blob;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = usize::from(split).min(rest.len());
    let parts = vec![rest[..at].to_vec(), rest[at..].to_vec()];
    let _ = blob::file_text("Config", "fuzz", &parts);
});
