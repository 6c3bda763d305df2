//! The SQL of every operation, as plain functions over a connection (or a transaction,
//! which derefs to one). The async store and the batch writer both call these.

use memory_core::*;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use serde_json::Value;

use crate::error::{Result, SqliteError};

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

// ---------- memories ----------

const MEMORY_COLS: &str = "m.id, m.content, m.kind, m.scope_user, m.scope_agent, m.scope_session, \
     m.metadata, m.importance, m.created_at, m.updated_at, m.expires_at, m.context";

fn memory_row(row: &Row<'_>) -> rusqlite::Result<Memory> {
    let id: Vec<u8> = row.get(0)?;
    let id: [u8; 16] = id.try_into().map_err(|_| {
        conversion(
            0,
            ValidationError::Other("memory id is not 16 bytes".into()),
        )
    })?;
    let kind: String = row.get(2)?;
    let metadata: String = row.get(6)?;
    let importance: f64 = row.get(7)?;
    Ok(Memory {
        id: MemoryId::from_bytes(id),
        content: row.get(1)?,
        kind: MemoryKind::new(kind).map_err(|e| conversion(2, e))?,
        scope: scope_from(row, 3)?,
        metadata: from_json(6, &metadata)?,
        importance: Importance::new(importance).map_err(|e| conversion(7, e))?,
        created_at: ts(row.get(8)?),
        updated_at: ts(row.get(9)?),
        expires_at: row.get::<_, Option<i64>>(10)?.map(ts),
        context: row.get(11)?,
    })
}

pub(crate) fn put_memory(c: &Connection, new: NewMemory, now: Timestamp) -> Result<Memory> {
    new.validate()?;
    let m = new.into_memory(now);
    let exists = c
        .prepare_cached("SELECT 1 FROM memories WHERE id = ?")?
        .exists([m.id.to_bytes()])?;
    if exists {
        return Err(SqliteError::Conflict(format!(
            "memory {} already exists",
            m.id
        )));
    }
    let [u, a, s] = scope_params(&m.scope);
    c.prepare_cached(
        "INSERT INTO memories (id, content, kind, scope_user, scope_agent, scope_session, \
         metadata, importance, created_at, updated_at, expires_at, context) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        m.id.to_bytes(),
        m.content,
        m.kind.as_str(),
        u,
        a,
        s,
        m.metadata.to_json_string(),
        m.importance.get(),
        m.created_at.as_millis(),
        m.updated_at.as_millis(),
        m.expires_at.map(Timestamp::as_millis),
        m.context,
    ])?;
    Ok(m)
}

pub(crate) fn get_memory(c: &Connection, id: MemoryId) -> Result<Option<Memory>> {
    c.prepare_cached(&format!(
        "SELECT {MEMORY_COLS} FROM memories m WHERE m.id = ?"
    ))?
    .query_row([id.to_bytes()], memory_row)
    .optional()
    .map_err(corrupt("memory"))
}

/// The stored memories among `ids`, in the order of `ids` (missing ones left out).
pub(crate) fn get_memories(c: &Connection, ids: &[MemoryId]) -> Result<Vec<Memory>> {
    let mut found = std::collections::HashMap::with_capacity(ids.len());
    // SQLite's default limit on bound parameters is 32766; stay well under it.
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let mut stmt = c.prepare_cached(&format!(
            "SELECT {MEMORY_COLS} FROM memories m WHERE m.id IN ({marks})"
        ))?;
        let rows = stmt
            .query_map(
                params_from_iter(chunk.iter().map(|id| id.to_bytes())),
                memory_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(corrupt("memory"))?;
        for m in rows {
            found.insert(m.id, m);
        }
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

pub(crate) fn update_memory(
    c: &Connection,
    id: MemoryId,
    patch: MemoryPatch,
    now: Timestamp,
) -> Result<Memory> {
    patch.validate()?;
    let mut m = get_memory(c, id)?.ok_or_else(|| SqliteError::NotFound(format!("memory {id}")))?;
    let now = now.max(m.updated_at);
    patch.apply(&mut m, now);
    c.prepare_cached(
        "UPDATE memories SET content = ?, kind = ?, metadata = ?, importance = ?, \
         updated_at = ?, expires_at = ?, context = ? WHERE id = ?",
    )?
    .execute(params![
        m.content,
        m.kind.as_str(),
        m.metadata.to_json_string(),
        m.importance.get(),
        m.updated_at.as_millis(),
        m.expires_at.map(Timestamp::as_millis),
        m.context,
        id.to_bytes(),
    ])?;
    Ok(m)
}

pub(crate) fn delete_memory(c: &Connection, id: MemoryId) -> Result<bool> {
    Ok(c.prepare_cached("DELETE FROM memories WHERE id = ?")?
        .execute([id.to_bytes()])?
        > 0)
}

fn ids_of(rows: Vec<Vec<u8>>) -> Result<Vec<MemoryId>> {
    rows.into_iter()
        .map(|b| {
            <[u8; 16]>::try_from(b)
                .map(MemoryId::from_bytes)
                .map_err(|_| SqliteError::Corrupt {
                    what: "memory id",
                    message: "not 16 bytes".into(),
                })
        })
        .collect()
}

pub(crate) fn delete_memories(
    c: &Connection,
    f: &MemoryFilter,
    now: Timestamp,
) -> Result<Vec<MemoryId>> {
    f.validate()?;
    let mut sql = "DELETE FROM memories AS m WHERE 1".to_owned();
    let mut args = Vec::new();
    memory_filter(f, now, &mut sql, &mut args);
    sql.push_str(" RETURNING id");
    let rows = c
        .prepare_cached(&sql)?
        .query_map(params_from_iter(args), |r| r.get::<_, Vec<u8>>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    ids_of(rows)
}

pub(crate) fn purge_expired(c: &Connection, now: Timestamp) -> Result<Vec<MemoryId>> {
    let rows = c
        .prepare_cached(
            "DELETE FROM memories WHERE expires_at IS NOT NULL AND expires_at <= ? RETURNING id",
        )?
        .query_map([now.as_millis()], |r| r.get::<_, Vec<u8>>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    ids_of(rows)
}

pub(crate) fn list_memories(
    c: &Connection,
    q: &MemoryQuery,
    now: Timestamp,
) -> Result<Vec<Memory>> {
    q.filter.validate()?;
    let mut sql = format!("SELECT {MEMORY_COLS} FROM memories m WHERE 1");
    let mut args = Vec::new();
    memory_filter(&q.filter, now, &mut sql, &mut args);
    sql.push_str(match q.order {
        ListOrder::NewestFirst => " ORDER BY m.created_at DESC, m.id DESC",
        ListOrder::OldestFirst => " ORDER BY m.created_at ASC, m.id ASC",
        ListOrder::ImportanceDesc => " ORDER BY m.importance DESC, m.created_at DESC, m.id DESC",
    });
    sql.push_str(" LIMIT ? OFFSET ?");
    args.push(SqlValue::Integer(lim(q.limit)));
    args.push(SqlValue::Integer(lim(q.offset)));
    c.prepare_cached(&sql)?
        .query_map(params_from_iter(args), memory_row)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(corrupt("memory"))
}

pub(crate) fn count_memories(c: &Connection, f: &MemoryFilter, now: Timestamp) -> Result<u64> {
    f.validate()?;
    let mut sql = "SELECT count(*) FROM memories m WHERE 1".to_owned();
    let mut args = Vec::new();
    memory_filter(f, now, &mut sql, &mut args);
    let n: i64 = c
        .prepare_cached(&sql)?
        .query_row(params_from_iter(args), |r| r.get(0))?;
    Ok(count(n))
}

/// BM25 column weights: a memory's own words count twice its context's (LoCoMo:
/// recall@10 0.792 at 1:1, 0.804 at 2:1).
const BM25_CONTENT: f64 = 2.0;
const BM25_CONTEXT: f64 = 1.0;

/// How many memories hold each term in their content (stemmed as the index stems), and
/// how many memories there are: the document frequencies behind keyword feedback.
pub(crate) fn keyword_document_counts(c: &Connection, terms: &[String]) -> Result<(u64, Vec<u64>)> {
    let total: i64 = c
        .prepare_cached("SELECT count(*) FROM memories")?
        .query_row([], |r| r.get(0))?;
    let mut counts = Vec::with_capacity(terms.len());
    let mut stmt =
        c.prepare_cached("SELECT count(*) FROM memories_fts WHERE memories_fts MATCH ?")?;
    for t in terms {
        let words = query_terms(t);
        let Some(word) = words.first() else {
            counts.push(0);
            continue;
        };
        let q = format!("content : \"{}\"", word.replace('"', "\"\""));
        let n: i64 = stmt.query_row([q], |r| r.get(0))?;
        counts.push(count(n));
    }
    Ok((count(total), counts))
}

pub(crate) fn search_memories(
    c: &Connection,
    q: &KeywordQuery,
    now: Timestamp,
) -> Result<Vec<KeywordHit>> {
    q.filter.validate()?;
    let Some(fts) = fts_query(&q.text) else {
        return Ok(Vec::new());
    };
    let mut sql = format!(
        "SELECT {MEMORY_COLS}, -bm25(memories_fts, {w_content}, {w_context}) FROM memories_fts \
         JOIN memories m ON m.pk = memories_fts.rowid WHERE memories_fts MATCH ?",
        w_content = BM25_CONTENT,
        w_context = BM25_CONTEXT
    );
    let mut args = vec![SqlValue::Text(fts)];
    memory_filter(&q.filter, now, &mut sql, &mut args);
    sql.push_str(&format!(
        " ORDER BY bm25(memories_fts, {BM25_CONTENT}, {BM25_CONTEXT}) LIMIT ?"
    ));
    args.push(SqlValue::Integer(lim(q.limit)));
    c.prepare_cached(&sql)?
        .query_map(params_from_iter(args), |r| {
            Ok(KeywordHit {
                memory: memory_row(r)?,
                score: r.get(12)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(corrupt("memory"))
}

// ---------- preferences ----------

const PREF_COLS: &str =
    "id, scope_user, scope_agent, scope_session, key, value, category, created_at, updated_at";

fn pref_row(row: &Row<'_>) -> rusqlite::Result<Preference> {
    let value: String = row.get(5)?;
    Ok(Preference {
        id: row.get(0)?,
        scope: scope_from(row, 1)?,
        key: row.get(4)?,
        value: from_json(5, &value)?,
        category: row.get(6)?,
        created_at: ts(row.get(7)?),
        updated_at: ts(row.get(8)?),
    })
}

pub(crate) fn store_preference(
    c: &Connection,
    p: NewPreference,
    now: Timestamp,
) -> Result<Preference> {
    p.validate()?;
    let [u, a, s] = scope_params(&p.scope);
    c.prepare_cached(&format!(
        "INSERT INTO user_preferences (scope_user, scope_agent, scope_session, key, value, \
         category, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, COALESCE(?6, 'general'), ?7, ?7) \
         ON CONFLICT (scope_user, scope_agent, scope_session, key) DO UPDATE SET \
         value = excluded.value, category = COALESCE(?6, category), \
         updated_at = max(?7, updated_at) RETURNING {PREF_COLS}"
    ))?
    .query_row(
        params![u, a, s, p.key, to_json(&p.value), p.category, now.as_millis()],
        pref_row,
    )
    .map_err(corrupt("preference"))
}

pub(crate) fn get_preference(
    c: &Connection,
    scope: &Scope,
    key: &str,
) -> Result<Option<Preference>> {
    let [u, a, s] = scope_params(scope);
    c.prepare_cached(&format!(
        "SELECT {PREF_COLS} FROM user_preferences \
         WHERE scope_user = ? AND scope_agent = ? AND scope_session = ? AND key = ?"
    ))?
    .query_row(params![u, a, s, key], pref_row)
    .optional()
    .map_err(corrupt("preference"))
}

pub(crate) fn list_preferences(
    c: &Connection,
    scope: &Scope,
    category: Option<&str>,
) -> Result<Vec<Preference>> {
    scope.validate()?;
    let mut sql = format!("SELECT {PREF_COLS} FROM user_preferences WHERE 1");
    let mut args = Vec::new();
    scope_filter(scope, "", &mut sql, &mut args);
    if let Some(cat) = category {
        sql.push_str(" AND category = ?");
        args.push(SqlValue::Text(cat.to_owned()));
    }
    sql.push_str(" ORDER BY key, scope_user, scope_agent, scope_session");
    c.prepare_cached(&sql)?
        .query_map(params_from_iter(args), pref_row)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(corrupt("preference"))
}

pub(crate) fn delete_preference(c: &Connection, scope: &Scope, key: &str) -> Result<bool> {
    let [u, a, s] = scope_params(scope);
    Ok(c.prepare_cached(
        "DELETE FROM user_preferences \
         WHERE scope_user = ? AND scope_agent = ? AND scope_session = ? AND key = ?",
    )?
    .execute(params![u, a, s, key])?
        > 0)
}

// ---------- projects ----------

const PROJECT_COLS: &str = "id, scope_user, scope_agent, scope_session, name, path, description, \
     tech_stack, status, created_at, last_accessed";

fn project_row(row: &Row<'_>) -> rusqlite::Result<Project> {
    let stack: String = row.get(7)?;
    Ok(Project {
        id: row.get(0)?,
        scope: scope_from(row, 1)?,
        name: row.get(4)?,
        path: row.get(5)?,
        description: row.get(6)?,
        tech_stack: from_json(7, &stack)?,
        status: row.get(8)?,
        created_at: ts(row.get(9)?),
        last_accessed: row.get::<_, Option<i64>>(10)?.map(ts),
    })
}

pub(crate) fn add_project(c: &Connection, p: NewProject, now: Timestamp) -> Result<Project> {
    p.validate()?;
    let [u, a, s] = scope_params(&p.scope);
    c.prepare_cached(&format!(
        "INSERT INTO projects (scope_user, scope_agent, scope_session, name, path, description, \
         tech_stack, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, COALESCE(?, 'active'), ?) \
         RETURNING {PROJECT_COLS}"
    ))?
    .query_row(
        params![
            u,
            a,
            s,
            p.name,
            p.path,
            p.description,
            to_json(&p.tech_stack),
            p.status,
            now.as_millis()
        ],
        project_row,
    )
    .map_err(corrupt("project"))
}

pub(crate) fn get_project(c: &Connection, id: RecordId) -> Result<Option<Project>> {
    c.prepare_cached(&format!("SELECT {PROJECT_COLS} FROM projects WHERE id = ?"))?
        .query_row([id], project_row)
        .optional()
        .map_err(corrupt("project"))
}

pub(crate) fn list_projects(
    c: &Connection,
    scope: &Scope,
    status: Option<&str>,
) -> Result<Vec<Project>> {
    scope.validate()?;
    let mut sql = format!("SELECT {PROJECT_COLS} FROM projects WHERE 1");
    let mut args = Vec::new();
    scope_filter(scope, "", &mut sql, &mut args);
    if let Some(st) = status {
        sql.push_str(" AND status = ?");
        args.push(SqlValue::Text(st.to_owned()));
    }
    sql.push_str(" ORDER BY COALESCE(last_accessed, created_at) DESC, id DESC");
    c.prepare_cached(&sql)?
        .query_map(params_from_iter(args), project_row)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(corrupt("project"))
}

pub(crate) fn touch_project(c: &Connection, id: RecordId, now: Timestamp) -> Result<Project> {
    c.prepare_cached(&format!(
        "UPDATE projects SET last_accessed = max(?, COALESCE(last_accessed, 0)) WHERE id = ? \
         RETURNING {PROJECT_COLS}"
    ))?
    .query_row(params![now.as_millis(), id], project_row)
    .optional()
    .map_err(corrupt("project"))?
    .ok_or_else(|| SqliteError::NotFound(format!("project {id}")))
}

pub(crate) fn set_project_status(c: &Connection, id: RecordId, status: &str) -> Result<Project> {
    memory_core::validate::key("project status", status)?;
    c.prepare_cached(&format!(
        "UPDATE projects SET status = ? WHERE id = ? RETURNING {PROJECT_COLS}"
    ))?
    .query_row(params![status, id], project_row)
    .optional()
    .map_err(corrupt("project"))?
    .ok_or_else(|| SqliteError::NotFound(format!("project {id}")))
}

// ---------- code patterns ----------

/// Pattern columns, qualified for SELECTs that join the keyword index.
const PATTERN_COLS: &str = "p.id, p.scope_user, p.scope_agent, p.scope_session, p.pattern_type, \
     p.context, p.solution, p.language, p.success_count, p.failure_count, p.created_at, p.updated_at, p.metadata";
/// The same columns, bare, for RETURNING clauses.
const PATTERN_RETURNING: &str = "id, scope_user, scope_agent, scope_session, pattern_type, \
     context, solution, language, success_count, failure_count, created_at, updated_at, metadata";

fn pattern_row(row: &Row<'_>) -> rusqlite::Result<CodePattern> {
    Ok(CodePattern {
        id: row.get(0)?,
        scope: scope_from(row, 1)?,
        pattern_type: row.get(4)?,
        context: row.get(5)?,
        solution: row.get(6)?,
        language: row.get(7)?,
        success_count: count(row.get(8)?),
        failure_count: count(row.get(9)?),
        created_at: ts(row.get(10)?),
        updated_at: ts(row.get(11)?),
        metadata: from_json(12, &row.get::<_, String>(12)?)?,
    })
}

pub(crate) fn update_pattern(
    c: &Connection,
    id: RecordId,
    patch: &PatternPatch,
    now: Timestamp,
) -> Result<CodePattern> {
    patch.validate()?;
    let metadata = patch.metadata.as_ref().map(Metadata::to_json_string);
    let count = patch
        .success_count
        .map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    c.prepare_cached(&format!(
        "UPDATE code_patterns SET context = coalesce(?, context), \
         solution = coalesce(?, solution), success_count = coalesce(?, success_count), \
         metadata = coalesce(?, metadata), updated_at = max(?, updated_at) \
         WHERE id = ? RETURNING {PATTERN_RETURNING}"
    ))?
    .query_row(
        params![
            patch.context,
            patch.solution,
            count,
            metadata,
            now.as_millis(),
            id
        ],
        pattern_row,
    )
    .optional()
    .map_err(corrupt("pattern"))?
    .ok_or_else(|| SqliteError::NotFound(format!("pattern {id}")))
}

pub(crate) fn store_pattern(c: &Connection, p: NewPattern, now: Timestamp) -> Result<PatternWrite> {
    p.validate()?;
    let [u, a, s] = scope_params(&p.scope);
    // The seed's semantics: the same (scope, type, context) counts one more success.
    let bumped = c
        .prepare_cached(&format!(
            "UPDATE code_patterns SET success_count = success_count + 1, \
             updated_at = max(?, updated_at) WHERE scope_user = ? AND scope_agent = ? \
             AND scope_session = ? AND pattern_type = ? AND context = ? RETURNING {PATTERN_RETURNING}"
        ))?
        .query_row(params![now.as_millis(), u, a, s, p.pattern_type, p.context], pattern_row)
        .optional()
        .map_err(corrupt("pattern"))?;
    if let Some(pattern) = bumped {
        return Ok(PatternWrite {
            pattern,
            inserted: false,
        });
    }
    let pattern = c
        .prepare_cached(&format!(
            "INSERT INTO code_patterns (scope_user, scope_agent, scope_session, pattern_type, \
             context, solution, language, created_at, updated_at, metadata) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9) RETURNING {PATTERN_RETURNING}"
        ))?
        .query_row(
            params![
                u,
                a,
                s,
                p.pattern_type,
                p.context,
                p.solution,
                p.language,
                now.as_millis(),
                p.metadata.to_json_string()
            ],
            pattern_row,
        )
        .map_err(corrupt("pattern"))?;
    Ok(PatternWrite {
        pattern,
        inserted: true,
    })
}

pub(crate) fn record_pattern_outcome(
    c: &Connection,
    id: RecordId,
    outcome: PatternOutcome,
    now: Timestamp,
) -> Result<CodePattern> {
    let sql = match outcome {
        PatternOutcome::Success => format!(
            "UPDATE code_patterns SET success_count = success_count + 1, \
             updated_at = max(?, updated_at) WHERE id = ? RETURNING {PATTERN_RETURNING}"
        ),
        PatternOutcome::Failure => format!(
            "UPDATE code_patterns SET failure_count = failure_count + 1, \
             updated_at = max(?, updated_at) WHERE id = ? RETURNING {PATTERN_RETURNING}"
        ),
    };
    c.prepare_cached(&sql)?
        .query_row(params![now.as_millis(), id], pattern_row)
        .optional()
        .map_err(corrupt("pattern"))?
        .ok_or_else(|| SqliteError::NotFound(format!("pattern {id}")))
}

pub(crate) fn get_pattern(c: &Connection, id: RecordId) -> Result<Option<CodePattern>> {
    c.prepare_cached(&format!(
        "SELECT {PATTERN_COLS} FROM code_patterns p WHERE p.id = ?"
    ))?
    .query_row([id], pattern_row)
    .optional()
    .map_err(corrupt("pattern"))
}

/// The patterns among `ids` in their order (each once), read in one pass on one
/// connection.
pub(crate) fn get_patterns(c: &Connection, ids: &[RecordId]) -> Result<Vec<CodePattern>> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if seen.insert(*id)
            && let Some(p) = get_pattern(c, *id)?
        {
            out.push(p);
        }
    }
    Ok(out)
}

fn pattern_filter(q: &PatternQuery, sql: &mut String, args: &mut Vec<SqlValue>) -> Result<()> {
    q.scope.validate()?;
    scope_filter(&q.scope, "p.", sql, args);
    if let Some(t) = &q.pattern_type {
        sql.push_str(" AND p.pattern_type = ?");
        args.push(SqlValue::Text(t.clone()));
    }
    if let Some(l) = &q.language {
        sql.push_str(" AND p.language = ?");
        args.push(SqlValue::Text(l.clone()));
    }
    Ok(())
}

pub(crate) fn list_patterns(c: &Connection, q: &PatternQuery) -> Result<Vec<CodePattern>> {
    let mut sql = format!("SELECT {PATTERN_COLS} FROM code_patterns p WHERE 1");
    let mut args = Vec::new();
    pattern_filter(q, &mut sql, &mut args)?;
    sql.push_str(" ORDER BY p.success_count DESC, p.created_at DESC, p.id DESC LIMIT ?");
    args.push(SqlValue::Integer(lim(q.limit)));
    c.prepare_cached(&sql)?
        .query_map(params_from_iter(args), pattern_row)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(corrupt("pattern"))
}

pub(crate) fn search_patterns(
    c: &Connection,
    text: &str,
    q: &PatternQuery,
) -> Result<Vec<PatternHit>> {
    let Some(fts) = fts_query(text) else {
        return Ok(Vec::new());
    };
    let mut sql = format!(
        "SELECT {PATTERN_COLS}, -bm25(code_patterns_fts) FROM code_patterns_fts \
         JOIN code_patterns p ON p.id = code_patterns_fts.rowid WHERE code_patterns_fts MATCH ?"
    );
    let mut args = vec![SqlValue::Text(fts)];
    pattern_filter(q, &mut sql, &mut args)?;
    sql.push_str(" ORDER BY bm25(code_patterns_fts) LIMIT ?");
    args.push(SqlValue::Integer(lim(q.limit)));
    c.prepare_cached(&sql)?
        .query_map(params_from_iter(args), |r| {
            Ok(PatternHit {
                pattern: pattern_row(r)?,
                score: r.get(13)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(corrupt("pattern"))
}

pub(crate) fn delete_pattern(c: &Connection, id: RecordId) -> Result<bool> {
    Ok(c.prepare_cached("DELETE FROM code_patterns WHERE id = ?")?
        .execute([id])?
        > 0)
}

// ---------- learning events ----------

const EVENT_COLS: &str = "id, scope_user, scope_agent, scope_session, event_type, \
     task_description, outcome, reward, metadata, created_at";

fn event_row(row: &Row<'_>) -> rusqlite::Result<LearningEvent> {
    let metadata: String = row.get(8)?;
    Ok(LearningEvent {
        id: row.get(0)?,
        scope: scope_from(row, 1)?,
        event_type: row.get(4)?,
        task_description: row.get(5)?,
        outcome: row.get(6)?,
        reward: Reward::new(row.get(7)?).map_err(|e| conversion(7, e))?,
        metadata: from_json(8, &metadata)?,
        created_at: ts(row.get(9)?),
    })
}

pub(crate) fn record_learning_event(
    c: &Connection,
    e: NewLearningEvent,
    now: Timestamp,
) -> Result<LearningEvent> {
    e.validate()?;
    let [u, a, s] = scope_params(&e.scope);
    c.prepare_cached(&format!(
        "INSERT INTO learning_events (scope_user, scope_agent, scope_session, event_type, \
         task_description, outcome, reward, metadata, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {EVENT_COLS}"
    ))?
    .query_row(
        params![
            u,
            a,
            s,
            e.event_type,
            e.task_description,
            e.outcome,
            e.reward.get(),
            e.metadata.to_json_string(),
            now.as_millis()
        ],
        event_row,
    )
    .map_err(corrupt("learning event"))
}

pub(crate) fn list_learning_events(c: &Connection, q: &EventQuery) -> Result<Vec<LearningEvent>> {
    q.scope.validate()?;
    let mut sql = format!("SELECT {EVENT_COLS} FROM learning_events WHERE 1");
    let mut args = Vec::new();
    scope_filter(&q.scope, "", &mut sql, &mut args);
    if let Some(t) = &q.event_type {
        sql.push_str(" AND event_type = ?");
        args.push(SqlValue::Text(t.clone()));
    }
    if let Some(t) = q.since {
        sql.push_str(" AND created_at >= ?");
        args.push(SqlValue::Integer(t.as_millis()));
    }
    sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT ?");
    args.push(SqlValue::Integer(lim(q.limit)));
    c.prepare_cached(&sql)?
        .query_map(params_from_iter(args), event_row)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(corrupt("learning event"))
}

// ---------- conversations ----------

const CONVERSATION_COLS: &str =
    "id, scope_user, scope_agent, scope_session, summary, key_decisions, user_feedback, created_at";

fn conversation_row(row: &Row<'_>) -> rusqlite::Result<ConversationSummary> {
    let decisions: String = row.get(5)?;
    Ok(ConversationSummary {
        id: row.get(0)?,
        scope: scope_from(row, 1)?,
        summary: row.get(4)?,
        key_decisions: from_json(5, &decisions)?,
        user_feedback: row.get(6)?,
        created_at: ts(row.get(7)?),
    })
}

pub(crate) fn add_conversation(
    c: &Connection,
    n: NewConversation,
    now: Timestamp,
) -> Result<ConversationSummary> {
    n.validate()?;
    let [u, a, s] = scope_params(&n.scope);
    c.prepare_cached(&format!(
        "INSERT INTO conversations (scope_user, scope_agent, scope_session, summary, \
         key_decisions, user_feedback, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) \
         RETURNING {CONVERSATION_COLS}"
    ))?
    .query_row(
        params![
            u,
            a,
            s,
            n.summary,
            to_json(&n.key_decisions),
            n.user_feedback,
            now.as_millis()
        ],
        conversation_row,
    )
    .map_err(corrupt("conversation"))
}

pub(crate) fn list_conversations(
    c: &Connection,
    scope: &Scope,
    limit: usize,
) -> Result<Vec<ConversationSummary>> {
    scope.validate()?;
    let mut sql = format!("SELECT {CONVERSATION_COLS} FROM conversations WHERE 1");
    let mut args = Vec::new();
    scope_filter(scope, "", &mut sql, &mut args);
    sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT ?");
    args.push(SqlValue::Integer(lim(limit)));
    c.prepare_cached(&sql)?
        .query_map(params_from_iter(args), conversation_row)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(corrupt("conversation"))
}

// ---------- decisions ----------

const DECISION_COLS: &str = "id, scope_user, scope_agent, scope_session, agent_type, \
     decision_context, options_considered, chosen_option, reasoning, outcome, reward, \
     created_at, outcome_at, metadata";

fn decision_row(row: &Row<'_>) -> rusqlite::Result<AgentDecision> {
    let options: String = row.get(6)?;
    let reward: Option<f64> = row.get(10)?;
    Ok(AgentDecision {
        id: row.get(0)?,
        scope: scope_from(row, 1)?,
        agent_type: row.get(4)?,
        context: row.get(5)?,
        options: from_json(6, &options)?,
        chosen_option: row.get(7)?,
        reasoning: row.get(8)?,
        outcome: row.get(9)?,
        reward: reward
            .map(Reward::new)
            .transpose()
            .map_err(|e| conversion(10, e))?,
        created_at: ts(row.get(11)?),
        outcome_at: row.get::<_, Option<i64>>(12)?.map(ts),
        metadata: from_json(13, &row.get::<_, String>(13)?)?,
    })
}

pub(crate) fn record_decision(
    c: &Connection,
    d: NewDecision,
    now: Timestamp,
) -> Result<AgentDecision> {
    d.validate()?;
    let [u, a, s] = scope_params(&d.scope);
    c.prepare_cached(&format!(
        "INSERT INTO agent_decisions (scope_user, scope_agent, scope_session, agent_type, \
         decision_context, options_considered, chosen_option, reasoning, created_at, metadata) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {DECISION_COLS}"
    ))?
    .query_row(
        params![
            u,
            a,
            s,
            d.agent_type,
            d.context,
            to_json(&d.options),
            d.chosen_option,
            d.reasoning,
            now.as_millis(),
            d.metadata.to_json_string()
        ],
        decision_row,
    )
    .map_err(corrupt("decision"))
}

pub(crate) fn update_decision_outcome(
    c: &Connection,
    id: RecordId,
    outcome: &str,
    reward: Reward,
    now: Timestamp,
) -> Result<AgentDecision> {
    memory_core::validate::text("outcome", outcome)?;
    c.prepare_cached(&format!(
        "UPDATE agent_decisions SET outcome = ?, reward = ?, outcome_at = ? WHERE id = ? \
         RETURNING {DECISION_COLS}"
    ))?
    .query_row(
        params![outcome, reward.get(), now.as_millis(), id],
        decision_row,
    )
    .optional()
    .map_err(corrupt("decision"))?
    .ok_or_else(|| SqliteError::NotFound(format!("decision {id}")))
}

pub(crate) fn get_decision(c: &Connection, id: RecordId) -> Result<Option<AgentDecision>> {
    c.prepare_cached(&format!(
        "SELECT {DECISION_COLS} FROM agent_decisions WHERE id = ?"
    ))?
    .query_row([id], decision_row)
    .optional()
    .map_err(corrupt("decision"))
}

pub(crate) fn list_decisions(c: &Connection, q: &DecisionQuery) -> Result<Vec<AgentDecision>> {
    q.scope.validate()?;
    let mut sql = format!("SELECT {DECISION_COLS} FROM agent_decisions WHERE 1");
    let mut args = Vec::new();
    scope_filter(&q.scope, "", &mut sql, &mut args);
    if let Some(t) = &q.agent_type {
        sql.push_str(" AND agent_type = ?");
        args.push(SqlValue::Text(t.clone()));
    }
    match q.with_outcome {
        Some(true) => sql.push_str(" AND outcome IS NOT NULL"),
        Some(false) => sql.push_str(" AND outcome IS NULL"),
        None => {}
    }
    sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT ?");
    args.push(SqlValue::Integer(lim(q.limit)));
    c.prepare_cached(&sql)?
        .query_map(params_from_iter(args), decision_row)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(corrupt("decision"))
}

// ---------- embeddings ----------

/// Encodes a vector as f32 little-endian bytes (the storage form).
fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn vector_from(bytes: &[u8]) -> Result<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return Err(SqliteError::Corrupt {
            what: "embedding",
            message: format!("{} bytes is not a whole number of f32s", bytes.len()),
        });
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

pub(crate) fn embedder(c: &Connection) -> Result<Option<EmbedderInfo>> {
    let text: Option<String> = c
        .prepare_cached("SELECT value FROM brain_meta WHERE key = 'embedder'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| SqliteError::Corrupt {
            what: "embedder pin",
            message: e.to_string(),
        })
    })
    .transpose()
}

fn live_embeddings(c: &Connection) -> Result<u64> {
    let n: i64 = c
        .prepare_cached("SELECT count(*) FROM embeddings WHERE vector IS NOT NULL")?
        .query_row([], |r| r.get(0))?;
    Ok(count(n))
}

pub(crate) fn pin_embedder(c: &Connection, info: &EmbedderInfo) -> Result<()> {
    memory_core::validate::key("embedder model_id", &info.model_id)?;
    if info.dimension == 0 {
        return Err(ValidationError::Empty {
            field: "embedder dimension",
        }
        .into());
    }
    match embedder(c)? {
        Some(pinned) if &pinned == info => return Ok(()),
        Some(pinned) if live_embeddings(c)? > 0 => {
            return Err(SqliteError::Conflict(format!(
                "this brain's vectors come from {} ({} dimensions), not {} ({} dimensions); \
                 run `brain reindex` to re-embed them with the new model",
                pinned.model_id, pinned.dimension, info.model_id, info.dimension
            )));
        }
        _ => {}
    }
    c.prepare_cached(
        "INSERT INTO brain_meta (key, value) VALUES ('embedder', ?) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([to_json(info)])?;
    Ok(())
}

fn next_seq(c: &Connection) -> Result<u64> {
    let v: i64 = c
        .prepare_cached("UPDATE embedding_seq SET value = value + 1 WHERE id = 1 RETURNING value")?
        .query_row([], |r| r.get(0))?;
    Ok(count(v))
}

pub(crate) fn put_embedding(c: &Connection, id: MemoryId, vector: &[f32]) -> Result<u64> {
    let Some(pinned) = embedder(c)? else {
        return Err(ValidationError::Other(
            "no embedder is pinned: pin the embedder before storing embeddings".into(),
        )
        .into());
    };
    memory_core::validate::vector(vector, pinned.dimension)?;
    let exists = c
        .prepare_cached("SELECT 1 FROM memories WHERE id = ?")?
        .exists([id.to_bytes()])?;
    if !exists {
        return Err(SqliteError::NotFound(format!("memory {id}")));
    }
    let seq = next_seq(c)?;
    c.prepare_cached(
        "INSERT INTO embeddings (id, seq, vector) VALUES (?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, vector = excluded.vector",
    )?
    .execute(params![
        id.to_bytes(),
        i64::try_from(seq).unwrap_or(i64::MAX),
        vector_bytes(vector)
    ])?;
    Ok(seq)
}

pub(crate) fn get_embedding(c: &Connection, id: MemoryId) -> Result<Option<Vec<f32>>> {
    let bytes: Option<Vec<u8>> = c
        .prepare_cached("SELECT vector FROM embeddings WHERE id = ? AND vector IS NOT NULL")?
        .query_row([id.to_bytes()], |r| r.get(0))
        .optional()?;
    bytes.map(|b| vector_from(&b)).transpose()
}

pub(crate) fn embedding_changes(
    c: &Connection,
    after: u64,
    limit: usize,
) -> Result<Vec<EmbeddingChange>> {
    let mut stmt = c.prepare_cached(
        "SELECT e.seq, e.id, e.vector, m.kind, m.scope_user, m.scope_agent, m.scope_session, \
         m.metadata, m.created_at, m.expires_at \
         FROM embeddings e LEFT JOIN memories m ON m.id = e.id \
         WHERE e.seq > ? ORDER BY e.seq LIMIT ?",
    )?;
    let rows = stmt
        .query_map(
            params![i64::try_from(after).unwrap_or(i64::MAX), lim(limit)],
            |r| {
                let seq: i64 = r.get(0)?;
                let id: Vec<u8> = r.get(1)?;
                let vector: Option<Vec<u8>> = r.get(2)?;
                let kind: Option<String> = r.get(3)?;
                let fields = match (vector, kind) {
                    (Some(v), Some(kind)) => {
                        let metadata: String = r.get(7)?;
                        Some((
                            v,
                            MemoryKind::new(kind).map_err(|e| conversion(3, e))?,
                            scope_from(r, 4)?,
                            from_json::<Metadata>(7, &metadata)?,
                            ts(r.get(8)?),
                            r.get::<_, Option<i64>>(9)?.map(ts),
                        ))
                    }
                    _ => None,
                };
                Ok((seq, id, fields))
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(corrupt("embedding"))?;
    rows.into_iter()
        .map(|(seq, id, fields)| {
            let id = ids_of(vec![id])?
                .pop()
                .ok_or_else(|| SqliteError::Corrupt {
                    what: "embedding",
                    message: "missing id".into(),
                })?;
            let entry = match fields {
                Some((v, kind, scope, metadata, created_at, expires_at)) => Some(VectorEntry {
                    id,
                    vector: vector_from(&v)?,
                    scope,
                    kind,
                    metadata,
                    created_at,
                    expires_at,
                }),
                None => None,
            };
            Ok(EmbeddingChange {
                seq: count(seq),
                id,
                entry,
            })
        })
        .collect()
}

pub(crate) fn last_embedding_seq(c: &Connection) -> Result<u64> {
    let v: i64 = c
        .prepare_cached("SELECT value FROM embedding_seq WHERE id = 1")?
        .query_row([], |r| r.get(0))?;
    Ok(count(v))
}

pub(crate) fn clear_embeddings(c: &Connection) -> Result<()> {
    let ids: Vec<Vec<u8>> = c
        .prepare_cached("SELECT id FROM embeddings WHERE vector IS NOT NULL ORDER BY seq")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for id in ids {
        let seq = next_seq(c)?;
        c.prepare_cached("UPDATE embeddings SET vector = NULL, seq = ? WHERE id = ?")?
            .execute(params![i64::try_from(seq).unwrap_or(i64::MAX), id])?;
    }
    c.prepare_cached("DELETE FROM brain_meta WHERE key = 'embedder'")?
        .execute([])?;
    Ok(())
}

// ---------- restore (lossless import) ----------

/// Inserts a record exactly as exported. The id or a unique key already taken is a
/// conflict (checked first, so the message names the record).
pub(crate) fn restore(c: &Connection, r: Record) -> Result<Record> {
    r.validate()?;
    let (table, id) = match &r {
        Record::Preference(x) => ("user_preferences", x.id),
        Record::Project(x) => ("projects", x.id),
        Record::Pattern(x) => ("code_patterns", x.id),
        Record::LearningEvent(x) => ("learning_events", x.id),
        Record::Conversation(x) => ("conversations", x.id),
        Record::Decision(x) => ("agent_decisions", x.id),
    };
    let taken = c
        .prepare_cached(&format!("SELECT 1 FROM {table} WHERE id = ?"))?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some();
    if taken {
        return Err(SqliteError::Conflict(format!(
            "{} {id} already exists (restore into an empty brain)",
            r.kind()
        )));
    }
    let clash = |e: rusqlite::Error| match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            SqliteError::Conflict(format!(
                "{} {id} has the same key as a stored one",
                r.kind()
            ))
        }
        e => SqliteError::from(e),
    };
    match &r {
        Record::Preference(p) => {
            let [u, a, s] = scope_params(&p.scope);
            c.prepare_cached(
                "INSERT INTO user_preferences (id, scope_user, scope_agent, scope_session, key, \
                 value, category, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                p.id,
                u,
                a,
                s,
                p.key,
                to_json(&p.value),
                p.category,
                p.created_at.as_millis(),
                p.updated_at.as_millis()
            ])
            .map_err(clash)?;
        }
        Record::Project(p) => {
            let [u, a, s] = scope_params(&p.scope);
            c.prepare_cached(
                "INSERT INTO projects (id, scope_user, scope_agent, scope_session, name, path, \
                 description, tech_stack, status, created_at, last_accessed) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                p.id,
                u,
                a,
                s,
                p.name,
                p.path,
                p.description,
                to_json(&p.tech_stack),
                p.status,
                p.created_at.as_millis(),
                p.last_accessed.map(Timestamp::as_millis)
            ])
            .map_err(clash)?;
        }
        Record::Pattern(p) => {
            let [u, a, s] = scope_params(&p.scope);
            c.prepare_cached(
                "INSERT INTO code_patterns (id, scope_user, scope_agent, scope_session, \
                 pattern_type, context, solution, language, success_count, failure_count, \
                 created_at, updated_at, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                p.id,
                u,
                a,
                s,
                p.pattern_type,
                p.context,
                p.solution,
                p.language,
                i64::try_from(p.success_count).unwrap_or(i64::MAX),
                i64::try_from(p.failure_count).unwrap_or(i64::MAX),
                p.created_at.as_millis(),
                p.updated_at.as_millis(),
                p.metadata.to_json_string()
            ])
            .map_err(clash)?;
        }
        Record::LearningEvent(e) => {
            let [u, a, s] = scope_params(&e.scope);
            c.prepare_cached(
                "INSERT INTO learning_events (id, scope_user, scope_agent, scope_session, \
                 event_type, task_description, outcome, reward, metadata, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                e.id,
                u,
                a,
                s,
                e.event_type,
                e.task_description,
                e.outcome,
                e.reward.get(),
                e.metadata.to_json_string(),
                e.created_at.as_millis()
            ])
            .map_err(clash)?;
        }
        Record::Conversation(n) => {
            let [u, a, s] = scope_params(&n.scope);
            c.prepare_cached(
                "INSERT INTO conversations (id, scope_user, scope_agent, scope_session, summary, \
                 key_decisions, user_feedback, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                n.id,
                u,
                a,
                s,
                n.summary,
                to_json(&n.key_decisions),
                n.user_feedback,
                n.created_at.as_millis()
            ])
            .map_err(clash)?;
        }
        Record::Decision(d) => {
            let [u, a, s] = scope_params(&d.scope);
            c.prepare_cached(
                "INSERT INTO agent_decisions (id, scope_user, scope_agent, scope_session, \
                 agent_type, decision_context, options_considered, chosen_option, reasoning, \
                 outcome, reward, created_at, outcome_at, metadata) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                d.id,
                u,
                a,
                s,
                d.agent_type,
                d.context,
                to_json(&d.options),
                d.chosen_option,
                d.reasoning,
                d.outcome,
                d.reward.map(Reward::get),
                d.created_at.as_millis(),
                d.outcome_at.map(Timestamp::as_millis),
                d.metadata.to_json_string()
            ])
            .map_err(clash)?;
        }
    }
    Ok(r)
}

// ---------- batches and stats ----------

pub(crate) fn apply(c: &Connection, op: WriteOp, now: Timestamp) -> Result<WriteOutcome> {
    Ok(match op {
        WriteOp::PutMemory(m) => WriteOutcome::Memory(put_memory(c, m, now)?),
        WriteOp::DeleteMemory { id } => WriteOutcome::Deleted {
            existed: delete_memory(c, id)?,
        },
        WriteOp::StorePreference(p) => WriteOutcome::Preference(store_preference(c, p, now)?),
        WriteOp::AddProject(p) => WriteOutcome::Project(add_project(c, p, now)?),
        WriteOp::StorePattern(p) => WriteOutcome::Pattern(store_pattern(c, p, now)?),
        WriteOp::RecordLearningEvent(e) => {
            WriteOutcome::LearningEvent(record_learning_event(c, e, now)?)
        }
        WriteOp::AddConversation(n) => WriteOutcome::Conversation(add_conversation(c, n, now)?),
        WriteOp::RecordDecision(d) => WriteOutcome::Decision(record_decision(c, d, now)?),
        WriteOp::PutEmbedding { id, vector } => WriteOutcome::Embedding {
            seq: put_embedding(c, id, &vector)?,
        },
        WriteOp::Restore(r) => WriteOutcome::Restored(restore(c, r)?),
        WriteOp::UpdateMemory { id, patch } => {
            WriteOutcome::Memory(update_memory(c, id, patch, now)?)
        }
        WriteOp::RecordPatternOutcome { id, outcome } => {
            WriteOutcome::PatternCounted(record_pattern_outcome(c, id, outcome, now)?)
        }
        WriteOp::UpdateDecisionOutcome {
            id,
            outcome,
            reward,
        } => WriteOutcome::Decision(update_decision_outcome(c, id, &outcome, reward, now)?),
        WriteOp::PutPolicy {
            name,
            kind,
            state,
            expected,
        } => WriteOutcome::Policy {
            version: put_policy(c, &name, &kind, &state, expected, now)?,
        },
        WriteOp::ExpectEmbedder(info) => {
            expect_embedder(c, &info)?;
            WriteOutcome::Checked
        }
    })
}

/// [`WriteOp::ExpectEmbedder`]: read inside the batch's write transaction, so no reindex
/// can change the pin between this check and the batch's commit.
pub(crate) fn expect_embedder(c: &Connection, info: &EmbedderInfo) -> Result<()> {
    info.validate()?;
    match info.mismatch(embedder(c)?.as_ref()) {
        Some(message) => Err(SqliteError::Conflict(message)),
        None => Ok(()),
    }
}

pub(crate) fn stats(c: &Connection) -> Result<StoreStats> {
    let n = |table: &str| -> Result<u64> {
        let v: i64 = c
            .prepare_cached(&format!("SELECT count(*) FROM {table}"))?
            .query_row([], |r| r.get(0))?;
        Ok(count(v))
    };
    Ok(StoreStats {
        memories: n("memories")?,
        preferences: n("user_preferences")?,
        projects: n("projects")?,
        patterns: n("code_patterns")?,
        learning_events: n("learning_events")?,
        conversations: n("conversations")?,
        decisions: n("agent_decisions")?,
        embeddings: live_embeddings(c)?,
    })
}

// ---------- policies ----------

fn policy_row(row: &Row<'_>) -> rusqlite::Result<PolicyState> {
    let state: String = row.get(2)?;
    Ok(PolicyState {
        name: row.get(0)?,
        kind: row.get(1)?,
        state: from_json(2, &state)?,
        version: row.get::<_, i64>(3)?.max(0) as u64,
        updated_at: ts(row.get(4)?),
    })
}

pub(crate) fn get_policy(c: &Connection, name: &str) -> Result<Option<PolicyState>> {
    c.prepare_cached("SELECT name, kind, state, version, updated_at FROM policies WHERE name = ?")?
        .query_row(params![name], policy_row)
        .optional()
        .map_err(corrupt("policy"))
}

pub(crate) fn put_policy(
    c: &Connection,
    name: &str,
    kind: &str,
    state: &serde_json::Value,
    expected: Option<u64>,
    now: Timestamp,
) -> Result<u64> {
    memory_core::validate_policy(name, kind, state)?;
    let stored: Option<i64> = c
        .prepare_cached("SELECT version FROM policies WHERE name = ?")?
        .query_row(params![name], |r| r.get(0))
        .optional()?;
    let stored = stored.map(|v| v.max(0) as u64);
    if stored != expected {
        return Err(SqliteError::Conflict(format!(
            "policy `{name}` is at version {} but the save expected {}",
            stored.map_or("none".to_owned(), |v| v.to_string()),
            expected.map_or("none".to_owned(), |v| v.to_string()),
        )));
    }
    let version = stored.unwrap_or(0) + 1;
    let text = serde_json::to_string(state).map_err(|e| {
        SqliteError::Invalid(memory_core::ValidationError::MalformedJson {
            field: "policy state",
            message: e.to_string(),
        })
    })?;
    c.prepare_cached(
        "INSERT INTO policies (name, kind, state, version, updated_at) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, state = excluded.state, \
         version = excluded.version, updated_at = excluded.updated_at",
    )?
    .execute(params![name, kind, text, version as i64, now.as_millis()])?;
    Ok(version)
}

pub(crate) fn list_policies(c: &Connection) -> Result<Vec<String>> {
    c.prepare_cached("SELECT name FROM policies ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(Into::into)
}

pub(crate) fn delete_policy(c: &Connection, name: &str) -> Result<bool> {
    Ok(c.prepare_cached("DELETE FROM policies WHERE name = ?")?
        .execute(params![name])?
        > 0)
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
