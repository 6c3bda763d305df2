//! Running the built `brain` binary on a throwaway data directory.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// A data directory in a temporary directory, and a way to run `brain` on it.
pub struct TestBrain {
    pub dir: tempfile::TempDir,
    /// Whether to use the hashing embedder (no model).
    pub hashing: bool,
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        &self.stdout
    }

    /// Asserts the exit code and that stderr has an `error:` line containing `needle`.
    #[track_caller]
    pub fn fails(&self, code: i32, needle: &str) -> &Self {
        assert_eq!(self.code, code, "expected exit {code}: {self:#?}");
        assert!(
            self.stderr.contains("error:") && self.stderr.contains(needle),
            "expected an error mentioning {needle:?}: {self:#?}"
        );
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "a panic: {self:#?}"
        );
        self
    }

    /// Stdout as one JSON value.
    #[track_caller]
    pub fn json(&self) -> Value {
        let out = self.ok();
        serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }
}

impl TestBrain {
    /// A fresh directory; the brain in it (`data/`) does not exist yet.
    pub fn new() -> TestBrain {
        TestBrain {
            dir: tempfile::tempdir().unwrap(),
            hashing: true,
        }
    }

    /// The data directory.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A path inside the temporary directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `brain` with this brain's data directory (`BRAIN_DATA_DIR`), the hashing
    /// embedder, `--offline`, and none of the caller's `BRAIN_*` variables.
    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_brain"));
        for (k, _) in std::env::vars() {
            if k.starts_with("BRAIN_") || k == "RUST_LOG" {
                c.env_remove(k);
            }
        }
        if self.hashing {
            c.env("BRAIN_EMBEDDER__KIND", "hashing");
        }
        // Through the environment, so that a test can still pass --data-dir.
        c.env("BRAIN_DATA_DIR", self.data()).arg("--offline");
        // The default configuration file is looked up here, not in the user's home.
        c.env("XDG_CONFIG_HOME", self.path("xdg-config"));
        c.stdin(Stdio::null());
        c
    }

    /// Runs `brain ARGS`.
    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.command().args(args).output().unwrap();
        Run::from(out)
    }

    /// Runs `brain ARGS` with `input` on stdin.
    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        // Written from another thread so a large input cannot deadlock with the output.
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        Run::from(out)
    }

    /// Remembers `text` with extra arguments; returns the id.
    pub fn remember(&self, text: &str, args: &[&str]) -> String {
        let mut all = vec!["remember", text];
        all.extend_from_slice(args);
        let run = self.run(&all);
        run.ok().trim().to_owned()
    }

    /// The contents recalled for `query` with extra arguments, best first.
    pub fn recall(&self, query: &str, args: &[&str]) -> Vec<String> {
        let mut all = vec!["--json", "recall", query];
        all.extend_from_slice(args);
        contents(&self.run(&all).json())
    }

    /// `stats --json`.
    pub fn stats(&self) -> Value {
        self.run(&["--json", "stats"]).json()
    }
}

/// The memory contents of a JSON array of recall hits.
pub fn contents(hits: &Value) -> Vec<String> {
    hits.as_array()
        .unwrap_or_else(|| panic!("not an array of hits: {hits}"))
        .iter()
        .map(|h| h["memory"]["content"].as_str().unwrap().to_owned())
        .collect()
}

/// Whether `path` exists.
pub fn exists(path: &Path) -> bool {
    path.exists()
}

/// A running `brain serve --http` and the address it listens on.
pub struct Served {
    /// The process.
    pub child: std::process::Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl TestBrain {
    /// Starts `brain EXTRA --json serve --http 127.0.0.1:0` and reads the address it
    /// printed; stderr is inherited so a failing server shows why.
    pub fn serve_http<S: AsRef<std::ffi::OsStr>>(&self, extra: &[S]) -> Served {
        let mut cmd = self.command();
        cmd.args(extra)
            .args(["--json", "serve", "--http", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        let addr = v["listening"].as_str().unwrap().to_owned();
        Served { child, addr }
    }
}

impl Served {
    /// Sends SIGTERM (through the shell's builtin `kill`: a fresh machine may lack procps)
    /// and waits; returns the exit code.
    pub fn stop(mut self) -> Option<i32> {
        let sent = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", self.child.id())])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM failed");
        self.child.wait().unwrap().code()
    }
}
