//! The reasoning engine and the learning loop over a local HTTP server that speaks
//! Ollama's protocol (wiremock), and with no LLM at all.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::sync::{Arc, Mutex};

use brain::config::EmbedderKind;
use brain::{BrainConfig, FeedbackRequest, FeedbackSource, ReasonRequest, RecallQuery};
use llm_router::providers::ollama::OllamaConfig;
use llm_router::{
    Complexity, LlmError, ModelInfo, ProviderConfig, RouteRequest, Rule, Target, TaskType,
};
use memory_core::{CompletionRequest, DecisionQuery, MemoryKind, NewMemory, Reward, Scope};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const THOUGHT: &str = "Let me think step by step.\n\
1. Check the current deployment\n   - read the staging config\n   - note the database port 5433\n\
2. Prepare the release\n3. Roll it out\n\nDecision: use blue-green";

const DECIDED: &str = "1. blue-green\n   Pros: instant rollback\n   Risks: double capacity\n   Score: 8\n\
2. rolling\n   Pros: cheap\n   Risks: mixed versions\n   Score: 5\n\nChosen: blue-green";

const REFLECTED: &str = "The plan skips a smoke test.\n\n## Revised Plan\n\
1. Check the current deployment\n2. Prepare the release\n   - run the smoke tests\n3. Roll it out";

/// Answers Ollama's `/api/chat` by the kind of prompt, and records every prompt.
struct Model {
    rating: &'static str,
    prompts: Arc<Mutex<Vec<String>>>,
}

fn answer(model: &str, text: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "model": model, "created_at": "2025-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": text},
        "done": true, "done_reason": "stop", "prompt_eval_count": 1000, "eval_count": 100
    }))
}

impl Respond for Model {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let prompt = body["messages"].as_array().unwrap().last().unwrap()["content"]
            .as_str()
            .unwrap()
            .to_owned();
        self.prompts.lock().unwrap().push(prompt.clone());
        let model = body["model"].as_str().unwrap_or("llama3.1:8b");
        let text = if prompt.contains("Analyze this user feedback") {
            self.rating
        } else if prompt.contains("## Revised Plan") || prompt.to_lowercase().contains("critique") {
            REFLECTED
        } else if prompt.contains("Chosen:") {
            DECIDED
        } else {
            THOUGHT
        };
        answer(model, text)
    }
}

async fn ollama(rating: &'static str) -> (MockServer, Arc<Mutex<Vec<String>>>) {
    let server = MockServer::start().await;
    let prompts = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(Model {
            rating,
            prompts: prompts.clone(),
        })
        .mount(&server)
        .await;
    (server, prompts)
}

fn config(dir: &std::path::Path, ollama: Option<&str>) -> BrainConfig {
    let mut c = BrainConfig {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    };
    c.embedder.kind = EmbedderKind::Hashing;
    if let Some(url) = ollama {
        c.llm.providers = vec![ProviderConfig::Ollama(OllamaConfig {
            name: "ollama".into(),
            base_url: url.to_owned(),
        })];
        c.llm.resilience.max_retries = 0;
    }
    c
}

fn deploy(scope: &Scope) -> ReasonRequest {
    ReasonRequest {
        options: vec!["blue-green".into(), "rolling".into()],
        complexity: Complexity::Medium,
        ..ReasonRequest::new("deploy the new release to staging", scope.clone())
    }
}

#[tokio::test]
async fn reason_plans_thinks_decides_and_records() {
    let (server, prompts) = ollama("0.5").await;
    let dir = tempfile::tempdir().unwrap();
    let brain = brain_engines::open(config(dir.path(), Some(&server.uri())))
        .await
        .unwrap();
    let scope = Scope::user("ada");
    brain
        .remember(
            NewMemory::new("the staging database listens on port 5433").with_scope(scope.clone()),
        )
        .await
        .unwrap();

    let mut req = deploy(&scope);
    req.reflect = true;
    req.constraints = vec!["no downtime".into()];
    let out = brain.reason(&req).await.unwrap();

    // Planning: a task tree, revised by reflection (a smoke-test step was added).
    assert_eq!(out.plan.len(), 3, "{:?}", out.plan);
    assert_eq!(out.plan[1].children[0].text, "run the smoke tests");
    assert!(out.critique.as_deref().unwrap_or("").contains("smoke test"));
    // Deciding: the model chose among the options, with evaluations.
    assert_eq!(out.decision.as_deref(), Some("blue-green"));
    assert_eq!(out.decided_by, "model");
    assert_eq!(out.evaluations.len(), 2);
    assert_eq!(out.calls.len(), 3);
    assert_eq!(out.calls[0].served_by, "ollama/llama3.1:8b");
    assert_eq!(out.memories_used, 1);

    // Thinking: the seed's prompt carried the goal, the constraint and the memory.
    let first = prompts.lock().unwrap()[0].clone();
    assert!(first.starts_with("You are an expert AI reasoning engine."));
    assert!(
        first.contains("- no downtime") && first.contains("port 5433"),
        "{first}"
    );

    // The decision is recorded, tied to the model that served.
    let d = brain
        .decisions(&DecisionQuery {
            scope: scope.clone(),
            agent_type: None,
            with_outcome: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(d[0].id, out.decision_id);
    assert_eq!(d[0].chosen_option, "blue-green");
    assert_eq!(
        d[0].metadata.get("served_by"),
        Some(&json!("ollama/llama3.1:8b"))
    );
    assert!(d[0].reasoning.contains("step by step"));

    // Its outcome becomes a previous attempt the next time.
    brain
        .update_decision_outcome(
            out.decision_id,
            "rollback needed",
            Reward::new(-0.5).unwrap(),
        )
        .await
        .unwrap();
    let again = brain.reason(&deploy(&scope)).await.unwrap();
    assert_eq!(again.attempts_used, 1);
    let last_thought = prompts
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|p| p.contains("## Your Reasoning"))
        .cloned()
        .unwrap();
    assert!(
        last_thought.contains("- Tried: blue-green, Result: rollback needed"),
        "{last_thought}"
    );
}

#[tokio::test]
async fn feedback_with_an_unparsable_rating_is_bounded_and_recorded() {
    let (server, _) = ollama("I would rather not put a number on that.").await;
    let dir = tempfile::tempdir().unwrap();
    let brain = brain_engines::open(config(dir.path(), Some(&server.uri())))
        .await
        .unwrap();
    let learned = brain
        .learn_from_feedback(&FeedbackRequest {
            feedback: "that did not work at all, the build is broken".into(),
            task_context: "fix the flaky test".into(),
            scope: Scope::user("ada"),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(learned.source, FeedbackSource::Offline);
    assert!(
        learned
            .fallback_reason
            .as_deref()
            .unwrap_or("")
            .contains("no rating")
    );
    assert!((-1.0..0.0).contains(&learned.reward), "{}", learned.reward);
    assert_eq!(learned.event.event_type, "user_feedback");
    assert_eq!(
        learned.event.metadata.get("source"),
        Some(&json!("offline"))
    );
    assert!(learned.learned.is_none());
}

#[tokio::test]
async fn a_rated_positive_feedback_becomes_a_learned_preference() {
    let (server, _) = ollama("0.9").await;
    let dir = tempfile::tempdir().unwrap();
    let brain = brain_engines::open(config(dir.path(), Some(&server.uri())))
        .await
        .unwrap();
    let learned = brain
        .learn_from_feedback(&FeedbackRequest {
            feedback: "perfect, exactly what I wanted".into(),
            task_context: "format the report".into(),
            scope: Scope::user("ada"),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(learned.source, FeedbackSource::Llm);
    assert!((learned.reward - 0.9).abs() < 1e-9);
    let memory = learned.learned.unwrap();
    assert_eq!(memory.kind.as_str(), brain::LEARNED_KIND);
    assert_eq!(memory.scope, Scope::user("ada"));
    assert!(memory.content.contains("perfect, exactly what I wanted"));
    assert_eq!(
        memory.metadata.get("task_context"),
        Some(&json!("format the report"))
    );
    // Apart from the user's settings, and found again by meaning.
    assert!(
        brain
            .preferences(&Scope::user("ada"), None)
            .await
            .unwrap()
            .is_empty()
    );
    let hits = brain
        .recall(&RecallQuery::new(
            "how should the report be formatted",
            Scope::user("ada"),
        ))
        .await
        .unwrap();
    assert_eq!(hits.first().map(|h| h.memory.id), Some(memory.id));
    // Callers cannot write what only feedback teaches.
    let forged = brain
        .remember(
            NewMemory::new("I taught myself this")
                .with_kind(MemoryKind::new(brain::LEARNED_KIND).unwrap())
                .with_scope(Scope::user("ada")),
        )
        .await;
    assert!(forged.is_err());
}

#[tokio::test]
async fn without_an_llm_feedback_is_estimated_offline_and_reasoning_says_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let brain = brain_engines::open(config(dir.path(), None)).await.unwrap();
    let learned = brain
        .learn_from_feedback(&FeedbackRequest {
            feedback: "great job, thanks!".into(),
            task_context: "refactor".into(),
            success: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(learned.source, FeedbackSource::Offline);
    assert!(learned.reward > 0.5, "{learned:?}");
    assert_eq!(learned.breakdown.parts.len(), 2);
    let e = brain
        .reason(&deploy(&Scope::user("ada")))
        .await
        .unwrap_err();
    assert!(
        matches!(e, brain::BrainError::Llm(LlmError::NotConfigured)),
        "{e:?}"
    );
}

#[tokio::test]
async fn after_feedback_recommend_prefers_the_rewarded_option() {
    let dir = tempfile::tempdir().unwrap();
    let brain = brain_engines::open(config(dir.path(), None)).await.unwrap();
    let scope = Scope::user("ada");
    let options = vec!["cargo nextest".to_owned(), "cargo test".to_owned()];
    let before = brain
        .recommend(&scope, "tester", "rust", &options, false)
        .await
        .unwrap();
    assert_eq!(
        before.ranked[0].option, "cargo nextest",
        "table order without evidence"
    );
    for round in 0..6 {
        for (chosen, feedback) in [
            ("cargo nextest", "too slow and it failed"),
            ("cargo test", "great, fast and green"),
        ] {
            let d = brain
                .record_decision(memory_core::NewDecision {
                    scope: scope.clone(),
                    agent_type: "tester".into(),
                    context: format!("run the tests, round {round}"),
                    options: options.clone(),
                    chosen_option: chosen.into(),
                    reasoning: String::new(),
                    metadata: memory_core::Metadata::new().with("task_bucket", "rust"),
                })
                .await
                .unwrap();
            brain
                .learn_from_feedback(&FeedbackRequest {
                    feedback: feedback.into(),
                    task_context: "run the tests".into(),
                    scope: scope.clone(),
                    decision: Some(d.id),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
    }
    let after = brain
        .recommend(&scope, "tester", "rust", &options, false)
        .await
        .unwrap();
    assert_eq!(after.ranked[0].option, "cargo test", "{after:?}");
    assert!(after.ranked[0].score > after.ranked[1].score);
    assert!(
        after.ranked[0].why.contains("learned value"),
        "{}",
        after.ranked[0].why
    );
    assert!(!after.explored);
}

/// Two local models the same rule allows: the router's learned order moves traffic to
/// the one that earns more reward per cost.
async fn simulate(prices: (f64, f64), quality: (f64, f64)) -> (usize, usize) {
    let (server, _) = ollama("0.5").await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), Some(&server.uri()));
    c.llm.routes = Some(vec![Rule {
        name: "chat".into(),
        when: Default::default(),
        target: Target::new("ollama", "model-a"),
        fallbacks: vec![Target::new("ollama", "model-b")],
        reason: "two local models".into(),
    }]);
    for (name, price) in [("model-a", prices.0), ("model-b", prices.1)] {
        c.llm.models.push(ModelInfo {
            provider: "ollama".into(),
            model: name.into(),
            context_window: 8192,
            max_output_tokens: None,
            input_usd_per_mtok: price,
            output_usd_per_mtok: price,
            local: true,
            capabilities: vec![],
            embedding_dimension: None,
        });
    }
    let brain = brain_engines::open(c).await.unwrap();
    let route = RouteRequest::new(TaskType::Chat, Complexity::Simple);
    let mut late = (0, 0);
    for i in 0..160 {
        let done = brain
            .complete(&route, CompletionRequest::prompt("hello"))
            .await
            .unwrap();
        let a = done.routed.served_by.model == "model-a";
        let reward = if a { quality.0 } else { quality.1 };
        brain
            .learn_route(&done, Reward::new(reward).unwrap())
            .await
            .unwrap();
        if i >= 110 {
            if a { late.0 += 1 } else { late.1 += 1 }
        }
    }
    late
}

#[tokio::test]
async fn the_routing_bandit_shifts_traffic_to_the_better_model() {
    // Same price; model-b's answers are rated much better.
    let (a, b) = simulate((0.0, 0.0), (-0.6, 0.8)).await;
    eprintln!("quality: last 50 calls model-a {a}, model-b {b}");
    assert!(b > 35, "model-b served {b} of the last 50 (model-a {a})");
}

#[tokio::test]
async fn the_routing_bandit_weighs_cost() {
    // Equally good answers; model-a costs $50 per million tokens (5.5 cents a call here).
    let (a, b) = simulate((50.0, 0.0), (0.8, 0.8)).await;
    eprintln!("cost: last 50 calls model-a {a}, model-b {b}");
    assert!(b > 35, "model-b served {b} of the last 50 (model-a {a})");
}
