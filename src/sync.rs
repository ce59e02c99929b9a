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
//! A deal keeps the orderNumber it was created with: the register's row of the document, or of
//! the booking that owns its deal, names it, so a changed `deal.order_number` template names only
//! deals not yet created and never orphans one in Calltouch.
//!
//! With dealer groups (`[groups]`) each document's deal goes to one Calltouch account, chosen by
//! `Accounts::place`: a deal stays in the account it was created in. A batch holds one account's
//! documents only, and every account's client shares one pacer.
//!
//! The register is written once per batch on each side of its request: every document of the
//! batch is recorded pending (with its orderNumber) in one transaction before the request
//! leaves, and all of the batch's outcomes in one transaction after Calltouch answered. A
//! transaction per document would cost one fsync each and hold the next request back.

use chrono::{NaiveDate, NaiveDateTime};
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::accounts::{Accounts, Choice};
use crate::calltouch::client::{
    update_from_create, CalltouchClient, ClientError, Endpoint, Operation, OrderOutcome,
};
use crate::calltouch::payload::{CreateOrder, CreateRequest, UpdateRequest};
use crate::config::{Config, SyncConfig};
use crate::progress::{Progress, Silent};
use crate::register::{
    AcceptedDeal, CycleStore, DealRecord, DocumentRecord, FailedDocument, ListFilter, Outcome,
    PendingDocument, RegisterError, SendRecord, SyncState,
};
use crate::rules::{DealRules, Decision, DocumentError, SentValues};
use crate::snapshot::{DocKind, DocRef, DocumentSnapshot, Money};
use crate::source::{read_all, ChangeSet, Chunk, ReadFrom, Source, SourceError};

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

/// How often and how patiently a deferred document is tried again, from `[sync]`.
#[derive(Debug, Clone, Copy)]
struct DocumentRetry {
    max_attempts: u32,
    backoff_initial: chrono::Duration,
    backoff_max: chrono::Duration,
}

impl DocumentRetry {
    fn new(sync: &SyncConfig) -> Self {
        let seconds =
            |secs: u64| chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX));
        DocumentRetry {
            max_attempts: sync.max_document_attempts.max(1),
            backoff_initial: seconds(sync.retry_backoff_secs),
            backoff_max: seconds(sync.retry_backoff_max_secs),
        }
    }

    /// When a pending document that failed `attempts` times may be sent again: the pause doubles
    /// with each attempt, capped.
    fn next_attempt_at(&self, record: &DocumentRecord) -> Option<NaiveDateTime> {
        if record.state != SyncState::Pending || record.attempts == 0 {
            return None;
        }
        let doubling = 2i32.saturating_pow(record.attempts.saturating_sub(1).min(30));
        let pause = (self.backoff_initial * doubling).min(self.backoff_max);
        Some(record.updated_at + pause)
    }
}

/// One document on its way to Calltouch.
struct Outgoing {
    snapshot: DocumentSnapshot,
    order_number: String,
    sent: SentValues,
    /// What is recorded if an update falls back to its create body.
    fallback_sent: Option<SentValues>,
    state_seen_at: NaiveDateTime,
    request_json: String,
    /// Deferred attempts counted before this one.
    attempts: u32,
    /// The account the request goes to, as the register records a new deal's.
    account: Option<String>,
    /// Index of the account in `Accounts::list`.
    account_index: usize,
    /// Why the deal is in another account than the document would choose now.
    moved: Option<String>,
}

impl Outgoing {
    /// Its pending row: before the request leaves, or after Calltouch deferred it.
    fn pending<'a>(
        &'a self,
        error: Option<Cow<'a, str>>,
        count_attempt: bool,
    ) -> PendingDocument<'a> {
        PendingDocument {
            snapshot: &self.snapshot,
            order_number: &self.order_number,
            state_seen_at: self.state_seen_at,
            error,
            count_attempt,
        }
    }

    /// What the register records once Calltouch accepted it through `via`.
    fn accepted(&self, calltouch_id: Option<i64>, via: Endpoint) -> Outcome<'_> {
        let snapshot = &self.snapshot;
        // An update Calltouch did not know went out as its create body.
        let sent = match (&self.fallback_sent, via) {
            (Some(fallback_sent), Endpoint::Create) => fallback_sent,
            _ => &self.sent,
        };
        Outcome::Accepted {
            snapshot,
            deal: AcceptedDeal {
                order_number: &self.order_number,
                root: DealRules::deal_root(snapshot),
                status: sent.status.as_deref(),
                revenue: sent.revenue,
                manager: sent.manager.as_deref(),
                calltouch_id,
                account: self.account.as_deref(),
            },
            send: self.send_record(endpoint_name(via), "accepted", None),
            state_seen_at: self.state_seen_at,
        }
    }

    /// What the register records once it was rejected or given up: the send log's outcome
    /// and Calltouch's words, and the document's error message.
    fn failed(&self, outcome: &'static str, detail: String, message: String) -> Outcome<'_> {
        let snapshot = &self.snapshot;
        Outcome::Failed {
            failed: FailedDocument {
                kind: snapshot.kind,
                reference: snapshot.reference,
                number: &snapshot.number,
                date: Some(snapshot.date),
                order_number: Some(&self.order_number),
                reason: message.into(),
            },
            send: Some(self.send_record("send", outcome, Some(detail.into()))),
        }
    }

    fn send_record<'a>(
        &'a self,
        endpoint: &'a str,
        outcome: &'a str,
        detail: Option<Cow<'a, str>>,
    ) -> SendRecord<'a> {
        SendRecord {
            endpoint,
            order_number: &self.order_number,
            request_json: &self.request_json,
            outcome,
            detail,
        }
    }
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
    let key = checkpoint_key(config);
    let (from, cutoff) = read_start(config, register).await?;
    let mut read = source.open_read(&from, cutoff).await?;
    let now = read.read_at;
    let mut summary = CycleSummary::default();
    prune_send_log(config, register, now).await?;
    // Pending documents of earlier cycles; the ones no chunk returns are re-read by number.
    let mut pending = pending_documents(register).await?;
    let rules = DealRules::new(&config.deal, &config.statuses);
    let retry = DocumentRetry::new(&config.sync);
    let mut blocked: HashSet<String> = HashSet::new();
    while summary.outage.is_none() {
        let Some(chunk) = source
            .next_chunk(&mut read, config.sync.chunk_documents)
            .await?
        else {
            break;
        };
        for reference in chunk.documents.iter().map(|d| d.reference) {
            pending.remove(&reference);
        }
        for reference in chunk.rejected.iter().map(|r| r.reference) {
            pending.remove(&reference);
        }
        let step = Step {
            rules: &rules,
            retry: &retry,
            clients,
            progress,
            batch_size: config.calltouch.batch_size,
            now,
        };
        settle_chunk(&step, register, chunk, &mut blocked, &mut summary).await?;
    }
    if summary.outage.is_none() && !pending.is_empty() {
        let mut records: Vec<DocumentRecord> = pending.into_values().collect();
        records.sort_by(|a, b| (a.kind, a.date, &a.number).cmp(&(b.kind, b.date, &b.number)));
        let mut chunk = Chunk::default();
        let missing = find_again(source, records, &mut chunk.documents).await?;
        record_lost(register, &missing, now, &mut summary).await?;
        let step = Step {
            rules: &rules,
            retry: &retry,
            clients,
            progress,
            batch_size: config.calltouch.batch_size,
            now,
        };
        settle_chunk(&step, register, chunk, &mut blocked, &mut summary).await?;
    }

    if summary.deferred == 0 && summary.outage.is_none() {
        register
            .save_checkpoint(&key, &read.checkpoint, now)
            .await?;
        summary.checkpoint_moved = true;
    }
    summary.duration = started.elapsed();
    Ok(summary)
}

/// What every chunk of a cycle is settled with.
struct Step<'a> {
    rules: &'a DealRules<'a>,
    retry: &'a DocumentRetry,
    clients: &'a AccountClients<'a>,
    progress: &'a dyn Progress,
    batch_size: usize,
    now: NaiveDateTime,
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
    let now = step.now;
    summary.read += chunk.documents.len() + chunk.rejected.len();
    step.progress.read(summary.read);
    for rejected in &chunk.rejected {
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
                now,
            )
            .await?;
        summary.failed += 1;
    }
    step.progress.settled(chunk.rejected.len());

    let rounds = group_into_rounds(step.rules, chunk.documents, register, now, summary).await?;
    let mut rounds = rounds.into_iter();
    while let Some(round) = rounds.next() {
        // A batch at a time, so progress moves as Calltouch accepts batches; the client would
        // split a round into the same batches.
        let mut round = round.into_iter().peekable();
        while round.peek().is_some() {
            if let Some(reason) = &summary.outage {
                // Calltouch is down: what is left waits for the next cycle, untouched.
                let left = round.len() + rounds.by_ref().map(|r| r.len()).sum::<usize>();
                tracing::warn!("Calltouch unavailable ({reason}); {left} more documents wait for the next cycle");
                summary.deferred += left;
                break;
            }
            let batch: Vec<_> = round.by_ref().take(step.batch_size).collect();
            let size = batch.len();
            let outgoing = decide_round(step, batch, register, blocked, summary).await?;
            send_round(
                step.clients,
                step.retry,
                register,
                outgoing,
                now,
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

/// The orderNumber of a document's deal and the deal as Calltouch last accepted it (None: not
/// created yet). A deal keeps the number it was created with: the register's row of the
/// document, or of the booking that owns its deal, names it whatever the template says now. A
/// document pending without a deal keeps its number too, since its create may have reached
/// Calltouch with the answer lost. Only a document of a deal not yet created gets the template.
/// The deal returned may belong to another document (a collision); the caller decides.
pub async fn resolve_deal<R: CycleStore>(
    rules: &DealRules<'_>,
    register: &R,
    snapshot: &DocumentSnapshot,
    previous: Option<&DocumentRecord>,
) -> Result<Result<(String, Option<DealRecord>), DocumentError>, CycleError> {
    let root = DealRules::deal_root(snapshot);
    let root_row = match root == snapshot.reference {
        true => None,
        false => register.document(root).await?,
    };
    for row in [previous, root_row.as_ref()].into_iter().flatten() {
        let Some(number) = row.order_number.as_deref() else {
            continue;
        };
        match deal_with_driver(register, number, snapshot).await? {
            Some(deal) if deal.root == root => return Ok(Ok((number.to_string(), Some(deal)))),
            None if row.reference == snapshot.reference && row.state == SyncState::Pending => {
                return Ok(Ok((number.to_string(), None)));
            }
            _ => {}
        }
    }
    let number = match rules.order_number(snapshot) {
        Ok(number) => number,
        Err(error) => return Ok(Err(error)),
    };
    let deal = deal_with_driver(register, &number, snapshot).await?;
    Ok(Ok((number, deal)))
}

/// The deal with this number, with the number of the document it follows when that is not
/// `snapshot` itself, so messages name it by kind and number.
async fn deal_with_driver<R: CycleStore>(
    register: &R,
    order_number: &str,
    snapshot: &DocumentSnapshot,
) -> Result<Option<DealRecord>, CycleError> {
    let Some(mut deal) = register.deal(order_number).await? else {
        return Ok(None);
    };
    if deal.driver != snapshot.reference {
        deal.driver_number = register.document(deal.driver).await?.map(|d| d.number);
    }
    Ok(Some(deal))
}

/// Why a document cannot have the orderNumber another document's deal already carries.
async fn taken_number<R: CycleStore>(
    register: &R,
    snapshot: &DocumentSnapshot,
    deal: &DealRecord,
) -> Result<String, CycleError> {
    let owner = match register.document(deal.root).await? {
        Some(row) => format!("{} {}", row.kind, row.number.trim()),
        None => "another document".to_string(),
    };
    Ok(format!(
        "Номер: orderNumber {} already names the deal of {owner}, so {} cannot have it (one \
         number in two kinds or years); set deal.order_number to \"{}\", which applies only to \
         deals not yet created",
        deal.order_number,
        DealRules::deal_root_label(snapshot),
        crate::config::DEFAULT_ORDER_NUMBER
    ))
}

/// Documents that the read would give one orderNumber without sharing a deal, one message per
/// number, for `check` and `preview` to report before anything is sent.
pub async fn collisions<R: CycleStore>(
    config: &Config,
    register: &R,
    documents: &[DocumentSnapshot],
) -> Result<Vec<String>, CycleError> {
    let rules = DealRules::new(&config.deal, &config.statuses);
    // orderNumber → the deal roots that would carry it, with their labels.
    let mut owners: std::collections::BTreeMap<String, Vec<(DocRef, String)>> =
        std::collections::BTreeMap::new();
    for snapshot in documents {
        let previous = register.document(snapshot.reference).await?;
        let Ok((number, deal)) =
            resolve_deal(&rules, register, snapshot, previous.as_ref()).await?
        else {
            continue;
        };
        let roots = owners.entry(number).or_default();
        if let Some(deal) = deal {
            if !roots.iter().any(|(root, _)| *root == deal.root) {
                let owner = match register.document(deal.root).await? {
                    Some(row) => format!("{} {} (its deal exists)", row.kind, row.number.trim()),
                    None => "a document whose deal exists".to_string(),
                };
                roots.push((deal.root, owner));
            }
        }
        let root = DealRules::deal_root(snapshot);
        if !roots.iter().any(|(known, _)| *known == root) {
            roots.push((root, DealRules::deal_root_label(snapshot)));
        }
    }
    Ok(owners
        .into_iter()
        .filter(|(_, roots)| roots.len() > 1)
        .map(|(number, roots)| {
            let names: Vec<String> = roots.into_iter().map(|(_, label)| label).collect();
            format!(
                "orderNumber {number} would name the deals of {}: only the first gets one; set \
                 deal.order_number to \"{}\" (it applies only to deals not yet created)",
                names.join(" and "),
                crate::config::DEFAULT_ORDER_NUMBER
            )
        })
        .collect())
}

/// Splits the documents into rounds so that no round holds two documents of the same deal:
/// a booking and its work order both new in one read go out one after the other.
async fn group_into_rounds<R: CycleStore>(
    rules: &DealRules<'_>,
    documents: Vec<DocumentSnapshot>,
    register: &mut R,
    now: NaiveDateTime,
    summary: &mut CycleSummary,
) -> Result<Vec<Vec<(String, DocumentSnapshot)>>, CycleError> {
    let mut depth: HashMap<String, usize> = HashMap::new();
    let mut rounds: Vec<Vec<(bool, String, DocumentSnapshot)>> = Vec::new();
    for snapshot in documents {
        let previous = register.document(snapshot.reference).await?;
        let (order_number, exists) =
            match resolve_deal(rules, register, &snapshot, previous.as_ref()).await? {
                Ok((order_number, deal)) => (order_number, deal.is_some()),
                Err(error) => {
                    fail_document(register, &snapshot, None, &error.to_string(), now).await?;
                    summary.failed += 1;
                    continue;
                }
            };
        let round = depth.entry(order_number.clone()).or_insert(0);
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push((exists, order_number, snapshot));
        *round += 1;
    }
    // New deals first, then deals that exist: a batch then mostly holds one kind of request,
    // and the client sends one request per kind in a batch.
    Ok(rounds
        .into_iter()
        .map(|mut round| {
            round.sort_by_key(|(exists, _, _)| *exists);
            round
                .into_iter()
                .map(|(_, order_number, snapshot)| (order_number, snapshot))
                .collect()
        })
        .collect())
}

/// Why a document waits: an earlier change of its deal is not settled yet.
const WAITING_FOR_EARLIER_CHANGE: &str = "waiting for an earlier change of the same deal";

/// Decides every document of a round; settles the ones that need no request, and records the
/// ones to send, and those waiting behind them, as pending in one transaction before returning
/// them.
async fn decide_round<R: CycleStore>(
    step: &Step<'_>,
    round: Vec<(String, DocumentSnapshot)>,
    register: &mut R,
    blocked: &mut HashSet<String>,
    summary: &mut CycleSummary,
) -> Result<Vec<(Operation, Outgoing)>, CycleError> {
    let (rules, retry, now) = (step.rules, step.retry, step.now);
    let clients = step.clients;
    let mut outgoing = Vec::new();
    let mut waiting: Vec<(String, DocumentSnapshot, NaiveDateTime)> = Vec::new();
    for (order_number, mut snapshot) in round {
        let previous = register.document(snapshot.reference).await?;
        let next_attempt_at = previous
            .as_ref()
            .and_then(|record| retry.next_attempt_at(record));
        let attempts = previous.as_ref().map_or(0, |record| record.attempts);
        if let Some(at) = next_attempt_at.filter(|at| now < *at) {
            // Left untouched: recording it would restart its pause.
            tracing::debug!(document = %snapshot.label(), "deferred earlier; next attempt at {at}");
            blocked.insert(order_number);
            summary.deferred += 1;
            continue;
        }
        let state_seen_at = fill_booking_state_time(register, &mut snapshot, now).await?;
        if blocked.contains(&order_number) {
            waiting.push((order_number, snapshot, state_seen_at));
            summary.deferred += 1;
            continue;
        }
        let deal = deal_with_driver(register, &order_number, &snapshot).await?;
        if let Some(deal) = &deal {
            if deal.root != DealRules::deal_root(&snapshot) {
                let reason = taken_number(register, &snapshot, deal).await?;
                fail_document(register, &snapshot, Some(&order_number), &reason, now).await?;
                summary.failed += 1;
                continue;
            }
        }
        let (account, moved) = match clients.accounts.place(&snapshot, deal.as_ref()) {
            Ok((Choice::Account { account, .. }, moved)) => (account.name.clone(), moved),
            Ok((Choice::NotSent { reason }, _)) => {
                tracing::info!(document = %snapshot.label(), "not sent: {reason}");
                register
                    .record_settled(
                        &snapshot,
                        Some(&order_number),
                        SyncState::Skipped,
                        Some(&reason),
                        state_seen_at,
                        now,
                    )
                    .await?;
                summary.skipped += 1;
                continue;
            }
            Err(error) => {
                let reason = error.to_string();
                fail_document(register, &snapshot, Some(&order_number), &reason, now).await?;
                summary.failed += 1;
                continue;
            }
        };
        if let Some(moved) = &moved {
            tracing::info!(document = %snapshot.label(), "{moved}");
        }
        let mut plan = match rules.decide(&snapshot, deal.as_ref(), now) {
            Ok(plan) => plan,
            Err(error) => {
                fail_document(
                    register,
                    &snapshot,
                    Some(&order_number),
                    &error.to_string(),
                    now,
                )
                .await?;
                summary.failed += 1;
                continue;
            }
        };
        plan.decision.renumber(&order_number);
        for warning in &plan.warnings {
            tracing::warn!(document = %snapshot.label(), "{warning}");
        }
        let account_index = clients.index_of(&account);
        let recorded = clients.recorded(&account).map(str::to_string);
        match plan.decision {
            Decision::Create { order, sent } => {
                let request_json = serde_json::to_string(&order).unwrap_or_default();
                // Pending from an earlier run: its create may have reached Calltouch with the
                // answer lost (a crash, a dropped connection), so it goes out as an update first
                // and is created only if Calltouch does not know it.
                let maybe_sent = previous
                    .as_ref()
                    .is_some_and(|record| record.state == SyncState::Pending);
                let (operation, fallback_sent) = if maybe_sent {
                    let update = update_from_create(&order);
                    let operation = Operation::Update {
                        order: update,
                        fallback: order,
                    };
                    (operation, Some(sent.clone()))
                } else {
                    (Operation::Create(order), None)
                };
                outgoing.push((
                    operation,
                    Outgoing {
                        snapshot,
                        order_number,
                        sent,
                        fallback_sent,
                        state_seen_at,
                        request_json,
                        attempts,
                        account: recorded.clone(),
                        account_index,
                        moved: moved.clone(),
                    },
                ));
            }
            Decision::Update {
                order,
                fallback,
                sent,
            } => {
                let request_json = serde_json::to_string(&order).unwrap_or_default();
                let fallback_sent = Some(sent_by_create(&fallback));
                outgoing.push((
                    Operation::Update { order, fallback },
                    Outgoing {
                        snapshot,
                        order_number,
                        sent,
                        fallback_sent,
                        state_seen_at,
                        request_json,
                        attempts,
                        account: recorded.clone(),
                        account_index,
                        moved: moved.clone(),
                    },
                ));
            }
            Decision::Unchanged => {
                register
                    .record_settled(
                        &snapshot,
                        Some(&order_number),
                        SyncState::Sent,
                        moved.as_deref(),
                        state_seen_at,
                        now,
                    )
                    .await?;
                summary.unchanged += 1;
            }
            Decision::Skip { reason } => {
                register
                    .record_settled(
                        &snapshot,
                        Some(&order_number),
                        SyncState::Skipped,
                        Some(&reason),
                        state_seen_at,
                        now,
                    )
                    .await?;
                summary.skipped += 1;
            }
        }
    }
    let pending: Vec<PendingDocument<'_>> = waiting
        .iter()
        .map(|(order_number, snapshot, state_seen_at)| PendingDocument {
            snapshot,
            order_number,
            state_seen_at: *state_seen_at,
            error: Some(WAITING_FOR_EARLIER_CHANGE.into()),
            count_attempt: false,
        })
        .chain(
            outgoing
                .iter()
                .map(|(_, document)| document.pending(None, false)),
        )
        .collect();
    if !pending.is_empty() {
        register.mark_pending_batch(&pending, now).await?;
    }
    Ok(outgoing)
}

/// Sends a round and records the outcomes of all its orders in one transaction.
/// A request holds one account's orders only, so the round goes out one account at a time.
async fn send_round<R: CycleStore>(
    clients: &AccountClients<'_>,
    retry: &DocumentRetry,
    register: &mut R,
    outgoing: Vec<(Operation, Outgoing)>,
    now: NaiveDateTime,
    blocked: &mut HashSet<String>,
    summary: &mut CycleSummary,
) -> Result<(), CycleError> {
    let mut groups: Vec<(usize, Vec<(Operation, Outgoing)>)> = Vec::new();
    for item in outgoing {
        let index = item.1.account_index;
        match groups.iter_mut().find(|(known, _)| *known == index) {
            Some((_, group)) => group.push(item),
            None => groups.push((index, vec![item])),
        }
    }
    for (index, group) in groups {
        let client = clients.client(index);
        send_account_batch(client, retry, register, group, now, blocked, summary).await?;
    }
    Ok(())
}

/// Sends one account's part of a round and records the outcomes in one transaction. After an
/// outage found by an earlier part, it is left for the next cycle unsent.
async fn send_account_batch<R: CycleStore>(
    client: &CalltouchClient,
    retry: &DocumentRetry,
    register: &mut R,
    outgoing: Vec<(Operation, Outgoing)>,
    now: NaiveDateTime,
    blocked: &mut HashSet<String>,
    summary: &mut CycleSummary,
) -> Result<(), CycleError> {
    if outgoing.is_empty() {
        return Ok(());
    }
    let (operations, documents): (Vec<_>, Vec<_>) = outgoing.into_iter().unzip();
    let outcomes = match &summary.outage {
        Some(reason) => operations
            .iter()
            .map(|_| OrderOutcome::Deferred {
                reason: reason.clone(),
            })
            .collect(),
        None => client.send(operations).await?,
    };
    let deferred = outcomes
        .iter()
        .any(|outcome| matches!(outcome, OrderOutcome::Deferred { .. }));
    if deferred {
        // Calltouch up while this batch was not accepted: the batch is the trouble, and counts.
        if let Err(reason) = client.probe().await {
            summary.outage = Some(reason);
        }
    }
    let outage = summary.outage.clone();
    let outcomes: Vec<Outcome<'_>> = documents
        .iter()
        .zip(outcomes)
        .map(|(document, outcome)| {
            answer(
                retry,
                document,
                outcome,
                outage.as_deref(),
                blocked,
                summary,
            )
        })
        .collect();
    register.record_outcomes(&outcomes, now).await?;
    // A deal kept in the account it was created in, though the document would now choose
    // another: the document's row says so.
    for (document, outcome) in documents.iter().zip(&outcomes) {
        if let (Some(moved), Outcome::Accepted { .. }) = (&document.moved, outcome) {
            register
                .record_settled(
                    &document.snapshot,
                    Some(&document.order_number),
                    SyncState::Sent,
                    Some(moved),
                    document.state_seen_at,
                    now,
                )
                .await?;
        }
    }
    Ok(())
}

/// Reads Calltouch's answer for one document, counts it, and says what the register records.
/// A document deferred
/// `max_attempts` times is given up as failed: the checkpoint may then move past it, and
/// `register retry` sends it again. During an `outage` a deferral counts no attempt.
fn answer<'a>(
    retry: &DocumentRetry,
    document: &'a Outgoing,
    outcome: OrderOutcome,
    outage: Option<&str>,
    blocked: &mut HashSet<String>,
    summary: &mut CycleSummary,
) -> Outcome<'a> {
    let snapshot = &document.snapshot;
    match outcome {
        OrderOutcome::Accepted {
            calltouch_order_id,
            via,
        } => {
            match via {
                Endpoint::Create => summary.created += 1,
                Endpoint::Update => summary.updated += 1,
            }
            document.accepted(calltouch_order_id, via)
        }
        OrderOutcome::Rejected { reason } => {
            tracing::warn!(document = %snapshot.label(), order_number = %document.order_number, "Calltouch rejected the deal: {reason}");
            summary.failed += 1;
            let message = format!("Calltouch rejected the deal: {reason}");
            document.failed("rejected", reason, message)
        }
        OrderOutcome::Deferred { reason } => {
            if let Some(outage) = outage {
                tracing::debug!(document = %snapshot.label(), "left for the next cycle: {reason}");
                summary.deferred += 1;
                let reason = format!("Calltouch unavailable, no attempt counted: {outage}");
                return Outcome::Deferred(document.pending(Some(reason.into()), false));
            }
            let attempts = document.attempts + 1;
            if attempts >= retry.max_attempts {
                let message = format!(
                    "Calltouch did not accept the deal in {attempts} attempts (last: {reason}); \
                     `register retry {}` sends it again",
                    snapshot.number
                );
                tracing::warn!(document = %snapshot.label(), order_number = %document.order_number, "{message}");
                summary.failed += 1;
                return document.failed("gave up", reason, message);
            }
            tracing::warn!(document = %snapshot.label(), "left for the next cycle: {reason}");
            blocked.insert(document.order_number.clone());
            summary.deferred += 1;
            Outcome::Deferred(document.pending(Some(reason.into()), true))
        }
    }
}

/// The values a create body sends, as the register stores them.
fn sent_by_create(order: &CreateOrder) -> SentValues {
    SentValues {
        status: order.status.clone(),
        revenue: order.revenue.as_deref().and_then(Money::parse),
        manager: order.manager.clone(),
    }
}

fn endpoint_name(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Create => "create",
        Endpoint::Update => "update",
    }
}

/// Bookings have no state history in 1C: the time of a state change is when the register first
/// saw the new state. Returns the time to store as "state seen at".
async fn fill_booking_state_time<R: CycleStore>(
    register: &R,
    snapshot: &mut DocumentSnapshot,
    now: NaiveDateTime,
) -> Result<NaiveDateTime, CycleError> {
    let seen = register
        .state_seen_at(snapshot.reference, snapshot.state.as_deref())
        .await?;
    let seen_at = match seen {
        // Same state as last seen: keep the first time it was seen.
        Some(Some(at)) => at,
        // Known document, new state: the change is detected now.
        Some(None) => now,
        // First sight: the rules use the document date for the first state.
        None => snapshot.state_set_at.unwrap_or(now),
    };
    if snapshot.kind == DocKind::Booking && snapshot.state_set_at.is_none() && seen.is_some() {
        snapshot.state_set_at = Some(seen_at);
    }
    Ok(seen_at)
}

async fn fail_document<R: CycleStore>(
    register: &mut R,
    snapshot: &DocumentSnapshot,
    order_number: Option<&str>,
    reason: &str,
    now: NaiveDateTime,
) -> Result<(), CycleError> {
    tracing::warn!(document = %snapshot.label(), "{reason}");
    register
        .record_failed(
            &FailedDocument {
                kind: snapshot.kind,
                reference: snapshot.reference,
                number: &snapshot.number,
                date: Some(snapshot.date),
                order_number,
                reason: reason.into(),
            },
            None,
            now,
        )
        .await?;
    Ok(())
}

/// What `preview` shows for one document: the exact request body that would be sent.
#[derive(Debug, Clone)]
pub struct PreviewItem {
    pub document: String,
    pub order_number: Option<String>,
    /// `create`, `update`, `nothing` or `skip`.
    pub action: &'static str,
    /// The Calltouch account the deal is in; `None` in the single-account setup.
    pub account: Option<String>,
    pub body: serde_json::Value,
    pub notes: Vec<String>,
}

/// The request bodies the next cycle would send for the documents with this number. They are
/// planned in order as the cycle would send them, so a second document given the orderNumber of
/// the first one's deal shows as the error the cycle would record.
pub async fn preview<S: Source, R: CycleStore>(
    config: &Config,
    source: &mut S,
    register: &R,
    number: &str,
) -> Result<Vec<PreviewItem>, CycleError> {
    let documents = source.find_by_number(number).await?;
    plan_documents(
        config,
        register,
        documents,
        chrono::Local::now().naive_local(),
    )
    .await
}

/// What a dry run found: the documents a cycle would read now and what it would do with each.
#[derive(Debug, Clone, Default)]
pub struct DryRun {
    pub items: Vec<PreviewItem>,
    /// Documents whose rows could not be decoded, as the cycle would record them.
    pub rejected: Vec<String>,
}

/// The whole cycle read and decided, nothing sent: the changes since the checkpoint and the
/// re-queued documents, planned in order. The register and the checkpoint are only read.
pub async fn dry_run<S: Source, R: CycleStore>(
    config: &Config,
    source: &mut S,
    register: &R,
) -> Result<DryRun, CycleError> {
    let mut changes = next_read(config, source, register).await?;
    let lost = pending_outside(source, register, &mut changes).await?;
    let rejected = changes
        .rejected
        .iter()
        .map(|r| {
            format!(
                "{} {}: {}: {}",
                r.kind,
                r.number.as_deref().unwrap_or("(number unreadable)"),
                r.field,
                r.reason
            )
        })
        .chain(lost.iter().map(lost_reason))
        .collect();
    let items = plan_documents(config, register, changes.documents, changes.read_at).await?;
    Ok(DryRun { items, rejected })
}

/// Plans documents in order without sending or recording anything: each sees the deals the
/// earlier ones would have created or updated.
async fn plan_documents<R: CycleStore>(
    config: &Config,
    register: &R,
    documents: Vec<DocumentSnapshot>,
    now: NaiveDateTime,
) -> Result<Vec<PreviewItem>, CycleError> {
    let rules = DealRules::new(&config.deal, &config.statuses);
    let accounts = Accounts::of(config);
    // orderNumber → the deal as it would stand, with the label of the document owning it.
    let mut planned: HashMap<String, (DealRecord, String)> = HashMap::new();
    let mut items = Vec::new();
    for mut snapshot in documents {
        fill_booking_state_time(register, &mut snapshot, now).await?;
        let document = snapshot.label();
        let error = |order_number: Option<String>, note: String| PreviewItem {
            document: document.clone(),
            order_number,
            action: "error",
            account: None,
            body: serde_json::Value::Null,
            notes: vec![note],
        };
        let previous = register.document(snapshot.reference).await?;
        let (order_number, stored) =
            match resolve_deal(&rules, register, &snapshot, previous.as_ref()).await? {
                Ok(resolved) => resolved,
                Err(problem) => {
                    items.push(error(None, problem.to_string()));
                    continue;
                }
            };
        let root = DealRules::deal_root(&snapshot);
        let deal = match planned.get(&order_number) {
            Some((deal, owner)) if deal.root != root => {
                items.push(error(
                    Some(order_number.clone()),
                    format!(
                        "Номер: orderNumber {order_number} would already name the deal of {owner}; \
                         set deal.order_number to \"{}\" (it applies only to deals not yet created)",
                        crate::config::DEFAULT_ORDER_NUMBER
                    ),
                ));
                continue;
            }
            Some((deal, _)) => Some(deal.clone()),
            None => stored,
        };
        if let Some(deal) = deal.as_ref().filter(|deal| deal.root != root) {
            let reason = taken_number(register, &snapshot, deal).await?;
            items.push(error(Some(order_number), reason));
            continue;
        }
        let (account, moved) = match accounts.place(&snapshot, deal.as_ref()) {
            Ok((Choice::Account { account, .. }, moved)) => (account.name.clone(), moved),
            Ok((Choice::NotSent { reason }, _)) => {
                items.push(PreviewItem {
                    document,
                    order_number: Some(order_number),
                    action: "skip",
                    account: None,
                    body: serde_json::Value::Null,
                    notes: vec![reason],
                });
                continue;
            }
            Err(problem) => {
                items.push(error(Some(order_number), problem.to_string()));
                continue;
            }
        };
        let account = (!accounts.is_single()).then_some(account);
        let mut plan = match rules.decide(&snapshot, deal.as_ref(), now) {
            Ok(plan) => plan,
            Err(problem) => {
                items.push(error(Some(order_number), problem.to_string()));
                continue;
            }
        };
        plan.decision.renumber(&order_number);
        let planned_deal = |sent: SentValues| DealRecord {
            order_number: order_number.clone(),
            root,
            driver: snapshot.reference,
            driver_kind: snapshot.kind,
            driver_date: Some(snapshot.date),
            driver_number: Some(snapshot.number.clone()),
            status: sent.status,
            revenue: sent.revenue,
            manager: sent.manager,
            account: account.clone(),
        };
        let (action, body, mut notes, after) = match plan.decision {
            Decision::Create { order, sent } => (
                "create",
                serde_json::to_value(CreateRequest {
                    crm: config.deal.crm.clone(),
                    orders: vec![order],
                }),
                Vec::new(),
                Some(planned_deal(sent)),
            ),
            Decision::Update { order, sent, .. } => (
                "update",
                serde_json::to_value(UpdateRequest {
                    orders: vec![order],
                }),
                Vec::new(),
                Some(planned_deal(sent)),
            ),
            Decision::Unchanged => (
                "nothing",
                Ok(serde_json::Value::Null),
                vec!["nothing relevant changed since Calltouch accepted the deal".to_string()],
                None,
            ),
            Decision::Skip { reason } => ("skip", Ok(serde_json::Value::Null), vec![reason], None),
        };
        notes.extend(plan.warnings);
        notes.extend(moved);
        if let Some(after) = after {
            let owner = planned
                .get(&order_number)
                .map(|(_, owner)| owner.clone())
                .unwrap_or_else(|| DealRules::deal_root_label(&snapshot));
            planned.insert(order_number.clone(), (after, owner));
        }
        items.push(PreviewItem {
            document,
            order_number: Some(order_number),
            action,
            account,
            body: body.unwrap_or_default(),
            notes,
        });
    }
    Ok(items)
}
