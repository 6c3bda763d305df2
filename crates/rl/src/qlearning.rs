//! A tabular Q-learner over coarse agent states: the seed's `ReinforcementLearner`, made
//! correct, seeded and persistable.
//!
//! A [`State`] is keyed by `(task_type, complexity)`, as in the seed; its context features are
//! carried along but are not part of the key. The learner picks among the [`Action`]s the
//! caller offers with an epsilon-greedy policy ([`QLearner::select_action`]), records the
//! steps of an episode ([`QLearner::record_step`]) and learns from them backwards
//! ([`QLearner::learn_from_episode`]), or learns online one step at a time
//! ([`QLearner::update`]). The update is the Q-learning one,
//!
//! ```text
//! target = r                                  if the step ended the episode (next_state None)
//! target = r + γ · max_{a' known in s'} Q(s', a')  otherwise
//! Q(s, a) ← Q(s, a) + α · (target − Q(s, a))
//! ```
//!
//! # What differs from the seed, and why
//!
//! - **Exploitation looks only at the actions on offer.** The seed took the best action ever
//!   valued in the state and, when that action was not available, fell back to a uniformly
//!   random one, so one unavailable favourite turned exploitation into pure exploration. Here
//!   the best is taken among the *available* actions.
//! - **Unvisited actions count at the initial value.** The seed ignored actions it had never
//!   updated, so a state whose only valued action had a negative value kept choosing it
//!   although an untried alternative (worth 0) was better in the learner's own terms. Here
//!   every available action competes, an unvisited one at [`QParams::initial_q`] (default
//!   0, as the seed's `defaultdict(float)`; a positive value gives optimistic exploration).
//! - **Ties are broken uniformly at random** (seeded) instead of by dictionary order, which
//!   in the seed always favoured the first action ever recorded.
//! - **The bootstrap max covers every action known in the next state**: those ever
//!   recorded there and those ever offered there to [`QLearner::select_action`], unvisited
//!   ones at the initial value. The seed maxed only over updated actions, so a state whose
//!   tried actions had all done badly was valued below the untried alternative that its own
//!   exploitation (fixed as above) would take. A non-terminal next state with no known action
//!   is worth the initial value (0 by default, the seed's value).
//! - **Terminal steps bootstrap from nothing.** A step recorded with `next_state: None`
//!   ended the episode: its target is the reward alone (the value of a terminal state is 0).
//!   The seed did the same but tested `if next_state:`, which is the same in Python only
//!   because a dataclass is always truthy; here it is explicit.
//! - **The first visit uses its reward.** Q starts at the initial value and the first update
//!   is `q0 + α(r − q0)` — a single step with reward `r` from 0 gives exactly `α·r`. (Some
//!   implementations insert the initial value on first sight and skip the update.)
//! - **Inputs are validated.** α in (0, 1], γ in [0, 1), ε in [0, 1], a finite initial
//!   value ([`crate::RlError::InvalidParameter`], [`crate::RlError::NotFinite`]); rewards must be
//!   finite ([`crate::RlError::NotFinite`]), since one NaN would poison the table for good; an
//!   empty offer is [`crate::RlError::NoArms`] where the seed raised `IndexError`.
//! - **Randomness is seeded and saved.** The learner owns a [`crate::Rng`], serialised with it,
//!   so a saved and reloaded learner selects exactly the actions the original would have.
//! - **Persistence is complete and atomic.** The seed saved only the Q-table (losing its
//!   parameters and the pending episode) and wrote in place, so a crash mid-write left a
//!   truncated file. [`QLearner::save`] writes the whole learner to a temporary file and
//!   renames it over the target; [`QLearner::load`] rejects unreadable or invalid state with
//!   [`crate::RlError::State`] and, like the seed, starts fresh when the file does not exist.
//! - **State keys are injective.** The table is keyed `"task_type:complexity"` as in the
//!   seed, but a `:` or `\` inside either part is escaped with `\`, so `("a:b", "c")` and
//!   `("a", "b:c")` are different states. Keys without those characters are the seed's.
//!
//! The learner is deterministic for a given seed and call sequence: the table is a
//! [`BTreeMap`], and [`QLearner::best_actions`] orders ties by name.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::error::{Result, RlError, finite};
use crate::rng::{Rng, seeded};

/// An environment state. Only `task_type` and `complexity` identify it (see
/// [`State::key`]); `context_features` travel with it, e.g. into the episode log, but do not
/// split the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The kind of task, e.g. `code`, `test`, `deploy`, `docs`.
    pub task_type: String,
    /// How hard it is, e.g. `simple`, `medium`, `complex`.
    pub complexity: String,
    /// Extracted features, carried but not part of the key.
    #[serde(default)]
    pub context_features: serde_json::Map<String, serde_json::Value>,
}

impl State {
    /// A state without context features.
    pub fn new(task_type: impl Into<String>, complexity: impl Into<String>) -> Self {
        Self {
            task_type: task_type.into(),
            complexity: complexity.into(),
            context_features: serde_json::Map::new(),
        }
    }

    /// The same state carrying `features`.
    #[must_use]
    pub fn with_features(mut self, features: serde_json::Map<String, serde_json::Value>) -> Self {
        self.context_features = features;
        self
    }

    /// The table key, `task_type:complexity`, with `\` and `:` inside either part escaped by
    /// a `\` so that different states never share a key.
    pub fn key(&self) -> String {
        let mut key = String::with_capacity(self.task_type.len() + self.complexity.len() + 1);
        push_escaped(&mut key, &self.task_type);
        key.push(':');
        push_escaped(&mut key, &self.complexity);
        key
    }
}

fn push_escaped(out: &mut String, part: &str) {
    for c in part.chars() {
        if c == '\\' || c == ':' {
            out.push('\\');
        }
        out.push(c);
    }
}

/// An action the agent can take. Actions are identified by `name`; `parameters` travel with
/// the action but are not part of its identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// The action's identity in the table.
    pub name: String,
    /// Free-form parameters, returned as given.
    #[serde(default)]
    pub parameters: serde_json::Value,
}

impl Action {
    /// An action without parameters (`null`).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            parameters: serde_json::Value::Null,
        }
    }

    /// The same action carrying `parameters`.
    #[must_use]
    pub fn with_parameters(mut self, parameters: serde_json::Value) -> Self {
        self.parameters = parameters;
        self
    }
}

/// The learner's parameters. [`QParams::default`] is the seed's: α 0.1, γ 0.95, ε 0.2,
/// initial value 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QParams {
    /// Step size α, in (0, 1].
    pub learning_rate: f64,
    /// Discount γ, in [0, 1).
    pub discount: f64,
    /// Exploration probability ε of the epsilon-greedy policy, in [0, 1].
    pub exploration: f64,
    /// The value of a state-action pair never updated; finite.
    pub initial_q: f64,
}

impl Default for QParams {
    fn default() -> Self {
        Self {
            learning_rate: 0.1,
            discount: 0.95,
            exploration: 0.2,
            initial_q: 0.0,
        }
    }
}

impl QParams {
    /// `Ok(self)` if every parameter is in range.
    pub fn validate(self) -> Result<Self> {
        check_learning_rate(self.learning_rate)?;
        if !(self.discount >= 0.0 && self.discount < 1.0) {
            return Err(RlError::InvalidParameter {
                name: "discount",
                expected: "in [0, 1)",
                value: self.discount,
            });
        }
        check_exploration(self.exploration)?;
        finite("initial_q", self.initial_q)?;
        Ok(self)
    }
}

fn check_learning_rate(v: f64) -> Result<f64> {
    if v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(RlError::InvalidParameter {
            name: "learning_rate",
            expected: "in (0, 1]",
            value: v,
        })
    }
}

fn check_exploration(v: f64) -> Result<f64> {
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(RlError::InvalidParameter {
            name: "exploration",
            expected: "in [0, 1]",
            value: v,
        })
    }
}

/// One recorded transition of the pending episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The state the action was taken in.
    pub state: State,
    /// The action taken.
    pub action: Action,
    /// The reward received; finite.
    pub reward: f64,
    /// The state reached, or `None` if the step ended the episode.
    pub next_state: Option<State>,
}

/// A tabular Q-learner with an epsilon-greedy policy; see the [module docs](self).
///
/// Serialises (serde) to its whole state: parameters, Q-table (`"task_type:complexity"` →
/// action → value, ordered), the actions known per state, the random generator's state and
/// the pending episode. Deserialising re-validates all of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "QLearnerRepr")]
pub struct QLearner {
    params: QParams,
    q_table: BTreeMap<String, BTreeMap<String, f64>>,
    known_actions: BTreeMap<String, BTreeSet<String>>,
    rng: Rng,
    episode: Vec<Step>,
}

impl QLearner {
    /// A learner with `params`, its random generator seeded from `seed`.
    pub fn new(params: QParams, seed: u64) -> Result<Self> {
        Ok(Self {
            params: params.validate()?,
            q_table: BTreeMap::new(),
            known_actions: BTreeMap::new(),
            rng: seeded(seed),
            episode: Vec::new(),
        })
    }

    /// The parameters.
    pub fn params(&self) -> QParams {
        self.params
    }

    /// Sets the step size α, e.g. to decay it; in (0, 1].
    pub fn set_learning_rate(&mut self, learning_rate: f64) -> Result<()> {
        self.params.learning_rate = check_learning_rate(learning_rate)?;
        Ok(())
    }

    /// Sets the exploration probability ε, e.g. to decay it; in [0, 1].
    pub fn set_exploration(&mut self, exploration: f64) -> Result<()> {
        self.params.exploration = check_exploration(exploration)?;
        Ok(())
    }

    /// The Q-table: state key ([`State::key`]) → action name → value, for the pairs that
    /// have been updated at least once.
    pub fn q_table(&self) -> &BTreeMap<String, BTreeMap<String, f64>> {
        &self.q_table
    }

    /// The steps recorded since the last [`QLearner::learn_from_episode`].
    pub fn episode(&self) -> &[Step] {
        &self.episode
    }

    /// The names of the actions known in `state` (recorded there or offered there to
    /// [`QLearner::select_action`]), in name order.
    pub fn known_actions(&self, state: &State) -> Vec<String> {
        self.known_actions
            .get(&state.key())
            .map(|names| names.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Q(state, action): the learned value, or the initial value if the pair was never
    /// updated.
    pub fn q_value(&self, state: &State, action: &str) -> f64 {
        self.q_key(&state.key(), action)
    }

    fn q_key(&self, key: &str, action: &str) -> f64 {
        self.q_table
            .get(key)
            .and_then(|row| row.get(action))
            .copied()
            .unwrap_or(self.params.initial_q)
    }

    /// max over the actions known in the state of Q; the initial value if none is known.
    fn state_value(&self, key: &str) -> f64 {
        self.known_actions
            .get(key)
            .and_then(|names| {
                names
                    .iter()
                    .map(|name| self.q_key(key, name))
                    .reduce(f64::max)
            })
            .unwrap_or(self.params.initial_q)
    }

    fn remember(&mut self, key: &str, action: &str) {
        let names = self.known_actions.entry(key.to_owned()).or_default();
        if !names.contains(action) {
            names.insert(action.to_owned());
        }
    }

    /// Indices of the available actions of highest value in the state (unvisited ones at
    /// the initial value), in offer order.
    fn best_indices(&self, key: &str, available: &[Action]) -> Vec<usize> {
        let mut best = f64::NEG_INFINITY;
        let mut indices = Vec::new();
        for (i, action) in available.iter().enumerate() {
            let q = self.q_key(key, &action.name);
            if q > best {
                best = q;
                indices.clear();
                indices.push(i);
            } else if q == best {
                indices.push(i);
            }
        }
        indices
    }

    /// Chooses among `available` by epsilon-greedy: with probability ε a uniformly random
    /// available action, otherwise one of highest Q among the available (unvisited ones at
    /// the initial value), ties broken uniformly at random. The offered actions become known
    /// in the state (see [`QLearner::known_actions`]). Returns a clone of the chosen action.
    ///
    /// Errors with [`RlError::NoArms`] if `available` is empty.
    pub fn select_action(&mut self, state: &State, available: &[Action]) -> Result<Action> {
        if available.is_empty() {
            return Err(RlError::NoArms);
        }
        let key = state.key();
        for action in available {
            self.remember(&key, &action.name);
        }
        let explore = self.rng.random::<f64>() < self.params.exploration;
        let index = if explore {
            self.rng.random_range(0..available.len())
        } else {
            let best = self.best_indices(&key, available);
            match best.len() {
                0 => return Err(RlError::NoArms),
                1 => best[0],
                n => best[self.rng.random_range(0..n)],
            }
        };
        available.get(index).cloned().ok_or(RlError::NoArms)
    }

    /// The available action of highest Q (unvisited ones at the initial value), without
    /// exploration, randomness or side effects; ties go to the first in `available`.
    ///
    /// Errors with [`RlError::NoArms`] if `available` is empty.
    pub fn greedy_action(&self, state: &State, available: &[Action]) -> Result<Action> {
        let key = state.key();
        self.best_indices(&key, available)
            .first()
            .and_then(|&i| available.get(i))
            .cloned()
            .ok_or(RlError::NoArms)
    }

    /// Appends a step to the pending episode; `next_state: None` marks the end of the
    /// episode (a terminal transition). The action becomes known in the state. Nothing is
    /// learned until [`QLearner::learn_from_episode`].
    ///
    /// Errors with [`RlError::NotFinite`] if `reward` is NaN or infinite.
    pub fn record_step(
        &mut self,
        state: State,
        action: Action,
        reward: f64,
        next_state: Option<State>,
    ) -> Result<()> {
        finite("reward", reward)?;
        self.remember(&state.key(), &action.name);
        self.episode.push(Step {
            state,
            action,
            reward,
            next_state,
        });
        Ok(())
    }

    /// Learns from the pending episode, last step first (so a reward propagates back
    /// through the whole episode in one pass), then clears it. Returns the number of steps
    /// learned from.
    pub fn learn_from_episode(&mut self) -> usize {
        let episode = std::mem::take(&mut self.episode);
        for step in episode.iter().rev() {
            let next = step.next_state.as_ref().map(State::key);
            self.apply(
                step.state.key(),
                &step.action.name,
                step.reward,
                next.as_deref(),
            );
        }
        episode.len()
    }

    /// Learns from one transition at once (online Q-learning), leaving the pending episode
    /// alone; `next_state: None` is a terminal transition. The action becomes known in the
    /// state. Returns the new Q(state, action).
    ///
    /// Errors with [`RlError::NotFinite`] if `reward` is NaN or infinite.
    pub fn update(
        &mut self,
        state: &State,
        action: &Action,
        reward: f64,
        next_state: Option<&State>,
    ) -> Result<f64> {
        finite("reward", reward)?;
        let key = state.key();
        self.remember(&key, &action.name);
        let next = next_state.map(State::key);
        Ok(self.apply(key, &action.name, reward, next.as_deref()))
    }

    fn apply(&mut self, key: String, action: &str, reward: f64, next: Option<&str>) -> f64 {
        let target = match next {
            None => reward,
            Some(next) => reward + self.params.discount * self.state_value(next),
        };
        let q = self.q_key(&key, action);
        let updated = q + self.params.learning_rate * (target - q);
        self.q_table
            .entry(key)
            .or_default()
            .insert(action.to_owned(), updated);
        updated
    }

    /// Up to `top_k` of the actions known in `state` with their values (unvisited ones at
    /// the initial value), highest first, ties by name.
    pub fn best_actions(&self, state: &State, top_k: usize) -> Vec<(String, f64)> {
        let key = state.key();
        let mut ranked: Vec<(String, f64)> = self
            .known_actions
            .get(&key)
            .map(|names| {
                names
                    .iter()
                    .map(|name| (name.clone(), self.q_key(&key, name)))
                    .collect()
            })
            .unwrap_or_default();
        // Names in a set are unique and values finite, so this order is total.
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        ranked.truncate(top_k);
        ranked
    }

    /// The whole learner as pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| RlError::State(e.to_string()))
    }

    /// A learner from [`QLearner::to_json`]'s output; [`RlError::State`] if the text is not
    /// such JSON or holds invalid parameters or values.
    pub fn from_json(json: &str) -> Result<Self> {
        serde_json::from_str(json).map_err(|e| RlError::State(e.to_string()))
    }

    /// Writes the learner to `path` atomically: to a temporary file beside it, synced, then
    /// renamed over `path`, so a crash leaves either the old file or the new one.
    /// I/O failures are [`RlError::State`].
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let json = self.to_json()?;
        let io = |what: &str, e: std::io::Error| {
            RlError::State(format!("cannot {what} {}: {e}", path.display()))
        };
        let name = path
            .file_name()
            .ok_or_else(|| RlError::State(format!("{} is not a file path", path.display())))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        // Unique per process and call, so concurrent saves never share a temporary file.
        static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tmp_name.push(format!(".tmp.{}.{n}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let written = (|| -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(json.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if let Err(e) = written {
            // Best effort: the temporary file is useless now.
            let _ = std::fs::remove_file(&tmp);
            return Err(io("write", e));
        }
        Ok(())
    }

    /// Reads a learner saved by [`QLearner::save`]. If `path` does not exist, returns a
    /// fresh learner with `params` and `seed`, as the seed did; otherwise the saved
    /// parameters and random state win. An unreadable, corrupt or invalid file is
    /// [`RlError::State`].
    pub fn load(path: impl AsRef<Path>, params: QParams, seed: u64) -> Result<Self> {
        let path = path.as_ref();
        match std::fs::read_to_string(path) {
            Ok(json) => Self::from_json(&json).map_err(|e| match e {
                RlError::State(m) => RlError::State(format!("{}: {m}", path.display())),
                other => other,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::new(params, seed),
            Err(e) => Err(RlError::State(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }
}

/// The serialised form of the generator (rand's own serde form of xoshiro256++), read
/// separately so that the all-zero state, from which xoshiro only ever yields zeros, is
/// rejected.
#[derive(Deserialize)]
struct RngRepr {
    s: [u64; 4],
}

/// What [`QLearner`] deserialises from before validation.
#[derive(Deserialize)]
struct QLearnerRepr {
    params: QParams,
    q_table: BTreeMap<String, BTreeMap<String, f64>>,
    #[serde(default)]
    known_actions: BTreeMap<String, BTreeSet<String>>,
    rng: RngRepr,
    #[serde(default)]
    episode: Vec<Step>,
}

impl TryFrom<QLearnerRepr> for QLearner {
    type Error = RlError;

    fn try_from(repr: QLearnerRepr) -> Result<Self> {
        let params = repr.params.validate()?;
        for row in repr.q_table.values() {
            for &q in row.values() {
                finite("Q-value", q)?;
            }
        }
        for step in &repr.episode {
            finite("reward", step.reward)?;
        }
        if repr.rng.s == [0; 4] {
            return Err(RlError::State(
                "the random generator's state is all zero".into(),
            ));
        }
        let mut seed = [0u8; 32];
        for (chunk, word) in seed.chunks_exact_mut(8).zip(repr.rng.s) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        let rng = <Rng as rand::SeedableRng>::from_seed(seed);
        // Every updated pair and every recorded step is a known action, whatever the file says.
        let mut known_actions = repr.known_actions;
        for (key, row) in &repr.q_table {
            let names = known_actions.entry(key.clone()).or_default();
            names.extend(row.keys().cloned());
        }
        for step in &repr.episode {
            known_actions
                .entry(step.state.key())
                .or_default()
                .insert(step.action.name.clone());
        }
        Ok(Self {
            params,
            q_table: repr.q_table,
            known_actions,
            rng,
            episode: repr.episode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_injective() {
        assert_eq!(State::new("code", "simple").key(), "code:simple");
        assert_ne!(State::new("a:b", "c").key(), State::new("a", "b:c").key());
        assert_ne!(State::new("a\\", "c").key(), State::new("a", "\\c").key());
    }

    #[test]
    fn parameters_are_validated() {
        let bad = [
            QParams {
                learning_rate: 0.0,
                ..QParams::default()
            },
            QParams {
                learning_rate: 1.5,
                ..QParams::default()
            },
            QParams {
                discount: 1.0,
                ..QParams::default()
            },
            QParams {
                discount: -0.1,
                ..QParams::default()
            },
            QParams {
                exploration: f64::NAN,
                ..QParams::default()
            },
        ];
        for p in bad {
            assert!(matches!(
                QLearner::new(p, 0),
                Err(RlError::InvalidParameter { .. })
            ));
        }
        let p = QParams {
            initial_q: f64::INFINITY,
            ..QParams::default()
        };
        assert!(matches!(
            QLearner::new(p, 0),
            Err(RlError::NotFinite { .. })
        ));
        let ok = QParams {
            learning_rate: 1.0,
            discount: 0.0,
            exploration: 1.0,
            initial_q: -3.0,
        };
        assert!(QLearner::new(ok, 0).is_ok());
    }

    #[test]
    fn zero_rng_state_is_rejected() -> Result<()> {
        let learner = QLearner::new(QParams::default(), 1)?;
        let mut value =
            serde_json::to_value(&learner).map_err(|e| RlError::State(e.to_string()))?;
        value["rng"]["s"] = serde_json::json!([0, 0, 0, 0]);
        let json = value.to_string();
        assert!(matches!(QLearner::from_json(&json), Err(RlError::State(_))));
        Ok(())
    }
}
