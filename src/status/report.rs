//! Human-readable views of the register: the document table and its summary line, as the
//! `register` command prints them (the assignment's register form).

use crate::domain::run::RunRecord;
use crate::register::{DocumentRecord, StateCount, SyncState};

const HEADERS: [&str; 10] = [
    "document",
    "number",
    "date",
    "deal",
    "state",
    "last status",
    "sum",
    "attempts",
    "last error",
    "updated",
];

/// Longest last-error text shown in the table; `--json` shows it whole.
const ERROR_WIDTH: usize = 60;

/// The documents as an aligned text table.
pub fn register_table(documents: &[DocumentRecord]) -> String {
    aligned(documents.iter().map(table_row).collect(), &HEADERS)
}

/// The table with each document's Calltouch account after its deal (dealer groups): `accounts`
/// holds one entry per document, `None` where it has no deal.
pub fn register_table_with_accounts(
    documents: &[DocumentRecord],
    accounts: &[Option<String>],
) -> String {
    let rows = documents
        .iter()
        .zip(accounts)
        .map(|(document, account)| {
            let mut row = table_row(document).to_vec();
            row.insert(4, account.clone().unwrap_or_else(|| "-".into()));
            row
        })
        .collect();
    let mut headers = HEADERS.to_vec();
    headers.insert(4, "account");
    aligned(rows, &headers)
}

fn aligned<R: AsRef<[String]>>(rows: Vec<R>, headers: &[&str]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row.as_ref()) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    push_line(&mut out, &headers, &widths);
    for row in &rows {
        push_line(&mut out, row.as_ref(), &widths);
    }
    out
}

fn table_row(document: &DocumentRecord) -> [String; 10] {
    let or_dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
    [
        document.kind.metadata_name().to_string(),
        document.number.clone(),
        document.date.format("%Y-%m-%d").to_string(),
        or_dash(&document.order_number),
        document.state.code().to_string(),
        or_dash(&document.last_status),
        or_dash(&document.last_revenue),
        document.attempts.to_string(),
        document
            .last_error
            .as_deref()
            .map(|e| shorten(e, ERROR_WIDTH))
            .unwrap_or_else(|| "-".into()),
        document.updated_at.format("%Y-%m-%d %H:%M").to_string(),
    ]
}

fn push_line(out: &mut String, cells: &[String], widths: &[usize]) {
    let line: Vec<String> = cells
        .iter()
        .zip(widths)
        .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
        .collect();
    out.push_str(line.join("  ").trim_end());
    out.push('\n');
}

fn shorten(text: &str, limit: usize) -> String {
    let single_line = text.replace(['\n', '\r'], " ");
    if single_line.chars().count() <= limit {
        return single_line;
    }
    let kept: String = single_line.chars().take(limit - 1).collect();
    format!("{kept}…")
}

/// One line: documents per state and how the last run ended.
pub fn register_summary(counts: &[StateCount], last_run: Option<&RunRecord>) -> String {
    let total: u64 = counts.iter().map(|c| c.count).sum();
    let per_state: Vec<String> = [
        SyncState::Pending,
        SyncState::Sent,
        SyncState::Failed,
        SyncState::Skipped,
    ]
    .iter()
    .map(|state| {
        let count = counts
            .iter()
            .find(|c| c.state == *state)
            .map_or(0, |c| c.count);
        format!("{} {count}", state.code())
    })
    .collect();
    let run = match last_run {
        // Recorded when a run starts; `schedule --show` tells one at work from one that died.
        Some(run) if run.outcome == crate::ops::exit::RUN_IN_PROGRESS => format!(
            "last run started {} without an outcome yet (`schedule --show` tells whether it is \
             at work or died)",
            run.started_at.format("%Y-%m-%d %H:%M:%S")
        ),
        Some(run) => {
            format!(
                "last run {} ({}: {})",
                run.finished_at.format("%Y-%m-%d %H:%M:%S"),
                run.outcome,
                run.summary
            )
        }
        None => "no run yet".to_string(),
    };
    format!("{total} documents: {}; {run}", per_state.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::snapshot::{DocKind, DocRef};
    use chrono::{NaiveDate, NaiveDateTime};

    fn time(hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 28)
            .unwrap()
            .and_hms_opt(hour, 5, 0)
            .unwrap()
    }

    fn record(number: &str, state: SyncState, error: Option<&str>) -> DocumentRecord {
        DocumentRecord {
            kind: DocKind::WorkOrder,
            reference: DocRef([1; 16]),
            number: number.into(),
            date: time(9),
            order_number: Some(number.into()),
            state,
            onec_state: Some("Закрыт".into()),
            last_status: Some("Закрыт".into()),
            last_revenue: Some("15300.00".into()),
            last_manager: None,
            attempts: u32::from(error.is_some()),
            last_error: error.map(String::from),
            updated_at: time(10),
        }
    }

    #[test]
    fn the_table_aligns_columns_and_shortens_long_errors() {
        let long_error = "Calltouch rejected the deal: ".to_string() + &"x".repeat(100);
        let table = register_table(&[
            record("ЗН-001", SyncState::Sent, None),
            record("ЗН-0000002", SyncState::Failed, Some(&long_error)),
        ]);
        let expected = "\
document    number      date        deal        state   last status  sum       attempts  last error                                                    updated
ЗаказНаряд  ЗН-001      2026-11-28  ЗН-001      sent    Закрыт       15300.00  0         -                                                             2026-11-28 10:05
ЗаказНаряд  ЗН-0000002  2026-11-28  ЗН-0000002  failed  Закрыт       15300.00  1         Calltouch rejected the deal: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…  2026-11-28 10:05
";
        assert_eq!(table, expected);
    }

    #[test]
    fn with_accounts_the_table_names_each_deals_account() {
        let table = register_table_with_accounts(
            &[
                record("ЗН-001", SyncState::Sent, None),
                record("ЗН-002", SyncState::Skipped, Some("no account takes it")),
            ],
            &[Some("south".into()), None],
        );
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("document    number  date        deal    account  state"));
        assert!(lines[1].contains("ЗН-001  south    sent"), "{table}");
        assert!(lines[2].contains("ЗН-002  -        skipped"), "{table}");
    }

    #[test]
    fn the_summary_counts_states_and_names_the_last_run() {
        let count = |state, count| StateCount { state, count };
        let run = |started, finished, outcome: &str, summary: &str| RunRecord {
            started_at: started,
            finished_at: finished,
            outcome: outcome.into(),
            summary: summary.into(),
        };
        let summary = register_summary(
            &[count(SyncState::Sent, 5), count(SyncState::Failed, 1)],
            Some(&run(time(9), time(10), "ok", "read 6, created 5")),
        );
        assert_eq!(
            summary,
            "6 documents: pending 0, sent 5, failed 1, skipped 0; last run 2026-11-28 10:05:00 (ok: read 6, created 5)"
        );
        assert_eq!(
            register_summary(&[], None),
            "0 documents: pending 0, sent 0, failed 0, skipped 0; no run yet"
        );
        let started = run(time(9), time(9), "running", "");
        assert!(register_summary(&[], Some(&started))
            .ends_with("last run started 2026-11-28 09:05:00 without an outcome yet (`schedule --show` tells whether it is at work or died)"));
    }
}
