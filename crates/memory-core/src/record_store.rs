//! One store for the seed's six record kinds.
//!
//! A backend implements [`RecordStore`]: seven methods over [`NewRecord`], [`Record`],
//! [`RecordKey`], [`RecordQuery`] and [`RecordChange`], each an enum with one arm per
//! kind. Callers who want typed results use [`RecordStoreExt`], implemented once here for
//! every store, whose methods (`store_preference`, `get_project`, `list_decisions`, ...)
//! wrap the generic ones. A decorator (metrics, caching, retry) wraps seven methods, and a
//! new kind is a new arm, which the compiler then asks every backend to handle.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, ValidationError};
use crate::records::*;
use crate::scope::Scope;
use crate::time::Timestamp;
use crate::validate;

/// The six record kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// [`Preference`].
    Preference,
    /// [`Project`].
    Project,
    /// [`CodePattern`].
    Pattern,
    /// [`LearningEvent`].
    LearningEvent,
    /// [`ConversationSummary`].
    Conversation,
    /// [`AgentDecision`].
    Decision,
}

impl RecordKind {
    /// Every kind, in a fixed order.
    pub const ALL: [RecordKind; 6] = [
        RecordKind::Preference,
        RecordKind::Project,
        RecordKind::Pattern,
        RecordKind::LearningEvent,
        RecordKind::Conversation,
        RecordKind::Decision,
    ];

    /// The kind's name, for messages (`preference`, `pattern`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Preference => "preference",
            RecordKind::Project => "project",
            RecordKind::Pattern => "pattern",
            RecordKind::LearningEvent => "learning_event",
            RecordKind::Conversation => "conversation",
            RecordKind::Decision => "decision",
        }
    }
}

impl std::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored record type: one arm of [`Record`], so typed reads can unwrap it.
pub trait RecordType: Sized + Send + 'static {
    /// Its kind.
    const KIND: RecordKind;
    /// The record, if it is of this kind.
    fn from_record(record: Record) -> Option<Self>;
    /// The record, wrapped.
    fn into_record(self) -> Record;
}

macro_rules! record_types {
    ($($ty:ty => $arm:ident),* $(,)?) => {$(
        impl RecordType for $ty {
            const KIND: RecordKind = RecordKind::$arm;
            fn from_record(record: Record) -> Option<Self> {
                match record {
                    Record::$arm(r) => Some(r),
                    _ => None,
                }
            }
            fn into_record(self) -> Record {
                Record::$arm(self)
            }
        }
        impl From<$ty> for Record {
            fn from(r: $ty) -> Record {
                Record::$arm(r)
            }
        }
    )*};
}

record_types! {
    Preference => Preference,
    Project => Project,
    CodePattern => Pattern,
    LearningEvent => LearningEvent,
    ConversationSummary => Conversation,
    AgentDecision => Decision,
}

impl Record {
    /// The record's kind.
    pub fn record_kind(&self) -> RecordKind {
        match self {
            Record::Preference(_) => RecordKind::Preference,
            Record::Project(_) => RecordKind::Project,
            Record::Pattern(_) => RecordKind::Pattern,
            Record::LearningEvent(_) => RecordKind::LearningEvent,
            Record::Conversation(_) => RecordKind::Conversation,
            Record::Decision(_) => RecordKind::Decision,
        }
    }

    /// The record's owner.
    pub fn scope(&self) -> &Scope {
        match self {
            Record::Preference(r) => &r.scope,
            Record::Project(r) => &r.scope,
            Record::Pattern(r) => &r.scope,
            Record::LearningEvent(r) => &r.scope,
            Record::Conversation(r) => &r.scope,
            Record::Decision(r) => &r.scope,
        }
    }

    /// Unwraps a record of kind `T`; an [`Error::Backend`] naming both kinds otherwise,
    /// since a store that answers a typed request with another kind is broken.
    pub fn into_type<T: RecordType>(self) -> Result<T> {
        let got = self.record_kind();
        T::from_record(self).ok_or_else(|| Error::Backend {
            message: format!("the store answered a {} request with a {got}", T::KIND),
            source: None,
        })
    }
}

/// A record to store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum NewRecord {
    /// Stored over the preference with the same scope and key, if any.
    Preference(NewPreference),
    /// A new project.
    Project(NewProject),
    /// Counted as one more success on the pattern with the same scope, type and context,
    /// if any (its solution and language stay as first stored).
    Pattern(NewPattern),
    /// A new learning event.
    LearningEvent(NewLearningEvent),
    /// A new conversation summary.
    Conversation(NewConversation),
    /// A new decision (its outcome comes later, by [`RecordChange::DecisionOutcome`]).
    Decision(NewDecision),
}

macro_rules! new_records {
    ($($ty:ty => $arm:ident),* $(,)?) => {$(
        impl From<$ty> for NewRecord {
            fn from(r: $ty) -> NewRecord {
                NewRecord::$arm(r)
            }
        }
    )*};
}

new_records! {
    NewPreference => Preference,
    NewProject => Project,
    NewPattern => Pattern,
    NewLearningEvent => LearningEvent,
    NewConversation => Conversation,
    NewDecision => Decision,
}

impl NewRecord {
    /// The kind it will be stored as.
    pub fn kind(&self) -> RecordKind {
        match self {
            NewRecord::Preference(_) => RecordKind::Preference,
            NewRecord::Project(_) => RecordKind::Project,
            NewRecord::Pattern(_) => RecordKind::Pattern,
            NewRecord::LearningEvent(_) => RecordKind::LearningEvent,
            NewRecord::Conversation(_) => RecordKind::Conversation,
            NewRecord::Decision(_) => RecordKind::Decision,
        }
    }

    /// Checks every field.
    pub fn validate(&self) -> std::result::Result<(), ValidationError> {
        match self {
            NewRecord::Preference(r) => r.validate(),
            NewRecord::Project(r) => r.validate(),
            NewRecord::Pattern(r) => r.validate(),
            NewRecord::LearningEvent(r) => r.validate(),
            NewRecord::Conversation(r) => r.validate(),
            NewRecord::Decision(r) => r.validate(),
        }
    }

    /// The record as first stored at `now`, with id 0 for the store to assign: defaults
    /// filled in, a pattern at one success, no outcome. Backends insert this and read back the id.
    pub fn into_record(self, now: Timestamp) -> Record {
        match self {
            NewRecord::Preference(p) => Record::Preference(Preference {
                id: 0,
                scope: p.scope,
                key: p.key,
                value: p.value,
                category: p.category.unwrap_or_else(|| DEFAULT_CATEGORY.to_owned()),
                created_at: now,
                updated_at: now,
            }),
            NewRecord::Project(p) => Record::Project(Project {
                id: 0,
                scope: p.scope,
                name: p.name,
                path: p.path,
                description: p.description,
                tech_stack: p.tech_stack,
                status: p
                    .status
                    .unwrap_or_else(|| DEFAULT_PROJECT_STATUS.to_owned()),
                created_at: now,
                last_accessed: None,
            }),
            NewRecord::Pattern(p) => Record::Pattern(CodePattern {
                id: 0,
                scope: p.scope,
                pattern_type: p.pattern_type,
                context: p.context,
                solution: p.solution,
                language: p.language,
                // Storing a pattern counts its first success, as the seed's table does.
                success_count: 1,
                failure_count: 0,
                created_at: now,
                updated_at: now,
                metadata: p.metadata,
            }),
            NewRecord::LearningEvent(e) => Record::LearningEvent(LearningEvent {
                id: 0,
                scope: e.scope,
                event_type: e.event_type,
                task_description: e.task_description,
                outcome: e.outcome,
                reward: e.reward,
                metadata: e.metadata,
                created_at: now,
            }),
            NewRecord::Conversation(c) => Record::Conversation(ConversationSummary {
                id: 0,
                scope: c.scope,
                summary: c.summary,
                key_decisions: c.key_decisions,
                user_feedback: c.user_feedback,
                created_at: now,
            }),
            NewRecord::Decision(d) => Record::Decision(AgentDecision {
                id: 0,
                scope: d.scope,
                agent_type: d.agent_type,
                context: d.context,
                options: d.options,
                chosen_option: d.chosen_option,
                reasoning: d.reasoning,
                outcome: None,
                reward: None,
                created_at: now,
                outcome_at: None,
                metadata: d.metadata,
            }),
        }
    }
}

/// What [`RecordStore::put_record`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordWrite {
    /// The record as stored.
    pub record: Record,
    /// `false` when the write landed on a stored record with the same unique key (a
    /// preference's scope and key, a pattern's scope, type and context).
    pub inserted: bool,
}

/// How one record is named.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum RecordKey {
    /// By kind and id.
    Id {
        /// The kind.
        kind: RecordKind,
        /// The id.
        id: RecordId,
    },
    /// A preference by its exact scope and key.
    Preference {
        /// The exact scope.
        scope: Scope,
        /// The key.
        key: String,
    },
}

impl RecordKey {
    /// The record of `kind` with this id.
    pub fn id(kind: RecordKind, id: RecordId) -> Self {
        RecordKey::Id { kind, id }
    }

    /// The kind it names.
    pub fn kind(&self) -> RecordKind {
        match self {
            RecordKey::Id { kind, .. } => *kind,
            RecordKey::Preference { .. } => RecordKind::Preference,
        }
    }
}

/// Which records to list, and in what order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "records", rename_all = "snake_case")]
pub enum RecordQuery {
    /// Preferences visible through `scope`, optionally of one category, by key.
    Preferences {
        /// Scope filter.
        scope: Scope,
        /// Only this category.
        category: Option<String>,
    },
    /// Projects visible through `scope`, optionally of one status, most recently
    /// accessed first.
    Projects {
        /// Scope filter.
        scope: Scope,
        /// Only this status.
        status: Option<String>,
    },
    /// Patterns passing the query, most successful first.
    Patterns(PatternQuery),
    /// Learning events passing the query, newest first.
    LearningEvents(EventQuery),
    /// Conversation summaries visible through `scope`, newest first.
    Conversations {
        /// Scope filter.
        scope: Scope,
        /// At most this many.
        limit: usize,
    },
    /// Decisions passing the query, newest first.
    Decisions(DecisionQuery),
}

impl RecordQuery {
    /// The kind it lists.
    pub fn kind(&self) -> RecordKind {
        match self {
            RecordQuery::Preferences { .. } => RecordKind::Preference,
            RecordQuery::Projects { .. } => RecordKind::Project,
            RecordQuery::Patterns(_) => RecordKind::Pattern,
            RecordQuery::LearningEvents(_) => RecordKind::LearningEvent,
            RecordQuery::Conversations { .. } => RecordKind::Conversation,
            RecordQuery::Decisions(_) => RecordKind::Decision,
        }
    }

    /// The scope filter.
    pub fn scope(&self) -> &Scope {
        match self {
            RecordQuery::Preferences { scope, .. }
            | RecordQuery::Projects { scope, .. }
            | RecordQuery::Conversations { scope, .. } => scope,
            RecordQuery::Patterns(q) => &q.scope,
            RecordQuery::LearningEvents(q) => &q.scope,
            RecordQuery::Decisions(q) => &q.scope,
        }
    }

    /// The row limit, when the query has one.
    pub fn limit(&self) -> Option<usize> {
        match self {
            RecordQuery::Preferences { .. } | RecordQuery::Projects { .. } => None,
            RecordQuery::Conversations { limit, .. } => Some(*limit),
            RecordQuery::Patterns(q) => Some(q.limit),
            RecordQuery::LearningEvents(q) => Some(q.limit),
            RecordQuery::Decisions(q) => Some(q.limit),
        }
    }
}

/// A change to one stored record. A missing record is [`Error::NotFound`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum RecordChange {
    /// Marks a project as accessed now (never moving its access time back).
    TouchProject,
    /// Sets a project's status.
    ProjectStatus {
        /// The new status.
        status: String,
    },
    /// Counts one success or failure on a pattern. Concurrent changes never lose a count.
    PatternOutcome {
        /// Which count to raise.
        outcome: PatternOutcome,
    },
    /// Edits a pattern (context, solution, success count, metadata).
    PatchPattern {
        /// What to change.
        patch: PatternPatch,
    },
    /// Sets a decision's outcome and reward; setting it again overwrites.
    DecisionOutcome {
        /// What happened.
        outcome: String,
        /// How good it was.
        reward: Reward,
    },
}

impl RecordChange {
    /// The kind of record it changes.
    pub fn kind(&self) -> RecordKind {
        match self {
            RecordChange::TouchProject | RecordChange::ProjectStatus { .. } => RecordKind::Project,
            RecordChange::PatternOutcome { .. } | RecordChange::PatchPattern { .. } => {
                RecordKind::Pattern
            }
            RecordChange::DecisionOutcome { .. } => RecordKind::Decision,
        }
    }

    /// Checks the change's input.
    pub fn validate(&self) -> std::result::Result<(), ValidationError> {
        match self {
            RecordChange::TouchProject | RecordChange::PatternOutcome { .. } => Ok(()),
            RecordChange::ProjectStatus { status } => validate::key("project status", status),
            RecordChange::PatchPattern { patch } => patch.validate(),
            RecordChange::DecisionOutcome { outcome, .. } => validate::text("outcome", outcome),
        }
    }
}

/// The seed's records (preferences, projects, code patterns, learning events,
/// conversations and decisions) in one generic store: one role of a
/// [`crate::LongTermStore`]. Typed access is [`RecordStoreExt`].
///
/// # Contract
///
/// Input is validated before anything is written, every change of one call is atomic,
/// and lists order ties by id, newest first, so pages are stable. The conformance suite
/// checks all of it per kind.
#[async_trait]
pub trait RecordStore: Send + Sync {
    /// Stores a record and returns it as stored (see [`NewRecord`] for the two kinds
    /// whose unique key makes a second write land on the first).
    async fn put_record(&self, record: NewRecord) -> Result<RecordWrite>;

    /// The record with this key, if stored.
    async fn get_record(&self, key: &RecordKey) -> Result<Option<Record>>;

    /// The stored records of `kind` among `ids`, in the order of `ids`, missing ones left
    /// out (a repeated id once), read at once: recall looks up the patterns of all its
    /// hits in one call.
    async fn get_records(&self, kind: RecordKind, ids: &[RecordId]) -> Result<Vec<Record>>;

    /// The records the query selects, in its order.
    async fn list_records(&self, query: &RecordQuery) -> Result<Vec<Record>>;

    /// Applies a change to the record of the change's kind with this id and returns the
    /// record after it.
    async fn change_record(&self, id: RecordId, change: RecordChange) -> Result<Record>;

    /// Deletes the record with this key; `false` when there was none. Deleting a pattern
    /// leaves any memory that names it to the caller.
    async fn delete_record(&self, key: &RecordKey) -> Result<bool>;

    /// Patterns whose context or solution match the words of `text`, best first.
    async fn search_patterns(&self, text: &str, query: &PatternQuery) -> Result<Vec<PatternHit>>;
}

fn typed<T: RecordType>(records: Vec<Record>) -> Result<Vec<T>> {
    records.into_iter().map(Record::into_type).collect()
}

/// Typed access to a [`RecordStore`], one method per operation of the seed; implemented
/// for every store, sized or not.
#[async_trait]
pub trait RecordStoreExt: RecordStore {
    /// The record of type `T` with this id.
    async fn get_typed<T: RecordType>(&self, id: RecordId) -> Result<Option<T>> {
        self.get_record(&RecordKey::id(T::KIND, id))
            .await?
            .map(Record::into_type)
            .transpose()
    }

    /// Stores a preference, updating it when the scope and key exist (a `None` category
    /// then keeps the stored one).
    async fn store_preference(&self, pref: NewPreference) -> Result<Preference> {
        self.put_record(pref.into()).await?.record.into_type()
    }

    /// The preference with exactly this scope and key.
    async fn get_preference(&self, scope: &Scope, key: &str) -> Result<Option<Preference>> {
        let key = RecordKey::Preference {
            scope: scope.clone(),
            key: key.to_owned(),
        };
        self.get_record(&key)
            .await?
            .map(Record::into_type)
            .transpose()
    }

    /// Preferences visible through `scope`, optionally of one category, by key.
    async fn list_preferences(
        &self,
        scope: &Scope,
        category: Option<&str>,
    ) -> Result<Vec<Preference>> {
        let query = RecordQuery::Preferences {
            scope: scope.clone(),
            category: category.map(str::to_owned),
        };
        typed(self.list_records(&query).await?)
    }

    /// Deletes the preference with exactly this scope and key; `false` when none.
    async fn delete_preference(&self, scope: &Scope, key: &str) -> Result<bool> {
        let key = RecordKey::Preference {
            scope: scope.clone(),
            key: key.to_owned(),
        };
        self.delete_record(&key).await
    }

    /// Records a project.
    async fn add_project(&self, project: NewProject) -> Result<Project> {
        self.put_record(project.into()).await?.record.into_type()
    }

    /// The project with this id.
    async fn get_project(&self, id: RecordId) -> Result<Option<Project>> {
        self.get_typed(id).await
    }

    /// Projects visible through `scope`, optionally of one status, most recently
    /// accessed first.
    async fn list_projects(&self, scope: &Scope, status: Option<&str>) -> Result<Vec<Project>> {
        let query = RecordQuery::Projects {
            scope: scope.clone(),
            status: status.map(str::to_owned),
        };
        typed(self.list_records(&query).await?)
    }

    /// Marks a project as accessed now; [`Error::NotFound`] when there is none.
    async fn touch_project(&self, id: RecordId) -> Result<Project> {
        self.change_record(id, RecordChange::TouchProject)
            .await?
            .into_type()
    }

    /// Sets a project's status; [`Error::NotFound`] when there is none.
    async fn set_project_status(&self, id: RecordId, status: &str) -> Result<Project> {
        let change = RecordChange::ProjectStatus {
            status: status.to_owned(),
        };
        self.change_record(id, change).await?.into_type()
    }

    /// Stores a pattern, or counts one more success on the pattern with the same scope,
    /// type and context (its solution and language stay as first stored).
    async fn store_pattern(&self, pattern: NewPattern) -> Result<PatternWrite> {
        let write = self.put_record(pattern.into()).await?;
        Ok(PatternWrite {
            pattern: write.record.into_type()?,
            inserted: write.inserted,
        })
    }

    /// Counts one success or failure on a pattern; [`Error::NotFound`] when there is
    /// none. Concurrent calls never lose a count.
    async fn record_pattern_outcome(
        &self,
        id: RecordId,
        outcome: PatternOutcome,
    ) -> Result<CodePattern> {
        self.change_record(id, RecordChange::PatternOutcome { outcome })
            .await?
            .into_type()
    }

    /// The pattern with this id.
    async fn get_pattern(&self, id: RecordId) -> Result<Option<CodePattern>> {
        self.get_typed(id).await
    }

    /// The stored patterns among `ids`, in the order of `ids`, in one read.
    async fn get_patterns(&self, ids: &[RecordId]) -> Result<Vec<CodePattern>> {
        typed(self.get_records(RecordKind::Pattern, ids).await?)
    }

    /// Patterns passing the query, most successful first.
    async fn list_patterns(&self, query: &PatternQuery) -> Result<Vec<CodePattern>> {
        typed(
            self.list_records(&RecordQuery::Patterns(query.clone()))
                .await?,
        )
    }

    /// Deletes a pattern; `false` when none.
    async fn delete_pattern(&self, id: RecordId) -> Result<bool> {
        self.delete_record(&RecordKey::id(RecordKind::Pattern, id))
            .await
    }

    /// Changes a stored pattern (context, solution, success count, metadata);
    /// [`Error::NotFound`] when there is none.
    async fn update_pattern(&self, id: RecordId, patch: PatternPatch) -> Result<CodePattern> {
        self.change_record(id, RecordChange::PatchPattern { patch })
            .await?
            .into_type()
    }

    /// Records a learning event.
    async fn record_learning_event(&self, event: NewLearningEvent) -> Result<LearningEvent> {
        self.put_record(event.into()).await?.record.into_type()
    }

    /// Learning events passing the query, newest first.
    async fn list_learning_events(&self, query: &EventQuery) -> Result<Vec<LearningEvent>> {
        typed(
            self.list_records(&RecordQuery::LearningEvents(query.clone()))
                .await?,
        )
    }

    /// Records a conversation summary.
    async fn add_conversation(&self, conversation: NewConversation) -> Result<ConversationSummary> {
        self.put_record(conversation.into())
            .await?
            .record
            .into_type()
    }

    /// Conversation summaries visible through `scope`, newest first.
    async fn list_conversations(
        &self,
        scope: &Scope,
        limit: usize,
    ) -> Result<Vec<ConversationSummary>> {
        let query = RecordQuery::Conversations {
            scope: scope.clone(),
            limit,
        };
        typed(self.list_records(&query).await?)
    }

    /// Records a decision (its outcome comes later).
    async fn record_decision(&self, decision: NewDecision) -> Result<AgentDecision> {
        self.put_record(decision.into()).await?.record.into_type()
    }

    /// Sets a decision's outcome and reward; [`Error::NotFound`] when there is none.
    /// Setting it again overwrites.
    async fn update_decision_outcome(
        &self,
        id: RecordId,
        outcome: &str,
        reward: Reward,
    ) -> Result<AgentDecision> {
        let change = RecordChange::DecisionOutcome {
            outcome: outcome.to_owned(),
            reward,
        };
        self.change_record(id, change).await?.into_type()
    }

    /// The decision with this id.
    async fn get_decision(&self, id: RecordId) -> Result<Option<AgentDecision>> {
        self.get_typed(id).await
    }

    /// Decisions passing the query, newest first.
    async fn list_decisions(&self, query: &DecisionQuery) -> Result<Vec<AgentDecision>> {
        typed(
            self.list_records(&RecordQuery::Decisions(query.clone()))
                .await?,
        )
    }
}

impl<S: RecordStore + ?Sized> RecordStoreExt for S {}

/// Puts `ids` in order, each once, from rows read in any order: the contract of
/// [`RecordStore::get_records`], shared by backends that read with `id IN (...)`.
pub fn order_by_ids(ids: &[RecordId], rows: Vec<Record>) -> Vec<Record> {
    let mut by_id: std::collections::HashMap<RecordId, Record> =
        rows.into_iter().map(|r| (r.id(), r)).collect();
    ids.iter().filter_map(|id| by_id.remove(id)).collect()
}
