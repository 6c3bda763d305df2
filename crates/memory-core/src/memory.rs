//! Generic memories: a piece of content, owned by a scope, with metadata and importance.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::scope::{Metadata, MetadataCondition, Scope};
use crate::time::Timestamp;
use crate::validate;

/// A memory's identity: a UUIDv7, so ids sort by creation time and never collide
/// across machines that share a brain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MemoryId(uuid::Uuid);

impl MemoryId {
    /// A fresh, time-ordered id.
    pub fn new() -> Self {
        MemoryId(uuid::Uuid::now_v7())
    }

    /// The id's 16 bytes, big-endian (the storage form).
    pub fn to_bytes(self) -> [u8; 16] {
        *self.0.as_bytes()
    }

    /// The id with these 16 bytes.
    pub fn from_bytes(b: [u8; 16]) -> Self {
        MemoryId(uuid::Uuid::from_bytes(b))
    }

    /// The id as a [`uuid::Uuid`].
    pub fn as_uuid(&self) -> &uuid::Uuid {
        &self.0
    }
}

impl Default for MemoryId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for MemoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for MemoryId {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s)
            .map(MemoryId)
            .map_err(|e| ValidationError::Other(format!("invalid memory id {s:?}: {e}")))
    }
}

impl From<uuid::Uuid> for MemoryId {
    fn from(u: uuid::Uuid) -> Self {
        MemoryId(u)
    }
}

/// What sort of memory a record is: `fact`, `preference`, `episode`, `doc_chunk`, or
/// any name of the caller's of up to 64 ASCII letters, digits, `_`, `-`, `.` and `:`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MemoryKind(String);

impl MemoryKind {
    /// A fact about the world or the user.
    pub fn fact() -> Self {
        MemoryKind("fact".into())
    }
    /// Something that happened (an event, a conversation turn).
    pub fn episode() -> Self {
        MemoryKind("episode".into())
    }
    /// A chunk of ingested documentation or code.
    pub fn doc_chunk() -> Self {
        MemoryKind("doc_chunk".into())
    }

    /// A validated kind name.
    pub fn new(name: impl Into<String>) -> Result<Self, ValidationError> {
        let name = name.into();
        if name.is_empty() {
            return Err(ValidationError::Empty { field: "kind" });
        }
        if name.len() > 64 {
            return Err(ValidationError::TooLong {
                field: "kind",
                len: name.len(),
                max: 64,
            });
        }
        if let Some(ch) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
        {
            return Err(ValidationError::ForbiddenChar { field: "kind", ch });
        }
        Ok(MemoryKind(name))
    }

    /// The kind's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for MemoryKind {
    fn default() -> Self {
        Self::fact()
    }
}

impl TryFrom<String> for MemoryKind {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        MemoryKind::new(s)
    }
}

impl From<MemoryKind> for String {
    fn from(k: MemoryKind) -> String {
        k.0
    }
}

impl fmt::Display for MemoryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How much a memory matters, in `[0, 1]`; the seed's "importance, for pruning".
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Importance(f64);

impl Importance {
    /// The default, 0.5.
    pub const DEFAULT: Importance = Importance(0.5);

    /// A finite value in `[0, 1]`.
    pub fn new(v: f64) -> Result<Self, ValidationError> {
        validate::range("importance", v, 0.0, 1.0)?;
        Ok(Importance(v))
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl Default for Importance {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl TryFrom<f64> for Importance {
    type Error = ValidationError;
    fn try_from(v: f64) -> Result<Self, Self::Error> {
        Importance::new(v)
    }
}

impl From<Importance> for f64 {
    fn from(i: Importance) -> f64 {
        i.0
    }
}

/// A stored memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// Its id.
    pub id: MemoryId,
    /// The remembered text.
    pub content: String,
    /// Text around it that helps find it (for a conversation turn: its date and its
    /// neighbouring turns). Searched by keyword recall with a lower weight than the
    /// content; never returned as the memory's content. Empty when there is none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub context: String,
    /// What sort of memory it is.
    pub kind: MemoryKind,
    /// Who owns it.
    pub scope: Scope,
    /// Free-form facts about it.
    pub metadata: Metadata,
    /// How much it matters.
    pub importance: Importance,
    /// When it was first stored.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When it stops being recalled, if ever.
    pub expires_at: Option<Timestamp>,
}

impl Memory {
    /// Whether the memory has expired at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}

/// A memory to store. Build with [`NewMemory::new`] and the `with_*` methods.
///
/// `id`, `created_at` and `updated_at` are normally left for the store to fill; an
/// import sets them to round-trip exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewMemory {
    /// A caller-chosen id; a fresh one when `None`.
    #[serde(default)]
    pub id: Option<MemoryId>,
    /// The text to remember.
    pub content: String,
    /// Text around it that helps find it; see [`Memory::context`].
    #[serde(default)]
    pub context: String,
    /// Its kind.
    #[serde(default)]
    pub kind: MemoryKind,
    /// Its owner.
    #[serde(default)]
    pub scope: Scope,
    /// Its metadata.
    #[serde(default)]
    pub metadata: Metadata,
    /// Its importance.
    #[serde(default)]
    pub importance: Importance,
    /// When it expires.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    /// Creation time to keep (imports); now when `None`.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// Last-change time to keep (imports); the creation time when `None`.
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
}

impl NewMemory {
    /// A fact with default kind, global scope, no metadata and importance 0.5.
    pub fn new(content: impl Into<String>) -> Self {
        NewMemory {
            id: None,
            content: content.into(),
            context: String::new(),
            kind: MemoryKind::default(),
            scope: Scope::default(),
            metadata: Metadata::default(),
            importance: Importance::DEFAULT,
            expires_at: None,
            created_at: None,
            updated_at: None,
        }
    }

    /// Sets the kind.
    pub fn with_kind(mut self, kind: MemoryKind) -> Self {
        self.kind = kind;
        self
    }
    /// Sets the owner.
    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }
    /// Sets the metadata.
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }
    /// Sets the importance.
    pub fn with_importance(mut self, importance: Importance) -> Self {
        self.importance = importance;
        self
    }
    /// Sets the expiry.
    pub fn with_expiry(mut self, at: Timestamp) -> Self {
        self.expires_at = Some(at);
        self
    }
    /// Sets the context.
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = context.into();
        self
    }
    /// Sets the id.
    pub fn with_id(mut self, id: MemoryId) -> Self {
        self.id = Some(id);
        self
    }

    /// Checks every field against the contract's limits.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::non_empty_text("content", &self.content)?;
        validate::text("context", &self.context)?;
        self.scope.validate()?;
        self.metadata.validate()
    }

    /// The stored form of this memory, given the time now.
    pub fn into_memory(self, now: Timestamp) -> Memory {
        let created_at = self.created_at.unwrap_or(now);
        Memory {
            id: self.id.unwrap_or_default(),
            content: self.content,
            context: self.context,
            kind: self.kind,
            scope: self.scope,
            metadata: self.metadata,
            importance: self.importance,
            created_at,
            updated_at: self.updated_at.unwrap_or(created_at),
            expires_at: self.expires_at,
        }
    }
}

/// Changes to a stored memory; `None` fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryPatch {
    /// New content.
    #[serde(default)]
    pub content: Option<String>,
    /// New context. Changing only the context keeps `updated_at`: it is about the
    /// memory's surroundings, not the memory.
    #[serde(default)]
    pub context: Option<String>,
    /// New kind.
    #[serde(default)]
    pub kind: Option<MemoryKind>,
    /// New metadata (replaces the old entirely).
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// New importance.
    #[serde(default)]
    pub importance: Option<Importance>,
    /// New expiry: `Some(None)` clears it.
    #[serde(default)]
    pub expires_at: Option<Option<Timestamp>>,
}

impl MemoryPatch {
    /// Checks the fields that are set.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if let Some(c) = &self.content {
            validate::non_empty_text("content", c)?;
        }
        if let Some(c) = &self.context {
            validate::text("context", c)?;
        }
        if let Some(m) = &self.metadata {
            m.validate()?;
        }
        Ok(())
    }

    /// Applies the patch to `m`, stamping `updated_at` with `now` (unless only the
    /// context changes).
    pub fn apply(self, m: &mut Memory, now: Timestamp) {
        let context_only = self.content.is_none()
            && self.kind.is_none()
            && self.metadata.is_none()
            && self.importance.is_none()
            && self.expires_at.is_none();
        if let Some(c) = self.context {
            m.context = c;
        }
        if context_only {
            return;
        }
        if let Some(c) = self.content {
            m.content = c;
        }
        if let Some(k) = self.kind {
            m.kind = k;
        }
        if let Some(md) = self.metadata {
            m.metadata = md;
        }
        if let Some(i) = self.importance {
            m.importance = i;
        }
        if let Some(e) = self.expires_at {
            m.expires_at = e;
        }
        m.updated_at = now;
    }
}

/// Which memories an operation sees. Every condition that is set must hold.
///
/// [`MemoryFilter::matches`] is the reference semantics: every backend and index must
/// select exactly the memories it accepts (the conformance suite checks this).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryFilter {
    /// Scope used as a filter (see [`Scope`]).
    #[serde(default)]
    pub scope: Scope,
    /// Any of these kinds; all kinds when empty.
    #[serde(default)]
    pub kinds: Vec<MemoryKind>,
    /// All of these metadata conditions.
    #[serde(default)]
    pub metadata: Vec<MetadataCondition>,
    /// Created at or after this time.
    #[serde(default)]
    pub created_after: Option<Timestamp>,
    /// Created strictly before this time.
    #[serde(default)]
    pub created_before: Option<Timestamp>,
    /// Whether expired memories are included (they are not by default).
    #[serde(default)]
    pub include_expired: bool,
}

impl MemoryFilter {
    /// Everything visible through `scope`.
    pub fn scoped(scope: Scope) -> Self {
        MemoryFilter {
            scope,
            ..Self::default()
        }
    }

    /// Adds a kind to accept.
    pub fn with_kind(mut self, kind: MemoryKind) -> Self {
        self.kinds.push(kind);
        self
    }

    /// Adds a metadata condition.
    pub fn with_metadata(mut self, c: MetadataCondition) -> Self {
        self.metadata.push(c);
        self
    }

    /// Checks the scope and conditions.
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.scope.validate()?;
        for c in &self.metadata {
            c.validate()?;
        }
        Ok(())
    }

    /// Whether `m` passes this filter at time `now`.
    pub fn matches(&self, m: &Memory, now: Timestamp) -> bool {
        self.matches_fields(
            &m.scope,
            &m.kind,
            &m.metadata,
            m.created_at,
            m.expires_at,
            now,
        )
    }

    /// [`MemoryFilter::matches`] over the fields a filter reads, for indexes that keep
    /// those fields without the whole [`Memory`].
    pub fn matches_fields(
        &self,
        scope: &Scope,
        kind: &MemoryKind,
        metadata: &Metadata,
        created_at: Timestamp,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> bool {
        self.scope.matches(scope)
            && (self.kinds.is_empty() || self.kinds.contains(kind))
            && self.metadata.iter().all(|c| c.matches(metadata))
            && self.created_after.is_none_or(|t| created_at >= t)
            && self.created_before.is_none_or(|t| created_at < t)
            && (self.include_expired || expires_at.is_none_or(|e| e > now))
    }
}

/// The order of a listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListOrder {
    /// Most recently created first (ties by id, descending).
    #[default]
    NewestFirst,
    /// Oldest first (ties by id, ascending).
    OldestFirst,
    /// Most important first, then newest.
    ImportanceDesc,
}

/// A page of memories that pass a filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryQuery {
    /// Which memories.
    #[serde(default)]
    pub filter: MemoryFilter,
    /// In which order.
    #[serde(default)]
    pub order: ListOrder,
    /// At most this many.
    pub limit: usize,
    /// After skipping this many.
    #[serde(default)]
    pub offset: usize,
}

impl MemoryQuery {
    /// The first `limit` memories passing `filter`, newest first.
    pub fn new(filter: MemoryFilter, limit: usize) -> Self {
        MemoryQuery {
            filter,
            order: ListOrder::default(),
            limit,
            offset: 0,
        }
    }
}

/// A keyword (full-text) search over memory contents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeywordQuery {
    /// Free text. It is split into words and never interpreted as query syntax, so any
    /// text is a valid query; a text with no words matches nothing.
    pub text: String,
    /// Which memories may match.
    #[serde(default)]
    pub filter: MemoryFilter,
    /// At most this many hits.
    pub limit: usize,
}

/// A memory found by keyword search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeywordHit {
    /// The memory.
    pub memory: Memory,
    /// Relevance (BM25 in the SQL backends); higher is better, comparable only within
    /// one result list.
    pub score: f64,
}

/// The words of a free-text query, as a keyword index tokenises them: maximal runs of
/// alphanumeric characters, lower-cased. Backends build their query from these, never
/// from the raw text, so query syntax in the text is inert.
pub fn query_terms(text: &str) -> Vec<String> {
    let mut terms: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut seen = std::collections::HashSet::new();
    terms.retain(|t| seen.insert(t.clone()));
    terms.truncate(64);
    terms
}

/// NLTK's English stop-word list: its 179 entries as [`query_terms`] splits them
/// ("don't" gives "don" and "t"), 153 distinct words.
pub const STOP_WORDS: &[&str] = &[
    "i",
    "me",
    "my",
    "myself",
    "we",
    "our",
    "ours",
    "ourselves",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "he",
    "him",
    "his",
    "himself",
    "she",
    "her",
    "hers",
    "herself",
    "it",
    "its",
    "itself",
    "they",
    "them",
    "their",
    "theirs",
    "themselves",
    "what",
    "which",
    "who",
    "whom",
    "this",
    "that",
    "these",
    "those",
    "am",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "have",
    "has",
    "had",
    "having",
    "do",
    "does",
    "did",
    "doing",
    "a",
    "an",
    "the",
    "and",
    "but",
    "if",
    "or",
    "because",
    "as",
    "until",
    "while",
    "of",
    "at",
    "by",
    "for",
    "with",
    "about",
    "against",
    "between",
    "into",
    "through",
    "during",
    "before",
    "after",
    "above",
    "below",
    "to",
    "from",
    "up",
    "down",
    "in",
    "out",
    "on",
    "off",
    "over",
    "under",
    "again",
    "further",
    "then",
    "once",
    "here",
    "there",
    "when",
    "where",
    "why",
    "how",
    "all",
    "any",
    "both",
    "each",
    "few",
    "more",
    "most",
    "other",
    "some",
    "such",
    "no",
    "nor",
    "not",
    "only",
    "own",
    "same",
    "so",
    "than",
    "too",
    "very",
    "s",
    "t",
    "can",
    "will",
    "just",
    "don",
    "should",
    "now",
    "d",
    "ll",
    "m",
    "o",
    "re",
    "ve",
    "y",
    "ain",
    "aren",
    "couldn",
    "didn",
    "doesn",
    "hadn",
    "hasn",
    "haven",
    "isn",
    "ma",
    "mightn",
    "mustn",
    "needn",
    "shan",
    "shouldn",
    "wasn",
    "weren",
    "won",
    "wouldn",
];

/// Words that frame a question rather than say what it is about ("what kind of music
/// would she likely enjoy"): kept out of keyword feedback along with [`STOP_WORDS`].
pub const QUESTION_WORDS: &[&str] = &[
    "would",
    "could",
    "might",
    "likely",
    "kind",
    "kinds",
    "type",
    "types",
    "sort",
    "many",
    "much",
    "ever",
    "also",
    "something",
    "anything",
];

/// Whether `term` (lower-case) is an English stop word.
pub fn is_stop_word(term: &str) -> bool {
    STOP_WORDS.contains(&term)
}

/// The words keyword recall searches for: [`query_terms`] without [`STOP_WORDS`], or all
/// of them when every one is a stop word (so "to be or not to be" still finds something).
/// Measured on LoCoMo, dropping stop words raised BM25 recall@10 from 0.53 to 0.61.
pub fn keyword_terms(text: &str) -> Vec<String> {
    let all = query_terms(text);
    let kept: Vec<String> = all.iter().filter(|t| !is_stop_word(t)).cloned().collect();
    if kept.is_empty() { all } else { kept }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_nltks_and_never_leave_a_query_empty() {
        assert_eq!(STOP_WORDS.len(), 153);
        assert_eq!(
            keyword_terms("What did Caroline do at the lake?"),
            ["caroline", "lake"]
        );
        assert_eq!(
            keyword_terms("to be or not to be"),
            ["to", "be", "or", "not"]
        );
        assert!(keyword_terms("!!!").is_empty());
    }

    #[test]
    fn kinds_are_validated() {
        assert!(MemoryKind::new("error_fix").is_ok());
        assert!(MemoryKind::new("").is_err());
        assert!(MemoryKind::new("a b").is_err());
        assert!(serde_json::from_str::<MemoryKind>("\"bad kind\"").is_err());
    }

    #[test]
    fn importance_rejects_nan() {
        assert!(Importance::new(f64::NAN).is_err());
        assert!(Importance::new(1.5).is_err());
        assert!(serde_json::from_str::<Importance>("2.0").is_err());
    }

    #[test]
    fn ids_parse_and_print() {
        let id = MemoryId::new();
        assert_eq!(id.to_string().parse::<MemoryId>().ok(), Some(id));
        assert_eq!(MemoryId::from_bytes(id.to_bytes()), id);
        assert!("nope".parse::<MemoryId>().is_err());
    }

    #[test]
    fn query_terms_drop_syntax() {
        assert_eq!(
            query_terms("\"rust\" OR NEAR(x*) -- DROP TABLE;"),
            vec!["rust", "or", "near", "x", "drop", "table"]
        );
        assert!(query_terms("*** ()").is_empty());
    }
}
