//! Batches across roles, and the counts.

use super::*;

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
        WriteOp::PutRecord(r) => WriteOutcome::Record(put_record(c, r, now).await?),
        WriteOp::PutEmbedding { id, vector } => WriteOutcome::Embedding {
            seq: put_embedding(c, id, &vector).await?,
        },
        WriteOp::Restore(r) => WriteOutcome::Restored(restore(c, r).await?),
        WriteOp::UpdateMemory { id, patch } => {
            WriteOutcome::Memory(update_memory(c, id, patch, now).await?)
        }
        WriteOp::ChangeRecord { id, change } => {
            WriteOutcome::Changed(change_record(c, id, &change, now).await?)
        }
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
