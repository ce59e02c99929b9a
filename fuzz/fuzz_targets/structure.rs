//! The storage-structure export that `import-structure` reads (JSON written by 1C code), and
//! the selection of every entry it names into a name map.
#![no_main]

use alfa_calltouch::discover::structure;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(storage) = structure::read(text) {
        let names: Vec<String> = storage
            .tables
            .keys()
            .chain(storage.fields.keys())
            .chain(storage.enums.keys())
            .cloned()
            .collect();
        let (map, _missing) = storage.select(&names);
        let _ = map.check();
        let _ = map.to_toml();
    }
});
