//! The limits the server enforces are stated in the schemas clients read: the OpenAPI
//! document and the MCP tool list, each checked against the constants themselves.

mod common;

use brain_server::wire::{
    IMPORTANCE_RANGE, KIND_PATTERN, MAX_JSON_BYTES, MAX_JSON_DEPTH, MAX_K, MAX_KEY_BYTES,
    MAX_KIND_BYTES, MAX_PATTERN_K, MAX_TEXT_BYTES,
};
use common::*;
use memory_core::Reward;
use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

/// Follows `$ref`s (to `#/components/schemas/` or `#/$defs/`) and steps through an
/// `anyOf` of one schema and `null` (how an optional field is written).
fn deref<'a>(root: &'a Value, mut s: &'a Value) -> &'a Value {
    loop {
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let name = r.rsplit('/').next().unwrap_or("");
            let defs = root
                .pointer("/components/schemas")
                .or_else(|| root.get("$defs"));
            match defs.and_then(|d| d.get(name)) {
                Some(t) => s = t,
                None => return &Value::Null,
            }
        } else if let Some(branches) = s.get("anyOf").and_then(Value::as_array) {
            match branches
                .iter()
                .find(|b| b.get("type") != Some(&json!("null")))
            {
                Some(b) => s = b,
                None => return s,
            }
        } else {
            return s;
        }
    }
}

/// The schema at `path` (property names, or `items`) below `s`.
fn at<'a>(root: &'a Value, s: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(deref(root, s), |s, step| {
        let next = if step == "items" {
            s.get("items")
        } else {
            s.get("properties").and_then(|p| p.get(step))
        };
        next.map_or(&Value::Null, |n| deref(root, n))
    })
}

/// A field path, a keyword and the value it must have.
type Bound = (&'static str, &'static str, Value);

/// (operation id, tool name, bounds) per operation: what each input must state.
fn expectations() -> Vec<(&'static str, &'static str, Vec<Bound>)> {
    let text = |f: &'static str| {
        vec![
            (f, "minLength", json!(1)),
            (f, "maxLength", json!(MAX_TEXT_BYTES)),
        ]
    };
    let key = |f: &'static str| {
        vec![
            (f, "minLength", json!(1)),
            (f, "maxLength", json!(MAX_KEY_BYTES)),
        ]
    };
    let scope = || [key("scope.user"), key("scope.agent"), key("scope.session")].concat();
    let json_value = |f: &'static str| {
        vec![
            (f, "x-maxBytes", json!(MAX_JSON_BYTES)),
            (f, "x-maxDepth", json!(MAX_JSON_DEPTH)),
        ]
    };
    let kind = |f: &'static str| {
        vec![
            (f, "minLength", json!(1)),
            (f, "maxLength", json!(MAX_KIND_BYTES)),
            (f, "pattern", json!(KIND_PATTERN)),
        ]
    };
    let range =
        |f: &'static str, lo: Value, hi: Value| vec![(f, "minimum", lo), (f, "maximum", hi)];
    let reward = || range("reward", json!(Reward::MIN.get()), json!(Reward::MAX.get()));
    vec![
        (
            "remember",
            "remember",
            [
                text("content"),
                kind("kind"),
                range(
                    "importance",
                    json!(IMPORTANCE_RANGE.0),
                    json!(IMPORTANCE_RANGE.1),
                ),
                json_value("metadata"),
                scope(),
            ]
            .concat(),
        ),
        (
            "recall",
            "recall",
            [
                text("query"),
                range("k", json!(1), json!(MAX_K)),
                kind("kinds.items"),
                scope(),
            ]
            .concat(),
        ),
        (
            "set_preference",
            "set_preference",
            [key("key"), json_value("value"), key("category"), scope()].concat(),
        ),
        (
            "add_pattern",
            "add_pattern",
            [
                key("pattern_type"),
                text("context"),
                text("solution"),
                key("language"),
                scope(),
            ]
            .concat(),
        ),
        (
            "search_patterns",
            "search_patterns",
            [text("query"), range("k", json!(1), json!(MAX_PATTERN_K))].concat(),
        ),
        (
            "record_decision",
            "record_decision",
            [
                key("agent_type"),
                text("context"),
                vec![("options", "minItems", json!(1))],
                text("options.items"),
                text("chosen_option"),
                vec![("reasoning", "maxLength", json!(MAX_TEXT_BYTES))],
                key("task_bucket"),
                scope(),
            ]
            .concat(),
        ),
        (
            "decision_outcome",
            "decision_outcome",
            [text("outcome"), reward()].concat(),
        ),
        (
            "feedback",
            "feedback",
            [
                text("feedback"),
                vec![("task_context", "maxLength", json!(MAX_TEXT_BYTES))],
                scope(),
            ]
            .concat(),
        ),
        (
            "recommend",
            "recommend",
            [
                key("agent_type"),
                vec![("options", "minItems", json!(1))],
                key("task_bucket"),
                scope(),
            ]
            .concat(),
        ),
        (
            "add_message",
            "add_message",
            [text("content"), scope()].concat(),
        ),
        (
            "reason",
            "reason",
            [text("goal"), key("agent_type"), key("task_bucket")].concat(),
        ),
    ]
}

fn same_number(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn check(root: &Value, body: &Value, expected: &[(&str, &str, Value)], what: &str) {
    for (path, keyword, want) in expected {
        let s = at(root, body, path);
        let got = s.get(*keyword).cloned().unwrap_or(Value::Null);
        assert!(
            same_number(&got, want),
            "{what}: {path}.{keyword} is {got}, not {want} (schema {s})"
        );
    }
}

#[test]
fn the_openapi_document_states_every_limit() {
    let doc = brain_server::openapi::document();
    let mut ops = std::collections::BTreeMap::new();
    for item in doc["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for op in item.as_object().into_iter().flat_map(|m| m.values()) {
            ops.insert(
                op["operationId"].as_str().unwrap_or("").to_owned(),
                op.clone(),
            );
        }
    }
    for (op_id, _, expected) in expectations() {
        let op = ops.get(op_id).cloned().unwrap_or(Value::Null);
        let body = &op["requestBody"]["content"]["application/json"]["schema"];
        assert!(!body.is_null(), "{op_id} has no body schema");
        check(&doc, body, &expected, op_id);
    }
    let required = deref(
        &doc,
        &ops["record_decision"]["requestBody"]["content"]["application/json"]["schema"],
    )["required"]
        .clone();
    assert!(
        required
            .as_array()
            .is_some_and(|r| r.contains(&json!("options"))),
        "options is required: {required}"
    );
    // The query parameters of the list operation.
    let limit = ops["decisions"]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "limit"))
        .cloned()
        .unwrap_or(Value::Null);
    assert!(
        same_number(&limit["schema"]["minimum"], &json!(1)),
        "{limit}"
    );
    assert!(
        same_number(&limit["schema"]["maximum"], &json!(MAX_K)),
        "{limit}"
    );
    let user = ops["preferences"]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "user"))
        .cloned()
        .unwrap_or(Value::Null);
    assert!(
        same_number(&user["schema"]["maxLength"], &json!(MAX_KEY_BYTES)),
        "{user}"
    );
}

#[test]
fn every_operation_with_a_body_documents_400_413_and_415() {
    let doc = brain_server::openapi::document();
    let mut with_body = 0;
    for (path, item) in doc["paths"].as_object().cloned().unwrap_or_default() {
        for (method, op) in item.as_object().cloned().unwrap_or_default() {
            if op.get("requestBody").is_none() {
                continue;
            }
            with_body += 1;
            for status in ["400", "413", "415"] {
                let r = &op["responses"][status];
                assert!(
                    r["content"]["application/json"]["schema"]["$ref"]
                        .as_str()
                        .is_some_and(|s| s.ends_with("/ErrorBody")),
                    "{method} {path} does not document {status} with the error body: {r}"
                );
            }
        }
    }
    assert!(with_body >= 12, "{with_body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mcp_tools_state_every_limit() -> TestResult {
    let s = start().await?;
    let client = ()
        .serve(StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(s.url("/mcp")).auth_header(ALICE),
        ))
        .await?;
    let tools = client.list_all_tools().await?;
    for (_, tool, expected) in expectations() {
        if tool == "reason" {
            continue; // listed only with an LLM; its schema is the OpenAPI one's type
        }
        let t = tools
            .iter()
            .find(|t| t.name == tool)
            .ok_or(format!("no tool {tool}"))?;
        let schema = Value::Object((*t.input_schema).clone());
        check(&schema, &schema, &expected, tool);
    }
    let list = tools
        .iter()
        .find(|t| t.name == "list_decisions")
        .ok_or("no list_decisions")?;
    let schema = Value::Object((*list.input_schema).clone());
    check(
        &schema,
        &schema,
        &[
            ("limit", "minimum", json!(1)),
            ("limit", "maximum", json!(MAX_K)),
        ],
        "list_decisions",
    );
    client.cancel().await?;
    s.shutdown().await?;
    Ok(())
}
