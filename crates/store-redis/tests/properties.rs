//! Property tests of this crate's own invariants: the scope encoding is injective, and
//! the server keeps exactly the window (and variables) a simple in-process model keeps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use memory_core::{
    ContextMessage, Role, Scope, ShortTermMemory, Timestamp, WindowLimit, estimate_tokens,
};
use proptest::prelude::*;
use serde_json::json;
use store_redis::RedisShortTerm;
use store_redis::layout::{ScopeKeys, parse_scope_tag, scope_tag};

/// Strings built to collide if the encoding were naive: separators, braces, colons,
/// escapes, the encoding's own letters, whitespace, control characters and unicode.
fn adversarial() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "u", "a", "s", "=", ",", ":", "{", "}", "%", "%2C", "%25", "v", "-", "_", ".", "~",
            " ", "\n", "\0", "é", "🦀", "\u{202e}", "*", "?", "[", "]", "\\", "\"", "AB",
        ]),
        0..5,
    )
    .prop_map(|parts| parts.concat())
}

/// Over a tiny alphabet, so equal and nearly equal scopes come up often.
fn small() -> impl Strategy<Value = String> {
    "[a,=]{0,2}"
}

fn scope_of(part: impl Strategy<Value = String> + Clone) -> impl Strategy<Value = Scope> {
    (
        prop::option::of(part.clone()),
        prop::option::of(part.clone()),
        prop::option::of(part),
    )
        .prop_map(|(user, agent, session)| Scope {
            user,
            agent,
            session,
        })
}

fn any_scope() -> impl Strategy<Value = Scope> {
    prop_oneof![scope_of(adversarial().boxed()), scope_of(small().boxed())]
}

/// Every key a scope can use: its fixed keys and a variable key per name.
fn all_keys(prefix: &str, scope: &Scope, names: &[String]) -> Vec<String> {
    let k = ScopeKeys::new(prefix, scope);
    let mut out = vec![k.index(), k.window(), k.window_tokens()];
    out.extend(names.iter().map(|n| k.variable(n)));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// The tag decodes back to the scope, so distinct scopes have distinct tags; it holds
    /// no brace, so it is every key's cluster hash tag.
    #[test]
    fn scope_tag_round_trips(scope in any_scope()) {
        let tag = scope_tag(&scope);
        prop_assert!(!tag.contains('{') && !tag.contains('}'), "{tag}");
        prop_assert!(tag.bytes().all(|b| b.is_ascii_graphic()), "{tag}");
        prop_assert_eq!(parse_scope_tag(&tag), Some(scope));
    }

    /// Distinct scopes give distinct tags, and no key of one scope is a key of another.
    #[test]
    fn distinct_scopes_share_no_key(
        a in any_scope(),
        b in any_scope(),
        names_a in prop::collection::vec(adversarial(), 0..4),
        names_b in prop::collection::vec(adversarial(), 0..4),
    ) {
        prop_assert_eq!(scope_tag(&a) == scope_tag(&b), a == b);
        let ka = all_keys("brain", &a, &names_a);
        let kb = all_keys("brain", &b, &names_b);
        if a != b {
            for k in &ka {
                prop_assert!(!kb.contains(k), "{a:?} and {b:?} share {k:?}");
            }
        }
        // Within one scope, a variable key is never one of the fixed keys, and distinct
        // names give distinct keys.
        let mut names = names_a.clone();
        names.sort();
        names.dedup();
        let mut keys = all_keys("brain", &a, &names);
        let n = keys.len();
        keys.sort();
        keys.dedup();
        prop_assert_eq!(keys.len(), n);
    }
}

/// What the in-process implementation keeps: push, then drop the oldest while more than
/// one message is left and the window is over either bound.
#[derive(Default)]
struct WindowModel {
    window: VecDeque<ContextMessage>,
}

impl WindowModel {
    fn push(&mut self, m: ContextMessage, limit: WindowLimit) {
        self.window.push_back(m);
        loop {
            let tokens: usize = self
                .window
                .iter()
                .map(|m| estimate_tokens(&m.content))
                .sum();
            let over = self.window.len() > limit.max_messages
                || limit.max_tokens.is_some_and(|t| tokens > t);
            if self.window.len() > 1 && over {
                self.window.pop_front();
            } else {
                break;
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Push {
    role: Role,
    len: usize,
    limit: WindowLimit,
}

fn push_strategy() -> impl Strategy<Value = Push> {
    (
        prop::sample::select(vec![Role::System, Role::User, Role::Assistant, Role::Tool]),
        0usize..60,
        1usize..7,
        prop::option::of(0usize..40),
    )
        .prop_map(|(role, len, max_messages, max_tokens)| Push {
            role,
            len,
            limit: WindowLimit {
                max_messages,
                max_tokens,
            },
        })
}

#[derive(Debug, Clone)]
enum VarOp {
    Set(String, i64),
    SetExpired(String),
    Remove(String),
    Clear,
}

fn var_op() -> impl Strategy<Value = VarOp> {
    let name = "[abc]{1,2}";
    prop_oneof![
        4 => (name, any::<i64>()).prop_map(|(k, v)| VarOp::Set(k, v)),
        1 => name.prop_map(VarOp::SetExpired),
        2 => name.prop_map(VarOp::Remove),
        1 => Just(VarOp::Clear),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn next_scope(test: &str) -> Scope {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    Scope::user(test).with_session(NEXT.fetch_add(1, Ordering::Relaxed).to_string())
}

/// A random sequence of pushes with random limits leaves, after every push, exactly the
/// window the model keeps.
#[test]
fn window_matches_the_model() {
    let rt = runtime();
    let stm: RedisShortTerm = rt.block_on(common::fresh("window_model"));
    let prefix = stm.prefix().to_owned();
    proptest!(ProptestConfig::with_cases(64), |(pushes in prop::collection::vec(push_strategy(), 1..40))| {
        let s = next_scope("window");
        let mut model = WindowModel::default();
        rt.block_on(async {
            for (i, p) in pushes.iter().enumerate() {
                let m = ContextMessage {
                    role: p.role,
                    content: format!("{i}:{}", "x".repeat(p.len)),
                    at: Timestamp::from_millis(1_700_000_000_000 + i as i64),
                };
                model.push(m.clone(), p.limit);
                stm.push_message(&s, m, p.limit).await.unwrap();
                let got = stm.window(&s).await.unwrap();
                assert_eq!(got, Vec::from(model.window.clone()), "after push {i} of {pushes:?}");
            }
            stm.clear(&s).await.unwrap();
        });
    });
    rt.block_on(async {
        assert_eq!(common::keys_under(&prefix).await, Vec::<String>::new());
    });
}

/// Random sets, expired sets, removes and clears leave the variables a map would hold.
#[test]
fn variables_match_the_model() {
    let rt = runtime();
    let stm: RedisShortTerm = rt.block_on(common::fresh("variables_model"));
    let prefix = stm.prefix().to_owned();
    proptest!(ProptestConfig::with_cases(64), |(ops in prop::collection::vec(var_op(), 1..30))| {
        let s = next_scope("vars");
        let mut model: BTreeMap<String, i64> = BTreeMap::new();
        rt.block_on(async {
            for op in &ops {
                match op {
                    VarOp::Set(k, v) => {
                        model.insert(k.clone(), *v);
                        stm.set(&s, k, json!(v), None).await.unwrap();
                    }
                    VarOp::SetExpired(k) => {
                        model.remove(k);
                        stm.set(&s, k, json!(0), Some(Duration::ZERO)).await.unwrap();
                    }
                    VarOp::Remove(k) => {
                        let had = model.remove(k).is_some();
                        assert_eq!(stm.remove(&s, k).await.unwrap(), had, "{op:?} in {ops:?}");
                    }
                    VarOp::Clear => {
                        model.clear();
                        stm.clear(&s).await.unwrap();
                    }
                }
                let keys: Vec<String> = model.keys().cloned().collect();
                assert_eq!(stm.keys(&s).await.unwrap(), keys, "after {op:?} in {ops:?}");
                for (k, v) in &model {
                    assert_eq!(stm.get(&s, k).await.unwrap(), Some(json!(v)));
                }
            }
            stm.clear(&s).await.unwrap();
        });
    });
    rt.block_on(async {
        assert_eq!(common::keys_under(&prefix).await, Vec::<String>::new());
    });
}
