//! Input is checked as the in-process implementation checks it, stored data that cannot be
//! read is a backend error, a server out of reach is unavailable; TTL edge cases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

mod common;

use std::time::{Duration, Instant};

use memory_core::{
    ContextMessage, ErrorKind, Role, Scope, ShortTermMemory, Timestamp, WindowLimit,
};
use serde_json::json;
use store_redis::{RedisOptions, RedisShortTerm};

fn msg(content: &str) -> ContextMessage {
    ContextMessage {
        role: Role::Tool,
        content: content.to_owned(),
        at: Timestamp::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_is_rejected_and_writes_nothing() {
    let stm = common::fresh("invalid_input").await;
    let prefix = stm.prefix().to_owned();
    let ok = Scope::user("alice");
    let bad_scopes = [
        Scope::user(""),
        Scope::user("  "),
        Scope::user("a\nb"),
        Scope::user("alice").with_session("x".repeat(513)),
    ];
    for s in &bad_scopes {
        let e = stm.set(s, "k", json!(1), None).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{s:?}: {e}");
        let e = stm
            .push_message(s, msg("hi"), WindowLimit::default())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{s:?}: {e}");
    }
    for key in ["", " ", "a\u{7}", &"k".repeat(513)] {
        let e = stm.set(&ok, key, json!(1), None).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{key:?}: {e}");
    }
    let e = stm
        .push_message(&ok, msg("nul \0 inside"), WindowLimit::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = stm
        .push_message(
            &ok,
            msg("hi"),
            WindowLimit {
                max_messages: 0,
                max_tokens: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = stm
        .push_message(
            &ok,
            msg(&"x".repeat(memory_core::validate::MAX_TEXT_BYTES + 1)),
            WindowLimit::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(common::keys_under(&prefix).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_prefixes_and_urls_are_invalid_input() {
    for prefix in ["", "a{b", "a}b", "a\nb"] {
        let e = RedisShortTerm::connect_with(
            &common::url(),
            RedisOptions::default().with_prefix(prefix),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{prefix:?}: {e}");
    }
    let e = RedisShortTerm::connect("not a url").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_out_of_reach_is_unavailable() {
    let started = Instant::now();
    // Nothing listens on port 1 of loopback.
    let e = RedisShortTerm::connect_with(
        "redis://127.0.0.1:1",
        RedisOptions {
            connection_timeout: Duration::from_millis(200),
            reconnect_retries: 1,
            ..RedisOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_data_is_a_backend_error() {
    let stm = common::fresh("corrupt_data").await;
    let prefix = stm.prefix().to_owned();
    let s = Scope::user("alice").with_session("c");
    let keys = stm.keys_of(&s);
    let mut raw = common::raw().await;

    // A variable stored here, then overwritten by something else.
    stm.set(&s, "v", json!(1), None).await.unwrap();
    let _: () = redis::AsyncCommands::set(&mut raw, keys.variable("v"), "{not json")
        .await
        .unwrap();
    let e = stm.get(&s, "v").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Backend, "{e}");

    stm.push_message(&s, msg("fine"), WindowLimit::default())
        .await
        .unwrap();
    let _: () = redis::AsyncCommands::rpush(&mut raw, keys.window(), "garbage")
        .await
        .unwrap();
    let e = stm.window(&s).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Backend, "{e}");
    // The window and its token list are out of step now: a push says so, changing nothing.
    let e = stm
        .push_message(&s, msg("more"), WindowLimit::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Backend, "{e}");
    let len: usize = redis::AsyncCommands::llen(&mut raw, keys.window())
        .await
        .unwrap();
    assert_eq!(len, 2);

    // A key of the wrong type.
    let t = Scope::user("alice").with_session("wrongtype");
    let _: () = redis::AsyncCommands::set(&mut raw, stm.keys_of(&t).window(), "a string")
        .await
        .unwrap();
    let e = stm.window(&t).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Backend, "{e}");
    let e = stm
        .push_message(&t, msg("x"), WindowLimit::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Backend, "{e}");

    // clear recovers a corrupt scope.
    stm.clear(&s).await.unwrap();
    assert!(stm.window(&s).await.unwrap().is_empty());
    assert_eq!(stm.get(&s, "v").await.unwrap(), None);
    common::cleanup(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_edge_cases() {
    let stm = common::fresh("ttl_edges").await;
    let prefix = stm.prefix().to_owned();
    let s = Scope::user("alice");
    // A zero TTL stores an already expired variable: it replaces and hides the old value.
    stm.set(&s, "k", json!(1), None).await.unwrap();
    stm.set(&s, "k", json!(2), Some(Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(stm.get(&s, "k").await.unwrap(), None);
    assert!(stm.keys(&s).await.unwrap().is_empty());
    assert!(!stm.remove(&s, "k").await.unwrap());
    // A huge TTL is kept (clamped), not an error.
    stm.set(&s, "forever", json!("x"), Some(Duration::MAX))
        .await
        .unwrap();
    assert_eq!(stm.get(&s, "forever").await.unwrap(), Some(json!("x")));
    // Setting without a TTL drops an earlier one.
    stm.set(&s, "kept", json!(1), Some(Duration::from_millis(100)))
        .await
        .unwrap();
    stm.set(&s, "kept", json!(2), None).await.unwrap();
    // A TTL set later replaces none.
    stm.set(&s, "gone", json!(1), None).await.unwrap();
    stm.set(&s, "gone", json!(2), Some(Duration::from_millis(100)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(stm.get(&s, "kept").await.unwrap(), Some(json!(2)));
    assert_eq!(stm.get(&s, "gone").await.unwrap(), None);
    assert_eq!(stm.keys(&s).await.unwrap(), vec!["forever", "kept"]);
    // Removing an expired variable finds nothing.
    stm.set(&s, "brief", json!(1), Some(Duration::from_millis(20)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!stm.remove(&s, "brief").await.unwrap());
    stm.clear(&s).await.unwrap();
    assert_eq!(common::keys_under(&prefix).await, Vec::<String>::new());
}

/// Names and values round-trip whatever they hold, and keys sort by bytes as in process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_names_and_values_round_trip() {
    let stm = common::fresh("odd_names").await;
    let prefix = stm.prefix().to_owned();
    let s = Scope::user("u:{x}")
        .with_agent("a,b=c%")
        .with_session("é 🦀");
    let names = ["b", "a:v:x", "Z", "é", "{tag}", "%41", "*?[", "a b"];
    for (i, n) in names.iter().enumerate() {
        stm.set(
            &s,
            n,
            json!({"i": i, "s": n, "f": 0.1, "nested": [null, true]}),
            None,
        )
        .await
        .unwrap();
    }
    let mut sorted: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    sorted.sort();
    assert_eq!(stm.keys(&s).await.unwrap(), sorted);
    for (i, n) in names.iter().enumerate() {
        assert_eq!(
            stm.get(&s, n).await.unwrap(),
            Some(json!({"i": i, "s": n, "f": 0.1, "nested": [null, true]}))
        );
    }
    // No other scope sees them, even one whose parts look alike.
    let other = Scope::user("u:{x}")
        .with_agent("a,b=c%")
        .with_session("é 🦀 ");
    assert!(stm.keys(&other).await.unwrap().is_empty());
    let message = ContextMessage {
        role: Role::System,
        content: "line\nbreak \"quoted\" 🦀".into(),
        at: Timestamp::now(),
    };
    stm.push_message(&s, message.clone(), WindowLimit::default())
        .await
        .unwrap();
    assert_eq!(stm.window(&s).await.unwrap(), vec![message]);
    stm.clear(&s).await.unwrap();
    assert_eq!(common::keys_under(&prefix).await, Vec::<String>::new());
}
