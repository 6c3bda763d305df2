//! What a filter reads of an entry, and [`MemoryFilter::matches`] over those fields.

use memory_core::{MemoryFilter, MemoryKind, Metadata, Scope, Timestamp, VectorEntry};
use serde::{Deserialize, Serialize};

/// The filter fields of an indexed entry (everything of a [`VectorEntry`] but the id
/// and vector).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct EntryMeta {
    pub(crate) scope: Scope,
    pub(crate) kind: MemoryKind,
    pub(crate) metadata: Metadata,
    pub(crate) created_at: Timestamp,
    pub(crate) expires_at: Option<Timestamp>,
}

impl EntryMeta {
    pub(crate) fn of(e: &VectorEntry) -> Self {
        EntryMeta {
            scope: e.scope.clone(),
            kind: e.kind.clone(),
            metadata: e.metadata.clone(),
            created_at: e.created_at,
            expires_at: e.expires_at,
        }
    }

    /// Filler for entries that have no memory behind them (the bare benchmark index).
    pub(crate) fn bare() -> Self {
        EntryMeta {
            scope: Scope::global(),
            kind: MemoryKind::default(),
            metadata: Metadata::new(),
            created_at: Timestamp::from_millis(0),
            expires_at: None,
        }
    }
}

/// A filter prepared for one query at one instant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FilterPlan<'a> {
    filter: &'a MemoryFilter,
    now: Timestamp,
    /// Only expiry can reject an entry (no scope, kind, metadata or time condition).
    only_expiry: bool,
}

impl<'a> FilterPlan<'a> {
    pub(crate) fn new(filter: &'a MemoryFilter, now: Timestamp) -> Self {
        let f = filter;
        let only_expiry = f.scope == Scope::global()
            && f.kinds.is_empty()
            && f.metadata.is_empty()
            && f.created_after.is_none()
            && f.created_before.is_none();
        FilterPlan {
            filter,
            now,
            only_expiry,
        }
    }

    /// Whether no entry can fail this filter, given whether any entry expires at all.
    pub(crate) fn accepts_all(&self, any_expiring: bool) -> bool {
        self.only_expiry && (self.filter.include_expired || !any_expiring)
    }

    /// [`MemoryFilter::matches_fields`], after a cheap expiry-only fast path. A property
    /// test compares it with [`MemoryFilter::matches`] on random filters and entries.
    #[inline]
    pub(crate) fn passes(&self, m: &EntryMeta) -> bool {
        let f = self.filter;
        if !(f.include_expired || m.expires_at.is_none_or(|e| e > self.now)) {
            return false;
        }
        if self.only_expiry {
            return true;
        }
        f.matches_fields(
            &m.scope,
            &m.kind,
            &m.metadata,
            m.created_at,
            m.expires_at,
            self.now,
        )
    }
}
