//! The README's first command through its binary: the demo (`testkit/src/bin/demo.rs`) runs both
//! cycles against its throwaway PostgreSQL and emulator.

use std::process::Command;

/// The README's first command: the demo runs both cycles and its second cycle sends exactly the
/// changes it made (updates only), exiting 0.
#[test]
fn the_demo_sends_its_changes_in_the_second_cycle() {
    let output = Command::new(env!("CARGO_BIN_EXE_demo"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let second = stdout
        .split("== Cycle 2")
        .nth(1)
        .and_then(|rest| rest.split("== The register").next())
        .expect("the demo prints its second cycle");
    assert!(second.contains("POST client-order/update"), "{second}");
    assert!(!second.contains("POST client-order/create"), "{second}");
}
