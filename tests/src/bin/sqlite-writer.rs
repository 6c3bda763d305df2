//! A writer process for the multi-process tests.
//!
//! `sqlite-writer DB TAG COUNT [PATTERN_ID]` writes COUNT rounds of records to the
//! store at DB, printing one line per write *after* its call has returned (`m <id>`,
//! `p <key>`, `e <id>`, `d <id>`, `c <pattern id>`), flushed at once. COUNT 0 means
//! write until killed. Any error is printed to stderr and exits with status 1.

use std::io::Write;

use anyhow::{Context, Result};
use memory_core::*;
use store_sqlite::SqliteStore;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, db, tag, count, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: sqlite-writer DB TAG COUNT [PATTERN_ID]");
    };
    let count: u64 = count.parse().context("COUNT")?;
    let pattern: Option<RecordId> = rest
        .first()
        .map(|p| p.parse())
        .transpose()
        .context("PATTERN_ID")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(db, tag, count, pattern))
}

async fn run(db: &str, tag: &str, count: u64, pattern: Option<RecordId>) -> Result<()> {
    let store = SqliteStore::open(db).await?;
    let mut out = std::io::stdout().lock();
    let mut i = 0u64;
    while count == 0 || i < count {
        let m = store
            .put_memory(NewMemory::new(format!("{tag} memory {i}")).with_scope(Scope::user(tag)))
            .await?;
        writeln!(out, "m {}", m.id)?;
        out.flush()?;
        let key = format!("{tag}.{i}");
        store
            .store_preference(NewPreference::new(key.clone(), i))
            .await?;
        writeln!(out, "p {key}")?;
        out.flush()?;
        let e = store
            .record_learning_event(NewLearningEvent {
                scope: Scope::user(tag),
                event_type: "success".into(),
                task_description: format!("task {i}"),
                outcome: "ok".into(),
                reward: Reward::new(0.5)?,
                metadata: Metadata::new().with("i", i),
            })
            .await?;
        writeln!(out, "e {}", e.id)?;
        out.flush()?;
        let d = store
            .record_decision(NewDecision {
                scope: Scope::user(tag),
                agent_type: "writer".into(),
                context: format!("round {i}"),
                options: vec!["a".into(), "b".into()],
                chosen_option: "a".into(),
                reasoning: String::new(),
            })
            .await?;
        writeln!(out, "d {}", d.id)?;
        out.flush()?;
        if let Some(p) = pattern {
            store
                .record_pattern_outcome(p, PatternOutcome::Success)
                .await?;
            writeln!(out, "c {p}")?;
            out.flush()?;
        }
        i += 1;
    }
    Ok(())
}
