//! Calltouch's answer to a batch: any status, any body, for one to three orders sent. The
//! first two bytes choose the HTTP status, the third the number of orders.
#![no_main]

use alfa_calltouch::calltouch::client::{settled_outcomes, Endpoint};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [high, low, orders, body @ ..] = data else {
        return;
    };
    let status = 100 + u16::from_be_bytes([*high, *low]) % 500;
    let Ok(text) = std::str::from_utf8(body) else {
        return;
    };
    let numbers = ["1", "ЗР-2", "ЗН-3"];
    let sent = &numbers[..1 + usize::from(*orders) % numbers.len()];
    for endpoint in [Endpoint::Create, Endpoint::Update] {
        if let Some(outcomes) = settled_outcomes(endpoint, status, text, sent) {
            assert_eq!(outcomes.len(), sent.len(), "one outcome per order sent");
        }
    }
});
