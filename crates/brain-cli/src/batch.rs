//! The lines of `brain recall --batch`: one JSON query per line.
//!
//! A line is either the short form
//! `{"text": "...", "k": 5, "mode": "keyword", "user": "u", "agent": "a", "session": "s",
//! "kind": "fact" (or a list), "meta": {"key": "scalar"}}` or a serialized
//! [`brain::RecallQuery`] (`{"text", "filter", "k", "mode"}`); the two may be mixed.
//! Unknown fields are errors, so a typo is never ignored. What a line does not set comes
//! from the command line's options ([`Defaults`]).
//!
//! ```
//! use brain_cli::batch::{Defaults, parse_line};
//!
//! let q = parse_line(r#"{"text": "tabs or spaces?", "user": "alice", "k": 3}"#, &Defaults::default()).unwrap();
//! assert_eq!(q.k, Some(3));
//! assert_eq!(q.filter.scope.user.as_deref(), Some("alice"));
//! assert!(parse_line(r#"{"txt": "typo"}"#, &Defaults::default()).is_err());
//! ```

use brain::{RecallMode, RecallQuery};
use memory_core::{MemoryFilter, MemoryKind, MetadataCondition, Scope};
use serde::Deserialize;
use serde_json::{Map, Value};

/// What a batch line does not say, from the command line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Defaults {
    /// Hits per query.
    pub k: Option<usize>,
    /// The mode.
    pub mode: Option<RecallMode>,
    /// The scope; each part a line leaves unset is taken from here.
    pub scope: Scope,
    /// Kinds, when a line names none.
    pub kinds: Vec<MemoryKind>,
    /// Metadata conditions, when a line has none.
    pub metadata: Vec<MetadataCondition>,
    /// The score threshold, when a line has none.
    pub min_score: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    text: String,
    #[serde(default)]
    k: Option<usize>,
    #[serde(default)]
    mode: Option<RecallMode>,
    #[serde(default)]
    filter: Option<MemoryFilter>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    session: Option<String>,
    #[serde(default, alias = "kinds")]
    kind: Option<OneOrMany>,
    #[serde(default)]
    meta: Option<Map<String, Value>>,
    #[serde(default)]
    min_score: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// Reads one batch line into a query, or says what is wrong with it. Total: any text
/// gives one or the other. The query's values are checked by the brain when it runs.
pub fn parse_line(line: &str, defaults: &Defaults) -> Result<RecallQuery, String> {
    let l: Line = serde_json::from_str(line).map_err(|e| format!("not a query: {e}"))?;
    let mut filter = l.filter.unwrap_or_default();
    let part = |line: Option<String>, filter: Option<String>, default: &Option<String>| {
        line.or(filter).or_else(|| default.clone())
    };
    filter.scope = Scope {
        user: part(l.user, filter.scope.user.take(), &defaults.scope.user),
        agent: part(l.agent, filter.scope.agent.take(), &defaults.scope.agent),
        session: part(
            l.session,
            filter.scope.session.take(),
            &defaults.scope.session,
        ),
    };
    let kinds = match l.kind {
        None => Vec::new(),
        Some(OneOrMany::One(k)) => vec![k],
        Some(OneOrMany::Many(ks)) => ks,
    };
    for k in kinds {
        filter
            .kinds
            .push(MemoryKind::new(k).map_err(|e| e.to_string())?);
    }
    if filter.kinds.is_empty() {
        filter.kinds = defaults.kinds.clone();
    }
    for (key, value) in l.meta.unwrap_or_default() {
        filter.metadata.push(MetadataCondition::eq(key, value));
    }
    if filter.metadata.is_empty() {
        filter.metadata = defaults.metadata.clone();
    }
    Ok(RecallQuery {
        text: l.text,
        filter,
        k: l.k.or(defaults.k),
        mode: l.mode.or(defaults.mode).unwrap_or_default(),
        min_score: l.min_score.or(defaults.min_score),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialized_recall_queries_read_back() {
        let q = RecallQuery::new("where is staging?", Scope::user("bob").with_agent("ops"))
            .with_k(4)
            .with_mode(RecallMode::Vector)
            .with_filter(
                MemoryFilter::scoped(Scope::user("bob"))
                    .with_metadata(MetadataCondition::eq("env", "prod")),
            );
        let line = serde_json::to_string(&q).unwrap_or_default();
        assert_eq!(parse_line(&line, &Defaults::default()), Ok(q));
    }

    #[test]
    fn defaults_fill_what_lines_leave_out() {
        let d = Defaults {
            k: Some(7),
            mode: Some(RecallMode::Keyword),
            scope: Scope::user("alice").with_agent("coder"),
            kinds: vec![MemoryKind::episode()],
            metadata: vec![MetadataCondition::eq("lang", "rust")],
            min_score: Some(0.2),
        };
        let q = parse_line(r#"{"text":"x","agent":"other","kind":["fact"],"k":2}"#, &d);
        let Ok(q) = q else { unreachable!("{q:?}") };
        assert_eq!(q.k, Some(2));
        assert_eq!(q.mode, RecallMode::Keyword);
        assert_eq!(q.filter.scope, Scope::user("alice").with_agent("other"));
        assert_eq!(q.filter.kinds, vec![MemoryKind::fact()]);
        assert_eq!(q.filter.metadata, d.metadata);
        assert_eq!(q.min_score, Some(0.2));
        let q = parse_line(r#"{"text":"x","min_score":0.5}"#, &d).unwrap();
        assert_eq!(q.min_score, Some(0.5), "a line's own threshold wins");
    }

    #[test]
    fn bad_lines_say_why() {
        for (line, needle) in [
            ("not json", "not a query"),
            ("{}", "text"),
            (r#"{"text":"x","usr":"a"}"#, "usr"),
            (r#"{"text":"x","kind":"a b"}"#, "kind"),
            (r#"{"text":"x","mode":"fuzzy"}"#, "fuzzy"),
            (r#"{"text":"x","k":-1}"#, "-1"),
        ] {
            let e = parse_line(line, &Defaults::default());
            assert!(
                e.as_ref().is_err_and(|e| e.contains(needle)),
                "{line}: {e:?}"
            );
        }
    }
}
