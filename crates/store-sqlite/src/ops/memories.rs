//! Memories and their keyword search.

use super::*;

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

pub(crate) fn ids_of(rows: Vec<Vec<u8>>) -> Result<Vec<MemoryId>> {
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
