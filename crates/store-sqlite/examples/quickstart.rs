//! Remembers a few things in `data/memory.db` (or the path given) and recalls them.
//!
//! `cargo run -p store-sqlite --example quickstart -- [DB] [QUERY]`

use memory_core::*;
use store_sqlite::SqliteStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let db = args.next().unwrap_or_else(|| "data/memory.db".into());
    let query = args
        .next()
        .unwrap_or_else(|| "how do I fix a moved value".into());
    let store = SqliteStore::open(&db).await?;
    let me = Scope::user("you");

    store
        .store_preference(NewPreference::new("editor.indent", "4 spaces").with_scope(me.clone()))
        .await?;
    store
        .put_memory(
            NewMemory::new("The release checklist lives in docs/release.md").with_scope(me.clone()),
        )
        .await?;
    let fix = NewPattern::new(
        "error_fix",
        "E0382: borrow of moved value in a loop",
        "clone before the move, or borrow with &",
    )
    .with_language("rust")
    .with_scope(me.clone());
    let w = store.store_pattern(fix).await?;
    let decision = store
        .record_decision(NewDecision {
            scope: me.clone(),
            agent_type: "coder".into(),
            context: "which test runner".into(),
            options: vec!["cargo test".into(), "cargo nextest".into()],
            chosen_option: "cargo nextest".into(),
            reasoning: "parallel and faster".into(),
            metadata: Default::default(),
        })
        .await?;
    store
        .update_decision_outcome(decision.id, "suite ran faster", Reward::new(0.8)?)
        .await?;

    println!("store: {}", store.path().display());
    println!(
        "pattern #{} now has {} successes",
        w.pattern.id, w.pattern.success_count
    );
    println!("patterns matching {query:?}:");
    for hit in store
        .search_patterns(&query, &PatternQuery::new(me.clone(), 3))
        .await?
    {
        println!(
            "  [{:.2}] {} -> {}",
            hit.score, hit.pattern.context, hit.pattern.solution
        );
    }
    println!("stats: {:?}", store.stats().await?);
    Ok(())
}
