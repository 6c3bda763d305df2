#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! End-to-end tests over the built `brain` binary: every command runs in its own
//! process on a temporary data directory with the hashing embedder (no model needed).

mod common;

use clap::CommandFactory;
use common::{TestBrain, contents};
use serde_json::Value;

#[test]
fn remember_then_recall_from_another_process() {
    let b = TestBrain::new();
    let id = b.remember(
        "the staging database listens on port 5433",
        &["--user", "me", "--meta", "env=staging", "--kind", "infra"],
    );
    assert_eq!(id.len(), 36, "an id: {id}");
    b.remember("lunch is at noon", &["--user", "me"]);

    // Human output names the memory and its score parts.
    let human = b.run(&["recall", "staging database port", "--user", "me"]);
    let text = human.ok();
    assert!(
        text.contains("the staging database listens on port 5433"),
        "{text}"
    );
    assert!(text.contains("keyword #1") && text.contains(&id), "{text}");

    // JSON output parses: an array of {memory, score}.
    let hits = b
        .run(&[
            "--json",
            "recall",
            "staging database port",
            "--user",
            "me",
            "-k",
            "1",
        ])
        .json();
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["memory"]["id"], Value::from(id.as_str()));
    assert_eq!(hits[0]["memory"]["metadata"]["env"], "staging");
    assert_eq!(hits[0]["memory"]["kind"], "infra");
    assert!(hits[0]["score"]["total"].as_f64().unwrap() > 0.0);
    assert_eq!(hits[0]["score"]["keyword_rank"], 1);

    // Filters: kind and metadata.
    assert_eq!(
        b.recall("port", &["--kind", "infra", "--meta", "env=staging"]),
        vec!["the staging database listens on port 5433"]
    );
    assert!(b.recall("port", &["--meta", "env=prod"]).is_empty());
    for mode in ["keyword", "vector", "hybrid"] {
        let found = b.recall("staging database", &["--mode", mode, "-k", "1"]);
        assert_eq!(found.len(), 1, "{mode}");
    }

    let stats = b.stats();
    assert_eq!(stats["store"]["memories"], 2);
    assert_eq!(stats["indexed"], 2);
    assert!(
        b.data().join("vectors").is_dir(),
        "closing the brain wrote the index snapshot"
    );
}

#[test]
fn scopes_are_isolated() {
    let b = TestBrain::new();
    b.remember("alice deploys on fridays", &["--user", "alice"]);
    b.remember("bob never deploys on fridays", &["--user", "bob"]);
    b.remember(
        "alice's coder agent prefers small commits",
        &["--user", "alice", "--agent", "coder"],
    );

    let alice = b.recall("deploys fridays commits", &["--user", "alice"]);
    assert_eq!(alice.len(), 2, "{alice:?}");
    assert!(alice.iter().all(|c| c.starts_with("alice")), "{alice:?}");
    let bob = b.recall("deploys fridays commits", &["--user", "bob"]);
    assert_eq!(bob, vec!["bob never deploys on fridays"]);
    let coder = b.recall("commits", &["--user", "alice", "--agent", "coder"]);
    assert_eq!(coder, vec!["alice's coder agent prefers small commits"]);
    assert!(b.recall("deploys", &["--user", "carol"]).is_empty());
}

#[test]
fn batch_recall_answers_one_line_per_query() {
    let b = TestBrain::new();
    b.remember("rust uses cargo to build", &["--user", "a"]);
    b.remember("python uses pip to install packages", &["--user", "b"]);
    let serialized = serde_json::to_string(
        &brain::RecallQuery::new("pip packages", memory_core::Scope::user("b")).with_k(1),
    )
    .unwrap();
    let input = format!(
        "{}\n\n{}\n{}\n",
        r#"{"text": "cargo build", "user": "a", "k": 5}"#,
        serialized,
        r#"{"text": "cargo build", "user": "b", "mode": "keyword"}"#,
    );
    let run = b.run_stdin(&["recall", "--batch", "-"], input.as_bytes());
    let lines: Vec<&str> = run.ok().lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "one line per query, blank lines skipped: {run:?}"
    );
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(contents(&parsed[0]), vec!["rust uses cargo to build"]);
    assert_eq!(
        contents(&parsed[1]),
        vec!["python uses pip to install packages"]
    );
    assert!(contents(&parsed[2]).is_empty(), "scoped to b, keyword only");

    // From a file, with command-line defaults for what the lines leave out.
    let file = b.path("queries.jsonl");
    std::fs::write(&file, "{\"text\": \"cargo\"}\n{\"text\": \"pip\"}\n").unwrap();
    let run = b.run(&["recall", "--batch", file.to_str().unwrap(), "--user", "a"]);
    let lines: Vec<Value> = run
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(contents(&lines[0]), vec!["rust uses cargo to build"]);
    assert!(
        contents(&lines[1])
            .iter()
            .all(|c| c == "rust uses cargo to build"),
        "the default scope applies"
    );

    // A bad line inside a file's chunk is answered in its place; the others still are.
    std::fs::write(
        &file,
        "{\"text\": \"cargo\"}\nnot json\n{\"text\": \"pip\"}\n",
    )
    .unwrap();
    let run = b.run(&["recall", "--batch", file.to_str().unwrap(), "--user", "a"]);
    assert_eq!(run.code, 4, "{run:?}");
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(contents(&lines[0]), vec!["rust uses cargo to build"]);
    assert_eq!(lines[1]["error"]["line"], 2);
    assert!(lines[2].is_array());
}

#[test]
fn forget_and_prune() {
    let b = TestBrain::new();
    b.remember("keep the deploy checklist", &["--importance", "0.9"]);
    let drop1 = b.remember(
        "a passing remark about the deploy",
        &["--importance", "0.1"],
    );
    let drop2 = b.remember(
        "another deploy aside",
        &["--importance", "0.2", "--kind", "aside"],
    );

    // Forget by id; a second time it is not found.
    b.run(&["forget", &drop1]).ok();
    assert!(
        !b.recall("deploy", &[])
            .contains(&"a passing remark about the deploy".to_owned())
    );
    b.run(&["forget", &drop1]).fails(3, "not found");
    b.run(&["forget", "not-an-id"])
        .fails(4, "invalid memory id");

    // A dry run deletes nothing; the real prune deletes what it listed.
    let dry = b
        .run(&[
            "--json",
            "prune",
            "--max-importance",
            "0.5",
            "--older-than",
            "0s",
            "--dry-run",
        ])
        .json();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["memories"].as_array().unwrap().len(), 1);
    assert_eq!(dry["memories"][0]["id"], Value::from(drop2.as_str()));
    assert_eq!(b.stats()["store"]["memories"], 2);
    // Nothing is older than a day yet.
    let young = b
        .run(&[
            "--json",
            "prune",
            "--max-importance",
            "0.5",
            "--older-than",
            "1d",
        ])
        .json();
    assert!(young["memories"].as_array().unwrap().is_empty());
    b.run(&["prune", "--max-importance", "0.5", "--older-than", "0s"])
        .ok();
    assert_eq!(b.recall("deploy", &[]), vec!["keep the deploy checklist"]);

    // Forget by filter: refused without --yes when there is no terminal to ask on.
    b.remember("scratch one", &["--kind", "scratch"]);
    b.remember("scratch two", &["--kind", "scratch"]);
    b.run(&["forget", "--where", "--kind", "scratch"])
        .fails(4, "without confirmation");
    assert_eq!(b.stats()["store"]["memories"], 3);
    let gone = b
        .run(&["--json", "forget", "--where", "--kind", "scratch", "--yes"])
        .json();
    assert_eq!(gone["forgotten"].as_array().unwrap().len(), 2);
    assert_eq!(b.stats()["store"]["memories"], 1);
    assert_eq!(b.stats()["indexed"], 1);
    assert_eq!(b.recall("scratch", &[]), vec!["keep the deploy checklist"]);
}

#[test]
fn seed_records_round_trip() {
    let b = TestBrain::new();

    // Preferences: JSON values, text values, --string.
    b.run(&["pref", "set", "indent", "4", "--user", "alice"])
        .ok();
    b.run(&[
        "pref",
        "set",
        "theme",
        "dark",
        "--user",
        "alice",
        "--category",
        "ui",
    ])
    .ok();
    b.run(&["pref", "set", "zip", "02134", "--string", "--user", "alice"])
        .ok();
    assert_eq!(
        b.run(&["pref", "get", "indent", "--user", "alice"]).ok(),
        "4\n"
    );
    let theme = b
        .run(&["--json", "pref", "get", "theme", "--user", "alice"])
        .json();
    assert_eq!(
        (theme["value"].clone(), theme["category"].clone()),
        ("dark".into(), "ui".into())
    );
    let zip = b
        .run(&["--json", "pref", "get", "zip", "--user", "alice"])
        .json();
    assert_eq!(zip["value"], "02134");
    b.run(&["pref", "get", "indent", "--user", "bob"])
        .fails(3, "not found");
    let list = b
        .run(&[
            "--json",
            "pref",
            "list",
            "--user",
            "alice",
            "--category",
            "ui",
        ])
        .json();
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Projects.
    let pid = b
        .run(&[
            "project",
            "add",
            "brain",
            "--tech",
            "rust",
            "--path",
            "/src/brain",
            "--user",
            "alice",
        ])
        .ok()
        .trim()
        .to_owned();
    let touched = b.run(&["--json", "project", "touch", &pid]).json();
    // Times are RFC 3339 in JSON.
    let at = touched["last_accessed"].as_str().unwrap_or_default();
    assert!(
        at.parse::<memory_core::Timestamp>().is_ok() && at.ends_with('Z'),
        "{touched}"
    );
    let projects = b
        .run(&["--json", "project", "list", "--user", "alice"])
        .json();
    assert_eq!(projects[0]["name"], "brain");
    assert_eq!(projects[0]["tech_stack"][0], "rust");
    b.run(&["project", "touch", "999"]).fails(3, "not found");

    // Patterns: the same one twice counts a success; outcomes; search; list.
    let add = [
        "pattern",
        "add",
        "--type",
        "error_fix",
        "--context",
        "linker `cc` not found while building",
        "--solution",
        "apt-get install gcc",
        "--language",
        "shell",
    ];
    let first = b.run(&add).ok().trim().to_owned();
    let mut add_json = vec!["--json"];
    add_json.extend(add);
    let again = b.run(&add_json).json();
    assert_eq!(again["inserted"], false);
    assert_eq!(again["pattern"]["id"].to_string(), first);
    assert_eq!(again["pattern"]["success_count"], 2);
    let failed = b.run(&["--json", "pattern", "failure", &first]).json();
    assert_eq!(failed["failure_count"], 1);
    b.run(&["pattern", "success", &first]).ok();
    let found = b
        .run(&["--json", "pattern", "search", "linker not found"])
        .json();
    assert_eq!(found[0]["pattern"]["solution"], "apt-get install gcc");
    assert!(found[0]["success_rate"].as_f64().unwrap() > 0.5);
    let listed = b
        .run(&["--json", "pattern", "list", "--language", "shell"])
        .json();
    assert_eq!(listed[0]["success_count"], 3);
    b.run(&["pattern", "failure", "999"]).fails(3, "not found");

    // Decisions and outcomes.
    let did = b
        .run(&[
            "decision",
            "record",
            "--agent-type",
            "planner",
            "--context",
            "pick a store",
            "--option",
            "sqlite",
            "--option",
            "postgres",
            "--chosen",
            "sqlite",
            "--user",
            "alice",
        ])
        .ok()
        .trim()
        .to_owned();
    let pending = b.run(&["--json", "decision", "list", "--pending"]).json();
    assert_eq!(pending.as_array().unwrap().len(), 1);
    let decided = b
        .run(&[
            "--json",
            "decision",
            "outcome",
            &did,
            "it worked",
            "--reward",
            "0.8",
        ])
        .json();
    assert_eq!(decided["reward"], 0.8);
    let listed = b
        .run(&["--json", "decision", "list", "--decided", "--user", "alice"])
        .json();
    assert_eq!(listed[0]["outcome"], "it worked");
    assert_eq!(
        listed[0]["options"],
        serde_json::json!(["sqlite", "postgres"])
    );
    b.run(&["decision", "outcome", &did, "x", "--reward", "2"])
        .fails(4, "reward");

    // Conversations.
    b.run(&[
        "conversation",
        "add",
        "we chose sqlite",
        "--decision",
        "use sqlite",
        "--feedback",
        "good",
        "--user",
        "alice",
    ])
    .ok();
    let convs = b
        .run(&["--json", "conversation", "list", "--user", "alice"])
        .json();
    assert_eq!(convs[0]["summary"], "we chose sqlite");
    assert_eq!(convs[0]["key_decisions"][0], "use sqlite");

    // Learning events.
    b.run(&[
        "event",
        "success",
        "--reward",
        "-0.5",
        "--task",
        "deploy",
        "--outcome",
        "rolled back",
        "--meta",
        "attempt=2",
        "--user",
        "alice",
    ])
    .ok();
    let events = b
        .run(&["--json", "events", "--type", "success", "--since", "1h"])
        .json();
    assert_eq!(events[0]["reward"], -0.5);
    assert_eq!(events[0]["metadata"]["attempt"], 2);
    assert_eq!(events[0]["scope"]["user"], "alice");

    let stats = b.stats();
    for (table, n) in [
        ("preferences", 3),
        ("projects", 1),
        ("patterns", 1),
        ("decisions", 1),
        ("conversations", 1),
        // The recorded event, and the one the decision's outcome added.
        ("learning_events", 2),
    ] {
        assert_eq!(stats["store"][table], n, "{table}");
    }
}

#[test]
fn export_then_import_gives_the_same_recall() {
    let a = TestBrain::new();
    a.remember(
        "the staging database listens on port 5433",
        &["--user", "me", "--meta", "env=staging"],
    );
    a.remember(
        "deploys need two approvals",
        &["--user", "me", "--importance", "0.8"],
    );
    a.run(&["pref", "set", "theme", "dark", "--user", "me"])
        .ok();
    a.run(&[
        "pattern",
        "add",
        "--type",
        "error_fix",
        "--context",
        "port 5433 refused",
        "--solution",
        "start the staging db",
    ])
    .ok();
    let file = a.path("export.jsonl");
    a.run(&["export", file.to_str().unwrap()]).ok();

    let b = TestBrain::new();
    let counts = b.run(&["--json", "import", file.to_str().unwrap()]).json();
    assert_eq!(counts["memories"], 2);
    assert_eq!(counts["records"], 2);
    for q in ["staging port", "approvals", "port 5433"] {
        let hits = |t: &TestBrain| {
            let v = t.run(&["--json", "recall", q, "--user", "me"]).json();
            v.as_array()
                .unwrap()
                .iter()
                .map(|h| h["memory"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(hits(&a), hits(&b), "{q}");
    }
    // Importing again clashes and imports nothing.
    b.run(&["import", file.to_str().unwrap()])
        .fails(4, "already in this brain");
    assert_eq!(
        b.stats()["store"]["memories"],
        3,
        "two memories and one pattern entry"
    );
    // An export to stdout is the same JSONL.
    let out = a.run(&["export"]);
    assert_eq!(
        out.ok().lines().count(),
        std::fs::read_to_string(&file).unwrap().lines().count()
    );
}

#[test]
fn bad_input_is_a_clear_error_and_loses_nothing() {
    let b = TestBrain::new();
    b.remember("precious memory about tabs", &["--user", "me"]);
    let intact = |b: &TestBrain| {
        assert_eq!(
            b.recall("precious tabs", &["--user", "me"]),
            vec!["precious memory about tabs"]
        );
        assert_eq!(b.stats()["store"]["memories"], 1);
    };

    // A data directory with no brain in it: read commands say so (3).
    let missing = b.path("nowhere");
    let run = b
        .command()
        .args(["--data-dir", missing.to_str().unwrap(), "recall", "tabs"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("no brain in") && stderr.contains("brain init"),
        "{stderr}"
    );
    assert!(!missing.exists(), "reading does not create a brain");

    // A data directory that cannot be created (its parent is a file): unavailable (6).
    let file = b.path("a-file");
    std::fs::write(&file, "x").unwrap();
    let unwritable = file.join("data");
    let run = b
        .command()
        .args(["--data-dir", unwritable.to_str().unwrap(), "remember", "x"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(6), "{run:?}");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("error:") && stderr.contains("hint:"),
        "{stderr}"
    );

    // Broken config files: a syntax error, an unknown key, a bad value (4).
    for (text, needle) in [
        ("[recall\nk = 3\n", "line"),
        ("[recall]\nkk = 3\n", "kk"),
        ("[recall]\nk = 0\n", "recall.k"),
    ] {
        let config = b.path("brain.toml");
        std::fs::write(&config, text).unwrap();
        b.run(&["--config", config.to_str().unwrap(), "recall", "tabs"])
            .fails(4, needle);
        b.run(&["--config", config.to_str().unwrap(), "remember", "lost?"])
            .fails(4, "configuration");
    }
    b.run(&["--config", b.path("none.toml").to_str().unwrap(), "stats"])
        .fails(4, "does not exist");
    intact(&b);

    // Unknown options and malformed arguments are usage errors (2).
    b.run(&["recall", "tabs", "--frobnicate"])
        .fails(2, "--frobnicate");
    b.run(&["remember", "x", "--meta", "no-equals-sign"])
        .fails(2, "KEY=VALUE");
    b.run(&["remember", "x", "--ttl", "soon"])
        .fails(2, "duration");
    b.run(&["no-such-command"]).fails(2, "no-such-command");

    // Rejected values (4).
    b.run(&["remember", "nan", "--importance", "NaN"])
        .fails(4, "importance");
    b.run(&["remember", "big", "--importance", "1.5"])
        .fails(4, "importance");
    b.run(&["remember", "k", "--kind", "not a kind"])
        .fails(4, "kind");
    b.run(&["remember", "m", "--meta-json", "[1, 2]"])
        .fails(4, "metadata");
    b.run(&["remember", "   "]).fails(4, "empty");
    b.run(&["recall", "tabs", "-k", "0"]).fails(4, "k");
    let huge = vec![b'a'; 2 << 20];
    b.run_stdin(&["remember", "-"], &huge)
        .fails(4, "over the limit");

    // An invalid JSONL line in a batch: that line gets an error object, the others are
    // answered, the exit code is 4.
    let input = "{\"text\": \"precious\", \"user\": \"me\"}\n{\"text\": \n{\"txt\": \"typo\"}\n{\"text\": \"tabs\", \"user\": \"me\"}\n";
    let run = b.run_stdin(&["recall", "--batch", "-"], input.as_bytes());
    assert_eq!(run.code, 4, "{run:?}");
    assert!(
        run.stderr.contains("line 2") && run.stderr.contains("line 3"),
        "{run:?}"
    );
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(contents(&lines[0]), vec!["precious memory about tabs"]);
    assert_eq!(lines[1]["error"]["line"], 2);
    assert_eq!(lines[1]["error"]["kind"], "invalid_input");
    assert!(
        lines[2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("txt")
    );
    assert_eq!(contents(&lines[3]), vec!["precious memory about tabs"]);
    b.run(&[
        "recall",
        "--batch",
        b.path("missing.jsonl").to_str().unwrap(),
    ])
    .fails(3, "missing.jsonl");

    // Another embedder than the one that wrote the brain: conflict (5), naming reindex.
    let run = b
        .command()
        .env("BRAIN_EMBEDDER__DIMENSION", "128")
        .args(["recall", "tabs"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&run.stderr).contains("brain reindex"));

    intact(&b);
}

#[test]
fn reindex_moves_a_brain_to_another_embedder() {
    let b = TestBrain::new();
    b.remember("the build server is called hopper", &[]);
    let with_128 = |args: &[&str]| {
        let out = b
            .command()
            .env("BRAIN_EMBEDDER__DIMENSION", "128")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(with_128(&["recall", "build server"]).0, Some(5));
    let (code, out) = with_128(&["--json", "reindex"]);
    assert_eq!(code, Some(0), "{out}");
    let stats: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(stats["embedder"]["dimension"], 128);
    assert_eq!(stats["indexed"], 1);
    let (code, out) = with_128(&["--json", "recall", "build server"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        contents(&serde_json::from_str(&out).unwrap()),
        vec!["the build server is called hopper"]
    );
}

#[test]
fn init_says_where_things_are() {
    let b = TestBrain::new();
    let report = b.run(&["--json", "init"]).json();
    assert_eq!(report["data_dir"], b.data().to_str().unwrap());
    assert_eq!(report["memories"], 0);
    assert!(
        report["embedder"]["model_id"]
            .as_str()
            .unwrap()
            .starts_with("hashing")
    );
    assert!(b.data().join("brain.db").is_file());
    let human = b.run(&["init"]);
    assert!(human.ok().contains("brain.db"), "{human:?}");
}

#[test]
fn every_command_has_help() {
    fn walk(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(path.clone());
        for sub in cmd.get_subcommands() {
            let mut p = path.clone();
            p.push(sub.get_name().to_owned());
            walk(sub, p, out);
        }
    }
    let mut paths = Vec::new();
    walk(&brain_cli::cli::Cli::command(), Vec::new(), &mut paths);
    assert!(paths.len() > 25, "{paths:?}");
    let b = TestBrain::new();
    for path in paths {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let run = b.run(&args);
        let out = run.ok();
        let usage = format!("Usage: brain {}", path.join(" "));
        assert!(out.contains(usage.trim_end()), "{path:?}: {out}");
    }
    let top = b.run(&["--help"]);
    assert!(
        top.ok().contains("Exit codes:"),
        "exit codes are documented"
    );
    assert!(b.run(&["--version"]).ok().starts_with("brain "));
    assert!(!b.data().exists(), "help opens no brain");
}

#[test]
fn concurrent_processes_share_one_brain() {
    let b = TestBrain::new();
    b.run(&["init"]).ok();
    std::thread::scope(|s| {
        for i in 0..4 {
            let b = &b;
            s.spawn(move || {
                for j in 0..3 {
                    b.remember(&format!("writer {i} note {j} about lanterns"), &[]);
                }
            });
        }
    });
    assert_eq!(b.stats()["store"]["memories"], 12);
    assert_eq!(b.stats()["indexed"], 12);
    assert_eq!(b.recall("lanterns", &["-k", "50"]).len(), 12);
}

#[test]
fn a_missing_model_is_fetched_unless_offline() {
    let mut b = TestBrain::new();
    b.hashing = false;
    let cache = b.path("cache");
    let run = b
        .command()
        .env("XDG_CACHE_HOME", &cache)
        .args(["remember", "needs a model"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(3), "{run:?}");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("--offline") && stderr.contains("brain model fetch"),
        "{stderr}"
    );
    assert!(!b.data().exists(), "nothing was created");
}

#[test]
fn ingest_a_real_directory_then_recall_the_right_chunk() {
    let b = TestBrain::new();
    // A copy of this crate's sources, so the test can change and remove files.
    let src = b.path("src");
    std::fs::create_dir(&src).unwrap();
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in [
        "README.md",
        "src/parse.rs",
        "src/batch.rs",
        "src/exit.rs",
        "src/cli.rs",
    ] {
        let to = src.join(std::path::Path::new(name).file_name().unwrap());
        std::fs::copy(here.join(name), to).unwrap();
    }
    let report = b
        .run(&["--json", "ingest", src.to_str().unwrap(), "--user", "dev"])
        .json();
    assert_eq!(report["added"], 5, "{report}");
    assert!(report["chunks"].as_u64().unwrap() > 10, "{report}");

    let hit = |query: &str| {
        let hits = b
            .run(&[
                "--json",
                "recall",
                query,
                "--kind",
                "doc_chunk",
                "--user",
                "dev",
                "-k",
                "1",
            ])
            .json();
        hits[0]["memory"]["metadata"].clone()
    };
    let md = hit("durations largest units first formatter");
    assert!(md["path"].as_str().unwrap().ends_with("parse.rs"), "{md}");
    assert!(md["start_line"].as_u64().unwrap() >= 1, "{md}");
    let md = hit("exit codes conflict unavailable");
    let path = md["path"].as_str().unwrap();
    assert!(
        path.ends_with("exit.rs") || path.ends_with("README.md"),
        "{md}"
    );

    // Re-ingest: unchanged files are skipped, a changed one replaced, a removed one dropped.
    std::fs::write(
        src.join("batch.rs"),
        "//! Batches now hold only albatross facts.\n",
    )
    .unwrap();
    std::fs::remove_file(src.join("cli.rs")).unwrap();
    let again = b
        .run(&["--json", "ingest", src.to_str().unwrap(), "--user", "dev"])
        .json();
    assert_eq!(
        (
            again["added"].clone(),
            again["replaced"].clone(),
            again["unchanged"].clone()
        ),
        (0.into(), 1.into(), 3.into()),
        "{again}"
    );
    assert_eq!(again["removed_files"], 1, "{again}");
    let md = hit("albatross");
    assert!(md["path"].as_str().unwrap().ends_with("batch.rs"), "{md}");

    b.run(&["ingest", b.path("no-such-dir").to_str().unwrap()])
        .fails(3, "no-such-dir");
}

#[cfg(unix)]
#[test]
fn ingest_skips_links_fifos_and_unreadable_entries_naming_each_and_goes_on() {
    use std::os::unix::fs::symlink;
    let b = TestBrain::new();
    let docs = b.path("docs");
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(docs.join("a.md"), "# Alpha\n\nalpha comes first.\n").unwrap();
    std::fs::write(docs.join("z.md"), "# Zulu\n\nzulu comes last.\n").unwrap();
    symlink("loop.md", docs.join("loop.md")).unwrap();
    symlink("gone.md", docs.join("dangling.md")).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(docs.join("pipe.md"))
        .status()
        .unwrap();
    assert!(made.success());

    let report = b.run(&["--json", "ingest", docs.to_str().unwrap()]).json();
    assert_eq!(report["added"], 2, "{report}");
    let skipped = report["skipped"].as_array().unwrap();
    let reason = |name: &str| {
        let path = docs.join(name);
        skipped
            .iter()
            .find(|s| s["path"] == path.to_str().unwrap())
            .unwrap_or_else(|| panic!("{name} not listed: {report}"))["reason"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(reason("loop.md").contains("loop"), "{report}");
    assert!(reason("dangling.md").contains("dangling"), "{report}");
    assert!(reason("pipe.md").contains("FIFO"), "{report}");
    assert_eq!(skipped.len(), 3, "{report}");

    // The human report lists each skipped path with its reason.
    std::fs::write(docs.join("z.md"), "# Zulu\n\nzulu changed.\n").unwrap();
    let run = b.run(&["ingest", docs.to_str().unwrap()]);
    let text = run.ok();
    assert!(text.contains("1 changed"), "{text}");
    assert!(text.contains("skipped 3 paths"), "{text}");
    for name in ["loop.md", "dangling.md", "pipe.md"] {
        let shown = format!("{}: ", docs.join(name).display());
        assert!(text.contains(&shown), "{name}: {text}");
    }
}
