//! The MCP server: the brain's operations as tools an agent calls, over stdio
//! ([`serve_stdio`]) or streamable HTTP (mounted at `/mcp` by [`crate::http::router`]).
//!
//! Each tool takes one JSON object described by its schema (the [`crate::wire`] types)
//! and returns structured JSON with an output schema. A failure the agent can act on (bad
//! input, a record not found, a scope the token cannot reach) comes back as a tool error
//! with the message, not as a protocol error, so the agent reads it.
//!
//! Over HTTP the caller is the [`Principal`] the bearer check put on the request; over
//! stdio it is the principal the server was started with.

use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use serde::Serialize;

use crate::api::Api;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::wire::*;

/// The brain as an MCP server.
#[derive(Clone)]
pub struct BrainMcp {
    api: Api,
    principal: Option<Principal>,
    tool_router: ToolRouter<Self>,
}

impl std::fmt::Debug for BrainMcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrainMcp")
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

fn reply<T: Serialize>(r: Result<T, ApiError>) -> Result<CallToolResult, ErrorData> {
    Ok(
        match r.and_then(|v| {
            serde_json::to_value(v).map_err(|e| ApiError::internal(format!("serialising: {e}")))
        }) {
            Ok(v) => CallToolResult::structured(v),
            Err(e) => CallToolResult::error(vec![ContentBlock::text(format!(
                "{}: {}",
                e.kind, e.message
            ))]),
        },
    )
}

const INSTRUCTIONS: &str = "A persistent memory that outlives the conversation. \
`recall` before answering anything that may depend on earlier sessions (preferences, \
project history, past fixes); `remember` facts worth keeping; `search_patterns` for \
solutions that worked before and `pattern_outcome` to say whether one worked again; \
`record_decision` when choosing between approaches, then `decision_outcome` or \
`feedback` when the result is known, and `recommend` to rank options by what worked. \
Scopes default to the caller's token, so leave `scope` out unless told otherwise.";

#[tool_router]
impl BrainMcp {
    /// An MCP server over `api`. `principal` is the caller over stdio; `None` takes it
    /// from each HTTP request (the bearer check puts it there).
    pub fn new(api: Api, principal: Option<Principal>) -> Self {
        let mut tool_router = Self::tool_router();
        if !api.llm_configured() {
            tool_router.remove_route("reason");
        }
        BrainMcp {
            api,
            principal,
            tool_router,
        }
    }

    /// Runs an operation as the caller and turns its result into a tool result.
    async fn run<T, F, Fut>(
        &self,
        ctx: &RequestContext<RoleServer>,
        op: F,
    ) -> Result<CallToolResult, ErrorData>
    where
        T: Serialize,
        F: FnOnce(Api, Principal) -> Fut,
        Fut: std::future::Future<Output = Result<T, ApiError>>,
    {
        let result = match self.caller(ctx) {
            Ok(p) => op(self.api.clone(), p).await,
            Err(e) => Err(e),
        };
        reply(result)
    }

    fn caller(&self, ctx: &RequestContext<RoleServer>) -> Result<Principal, ApiError> {
        if let Some(p) = ctx
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Principal>())
        {
            return Ok(p.clone());
        }
        self.principal
            .clone()
            .ok_or_else(|| ApiError::unauthorized("no authenticated caller"))
    }

    #[tool(
        description = "Store a memory that later sessions can recall: a fact, a user preference in words, an event, a lesson learned. Returns the stored memory with its id.",
        output_schema = schema_for_output::<MemoryOut>()
    )]
    async fn remember(
        &self,
        Parameters(a): Parameters<RememberArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.run(&ctx, |api, p| async move { api.remember(&p, a).await })
            .await
    }

    #[tool(
        description = "Find memories relevant to a question or topic, by meaning and keywords, best first. Use before answering anything that may depend on what was said or learned in earlier sessions. `filters` narrows by kind, metadata and time; `min_score` drops weak hits.",
        output_schema = schema_for_output::<RecallOut>(),
        annotations(read_only_hint = true)
    )]
    async fn recall(
        &self,
        Parameters(a): Parameters<RecallArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.run(&ctx, |api, p| async move { api.recall(&p, a).await })
            .await
    }

    #[tool(
        description = "Forget a memory by its id (from remember or recall). Returns whether it existed.",
        output_schema = schema_for_output::<ForgetOut>(),
        annotations(destructive_hint = true)
    )]
    async fn forget(
        &self,
        Parameters(a): Parameters<ForgetArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.run(&ctx, |api, p| async move { api.forget(&p, a).await })
            .await
    }

    #[tool(
        description = "Set a user preference by name (e.g. `editor.indent` = \"tabs\"). Setting it again replaces the value.",
        output_schema = schema_for_output::<PreferenceOut>()
    )]
    async fn set_preference(
        &self,
        Parameters(a): Parameters<SetPreferenceArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.run(
            &ctx,
            |api, p| async move { api.set_preference(&p, a).await },
        )
        .await
    }

    #[tool(
        description = "Read user preferences: one by name, or all of them (optionally one category).",
        output_schema = schema_for_output::<PreferencesOut>(),
        annotations(read_only_hint = true)
    )]
    async fn get_preferences(
        &self,
        Parameters(a): Parameters<GetPreferencesArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.run(&ctx, |api, p| async move { api.preferences(&p, a).await })
            .await
    }

    #[tool(
        description = "Store a code pattern: the solution (code or command) that solved a problem (e.g. an error message). Storing the same one again counts another success.",
        output_schema = schema_for_output::<PatternWriteOut>()
    )]
    async fn add_pattern(
        &self,
        Parameters(a): Parameters<AddPatternArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.run(&ctx, |api, p| async move { api.add_pattern(&p, a).await })
            .await
    }

    #[tool(
        description = "Say whether a stored code pattern worked again (success: true) or failed (success: false), so better patterns rank higher.",
        output_schema = schema_for_output::<PatternOut>()
    )]
    async fn pattern_outcome(
        &self,
        Parameters(a): Parameters<PatternOutcomeArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.run(
            &ctx,
            |api, p| async move { api.pattern_outcome(&p, a).await },
        )
        .await
    }

    #[tool(
        description = "Find code patterns that solved problems like this one (e.g. paste the error message), ranked by similarity and by how often they worked.",
        output_schema = schema_for_output::<PatternsOut>(),
        annotations(read_only_hint = true)
    )]
    async fn search_patterns(
        &self,
        Parameters(a): Parameters<SearchPatternsArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.run(
            &ctx,
            |api, p| async move { api.search_patterns(&p, a).await },
        )
        .await
    }

    #[tool(
        description = "Record a decision between options (what was chosen and why). Report how it went later with decision_outcome or feedback, and the brain learns which options work.",
        output_schema = schema_for_output::<DecisionOut>()
    )]
    async fn record_decision(
        &self,
        Parameters(a): Parameters<RecordDecisionArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.run(
            &ctx,
            |api, p| async move { api.record_decision(&p, a).await },
        )
        .await
    }

    #[tool(
        description = "Record how a decision turned out, with a reward from -1 (bad) to 1 (good). The chosen option, any pattern it used and the model that helped are credited.",
        output_schema = schema_for_output::<OutcomeOut>()
    )]
    async fn decision_outcome(
        &self,
        Parameters(a): Parameters<DecisionOutcomeArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.run(
            &ctx,
            |api, p| async move { api.decision_outcome(&p, a).await },
        )
        .await
    }

    #[tool(
        description = "List recent decisions, newest first; `pending: true` lists those still waiting for an outcome.",
        output_schema = schema_for_output::<DecisionsOut>(),
        annotations(read_only_hint = true)
    )]
    async fn list_decisions(
        &self,
        Parameters(a): Parameters<ListDecisionsArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.run(&ctx, |api, p| async move { api.decisions(&p, a).await })
            .await
    }

    #[tool(
        description = "Pass on the user's feedback about a task (their words, plus success and test results if known). The brain turns it into a reward, learns preferences from clear praise, and settles the named decision's outcome.",
        output_schema = schema_for_output::<FeedbackOut>()
    )]
    async fn feedback(
        &self,
        Parameters(a): Parameters<FeedbackArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.run(&ctx, |api, p| async move { api.feedback(&p, a).await })
            .await
    }

    #[tool(
        description = "Rank options (approaches, tools, fixes) by what worked before for this kind of task, best first, each with the reason.",
        output_schema = schema_for_output::<RecommendOut>(),
        annotations(read_only_hint = true)
    )]
    async fn recommend(
        &self,
        Parameters(a): Parameters<RecommendArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.run(&ctx, |api, p| async move { api.recommend(&p, a).await })
            .await
    }

    #[tool(
        description = "Add a message to the session's short-term context window (name the session in `scope`); the newest messages within the server's limits are kept. Returns the window.",
        output_schema = schema_for_output::<ContextOut>()
    )]
    async fn add_message(
        &self,
        Parameters(a): Parameters<AddMessageArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.run(&ctx, |api, p| async move { api.add_message(&p, a).await })
            .await
    }

    #[tool(
        description = "Read the session's short-term context window, oldest first: the recent conversation, shared by every agent process on the same brain.",
        output_schema = schema_for_output::<ContextOut>(),
        annotations(read_only_hint = true)
    )]
    async fn get_context(
        &self,
        Parameters(a): Parameters<GetContextArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.run(&ctx, |api, p| async move { api.context(&p, a).await })
            .await
    }

    #[tool(
        description = "Think a goal through step by step with the brain's language model, using relevant memories and past attempts; returns a plan and a decision, recorded so its outcome can be reported.",
        output_schema = schema_for_output::<ReasonOut>()
    )]
    async fn reason(
        &self,
        Parameters(a): Parameters<ReasonArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.run(&ctx, |api, p| async move { api.reason(&p, a).await })
            .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for BrainMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("brain", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}

/// Serves MCP on stdin/stdout as `principal` until the client disconnects, then closes
/// the brain. Logs must go to stderr: stdout carries the protocol.
pub async fn serve_stdio(api: Api, principal: Principal) -> Result<(), ApiError> {
    let brain = api.brain().clone();
    let server = BrainMcp::new(api, Some(principal))
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| ApiError::unavailable(format!("MCP over stdio: {e}")))?;
    let waited = server.waiting().await;
    // As over HTTP: the snapshot is an optimisation; the writes are committed.
    if let Err(e) = brain.close().await {
        tracing::warn!(error = %e, "could not write the index snapshot; the next start catches the index up from the store");
    }
    waited.map_err(|e| ApiError::internal(format!("MCP over stdio: {e}")))?;
    Ok(())
}
