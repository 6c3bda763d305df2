//! Who a memory belongs to ([`Scope`]) and what else is said of it ([`Metadata`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ValidationError;
use crate::validate;

/// The owner of a record: a user, an agent, a session, or any combination.
///
/// As the owner of a stored record, a scope is exact: `{user: alice}` and
/// `{user: alice, agent: coder}` are different owners. As a *filter*, each part that is
/// set must match and each part that is `None` matches anything, so `{user: alice}`
/// reads all of Alice's records, whichever agent or session wrote them, and never Bob's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// The user the record belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The agent that owns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The session (a run or conversation) it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

impl Scope {
    /// The empty scope: as an owner, global; as a filter, everything.
    pub const fn global() -> Self {
        Scope {
            user: None,
            agent: None,
            session: None,
        }
    }

    /// A scope owned by `user`.
    pub fn user(user: impl Into<String>) -> Self {
        Scope {
            user: Some(user.into()),
            ..Self::default()
        }
    }

    /// This scope narrowed to `agent`.
    pub fn with_agent(mut self, agent: impl Into<String>) -> Self {
        self.agent = Some(agent.into());
        self
    }

    /// This scope narrowed to `session`.
    pub fn with_session(mut self, session: impl Into<String>) -> Self {
        self.session = Some(session.into());
        self
    }

    /// Whether a record owned by `owner` is visible through this scope used as a filter.
    pub fn matches(&self, owner: &Scope) -> bool {
        fn part(filter: &Option<String>, owner: &Option<String>) -> bool {
            filter.is_none() || filter == owner
        }
        part(&self.user, &owner.user)
            && part(&self.agent, &owner.agent)
            && part(&self.session, &owner.session)
    }

    /// Checks each part that is set: non-empty, no control characters, bounded length.
    pub fn validate(&self) -> Result<(), ValidationError> {
        for (field, v) in [
            ("scope.user", &self.user),
            ("scope.agent", &self.agent),
            ("scope.session", &self.session),
        ] {
            if let Some(v) = v {
                validate::key(field, v)?;
            }
        }
        Ok(())
    }
}

/// A JSON object of free-form facts about a record, e.g. `{"lang": "rust"}`.
///
/// Always an object (never a bare scalar), at most [`validate::MAX_JSON_BYTES`] when
/// serialised and [`validate::MAX_JSON_DEPTH`] deep.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Metadata(Map<String, Value>);

impl Metadata {
    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a JSON object, rejecting malformed JSON, non-objects and oversized values.
    pub fn from_json_str(s: &str) -> Result<Self, ValidationError> {
        match validate::parse_json("metadata", s)? {
            Value::Object(m) => Ok(Metadata(m)),
            other => Err(ValidationError::MalformedJson {
                field: "metadata",
                message: format!("expected a JSON object, got {}", json_type(&other)),
            }),
        }
    }

    /// Wraps a JSON value, which must be an object within the limits.
    pub fn from_value(v: Value) -> Result<Self, ValidationError> {
        validate::json("metadata", &v)?;
        match v {
            Value::Object(m) => Ok(Metadata(m)),
            other => Err(ValidationError::MalformedJson {
                field: "metadata",
                message: format!("expected a JSON object, got {}", json_type(&other)),
            }),
        }
    }

    /// Sets `key` to `value`, returning self for chaining.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.0.insert(key.into(), value.into());
        self
    }

    /// The value at `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The underlying map.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The metadata as compact JSON text.
    pub fn to_json_string(&self) -> String {
        // Serialising a map of `Value`s cannot fail: all keys are strings.
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Checks the size and depth limits (values built with [`Metadata::with`] skip them
    /// until a store runs this).
    pub fn validate(&self) -> Result<(), ValidationError> {
        for k in self.0.keys() {
            validate::key("metadata key", k)?;
        }
        // Depth of the object itself plus its values.
        let depth = 1 + self.0.values().map(validate::json_depth).max().unwrap_or(0);
        if depth > validate::MAX_JSON_DEPTH {
            return Err(ValidationError::TooDeep {
                field: "metadata",
                depth,
                max: validate::MAX_JSON_DEPTH,
            });
        }
        let len = self.to_json_string().len();
        if len > validate::MAX_JSON_BYTES {
            return Err(ValidationError::TooLong {
                field: "metadata",
                len,
                max: validate::MAX_JSON_BYTES,
            });
        }
        Ok(())
    }
}

impl From<Map<String, Value>> for Metadata {
    fn from(m: Map<String, Value>) -> Self {
        Metadata(m)
    }
}

/// One condition on a record's metadata: the top-level `key` holds exactly `value`.
///
/// Values are scalars (string, number, boolean); numbers compare by value, so `1` and
/// `1.0` are equal. A record without the key never matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetadataCondition {
    /// The top-level metadata key.
    pub key: String,
    /// The scalar it must equal.
    pub value: Value,
}

impl MetadataCondition {
    /// `key == value`.
    pub fn eq(key: impl Into<String>, value: impl Into<Value>) -> Self {
        MetadataCondition {
            key: key.into(),
            value: value.into(),
        }
    }

    /// Rejects empty keys and non-scalar values.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::key("metadata filter key", &self.key)?;
        match &self.value {
            Value::String(_) | Value::Bool(_) => Ok(()),
            Value::Number(n) if n.as_f64().is_some_and(f64::is_finite) => Ok(()),
            other => Err(ValidationError::Other(format!(
                "metadata filter on {:?} must compare with a string, number or boolean, got {}",
                self.key,
                json_type(other)
            ))),
        }
    }

    /// Whether `metadata` satisfies this condition.
    pub fn matches(&self, metadata: &Metadata) -> bool {
        match (metadata.get(&self.key), &self.value) {
            (Some(Value::Number(a)), Value::Number(b)) => a.as_f64() == b.as_f64(),
            (Some(a), b) => a == b,
            (None, _) => false,
        }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scope_filter_semantics() {
        let alice_coder = Scope::user("alice").with_agent("coder");
        assert!(Scope::global().matches(&alice_coder));
        assert!(Scope::user("alice").matches(&alice_coder));
        assert!(!Scope::user("bob").matches(&alice_coder));
        assert!(
            !Scope::user("alice")
                .with_session("s1")
                .matches(&alice_coder)
        );
        assert!(!Scope::user("alice").matches(&Scope::global()));
    }

    #[test]
    fn metadata_parse_errors_are_typed() {
        assert!(Metadata::from_json_str(r#"{"a": 1}"#).is_ok());
        assert!(matches!(
            Metadata::from_json_str("[1,2]"),
            Err(ValidationError::MalformedJson { .. })
        ));
        assert!(matches!(
            Metadata::from_json_str("{\"a\":"),
            Err(ValidationError::MalformedJson { .. })
        ));
    }

    #[test]
    fn numeric_conditions_compare_by_value() {
        let m = Metadata::new().with("n", 1).with("s", "x");
        assert!(MetadataCondition::eq("n", 1.0).matches(&m));
        assert!(MetadataCondition::eq("s", "x").matches(&m));
        assert!(!MetadataCondition::eq("s", "y").matches(&m));
        assert!(!MetadataCondition::eq("missing", "x").matches(&m));
        assert!(
            MetadataCondition::eq("o", json!({"a": 1}))
                .validate()
                .is_err()
        );
    }
}
