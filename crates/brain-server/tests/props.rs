//! Properties of the server's own invariants: a token's scope is never widened, a token
//! verifies only itself, and any body sent to the API gets a JSON answer with a status
//! from a fixed set (never a panic, never a write from a rejected body).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use brain::Brain;
use brain_server::auth::digest_hex;
use brain_server::http::{HttpOptions, router};
use brain_server::{Access, Api, Principal, ServeConfig, TokenConfig, Tokens};
use memory_core::Scope;
use proptest::prelude::*;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

fn part() -> impl Strategy<Value = Option<String>> {
    prop_oneof![Just(None), "[ab]".prop_map(Some)]
}

fn scope() -> impl Strategy<Value = Scope> {
    (part(), part(), part()).prop_map(|(user, agent, session)| Scope {
        user,
        agent,
        session,
    })
}

proptest! {
    #[test]
    fn narrowing_never_widens(bound in scope(), requested in proptest::option::of(scope())) {
        let p = Principal { name: "t".into(), scope: bound.clone(), access: Access::Read };
        match p.narrow(requested.clone()) {
            Ok(s) => {
                // The result is within the token's scope...
                prop_assert!(bound.matches(&s));
                // ...and keeps every part the request named.
                if let Some(r) = &requested {
                    for (asked, got) in [(&r.user, &s.user), (&r.agent, &s.agent), (&r.session, &s.session)] {
                        if asked.is_some() { prop_assert_eq!(asked, got); }
                    }
                }
            }
            Err(e) => {
                prop_assert_eq!(e.status, 403);
                let r = requested.unwrap_or_default();
                let conflict = [(&bound.user, &r.user), (&bound.agent, &r.agent), (&bound.session, &r.session)]
                    .iter()
                    .any(|(b, q)| b.is_some() && q.is_some() && b != q);
                prop_assert!(conflict);
            }
        }
    }

    #[test]
    fn a_token_verifies_only_itself(a in "[ -~]{16,64}", b in "[ -~]{16,64}") {
        let cfg = TokenConfig {
            name: "a".into(), sha256: Some(digest_hex(&a)), env: None,
            user: Some("u".into()), agent: None, session: None, access: Access::ReadWrite,
        };
        let tokens = Tokens::from_config(&[cfg], |_| None).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(tokens.verify(&a).is_some());
        prop_assert_eq!(tokens.verify(&b).is_some(), a == b);
    }
}

fn app(rt: &tokio::runtime::Runtime) -> Result<axum::Router, Box<dyn std::error::Error>> {
    let brain = rt.block_on(
        Brain::builder()
            .store(brain_engines::sqlite_in_memory()?)
            .embedder(Arc::new(embed::HashingEmbedder::new(64)?))
            .index(brain_engines::exact_index(64)?)
            .build(),
    )?;
    let config = ServeConfig {
        max_body_bytes: 4096,
        ..ServeConfig::default()
    };
    Ok(router(
        Api::new(Arc::new(brain)),
        HttpOptions {
            config,
            tokens: Tokens::none(),
            local: Principal::local(Scope::user("p")),
            addr: None,
        },
        CancellationToken::new(),
    ))
}

#[test]
fn any_body_gets_a_json_answer() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let app = app(&rt)?;
    let body = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..6000),
        "\\PC{0,300}".prop_map(String::into_bytes),
        ("\\PC{0,200}", proptest::option::of(-5.0f64..5.0)).prop_map(|(c, i)| {
            serde_json::to_vec(&serde_json::json!({"content": c, "importance": i}))
                .unwrap_or_default()
        }),
    ];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(128));
    runner.run(&body, |bytes| {
        let req = Request::post("/v1/memories")
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(Body::from(bytes.clone()))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let res = rt
            .block_on(app.clone().oneshot(req))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let status = res.status();
        prop_assert!(
            [
                StatusCode::CREATED,
                StatusCode::BAD_REQUEST,
                StatusCode::PAYLOAD_TOO_LARGE
            ]
            .contains(&status),
            "{status}"
        );
        let bytes_out = rt
            .block_on(axum::body::to_bytes(res.into_body(), 1 << 20))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let v: serde_json::Value = serde_json::from_slice(&bytes_out)
            .map_err(|e| TestCaseError::fail(format!("not JSON: {e}")))?;
        if status == StatusCode::CREATED {
            prop_assert_eq!(&v["scope"]["user"], "p");
        } else {
            prop_assert!(
                v["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
        }
        Ok(())
    })?;
    Ok(())
}
