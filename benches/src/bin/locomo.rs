//! Recall evaluation on the LoCoMo development conversations.
//!
//! `cargo run --release -p brain-benches --bin locomo -- [--data DIR] [--embedder hashing|bert]
//! [--model-dir DIR] [--json]`
//!
//! Every dialog turn becomes one memory scoped to its conversation (`"{speaker}: {text}"`,
//! plus the image caption when the turn shared one). For each question of categories 1-4
//! the harness recalls the top k memories in that conversation's scope and reports
//! evidence recall@k (the fraction of the question's evidence turns recalled, averaged
//! over questions) and hit@k (whether any was), for keyword-only, vector-only and fused
//! rankings over a small grid of fusion weights, so the defaults of
//! [`memory_core::RecallWeights`] are chosen by measurement.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Parser;
use memory_core::*;
use serde_json::{Value, json};
use store_sqlite::SqliteStore;

#[derive(Debug, Parser)]
#[command(about = "LoCoMo recall evaluation of keyword, vector and fused recall")]
struct Args {
    /// Directory of LoCoMo conversation files (*.json).
    #[arg(long, default_value = "../shared/data/locomo-dev")]
    data: PathBuf,
    /// Which embedder: `hashing` (no model) or `bert` (all-MiniLM-L6-v2).
    #[arg(long, default_value = "bert")]
    embedder: String,
    /// Model directory for `bert` (default: the fetched model).
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Candidates taken from each list before fusion.
    #[arg(long, default_value_t = 50)]
    depth: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

struct Question {
    text: String,
    evidence: HashSet<String>,
}

struct Conversation {
    name: String,
    turns: Vec<(String, String)>, // (dia_id, text)
    questions: Vec<Question>,
}

fn load(dir: &PathBuf) -> Result<Vec<Conversation>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no LoCoMo conversations (*.json) in {}", dir.display());
    }
    let mut out = Vec::new();
    for f in files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&f)?)
            .with_context(|| format!("parsing {}", f.display()))?;
        let obj = v.as_object().context("conversation is not an object")?;
        let mut sessions: Vec<(usize, &Vec<Value>)> = obj
            .iter()
            .filter_map(|(k, v)| {
                let n = k.strip_prefix("session_")?.parse::<usize>().ok()?;
                Some((n, v.as_array()?))
            })
            .collect();
        sessions.sort_by_key(|(n, _)| *n);
        let mut turns = Vec::new();
        for (_, session) in sessions {
            for t in session {
                let (Some(id), Some(speaker), Some(text)) = (
                    t["dia_id"].as_str(),
                    t["speaker"].as_str(),
                    t["text"].as_str(),
                ) else {
                    continue;
                };
                let mut content = format!("{speaker}: {text}");
                if let Some(caption) = t["blip_caption"].as_str() {
                    content.push_str(&format!(" [shared an image: {caption}]"));
                }
                turns.push((id.to_owned(), content));
            }
        }
        let questions = obj
            .get("qa")
            .and_then(Value::as_array)
            .map(|qa| {
                qa.iter()
                    .filter(|q| q["category"].as_i64().is_some_and(|c| (1..=4).contains(&c)))
                    .filter_map(|q| {
                        let evidence: HashSet<String> = q["evidence"]
                            .as_array()?
                            .iter()
                            .filter_map(|e| e.as_str().map(str::to_owned))
                            .collect();
                        (!evidence.is_empty()).then(|| Question {
                            text: q["question"].as_str().unwrap_or_default().to_owned(),
                            evidence,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(Conversation {
            name: f
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            turns,
            questions,
        });
    }
    Ok(out)
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Per-question ranked candidate lists, kept so every configuration ranks the same lists.
struct Ranked {
    evidence: HashSet<String>,
    keyword: Vec<MemoryId>,
    vector: Vec<(MemoryId, f32)>,
}

#[derive(Default, Clone, Copy)]
struct Score {
    recall: [f64; 2],
    hit: [f64; 2],
    n: usize,
}

const KS: [usize; 2] = [5, 10];

fn score(
    ranked: &[Ranked],
    dia: &HashMap<MemoryId, String>,
    rank: impl Fn(&Ranked) -> Vec<MemoryId>,
) -> Score {
    let mut s = Score::default();
    for r in ranked {
        let order = rank(r);
        for (i, k) in KS.iter().enumerate() {
            let got: HashSet<&String> =
                order.iter().take(*k).filter_map(|id| dia.get(id)).collect();
            let found = r.evidence.iter().filter(|e| got.contains(e)).count();
            s.recall[i] += found as f64 / r.evidence.len() as f64;
            s.hit[i] += f64::from(u8::from(found > 0));
        }
        s.n += 1;
    }
    for i in 0..KS.len() {
        s.recall[i] /= s.n.max(1) as f64;
        s.hit[i] /= s.n.max(1) as f64;
    }
    s
}

fn make_embedder(args: &Args) -> Result<Arc<dyn Embedder>> {
    Ok(match args.embedder.as_str() {
        "hashing" => Arc::new(embed::HashingEmbedder::new(384)?),
        "bert" => {
            let dir = embed::resolve_model_dir(args.model_dir.as_deref())?;
            Arc::new(embed::BertEmbedder::load(&dir)?)
        }
        other => bail!("unknown embedder {other:?}: use hashing or bert"),
    })
}

/// One ranking configuration of the evaluation.
struct Config {
    name: String,
    weights: Option<RecallWeights>,
    source: &'static str,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let embedder = make_embedder(&args)?;
    let convs = load(&args.data)?;
    let mut ranked = Vec::new();
    let mut dia: HashMap<MemoryId, String> = HashMap::new();
    let mut turns = 0;
    for conv in &convs {
        let store = SqliteStore::open_in_memory()?;
        store.pin_embedder(embedder.info()).await?;
        let scope = Scope::user(conv.name.clone());
        let texts: Vec<String> = conv.turns.iter().map(|(_, t)| t.clone()).collect();
        let vectors = embedder.embed(&texts).await?;
        let mut ops = Vec::new();
        let mut memory_vectors = Vec::new();
        for ((d, t), v) in conv.turns.iter().zip(vectors) {
            let id = MemoryId::new();
            ops.push(WriteOp::PutMemory(
                NewMemory::new(t.clone())
                    .with_id(id)
                    .with_scope(scope.clone())
                    .with_metadata(Metadata::new().with("dia_id", d.as_str())),
            ));
            ops.push(WriteOp::PutEmbedding {
                id,
                vector: v.clone(),
            });
            dia.insert(id, d.clone());
            memory_vectors.push((id, v));
        }
        store.write_batch(ops).await?;
        turns += conv.turns.len();
        let questions: Vec<String> = conv.questions.iter().map(|q| q.text.clone()).collect();
        let query_vectors = embedder.embed(&questions).await?;
        for (q, qv) in conv.questions.iter().zip(query_vectors) {
            let keyword = store
                .search_memories(&KeywordQuery {
                    text: q.text.clone(),
                    filter: MemoryFilter::scoped(scope.clone()),
                    limit: args.depth,
                })
                .await?
                .into_iter()
                .map(|h| h.memory.id)
                .collect();
            let mut vector: Vec<(MemoryId, f32)> = memory_vectors
                .iter()
                .map(|(id, v)| (*id, cosine(v, &qv)))
                .collect();
            vector.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            vector.truncate(args.depth);
            ranked.push(Ranked {
                evidence: q.evidence.clone(),
                keyword,
                vector,
            });
        }
    }

    // Importance, recency and outcome are flat in LoCoMo (no outcomes, every turn equally
    // important), so the grid measures what it can: the RRF constant and list weights.
    let flat = RecallWeights {
        importance: 0.0,
        recency: 0.0,
        outcome: 0.0,
        ..RecallWeights::default()
    };
    let mut configs = vec![
        Config {
            name: "keyword only (BM25)".into(),
            weights: None,
            source: "keyword",
        },
        Config {
            name: "vector only".into(),
            weights: None,
            source: "vector",
        },
    ];
    for k in [1.0, 5.0, 10.0, 30.0, 60.0] {
        for kw in [0.25, 0.5, 0.75, 1.0, 1.5] {
            configs.push(Config {
                name: format!("fused rrf_k={k} keyword={kw} vector=1"),
                weights: Some(RecallWeights {
                    rrf_k: k,
                    keyword: kw,
                    vector: 1.0,
                    ..flat
                }),
                source: "fused",
            });
        }
    }
    configs.push(Config {
        name: "fused, default weights".into(),
        weights: Some(RecallWeights::default()),
        source: "default",
    });
    let now = Timestamp::now();
    let signals = |_| Signals {
        importance: 0.5,
        updated_at: now,
        outcome: None,
    };
    let mut rows = Vec::new();
    for c in &configs {
        let s = score(&ranked, &dia, |r| match c.source {
            "keyword" => r.keyword.clone(),
            "vector" => r.vector.iter().map(|(id, _)| *id).collect(),
            _ => {
                let w = c.weights.unwrap_or_default();
                fuse(&r.keyword, &r.vector, signals, &w, now)
                    .into_iter()
                    .map(|h| h.id)
                    .collect()
            }
        });
        rows.push((c, s));
    }
    let best = rows
        .iter()
        .filter(|(c, _)| c.source == "fused")
        .max_by(|a, b| a.1.recall[1].total_cmp(&b.1.recall[1]))
        .map(|(c, s)| (c.name.clone(), *s));
    if args.json {
        let out: Vec<Value> = rows
            .iter()
            .map(|(c, s)| json!({"config": c.name, "questions": s.n, "recall@5": s.recall[0], "recall@10": s.recall[1], "hit@5": s.hit[0], "hit@10": s.hit[1]}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"embedder": embedder.info(), "conversations": convs.len(), "turns": turns, "rows": out})
            )?
        );
        return Ok(());
    }
    println!(
        "LoCoMo dev: {} conversations, {} turns, {} questions (categories 1-4); embedder {} ({} dims)",
        convs.len(),
        turns,
        ranked.len(),
        embedder.info().model_id,
        embedder.info().dimension
    );
    println!(
        "{:<44} {:>9} {:>9} {:>7} {:>7}",
        "ranking", "recall@5", "recall@10", "hit@5", "hit@10"
    );
    for (c, s) in &rows {
        if c.source == "fused" && !c.name.contains("keyword=1 ") && !c.name.contains("rrf_k=60 ") {
            continue; // the full grid is in --json; the table shows two slices of it
        }
        println!(
            "{:<44} {:>9.3} {:>9.3} {:>7.3} {:>7.3}",
            c.name, s.recall[0], s.recall[1], s.hit[0], s.hit[1]
        );
    }
    if let Some((name, s)) = best {
        println!(
            "best fused by recall@10: {name}: recall@10 {:.3}, recall@5 {:.3}",
            s.recall[1], s.recall[0]
        );
    }
    Ok(())
}
