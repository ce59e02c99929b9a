//! An in-memory source: a list of document versions with a change counter as the checkpoint.
//! Drives the pipeline in tests without a database.

use chrono::{NaiveDate, NaiveDateTime};

use super::{ChangeSet, ReadFrom, RejectedDocument, Source, SourceError};
use crate::snapshot::{DocRef, DocumentSnapshot};

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

impl Source for MemorySource {
    async fn changes(
        &mut self,
        from: &ReadFrom,
        cutoff: NaiveDate,
    ) -> Result<ChangeSet, SourceError> {
        let after = match from {
            ReadFrom::Start => 0,
            ReadFrom::Checkpoint(text) => text
                .parse::<u64>()
                .map_err(|_| SourceError::BadCheckpoint(text.clone()))?,
        };
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
