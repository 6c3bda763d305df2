//! The seed's SmartRouter as a table-driven test: every rule gives the seed's provider,
//! model and fallback; then the whole input space against a line-by-line transcription
//! of the seed's Python.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use llm_router::{Complexity, RouteRequest, RoutingTable, TaskType};

use Complexity::*;
use TaskType::*;

/// (task, complexity, context_length, require_fast, require_cheap) →
/// (rule, provider, model, fallback, reason)
type Case = (
    (TaskType, Complexity, u64, bool, bool),
    (
        &'static str,
        &'static str,
        &'static str,
        Option<(&'static str, &'static str)>,
        &'static str,
    ),
);

const CLAUDE: &str = "claude-sonnet-4-20250514";

fn cases(local: &'static str) -> Vec<Case> {
    vec![
        (
            (Chat, Simple, 0, true, true),
            (
                "fast_and_cheap",
                "ollama",
                local,
                None,
                "Fast and cheap requirement - using local LLM",
            ),
        ),
        // Fast and cheap wins over everything, even complex reasoning and long context.
        (
            (Reasoning, Complex, 100_000, true, true),
            (
                "fast_and_cheap",
                "ollama",
                local,
                None,
                "Fast and cheap requirement - using local LLM",
            ),
        ),
        (
            (Reasoning, Complex, 0, false, false),
            (
                "complex_reasoning",
                "anthropic",
                CLAUDE,
                Some(("openai", "gpt-4o")),
                "Complex reasoning requires best chain-of-thought capability",
            ),
        ),
        // Only one of fast/cheap does not count.
        (
            (Reasoning, Complex, 0, true, false),
            (
                "complex_reasoning",
                "anthropic",
                CLAUDE,
                Some(("openai", "gpt-4o")),
                "Complex reasoning requires best chain-of-thought capability",
            ),
        ),
        (
            (CodeGeneration, Medium, 0, false, false),
            (
                "code_generation",
                "anthropic",
                CLAUDE,
                Some(("ollama", "deepseek-coder:33b")),
                "Code generation benefits from larger model",
            ),
        ),
        (
            (CodeGeneration, Complex, 0, false, true),
            (
                "code_generation",
                "anthropic",
                CLAUDE,
                Some(("ollama", "deepseek-coder:33b")),
                "Code generation benefits from larger model",
            ),
        ),
        // Simple code generation falls through to the default.
        (
            (CodeGeneration, Simple, 0, false, false),
            (
                "default",
                "ollama",
                local,
                Some(("anthropic", CLAUDE)),
                "Default to local for cost efficiency",
            ),
        ),
        (
            (Reasoning, Medium, 32_001, false, false),
            (
                "long_context",
                "anthropic",
                CLAUDE,
                None,
                "Long context requires Claude's 200k window",
            ),
        ),
        // The threshold is strict: 32 000 is not long.
        (
            (Reasoning, Medium, 32_000, false, false),
            (
                "default",
                "ollama",
                local,
                Some(("anthropic", CLAUDE)),
                "Default to local for cost efficiency",
            ),
        ),
        // Long context comes before embeddings in the seed.
        (
            (Embedding, Simple, 50_000, false, false),
            (
                "long_context",
                "anthropic",
                CLAUDE,
                None,
                "Long context requires Claude's 200k window",
            ),
        ),
        (
            (Embedding, Simple, 0, false, false),
            (
                "embeddings",
                "ollama",
                "nomic-embed-text",
                None,
                "Embeddings are efficient locally",
            ),
        ),
        (
            (Embedding, Complex, 0, true, false),
            (
                "embeddings",
                "ollama",
                "nomic-embed-text",
                None,
                "Embeddings are efficient locally",
            ),
        ),
        (
            (Classification, Simple, 0, false, false),
            (
                "classification",
                "ollama",
                local,
                Some(("lmstudio", "local-model")),
                "Classification is fast locally",
            ),
        ),
        (
            (Classification, Complex, 0, false, true),
            (
                "classification",
                "ollama",
                local,
                Some(("lmstudio", "local-model")),
                "Classification is fast locally",
            ),
        ),
        (
            (Summarization, Complex, 0, false, false),
            (
                "default",
                "ollama",
                local,
                Some(("anthropic", CLAUDE)),
                "Default to local for cost efficiency",
            ),
        ),
        (
            (Chat, Medium, 0, false, false),
            (
                "default",
                "ollama",
                local,
                Some(("anthropic", CLAUDE)),
                "Default to local for cost efficiency",
            ),
        ),
        (
            (Reasoning, Simple, 0, false, false),
            (
                "default",
                "ollama",
                local,
                Some(("anthropic", CLAUDE)),
                "Default to local for cost efficiency",
            ),
        ),
    ]
}

fn check(table: &RoutingTable, cases: &[Case]) {
    for ((task, complexity, context, fast, cheap), (rule, provider, model, fallback, reason)) in
        cases
    {
        let request = RouteRequest::new(*task, *complexity)
            .with_context_length(*context)
            .fast_and_cheap(*fast, *cheap);
        let d = table
            .route(&request)
            .unwrap_or_else(|e| panic!("{request:?}: {e}"));
        let what = format!("{request:?}");
        assert_eq!(d.rule, *rule, "{what}");
        assert_eq!(
            (d.target.provider.as_str(), d.target.model.as_str()),
            (*provider, *model),
            "{what}"
        );
        let fb: Vec<(&str, &str)> = d
            .fallbacks
            .iter()
            .map(|t| (t.provider.as_str(), t.model.as_str()))
            .collect();
        assert_eq!(fb, fallback.iter().copied().collect::<Vec<_>>(), "{what}");
        assert_eq!(d.reason, *reason, "{what}");
    }
}

#[test]
fn every_seed_rule_gives_the_seeds_target_and_fallback() {
    check(&RoutingTable::seed("llama3.1:8b"), &cases("llama3.1:8b"));
    check(&RoutingTable::default(), &cases("llama3.1:8b"));
}

#[test]
fn the_seeds_ollama_model_setting_replaces_the_local_model() {
    check(&RoutingTable::seed("qwen2.5:14b"), &cases("qwen2.5:14b"));
}

/// The seed's `SmartRouter.route`, transcribed line by line (the reference).
fn seed_route(
    task: TaskType,
    c: Complexity,
    ctx: u64,
    fast: bool,
    cheap: bool,
    local: &str,
) -> (String, String, Option<(String, String)>) {
    let s = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    if fast && cheap {
        let (p, m) = s("ollama", local);
        return (p, m, None);
    }
    if task == Reasoning && c == Complex {
        let (p, m) = s("anthropic", CLAUDE);
        return (p, m, Some(s("openai", "gpt-4o")));
    }
    if task == CodeGeneration && c != Simple {
        let (p, m) = s("anthropic", CLAUDE);
        return (p, m, Some(s("ollama", "deepseek-coder:33b")));
    }
    if ctx > 32000 {
        let (p, m) = s("anthropic", CLAUDE);
        return (p, m, None);
    }
    if task == Embedding {
        let (p, m) = s("ollama", "nomic-embed-text");
        return (p, m, None);
    }
    if task == Classification {
        let (p, m) = s("ollama", local);
        return (p, m, Some(s("lmstudio", "local-model")));
    }
    let (p, m) = s("ollama", local);
    (p, m, Some(s("anthropic", CLAUDE)))
}

#[test]
fn the_table_equals_the_seed_on_every_input() {
    let table = RoutingTable::seed("llama3.1:8b");
    let mut n = 0;
    for task in TaskType::ALL {
        for c in Complexity::ALL {
            for ctx in [0, 1, 31_999, 32_000, 32_001, 200_000, u64::MAX] {
                for fast in [false, true] {
                    for cheap in [false, true] {
                        let r = RouteRequest::new(task, c)
                            .with_context_length(ctx)
                            .fast_and_cheap(fast, cheap);
                        let d = table.route(&r).unwrap_or_else(|e| panic!("{r:?}: {e}"));
                        let (p, m, fb) = seed_route(task, c, ctx, fast, cheap, "llama3.1:8b");
                        assert_eq!((d.target.provider, d.target.model), (p, m), "{r:?}");
                        assert_eq!(
                            d.fallbacks
                                .first()
                                .map(|t| (t.provider.clone(), t.model.clone())),
                            fb,
                            "{r:?}"
                        );
                        assert!(d.fallbacks.len() <= 1, "the seed has at most one fallback");
                        n += 1;
                    }
                }
            }
        }
    }
    assert_eq!(n, 6 * 3 * 7 * 4);
}

#[test]
fn the_seed_table_round_trips_through_serde() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Doc {
        routes: Vec<llm_router::Rule>,
    }
    let table = RoutingTable::seed("llama3.1:8b");
    let text = serde_json::json!({ "routes": table.rules }).to_string();
    let back: Doc = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(RoutingTable { rules: back.routes }, table);
}

#[test]
fn invalid_tables_are_refused() {
    let mut t = RoutingTable::seed("llama3.1:8b");
    t.rules.pop();
    assert!(t.validate().is_err(), "no catch-all last rule");
    let mut t = RoutingTable::seed("llama3.1:8b");
    t.rules[1].name = t.rules[0].name.clone();
    assert!(t.validate().is_err(), "duplicate names");
    assert!(RoutingTable { rules: vec![] }.validate().is_err());
    assert!(RoutingTable::seed("x").validate().is_ok());
}
