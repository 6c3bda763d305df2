//! The router's own overhead per call, with the provider's cost taken out: an in-process
//! provider that answers at once stands in for the server, and each benchmark calls it
//! directly, through the resilience layers, and through the whole router (routing,
//! window check, tracing span, ledger). The differences are what the router adds.
//!
//! `cargo bench -p llm-router --bench router_overhead`

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use llm_router::{
    ChatStream, Complexity, Provider, Resilience, RouteRequest, Router, StreamEvent, TaskType,
    collect_stream,
};
use memory_core::{Completion, CompletionRequest, FinishReason, Usage};

/// Answers every call at once with a fixed completion.
struct Instant(&'static str);

fn answer(request: &CompletionRequest) -> Completion {
    Completion {
        text: "ok".to_owned(),
        model: request.model.clone().unwrap_or_default(),
        finish_reason: FinishReason::Stop,
        usage: Usage {
            input_tokens: 12,
            output_tokens: 1,
        },
        latency: Duration::ZERO,
    }
}

#[async_trait]
impl Provider for Instant {
    fn name(&self) -> &str {
        self.0
    }
    async fn chat(&self, request: &CompletionRequest) -> llm_router::Result<Completion> {
        Ok(answer(request))
    }
    async fn chat_stream(&self, request: &CompletionRequest) -> llm_router::Result<ChatStream> {
        let c = answer(request);
        let events = vec![
            Ok(StreamEvent::Delta(c.text)),
            Ok(StreamEvent::Done {
                model: c.model,
                finish_reason: c.finish_reason,
                usage: c.usage,
            }),
        ];
        Ok(Box::pin(futures_util::stream::iter(events)))
    }
    async fn list_models(&self) -> llm_router::Result<Vec<String>> {
        Ok(vec![])
    }
}

fn bench(c: &mut Criterion) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return eprintln!("no runtime: {e}"),
    };
    let resilience = Resilience::default();
    let bare: Arc<dyn Provider> = Arc::new(Instant("ollama"));
    let layered = match resilience.apply(Arc::new(Instant("ollama"))) {
        Ok(p) => p,
        Err(e) => return eprintln!("{e}"),
    };
    let router = Router::builder()
        .provider(layered.clone())
        .provider(match resilience.apply(Arc::new(Instant("anthropic"))) {
            Ok(p) => p,
            Err(e) => return eprintln!("{e}"),
        })
        .build();
    let router = match router {
        Ok(r) => r,
        Err(e) => return eprintln!("{e}"),
    };
    let mut request = CompletionRequest::prompt(
        "Classify this sentence as positive or negative: the build is green.",
    );
    request.system = Some("You are a classifier.".to_owned());
    let route = RouteRequest::new(TaskType::Classification, Complexity::Simple);
    let mut direct = request.clone();
    direct.model = Some("llama3.1:8b".to_owned());

    let mut g = c.benchmark_group("router_overhead");
    g.bench_function("provider_direct", |b| {
        b.to_async(&rt).iter(|| async { bare.chat(&direct).await })
    });
    g.bench_function("provider_with_layers", |b| {
        b.to_async(&rt)
            .iter(|| async { layered.chat(&direct).await })
    });
    g.bench_function("route_only", |b| b.iter(|| router.route(&route)));
    g.bench_function("router_chat", |b| {
        b.to_async(&rt)
            .iter(|| async { router.chat(&route, request.clone()).await })
    });
    g.bench_function("router_stream_collect", |b| {
        b.to_async(&rt).iter(|| async {
            let s = router.chat_stream(&route, request.clone()).await?;
            collect_stream("ollama", s.stream, std::time::Instant::now()).await
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
