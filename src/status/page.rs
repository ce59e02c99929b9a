//! The status page: one server-rendered HTML document with inline CSS and an inline SVG chart,
//! no script and nothing fetched from elsewhere, so it works on a server with no internet.
//! Labels are Russian, for the dealership's staff. Every text from the register is masked
//! (phones, e-mails) and escaped.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};

use super::health::{health, Health};
use super::text::{escape, shown};
use super::{DocumentRow, PageData, CHART_DAYS, LIST_LIMIT};
use crate::domain::run::RunRecord;
use crate::domain::snapshot::DocKind;
use crate::ops::exit;
use crate::ops::schedule;
use crate::register::{SendTotal, SyncState};

const STYLE: &str =
    "body{font-family:Segoe UI,Arial,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.ok{color:#17692b}.bad{color:#b3261e;font-weight:bold}
.num{text-align:right}.muted{color:#777}
.health{padding:8px 12px;border-radius:4px;display:inline-block}
.health.ok{background:#e6f4ea}.health.bad{background:#fce8e6}";

fn kind_label(kind: DocKind) -> &'static str {
    match kind {
        DocKind::Booking => "Заявка на ремонт",
        DocKind::WorkOrder => "Заказ-наряд",
    }
}

fn state_label(state: SyncState, with_error: bool) -> &'static str {
    match (state, with_error) {
        (SyncState::Pending, true) => "отложен",
        (SyncState::Pending, false) => "ожидает",
        (SyncState::Sent, _) => "отправлен",
        (SyncState::Failed, _) => "ошибка",
        (SyncState::Skipped, _) => "пропущен",
    }
}

/// A run's outcome as the staff read it, and the exit code `run` gave for it.
fn outcome_label(outcome: &str) -> (&'static str, Option<u8>) {
    match outcome {
        "ok" => ("успешно", Some(exit::OK)),
        "deferred" => ("часть документов отложена", Some(exit::DEFERRED)),
        "failed documents" => ("есть документы с ошибками", Some(exit::FAILED_DOCUMENTS)),
        "error" => ("ошибка", Some(exit::FAILURE)),
        _ => ("?", None),
    }
}

fn time(t: &NaiveDateTime) -> String {
    t.format("%d.%m.%Y %H:%M:%S").to_string()
}

pub fn render(data: &PageData) -> String {
    let last = data.runs.first();
    let health = health(last, data.every, data.now);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"ru\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>alfa-calltouch: состояние</title><style>{STYLE}</style></head><body>\n\
         <h1>alfa-calltouch: передача сделок в Calltouch</h1>\n"
    );
    out.push_str(&summary(data, &health));
    out.push_str(&totals(data));
    let _ = write!(
        out,
        "<h2>Сделки за {CHART_DAYS} дней</h2>\n{}\n",
        chart(&data.daily, data.now.date())
    );
    out.push_str(&runs(data));
    out.push_str(&document_section(
        "failed",
        "Документы с ошибками",
        data.failed_count,
        &data.failed,
    ));
    out.push_str(&document_section(
        "deferred",
        "Отложенные документы (будут повторены)",
        data.deferred_count,
        &data.deferred,
    ));
    out.push_str(&search(data));
    out.push_str("</body></html>\n");
    out
}

fn summary(data: &PageData, health: &Health) -> String {
    let class = if health.healthy { "ok" } else { "bad" };
    let state = if health.healthy {
        "в порядке"
    } else {
        "требует внимания"
    };
    let next = match data.runs.first() {
        Some(run) => {
            let due = schedule::next_due(run.started_at, data.every);
            format!("Следующий цикл: {} (каждые {})", time(&due), data.every)
        }
        None => format!("Циклов ещё не было; интервал {}", data.every),
    };
    format!(
        "<p id=\"health\" class=\"health {class}\">Состояние: <b>{state}</b> — {}</p>\n\
         <p>{}. Регистр: {}. Страница построена {}.</p>\n",
        shown(&health.reason_ru),
        escape(&next),
        escape(&data.place),
        time(&data.now)
    )
}

fn totals(data: &PageData) -> String {
    let columns = [
        (SyncState::Pending, false),
        (SyncState::Pending, true),
        (SyncState::Sent, false),
        (SyncState::Failed, false),
        (SyncState::Skipped, false),
    ];
    let column = |state: SyncState, with_error: bool| {
        columns
            .iter()
            .position(|c| match state {
                SyncState::Pending => *c == (state, with_error),
                _ => c.0 == state,
            })
            .unwrap_or(0)
    };
    let mut counts: BTreeMap<&str, [u64; 5]> = BTreeMap::new();
    for kind in [DocKind::Booking, DocKind::WorkOrder] {
        counts.insert(kind_label(kind), [0; 5]);
    }
    for total in &data.totals {
        counts.entry(kind_label(total.kind)).or_default()[column(total.state, total.with_error)] +=
            total.count;
    }
    let mut out =
        String::from("<h2>Документы по состояниям</h2>\n<table id=\"totals\"><tr><th>Вид</th>");
    for (state, with_error) in columns {
        let _ = write!(out, "<th>{}</th>", state_label(state, with_error));
    }
    out.push_str("</tr>\n");
    for (kind, row) in &counts {
        let _ = write!(out, "<tr><td>{kind}</td>");
        for count in row {
            let _ = write!(out, "<td class=\"num\">{count}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

fn runs(data: &PageData) -> String {
    let mut out = String::from(
        "<h2>Последние циклы</h2>\n<table id=\"runs\"><tr><th>Начало</th><th>Конец</th>\
         <th>Длительность</th><th>Результат</th><th>Код выхода</th><th>Итоги</th></tr>\n",
    );
    if data.runs.is_empty() {
        out.push_str("<tr><td colspan=\"6\" class=\"muted\">циклов ещё не было</td></tr>\n");
    }
    for RunRecord {
        started_at: started,
        finished_at: finished,
        outcome,
        summary,
    } in &data.runs
    {
        let (label, code) = outcome_label(outcome);
        let class = if outcome == "error" { "bad" } else { "ok" };
        let seconds = (*finished - *started).num_seconds();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{seconds} с</td>\
             <td class=\"{class}\">{label}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            time(started),
            time(finished),
            code.map(|c| c.to_string()).unwrap_or_default(),
            shown(summary)
        );
    }
    out.push_str("</table>\n");
    out
}

fn document_table(id: &str, rows: &[DocumentRow]) -> String {
    // Dealer groups only: a single account's page stays as it was.
    let accounts = rows.iter().any(|row| row.account.is_some());
    let account_header = if accounts {
        "<th>Кабинет</th>"
    } else {
        ""
    };
    let mut out = format!(
        "<table id=\"{id}\"><tr><th>Документ</th><th>Дата</th><th>Сделка</th>{account_header}\
         <th>Состояние</th><th>Попыток</th><th>Причина</th>\
         <th>Последний ответ Calltouch</th></tr>\n"
    );
    for row in rows {
        let document = &row.document;
        let answer = match &row.answer {
            Some(answer) => {
                let mut text = format!(
                    "{} {}: {}",
                    time(&answer.at),
                    answer.endpoint,
                    answer.outcome
                );
                if let Some(detail) = &answer.detail {
                    let detail: String = detail.chars().take(300).collect();
                    text.push_str(" — ");
                    text.push_str(&detail);
                }
                shown(&text)
            }
            None => "<span class=\"muted\">—</span>".into(),
        };
        let account = match (accounts, &row.account) {
            (false, _) => String::new(),
            (true, account) => format!("<td>{}</td>", shown(account.as_deref().unwrap_or("—"))),
        };
        let _ = writeln!(
            out,
            "<tr><td>{} {}</td><td>{}</td><td>{}</td>{account}<td>{}</td><td class=\"num\">{}</td>\
             <td>{}</td><td>{answer}</td></tr>",
            kind_label(document.kind),
            shown(&document.number),
            document.date.format("%d.%m.%Y"),
            shown(document.order_number.as_deref().unwrap_or("—")),
            state_label(document.state, document.last_error.is_some()),
            document.attempts,
            shown(document.last_error.as_deref().unwrap_or("")),
        );
    }
    out.push_str("</table>\n");
    out
}

fn document_section(id: &str, title: &str, count: usize, rows: &[DocumentRow]) -> String {
    let mut out = format!("<h2>{title}: {count}</h2>\n");
    if rows.is_empty() {
        out.push_str("<p class=\"muted\">нет</p>\n");
        return out;
    }
    if count > rows.len() {
        let _ = writeln!(
            out,
            "<p class=\"muted\">показаны последние {LIST_LIMIT}; все — командой \
             <code>alfa-calltouch register --errors</code></p>"
        );
    }
    out.push_str(&document_table(id, rows));
    out
}

fn search(data: &PageData) -> String {
    let value = data
        .search
        .as_ref()
        .map(|(number, _)| escape(number))
        .unwrap_or_default();
    let mut out = format!(
        "<h2>Поиск по номеру</h2>\n<form method=\"get\" action=\"/\">\
         <input name=\"number\" value=\"{value}\" placeholder=\"номер документа\"> \
         <button type=\"submit\">Найти</button></form>\n"
    );
    if let Some((number, rows)) = &data.search {
        if rows.is_empty() {
            let _ = writeln!(
                out,
                "<p id=\"not-found\">Документа с номером {} в регистре нет.</p>",
                escape(number)
            );
        } else {
            out.push_str(&document_table("found", rows));
        }
    }
    out
}

// The chart's geometry in pixels: the SVG's size and the margins around the plot.
const CHART_WIDTH: i64 = 900;
const CHART_HEIGHT: i64 = 220;
const CHART_LEFT: i64 = 40;
const CHART_BOTTOM: i64 = 30;
const CHART_TOP: i64 = 24;
/// The y of the bars' base line.
const CHART_BASE: i64 = CHART_HEIGHT - CHART_BOTTOM;
/// The width of one day's slot and of the bar in it.
const CHART_SLOT: i64 = (CHART_WIDTH - CHART_LEFT) / CHART_DAYS;
const CHART_BAR: i64 = CHART_SLOT - 4;

/// Deals created and updated per day, with failures marked: an inline SVG drawn here.
pub fn chart(daily: &[SendTotal], today: NaiveDate) -> String {
    let days = daily_counts(daily, today);
    let max = days.values().map(|d| d[0] + d[1]).max().unwrap_or(0).max(1);
    let mut svg = chart_axis(max);
    for (index, (day, counts)) in days.iter().enumerate() {
        chart_day(&mut svg, index, day, counts, max);
    }
    chart_legend(&mut svg);
    svg
}

/// Per day of the chart, oldest first: created, updated, failed (every refused send).
fn daily_counts(daily: &[SendTotal], today: NaiveDate) -> BTreeMap<NaiveDate, [u64; 3]> {
    let first = today - TimeDelta::days(CHART_DAYS - 1);
    let mut days: BTreeMap<NaiveDate, [u64; 3]> = BTreeMap::new();
    for offset in 0..CHART_DAYS {
        days.insert(first + TimeDelta::days(offset), [0; 3]);
    }
    for send in daily {
        let Some(entry) = send.day.and_then(|day| days.get_mut(&day)) else {
            continue;
        };
        match (send.endpoint.as_str(), send.outcome.as_str()) {
            ("create", "accepted") => entry[0] += send.count,
            ("update", "accepted") => entry[1] += send.count,
            _ => entry[2] += send.count,
        }
    }
    days
}

/// A bar's height for `count` when the tallest stack is `max`, rounded to the nearest pixel.
fn bar_height(count: u64, max: u64) -> i64 {
    let plot_height = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM;
    (count as i64 * plot_height + max as i64 / 2) / max as i64
}

/// The SVG's opening tag and the axis: the base line, `max` at the top and 0 at the bottom.
fn chart_axis(max: u64) -> String {
    let mut svg = format!(
        "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_WIDTH}\" height=\"{}\" \
         role=\"img\" aria-label=\"Сделки по дням\" font-size=\"11\">\n",
        CHART_HEIGHT + 20
    );
    let base = CHART_BASE;
    let _ = writeln!(
        svg,
        "<line x1=\"{CHART_LEFT}\" y1=\"{base}\" x2=\"{CHART_WIDTH}\" y2=\"{base}\" stroke=\"#999\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{max}</text>\
         <text x=\"{}\" y=\"{base}\" text-anchor=\"end\">0</text>",
        CHART_LEFT - 4,
        CHART_TOP + 4,
        CHART_LEFT - 4
    );
    svg
}

/// One day's group: the created bar, the updated bar stacked on it, the failure mark above
/// them, and a date label under every fifth day and the last.
fn chart_day(svg: &mut String, index: usize, day: &NaiveDate, counts: &[u64; 3], max: u64) {
    let [created, updated, failed] = counts;
    let (base, bar) = (CHART_BASE, CHART_BAR);
    let x = CHART_LEFT + index as i64 * CHART_SLOT + 2;
    let created_height = bar_height(*created, max);
    let updated_height = bar_height(*updated, max);
    let title = format!(
        "{}: создано {created}, обновлено {updated}, ошибок {failed}",
        day.format("%d.%m.%Y")
    );
    let _ = write!(svg, "<g><title>{title}</title>");
    if created_height > 0 {
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"{bar}\" height=\"{created_height}\" fill=\"#2e7d32\"/>",
            base - created_height
        );
    }
    if updated_height > 0 {
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"{bar}\" height=\"{updated_height}\" fill=\"#1565c0\"/>",
            base - created_height - updated_height
        );
    }
    if *failed > 0 {
        let top = base - created_height - updated_height - 8;
        let _ = write!(
            svg,
            "<circle class=\"failure\" cx=\"{}\" cy=\"{top}\" r=\"5\" fill=\"#c62828\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#c62828\">{failed}</text>",
            x + bar / 2,
            x + bar / 2,
            top - 8
        );
    }
    svg.push_str("</g>");
    if index.is_multiple_of(5) || index as i64 == CHART_DAYS - 1 {
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            x + bar / 2,
            base + 14,
            day.format("%d.%m")
        );
    }
    svg.push('\n');
}

/// The legend under the chart, and the SVG's closing tag.
fn chart_legend(svg: &mut String) {
    let legend_y = CHART_HEIGHT + 12;
    let _ = write!(
        svg,
        "<rect x=\"{CHART_LEFT}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"#2e7d32\"/>\
         <text x=\"{}\" y=\"{legend_y}\">создано</text>\
         <rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"#1565c0\"/>\
         <text x=\"{}\" y=\"{legend_y}\">обновлено</text>\
         <circle cx=\"{}\" cy=\"{}\" r=\"5\" fill=\"#c62828\"/>\
         <text x=\"{}\" y=\"{legend_y}\">ошибки (число)</text>\n</svg>",
        legend_y - 9,
        CHART_LEFT + 14,
        CHART_LEFT + 80,
        legend_y - 9,
        CHART_LEFT + 94,
        CHART_LEFT + 175,
        legend_y - 4,
        CHART_LEFT + 184,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::snapshot::DocRef;
    use crate::ops::schedule::Interval;
    use crate::register::{DocumentRecord, DocumentTotal, SendAnswer};

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn at(d: u32, hour: u32) -> NaiveDateTime {
        day(d).and_hms_opt(hour, 0, 0).unwrap()
    }

    fn failed_row() -> DocumentRow {
        DocumentRow {
            document: DocumentRecord {
                kind: DocKind::Booking,
                reference: DocRef([3; 16]),
                number: "ЗР-0042".into(),
                date: at(4, 9),
                order_number: Some("ЗР-0042".into()),
                state: SyncState::Failed,
                onec_state: None,
                last_status: None,
                last_revenue: None,
                last_manager: None,
                attempts: 2,
                last_error: Some("Calltouch refused: phone +7 916 123-45-67 <bad>".into()),
                updated_at: at(5, 10),
            },
            answer: Some(SendAnswer {
                at: at(5, 10),
                endpoint: "send".into(),
                outcome: "rejected".into(),
                detail: Some("client petrov@example.ru unknown".into()),
            }),
            account: None,
        }
    }

    fn data() -> PageData {
        PageData {
            place: "register.sqlite".into(),
            now: at(5, 10) + TimeDelta::minutes(2),
            every: Interval::from_minutes(5).unwrap(),
            runs: vec![RunRecord {
                started_at: at(5, 10),
                finished_at: at(5, 10) + TimeDelta::seconds(3),
                outcome: "ok".into(),
                summary: "read 2, created 1, failed 1".into(),
            }],
            totals: vec![DocumentTotal {
                kind: DocKind::Booking,
                state: SyncState::Failed,
                with_error: true,
                count: 1,
            }],
            daily: vec![],
            failed_count: 1,
            failed: vec![failed_row()],
            deferred_count: 0,
            deferred: vec![],
            search: Some(("<x>".into(), vec![])),
        }
    }

    #[test]
    fn the_page_shows_a_failed_document_with_its_reason_masked_and_escaped() {
        let html = render(&data());
        assert!(html.contains("Заявка на ремонт ЗР-0042"), "{html}");
        assert!(
            html.contains("phone +7 *** *** 45 67 &lt;bad&gt;"),
            "{html}"
        );
        assert!(html.contains("send: rejected — client p***@example.ru unknown"));
        assert!(!html.contains("123-45-67"));
        assert!(!html.contains("petrov@"));
        assert!(!html.contains("<bad>"));
        assert!(html.contains("Документы с ошибками: 1"));
    }

    #[test]
    fn the_account_column_shows_only_when_the_register_records_accounts() {
        let single = render(&data());
        assert!(!single.contains("Кабинет"), "{single}");
        let mut grouped = data();
        grouped.failed[0].account = Some("south".into());
        let html = render(&grouped);
        assert!(html.contains("<th>Сделка</th><th>Кабинет</th>"), "{html}");
        assert!(html.contains("<td>ЗР-0042</td><td>south</td>"), "{html}");
    }

    #[test]
    fn the_page_shows_health_next_cycle_and_the_run_with_its_exit_code() {
        let html = render(&data());
        assert!(html.contains("class=\"health ok\""), "{html}");
        assert!(html.contains("Следующий цикл: 05.11.2026 10:05:00 (каждые 5m)"));
        assert!(html.contains("<td class=\"ok\">успешно</td><td class=\"num\">0</td>"));
        assert!(html.contains("<td class=\"num\">3 с</td>"));
    }

    #[test]
    fn the_search_echo_is_escaped_and_nothing_is_fetched_or_scripted() {
        let html = render(&data());
        assert!(html.contains("value=\"&lt;x&gt;\""));
        assert!(html.contains("Документа с номером &lt;x&gt; в регистре нет."));
        assert!(!html.contains("<script"));
        // The only address is the SVG namespace, which is a name, not a download.
        assert_eq!(html.matches("http").count(), 1);
        assert!(html.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    }

    #[test]
    fn the_chart_stacks_created_and_updated_and_marks_failures() {
        let send = |d: u32, endpoint: &str, outcome: &str, count| SendTotal {
            day: Some(day(d)),
            endpoint: endpoint.into(),
            outcome: outcome.into(),
            count,
        };
        let svg = chart(
            &[
                send(3, "create", "accepted", 4),
                send(3, "update", "accepted", 2),
                send(4, "send", "rejected", 1),
                // Outside the 30 days: ignored.
                SendTotal {
                    day: NaiveDate::from_ymd_opt(2026, 10, 31),
                    ..send(1, "create", "accepted", 99)
                },
            ],
            day(30),
        );
        assert!(svg.contains("<title>03.11.2026: создано 4, обновлено 2, ошибок 0</title>"));
        assert!(svg.contains("<title>04.11.2026: создано 0, обновлено 0, ошибок 1</title>"));
        assert_eq!(svg.matches("class=\"failure\"").count(), 1);
        assert!(svg.contains(">6</text>"), "the axis shows the highest day");
        assert!(svg.contains("01.11.2026"), "the first of the 30 days");
        assert!(!svg.contains("31.10.2026"));
        // The highest day's bars fill the plot: 4 + 2 of 6 over 166 px.
        assert!(svg.contains("height=\"111\" fill=\"#2e7d32\""), "{svg}");
        assert!(svg.contains("height=\"55\" fill=\"#1565c0\""), "{svg}");
    }
}
