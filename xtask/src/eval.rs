//! `cargo xtask eval …`: evaluations of the brain on public data sets.
//!
//! `cargo xtask eval locomo [DIR] [--embedder bert|hashing] [--json]` builds and runs
//! brain-benches' `locomo` binary in release: the LoCoMo conversations in `DIR` (default
//! `<workspace>/../shared/data/locomo-dev`) are remembered by a fresh `brain::Brain`, turn
//! by turn, and every question of categories 1-4 is recalled in dense, keyword and hybrid
//! mode; it prints evidence recall@5/@10 and hit@5/@10, per conversation and per
//! category, and the time to fill and to query. With BERT the fill embeds the 2,760
//! turns of the dev split (about a minute on two cores; the release build first takes a
//! few more).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use crate::{cargo, describe, workspace_root};

/// The evaluations.
#[derive(Debug, Subcommand)]
pub(crate) enum EvalCmd {
    /// LoCoMo evidence recall@k and hit@k of the brain's dense, keyword and hybrid recall.
    Locomo(LocomoArgs),
}

/// Options of `cargo xtask eval locomo`.
#[derive(Debug, Args)]
pub(crate) struct LocomoArgs {
    /// Directory of LoCoMo conversation files (*.json)
    /// [default: <workspace>/../shared/data/locomo-dev].
    dir: Option<PathBuf>,
    /// The brain's embedder: `bert` (all-MiniLM-L6-v2 from the user's cache) or `hashing`
    /// (no model; a quick smoke run).
    #[arg(long, default_value = "bert", value_parser = ["bert", "hashing"])]
    embedder: String,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Further options for the `locomo` binary (after `--`), e.g. `--brain-dir DIR`.
    #[arg(last = true)]
    extra: Vec<String>,
}

/// Runs an evaluation.
pub(crate) fn eval(cmd: &EvalCmd) -> Result<()> {
    match cmd {
        EvalCmd::Locomo(args) => locomo(args),
    }
}

fn locomo(args: &LocomoArgs) -> Result<()> {
    let dir = match &args.dir {
        // Relative to where the command was typed, not to the workspace root cargo runs in.
        Some(d) => std::path::absolute(d).with_context(|| format!("resolving {}", d.display()))?,
        None => workspace_root()
            .join("..")
            .join("shared")
            .join("data")
            .join("locomo-dev"),
    };
    if !dir.is_dir() {
        bail!(
            "no LoCoMo data at {}: pass the directory of its conversation files as DIR",
            dir.display()
        );
    }
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--release",
        "-p",
        "brain-benches",
        "--bin",
        "locomo",
        "--",
    ])
    .arg(&dir)
    .args(["--embedder", &args.embedder]);
    if args.json {
        cmd.arg("--json");
    }
    cmd.args(&args.extra);
    eprintln!("xtask: {}", describe(&cmd));
    // stdout and stderr are inherited: the tables (or JSON) go to stdout, build and
    // progress lines to stderr.
    let status = cmd
        .status()
        .with_context(|| format!("could not start `{}`", describe(&cmd)))?;
    if !status.success() {
        bail!(
            "the LoCoMo evaluation failed ({status}): {}",
            describe(&cmd)
        );
    }
    Ok(())
}
