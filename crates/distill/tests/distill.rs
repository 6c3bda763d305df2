//! Distillation over a real store (SQLite in memory), the hashing embedder, and an
//! Ollama-protocol server (wiremock) or no LLM at all.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use memory_core::RecordStoreExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use distill::{
    Action, DistillOptions, DistillReport, Grouping, KnowledgeDistiller, Provenance, mark_stale,
    parse_distilled, parse_groups,
};
use llm_router::providers::ollama::OllamaConfig;
use llm_router::{Complexity, LlmConfig, ProviderConfig, RouteRequest, TaskType};
use memory_core::{CodePattern, NewPattern, PatternQuery, RecordId, Scope, TextModel};
use proptest::prelude::*;
use serde_json::{Value, json};
use store_sqlite::SqliteStore;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TYPE: &str = "error_fix";

/// Four topics with disjoint vocabularies.
const TOPICS: [(&str, [&str; 8]); 4] = [
    (
        "retry",
        [
            "http",
            "request",
            "connection",
            "reset",
            "retry",
            "backoff",
            "jitter",
            "timeout",
        ],
    ),
    (
        "sql",
        [
            "database",
            "query",
            "index",
            "postgres",
            "migration",
            "column",
            "table",
            "schema",
        ],
    ),
    (
        "borrow",
        [
            "borrow",
            "checker",
            "lifetime",
            "reference",
            "mutable",
            "clone",
            "ownership",
            "struct",
        ],
    ),
    (
        "docker",
        [
            "docker",
            "container",
            "image",
            "layer",
            "volume",
            "compose",
            "build",
            "registry",
        ],
    ),
];

/// Pattern `k` of a topic: six of its eight words, rotated, plus a unique token.
fn topic_pattern(words: &[&str; 8], k: usize, tag: &str) -> (String, String) {
    let pick =
        |offset: usize| -> Vec<&str> { (0..6).map(|i| words[(i + k + offset) % 8]).collect() };
    let context = format!("{} case{k}{tag}", pick(0).join(" "));
    let solution = format!("fix {} variant{k}{tag}", pick(3).join(" "));
    (context, solution)
}

/// Stores `per_topic` patterns of each topic; returns each id's topic label.
async fn seed(
    store: &SqliteStore,
    scope: &Scope,
    per_topic: usize,
) -> HashMap<RecordId, &'static str> {
    let mut labels = HashMap::new();
    for (label, words) in TOPICS {
        for k in 0..per_topic {
            let (context, solution) = topic_pattern(&words, k, label);
            let mut p = NewPattern::new(TYPE, context, solution);
            p.scope = scope.clone();
            p.language = Some("rust".into());
            let w = store.store_pattern(p).await.unwrap();
            assert!(w.inserted);
            labels.insert(w.pattern.id, label);
        }
    }
    labels
}

fn embedder() -> Arc<embed::HashingEmbedder> {
    Arc::new(embed::HashingEmbedder::new(256).unwrap())
}

fn distiller(store: &Arc<SqliteStore>, llm: Option<Arc<dyn TextModel>>) -> KnowledgeDistiller {
    KnowledgeDistiller::new(store.clone(), embedder(), llm)
}

/// Fraction of patterns whose group's majority label is theirs (singletons count).
fn purity(report: &DistillReport, labels: &HashMap<RecordId, &str>) -> f64 {
    let mut groups: Vec<Vec<RecordId>> = report.groups.clone();
    groups.extend(report.singletons.iter().map(|&id| vec![id]));
    let mut agree = 0usize;
    let mut total = 0usize;
    for g in &groups {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for id in g {
            *counts.entry(labels[id]).or_default() += 1;
        }
        agree += counts.values().max().copied().unwrap_or(0);
        total += g.len();
    }
    agree as f64 / total as f64
}

async fn distilled(store: &SqliteStore, scope: &Scope) -> Vec<CodePattern> {
    let mut q = PatternQuery::new(scope.clone(), 1000);
    q.pattern_type = Some(format!("distilled_{TYPE}"));
    let mut v = store.list_patterns(&q).await.unwrap();
    v.sort_by_key(|p| p.id);
    v
}

#[tokio::test]
async fn grouping_is_pure_on_labelled_topics() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let scope = Scope::user("ada");
    let labels = seed(&store, &scope, 5).await;
    let report = distiller(&store, None)
        .distill(&scope, TYPE, &DistillOptions::default())
        .await
        .unwrap();
    let p = purity(&report, &labels);
    let grouped: usize = report.groups.iter().map(Vec::len).sum();
    println!(
        "purity {p:.3}; {} groups covering {grouped}/20 patterns; singletons {:?}",
        report.groups.len(),
        report.singletons
    );
    assert_eq!(report.considered, 20);
    assert!(p >= 0.9, "purity {p}");
    assert!(
        grouped >= 18,
        "only {grouped} of 20 patterns grouped: {report:?}"
    );
    assert_eq!(report.grouping, Grouping::Embedding);
    assert_eq!(report.llm_calls, 0);
}

#[tokio::test]
async fn distilled_patterns_carry_provenance_and_group_size() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let scope = Scope::user("ada");
    let labels = seed(&store, &scope, 5).await;
    let report = distiller(&store, None)
        .distill(&scope, TYPE, &DistillOptions::default())
        .await
        .unwrap();
    assert_eq!(report.created.len(), report.groups.len());
    assert!(report.updated.is_empty() && report.unchanged.is_empty());

    let stored = distilled(&store, &scope).await;
    assert_eq!(stored.len(), report.groups.len(), "stored once each");
    for (outcome, group) in report.outcomes.iter().zip(&report.groups) {
        let p = stored
            .iter()
            .find(|p| p.id == outcome.distilled_id)
            .unwrap();
        let prov = Provenance::from_metadata(&p.metadata).unwrap();
        assert_eq!(&prov.distilled_from, group);
        assert_eq!(prov.source_count, group.len());
        assert_eq!(p.success_count, group.len() as u64);
        assert_eq!(prov.method, "extractive");
        assert!(!prov.stale);
        assert!((0.0..=1.0).contains(&prov.confidence));
        assert_eq!(p.scope, scope);
        assert_eq!(p.language.as_deref(), Some("rust"));
        // The medoid's solution, and context words of the group's own topic.
        let label = labels[&group[0]];
        assert!(p.solution.ends_with(label), "{}", p.solution);
        assert!(!p.context.is_empty());
        let words = TOPICS.iter().find(|t| t.0 == label).unwrap().1;
        assert!(
            p.context.split(", ").all(|w| words.contains(&w)),
            "context {:?} of {label}",
            p.context
        );
    }
    // The report serialises with the documented names.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["grouping"], "embedding");
    assert_eq!(json["outcomes"][0]["action"], "created");
    assert_eq!(json["outcomes"][0]["method"], "extractive");
    let back: DistillReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);
}

#[tokio::test]
async fn rerun_updates_rather_than_duplicates() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let scope = Scope::user("ada");
    seed(&store, &scope, 5).await;
    let d = distiller(&store, None);
    let opts = DistillOptions::default();
    let first = d.distill(&scope, TYPE, &opts).await.unwrap();
    let n = first.created.len();
    assert!(n >= 4);

    let second = d.distill(&scope, TYPE, &opts).await.unwrap();
    assert!(second.created.is_empty() && second.updated.is_empty());
    assert_eq!(second.unchanged.len(), n);
    assert_eq!(distilled(&store, &scope).await.len(), n);

    // A sixth retry pattern: its group grows (Jaccard 5/6) and is updated in place.
    let (context, solution) = topic_pattern(&TOPICS[0].1, 5, "retry");
    let mut p = NewPattern::new(TYPE, context, solution);
    p.scope = scope.clone();
    let new_id = store.store_pattern(p).await.unwrap().pattern.id;
    let third = d.distill(&scope, TYPE, &opts).await.unwrap();
    assert!(third.created.is_empty(), "{third:?}");
    assert_eq!(third.updated.len(), 1);
    let stored = distilled(&store, &scope).await;
    assert_eq!(stored.len(), n);
    let grown = stored.iter().find(|p| p.id == third.updated[0]).unwrap();
    let prov = Provenance::from_metadata(&grown.metadata).unwrap();
    assert!(prov.distilled_from.contains(&new_id));
    assert_eq!(grown.success_count, prov.distilled_from.len() as u64);

    // Forced, everything is distilled again but, being deterministic, says the same.
    let forced = d
        .distill(
            &scope,
            TYPE,
            &DistillOptions {
                force: true,
                ..opts
            },
        )
        .await
        .unwrap();
    assert_eq!(forced.unchanged.len(), n, "{forced:?}");
}

#[tokio::test]
async fn deleting_a_source_marks_stale() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let scope = Scope::user("ada");
    seed(&store, &scope, 5).await;
    let d = distiller(&store, None);
    let report = d
        .distill(&scope, TYPE, &DistillOptions::default())
        .await
        .unwrap();
    let victim = report.groups[0][0];
    assert!(store.delete_pattern(victim).await.unwrap());
    let marked = mark_stale(store.as_ref(), &scope, victim).await.unwrap();
    assert_eq!(marked, vec![report.outcomes[0].distilled_id]);
    for p in distilled(&store, &scope).await {
        let prov = Provenance::from_metadata(&p.metadata).unwrap();
        assert_eq!(prov.stale, marked.contains(&p.id), "pattern {}", p.id);
    }
    // Marking again reports it again without changing anything; an unknown id marks none.
    assert_eq!(d.mark_stale(&scope, victim).await.unwrap(), marked);
    assert!(
        mark_stale(store.as_ref(), &scope, 9999)
            .await
            .unwrap()
            .is_empty()
    );

    // The next run refreshes it (4 of 5 sources remain: Jaccard 0.8) and clears the flag.
    let rerun = d
        .distill(&scope, TYPE, &DistillOptions::default())
        .await
        .unwrap();
    assert_eq!(rerun.updated, marked);
    assert!(rerun.created.is_empty());
    let p = store.get_pattern(marked[0]).await.unwrap().unwrap();
    let prov = Provenance::from_metadata(&p.metadata).unwrap();
    assert!(!prov.stale);
    assert!(!prov.distilled_from.contains(&victim));
    assert_eq!(p.success_count, 4);
}

#[tokio::test]
async fn fewer_than_three_is_nothing_to_do() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let scope = Scope::global();
    for c in ["one context", "two context"] {
        store
            .store_pattern(NewPattern::new(TYPE, c, "solution"))
            .await
            .unwrap();
    }
    let report = distiller(&store, None)
        .distill(&scope, TYPE, &DistillOptions::default())
        .await
        .unwrap();
    assert_eq!(report.considered, 2);
    assert!(report.skipped.is_some());
    assert!(report.groups.is_empty() && report.created.is_empty());
    assert!(distilled(&store, &scope).await.is_empty());
    let bad = DistillOptions {
        min_group_size: 1,
        ..DistillOptions::default()
    };
    assert!(
        distiller(&store, None)
            .distill(&scope, TYPE, &bad)
            .await
            .is_err()
    );
}

// ---- an Ollama-protocol server ----

/// Answers `/api/chat` by the kind of prompt, and records every prompt.
struct Model {
    grouping: String,
    distilling: fn(&str) -> String,
    prompts: Arc<Mutex<Vec<String>>>,
}

impl Respond for Model {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let prompt = body["messages"].as_array().unwrap().last().unwrap()["content"]
            .as_str()
            .unwrap()
            .to_owned();
        self.prompts.lock().unwrap().push(prompt.clone());
        let text = if prompt.starts_with("Group these") {
            self.grouping.clone()
        } else {
            (self.distilling)(&prompt)
        };
        ResponseTemplate::new(200).set_body_json(json!({
            "model": body["model"], "created_at": "2025-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": text},
            "done": true, "done_reason": "stop", "prompt_eval_count": 100, "eval_count": 10
        }))
    }
}

async fn ollama(
    grouping: &str,
    distilling: fn(&str) -> String,
) -> (MockServer, Arc<dyn TextModel>, Arc<Mutex<Vec<String>>>) {
    let server = MockServer::start().await;
    let prompts = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(Model {
            grouping: grouping.to_owned(),
            distilling,
            prompts: prompts.clone(),
        })
        .mount(&server)
        .await;
    let mut config = LlmConfig {
        providers: vec![ProviderConfig::Ollama(OllamaConfig {
            name: "ollama".into(),
            base_url: server.uri(),
        })],
        ..LlmConfig::default()
    };
    config.resilience.max_retries = 0;
    let router = Arc::new(config.build().unwrap());
    let model: Arc<dyn TextModel> = Arc::new(router.text_model(RouteRequest::new(
        TaskType::Summarization,
        Complexity::Simple,
    )));
    (server, model, prompts)
}

/// A well-formed answer naming the group's first example, in an odd order and case.
fn good_answer(prompt: &str) -> String {
    let first = prompt
        .lines()
        .find_map(|l| l.strip_prefix("Context: "))
        .unwrap_or("?");
    format!(
        "Sure.\nconfidence: 0.8\nPATTERN: apply fix <X> as in {first}\n**Applicability:** when {first}\n"
    )
}

#[tokio::test]
async fn llm_distillation_sends_the_seed_prompt_and_stores_its_fields() {
    let (_server, llm, prompts) = ollama("unused", good_answer).await;
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let scope = Scope::user("ada");
    seed(&store, &scope, 5).await;
    let report = distiller(&store, Some(llm))
        .distill(&scope, TYPE, &DistillOptions::default())
        .await
        .unwrap();
    assert_eq!(report.llm_calls, report.groups.len());
    let prompts = prompts.lock().unwrap().clone();
    assert_eq!(prompts.len(), report.groups.len());
    let p0 = &prompts[0];
    assert!(p0.starts_with("Analyze these "), "{p0}");
    assert!(p0.contains("similar code patterns and extract the general knowledge."));
    assert!(p0.contains("Example 1:\nContext: "));
    assert!(p0.contains(
        "Respond in this format:\nPATTERN: (the generalized solution template)\n\
         APPLICABILITY: (when to use this pattern)\n\
         CONFIDENCE: (0.0-1.0, how reliable is this pattern)"
    ));
    assert!(!p0.contains("Example 6:"), "at most five examples");

    for p in distilled(&store, &scope).await {
        let prov = Provenance::from_metadata(&p.metadata).unwrap();
        assert_eq!(prov.method, "llm");
        assert_eq!(prov.confidence, 0.8);
        assert!(
            p.solution.starts_with("apply fix <X> as in "),
            "{}",
            p.solution
        );
        assert!(p.context.starts_with("when "), "{}", p.context);
        assert_eq!(p.success_count, prov.distilled_from.len() as u64);
    }
    assert!(report.outcomes.iter().all(|o| o.fallback.is_none()));

    // Re-running with the same sources asks the model nothing.
    let again = distiller(&store, None)
        .distill(&scope, TYPE, &DistillOptions::default())
        .await
        .unwrap();
    assert_eq!(again.unchanged.len(), report.groups.len());
}

fn garbage(_: &str) -> String {
    "I cannot help with that. \u{0}\u{FFFF} {{{{".to_owned()
}

fn partial(_: &str) -> String {
    "PATTERN: something general\nCONFIDENCE: very".to_owned()
}

#[tokio::test]
async fn malformed_llm_answers_fall_back_without_losing_anything() {
    let scope = Scope::user("ada");
    // The extractive baseline, no LLM.
    let base_store = Arc::new(SqliteStore::open_in_memory().unwrap());
    seed(&base_store, &scope, 5).await;
    let baseline = distiller(&base_store, None)
        .distill(&scope, TYPE, &DistillOptions::default())
        .await
        .unwrap();

    let bad_groupings = [
        r#"{"groups": [[1, 2, 3], [4, 99]]}"#, // out of range
        r#"{"groups": [[1, 2, 3], [3, 4]]}"#,  // duplicate
        r#"{"groups": [[1, 2], []]}"#,         // empty group
        "groups: one two three",               // not JSON
    ];
    for (grouping, answer) in bad_groupings
        .iter()
        .zip([garbage, partial, garbage, partial])
    {
        let (_server, llm, prompts) = ollama(grouping, answer).await;
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        seed(&store, &scope, 5).await;
        let opts = DistillOptions {
            use_llm_grouping: true,
            ..DistillOptions::default()
        };
        let report = distiller(&store, Some(llm))
            .distill(&scope, TYPE, &opts)
            .await
            .unwrap();
        assert_eq!(report.grouping, Grouping::LlmFallback, "{grouping}");
        assert!(report.grouping_note.is_some());
        assert_eq!(report.groups, baseline.groups, "the embedding groups");
        assert_eq!(report.llm_calls, 1 + report.groups.len());
        assert!(prompts.lock().unwrap()[0].starts_with("Group these 20 code patterns"));
        assert!(report.outcomes.iter().all(|o| o.fallback.is_some()));
        assert!(report.outcomes.iter().all(|o| o.action == Action::Created));
        // Every group stored, extractively, exactly as without an LLM.
        let got = distilled(&store, &scope).await;
        let want = distilled(&base_store, &scope).await;
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!((&g.context, &g.solution), (&w.context, &w.solution));
            assert_eq!(g.metadata, w.metadata);
        }
        // The sources are untouched.
        let mut q = PatternQuery::new(scope.clone(), 100);
        q.pattern_type = Some(TYPE.into());
        assert_eq!(store.list_patterns(&q).await.unwrap().len(), 20);
    }
}

#[tokio::test]
async fn a_valid_llm_grouping_is_used() {
    // Patterns are numbered in id order: topic t holds 5t+1 ..= 5t+5. The model merges
    // the first two topics and leaves pattern 20 out.
    let grouping = r#"Here: {"groups": [[1,2,3,4,5,6,7,8,9,10], [11,12,13,14,15], [16,17,18,19]]}"#;
    let (_server, llm, _prompts) = ollama(grouping, good_answer).await;
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let scope = Scope::user("ada");
    seed(&store, &scope, 5).await;
    let opts = DistillOptions {
        use_llm_grouping: true,
        ..DistillOptions::default()
    };
    let report = distiller(&store, Some(llm))
        .distill(&scope, TYPE, &opts)
        .await
        .unwrap();
    assert_eq!(report.grouping, Grouping::Llm);
    let sizes: Vec<usize> = report.groups.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![10, 5, 4]);
    assert_eq!(report.singletons.len(), 1);
    assert_eq!(report.llm_calls, 4);
    let big = distilled(&store, &scope)
        .await
        .into_iter()
        .find(|p| p.success_count == 10)
        .unwrap();
    // The prompt shows five of the ten examples.
    assert!(big.solution.starts_with("apply fix"));
}

#[tokio::test]
async fn llm_grouping_without_an_llm_uses_embeddings() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let scope = Scope::user("ada");
    seed(&store, &scope, 5).await;
    let opts = DistillOptions {
        use_llm_grouping: true,
        ..DistillOptions::default()
    };
    let report = distiller(&store, None)
        .distill(&scope, TYPE, &opts)
        .await
        .unwrap();
    assert_eq!(report.grouping, Grouping::Embedding);
    assert_eq!(report.llm_calls, 0);
    assert!(report.created.len() >= 4);
}

#[tokio::test]
async fn a_failing_llm_falls_back() {
    // A server that answers every chat with a 400: a failed call, not a retry loop.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "bad"})))
        .mount(&server)
        .await;
    let mut config = LlmConfig {
        providers: vec![ProviderConfig::Ollama(OllamaConfig {
            name: "ollama".into(),
            base_url: server.uri(),
        })],
        ..LlmConfig::default()
    };
    config.resilience.max_retries = 0;
    let router = Arc::new(config.build().unwrap());
    let llm: Arc<dyn TextModel> = Arc::new(router.text_model(RouteRequest::new(
        TaskType::Summarization,
        Complexity::Simple,
    )));
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let scope = Scope::user("ada");
    seed(&store, &scope, 5).await;
    let opts = DistillOptions {
        use_llm_grouping: true,
        ..DistillOptions::default()
    };
    let report = distiller(&store, Some(llm))
        .distill(&scope, TYPE, &opts)
        .await
        .unwrap();
    assert_eq!(report.grouping, Grouping::LlmFallback);
    assert!(report.created.len() >= 4);
    assert!(
        report
            .outcomes
            .iter()
            .all(|o| o.fallback.as_deref().unwrap_or("").contains("call failed"))
    );
}

proptest! {
    #[test]
    fn parse_distilled_is_total(s in any::<String>()) {
        if let Some(d) = parse_distilled(&s) {
            prop_assert!((0.0..=1.0).contains(&d.confidence));
            prop_assert!(!d.pattern.is_empty() && !d.applicability.is_empty());
        }
    }

    #[test]
    fn parse_distilled_reads_fields_in_any_order(
        pattern in "[a-z][a-z <>_]{0,30}",
        applicability in "[a-z][a-z ]{0,30}",
        confidence in -2.0f64..3.0,
        order in 0usize..6,
        upper in any::<bool>(),
    ) {
        let key = |k: &str| if upper { k.to_uppercase() } else { k.to_lowercase() };
        let mut lines = [
            format!("{}: {pattern}", key("pattern")),
            format!("{}: {applicability}", key("applicability")),
            format!("{}: {confidence}", key("confidence")),
        ];
        lines.rotate_left(order % 3);
        if order >= 3 {
            lines.swap(0, 1);
        }
        let d = parse_distilled(&lines.join("\n")).unwrap();
        prop_assert_eq!(d.pattern, pattern.trim());
        prop_assert_eq!(d.applicability, applicability.trim());
        prop_assert!((d.confidence - confidence.clamp(0.0, 1.0)).abs() < 1e-9);
    }

    #[test]
    fn parse_groups_is_total(s in any::<String>(), n in 0usize..50) {
        if let Ok(groups) = parse_groups(&s, n) {
            let mut all: Vec<usize> = groups.iter().flatten().copied().collect();
            prop_assert!(groups.iter().all(|g| !g.is_empty()));
            all.sort_unstable();
            prop_assert_eq!(all, (0..n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn parse_groups_on_json_like_input(
        groups in proptest::collection::vec(proptest::collection::vec(-3i64..30, 0..6), 0..6),
        n in 0usize..25,
    ) {
        let text = json!({"groups": groups}).to_string();
        if let Ok(parsed) = parse_groups(&text, n) {
            let mut all: Vec<usize> = parsed.iter().flatten().copied().collect();
            all.sort_unstable();
            prop_assert_eq!(all, (0..n).collect::<Vec<_>>());
        }
    }
}

fn constant(_: &str) -> String {
    "PATTERN: one template\nAPPLICABILITY: same words\nCONFIDENCE: 0.5".to_owned()
}

#[tokio::test]
async fn identical_answers_stay_separate_patterns() {
    let (_server, llm, _prompts) = ollama("unused", constant).await;
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let scope = Scope::user("ada");
    seed(&store, &scope, 5).await;
    // A distilled pattern written by hand, without provenance, holding that context.
    let mut manual = NewPattern::new(format!("distilled_{TYPE}"), "same words", "by hand");
    manual.scope = scope.clone();
    let manual = store.store_pattern(manual).await.unwrap().pattern;

    let d = distiller(&store, Some(llm));
    let report = d
        .distill(&scope, TYPE, &DistillOptions::default())
        .await
        .unwrap();
    assert_eq!(report.created.len(), 4);
    let stored = distilled(&store, &scope).await;
    assert_eq!(stored.len(), 5);
    let contexts: std::collections::HashSet<&str> =
        stored.iter().map(|p| p.context.as_str()).collect();
    assert_eq!(contexts.len(), 5, "{contexts:?}");
    let untouched = store.get_pattern(manual.id).await.unwrap().unwrap();
    assert_eq!(untouched, manual);
    // Re-running (forced, so the model is asked again) updates the same four.
    let again = d
        .distill(
            &scope,
            TYPE,
            &DistillOptions {
                force: true,
                ..DistillOptions::default()
            },
        )
        .await
        .unwrap();
    assert!(again.created.is_empty(), "{again:?}");
    assert_eq!(again.unchanged.len() + again.updated.len(), 4);
    assert_eq!(distilled(&store, &scope).await.len(), 5);
}
