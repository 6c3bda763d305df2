//! Batches across roles, and the counts.

use super::*;

pub(crate) fn apply(c: &Connection, op: WriteOp, now: Timestamp) -> Result<WriteOutcome> {
    Ok(match op {
        WriteOp::PutMemory(m) => WriteOutcome::Memory(put_memory(c, m, now)?),
        WriteOp::DeleteMemory { id } => WriteOutcome::Deleted {
            existed: delete_memory(c, id)?,
        },
        WriteOp::PutRecord(r) => WriteOutcome::Record(put_record(c, r, now)?),
        WriteOp::PutEmbedding { id, vector } => WriteOutcome::Embedding {
            seq: put_embedding(c, id, &vector)?,
        },
        WriteOp::Restore(r) => WriteOutcome::Restored(restore(c, r)?),
        WriteOp::UpdateMemory { id, patch } => {
            WriteOutcome::Memory(update_memory(c, id, patch, now)?)
        }
        WriteOp::ChangeRecord { id, change } => {
            WriteOutcome::Changed(change_record(c, id, &change, now)?)
        }
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
