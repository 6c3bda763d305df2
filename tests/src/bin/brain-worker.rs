//! A brain process for the brain crash test (`tests/tests/brain_crash.rs`).
//!
//! `brain-worker DATA_DIR SEED` opens a [`brain::Brain`] on `DATA_DIR` (hashing
//! embedder, default durability) and runs a workload chosen by `SEED` until it is killed.
//! Before an operation that may commit it prints an intent line (upper case); after the
//! operation returns `Ok` it prints an acknowledgement (lower case). Every line is
//! flushed at once. Fields are separated by tabs.
//!
//! | line | meaning |
//! |------|---------|
//! | `ready` | the brain is open |
//! | `r <id> <content>` | `remember` returned |
//! | `M <id>,<id>,...` | a `remember_many` batch is about to be written |
//! | `m <id> <content>` | the batch returned (one line per memory) |
//! | `F <id>` / `f <id>` | `forget` of a memory read back from the store: about to / returned |
//! | `I <file> <version>` / `i <file> <version> <chunks> <path>` | `ingest_paths` of a doc file |
//! | `X` / `x` | index rebuild: snapshot deleted and brain reopened |
//! | `Z` / `z` | `Brain::reindex` |

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use brain::NoProgress;
use brain_tests::{DOC_FILES, XorShift, crash_config, doc_text};
use memory_core::{ListOrder, MemoryFilter, MemoryId, MemoryKind, MemoryQuery, NewMemory, Scope};

/// The scope of the worker's memories.
fn scope() -> Scope {
    Scope::user("crash")
}

/// Prints one line and flushes it.
fn say(line: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// The version of doc file `path` on disk (0 when there is none).
fn version_on_disk(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| {
            t.lines()
                .next()
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, seed] = args.as_slice() else {
        anyhow::bail!("usage: brain-worker DATA_DIR SEED");
    };
    let seed = seed.parse::<u64>().context("SEED")?;
    let dir = PathBuf::from(dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(dir, seed))
}

async fn run(dir: PathBuf, seed: u64) -> Result<()> {
    let mut rng = XorShift::new(seed);
    let config = crash_config(&dir);
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs)?;
    let mut brain = brain_engines::open(config.clone()).await?;
    say("ready")?;
    let plain = MemoryFilter::scoped(scope()).with_kind(MemoryKind::default());
    for op in 0u64.. {
        let r = rng.next();
        match r % 100 {
            0..=39 => {
                let content = format!("crash memory {seed} {op} about topic {}", r % 97);
                let m = brain
                    .remember(NewMemory::new(content.clone()).with_scope(scope()))
                    .await?;
                say(&format!("r\t{}\t{content}", m.id))?;
            }
            40..=59 => {
                let n = 2 + (r / 100) % 20;
                let news: Vec<NewMemory> = (0..n)
                    .map(|j| {
                        NewMemory::new(format!("crash batch {seed} {op} item {j} topic {}", j % 13))
                            .with_scope(scope())
                            .with_id(MemoryId::new())
                    })
                    .collect();
                let ids: Vec<String> = news
                    .iter()
                    .filter_map(|m| m.id.map(|id| id.to_string()))
                    .collect();
                say(&format!("M\t{}", ids.join(",")))?;
                let stored = brain.remember_many(news).await?;
                for m in stored {
                    say(&format!("m\t{}\t{}", m.id, m.content))?;
                }
            }
            60..=74 => {
                let mut q = MemoryQuery::new(plain.clone(), 50);
                q.order = ListOrder::NewestFirst;
                q.offset = ((r / 100) % 200) as usize;
                let mut page = brain.list(&q).await?;
                if page.is_empty() {
                    q.offset = 0;
                    page = brain.list(&q).await?;
                }
                if let Some(m) = page.get(((r / 7) as usize) % page.len().max(1)) {
                    say(&format!("F\t{}", m.id))?;
                    brain.forget(m.id).await?;
                    say(&format!("f\t{}", m.id))?;
                }
            }
            75..=93 => {
                let file = (r / 100) % DOC_FILES;
                let path = docs.join(format!("f{file}.md"));
                let version = version_on_disk(&path) + 1;
                // Written to a hidden temporary and renamed: a kill between the truncate
                // and the write of a plain `fs::write` would leave an empty file, and the
                // next worker would start the file's versions again at 1.
                let tmp = docs.join(format!(".f{file}.md.tmp"));
                std::fs::write(&tmp, doc_text(file, version))?;
                std::fs::rename(&tmp, &path)?;
                say(&format!("I\t{file}\t{version}"))?;
                let report = brain
                    .ingest_paths(std::slice::from_ref(&path), &scope(), &NoProgress)
                    .await?;
                say(&format!(
                    "i\t{file}\t{version}\t{}\t{}",
                    report.chunks,
                    path.display()
                ))?;
            }
            94..=97 => {
                say("X")?;
                drop(brain);
                let vectors = config.vectors_dir();
                if vectors.exists() {
                    std::fs::remove_dir_all(&vectors)?;
                }
                brain = brain_engines::open(config.clone()).await?;
                say("x")?;
            }
            _ => {
                say("Z")?;
                drop(brain);
                brain = brain_engines::reindex(config.clone(), &NoProgress).await?;
                say("z")?;
            }
        }
    }
    Ok(())
}
