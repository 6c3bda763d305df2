//! A writer process for the multi-process tests.
//!
//! `sqlite-writer DB TAG COUNT [PATTERN_ID]` writes COUNT rounds of records to the
//! store at DB, printing one line per write *after* its call has returned (`m <id>`,
//! `p <key>`, `e <id>`, `d <id>`, `c <pattern id>`), flushed at once. COUNT 0 means
//! write until killed. `WRITER_TASKS=N` runs N such loops concurrently (tags
//! `TAG-0`..), so writes also go through group commit. Any error is printed to stderr
//! and exits with status 1.

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
    let tasks: usize = match std::env::var("WRITER_TASKS") {
        Ok(v) => v.parse().context("WRITER_TASKS")?,
        Err(_) => 1,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = SqliteStore::open(db).await?;
        if tasks <= 1 {
            return run(store, tag.clone(), count, pattern).await;
        }
        let mut set = tokio::task::JoinSet::new();
        for t in 0..tasks {
            set.spawn(run(store.clone(), format!("{tag}-{t}"), count, pattern));
        }
        while let Some(r) = set.join_next().await {
            r??;
        }
        Ok(())
    })
}

/// Prints one acknowledgement line, flushed before the next write starts.
fn ack(line: std::fmt::Arguments<'_>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(line)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

async fn run(store: SqliteStore, tag: String, count: u64, pattern: Option<RecordId>) -> Result<()> {
    let mut i = 0u64;
    while count == 0 || i < count {
        let m = store
            .put_memory(NewMemory::new(format!("{tag} memory {i}")).with_scope(Scope::user(&tag)))
            .await?;
        ack(format_args!("m {}", m.id))?;
        let key = format!("{tag}.{i}");
        store
            .store_preference(NewPreference::new(key.clone(), i))
            .await?;
        ack(format_args!("p {key}"))?;
        let e = store
            .record_learning_event(NewLearningEvent {
                scope: Scope::user(&tag),
                event_type: "success".into(),
                task_description: format!("task {i}"),
                outcome: "ok".into(),
                reward: Reward::new(0.5)?,
                metadata: Metadata::new().with("i", i),
            })
            .await?;
        ack(format_args!("e {}", e.id))?;
        let d = store
            .record_decision(NewDecision {
                scope: Scope::user(&tag),
                agent_type: "writer".into(),
                context: format!("round {i}"),
                options: vec!["a".into(), "b".into()],
                chosen_option: "a".into(),
                reasoning: String::new(),
                metadata: Default::default(),
            })
            .await?;
        ack(format_args!("d {}", d.id))?;
        if let Some(p) = pattern {
            store
                .record_pattern_outcome(p, PatternOutcome::Success)
                .await?;
            ack(format_args!("c {p}"))?;
        }
        i += 1;
    }
    Ok(())
}
