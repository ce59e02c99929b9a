//! The brace-text parser and the readers built on it (`DBNames`, the configuration root and
//! object lists, object files), on arbitrary text: an error is fine, a panic or a hang is not.
#![no_main]

use alfa_calltouch::discover::brace;
use alfa_calltouch::discover::dbnames::DbNames;
use alfa_calltouch::discover::metadata::{self, ObjectKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(value) = brace::parse(text) {
        // What the parser read, written back, reads again.
        let again = brace::parse(&value.to_text());
        assert!(again.is_ok(), "{:?}", again);
    }
    let _ = DbNames::parse(text);
    let _ = metadata::root_file(text);
    let _ = metadata::object_lists("config", text);
    for kind in ObjectKind::ALL {
        let _ = metadata::parse_object(kind, "00000000-0000-0000-0000-000000000000", text);
    }
});
