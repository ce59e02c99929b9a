//! An in-memory source: a list of document versions with a change counter as the checkpoint.
//! Drives the pipeline in tests without a database. Chunked reads follow the database sources:
//! the change counter at the read's start bounds the cycle, a document's place in the list is
//! its key.

use chrono::{NaiveDate, NaiveDateTime};

use super::window::ReadPlan;
use super::{
    ChangeSet, Chunk, ChunkKey, CycleRead, ReadFrom, RejectedDocument, Source, SourceError,
};
use crate::domain::snapshot::{DocRef, DocumentSnapshot};

/// Documents kept in memory; every `put` is a new committed change.
#[derive(Debug, Default)]
pub struct MemorySource {
    /// (change sequence number, current version) per document.
    documents: Vec<(u64, DocumentSnapshot)>,
    rejected: Vec<(u64, RejectedDocument)>,
    sequence: u64,
    /// What `read_at` reports.
    pub now: Option<NaiveDateTime>,
}

impl MemorySource {
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts or replaces a document, as a 1C write would.
    pub fn put(&mut self, snapshot: DocumentSnapshot) {
        self.sequence += 1;
        let seq = self.sequence;
        match self
            .documents
            .iter_mut()
            .find(|(_, d)| d.reference == snapshot.reference)
        {
            Some(entry) => *entry = (seq, snapshot),
            None => self.documents.push((seq, snapshot)),
        }
    }

    /// Records a changed document whose data cannot be decoded.
    pub fn put_rejected(&mut self, rejected: RejectedDocument) {
        self.sequence += 1;
        self.rejected.push((self.sequence, rejected));
    }

    pub fn get(&self, reference: DocRef) -> Option<&DocumentSnapshot> {
        self.documents
            .iter()
            .find(|(_, d)| d.reference == reference)
            .map(|(_, d)| d)
    }
}

fn sequence_of(from: &ReadFrom) -> Result<u64, SourceError> {
    match from {
        ReadFrom::Start => Ok(0),
        ReadFrom::Checkpoint(text) => text
            .parse::<u64>()
            .map_err(|_| SourceError::BadCheckpoint(text.clone())),
    }
}

impl Source for MemorySource {
    async fn open_read(
        &mut self,
        from: &ReadFrom,
        cutoff: NaiveDate,
    ) -> Result<CycleRead, SourceError> {
        let after = sequence_of(from)?;
        Ok(CycleRead {
            checkpoint: self.sequence.to_string(),
            read_at: self
                .now
                .unwrap_or_else(|| chrono::Local::now().naive_local()),
            plan: match from {
                ReadFrom::Start => ReadPlan::Start,
                ReadFrom::Checkpoint(_) => ReadPlan::Exact {
                    since: after.to_string(),
                },
            },
            bound: self.sequence.to_string(),
            cutoff,
            after: None,
            whole: None,
            pending: None,
            done: false,
        })
    }

    async fn next_chunk(
        &mut self,
        read: &mut CycleRead,
        limit: usize,
    ) -> Result<Option<Chunk>, SourceError> {
        if read.done {
            return Ok(None);
        }
        let since = match &read.plan {
            ReadPlan::Start => 0,
            ReadPlan::Exact { since } | ReadPlan::Window { since, .. } => since
                .parse::<u64>()
                .map_err(|_| SourceError::BadCheckpoint(since.clone()))?,
        };
        let bound: u64 = read.bound.parse().unwrap_or(u64::MAX);
        let in_cycle = |seq: u64| seq > since && seq <= bound;
        let key = |index: usize, d: &DocumentSnapshot| ChunkKey {
            kind: d.kind,
            date: d.date,
            reference: (index as u64).to_be_bytes().to_vec(),
        };
        let mut candidates: Vec<(ChunkKey, &DocumentSnapshot)> = self
            .documents
            .iter()
            .enumerate()
            .filter(|(_, (seq, d))| in_cycle(*seq) && d.date.date() >= read.cutoff)
            .map(|(index, (_, d))| (key(index, d), d))
            .filter(|(k, _)| read.after.as_ref().is_none_or(|after| k > after))
            .collect();
        candidates.sort_by(|a, b| a.0.cmp(&b.0));
        candidates.truncate(limit);
        // Rejected documents come with the first chunk.
        let rejected: Vec<RejectedDocument> = match read.after {
            None => self
                .rejected
                .iter()
                .filter(|(seq, _)| in_cycle(*seq))
                .map(|(_, r)| r.clone())
                .collect(),
            Some(_) => Vec::new(),
        };
        if candidates.len() < limit {
            read.done = true;
        }
        if let Some((last, _)) = candidates.last() {
            read.after = Some(last.clone());
        }
        let documents: Vec<DocumentSnapshot> =
            candidates.into_iter().map(|(_, d)| d.clone()).collect();
        if documents.is_empty() && rejected.is_empty() {
            read.done = true;
            return Ok(None);
        }
        Ok(Some(Chunk {
            documents,
            rejected,
        }))
    }

    async fn changes(
        &mut self,
        from: &ReadFrom,
        cutoff: NaiveDate,
    ) -> Result<ChangeSet, SourceError> {
        let after = sequence_of(from)?;
        let mut documents: Vec<DocumentSnapshot> = self
            .documents
            .iter()
            .filter(|(seq, d)| *seq > after && d.date.date() >= cutoff)
            .map(|(_, d)| d.clone())
            .collect();
        documents.sort_by_key(|d| (d.kind, d.date));
        let rejected = self
            .rejected
            .iter()
            .filter(|(seq, _)| *seq > after)
            .map(|(_, r)| r.clone())
            .collect();
        Ok(ChangeSet {
            documents,
            rejected,
            checkpoint: self.sequence.to_string(),
            read_at: self
                .now
                .unwrap_or_else(|| chrono::Local::now().naive_local()),
        })
    }

    async fn find_by_number(&mut self, number: &str) -> Result<Vec<DocumentSnapshot>, SourceError> {
        Ok(self
            .documents
            .iter()
            .filter(|(_, d)| d.number == number.trim())
            .map(|(_, d)| d.clone())
            .collect())
    }
}
