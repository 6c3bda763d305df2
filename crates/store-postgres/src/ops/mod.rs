//! The SQL of every operation, as async functions over a connection or a transaction
//! (anything that is a [`GenericClient`]). The store's methods and batches call these.
//! One module per role of the store: memories, records, embeddings, policies, and the
//! batch that spans them.

use deadpool_postgres::GenericClient;
use memory_core::*;
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::error::{PostgresError, Result};

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

type Param<'a> = &'a (dyn ToSql + Sync);

// ---------- helpers ----------

/// Bound parameters of a statement built at run time.
#[derive(Default)]
struct Args(Vec<Box<dyn ToSql + Sync + Send>>);

impl Args {
    /// Adds a parameter and returns its placeholder (`$n`).
    fn push(&mut self, v: impl ToSql + Sync + Send + 'static) -> String {
        self.0.push(Box::new(v));
        format!("${}", self.0.len())
    }

    fn refs(&self) -> Vec<Param<'_>> {
        self.0
            .iter()
            .map(|b| {
                let r: Param<'_> = b.as_ref();
                r
            })
            .collect()
    }
}

async fn rows<C: GenericClient>(c: &C, sql: &str, args: &[Param<'_>]) -> Result<Vec<Row>> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.query(&st, args).await?)
}

async fn opt_row<C: GenericClient>(c: &C, sql: &str, args: &[Param<'_>]) -> Result<Option<Row>> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&st, args).await?)
}

async fn one_row<C: GenericClient>(c: &C, sql: &str, args: &[Param<'_>]) -> Result<Row> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.query_one(&st, args).await?)
}

async fn exec<C: GenericClient>(c: &C, sql: &str, args: &[Param<'_>]) -> Result<u64> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.execute(&st, args).await?)
}

/// Runs a statement built at run time from one of a few fixed shapes, so it is cached.
async fn shaped_rows<C: GenericClient>(c: &C, sql: &str, args: &Args) -> Result<Vec<Row>> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.query(&st, &args.refs()).await?)
}

/// Runs a statement built at run time (not cached: its text varies with the filter).
async fn dyn_rows<C: GenericClient>(c: &C, sql: &str, args: &Args) -> Result<Vec<Row>> {
    Ok(c.query(sql, &args.refs()).await?)
}

fn scope_params(s: &Scope) -> [String; 3] {
    [
        s.user.clone().unwrap_or_default(),
        s.agent.clone().unwrap_or_default(),
        s.session.clone().unwrap_or_default(),
    ]
}

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    idx: usize,
    what: &'static str,
) -> Result<T> {
    row.try_get(idx).map_err(|e| PostgresError::Corrupt {
        what,
        message: e.to_string(),
    })
}

fn scope_from(row: &Row, first: usize, what: &'static str) -> Result<Scope> {
    let part = |i: usize| -> Result<Option<String>> {
        let s: String = get(row, first + i, what)?;
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

fn from_json<T: serde::de::DeserializeOwned>(what: &'static str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| PostgresError::Corrupt {
        what,
        message: e.to_string(),
    })
}

fn corrupt(what: &'static str) -> impl Fn(ValidationError) -> PostgresError {
    move |e| PostgresError::Corrupt {
        what,
        message: e.to_string(),
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

fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Appends `scope` as a filter: each set part must equal.
fn scope_filter(scope: &Scope, prefix: &str, sql: &mut String, args: &mut Args) {
    for (col, v) in [
        ("scope_user", &scope.user),
        ("scope_agent", &scope.agent),
        ("scope_session", &scope.session),
    ] {
        if let Some(v) = v {
            let p = args.push(v.clone());
            sql.push_str(&format!(" AND {prefix}{col} = {p}"));
        }
    }
}

/// The top-level scalar entries of metadata: all a [`MetadataCondition`] can match, kept
/// as jsonb for filtering inside SQL. Strings holding NUL (which jsonb cannot store) are
/// left out.
fn metadata_scalars(m: &Metadata) -> Value {
    Value::Object(
        m.as_map()
            .iter()
            .filter(|(k, v)| {
                !k.contains('\0')
                    && match v {
                        Value::String(s) => !s.contains('\0'),
                        Value::Bool(_) => true,
                        Value::Number(n) => n.as_f64().is_some_and(f64::is_finite),
                        _ => false,
                    }
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// The WHERE conditions of a memory filter, as `AND ...` clauses over alias `m`, with the
/// semantics of [`MemoryFilter::matches`].
fn memory_filter(f: &MemoryFilter, now: Timestamp, sql: &mut String, args: &mut Args) {
    scope_filter(&f.scope, "m.", sql, args);
    if !f.kinds.is_empty() {
        let kinds: Vec<String> = f.kinds.iter().map(|k| k.as_str().to_owned()).collect();
        let p = args.push(kinds);
        sql.push_str(&format!(" AND m.kind = ANY({p})"));
    }
    for c in &f.metadata {
        match &c.value {
            // Strings and booleans compare by JSON type and value: containment of
            // {key: value} (so "12" never equals 12 and true never 1).
            Value::String(s) if s.contains('\0') || c.key.contains('\0') => {
                sql.push_str(" AND FALSE");
            }
            Value::String(_) | Value::Bool(_) => {
                let mut probe = serde_json::Map::new();
                probe.insert(c.key.clone(), c.value.clone());
                let p = args.push(Value::Object(probe));
                sql.push_str(&format!(" AND m.metadata_scalars @> {p}"));
            }
            // Numbers compare as f64, as `MetadataCondition::matches` does (12 == 12.0).
            Value::Number(n) => {
                let k = args.push(c.key.clone());
                let v = args.push(n.as_f64().unwrap_or(f64::NAN));
                sql.push_str(&format!(
                    " AND (CASE WHEN jsonb_typeof(m.metadata_scalars -> {k}::text) = 'number' \
                     THEN (m.metadata_scalars ->> {k}::text)::float8 = {v}::float8 \
                     ELSE FALSE END)"
                ));
            }
            // Rejected by validation before we get here; match nothing to be safe.
            _ => sql.push_str(" AND FALSE"),
        }
    }
    if let Some(t) = f.created_after {
        let p = args.push(t.as_millis());
        sql.push_str(&format!(" AND m.created_at >= {p}"));
    }
    if let Some(t) = f.created_before {
        let p = args.push(t.as_millis());
        sql.push_str(&format!(" AND m.created_at < {p}"));
    }
    if !f.include_expired {
        let p = args.push(now.as_millis());
        sql.push_str(&format!(
            " AND (m.expires_at IS NULL OR m.expires_at > {p})"
        ));
    }
}

/// A `to_tsquery` text matching any of the text's words but stop words (all of them when
/// every word is one); `None` when it has none. Each word is a quoted lexeme made only of
/// alphanumeric characters, so tsquery syntax in the text is never interpreted.
pub(crate) fn ts_query(text: &str) -> Option<String> {
    let terms = keyword_terms(text);
    if terms.is_empty() {
        return None;
    }
    Some(
        terms
            .iter()
            .map(|t| format!("'{}'", t.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(" | "),
    )
}

/// Ranking weights for `ts_rank` / `ts_rank_cd`, in the order {D, C, B, A}: content (A)
/// counts twice the context (B), as store-sqlite's BM25 column weights.
const RANK_WEIGHTS: &str = "'{0.1, 0.2, 0.5, 1.0}'::float4[]";
/// Rank normalisation: divide by 1 + log(document length), so long documents do not win
/// by repetition alone (BM25's length normalisation, roughly).
const RANK_NORMALIZATION: i32 = 1;

// ---------- the embedding log lock ----------

/// Takes the embedding log's lock (the row lock of the `embedding_seq` counter) for the
/// rest of the transaction. Every transaction that may append to the log takes it first,
/// before any other lock, so transactions that append never deadlock on each other, and
/// sequence numbers are allocated and committed in order (see the schema).
pub(crate) async fn lock_log<C: GenericClient>(c: &C) -> Result<()> {
    rows(
        c,
        "SELECT value FROM embedding_seq WHERE id = 1 FOR UPDATE",
        &[],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_queries_are_quoted_words() {
        assert_eq!(
            ts_query("x OR b* <-> !c").as_deref(),
            Some("'x' | 'b' | 'c'"),
            "tsquery syntax is dropped; the stop word `or` too"
        );
        assert_eq!(
            ts_query("a OR the").as_deref(),
            Some("'a' | 'or' | 'the'"),
            "only stop words: all kept"
        );
        assert_eq!(ts_query("'' ** ()"), None);
    }

    #[test]
    fn only_top_level_scalars_are_indexed() {
        let m = Metadata::new()
            .with("s", "x")
            .with("n", 1)
            .with("b", true)
            .with("a", serde_json::json!([1]))
            .with("z", "nul\0");
        assert_eq!(
            metadata_scalars(&m),
            serde_json::json!({"s": "x", "n": 1, "b": true})
        );
    }
}
