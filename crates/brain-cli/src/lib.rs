//! # brain-cli
//!
//! The `brain` command: persistent memory for AI agents from a shell or a script, on the
//! embedded default (one data directory with an SQLite store and an HNSW index snapshot,
//! and a local BERT embedding model) with no servers and no API keys.
//!
//! ```text
//! brain remember "the staging database listens on port 5433" --user me --meta env=staging
//! brain recall "which port is staging on?" --user me
//! brain recall --batch queries.jsonl --json      # one JSON array of hits per line
//! ```
//!
//! The binary is a thin layer over the [`brain`] facade: this crate parses the command
//! line ([`cli`]), its value syntax ([`parse`]) and batch lines ([`batch`]), opens the
//! brain (fetching the default model on first use unless `--offline`), runs the
//! command, closes the brain so the index snapshot is written, and maps failures onto
//! meaningful exit codes ([`exit`]): 0 ok, 1 unexpected, 2 usage, 3 not found, 4 invalid
//! input, 5 conflict, 6 unavailable.
//!
//! The library half exists so the command line's own logic is testable; the supported
//! interface is the binary.

mod app;
pub mod batch;
pub mod cli;
pub mod exit;
mod output;
pub mod parse;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::cli::{Cli, GlobalArgs};
use crate::exit::Exit;

/// Parses the process's arguments and runs the command; clap's usage errors exit with 2
/// (with `--json`, as the JSON error envelope on stdout too).
pub fn main() -> ExitCode {
    match Cli::try_parse() {
        Ok(cli) => run(cli),
        Err(e) if e.use_stderr() && std::env::args_os().any(|a| a == "--json") => {
            // clap's first line says what was wrong; the rest is usage text.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            let message = first.strip_prefix("error: ").unwrap_or(first).to_owned();
            print_json_error(Exit::Usage, &message, Some("see `brain --help`"));
            let _ = e.print();
            Exit::Usage.code()
        }
        Err(e) => e.exit(),
    }
}

/// The error envelope scripts read with `--json`: the same `{"error": {"kind",
/// "message"}}` the HTTP API answers, plus the exit code and the hint.
fn print_json_error(code: Exit, message: &str, hint: Option<&str>) {
    use std::io::Write as _;
    let body = serde_json::json!({
        "error": {
            "kind": code.name(),
            "exit": code as u8,
            "message": message,
            "hint": hint,
        }
    });
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{body}");
}

/// Runs a parsed command line and returns the exit code, having printed the results on
/// stdout and any error (one line, then what to do next) on stderr.
pub fn run(cli: Cli) -> ExitCode {
    init_tracing(&cli.global);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Failure.code();
        }
    };
    let json = cli.global.json;
    let ctx = app::Ctx::new(cli.global);
    let result = runtime.block_on(app::dispatch(&ctx, cli.command));
    // Lets blocking work the brain started (a checkpoint, a snapshot) finish.
    runtime.shutdown_timeout(Duration::from_secs(10));
    match result {
        Ok(()) => Exit::Ok.code(),
        Err(e) => report(&e, ctx.data_dir(), json),
    }
}

/// Prints an error (on stderr; with `--json` also as the error envelope on stdout) and
/// returns its exit code.
fn report(error: &anyhow::Error, data_dir: Option<&std::path::Path>, json: bool) -> ExitCode {
    // A reader that stopped reading (`brain recall ... | head -1`) is not a failure.
    let broken_pipe = error.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if broken_pipe {
        return Exit::Ok.code();
    }
    let code = exit::classify(error);
    tracing::debug!(?error, "failed");
    let message = exit::one_line(error);
    let hint = exit::hint(error, code, data_dir);
    if json {
        print_json_error(code, &message, hint.as_deref());
    }
    eprintln!("error: {message}");
    if let Some(hint) = &hint {
        eprintln!("hint: {hint}");
    }
    code.code()
}

/// Logs to stderr: RUST_LOG when set, else the level `-v`/`-q` choose (default warn).
fn init_tracing(global: &GlobalArgs) {
    use tracing_subscriber::EnvFilter;
    let level = if global.quiet {
        "error"
    } else {
        match global.verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(v).unwrap_or_else(|e| {
            eprintln!("warning: ignoring RUST_LOG: {e}");
            EnvFilter::new(level)
        }),
        _ => EnvFilter::new(level),
    };
    // Fails only when a subscriber is already installed (a test calling `run` twice).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
