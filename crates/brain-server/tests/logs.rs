//! No secret reaches the logs: every event and span, at TRACE, while tokens (valid and
//! not) cross the HTTP and MCP surfaces.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

// One thread, so the subscriber set for this test sees the server's work too.
#[tokio::test(flavor = "current_thread")]
async fn tokens_never_appear_in_logs() -> TestResult {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let s = start().await?;
    let client = reqwest::Client::new();
    let wrong = "wrong-secret-token-should-not-be-logged";
    for token in [ALICE, BOB, wrong] {
        client
            .post(s.url("/v1/memories"))
            .bearer_auth(token)
            .json(&json!({"content": "a note"}))
            .send()
            .await?;
        client
            .post(s.url("/mcp"))
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}))
            .send()
            .await?;
    }
    s.shutdown().await?;
    let text = logs
        .0
        .lock()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_default();
    assert!(
        text.contains("authenticated"),
        "the capture saw the server's events: {text}"
    );
    for secret in [ALICE, BOB, wrong] {
        assert!(!text.contains(secret), "a token was logged");
    }
    Ok(())
}
