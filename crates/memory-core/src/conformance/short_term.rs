//! The short-term memory conformance suite: working variables with TTL and context
//! windows bounded by count and tokens, isolated per scope.
//!
//! Each `pub async fn` takes a fresh, empty [`ShortTermMemory`] and panics with a message
//! when the implementation breaks the contract. The in-process implementation in `brain`
//! and the Redis one run the same checks.

use std::time::Duration;

use serde_json::json;

use crate::*;

fn msg(role: Role, content: &str) -> ContextMessage {
    ContextMessage {
        role,
        content: content.to_owned(),
        at: Timestamp::now(),
    }
}

/// Set, get, overwrite, remove and list working variables.
pub async fn variables(stm: &dyn ShortTermMemory) {
    let s = Scope::user("alice").with_session("s1");
    assert_eq!(stm.get(&s, "task").await.unwrap(), None);
    stm.set(&s, "task", json!({"step": 1}), None).await.unwrap();
    assert_eq!(stm.get(&s, "task").await.unwrap(), Some(json!({"step": 1})));
    stm.set(&s, "task", json!({"step": 2}), None).await.unwrap();
    assert_eq!(
        stm.get(&s, "task").await.unwrap(),
        Some(json!({"step": 2})),
        "set replaces"
    );
    stm.set(&s, "a", json!("x"), None).await.unwrap();
    assert_eq!(
        stm.keys(&s).await.unwrap(),
        vec!["a", "task"],
        "keys are sorted"
    );
    assert!(stm.remove(&s, "a").await.unwrap());
    assert!(
        !stm.remove(&s, "a").await.unwrap(),
        "second remove finds nothing"
    );
    assert_eq!(stm.keys(&s).await.unwrap(), vec!["task"]);
}

/// A variable with a TTL disappears after it; one without stays.
pub async fn ttl_expires(stm: &dyn ShortTermMemory) {
    let s = Scope::user("alice").with_session("ttl");
    stm.set(&s, "short", json!(1), Some(Duration::from_millis(50)))
        .await
        .unwrap();
    stm.set(&s, "long", json!(2), None).await.unwrap();
    assert_eq!(stm.get(&s, "short").await.unwrap(), Some(json!(1)));
    sleep(Duration::from_millis(1_100)).await;
    assert_eq!(stm.get(&s, "short").await.unwrap(), None, "expired");
    assert_eq!(
        stm.keys(&s).await.unwrap(),
        vec!["long"],
        "expired keys not listed"
    );
    assert_eq!(stm.get(&s, "long").await.unwrap(), Some(json!(2)));
}

/// Scopes never see each other's variables or messages.
pub async fn scopes_are_isolated(stm: &dyn ShortTermMemory) {
    let a = Scope::user("alice").with_session("s");
    let b = Scope::user("bob").with_session("s");
    stm.set(&a, "k", json!("alice's"), None).await.unwrap();
    stm.push_message(&a, msg(Role::User, "hi from alice"), WindowLimit::default())
        .await
        .unwrap();
    assert_eq!(stm.get(&b, "k").await.unwrap(), None);
    assert!(stm.keys(&b).await.unwrap().is_empty());
    assert!(stm.window(&b).await.unwrap().is_empty());
    stm.clear(&b).await.unwrap();
    assert_eq!(stm.get(&a, "k").await.unwrap(), Some(json!("alice's")));
    stm.clear(&a).await.unwrap();
    assert_eq!(stm.get(&a, "k").await.unwrap(), None);
    assert!(stm.window(&a).await.unwrap().is_empty());
}

/// The window keeps the newest messages within the count and token bounds, oldest first.
pub async fn window_limits(stm: &dyn ShortTermMemory) {
    let s = Scope::user("alice").with_session("window");
    let by_count = WindowLimit {
        max_messages: 3,
        max_tokens: None,
    };
    for i in 0..5 {
        stm.push_message(&s, msg(Role::User, &format!("m{i}")), by_count)
            .await
            .unwrap();
    }
    let w: Vec<String> = stm
        .window(&s)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(w, vec!["m2", "m3", "m4"], "newest three, oldest first");

    let t = Scope::user("alice").with_session("tokens");
    let by_tokens = WindowLimit {
        max_messages: 100,
        max_tokens: Some(10),
    };
    // 16 bytes = 4 estimated tokens each: only two fit in 10.
    for i in 0..4 {
        stm.push_message(&t, msg(Role::Assistant, &format!("{i:0>16}")), by_tokens)
            .await
            .unwrap();
    }
    let w = stm.window(&t).await.unwrap();
    assert_eq!(w.len(), 2, "token budget keeps two messages: {w:?}");
    assert_eq!(w[1].content, format!("{:0>16}", 3));
    assert_eq!(w[1].role, Role::Assistant);

    // A single message over the budget is still kept: the newest message always is.
    let big = "x".repeat(400);
    stm.push_message(&t, msg(Role::User, &big), by_tokens)
        .await
        .unwrap();
    let w = stm.window(&t).await.unwrap();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].content, big);
}

/// Many concurrent pushes to one window lose no message.
pub async fn concurrent_pushes(stm: std::sync::Arc<dyn ShortTermMemory>) {
    let s = Scope::user("alice").with_session("concurrent");
    let limit = WindowLimit {
        max_messages: 1_000,
        max_tokens: None,
    };
    let mut tasks = Vec::new();
    for t in 0..8 {
        let stm = std::sync::Arc::clone(&stm);
        let s = s.clone();
        tasks.push(async move {
            for i in 0..25 {
                stm.push_message(&s, msg(Role::User, &format!("{t}-{i}")), limit)
                    .await
                    .unwrap();
            }
        });
    }
    super::join_all(tasks).await;
    assert_eq!(stm.window(&s).await.unwrap().len(), 200);
}

/// Sleeps on a timer thread, so the suite names no async runtime.
async fn sleep(d: Duration) {
    use std::sync::{Arc, Mutex};
    use std::task::{Poll, Waker};
    struct State {
        done: bool,
        waker: Option<Waker>,
    }
    let state = Arc::new(Mutex::new(State {
        done: false,
        waker: None,
    }));
    let timer = Arc::clone(&state);
    std::thread::spawn(move || {
        std::thread::sleep(d);
        let mut st = timer.lock().unwrap();
        st.done = true;
        if let Some(w) = st.waker.take() {
            w.wake();
        }
    });
    std::future::poll_fn(|cx| {
        let mut st = state.lock().unwrap();
        if st.done {
            Poll::Ready(())
        } else {
            st.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    })
    .await
}
