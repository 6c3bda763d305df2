//! After the connection drops, calls fail as unavailable until the connection manager has
//! reconnected, then work again with nothing lost on the server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

mod common;

use std::time::{Duration, Instant};

use memory_core::{ErrorKind, Scope, ShortTermMemory};
use serde_json::json;
use store_redis::{RedisOptions, RedisShortTerm};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A TCP proxy to the test server whose open connections can be cut at once.
async fn proxy() -> (String, watch::Sender<u64>) {
    let url = common::url();
    let target = url
        .strip_prefix("redis://")
        .and_then(|rest| rest.split('/').next())
        .map(|hostport| hostport.rsplit('@').next().unwrap_or(hostport).to_owned())
        .unwrap_or_else(|| panic!("this test needs a redis:// URL, got {url}"));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (cut, cuts) = watch::channel(0u64);
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let target = target.clone();
            let mut cuts = cuts.clone();
            cuts.mark_unchanged();
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(&target).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    _ = cuts.changed() => {}
                }
            });
        }
    });
    // Keep the credentials and database of the real URL, pointing at the proxy.
    let proxied = match url.strip_prefix("redis://").and_then(|r| r.split_once('@')) {
        Some((creds, rest)) => {
            let path = rest.split_once('/').map(|(_, p)| p).unwrap_or("");
            format!("redis://{creds}@{addr}/{path}")
        }
        None => {
            let rest = url.trim_start_matches("redis://");
            let path = rest.split_once('/').map(|(_, p)| p).unwrap_or("");
            format!("redis://{addr}/{path}")
        }
    };
    (proxied, cut)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_the_connection_drops() {
    let (url, cut) = proxy().await;
    let prefix = common::unique_prefix("reconnects");
    let stm = RedisShortTerm::connect_with(&url, RedisOptions::default().with_prefix(&prefix))
        .await
        .unwrap();
    let s = Scope::user("alice").with_session("flaky");
    stm.set(&s, "k", json!("kept"), None).await.unwrap();

    cut.send_modify(|n| *n += 1);
    let started = Instant::now();
    let mut failures = 0;
    loop {
        match stm.get(&s, "k").await {
            Ok(v) => {
                assert_eq!(v, Some(json!("kept")));
                break;
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
                failures += 1;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no reconnection within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("calls failed while reconnecting: {failures}");
    stm.set(&s, "k2", json!(2), None).await.unwrap();
    assert_eq!(stm.keys(&s).await.unwrap(), vec!["k", "k2"]);
    stm.clear(&s).await.unwrap();
    common::cleanup(&prefix).await;
}
