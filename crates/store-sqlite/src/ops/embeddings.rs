//! The embedding log and the pinned embedder.

use super::*;

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

pub(crate) fn live_embeddings(c: &Connection) -> Result<u64> {
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
