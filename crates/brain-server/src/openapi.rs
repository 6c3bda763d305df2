//! The OpenAPI 3.1 document of the HTTP API, built from the same schemars schemas the MCP
//! tools publish, so the two surfaces cannot describe an argument differently.
//!
//! The route table here is the one [`crate::http::router`] serves; a test checks that
//! every documented path answers and every schema reference resolves.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value, json};

use crate::error::ErrorBody;
use crate::wire::*;

/// One documented operation.
struct Op {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    body: Option<Value>,
    ok: (u16, Value),
    params: Vec<Value>,
    public: bool,
}

fn param(name: &str, location: &str, ty: &str, required: bool, description: &str) -> Value {
    json!({
        "name": name, "in": location, "required": required,
        "description": description, "schema": {"type": ty}
    })
}

/// A string parameter holding a key-like value (a scope part, a name).
fn key_param(name: &str, description: &str) -> Value {
    let mut p = param(name, "query", "string", false, description);
    p["schema"]["minLength"] = json!(1);
    p["schema"]["maxLength"] = json!(MAX_KEY_BYTES);
    p
}

fn scope_params() -> Vec<Value> {
    vec![
        key_param("user", "Whose records (default: the token's user)."),
        key_param("agent", "Which agent's records."),
        key_param("session", "Which session's records."),
    ]
}

fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Value {
    g.subschema_for::<T>().to_value()
}

/// The document, as JSON.
pub fn document() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    let mut g = settings.into_generator();
    let id_param = param("id", "path", "string", true, "The record's id.");
    let num_id_param = param("id", "path", "integer", true, "The record's id.");
    let ops = vec![
        Op {
            method: "get",
            path: "/health",
            id: "health",
            summary: "Whether the server is up (no token needed).",
            body: None,
            ok: (200, schema::<HealthOut>(&mut g)),
            params: vec![],
            public: true,
        },
        Op {
            method: "post",
            path: "/v1/memories",
            id: "remember",
            summary: "Remember a piece of text.",
            body: Some(schema::<RememberArgs>(&mut g)),
            ok: (201, schema::<MemoryOut>(&mut g)),
            params: vec![],
            public: false,
        },
        Op {
            method: "post",
            path: "/v1/memories/recall",
            id: "recall",
            summary: "Recall memories by meaning and keywords, best first.",
            body: Some(schema::<RecallArgs>(&mut g)),
            ok: (200, schema::<RecallOut>(&mut g)),
            params: vec![],
            public: false,
        },
        Op {
            method: "get",
            path: "/v1/memories/{id}",
            id: "get_memory",
            summary: "A memory by id.",
            body: None,
            ok: (200, schema::<MemoryOut>(&mut g)),
            params: vec![id_param.clone()],
            public: false,
        },
        Op {
            method: "delete",
            path: "/v1/memories/{id}",
            id: "forget",
            summary: "Forget a memory by id.",
            body: None,
            ok: (200, schema::<ForgetOut>(&mut g)),
            params: vec![id_param],
            public: false,
        },
        Op {
            method: "put",
            path: "/v1/preferences",
            id: "set_preference",
            summary: "Set a preference.",
            body: Some(schema::<SetPreferenceArgs>(&mut g)),
            ok: (200, schema::<PreferenceOut>(&mut g)),
            params: vec![],
            public: false,
        },
        Op {
            method: "get",
            path: "/v1/preferences",
            id: "preferences",
            summary: "Preferences: one by key, or all, optionally of one category.",
            body: None,
            ok: (200, schema::<PreferencesOut>(&mut g)),
            params: [
                vec![
                    param("key", "query", "string", false, "One preference by name."),
                    param("category", "query", "string", false, "Only this category."),
                ],
                scope_params(),
            ]
            .concat(),
            public: false,
        },
        Op {
            method: "post",
            path: "/v1/patterns",
            id: "add_pattern",
            summary: "Store a code pattern (the same one again counts a success).",
            body: Some(schema::<AddPatternArgs>(&mut g)),
            ok: (200, schema::<PatternWriteOut>(&mut g)),
            params: vec![],
            public: false,
        },
        Op {
            method: "post",
            path: "/v1/patterns/search",
            id: "search_patterns",
            summary: "Patterns for a problem, ranked by meaning and success.",
            body: Some(schema::<SearchPatternsArgs>(&mut g)),
            ok: (200, schema::<PatternsOut>(&mut g)),
            params: vec![],
            public: false,
        },
        Op {
            method: "post",
            path: "/v1/patterns/{id}/outcome",
            id: "pattern_outcome",
            summary: "Count a success or failure of a pattern.",
            body: Some(schema::<PatternOutcomeBody>(&mut g)),
            ok: (200, schema::<PatternOut>(&mut g)),
            params: vec![num_id_param.clone()],
            public: false,
        },
        Op {
            method: "post",
            path: "/v1/decisions",
            id: "record_decision",
            summary: "Record a decision an agent took.",
            body: Some(schema::<RecordDecisionArgs>(&mut g)),
            ok: (201, schema::<DecisionOut>(&mut g)),
            params: vec![],
            public: false,
        },
        Op {
            method: "get",
            path: "/v1/decisions",
            id: "decisions",
            summary: "Recent decisions, newest first.",
            body: None,
            ok: (200, schema::<DecisionsOut>(&mut g)),
            params: [
                vec![
                    param(
                        "agent_type",
                        "query",
                        "string",
                        false,
                        "Only this agent type.",
                    ),
                    param(
                        "pending",
                        "query",
                        "boolean",
                        false,
                        "Only those awaiting an outcome (true) or decided (false).",
                    ),
                    {
                        let mut p = param(
                            "limit",
                            "query",
                            "integer",
                            false,
                            "At most this many (default 20).",
                        );
                        p["schema"]["minimum"] = json!(1);
                        p["schema"]["maximum"] = json!(MAX_K);
                        p
                    },
                ],
                scope_params(),
            ]
            .concat(),
            public: false,
        },
        Op {
            method: "post",
            path: "/v1/decisions/{id}/outcome",
            id: "decision_outcome",
            summary: "Record how a decision turned out; the brain learns from it.",
            body: Some(schema::<DecisionOutcomeBody>(&mut g)),
            ok: (200, schema::<OutcomeOut>(&mut g)),
            params: vec![num_id_param],
            public: false,
        },
        Op {
            method: "post",
            path: "/v1/feedback",
            id: "feedback",
            summary: "Learn from feedback in words and numbers.",
            body: Some(schema::<FeedbackArgs>(&mut g)),
            ok: (200, schema::<FeedbackOut>(&mut g)),
            params: vec![],
            public: false,
        },
        Op {
            method: "post",
            path: "/v1/recommend",
            id: "recommend",
            summary: "Rank options by what worked before.",
            body: Some(schema::<RecommendArgs>(&mut g)),
            ok: (200, schema::<RecommendOut>(&mut g)),
            params: vec![],
            public: false,
        },
        Op {
            method: "post",
            path: "/v1/reason",
            id: "reason",
            summary: "Think a goal through with the configured LLM (503 not_configured without one).",
            body: Some(schema::<ReasonArgs>(&mut g)),
            ok: (200, schema::<ReasonOut>(&mut g)),
            params: vec![],
            public: false,
        },
        Op {
            method: "post",
            path: "/v1/context/messages",
            id: "add_message",
            summary: "Add a message to a context window; returns the window as kept.",
            body: Some(schema::<AddMessageArgs>(&mut g)),
            ok: (200, schema::<ContextOut>(&mut g)),
            params: vec![],
            public: false,
        },
        Op {
            method: "get",
            path: "/v1/context",
            id: "context",
            summary: "A context window (short-term memory, shared by every server on the same backend), oldest first.",
            body: None,
            ok: (200, schema::<ContextOut>(&mut g)),
            params: scope_params(),
            public: false,
        },
    ];
    let error = schema::<ErrorBody>(&mut g);
    let mut paths = Map::new();
    for op in ops {
        let mut responses = Map::new();
        responses.insert(
            op.ok.0.to_string(),
            json!({"description": "Success.", "content": {"application/json": {"schema": op.ok.1}}}),
        );
        let mut errors: Vec<(&str, &str)> = Vec::new();
        if op.public {
            errors.push(("403", "The Host or Origin header names another site."));
        } else {
            errors.extend([
                (
                    "400",
                    "Malformed JSON, unknown or mistyped fields, or a value outside the limits the schema states; nothing was written.",
                ),
                ("401", "No bearer token, or an unknown one."),
                (
                    "403",
                    "Outside the token's scope, a write with a read-only token, or a Host or Origin header naming another site.",
                ),
                ("404", "No such record within the token's scope."),
                ("503", "A backend is unavailable, or no LLM is configured."),
            ]);
        }
        if op.body.is_some() {
            errors.extend([
                ("413", "The body is larger than serve.max_body_bytes."),
                (
                    "415",
                    "The body is not sent as `Content-Type: application/json`.",
                ),
            ]);
        }
        for (status, description) in errors {
            responses.insert(
                (*status).to_owned(),
                json!({"description": description, "content": {"application/json": {"schema": error}}}),
            );
        }
        let mut operation = json!({
            "operationId": op.id,
            "summary": op.summary,
            "responses": responses,
        });
        if !op.params.is_empty() {
            operation["parameters"] = Value::Array(op.params);
        }
        if let Some(body) = op.body {
            operation["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": body}}});
        }
        if op.public {
            operation["security"] = json!([]);
        }
        let item = paths
            .entry(op.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        item[op.method] = operation;
    }
    let schemas = g.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "brain",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Persistent memory and learning for AI agents. Every route but /health and /openapi.json needs `Authorization: Bearer <token>` when the server has tokens; a token bound to a scope sees only that scope. The MCP endpoint (streamable HTTP) is at /mcp.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    })
}
