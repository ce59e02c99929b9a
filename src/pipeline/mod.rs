//! One sync cycle: read changed documents from the 1C source, decide per document with the deal
//! rules, send to Calltouch, and record every outcome in the register.
//!
//! The checkpoint moves only after every document of the read is settled (sent, unchanged,
//! skipped or failed). When Calltouch defers anything (outage, rate limit) the checkpoint stays,
//! the next cycle reads the same changes again, and the register's "last sent" values keep
//! already accepted deals from being sent twice.
//!
//! A document Calltouch keeps deferring waits longer before each attempt and becomes `failed`
//! after `sync.max_document_attempts`, so one poison document cannot hold the checkpoint forever.
//! An outage is not the document's fault: when a batch outlives the client's retries and
//! Calltouch does not answer a probe either, the cycle stops sending, counts no attempt against
//! anything, and the next cycle starts again from the same checkpoint.
//! A pending document the read did not return (re-queued by `register retry`) is re-read by its
//! number.
//!
//! Here: the cycle over chunks and the checkpoint. Beside it: `send` (rounds decided, recorded
//! and sent), `deals` (which deal and orderNumber a document has), `retry` (the per-document
//! retry policy), `preview` (preview and dry run) and `run` (one recorded run under the lock).
//!
//! A deal keeps the orderNumber it was created with: the register's row of the document, or of
//! the booking that owns its deal, names it, so a changed `deal.order_number` template names only
//! deals not yet created and never orphans one in Calltouch.
//!
//! With dealer groups (`[groups]`) each document's deal goes to one Calltouch account, chosen by
//! `Accounts::place`: a deal stays in the account it was created in. A batch holds one account's
//! documents only, and every account's client shares one pacer (`AccountClients`).
//!
//! The register is written once per batch on each side of its request: every document of the
//! batch is recorded pending (with its orderNumber) in one transaction before the request
//! leaves, and all of the batch's outcomes in one transaction after Calltouch answered. A
//! transaction per document would cost one fsync each and hold the next request back.

mod deals;
mod preview;
mod retry;
pub mod run;
mod send;

use chrono::{NaiveDate, NaiveDateTime};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::calltouch::client::{CalltouchClient, ClientError};
use crate::config::Config;
use crate::domain::snapshot::{DocRef, DocumentSnapshot};
use crate::ops::progress::{Progress, Silent};
use crate::register::{
    CycleStore, DocumentRecord, FailedDocument, ListFilter, RegisterError, SyncState,
};
use crate::rules::accounts::Accounts;
use crate::rules::DealRules;
use crate::source::{
    read_all, ChangeSet, Chunk, CycleRead, ReadFrom, RejectedDocument, Source, SourceError,
};

pub use deals::{collisions, resolve_deal};
pub use preview::{dry_run, preview, DryRun, PreviewItem};
use retry::DocumentRetry;
use send::decide::decide_round;
use send::{group_into_rounds, send_round};

/// A failure that stops the cycle; documents already recorded stay recorded.
#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Register(#[from] RegisterError),
    #[error(transparent)]
    Calltouch(#[from] ClientError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

/// Every account's client, in the order of `Accounts::list`: the `[calltouch]` client for the
/// first, each further one made from it with its own `SiteId` and token, so all share one
/// pacer (Calltouch's 5 requests per second hold per IP, for the sum over accounts).
pub struct AccountClients<'a> {
    pub accounts: Accounts,
    main: &'a CalltouchClient,
    others: Vec<CalltouchClient>,
}

impl<'a> AccountClients<'a> {
    /// Reads each further account's token; a missing one is a config error naming its key.
    pub fn new(config: &Config, main: &'a CalltouchClient) -> Result<Self, CycleError> {
        let accounts = Accounts::of(config);
        let mut others = Vec::new();
        for account in accounts.list.iter().skip(1) {
            let token = config.account_token(&account.name)?;
            others.push(main.for_account(&account.site_id, &token)?);
        }
        Ok(AccountClients {
            accounts,
            main,
            others,
        })
    }

    /// The client of the account at this index of `Accounts::list`.
    fn client(&self, index: usize) -> &CalltouchClient {
        match index {
            0 => self.main,
            n => &self.others[n - 1],
        }
    }

    fn index_of(&self, name: &str) -> usize {
        self.accounts
            .list
            .iter()
            .position(|account| account.name == name)
            .unwrap_or(0)
    }

    /// What the register records as a new deal's account: nothing in the single-account
    /// setup (as before dealer groups), else the account's name.
    fn recorded<'n>(&self, name: &'n str) -> Option<&'n str> {
        (!self.accounts.is_single()).then_some(name)
    }
}

/// What one cycle did, for its summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CycleSummary {
    pub read: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Left pending for the next cycle (Calltouch unavailable).
    pub deferred: usize,
    /// Why the cycle stopped sending: Calltouch could not be reached. No attempt was counted.
    pub outage: Option<String>,
    pub checkpoint_moved: bool,
    pub duration: Duration,
}

impl std::fmt::Display for CycleSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "read {}, created {}, updated {}, unchanged {}, skipped {}, failed {}, deferred {}, duration {:.1}s",
            self.read,
            self.created,
            self.updated,
            self.unchanged,
            self.skipped,
            self.failed,
            self.deferred,
            self.duration.as_secs_f64()
        )?;
        if let Some(reason) = &self.outage {
            write!(f, "; stopped sending, Calltouch unavailable: {reason}")?;
        }
        Ok(())
    }
}

/// The register key of the configured source's checkpoint.
pub fn checkpoint_key(config: &Config) -> String {
    let source = &config.source;
    format!(
        "{:?}://{}:{}/{}",
        source.kind,
        source.host,
        source.port.map(|p| p.to_string()).unwrap_or_default(),
        source.database
    )
    .to_lowercase()
}

/// Runs one cycle.
pub async fn run_cycle<S: Source, R: CycleStore>(
    config: &Config,
    source: &mut S,
    register: &mut R,
    client: &CalltouchClient,
) -> Result<CycleSummary, CycleError> {
    let clients = AccountClients::new(config, client)?;
    run_cycle_with_progress(config, source, register, &clients, &Silent).await
}

/// Runs one cycle, reporting to `progress` how many documents were read and settled.
///
/// The change set is read in chunks of `sync.chunk_documents`; each chunk is decided, sent and
/// recorded before the next is read, so memory is bounded by the chunk. The checkpoint moves
/// only after the last chunk: a crash between chunks re-reads the whole cycle, and the
/// register's rows keep what was already accepted from being sent twice.
pub async fn run_cycle_with_progress<S: Source, R: CycleStore>(
    config: &Config,
    source: &mut S,
    register: &mut R,
    clients: &AccountClients<'_>,
    progress: &dyn Progress,
) -> Result<CycleSummary, CycleError> {
    let started = Instant::now();
    let (from, cutoff) = read_start(config, register).await?;
    let mut read = source.open_read(&from, cutoff).await?;
    let now = read.read_at;
    let mut summary = CycleSummary::default();
    prune_send_log(config, register, now).await?;
    // Pending documents of earlier cycles; the ones no chunk returns are re-read by number.
    let mut pending = pending_documents(register).await?;
    let rules = DealRules::new(&config.deal, &config.statuses);
    let retry = DocumentRetry::new(&config.sync);
    let step = Step {
        rules: &rules,
        retry: &retry,
        clients,
        progress,
        now,
        chunk_documents: config.sync.chunk_documents,
    };
    let mut blocked: HashSet<String> = HashSet::new();
    settle_changes(
        &step,
        source,
        &mut read,
        register,
        &mut pending,
        &mut blocked,
        &mut summary,
    )
    .await?;
    if summary.outage.is_none() && !pending.is_empty() {
        settle_left_pending(&step, source, register, pending, &mut blocked, &mut summary).await?;
    }
    if summary.deferred == 0 && summary.outage.is_none() {
        register
            .save_checkpoint(&checkpoint_key(config), &read.checkpoint, now)
            .await?;
        summary.checkpoint_moved = true;
    }
    summary.duration = started.elapsed();
    Ok(summary)
}

/// Reads the change set a chunk at a time, settling each chunk before the next is read, until
/// it ends or Calltouch is found unavailable. What a chunk returns is no longer `pending`.
async fn settle_changes<S: Source, R: CycleStore>(
    step: &Step<'_>,
    source: &mut S,
    read: &mut CycleRead,
    register: &mut R,
    pending: &mut HashMap<DocRef, DocumentRecord>,
    blocked: &mut HashSet<String>,
    summary: &mut CycleSummary,
) -> Result<(), CycleError> {
    while summary.outage.is_none() {
        let Some(chunk) = source.next_chunk(read, step.chunk_documents).await? else {
            break;
        };
        for reference in chunk.documents.iter().map(|d| d.reference) {
            pending.remove(&reference);
        }
        for reference in chunk.rejected.iter().map(|r| r.reference) {
            pending.remove(&reference);
        }
        settle_chunk(step, register, chunk, blocked, summary).await?;
    }
    Ok(())
}

/// Re-reads by number the pending documents of earlier cycles no chunk returned, and settles
/// them as one more chunk; the ones no longer found are recorded lost.
async fn settle_left_pending<S: Source, R: CycleStore>(
    step: &Step<'_>,
    source: &mut S,
    register: &mut R,
    pending: HashMap<DocRef, DocumentRecord>,
    blocked: &mut HashSet<String>,
    summary: &mut CycleSummary,
) -> Result<(), CycleError> {
    let mut records: Vec<DocumentRecord> = pending.into_values().collect();
    records.sort_by(|a, b| (a.kind, a.date, &a.number).cmp(&(b.kind, b.date, &b.number)));
    let mut chunk = Chunk::default();
    let missing = find_again(source, records, &mut chunk.documents).await?;
    record_lost(register, &missing, step.now, summary).await?;
    settle_chunk(step, register, chunk, blocked, summary).await
}

/// What every chunk of a cycle is settled with.
struct Step<'a> {
    rules: &'a DealRules<'a>,
    retry: &'a DocumentRetry,
    clients: &'a AccountClients<'a>,
    progress: &'a dyn Progress,
    now: NaiveDateTime,
    /// How many documents a chunk holds at most (`sync.chunk_documents`).
    chunk_documents: usize,
}

/// Decides, sends and records one chunk: its rejected documents as failed, the rest in rounds
/// of one document per deal, a batch at a time. After an outage what is left is counted
/// deferred and left untouched.
async fn settle_chunk<R: CycleStore>(
    step: &Step<'_>,
    register: &mut R,
    chunk: Chunk,
    blocked: &mut HashSet<String>,
    summary: &mut CycleSummary,
) -> Result<(), CycleError> {
    summary.read += chunk.documents.len() + chunk.rejected.len();
    step.progress.read(summary.read);
    record_rejected(step, register, &chunk.rejected, summary).await?;
    step.progress.settled(chunk.rejected.len());
    let rounds =
        group_into_rounds(step.rules, chunk.documents, register, step.now, summary).await?;
    settle_rounds(step, register, rounds, blocked, summary).await
}

/// Records the documents of a chunk that could not be read as failed, naming the field.
async fn record_rejected<R: CycleStore>(
    step: &Step<'_>,
    register: &mut R,
    rejected: &[RejectedDocument],
    summary: &mut CycleSummary,
) -> Result<(), CycleError> {
    for rejected in rejected {
        let reason = format!("{}: {}", rejected.field, rejected.reason);
        tracing::warn!(kind = %rejected.kind, reference = %rejected.reference,
            number = rejected.number.as_deref().unwrap_or(""), "{reason}");
        register
            .record_failed(
                &FailedDocument {
                    kind: rejected.kind,
                    reference: rejected.reference,
                    number: rejected.number.as_deref().unwrap_or(""),
                    date: None,
                    order_number: None,
                    reason: reason.as_str().into(),
                },
                None,
                step.now,
            )
            .await?;
        summary.failed += 1;
    }
    Ok(())
}

/// Decides, sends and records the rounds of a chunk a batch at a time. After an outage what is
/// left is counted deferred and left untouched.
async fn settle_rounds<R: CycleStore>(
    step: &Step<'_>,
    register: &mut R,
    rounds: Vec<Vec<(String, DocumentSnapshot)>>,
    blocked: &mut HashSet<String>,
    summary: &mut CycleSummary,
) -> Result<(), CycleError> {
    let mut rounds = rounds.into_iter();
    while let Some(round) = rounds.next() {
        // A batch at a time, so progress moves as Calltouch accepts batches; the client's own
        // batch size, so it sends each as one request.
        let mut round = round.into_iter().peekable();
        while round.peek().is_some() {
            if let Some(reason) = &summary.outage {
                // Calltouch is down: what is left waits for the next cycle, untouched.
                let left = round.len() + rounds.by_ref().map(|r| r.len()).sum::<usize>();
                tracing::warn!("Calltouch unavailable ({reason}); {left} more documents wait for the next cycle");
                summary.deferred += left;
                break;
            }
            let batch: Vec<_> = round
                .by_ref()
                .take(step.clients.main.batch_size())
                .collect();
            let size = batch.len();
            let outgoing = decide_round(step, batch, register, blocked, summary).await?;
            send_round(
                step.clients,
                step.retry,
                register,
                outgoing,
                step.now,
                blocked,
                summary,
            )
            .await?;
            step.progress.settled(size);
        }
    }
    Ok(())
}

/// Where a cycle starting now reads from: the stored checkpoint and the cut-off
/// (`reset-checkpoint --since`, else `source.start_date`).
async fn read_start<R: CycleStore>(
    config: &Config,
    register: &R,
) -> Result<(ReadFrom, NaiveDate), CycleError> {
    let stored = register.checkpoint(&checkpoint_key(config)).await?;
    let from = stored
        .checkpoint
        .clone()
        .map_or(ReadFrom::Start, ReadFrom::Checkpoint);
    let cutoff: NaiveDate = stored.since.unwrap_or(config.source.start_date);
    Ok((from, cutoff))
}

/// What a cycle starting now reads, every chunk of it at once: the changes since the stored
/// checkpoint, dated on or after the cut-off.
pub async fn next_read<S: Source, R: CycleStore>(
    config: &Config,
    source: &mut S,
    register: &R,
) -> Result<ChangeSet, CycleError> {
    let (from, cutoff) = read_start(config, register).await?;
    Ok(read_all(source, &from, cutoff, config.sync.chunk_documents).await?)
}

/// Deletes the send-log rows older than `[register] send_log_days`: the request bodies hold
/// customers' phones and e-mails, which the register keeps nowhere else.
async fn prune_send_log<R: CycleStore>(
    config: &Config,
    register: &mut R,
    now: NaiveDateTime,
) -> Result<(), CycleError> {
    let before = now - chrono::Duration::days(i64::from(config.register.send_log_days));
    let pruned = register.prune_send_log(before).await?;
    if pruned > 0 {
        tracing::info!("send log: deleted {pruned} requests older than {before}");
    }
    Ok(())
}

/// The register's pending documents by reference.
async fn pending_documents<R: CycleStore>(
    register: &R,
) -> Result<HashMap<DocRef, DocumentRecord>, CycleError> {
    Ok(register
        .list(&ListFilter {
            state: Some(SyncState::Pending),
            ..ListFilter::default()
        })
        .await?
        .into_iter()
        .map(|record| (record.reference, record))
        .collect())
}

/// Records the re-queued documents no longer found by their numbers as failed, so none waits
/// unseen.
async fn record_lost<R: CycleStore>(
    register: &mut R,
    missing: &[DocumentRecord],
    now: NaiveDateTime,
    summary: &mut CycleSummary,
) -> Result<(), CycleError> {
    for lost in missing {
        let reason = lost_reason(lost);
        tracing::warn!("{reason}");
        register
            .record_failed(
                &FailedDocument {
                    kind: lost.kind,
                    reference: lost.reference,
                    number: &lost.number,
                    date: Some(lost.date),
                    order_number: lost.order_number.as_deref(),
                    reason: reason.as_str().into(),
                },
                None,
                now,
            )
            .await?;
        summary.failed += 1;
    }
    Ok(())
}

/// Why a re-queued document is given up.
fn lost_reason(lost: &DocumentRecord) -> String {
    format!(
        "Номер: re-queued {} {} is no longer found by its number in the 1C database \
         (deleted, renumbered or unreadable)",
        lost.kind, lost.number
    )
}

/// Adds to `changes` the pending documents the read left out, found again by their numbers;
/// returns the ones no longer found. Reads only.
async fn pending_outside<S: Source, R: CycleStore>(
    source: &mut S,
    register: &R,
    changes: &mut ChangeSet,
) -> Result<Vec<DocumentRecord>, CycleError> {
    let read: HashSet<DocRef> = changes
        .documents
        .iter()
        .map(|d| d.reference)
        .chain(changes.rejected.iter().map(|r| r.reference))
        .collect();
    let missing: Vec<DocumentRecord> = register
        .list(&ListFilter {
            state: Some(SyncState::Pending),
            ..ListFilter::default()
        })
        .await?
        .into_iter()
        .filter(|record| !read.contains(&record.reference))
        .collect();
    find_again(source, missing, &mut changes.documents).await
}

/// Finds documents again by their numbers, adding them to `found_into`; returns the ones no
/// longer found.
async fn find_again<S: Source>(
    source: &mut S,
    missing: Vec<DocumentRecord>,
    found_into: &mut Vec<DocumentSnapshot>,
) -> Result<Vec<DocumentRecord>, CycleError> {
    let numbers: BTreeSet<&str> = missing.iter().map(|d| d.number.as_str()).collect();
    let mut found: HashSet<DocRef> = HashSet::new();
    for number in numbers {
        for snapshot in source.find_by_number(number).await? {
            let wanted = missing.iter().any(|d| d.reference == snapshot.reference);
            if wanted && found.insert(snapshot.reference) {
                found_into.push(snapshot);
            }
        }
    }
    Ok(missing
        .into_iter()
        .filter(|d| !found.contains(&d.reference))
        .collect())
}
