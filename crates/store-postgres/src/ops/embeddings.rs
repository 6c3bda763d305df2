//! The embedding log and the pinned embedder.

use super::*;

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
