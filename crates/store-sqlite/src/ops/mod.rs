//! The SQL of every operation, as plain functions over a connection (or a transaction,
//! which derefs to one). The async store and the batch writer both call these. One
//! module per role of the store: memories, records, embeddings, policies, and the
//! batch that spans them.

use memory_core::*;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use serde_json::Value;

use crate::error::{Result, SqliteError};

mod batch;
mod embeddings;
mod memories;
mod policies;
mod records;

pub(crate) use batch::*;
pub(crate) use embeddings::*;
pub(crate) use memories::*;
pub(crate) use policies::*;
pub(crate) use records::*;

// ---------- encoding helpers ----------

fn scope_params(s: &Scope) -> [String; 3] {
    [
        s.user.clone().unwrap_or_default(),
        s.agent.clone().unwrap_or_default(),
        s.session.clone().unwrap_or_default(),
    ]
}

fn scope_from(row: &Row<'_>, first: usize) -> rusqlite::Result<Scope> {
    let part = |i: usize| -> rusqlite::Result<Option<String>> {
        let s: String = row.get(first + i)?;
        Ok(if s.is_empty() { None } else { Some(s) })
    };
    Ok(Scope {
        user: part(0)?,
        agent: part(1)?,
        session: part(2)?,
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Values here are built from validated Rust data; serialisation cannot fail.
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

/// Decoding failures inside a row mapper surface as `FromSqlConversionFailure` and are
/// turned into [`SqliteError::Corrupt`] by [`corrupt`].
fn from_json<T: serde::de::DeserializeOwned>(idx: usize, s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn conversion<E: std::error::Error + Send + Sync + 'static>(idx: usize, e: E) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Real, Box::new(e))
}

fn corrupt(what: &'static str) -> impl Fn(rusqlite::Error) -> SqliteError {
    move |e| match e {
        rusqlite::Error::FromSqlConversionFailure(..) | rusqlite::Error::InvalidColumnType(..) => {
            SqliteError::Corrupt {
                what,
                message: e.to_string(),
            }
        }
        other => other.into(),
    }
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn lim(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Pushes `scope` as a filter: each set part must equal.
fn scope_filter(scope: &Scope, prefix: &str, sql: &mut String, args: &mut Vec<SqlValue>) {
    for (col, v) in [
        ("scope_user", &scope.user),
        ("scope_agent", &scope.agent),
        ("scope_session", &scope.session),
    ] {
        if let Some(v) = v {
            sql.push_str(&format!(" AND {prefix}{col} = ?"));
            args.push(SqlValue::Text(v.clone()));
        }
    }
}

/// The WHERE conditions of a memory filter, as `AND ...` clauses over alias `m`.
fn memory_filter(f: &MemoryFilter, now: Timestamp, sql: &mut String, args: &mut Vec<SqlValue>) {
    scope_filter(&f.scope, "m.", sql, args);
    if !f.kinds.is_empty() {
        sql.push_str(" AND m.kind IN (");
        for (i, k) in f.kinds.iter().enumerate() {
            sql.push_str(if i == 0 { "?" } else { ",?" });
            args.push(SqlValue::Text(k.as_str().to_owned()));
        }
        sql.push(')');
    }
    for c in &f.metadata {
        // json_each compares by JSON type, so "12" never equals 12 and true never 1.
        sql.push_str(" AND EXISTS (SELECT 1 FROM json_each(m.metadata) j WHERE j.key = ?");
        args.push(SqlValue::Text(c.key.clone()));
        match &c.value {
            Value::String(s) => {
                sql.push_str(" AND j.type = 'text' AND j.value = ?)");
                args.push(SqlValue::Text(s.clone()));
            }
            Value::Bool(b) => {
                sql.push_str(if *b {
                    " AND j.type = 'true')"
                } else {
                    " AND j.type = 'false')"
                });
            }
            Value::Number(n) => {
                sql.push_str(" AND j.type IN ('integer', 'real') AND j.value = ?)");
                args.push(SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)));
            }
            // Rejected by validation before we get here; match nothing to be safe.
            _ => sql.push_str(" AND 0)"),
        }
    }
    if let Some(t) = f.created_after {
        sql.push_str(" AND m.created_at >= ?");
        args.push(SqlValue::Integer(t.as_millis()));
    }
    if let Some(t) = f.created_before {
        sql.push_str(" AND m.created_at < ?");
        args.push(SqlValue::Integer(t.as_millis()));
    }
    if !f.include_expired {
        sql.push_str(" AND (m.expires_at IS NULL OR m.expires_at > ?)");
        args.push(SqlValue::Integer(now.as_millis()));
    }
}

/// An FTS5 query matching any of the text's words but stop words (all of them when every
/// word is one); `None` when it has none. Each word is a quoted string, so FTS5 syntax in
/// the text is never interpreted.
fn fts_query(text: &str) -> Option<String> {
    let terms = keyword_terms(text);
    if terms.is_empty() {
        return None;
    }
    Some(
        terms
            .iter()
            .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" OR "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_queries_are_quoted_words() {
        assert_eq!(
            fts_query("x OR b* NEAR(c)").as_deref(),
            Some("\"x\" OR \"b\" OR \"near\" OR \"c\""),
            "FTS5 syntax is quoted; the stop word `or` is dropped"
        );
        assert_eq!(
            fts_query("a OR the").as_deref(),
            Some("\"a\" OR \"or\" OR \"the\""),
            "only stop words: all kept"
        );
        assert_eq!(fts_query("\"\" ** ()"), None);
    }
}
