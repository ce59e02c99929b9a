//! `/metrics` in the Prometheus text exposition format (version 0.0.4), rendered from the
//! register's totals. Counters are the register's all-time counts, so they survive restarts of
//! `watch` and are the same from `serve`.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::MetricsData;
use crate::domain::snapshot::DocKind;
use crate::register::SyncState;

/// Upper bounds of the cycle duration histogram, in seconds.
pub const DURATION_BUCKETS: &[i64] = &[1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600];

/// The content type Prometheus expects for this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The state label of a document: pending ones waiting after an error are `deferred`.
fn state_label(state: SyncState, with_error: bool) -> &'static str {
    match (state, with_error) {
        (SyncState::Pending, true) => "deferred",
        (state, _) => state.code(),
    }
}

fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The whole exposition: one family after another, in a fixed order.
pub fn render(data: &MetricsData) -> String {
    let mut out = String::new();
    healthy_family(&mut out, data);
    cycles_family(&mut out, data);
    duration_family(&mut out, data);
    last_success_family(&mut out, data);
    documents_family(&mut out, data);
    orders_family(&mut out, data);
    out
}

fn healthy_family(out: &mut String, data: &MetricsData) {
    header(
        out,
        "alfa_calltouch_healthy",
        "gauge",
        "1 while the last cycle completed within two intervals (as /healthz), else 0.",
    );
    let _ = writeln!(
        out,
        "alfa_calltouch_healthy {}",
        u8::from(data.health.healthy)
    );
}

/// Cycle counts by outcome; every known outcome is printed, zero when none was recorded.
fn cycles_family(out: &mut String, data: &MetricsData) {
    header(
        out,
        "alfa_calltouch_cycles_total",
        "counter",
        "Cycles recorded in the register, by outcome (ok, deferred, failed documents, error).",
    );
    let mut cycles: BTreeMap<&str, u64> = BTreeMap::new();
    for run in &data.runs {
        *cycles.entry(&run.outcome).or_default() += run.count;
    }
    for outcome in ["ok", "deferred", "failed documents", "error"] {
        cycles.entry(outcome).or_default();
    }
    for (outcome, count) in &cycles {
        let _ = writeln!(
            out,
            "alfa_calltouch_cycles_total{{outcome=\"{}\"}} {count}",
            label(outcome)
        );
    }
}

/// The cycle duration histogram: cumulative buckets, then `+Inf`, sum and count.
fn duration_family(out: &mut String, data: &MetricsData) {
    header(
        out,
        "alfa_calltouch_cycle_duration_seconds",
        "histogram",
        "Cycle durations in whole seconds, every outcome.",
    );
    let mut sum = 0i64;
    let mut total = 0u64;
    for run in &data.runs {
        sum += run.seconds.max(0) * run.count as i64;
        total += run.count;
    }
    for bound in DURATION_BUCKETS {
        let within: u64 = data
            .runs
            .iter()
            .filter(|run| run.seconds <= *bound)
            .map(|run| run.count)
            .sum();
        let _ = writeln!(
            out,
            "alfa_calltouch_cycle_duration_seconds_bucket{{le=\"{bound}\"}} {within}"
        );
    }
    let _ = writeln!(
        out,
        "alfa_calltouch_cycle_duration_seconds_bucket{{le=\"+Inf\"}} {total}"
    );
    let _ = writeln!(out, "alfa_calltouch_cycle_duration_seconds_sum {sum}");
    let _ = writeln!(out, "alfa_calltouch_cycle_duration_seconds_count {total}");
}

fn last_success_family(out: &mut String, data: &MetricsData) {
    header(
        out,
        "alfa_calltouch_last_success_timestamp_seconds",
        "gauge",
        "When the last cycle that did not fail finished (Unix time); absent before the first.",
    );
    if let Some(at) = data.last_success {
        let _ = writeln!(out, "alfa_calltouch_last_success_timestamp_seconds {at}");
    }
}

/// Documents by kind and state; every pair is printed, zero when the register has none.
fn documents_family(out: &mut String, data: &MetricsData) {
    header(
        out,
        "alfa_calltouch_documents",
        "gauge",
        "Documents in the register by kind and sync state (pending, deferred, sent, failed, skipped).",
    );
    let mut documents: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for kind in [DocKind::Booking, DocKind::WorkOrder] {
        for state in ["pending", "deferred", "sent", "failed", "skipped"] {
            documents.insert((kind.code(), state), 0);
        }
    }
    for total in &data.totals {
        *documents
            .entry((
                total.kind.code(),
                state_label(total.state, total.with_error),
            ))
            .or_default() += total.count;
    }
    for ((kind, state), count) in &documents {
        let _ = writeln!(
            out,
            "alfa_calltouch_documents{{kind=\"{kind}\",state=\"{state}\"}} {count}"
        );
    }
}

fn orders_family(out: &mut String, data: &MetricsData) {
    header(
        out,
        "alfa_calltouch_calltouch_orders_total",
        "counter",
        "Orders sent to Calltouch, by endpoint (create, update; send when refused) and answer.",
    );
    for send in &data.sends {
        let _ = writeln!(
            out,
            "alfa_calltouch_calltouch_orders_total{{endpoint=\"{}\",outcome=\"{}\"}} {}",
            label(&send.endpoint),
            label(&send.outcome),
            send.count
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::{DocumentTotal, RunDurations, SendTotal};

    fn data() -> MetricsData {
        let runs = |outcome: &str, seconds, count| RunDurations {
            outcome: outcome.into(),
            seconds,
            count,
        };
        MetricsData {
            runs: vec![runs("ok", 0, 3), runs("ok", 12, 1), runs("error", 400, 2)],
            last_success: Some(1_790_000_000),
            totals: vec![
                DocumentTotal {
                    kind: DocKind::Booking,
                    state: SyncState::Sent,
                    with_error: false,
                    count: 7,
                },
                DocumentTotal {
                    kind: DocKind::WorkOrder,
                    state: SyncState::Pending,
                    with_error: true,
                    count: 2,
                },
            ],
            sends: vec![SendTotal {
                day: None,
                endpoint: "send".into(),
                outcome: "gave \"up\"".into(),
                count: 4,
            }],
            health: crate::status::health::health(
                None,
                crate::ops::schedule::Interval::from_minutes(5).unwrap(),
                chrono::NaiveDateTime::default(),
            ),
        }
    }

    fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix}\n{text}"))
    }

    #[test]
    fn cycles_and_the_duration_histogram_add_up() {
        let text = render(&data());
        assert_eq!(
            line(&text, "alfa_calltouch_cycles_total{outcome=\"ok\"}"),
            "alfa_calltouch_cycles_total{outcome=\"ok\"} 4"
        );
        assert!(text.contains("alfa_calltouch_cycles_total{outcome=\"deferred\"} 0"));
        assert!(text.contains("alfa_calltouch_cycles_total{outcome=\"error\"} 2"));
        assert!(text.contains("alfa_calltouch_cycle_duration_seconds_bucket{le=\"1\"} 3\n"));
        assert!(text.contains("alfa_calltouch_cycle_duration_seconds_bucket{le=\"15\"} 4\n"));
        assert!(text.contains("alfa_calltouch_cycle_duration_seconds_bucket{le=\"300\"} 4\n"));
        assert!(text.contains("alfa_calltouch_cycle_duration_seconds_bucket{le=\"600\"} 6\n"));
        assert!(text.contains("alfa_calltouch_cycle_duration_seconds_bucket{le=\"+Inf\"} 6\n"));
        assert!(text.contains("alfa_calltouch_cycle_duration_seconds_sum 812\n"));
        assert!(text.contains("alfa_calltouch_cycle_duration_seconds_count 6\n"));
        assert!(text.contains("alfa_calltouch_healthy 0\n"));
        assert!(text.contains("alfa_calltouch_last_success_timestamp_seconds 1790000000\n"));
    }

    #[test]
    fn documents_by_kind_and_state_with_deferred_apart() {
        let text = render(&data());
        assert!(text.contains("alfa_calltouch_documents{kind=\"booking\",state=\"sent\"} 7\n"));
        assert!(
            text.contains("alfa_calltouch_documents{kind=\"work_order\",state=\"deferred\"} 2\n")
        );
        assert!(
            text.contains("alfa_calltouch_documents{kind=\"work_order\",state=\"pending\"} 0\n")
        );
    }

    #[test]
    fn label_values_are_escaped_and_every_sample_has_a_type() {
        let text = render(&data());
        assert!(text.contains(
            "alfa_calltouch_calltouch_orders_total{endpoint=\"send\",outcome=\"gave \\\"up\\\"\"} 4"
        ));
        for sample in text.lines().filter(|l| !l.starts_with('#')) {
            let name = sample.split(['{', ' ']).next().unwrap();
            let family = name
                .trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count");
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "{sample} has no TYPE line"
            );
        }
    }
}
