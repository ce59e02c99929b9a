//! The read-only status endpoints of `watch --listen` and `serve`: an HTML page for the
//! dealership's staff, `/metrics` for Prometheus or Zabbix, `/healthz` for a monitor.
//!
//! Everything comes from the sync register through its read API, so `serve` beside a
//! scheduled `run` shows the same as `watch`. [`gather`] is the I/O; [`page`], [`metrics`] and
//! [`health`] render what it read and are pure; [`server`] routes the requests and [`http`] is its wire. [`report`] is the
//! register's table and summary as the `register` command prints them.

pub mod health;
pub mod http;
pub mod metrics;
pub mod page;
pub mod report;
pub mod server;
pub mod text;

use chrono::{Local, NaiveDateTime, TimeDelta, TimeZone};

use crate::domain::run::RunRecord;
use crate::ops::schedule::Interval;
use crate::register::{
    Admin, CycleStore, DocumentRecord, DocumentTotal, ListFilter, RegisterError, RunDurations,
    RunLog, SendAnswer, SendTotal, SyncState,
};

/// How many cycles the page lists.
pub const RECENT_RUNS: u32 = 20;
/// How many documents each of the page's lists shows at most.
pub const LIST_LIMIT: usize = 50;
/// The chart's span.
pub const CHART_DAYS: i64 = 30;

/// A document on the page, with the last answer Calltouch gave to its request.
#[derive(Debug, Clone)]
pub struct DocumentRow {
    pub document: DocumentRecord,
    pub answer: Option<SendAnswer>,
    /// The Calltouch account of its deal, as the register records it: only dealer groups
    /// (`[groups]`) record one, so the page shows the column only then.
    pub account: Option<String>,
}

/// Everything the page shows, read at one moment.
#[derive(Debug, Clone)]
pub struct PageData {
    pub place: String,
    pub now: NaiveDateTime,
    pub every: Interval,
    /// Newest first.
    pub runs: Vec<RunRecord>,
    pub totals: Vec<DocumentTotal>,
    /// The send log per day over the chart's span.
    pub daily: Vec<SendTotal>,
    /// How many failed / deferred documents there are in all (the lists show at most
    /// [`LIST_LIMIT`]).
    pub failed_count: usize,
    pub failed: Vec<DocumentRow>,
    pub deferred_count: usize,
    pub deferred: Vec<DocumentRow>,
    /// The number searched for and what was found.
    pub search: Option<(String, Vec<DocumentRow>)>,
}

/// Everything `/metrics` reports.
#[derive(Debug, Clone)]
pub struct MetricsData {
    pub runs: Vec<RunDurations>,
    /// Unix seconds.
    pub last_success: Option<i64>,
    pub totals: Vec<DocumentTotal>,
    pub sends: Vec<SendTotal>,
    pub health: health::Health,
}

/// Reads what the page shows; `search` is the number typed into the search box.
pub async fn gather<R: CycleStore + RunLog + Admin>(
    register: &R,
    every: Interval,
    now: NaiveDateTime,
    search: Option<&str>,
) -> Result<PageData, RegisterError> {
    let runs = register.recent_runs(RECENT_RUNS).await?;
    let totals = register.document_totals().await?;
    let chart_from =
        (now.date() - TimeDelta::days(CHART_DAYS - 1)).and_time(chrono::NaiveTime::MIN);
    let daily = register.daily_sends(chart_from).await?;
    let failed = register
        .list(&ListFilter {
            state: Some(SyncState::Failed),
            ..ListFilter::default()
        })
        .await?;
    // Deferred: waiting for another attempt after an error.
    let deferred: Vec<_> = register
        .list(&ListFilter {
            state: Some(SyncState::Pending),
            with_errors: true,
            ..ListFilter::default()
        })
        .await?;
    let search = match search.map(str::trim).filter(|n| !n.is_empty()) {
        Some(number) => {
            let found = register
                .list(&ListFilter {
                    number: Some(number.to_string()),
                    ..ListFilter::default()
                })
                .await?;
            Some((number.to_string(), with_answers(register, found).await?))
        }
        None => None,
    };
    Ok(PageData {
        place: register.place(),
        now,
        every,
        runs,
        totals,
        daily,
        failed_count: failed.len(),
        failed: with_answers(register, failed).await?,
        deferred_count: deferred.len(),
        deferred: with_answers(register, deferred).await?,
        search,
    })
}

/// The first [`LIST_LIMIT`] documents, each with the last answer to its own request.
async fn with_answers<R: Admin + CycleStore>(
    register: &R,
    documents: Vec<DocumentRecord>,
) -> Result<Vec<DocumentRow>, RegisterError> {
    let mut rows = Vec::new();
    for document in documents.into_iter().take(LIST_LIMIT) {
        let answer = register.last_answer(document.reference).await?;
        let account = match &document.order_number {
            Some(number) => register.deal(number).await?.and_then(|deal| deal.account),
            None => None,
        };
        rows.push(DocumentRow {
            document,
            answer,
            account,
        });
    }
    Ok(rows)
}

/// Reads what `/metrics` reports.
pub async fn gather_metrics<R: RunLog + Admin>(
    register: &R,
    every: Interval,
    now: NaiveDateTime,
) -> Result<MetricsData, RegisterError> {
    let last_run = register.last_run().await?;
    Ok(MetricsData {
        runs: register.run_durations().await?,
        last_success: register.last_success().await?.and_then(unix_seconds),
        totals: register.document_totals().await?,
        sends: register.send_totals().await?,
        health: health::health(last_run.as_ref(), every, now),
    })
}

/// The register keeps local wall-clock times; Prometheus wants Unix seconds.
fn unix_seconds(local: NaiveDateTime) -> Option<i64> {
    Local
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.timestamp())
}
