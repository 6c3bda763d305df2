//! Memories and their keyword search.

use super::*;

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

pub(crate) fn uuid_of(id: MemoryId) -> uuid::Uuid {
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
