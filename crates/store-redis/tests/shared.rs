//! Several connections — as several brain processes would hold — share one short-term
//! memory, and concurrent pushers never break a window's limits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use memory_core::{
    ContextMessage, Role, Scope, ShortTermMemory, Timestamp, WindowLimit, estimate_tokens,
};
use serde_json::json;

fn msg(content: String) -> ContextMessage {
    ContextMessage {
        role: Role::User,
        content,
        at: Timestamp::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_connections_share_variables_and_window() {
    let prefix = common::unique_prefix("two_connections_share");
    let a = common::connect(&prefix).await;
    let b = common::connect(&prefix).await;
    let s = Scope::user("alice").with_agent("coder").with_session("s1");

    a.set(&s, "task", json!({"step": 1}), None).await.unwrap();
    b.set(&s, "ttl", json!("short"), Some(Duration::from_millis(300)))
        .await
        .unwrap();
    assert_eq!(b.get(&s, "task").await.unwrap(), Some(json!({"step": 1})));
    assert_eq!(a.get(&s, "ttl").await.unwrap(), Some(json!("short")));
    assert_eq!(a.keys(&s).await.unwrap(), vec!["task", "ttl"]);
    b.set(&s, "task", json!({"step": 2}), None).await.unwrap();
    assert_eq!(a.get(&s, "task").await.unwrap(), Some(json!({"step": 2})));

    let limit = WindowLimit {
        max_messages: 3,
        max_tokens: None,
    };
    for i in 0..4 {
        let (who, con) = if i % 2 == 0 { ("a", &a) } else { ("b", &b) };
        con.push_message(&s, msg(format!("{who}{i}")), limit)
            .await
            .unwrap();
    }
    let seen_by_a: Vec<String> = a
        .window(&s)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(seen_by_a, vec!["b1", "a2", "b3"]);
    assert_eq!(b.window(&s).await.unwrap(), a.window(&s).await.unwrap());

    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        a.keys(&s).await.unwrap(),
        vec!["task"],
        "the TTL ran out for both"
    );
    assert_eq!(b.get(&s, "ttl").await.unwrap(), None);

    assert!(a.remove(&s, "task").await.unwrap());
    assert_eq!(b.get(&s, "task").await.unwrap(), None);
    assert!(!b.remove(&s, "task").await.unwrap());

    b.set(&s, "again", json!(true), None).await.unwrap();
    a.clear(&s).await.unwrap();
    assert!(b.keys(&s).await.unwrap().is_empty());
    assert!(b.window(&s).await.unwrap().is_empty());
    assert_eq!(common::keys_under(&prefix).await, Vec::<String>::new());
}

/// Two connections push to one bounded window at once while a third reads it: no read
/// ever sees it over its limits, and at the end it holds exactly the newest messages that
/// fit, each connection's in the order it pushed them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushes_from_two_connections_keep_the_limits() {
    let prefix = common::unique_prefix("concurrent_two_connections");
    let a = Arc::new(common::connect(&prefix).await);
    let b = Arc::new(common::connect(&prefix).await);
    let reader = common::connect(&prefix).await;
    let s = Scope::user("alice").with_session("busy");
    // Messages of 8 to 40 bytes (2 to 10 tokens) under a budget of 40 tokens and 8 messages:
    // both bounds bind at times.
    let limit = WindowLimit {
        max_messages: 8,
        max_tokens: Some(40),
    };
    let per_task = 60;
    let within = move |w: &[ContextMessage]| {
        w.len() <= limit.max_messages
            && (w.len() <= 1 || w.iter().map(|m| estimate_tokens(&m.content)).sum::<usize>() <= 40)
    };

    let done = Arc::new(AtomicBool::new(false));
    let mut pushers = Vec::new();
    for (name, con) in [("a", Arc::clone(&a)), ("b", Arc::clone(&b))] {
        let s = s.clone();
        pushers.push(tokio::spawn(async move {
            for i in 0..per_task {
                let len = 8 + (i * 7) % 33;
                let content = format!("{name}{i:03}:{}", "x".repeat(len - 5));
                con.push_message(&s, msg(content), limit).await.unwrap();
            }
        }));
    }
    let watcher = {
        let done = Arc::clone(&done);
        let s = s.clone();
        tokio::spawn(async move {
            let mut reads = 0;
            while !done.load(Ordering::Relaxed) {
                let w = reader.window(&s).await.unwrap();
                assert!(within(&w), "a reader saw a window over its limits: {w:?}");
                reads += 1;
            }
            reads
        })
    };
    for p in pushers {
        p.await.unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let reads = watcher.await.unwrap();
    assert!(reads > 0);

    let w = a.window(&s).await.unwrap();
    assert!(within(&w), "{w:?}");
    // Nothing that fitted was dropped: the window is full, or one more message (of at
    // most 10 tokens) could have broken the budget.
    let tokens: usize = w.iter().map(|m| estimate_tokens(&m.content)).sum();
    assert!(
        w.len() == limit.max_messages || tokens + 10 > 40,
        "a message that fitted was dropped: {} messages, {tokens} tokens",
        w.len()
    );
    for name in ["a", "b"] {
        let mine: Vec<usize> = w
            .iter()
            .filter(|m| m.content.starts_with(name))
            .map(|m| m.content[1..4].parse().unwrap())
            .collect();
        assert!(mine.windows(2).all(|p| p[0] < p[1]), "{name}: {mine:?}");
    }
    // The last push of all is in the window.
    assert!(
        w.last()
            .is_some_and(|m| m.content[1..4].parse::<usize>().unwrap() == per_task - 1)
    );

    a.clear(&s).await.unwrap();
    common::cleanup(&prefix).await;
}

/// Unbounded concurrent pushes from two connections lose nothing and keep each
/// connection's order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushes_from_two_connections_lose_nothing() {
    let prefix = common::unique_prefix("concurrent_lose_nothing");
    let a = Arc::new(common::connect(&prefix).await);
    let b = Arc::new(common::connect(&prefix).await);
    let s = Scope::user("bob").with_session("many");
    let limit = WindowLimit {
        max_messages: 10_000,
        max_tokens: None,
    };
    let mut pushers = Vec::new();
    for (name, con) in [("a", Arc::clone(&a)), ("b", Arc::clone(&b))] {
        let s = s.clone();
        pushers.push(tokio::spawn(async move {
            for i in 0..150 {
                con.push_message(&s, msg(format!("{name}{i:03}")), limit)
                    .await
                    .unwrap();
            }
        }));
    }
    for p in pushers {
        p.await.unwrap();
    }
    let w = b.window(&s).await.unwrap();
    assert_eq!(w.len(), 300);
    for name in ["a", "b"] {
        let mine: Vec<String> = w
            .iter()
            .filter(|m| m.content.starts_with(name))
            .map(|m| m.content.clone())
            .collect();
        let expected: Vec<String> = (0..150).map(|i| format!("{name}{i:03}")).collect();
        assert_eq!(mine, expected);
    }
    common::cleanup(&prefix).await;
}
