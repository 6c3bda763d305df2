//! The SQL of every operation, as async functions over a connection or a transaction
//! (anything that is a [`GenericClient`]). The store's methods and batches call these.

use deadpool_postgres::GenericClient;
use memory_core::*;
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::error::{PostgresError, Result};

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

// ---------- memories ----------

const MEMORY_COLS: &str = "m.id, m.content, m.kind, m.scope_user, m.scope_agent, m.scope_session, \
     m.metadata, m.importance, m.created_at, m.updated_at, m.expires_at, m.context";

fn memory_row(row: &Row) -> Result<Memory> {
    const W: &str = "memory";
    let id: uuid::Uuid = get(row, 0, W)?;
    let kind: String = get(row, 2, W)?;
    let metadata: String = get(row, 6, W)?;
    Ok(Memory {
        id: MemoryId::from(id),
        content: get(row, 1, W)?,
        kind: MemoryKind::new(kind).map_err(corrupt(W))?,
        scope: scope_from(row, 3, W)?,
        metadata: from_json(W, &metadata)?,
        importance: Importance::new(get(row, 7, W)?).map_err(corrupt(W))?,
        created_at: ts(get(row, 8, W)?),
        updated_at: ts(get(row, 9, W)?),
        expires_at: get::<Option<i64>>(row, 10, W)?.map(ts),
        context: get(row, 11, W)?,
    })
}

fn uuid_of(id: MemoryId) -> uuid::Uuid {
    *id.as_uuid()
}

pub(crate) async fn put_memory<C: GenericClient>(
    c: &C,
    new: NewMemory,
    now: Timestamp,
) -> Result<Memory> {
    new.validate()?;
    let m = new.into_memory(now);
    let [u, a, s] = scope_params(&m.scope);
    let inserted = exec(
        c,
        "INSERT INTO memories (id, content, kind, scope_user, scope_agent, scope_session, \
         metadata, metadata_scalars, importance, created_at, updated_at, expires_at, context) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (id) DO NOTHING",
        &[
            &uuid_of(m.id),
            &m.content,
            &m.kind.as_str(),
            &u,
            &a,
            &s,
            &m.metadata.to_json_string(),
            &metadata_scalars(&m.metadata),
            &m.importance.get(),
            &m.created_at.as_millis(),
            &m.updated_at.as_millis(),
            &m.expires_at.map(Timestamp::as_millis),
            &m.context,
        ],
    )
    .await?;
    if inserted == 0 {
        return Err(PostgresError::Conflict(format!(
            "memory {} already exists",
            m.id
        )));
    }
    Ok(m)
}

pub(crate) async fn get_memory<C: GenericClient>(c: &C, id: MemoryId) -> Result<Option<Memory>> {
    opt_row(
        c,
        &format!("SELECT {MEMORY_COLS} FROM memories m WHERE m.id = $1"),
        &[&uuid_of(id)],
    )
    .await?
    .as_ref()
    .map(memory_row)
    .transpose()
}

/// The stored memories among `ids`, in the order of `ids` (missing ones left out).
pub(crate) async fn get_memories<C: GenericClient>(c: &C, ids: &[MemoryId]) -> Result<Vec<Memory>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: Vec<uuid::Uuid> = ids.iter().map(|id| uuid_of(*id)).collect();
    let found = rows(
        c,
        &format!("SELECT {MEMORY_COLS} FROM memories m WHERE m.id = ANY($1)"),
        &[&wanted],
    )
    .await?;
    let mut by_id = std::collections::HashMap::with_capacity(found.len());
    for r in &found {
        let m = memory_row(r)?;
        by_id.insert(m.id, m);
    }
    // A repeated id is returned once per occurrence, as the one-by-one default does.
    Ok(ids.iter().filter_map(|id| by_id.get(id).cloned()).collect())
}

pub(crate) async fn update_memory<C: GenericClient>(
    c: &C,
    id: MemoryId,
    patch: MemoryPatch,
    now: Timestamp,
) -> Result<Memory> {
    patch.validate()?;
    let row = opt_row(
        c,
        &format!("SELECT {MEMORY_COLS} FROM memories m WHERE m.id = $1 FOR UPDATE"),
        &[&uuid_of(id)],
    )
    .await?;
    let mut m = match row {
        Some(r) => memory_row(&r)?,
        None => return Err(PostgresError::NotFound(format!("memory {id}"))),
    };
    let now = now.max(m.updated_at);
    patch.apply(&mut m, now);
    exec(
        c,
        "UPDATE memories SET content = $1, kind = $2, metadata = $3, metadata_scalars = $4, \
         importance = $5, updated_at = $6, expires_at = $7, context = $8 WHERE id = $9",
        &[
            &m.content,
            &m.kind.as_str(),
            &m.metadata.to_json_string(),
            &metadata_scalars(&m.metadata),
            &m.importance.get(),
            &m.updated_at.as_millis(),
            &m.expires_at.map(Timestamp::as_millis),
            &m.context,
            &uuid_of(id),
        ],
    )
    .await?;
    Ok(m)
}

pub(crate) async fn delete_memory<C: GenericClient>(c: &C, id: MemoryId) -> Result<bool> {
    Ok(exec(c, "DELETE FROM memories WHERE id = $1", &[&uuid_of(id)]).await? > 0)
}

fn ids_of(rows: &[Row]) -> Result<Vec<MemoryId>> {
    rows.iter()
        .map(|r| get::<uuid::Uuid>(r, 0, "memory id").map(MemoryId::from))
        .collect()
}

pub(crate) async fn delete_memories<C: GenericClient>(
    c: &C,
    f: &MemoryFilter,
    now: Timestamp,
) -> Result<Vec<MemoryId>> {
    f.validate()?;
    let mut sql = "DELETE FROM memories AS m WHERE TRUE".to_owned();
    let mut args = Args::default();
    memory_filter(f, now, &mut sql, &mut args);
    sql.push_str(" RETURNING m.id");
    ids_of(&dyn_rows(c, &sql, &args).await?)
}

pub(crate) async fn purge_expired<C: GenericClient>(
    c: &C,
    now: Timestamp,
) -> Result<Vec<MemoryId>> {
    let found = rows(
        c,
        "DELETE FROM memories WHERE expires_at IS NOT NULL AND expires_at <= $1 RETURNING id",
        &[&now.as_millis()],
    )
    .await?;
    ids_of(&found)
}

pub(crate) async fn list_memories<C: GenericClient>(
    c: &C,
    q: &MemoryQuery,
    now: Timestamp,
) -> Result<Vec<Memory>> {
    q.filter.validate()?;
    let mut sql = format!("SELECT {MEMORY_COLS} FROM memories m WHERE TRUE");
    let mut args = Args::default();
    memory_filter(&q.filter, now, &mut sql, &mut args);
    sql.push_str(match q.order {
        ListOrder::NewestFirst => " ORDER BY m.created_at DESC, m.id DESC",
        ListOrder::OldestFirst => " ORDER BY m.created_at ASC, m.id ASC",
        ListOrder::ImportanceDesc => " ORDER BY m.importance DESC, m.created_at DESC, m.id DESC",
    });
    let l = args.push(lim(q.limit));
    let o = args.push(lim(q.offset));
    sql.push_str(&format!(" LIMIT {l} OFFSET {o}"));
    dyn_rows(c, &sql, &args)
        .await?
        .iter()
        .map(memory_row)
        .collect()
}

pub(crate) async fn count_memories<C: GenericClient>(
    c: &C,
    f: &MemoryFilter,
    now: Timestamp,
) -> Result<u64> {
    f.validate()?;
    let mut sql = "SELECT count(*) FROM memories m WHERE TRUE".to_owned();
    let mut args = Args::default();
    memory_filter(f, now, &mut sql, &mut args);
    let found = dyn_rows(c, &sql, &args).await?;
    let n: i64 = match found.first() {
        Some(r) => get(r, 0, "count")?,
        None => 0,
    };
    Ok(count(n))
}

/// How many memories hold each term in their content (stemmed as the index stems: the
/// term's lexeme with weight A, which only content words carry), and how many memories
/// there are: the document frequencies behind keyword feedback.
pub(crate) async fn keyword_document_counts<C: GenericClient>(
    c: &C,
    terms: &[String],
) -> Result<(u64, Vec<u64>)> {
    let total: i64 = get(
        &one_row(c, "SELECT count(*) FROM memories", &[]).await?,
        0,
        "count",
    )?;
    let mut counts = Vec::with_capacity(terms.len());
    for t in terms {
        let words = query_terms(t);
        let Some(word) = words.first() else {
            counts.push(0);
            continue;
        };
        let q = format!("'{}':A", word.replace('\'', "''"));
        let n: i64 = get(
            &one_row(
                c,
                "SELECT count(*) FROM memories WHERE tsv @@ to_tsquery('brain_english', $1)",
                &[&q],
            )
            .await?,
            0,
            "count",
        )?;
        counts.push(count(n));
    }
    Ok((count(total), counts))
}

pub(crate) async fn search_memories<C: GenericClient>(
    c: &C,
    q: &KeywordQuery,
    now: Timestamp,
) -> Result<Vec<KeywordHit>> {
    q.filter.validate()?;
    let Some(tsq) = ts_query(&q.text) else {
        return Ok(Vec::new());
    };
    let mut args = Args::default();
    let p = args.push(tsq);
    // Ranked on ids and scores alone, then joined for the columns of the top `limit`: the
    // wide rows of every match are never sorted. `ts_rank` rather than `ts_rank_cd`: cover
    // density costs about three times as much on the long OR-queries recall sends, for
    // an order the fusion barely notices.
    let mut sql = format!(
        "WITH ranked AS (SELECT m.id, \
         ts_rank({RANK_WEIGHTS}, m.tsv, q, {RANK_NORMALIZATION})::float8 AS score \
         FROM memories m, to_tsquery('brain_english', {p}) q WHERE m.tsv @@ q"
    );
    memory_filter(&q.filter, now, &mut sql, &mut args);
    let l = args.push(lim(q.limit));
    sql.push_str(&format!(
        " ORDER BY score DESC, m.id LIMIT {l}) \
         SELECT {MEMORY_COLS}, r.score FROM ranked r JOIN memories m ON m.id = r.id \
         ORDER BY r.score DESC, m.id"
    ));
    dyn_rows(c, &sql, &args)
        .await?
        .iter()
        .map(|r| {
            Ok(KeywordHit {
                memory: memory_row(r)?,
                score: get(r, 12, "memory")?,
            })
        })
        .collect()
}

// ---------- preferences ----------

const PREF_COLS: &str =
    "id, scope_user, scope_agent, scope_session, key, value, category, created_at, updated_at";

fn pref_row(row: &Row) -> Result<Preference> {
    const W: &str = "preference";
    let value: String = get(row, 5, W)?;
    Ok(Preference {
        id: get(row, 0, W)?,
        scope: scope_from(row, 1, W)?,
        key: get(row, 4, W)?,
        value: from_json(W, &value)?,
        category: get(row, 6, W)?,
        created_at: ts(get(row, 7, W)?),
        updated_at: ts(get(row, 8, W)?),
    })
}

pub(crate) async fn store_preference<C: GenericClient>(
    c: &C,
    p: NewPreference,
    now: Timestamp,
) -> Result<Preference> {
    p.validate()?;
    let [u, a, s] = scope_params(&p.scope);
    let row = one_row(
        c,
        &format!(
            "INSERT INTO user_preferences AS up (scope_user, scope_agent, scope_session, key, \
             value, category, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, COALESCE($6::text, 'general'), $7, $7) \
             ON CONFLICT (scope_user, scope_agent, scope_session, key) DO UPDATE SET \
             value = excluded.value, category = COALESCE($6::text, up.category), \
             updated_at = GREATEST($7, up.updated_at) RETURNING {PREF_COLS}"
        ),
        &[
            &u,
            &a,
            &s,
            &p.key,
            &to_json(&p.value),
            &p.category,
            &now.as_millis(),
        ],
    )
    .await?;
    pref_row(&row)
}

pub(crate) async fn get_preference<C: GenericClient>(
    c: &C,
    scope: &Scope,
    key: &str,
) -> Result<Option<Preference>> {
    let [u, a, s] = scope_params(scope);
    opt_row(
        c,
        &format!(
            "SELECT {PREF_COLS} FROM user_preferences \
             WHERE scope_user = $1 AND scope_agent = $2 AND scope_session = $3 AND key = $4"
        ),
        &[&u, &a, &s, &key],
    )
    .await?
    .as_ref()
    .map(pref_row)
    .transpose()
}

pub(crate) async fn list_preferences<C: GenericClient>(
    c: &C,
    scope: &Scope,
    category: Option<&str>,
) -> Result<Vec<Preference>> {
    scope.validate()?;
    let mut sql = format!("SELECT {PREF_COLS} FROM user_preferences WHERE TRUE");
    let mut args = Args::default();
    scope_filter(scope, "", &mut sql, &mut args);
    if let Some(cat) = category {
        let p = args.push(cat.to_owned());
        sql.push_str(&format!(" AND category = {p}"));
    }
    sql.push_str(" ORDER BY key, scope_user, scope_agent, scope_session");
    dyn_rows(c, &sql, &args)
        .await?
        .iter()
        .map(pref_row)
        .collect()
}

pub(crate) async fn delete_preference<C: GenericClient>(
    c: &C,
    scope: &Scope,
    key: &str,
) -> Result<bool> {
    let [u, a, s] = scope_params(scope);
    Ok(exec(
        c,
        "DELETE FROM user_preferences \
         WHERE scope_user = $1 AND scope_agent = $2 AND scope_session = $3 AND key = $4",
        &[&u, &a, &s, &key],
    )
    .await?
        > 0)
}

// ---------- projects ----------

const PROJECT_COLS: &str = "id, scope_user, scope_agent, scope_session, name, path, description, \
     tech_stack, status, created_at, last_accessed";

fn project_row(row: &Row) -> Result<Project> {
    const W: &str = "project";
    let stack: String = get(row, 7, W)?;
    Ok(Project {
        id: get(row, 0, W)?,
        scope: scope_from(row, 1, W)?,
        name: get(row, 4, W)?,
        path: get(row, 5, W)?,
        description: get(row, 6, W)?,
        tech_stack: from_json(W, &stack)?,
        status: get(row, 8, W)?,
        created_at: ts(get(row, 9, W)?),
        last_accessed: get::<Option<i64>>(row, 10, W)?.map(ts),
    })
}

pub(crate) async fn add_project<C: GenericClient>(
    c: &C,
    p: NewProject,
    now: Timestamp,
) -> Result<Project> {
    p.validate()?;
    let [u, a, s] = scope_params(&p.scope);
    let row = one_row(
        c,
        &format!(
            "INSERT INTO projects (scope_user, scope_agent, scope_session, name, path, \
             description, tech_stack, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8::text, 'active'), $9) \
             RETURNING {PROJECT_COLS}"
        ),
        &[
            &u,
            &a,
            &s,
            &p.name,
            &p.path,
            &p.description,
            &to_json(&p.tech_stack),
            &p.status,
            &now.as_millis(),
        ],
    )
    .await?;
    project_row(&row)
}

pub(crate) async fn get_project<C: GenericClient>(c: &C, id: RecordId) -> Result<Option<Project>> {
    opt_row(
        c,
        &format!("SELECT {PROJECT_COLS} FROM projects WHERE id = $1"),
        &[&id],
    )
    .await?
    .as_ref()
    .map(project_row)
    .transpose()
}

pub(crate) async fn list_projects<C: GenericClient>(
    c: &C,
    scope: &Scope,
    status: Option<&str>,
) -> Result<Vec<Project>> {
    scope.validate()?;
    let mut sql = format!("SELECT {PROJECT_COLS} FROM projects WHERE TRUE");
    let mut args = Args::default();
    scope_filter(scope, "", &mut sql, &mut args);
    if let Some(st) = status {
        let p = args.push(st.to_owned());
        sql.push_str(&format!(" AND status = {p}"));
    }
    sql.push_str(" ORDER BY COALESCE(last_accessed, created_at) DESC, id DESC");
    dyn_rows(c, &sql, &args)
        .await?
        .iter()
        .map(project_row)
        .collect()
}

pub(crate) async fn touch_project<C: GenericClient>(
    c: &C,
    id: RecordId,
    now: Timestamp,
) -> Result<Project> {
    opt_row(
        c,
        &format!(
            "UPDATE projects SET last_accessed = GREATEST($1, COALESCE(last_accessed, 0)) \
             WHERE id = $2 RETURNING {PROJECT_COLS}"
        ),
        &[&now.as_millis(), &id],
    )
    .await?
    .as_ref()
    .map(project_row)
    .transpose()?
    .ok_or_else(|| PostgresError::NotFound(format!("project {id}")))
}

pub(crate) async fn set_project_status<C: GenericClient>(
    c: &C,
    id: RecordId,
    status: &str,
) -> Result<Project> {
    memory_core::validate::key("project status", status)?;
    opt_row(
        c,
        &format!("UPDATE projects SET status = $1 WHERE id = $2 RETURNING {PROJECT_COLS}"),
        &[&status, &id],
    )
    .await?
    .as_ref()
    .map(project_row)
    .transpose()?
    .ok_or_else(|| PostgresError::NotFound(format!("project {id}")))
}

// ---------- code patterns ----------

const PATTERN_COLS: &str = "p.id, p.scope_user, p.scope_agent, p.scope_session, p.pattern_type, \
     p.context, p.solution, p.language, p.success_count, p.failure_count, p.created_at, \
     p.updated_at, p.metadata";

fn pattern_row(row: &Row) -> Result<CodePattern> {
    const W: &str = "pattern";
    let metadata: String = get(row, 12, W)?;
    Ok(CodePattern {
        id: get(row, 0, W)?,
        scope: scope_from(row, 1, W)?,
        pattern_type: get(row, 4, W)?,
        context: get(row, 5, W)?,
        solution: get(row, 6, W)?,
        language: get(row, 7, W)?,
        success_count: count(get(row, 8, W)?),
        failure_count: count(get(row, 9, W)?),
        created_at: ts(get(row, 10, W)?),
        updated_at: ts(get(row, 11, W)?),
        metadata: from_json(W, &metadata)?,
    })
}

pub(crate) async fn update_pattern<C: GenericClient>(
    c: &C,
    id: RecordId,
    patch: &PatternPatch,
    now: Timestamp,
) -> Result<CodePattern> {
    patch.validate()?;
    let metadata = patch.metadata.as_ref().map(Metadata::to_json_string);
    let n = patch.success_count.map(big);
    opt_row(
        c,
        &format!(
            "UPDATE code_patterns p SET context = COALESCE($1, p.context), \
             solution = COALESCE($2, p.solution), success_count = COALESCE($3, p.success_count), \
             metadata = COALESCE($4, p.metadata), updated_at = GREATEST($5, p.updated_at) \
             WHERE p.id = $6 RETURNING {PATTERN_COLS}"
        ),
        &[
            &patch.context,
            &patch.solution,
            &n,
            &metadata,
            &now.as_millis(),
            &id,
        ],
    )
    .await?
    .as_ref()
    .map(pattern_row)
    .transpose()?
    .ok_or_else(|| PostgresError::NotFound(format!("pattern {id}")))
}

pub(crate) async fn store_pattern<C: GenericClient>(
    c: &C,
    p: NewPattern,
    now: Timestamp,
) -> Result<PatternWrite> {
    p.validate()?;
    let [u, a, s] = scope_params(&p.scope);
    // The seed's semantics: the same (scope, type, context) counts one more success. One
    // upsert, so concurrent stores of the same pattern never collide; `xmax = 0` tells a
    // fresh row from an updated one.
    let row = one_row(
        c,
        &format!(
            "INSERT INTO code_patterns AS p (scope_user, scope_agent, scope_session, \
             pattern_type, context, solution, language, created_at, updated_at, metadata) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) \
             ON CONFLICT (scope_user, scope_agent, scope_session, pattern_type, context) \
             DO UPDATE SET success_count = p.success_count + 1, \
             updated_at = GREATEST($8, p.updated_at) \
             RETURNING {PATTERN_COLS}, (p.xmax = 0) AS inserted"
        ),
        &[
            &u,
            &a,
            &s,
            &p.pattern_type,
            &p.context,
            &p.solution,
            &p.language,
            &now.as_millis(),
            &p.metadata.to_json_string(),
        ],
    )
    .await?;
    Ok(PatternWrite {
        pattern: pattern_row(&row)?,
        inserted: get(&row, 13, "pattern")?,
    })
}

pub(crate) async fn record_pattern_outcome<C: GenericClient>(
    c: &C,
    id: RecordId,
    outcome: PatternOutcome,
    now: Timestamp,
) -> Result<CodePattern> {
    let column = match outcome {
        PatternOutcome::Success => "success_count",
        PatternOutcome::Failure => "failure_count",
    };
    opt_row(
        c,
        &format!(
            "UPDATE code_patterns p SET {column} = p.{column} + 1, \
             updated_at = GREATEST($1, p.updated_at) WHERE p.id = $2 RETURNING {PATTERN_COLS}"
        ),
        &[&now.as_millis(), &id],
    )
    .await?
    .as_ref()
    .map(pattern_row)
    .transpose()?
    .ok_or_else(|| PostgresError::NotFound(format!("pattern {id}")))
}

pub(crate) async fn get_pattern<C: GenericClient>(
    c: &C,
    id: RecordId,
) -> Result<Option<CodePattern>> {
    opt_row(
        c,
        &format!("SELECT {PATTERN_COLS} FROM code_patterns p WHERE p.id = $1"),
        &[&id],
    )
    .await?
    .as_ref()
    .map(pattern_row)
    .transpose()
}

/// The patterns among `ids` in their order (each once), in one query.
pub(crate) async fn get_patterns<C: GenericClient>(
    c: &C,
    ids: &[RecordId],
) -> Result<Vec<CodePattern>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: Vec<RecordId> = ids.to_vec();
    let found = rows(
        c,
        &format!("SELECT {PATTERN_COLS} FROM code_patterns p WHERE p.id = ANY($1)"),
        &[&wanted],
    )
    .await?;
    let mut by_id: std::collections::HashMap<RecordId, CodePattern> = found
        .iter()
        .map(pattern_row)
        .map(|r| r.map(|p| (p.id, p)))
        .collect::<Result<_>>()?;
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

fn pattern_filter(q: &PatternQuery, sql: &mut String, args: &mut Args) -> Result<()> {
    q.scope.validate()?;
    scope_filter(&q.scope, "p.", sql, args);
    if let Some(t) = &q.pattern_type {
        let p = args.push(t.clone());
        sql.push_str(&format!(" AND p.pattern_type = {p}"));
    }
    if let Some(l) = &q.language {
        let p = args.push(l.clone());
        sql.push_str(&format!(" AND p.language = {p}"));
    }
    Ok(())
}

pub(crate) async fn list_patterns<C: GenericClient>(
    c: &C,
    q: &PatternQuery,
) -> Result<Vec<CodePattern>> {
    let mut sql = format!("SELECT {PATTERN_COLS} FROM code_patterns p WHERE TRUE");
    let mut args = Args::default();
    pattern_filter(q, &mut sql, &mut args)?;
    let l = args.push(lim(q.limit));
    sql.push_str(&format!(
        " ORDER BY p.success_count DESC, p.created_at DESC, p.id DESC LIMIT {l}"
    ));
    dyn_rows(c, &sql, &args)
        .await?
        .iter()
        .map(pattern_row)
        .collect()
}

pub(crate) async fn search_patterns<C: GenericClient>(
    c: &C,
    text: &str,
    q: &PatternQuery,
) -> Result<Vec<PatternHit>> {
    q.scope.validate()?;
    let Some(tsq) = ts_query(text) else {
        return Ok(Vec::new());
    };
    let mut args = Args::default();
    let p = args.push(tsq);
    let mut sql = format!(
        "SELECT {PATTERN_COLS}, ts_rank_cd(p.tsv, q, {RANK_NORMALIZATION})::float8 AS score \
         FROM code_patterns p, to_tsquery('brain_english', {p}) q WHERE p.tsv @@ q"
    );
    pattern_filter(q, &mut sql, &mut args)?;
    let l = args.push(lim(q.limit));
    sql.push_str(&format!(" ORDER BY score DESC, p.id LIMIT {l}"));
    dyn_rows(c, &sql, &args)
        .await?
        .iter()
        .map(|r| {
            Ok(PatternHit {
                pattern: pattern_row(r)?,
                score: get(r, 13, "pattern")?,
            })
        })
        .collect()
}

pub(crate) async fn delete_pattern<C: GenericClient>(c: &C, id: RecordId) -> Result<bool> {
    Ok(exec(c, "DELETE FROM code_patterns WHERE id = $1", &[&id]).await? > 0)
}

// ---------- learning events ----------

const EVENT_COLS: &str = "id, scope_user, scope_agent, scope_session, event_type, \
     task_description, outcome, reward, metadata, created_at";

fn event_row(row: &Row) -> Result<LearningEvent> {
    const W: &str = "learning event";
    let metadata: String = get(row, 8, W)?;
    Ok(LearningEvent {
        id: get(row, 0, W)?,
        scope: scope_from(row, 1, W)?,
        event_type: get(row, 4, W)?,
        task_description: get(row, 5, W)?,
        outcome: get(row, 6, W)?,
        reward: Reward::new(get(row, 7, W)?).map_err(corrupt(W))?,
        metadata: from_json(W, &metadata)?,
        created_at: ts(get(row, 9, W)?),
    })
}

pub(crate) async fn record_learning_event<C: GenericClient>(
    c: &C,
    e: NewLearningEvent,
    now: Timestamp,
) -> Result<LearningEvent> {
    e.validate()?;
    let [u, a, s] = scope_params(&e.scope);
    let row = one_row(
        c,
        &format!(
            "INSERT INTO learning_events (scope_user, scope_agent, scope_session, event_type, \
             task_description, outcome, reward, metadata, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {EVENT_COLS}"
        ),
        &[
            &u,
            &a,
            &s,
            &e.event_type,
            &e.task_description,
            &e.outcome,
            &e.reward.get(),
            &e.metadata.to_json_string(),
            &now.as_millis(),
        ],
    )
    .await?;
    event_row(&row)
}

pub(crate) async fn list_learning_events<C: GenericClient>(
    c: &C,
    q: &EventQuery,
) -> Result<Vec<LearningEvent>> {
    q.scope.validate()?;
    let mut sql = format!("SELECT {EVENT_COLS} FROM learning_events WHERE TRUE");
    let mut args = Args::default();
    scope_filter(&q.scope, "", &mut sql, &mut args);
    if let Some(t) = &q.event_type {
        let p = args.push(t.clone());
        sql.push_str(&format!(" AND event_type = {p}"));
    }
    if let Some(t) = q.since {
        let p = args.push(t.as_millis());
        sql.push_str(&format!(" AND created_at >= {p}"));
    }
    let l = args.push(lim(q.limit));
    sql.push_str(&format!(" ORDER BY created_at DESC, id DESC LIMIT {l}"));
    dyn_rows(c, &sql, &args)
        .await?
        .iter()
        .map(event_row)
        .collect()
}

// ---------- conversations ----------

const CONVERSATION_COLS: &str =
    "id, scope_user, scope_agent, scope_session, summary, key_decisions, user_feedback, created_at";

fn conversation_row(row: &Row) -> Result<ConversationSummary> {
    const W: &str = "conversation";
    let decisions: String = get(row, 5, W)?;
    Ok(ConversationSummary {
        id: get(row, 0, W)?,
        scope: scope_from(row, 1, W)?,
        summary: get(row, 4, W)?,
        key_decisions: from_json(W, &decisions)?,
        user_feedback: get(row, 6, W)?,
        created_at: ts(get(row, 7, W)?),
    })
}

pub(crate) async fn add_conversation<C: GenericClient>(
    c: &C,
    n: NewConversation,
    now: Timestamp,
) -> Result<ConversationSummary> {
    n.validate()?;
    let [u, a, s] = scope_params(&n.scope);
    let row = one_row(
        c,
        &format!(
            "INSERT INTO conversations (scope_user, scope_agent, scope_session, summary, \
             key_decisions, user_feedback, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             RETURNING {CONVERSATION_COLS}"
        ),
        &[
            &u,
            &a,
            &s,
            &n.summary,
            &to_json(&n.key_decisions),
            &n.user_feedback,
            &now.as_millis(),
        ],
    )
    .await?;
    conversation_row(&row)
}

pub(crate) async fn list_conversations<C: GenericClient>(
    c: &C,
    scope: &Scope,
    limit: usize,
) -> Result<Vec<ConversationSummary>> {
    scope.validate()?;
    let mut sql = format!("SELECT {CONVERSATION_COLS} FROM conversations WHERE TRUE");
    let mut args = Args::default();
    scope_filter(scope, "", &mut sql, &mut args);
    let l = args.push(lim(limit));
    sql.push_str(&format!(" ORDER BY created_at DESC, id DESC LIMIT {l}"));
    dyn_rows(c, &sql, &args)
        .await?
        .iter()
        .map(conversation_row)
        .collect()
}

// ---------- decisions ----------

const DECISION_COLS: &str = "id, scope_user, scope_agent, scope_session, agent_type, \
     decision_context, options_considered, chosen_option, reasoning, outcome, reward, \
     created_at, outcome_at, metadata";

fn decision_row(row: &Row) -> Result<AgentDecision> {
    const W: &str = "decision";
    let options: String = get(row, 6, W)?;
    let reward: Option<f64> = get(row, 10, W)?;
    let metadata: String = get(row, 13, W)?;
    Ok(AgentDecision {
        id: get(row, 0, W)?,
        scope: scope_from(row, 1, W)?,
        agent_type: get(row, 4, W)?,
        context: get(row, 5, W)?,
        options: from_json(W, &options)?,
        chosen_option: get(row, 7, W)?,
        reasoning: get(row, 8, W)?,
        outcome: get(row, 9, W)?,
        reward: reward.map(Reward::new).transpose().map_err(corrupt(W))?,
        created_at: ts(get(row, 11, W)?),
        outcome_at: get::<Option<i64>>(row, 12, W)?.map(ts),
        metadata: from_json(W, &metadata)?,
    })
}

pub(crate) async fn record_decision<C: GenericClient>(
    c: &C,
    d: NewDecision,
    now: Timestamp,
) -> Result<AgentDecision> {
    d.validate()?;
    let [u, a, s] = scope_params(&d.scope);
    let row = one_row(
        c,
        &format!(
            "INSERT INTO agent_decisions (scope_user, scope_agent, scope_session, agent_type, \
             decision_context, options_considered, chosen_option, reasoning, created_at, \
             metadata) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {DECISION_COLS}"
        ),
        &[
            &u,
            &a,
            &s,
            &d.agent_type,
            &d.context,
            &to_json(&d.options),
            &d.chosen_option,
            &d.reasoning,
            &now.as_millis(),
            &d.metadata.to_json_string(),
        ],
    )
    .await?;
    decision_row(&row)
}

pub(crate) async fn update_decision_outcome<C: GenericClient>(
    c: &C,
    id: RecordId,
    outcome: &str,
    reward: Reward,
    now: Timestamp,
) -> Result<AgentDecision> {
    memory_core::validate::text("outcome", outcome)?;
    opt_row(
        c,
        &format!(
            "UPDATE agent_decisions SET outcome = $1, reward = $2, outcome_at = $3 WHERE id = $4 \
             RETURNING {DECISION_COLS}"
        ),
        &[&outcome, &reward.get(), &now.as_millis(), &id],
    )
    .await?
    .as_ref()
    .map(decision_row)
    .transpose()?
    .ok_or_else(|| PostgresError::NotFound(format!("decision {id}")))
}

pub(crate) async fn get_decision<C: GenericClient>(
    c: &C,
    id: RecordId,
) -> Result<Option<AgentDecision>> {
    opt_row(
        c,
        &format!("SELECT {DECISION_COLS} FROM agent_decisions WHERE id = $1"),
        &[&id],
    )
    .await?
    .as_ref()
    .map(decision_row)
    .transpose()
}

pub(crate) async fn list_decisions<C: GenericClient>(
    c: &C,
    q: &DecisionQuery,
) -> Result<Vec<AgentDecision>> {
    q.scope.validate()?;
    let mut sql = format!("SELECT {DECISION_COLS} FROM agent_decisions WHERE TRUE");
    let mut args = Args::default();
    scope_filter(&q.scope, "", &mut sql, &mut args);
    if let Some(t) = &q.agent_type {
        let p = args.push(t.clone());
        sql.push_str(&format!(" AND agent_type = {p}"));
    }
    match q.with_outcome {
        Some(true) => sql.push_str(" AND outcome IS NOT NULL"),
        Some(false) => sql.push_str(" AND outcome IS NULL"),
        None => {}
    }
    let l = args.push(lim(q.limit));
    sql.push_str(&format!(" ORDER BY created_at DESC, id DESC LIMIT {l}"));
    dyn_rows(c, &sql, &args)
        .await?
        .iter()
        .map(decision_row)
        .collect()
}

// ---------- embeddings ----------

/// Encodes a vector as f32 little-endian bytes (the storage form).
fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn vector_from(bytes: &[u8]) -> Result<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return Err(PostgresError::Corrupt {
            what: "embedding",
            message: format!("{} bytes is not a whole number of f32s", bytes.len()),
        });
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

pub(crate) async fn embedder<C: GenericClient>(c: &C) -> Result<Option<EmbedderInfo>> {
    match opt_row(
        c,
        "SELECT value FROM brain_meta WHERE key = 'embedder'",
        &[],
    )
    .await?
    {
        Some(r) => {
            let text: String = get(&r, 0, "embedder pin")?;
            from_json("embedder pin", &text).map(Some)
        }
        None => Ok(None),
    }
}

async fn live_embeddings<C: GenericClient>(c: &C) -> Result<u64> {
    let n: i64 = get(
        &one_row(
            c,
            "SELECT count(*) FROM embeddings WHERE vector IS NOT NULL",
            &[],
        )
        .await?,
        0,
        "count",
    )?;
    Ok(count(n))
}

/// Pins the embedder; the caller holds the log lock, so a concurrent `put_embedding`
/// never reads a pin that is about to change.
pub(crate) async fn pin_embedder<C: GenericClient>(c: &C, info: &EmbedderInfo) -> Result<()> {
    memory_core::validate::key("embedder model_id", &info.model_id)?;
    if info.dimension == 0 {
        return Err(ValidationError::Empty {
            field: "embedder dimension",
        }
        .into());
    }
    match embedder(c).await? {
        Some(pinned) if &pinned == info => return Ok(()),
        Some(pinned) if live_embeddings(c).await? > 0 => {
            return Err(PostgresError::Conflict(format!(
                "this brain's vectors come from {} ({} dimensions), not {} ({} dimensions); \
                 run `brain reindex` to re-embed them with the new model",
                pinned.model_id, pinned.dimension, info.model_id, info.dimension
            )));
        }
        _ => {}
    }
    exec(
        c,
        "INSERT INTO brain_meta (key, value) VALUES ('embedder', $1) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&to_json(info)],
    )
    .await?;
    Ok(())
}

/// The next sequence number of the embedding log. The counter row's lock is held until
/// the transaction ends (see the schema for why this keeps the log gap-free).
async fn next_seq<C: GenericClient>(c: &C) -> Result<u64> {
    let v: i64 = get(
        &one_row(c, "SELECT brain_next_embedding_seq()", &[]).await?,
        0,
        "embedding seq",
    )?;
    Ok(count(v))
}

/// Stores one embedding; the caller holds the log lock ([`lock_log`]).
pub(crate) async fn put_embedding<C: GenericClient>(
    c: &C,
    id: MemoryId,
    vector: &[f32],
) -> Result<u64> {
    let Some(pinned) = embedder(c).await? else {
        return Err(ValidationError::Other(
            "no embedder is pinned: pin the embedder before storing embeddings".into(),
        )
        .into());
    };
    memory_core::validate::vector(vector, pinned.dimension)?;
    // KEY SHARE: a concurrent delete of the memory waits for this transaction, then its
    // trigger sees (and tombstones) the embedding stored here.
    let exists = opt_row(
        c,
        "SELECT 1 FROM memories WHERE id = $1 FOR KEY SHARE",
        &[&uuid_of(id)],
    )
    .await?
    .is_some();
    if !exists {
        return Err(PostgresError::NotFound(format!("memory {id}")));
    }
    let seq = next_seq(c).await?;
    exec(
        c,
        "INSERT INTO embeddings (id, seq, vector) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, vector = excluded.vector",
        &[&uuid_of(id), &big(seq), &vector_bytes(vector)],
    )
    .await?;
    Ok(seq)
}

pub(crate) async fn get_embedding<C: GenericClient>(
    c: &C,
    id: MemoryId,
) -> Result<Option<Vec<f32>>> {
    match opt_row(
        c,
        "SELECT vector FROM embeddings WHERE id = $1 AND vector IS NOT NULL",
        &[&uuid_of(id)],
    )
    .await?
    {
        Some(r) => {
            let bytes: Vec<u8> = get(&r, 0, "embedding")?;
            vector_from(&bytes).map(Some)
        }
        None => Ok(None),
    }
}

pub(crate) async fn embedding_changes<C: GenericClient>(
    c: &C,
    after: u64,
    limit: usize,
) -> Result<Vec<EmbeddingChange>> {
    const W: &str = "embedding";
    let found = rows(
        c,
        "SELECT e.seq, e.id, e.vector, m.kind, m.scope_user, m.scope_agent, m.scope_session, \
         m.metadata, m.created_at, m.expires_at \
         FROM embeddings e LEFT JOIN memories m ON m.id = e.id \
         WHERE e.seq > $1 ORDER BY e.seq LIMIT $2",
        &[&big(after), &lim(limit)],
    )
    .await?;
    found
        .iter()
        .map(|r| {
            let seq: i64 = get(r, 0, W)?;
            let id = MemoryId::from(get::<uuid::Uuid>(r, 1, W)?);
            let vector: Option<Vec<u8>> = get(r, 2, W)?;
            let kind: Option<String> = get(r, 3, W)?;
            let entry = match (vector, kind) {
                (Some(v), Some(kind)) => {
                    let metadata: String = get(r, 7, W)?;
                    Some(VectorEntry {
                        id,
                        vector: vector_from(&v)?,
                        scope: scope_from(r, 4, W)?,
                        kind: MemoryKind::new(kind).map_err(corrupt(W))?,
                        metadata: from_json(W, &metadata)?,
                        created_at: ts(get(r, 8, W)?),
                        expires_at: get::<Option<i64>>(r, 9, W)?.map(ts),
                    })
                }
                _ => None,
            };
            Ok(EmbeddingChange {
                seq: count(seq),
                id,
                entry,
            })
        })
        .collect()
}

pub(crate) async fn last_embedding_seq<C: GenericClient>(c: &C) -> Result<u64> {
    let v: i64 = get(
        &one_row(c, "SELECT value FROM embedding_seq WHERE id = 1", &[]).await?,
        0,
        "embedding seq",
    )?;
    Ok(count(v))
}

/// Tombstones every live embedding and unpins the embedder; the caller holds the log lock.
pub(crate) async fn clear_embeddings<C: GenericClient>(c: &C) -> Result<()> {
    let live = rows(
        c,
        "SELECT id FROM embeddings WHERE vector IS NOT NULL ORDER BY seq",
        &[],
    )
    .await?;
    for r in &live {
        let id: uuid::Uuid = get(r, 0, "embedding")?;
        let seq = next_seq(c).await?;
        exec(
            c,
            "UPDATE embeddings SET vector = NULL, seq = $1 WHERE id = $2",
            &[&big(seq), &id],
        )
        .await?;
    }
    exec(c, "DELETE FROM brain_meta WHERE key = 'embedder'", &[]).await?;
    Ok(())
}

// ---------- restore (lossless import) ----------

/// Inserts a record exactly as exported. The id or a unique key already taken is a
/// conflict (the id is checked first, so the message names the record). The table's id
/// sequence is moved past the restored id so later inserts do not collide with it.
pub(crate) async fn restore<C: GenericClient>(c: &C, r: Record) -> Result<Record> {
    r.validate()?;
    let (table, id) = match &r {
        Record::Preference(x) => ("user_preferences", x.id),
        Record::Project(x) => ("projects", x.id),
        Record::Pattern(x) => ("code_patterns", x.id),
        Record::LearningEvent(x) => ("learning_events", x.id),
        Record::Conversation(x) => ("conversations", x.id),
        Record::Decision(x) => ("agent_decisions", x.id),
    };
    let taken = opt_row(c, &format!("SELECT 1 FROM {table} WHERE id = $1"), &[&id])
        .await?
        .is_some();
    if taken {
        return Err(PostgresError::Conflict(format!(
            "{} {id} already exists (restore into an empty brain)",
            r.kind()
        )));
    }
    let clash = |e: PostgresError| match e {
        PostgresError::Conflict(_) => PostgresError::Conflict(format!(
            "{} {id} has the same key as a stored one",
            r.kind()
        )),
        other => other,
    };
    match &r {
        Record::Preference(p) => {
            let [u, a, s] = scope_params(&p.scope);
            exec(
                c,
                "INSERT INTO user_preferences (id, scope_user, scope_agent, scope_session, key, \
                 value, category, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &p.id,
                    &u,
                    &a,
                    &s,
                    &p.key,
                    &to_json(&p.value),
                    &p.category,
                    &p.created_at.as_millis(),
                    &p.updated_at.as_millis(),
                ],
            )
            .await
            .map_err(clash)?;
        }
        Record::Project(p) => {
            let [u, a, s] = scope_params(&p.scope);
            exec(
                c,
                "INSERT INTO projects (id, scope_user, scope_agent, scope_session, name, path, \
                 description, tech_stack, status, created_at, last_accessed) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &[
                    &p.id,
                    &u,
                    &a,
                    &s,
                    &p.name,
                    &p.path,
                    &p.description,
                    &to_json(&p.tech_stack),
                    &p.status,
                    &p.created_at.as_millis(),
                    &p.last_accessed.map(Timestamp::as_millis),
                ],
            )
            .await
            .map_err(clash)?;
        }
        Record::Pattern(p) => {
            let [u, a, s] = scope_params(&p.scope);
            exec(
                c,
                "INSERT INTO code_patterns (id, scope_user, scope_agent, scope_session, \
                 pattern_type, context, solution, language, success_count, failure_count, \
                 created_at, updated_at, metadata) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                &[
                    &p.id,
                    &u,
                    &a,
                    &s,
                    &p.pattern_type,
                    &p.context,
                    &p.solution,
                    &p.language,
                    &big(p.success_count),
                    &big(p.failure_count),
                    &p.created_at.as_millis(),
                    &p.updated_at.as_millis(),
                    &p.metadata.to_json_string(),
                ],
            )
            .await
            .map_err(clash)?;
        }
        Record::LearningEvent(e) => {
            let [u, a, s] = scope_params(&e.scope);
            exec(
                c,
                "INSERT INTO learning_events (id, scope_user, scope_agent, scope_session, \
                 event_type, task_description, outcome, reward, metadata, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &e.id,
                    &u,
                    &a,
                    &s,
                    &e.event_type,
                    &e.task_description,
                    &e.outcome,
                    &e.reward.get(),
                    &e.metadata.to_json_string(),
                    &e.created_at.as_millis(),
                ],
            )
            .await
            .map_err(clash)?;
        }
        Record::Conversation(n) => {
            let [u, a, s] = scope_params(&n.scope);
            exec(
                c,
                "INSERT INTO conversations (id, scope_user, scope_agent, scope_session, summary, \
                 key_decisions, user_feedback, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &n.id,
                    &u,
                    &a,
                    &s,
                    &n.summary,
                    &to_json(&n.key_decisions),
                    &n.user_feedback,
                    &n.created_at.as_millis(),
                ],
            )
            .await
            .map_err(clash)?;
        }
        Record::Decision(d) => {
            let [u, a, s] = scope_params(&d.scope);
            exec(
                c,
                "INSERT INTO agent_decisions (id, scope_user, scope_agent, scope_session, \
                 agent_type, decision_context, options_considered, chosen_option, reasoning, \
                 outcome, reward, created_at, outcome_at, metadata) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                &[
                    &d.id,
                    &u,
                    &a,
                    &s,
                    &d.agent_type,
                    &d.context,
                    &to_json(&d.options),
                    &d.chosen_option,
                    &d.reasoning,
                    &d.outcome,
                    &d.reward.map(Reward::get),
                    &d.created_at.as_millis(),
                    &d.outcome_at.map(Timestamp::as_millis),
                    &d.metadata.to_json_string(),
                ],
            )
            .await
            .map_err(clash)?;
        }
    }
    rows(
        c,
        &format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
             GREATEST((SELECT max(id) FROM {table}), 1))"
        ),
        &[],
    )
    .await?;
    Ok(r)
}

// ---------- batches and stats ----------

/// Whether applying `op` may append to the embedding log (so the batch must take the log
/// lock first).
pub(crate) fn logs(op: &WriteOp) -> bool {
    // An update may drop or re-log an embedding (triggers); the embedder guard reads the
    // pin, which `pin_embedder` and `clear_embeddings` change under the same lock.
    matches!(
        op,
        WriteOp::DeleteMemory { .. }
            | WriteOp::PutEmbedding { .. }
            | WriteOp::UpdateMemory { .. }
            | WriteOp::ExpectEmbedder(_)
    )
}

pub(crate) async fn apply<C: GenericClient>(
    c: &C,
    op: WriteOp,
    now: Timestamp,
) -> Result<WriteOutcome> {
    Ok(match op {
        WriteOp::PutMemory(m) => WriteOutcome::Memory(put_memory(c, m, now).await?),
        WriteOp::DeleteMemory { id } => WriteOutcome::Deleted {
            existed: delete_memory(c, id).await?,
        },
        WriteOp::StorePreference(p) => WriteOutcome::Preference(store_preference(c, p, now).await?),
        WriteOp::AddProject(p) => WriteOutcome::Project(add_project(c, p, now).await?),
        WriteOp::StorePattern(p) => WriteOutcome::Pattern(store_pattern(c, p, now).await?),
        WriteOp::RecordLearningEvent(e) => {
            WriteOutcome::LearningEvent(record_learning_event(c, e, now).await?)
        }
        WriteOp::AddConversation(n) => {
            WriteOutcome::Conversation(add_conversation(c, n, now).await?)
        }
        WriteOp::RecordDecision(d) => WriteOutcome::Decision(record_decision(c, d, now).await?),
        WriteOp::PutEmbedding { id, vector } => WriteOutcome::Embedding {
            seq: put_embedding(c, id, &vector).await?,
        },
        WriteOp::Restore(r) => WriteOutcome::Restored(restore(c, r).await?),
        WriteOp::UpdateMemory { id, patch } => {
            WriteOutcome::Memory(update_memory(c, id, patch, now).await?)
        }
        WriteOp::RecordPatternOutcome { id, outcome } => {
            WriteOutcome::PatternCounted(record_pattern_outcome(c, id, outcome, now).await?)
        }
        WriteOp::UpdateDecisionOutcome {
            id,
            outcome,
            reward,
        } => WriteOutcome::Decision(update_decision_outcome(c, id, &outcome, reward, now).await?),
        WriteOp::PutPolicy {
            name,
            kind,
            state,
            expected,
        } => WriteOutcome::Policy {
            version: put_policy(c, &name, &kind, &state, expected, now).await?,
        },
        WriteOp::ExpectEmbedder(info) => {
            expect_embedder(c, &info).await?;
            WriteOutcome::Checked
        }
    })
}

/// [`WriteOp::ExpectEmbedder`]; the caller holds the log lock, which every change of the
/// pin takes too, so the pin cannot change before the batch commits.
pub(crate) async fn expect_embedder<C: GenericClient>(c: &C, info: &EmbedderInfo) -> Result<()> {
    info.validate()?;
    match info.mismatch(embedder(c).await?.as_ref()) {
        Some(message) => Err(PostgresError::Conflict(message)),
        None => Ok(()),
    }
}

pub(crate) async fn stats<C: GenericClient>(c: &C) -> Result<StoreStats> {
    let r = one_row(
        c,
        "SELECT (SELECT count(*) FROM memories), (SELECT count(*) FROM user_preferences), \
         (SELECT count(*) FROM projects), (SELECT count(*) FROM code_patterns), \
         (SELECT count(*) FROM learning_events), (SELECT count(*) FROM conversations), \
         (SELECT count(*) FROM agent_decisions), \
         (SELECT count(*) FROM embeddings WHERE vector IS NOT NULL)",
        &[],
    )
    .await?;
    let n = |i: usize| -> Result<u64> { Ok(count(get(&r, i, "count")?)) };
    Ok(StoreStats {
        memories: n(0)?,
        preferences: n(1)?,
        projects: n(2)?,
        patterns: n(3)?,
        learning_events: n(4)?,
        conversations: n(5)?,
        decisions: n(6)?,
        embeddings: n(7)?,
    })
}

// ---------- policies ----------

fn policy_row(row: &Row) -> Result<PolicyState> {
    const W: &str = "policy";
    let state: String = get(row, 2, W)?;
    Ok(PolicyState {
        name: get(row, 0, W)?,
        kind: get(row, 1, W)?,
        state: from_json(W, &state)?,
        version: count(get(row, 3, W)?),
        updated_at: ts(get(row, 4, W)?),
    })
}

pub(crate) async fn get_policy<C: GenericClient>(c: &C, name: &str) -> Result<Option<PolicyState>> {
    opt_row(
        c,
        "SELECT name, kind, state, version, updated_at FROM policies WHERE name = $1",
        &[&name],
    )
    .await?
    .as_ref()
    .map(policy_row)
    .transpose()
}

/// Saves a policy if its stored version is `expected`, as one conditional statement, so
/// of two concurrent saves from the same version exactly one matches.
pub(crate) async fn put_policy<C: GenericClient>(
    c: &C,
    name: &str,
    kind: &str,
    state: &Value,
    expected: Option<u64>,
    now: Timestamp,
) -> Result<u64> {
    memory_core::validate_policy(name, kind, state)?;
    let text = serde_json::to_string(state).map_err(|e| {
        PostgresError::Invalid(ValidationError::MalformedJson {
            field: "policy state",
            message: e.to_string(),
        })
    })?;
    let saved = match expected {
        None => {
            opt_row(
                c,
                "INSERT INTO policies (name, kind, state, version, updated_at) \
                 VALUES ($1, $2, $3, 1, $4) ON CONFLICT (name) DO NOTHING RETURNING version",
                &[&name, &kind, &text, &now.as_millis()],
            )
            .await?
        }
        Some(v) => {
            opt_row(
                c,
                "UPDATE policies SET kind = $2, state = $3, version = version + 1, \
                 updated_at = $4 WHERE name = $1 AND version = $5 RETURNING version",
                &[&name, &kind, &text, &now.as_millis(), &big(v)],
            )
            .await?
        }
    };
    if let Some(r) = saved {
        return Ok(count(get(&r, 0, "policy")?));
    }
    let stored = opt_row(c, "SELECT version FROM policies WHERE name = $1", &[&name])
        .await?
        .map(|r| get::<i64>(&r, 0, "policy"))
        .transpose()?
        .map(count);
    Err(PostgresError::Conflict(format!(
        "policy `{name}` is at version {} but the save expected {}",
        stored.map_or("none".to_owned(), |v| v.to_string()),
        expected.map_or("none".to_owned(), |v| v.to_string()),
    )))
}

pub(crate) async fn list_policies<C: GenericClient>(c: &C) -> Result<Vec<String>> {
    rows(c, "SELECT name FROM policies ORDER BY name", &[])
        .await?
        .iter()
        .map(|r| get(r, 0, "policy"))
        .collect()
}

pub(crate) async fn delete_policy<C: GenericClient>(c: &C, name: &str) -> Result<bool> {
    Ok(exec(c, "DELETE FROM policies WHERE name = $1", &[&name]).await? > 0)
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
