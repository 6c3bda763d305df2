//! The facade's other seed records: preferences, projects, learning events,
//! conversations and decisions.

use memory_core::*;

use crate::brain::*;
use crate::error::Result;

impl Brain {
    // ---- the seed's other records ------------------------------------------------------

    /// Stores (or replaces) a preference.
    pub async fn set_preference(&self, pref: NewPreference) -> Result<Preference> {
        Ok(self.store.store_preference(pref).await?)
    }

    /// A preference.
    pub async fn preference(&self, scope: &Scope, key: &str) -> Result<Option<Preference>> {
        Ok(self.store.get_preference(scope, key).await?)
    }

    /// Preferences visible through `scope`, optionally of one category.
    pub async fn preferences(
        &self,
        scope: &Scope,
        category: Option<&str>,
    ) -> Result<Vec<Preference>> {
        Ok(self.store.list_preferences(scope, category).await?)
    }

    /// Adds a project.
    pub async fn add_project(&self, project: NewProject) -> Result<Project> {
        Ok(self.store.add_project(project).await?)
    }

    /// Projects visible through `scope`, optionally of one status.
    pub async fn projects(&self, scope: &Scope, status: Option<&str>) -> Result<Vec<Project>> {
        Ok(self.store.list_projects(scope, status).await?)
    }

    /// Marks a project as accessed now.
    pub async fn touch_project(&self, id: RecordId) -> Result<Project> {
        Ok(self.store.touch_project(id).await?)
    }

    /// Records a learning event.
    pub async fn record_event(&self, event: NewLearningEvent) -> Result<LearningEvent> {
        Ok(self.store.record_learning_event(event).await?)
    }

    /// Learning events.
    pub async fn events(&self, query: &EventQuery) -> Result<Vec<LearningEvent>> {
        Ok(self.store.list_learning_events(query).await?)
    }

    /// Stores a conversation summary.
    pub async fn add_conversation(&self, c: NewConversation) -> Result<ConversationSummary> {
        Ok(self.store.add_conversation(c).await?)
    }

    /// Conversation summaries visible through `scope`, newest first.
    pub async fn conversations(
        &self,
        scope: &Scope,
        limit: usize,
    ) -> Result<Vec<ConversationSummary>> {
        Ok(self.store.list_conversations(scope, limit).await?)
    }

    /// Decisions.
    pub async fn decisions(&self, query: &DecisionQuery) -> Result<Vec<AgentDecision>> {
        Ok(self.store.list_decisions(query).await?)
    }
}
