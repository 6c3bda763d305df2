//! `brain config`: the keys, the values in effect with where each came from, the default
//! file, and misspelt variables.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

mod common;

use common::TestBrain;

#[test]
fn show_says_where_each_value_came_from_and_hides_secrets() {
    let b = TestBrain::new();
    let file = b.path("brain.toml");
    std::fs::write(&file, "[recall]\nk = 7\n").unwrap();
    let out = b
        .command()
        .args([
            "--json",
            "--config",
            file.to_str().unwrap(),
            "config",
            "show",
        ])
        .env("BRAIN_RECALL__DEPTH", "60")
        .env("BRAIN_RECAL__K", "3")
        .env("BRAIN_SHORT_TERM__URL", "redis://:hunter2@cache:6379")
        .output()
        .unwrap();
    let run = common::Run::from(out);
    let shown = run.json();
    let value = |key: &str| {
        shown["values"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["key"] == key)
            .unwrap()
            .clone()
    };
    assert_eq!(value("recall.k")["value"], 7);
    assert_eq!(value("recall.k")["source"]["from"], "file");
    assert_eq!(
        value("recall.depth")["source"]["var"],
        "BRAIN_RECALL__DEPTH"
    );
    assert_eq!(value("index.m")["source"]["from"], "default");
    assert_eq!(value("data_dir")["source"]["var"], "BRAIN_DATA_DIR");
    assert_eq!(value("short_term.url")["secret"], true);
    assert!(!run.stdout.contains("hunter2"), "{}", run.stdout);
    assert!(
        run.stderr.contains("BRAIN_RECAL__K") && run.stderr.contains("BRAIN_RECALL__K"),
        "a misspelt variable is a warning naming the right one: {}",
        run.stderr
    );

    let text = b.run(&[
        "--data-dir",
        b.path("elsewhere").to_str().unwrap(),
        "config",
        "show",
    ]);
    assert!(text.ok().contains("# flag --data-dir"), "{text:?}");
}

#[test]
fn keys_and_the_default_file() {
    let b = TestBrain::new();
    let keys = b.run(&["--json", "config", "keys"]).json();
    let keys = keys.as_array().unwrap();
    assert!(keys.len() > 50);
    let k = keys.iter().find(|k| k["key"] == "recall.k").unwrap();
    assert_eq!(k["env"], "BRAIN_RECALL__K");
    assert!(k["meaning"].as_str().unwrap().contains("Default 10"));
    let tokens = keys.iter().find(|k| k["key"] == "serve.tokens").unwrap();
    assert!(tokens["env"].is_null(), "lists are set in the file");

    let path = b.run(&["--json", "config", "path"]).json();
    assert_eq!(path["exists"], false);
    let default = std::path::PathBuf::from(path["path"].as_str().unwrap());
    assert!(default.starts_with(b.path("xdg-config")), "{default:?}");
    std::fs::create_dir_all(default.parent().unwrap()).unwrap();
    std::fs::write(&default, "[recall]\nk = 4\n").unwrap();
    let shown = b.run(&["--json", "config", "show"]).json();
    assert_eq!(shown["file"], default.to_str().unwrap());
    std::fs::write(&default, "[recall]\nk = \"four\"\n").unwrap();
    let run = b.run(&["config", "show"]);
    run.fails(4, "recall.k");
    assert!(run.stderr.contains("is not a whole number"), "{run:?}");
    assert!(!run.stderr.contains("usize"), "{run:?}");
}
