#!/usr/bin/env bash
# Runs every fuzz target in turn, one process each (-jobs=1), for SECONDS seconds or 10 million
# executions, whichever comes first, and prints libFuzzer's final figures per target. New inputs
# go to fuzz/corpus/<target> (not committed); the seeds in fuzz/seeds/<target> are read too.
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly toolchain.
#   bash fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(brace blob structure name_map config calltouch_answer)
mkdir -p fuzz/logs fuzz/artifacts
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target"
    echo "== $target: up to ${seconds}s or 10,000,000 runs"
    started=$(date +%s)
    status=0
    # No sanitizer: the code under test is safe Rust, and panics are what is looked for.
    (cd fuzz/logs && cargo +nightly fuzz run --fuzz-dir ../ -s none "$target" \
        "../corpus/$target" "../seeds/$target" -- \
        -jobs=1 -workers=1 -max_total_time="$seconds" -runs=10000000 \
        -print_final_stats=1 -rss_limit_mb=2048 -artifact_prefix="../artifacts/$target-") \
        || status=$?
    echo "== $target: exit $status after $(( $(date +%s) - started ))s"
    grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|cov:|SUMMARY|panicked" \
        "fuzz/logs/fuzz-0.log" | tail -6 || true
    mv fuzz/logs/fuzz-0.log "fuzz/logs/$target.log"
done
