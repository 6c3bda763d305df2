#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Invariants of the facade under arbitrary sequences of operations.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use brain::{Brain, RecallMode, RecallQuery};
use memory_core::{MemoryFilter, MemoryId, NewMemory, Scope};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Remember {
        user: u8,
        session: Option<u8>,
        word: u8,
    },
    Forget {
        pick: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..3, proptest::option::of(0u8..2), 0u8..6)
            .prop_map(|(user, session, word)| Op::Remember { user, session, word }),
        1 => any::<usize>().prop_map(|pick| Op::Forget { pick }),
    ]
}

const WORDS: [&str; 6] = [
    "deploy", "rollback", "database", "cache", "queue", "billing",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever was remembered and forgotten: the index holds exactly the live memories,
    /// no recall returns a forgotten memory, and none returns another user's.
    #[test]
    fn store_and_index_agree_and_scopes_hold(ops in proptest::collection::vec(op(), 1..30)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let b = Brain::builder()
                .store(brain_engines::sqlite_in_memory().unwrap())
                .embedder(Arc::new(embed::HashingEmbedder::new(64).unwrap()))
                .index(brain_engines::exact_index(64).unwrap())
                .build()
                .await
                .unwrap();
            let mut live: HashMap<MemoryId, u8> = HashMap::new();
            let mut forgotten: HashSet<MemoryId> = HashSet::new();
            for (i, op) in ops.iter().enumerate() {
                match op {
                    Op::Remember { user, session, word } => {
                        let mut scope = Scope::user(format!("u{user}"));
                        if let Some(s) = session {
                            scope = scope.with_session(format!("s{s}"));
                        }
                        let m = b
                            .remember(
                                NewMemory::new(format!("note {i} about the {}", WORDS[*word as usize]))
                                    .with_scope(scope),
                            )
                            .await
                            .unwrap();
                        live.insert(m.id, *user);
                    }
                    Op::Forget { pick } => {
                        if live.is_empty() {
                            continue;
                        }
                        let mut ids: Vec<MemoryId> = live.keys().copied().collect();
                        ids.sort();
                        let id = ids[pick % ids.len()];
                        prop_assert!(b.forget(id).await.unwrap());
                        live.remove(&id);
                        forgotten.insert(id);
                    }
                }
            }
            let st = b.stats().await.unwrap();
            prop_assert_eq!(st.indexed, live.len());
            prop_assert_eq!(b.count(&MemoryFilter::default()).await.unwrap(), live.len() as u64);
            for user in 0u8..3 {
                for mode in [RecallMode::Hybrid, RecallMode::Vector, RecallMode::Keyword] {
                    for word in WORDS {
                        let q = RecallQuery::new(format!("the {word}"), Scope::user(format!("u{user}")))
                            .with_k(50)
                            .with_mode(mode);
                        for h in b.recall(&q).await.unwrap() {
                            prop_assert!(!forgotten.contains(&h.memory.id), "forgotten memory recalled");
                            prop_assert_eq!(live.get(&h.memory.id), Some(&user), "another user's memory");
                        }
                    }
                }
                // Vector recall with k >= what the user owns returns all of it.
                let owned = live.values().filter(|u| **u == user).count();
                if owned > 0 {
                    let q = RecallQuery::new("note", Scope::user(format!("u{user}")))
                        .with_k(owned)
                        .with_mode(RecallMode::Vector);
                    prop_assert_eq!(b.recall(&q).await.unwrap().len(), owned);
                }
            }
            Ok(())
        })?;
    }
}
