//! Learning that survives restarts: a learner kept in the brain's long-term store,
//! loaded when opened and saved after every change, with no manual save.
//!
//! Saves are versioned ([`LongTermStore::put_policy`]): when another process saved the
//! same policy in between, the save is refused, the newer state is loaded, and the change
//! is applied again on top of it, so no update is lost and none is applied twice.

use std::sync::Arc;

use memory_core::{ErrorKind, LongTermStore};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How many times a change is re-applied on a newer state before giving up.
const MAX_ATTEMPTS: usize = 8;

/// A learner `P` persisted under a name in a [`LongTermStore`].
pub struct Persistent<P> {
    store: Arc<dyn LongTermStore>,
    name: String,
    kind: String,
    policy: P,
    version: Option<u64>,
}

impl<P: std::fmt::Debug> std::fmt::Debug for Persistent<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Persistent")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("version", &self.version)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<P: Clone + Serialize + DeserializeOwned> Persistent<P> {
    /// The policy saved as `name`, or `init()` (not saved until its first change) when
    /// there is none. A saved state of another `kind`, or one that does not deserialise,
    /// is an error rather than silently replaced.
    pub async fn open(
        store: Arc<dyn LongTermStore>,
        name: &str,
        kind: &str,
        init: impl FnOnce() -> P,
    ) -> memory_core::Result<Self> {
        let (policy, version) = match load(store.as_ref(), name, kind).await? {
            Some((p, v)) => (p, Some(v)),
            None => (init(), None),
        };
        Ok(Persistent {
            store,
            name: name.to_owned(),
            kind: kind.to_owned(),
            policy,
            version,
        })
    }

    /// The learner as last loaded or changed.
    pub fn get(&self) -> &P {
        &self.policy
    }

    /// The stored version this state corresponds to (`None` before the first save).
    pub fn version(&self) -> Option<u64> {
        self.version
    }

    /// The policy's name in the store.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Applies `change` and saves the result. If another writer saved first, reloads
    /// its state and applies `change` again on top, up to a few times. On an error the
    /// stored state is unchanged and this handle holds the latest stored state.
    pub async fn update<T>(
        &mut self,
        mut change: impl FnMut(&mut P) -> crate::Result<T>,
    ) -> memory_core::Result<T> {
        for _ in 0..MAX_ATTEMPTS {
            let mut next = self.policy.clone();
            let out = change(&mut next)?;
            let state = serde_json::to_value(&next).map_err(state_error)?;
            match self
                .store
                .put_policy(&self.name, &self.kind, &state, self.version)
                .await
            {
                Ok(v) => {
                    self.policy = next;
                    self.version = Some(v);
                    return Ok(out);
                }
                Err(e) if e.kind() == ErrorKind::Conflict => {
                    tracing::debug!(policy = %self.name, "policy saved elsewhere; reloading");
                    self.reload().await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(memory_core::Error::Conflict(format!(
            "policy `{}` kept changing under this update ({MAX_ATTEMPTS} attempts)",
            self.name
        )))
    }

    /// Reloads the stored state (for instance after another process learned).
    pub async fn reload(&mut self) -> memory_core::Result<()> {
        if let Some((p, v)) = load(self.store.as_ref(), &self.name, &self.kind).await? {
            self.policy = p;
            self.version = Some(v);
        }
        Ok(())
    }
}

async fn load<P: DeserializeOwned>(
    store: &dyn LongTermStore,
    name: &str,
    kind: &str,
) -> memory_core::Result<Option<(P, u64)>> {
    let Some(saved) = store.get_policy(name).await? else {
        return Ok(None);
    };
    if saved.kind != kind {
        return Err(memory_core::Error::Conflict(format!(
            "policy `{name}` holds a {} but a {kind} was asked for",
            saved.kind
        )));
    }
    let policy = serde_json::from_value(saved.state).map_err(state_error)?;
    Ok(Some((policy, saved.version)))
}

fn state_error(e: serde_json::Error) -> memory_core::Error {
    crate::RlError::State(e.to_string()).into()
}
