//! LoCoMo recall evaluated through the brain: what an agent using `brain::Brain` would
//! recall for each LoCoMo question.
//!
//! ```text
//! cargo xtask eval locomo [DIR] [--embedder bert|hashing] [--json]
//! cargo run --release -p brain-benches --bin locomo -- [DIR] [--embedder bert|hashing]
//!     [--model-dir DIR] [--brain-dir DIR] [--json]
//! ```
//!
//! `DIR` (default `../shared/data/locomo-dev`) holds LoCoMo conversation files (`*.json`).
//! The harness opens a real brain with [`Brain::open`] in a fresh data directory (a
//! temporary one unless `--brain-dir`): the embedded default, SQLite + HNSW + the BERT
//! model all-MiniLM-L6-v2 from the user's cache (`--embedder hashing` for a model-free
//! smoke run). It never reaches around the facade.
//!
//! **Fill.** Conversation by conversation, one session at a time and in order, each dialog
//! turn is remembered with [`Brain::remember_many`] as the memory
//! `"{speaker}: {text}"` (plus `" [shared an image: {caption}]"` when the turn shared an
//! image), kind `episode`, scope user `locomo-{conv}` and session `session_{n}`, metadata
//! `{"dia_id", "speaker", "session"}`, and `created_at` the session's date-time
//! (`session_N_date_time`, e.g. "1:56 pm on 8 May, 2023", read as UTC) plus the turn's
//! index in milliseconds, so turns keep their order and the session date is available to
//! recall.
//!
//! **Query.** Each question of categories 1-4 with evidence is recalled in its
//! conversation's scope (user `locomo-{conv}`) with k = 10 in each mode: `dense`
//! ([`RecallMode::Vector`]), `keyword` and `hybrid`. Top 5 is the first five of those ten
//! (recall ranks then truncates). The recalled turns are read back from each hit's
//! `dia_id` metadata.
//!
//! **Measures.** Evidence recall@k: the fraction of the question's evidence `dia_id`s
//! among the top k, averaged over questions; hit@k: whether any is. Overall, per
//! conversation and per category. Evidence ids are taken as written, as the research
//! harness (`locomo-research`) takes them: a malformed id (`"D8:6; D9:17"`, `"D"`) names
//! no turn and so is never found; questions without evidence are skipped. The report
//! counts such ids. Also reported: the time to fill the brain (embedding included) and the
//! latency of each recall (embedding of the question included).
//!
//! The harness only feeds the brain and measures; every recall technique is the brain's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use brain::config::EmbedderKind;
use brain::{BrainConfig, RecallMode, RecallQuery};
use clap::{Parser, ValueEnum};
use memory_core::{MemoryKind, Metadata, NewMemory, Scope, Timestamp};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(
    about = "LoCoMo evidence recall@k and hit@k of the brain's dense, keyword and hybrid recall"
)]
struct Args {
    /// Directory of LoCoMo conversation files (*.json).
    #[arg(default_value = "../shared/data/locomo-dev")]
    dir: PathBuf,
    /// The brain's embedder: `bert` (all-MiniLM-L6-v2) or `hashing` (no model).
    #[arg(long, value_enum, default_value_t = EmbedderArg::Bert)]
    embedder: EmbedderArg,
    /// BERT model directory (default: the brain's, i.e. the fetched model in the cache).
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Fill the brain in this directory (missing or empty) and keep it, e.g. to try
    /// `brain --data-dir DIR recall ...` on it; a temporary directory by default.
    #[arg(long)]
    brain_dir: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum EmbedderArg {
    Bert,
    Hashing,
}

// ---------------------------------------------------------------- data

struct Turn {
    dia: String,
    speaker: String,
    /// `"{speaker}: {text}"` plus the image caption when the turn shared one.
    content: String,
}

struct Session {
    /// N of `session_N`.
    n: usize,
    /// `session_N_date_time` as written.
    date_time: String,
    turns: Vec<Turn>,
}

struct Question {
    text: String,
    evidence: HashSet<String>,
    category: i64,
}

struct Conv {
    name: String,
    sessions: Vec<Session>,
    questions: Vec<Question>,
}

impl Conv {
    fn scope(&self) -> Scope {
        Scope::user(format!("locomo-{}", self.name))
    }
    fn turns(&self) -> impl Iterator<Item = &Turn> {
        self.sessions.iter().flat_map(|s| &s.turns)
    }
}

/// Loads the conversations as the research harness does: sessions in order, turns with a
/// `dia_id`, speaker and text, questions of categories 1-4 with at least one evidence id.
fn load(dir: &Path) -> Result<Vec<Conv>> {
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
        let mut numbered: Vec<(usize, &Vec<Value>)> = obj
            .iter()
            .filter_map(|(k, v)| {
                let n = k.strip_prefix("session_")?.parse::<usize>().ok()?;
                Some((n, v.as_array()?))
            })
            .collect();
        numbered.sort_by_key(|(n, _)| *n);
        let mut sessions = Vec::new();
        for (n, raw) in numbered {
            let date_time = obj
                .get(&format!("session_{n}_date_time"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let mut turns = Vec::new();
            for t in raw {
                let (Some(dia), Some(speaker), Some(text)) = (
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
                turns.push(Turn {
                    dia: dia.to_owned(),
                    speaker: speaker.to_owned(),
                    content,
                });
            }
            sessions.push(Session {
                n,
                date_time,
                turns,
            });
        }
        let mut questions = Vec::new();
        for q in obj
            .get("qa")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let category = q["category"].as_i64().unwrap_or(0);
            if !(1..=4).contains(&category) {
                continue;
            }
            let evidence: HashSet<String> = q["evidence"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e.as_str().map(str::to_owned))
                .collect();
            if evidence.is_empty() {
                continue;
            }
            questions.push(Question {
                text: q["question"].as_str().unwrap_or_default().to_owned(),
                evidence,
                category,
            });
        }
        out.push(Conv {
            name: f
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            sessions,
            questions,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------- session dates

/// LoCoMo's `session_N_date_time` ("1:56 pm on 8 May, 2023"; also "8 May, 2023",
/// "May 8, 2023", 24-hour clocks) as milliseconds since the epoch, read as UTC. `None`
/// for anything else; never panics.
fn parse_session_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    let (clock, date) = match s.split_once(" on ") {
        Some((c, d)) => (Some(c), d),
        None => (None, s),
    };
    let (hour, minute) = match clock {
        Some(c) => parse_clock(c)?,
        None => (0, 0),
    };
    let date = date.replace(',', " ");
    let parts: Vec<&str> = date.split_whitespace().collect();
    let &[a, b, year] = parts.as_slice() else {
        return None;
    };
    let (day, month) = match (a.parse::<u32>().ok(), b.parse::<u32>().ok()) {
        (Some(d), None) => (d, month_number(b)?),
        (None, Some(d)) => (d, month_number(a)?),
        _ => return None,
    };
    let year: i64 = year.parse().ok()?;
    if !(1..=9999).contains(&year) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let minutes = days * 24 * 60 + i64::from(hour) * 60 + i64::from(minute);
    Some(Timestamp::from_millis(minutes * 60_000))
}

/// "1:56 pm", "12:09 am", "13:05" as (hour, minute) of a 24-hour day.
fn parse_clock(c: &str) -> Option<(u32, u32)> {
    let c = c.trim().to_ascii_lowercase();
    let (hm, meridiem) = if let Some(x) = c.strip_suffix("am") {
        (x.trim(), Some(false))
    } else if let Some(x) = c.strip_suffix("pm") {
        (x.trim(), Some(true))
    } else {
        (c.as_str(), None)
    };
    let (h, m) = hm.split_once(':')?;
    let (h, m): (u32, u32) = (h.trim().parse().ok()?, m.trim().parse().ok()?);
    if m > 59 {
        return None;
    }
    let h = match meridiem {
        Some(pm) if (1..=12).contains(&h) => h % 12 + if pm { 12 } else { 0 },
        Some(_) => return None,
        None if h <= 23 => h,
        None => return None,
    };
    Some((h, m))
}

/// "May", "Sept", "december" as 1-12: a name's first three or more letters.
fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.starts_with(&name))
        .map(|i| i as u32 + 1)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// ---------------------------------------------------------------- scoring

const KS: [usize; 2] = [5, 10];

/// The three recall modes measured, by their report name.
const MODES: [(&str, RecallMode); 3] = [
    ("dense", RecallMode::Vector),
    ("keyword", RecallMode::Keyword),
    ("hybrid", RecallMode::Hybrid),
];

#[derive(Default, Clone, Copy)]
struct Score {
    recall: [f64; 2],
    hit: [f64; 2],
    n: usize,
}

impl Score {
    fn add(&mut self, o: &Score) {
        for i in 0..KS.len() {
            self.recall[i] += o.recall[i];
            self.hit[i] += o.hit[i];
        }
        self.n += o.n;
    }
    fn mean(&self) -> Score {
        let n = self.n.max(1) as f64;
        Score {
            recall: self.recall.map(|x| x / n),
            hit: self.hit.map(|x| x / n),
            n: self.n,
        }
    }
    fn json(&self) -> Value {
        let m = self.mean();
        json!({"questions": m.n, "recall@5": m.recall[0], "recall@10": m.recall[1],
               "hit@5": m.hit[0], "hit@10": m.hit[1]})
    }
}

/// One question's result in one mode.
struct Outcome {
    conv: usize,
    category: i64,
    mode: usize,
    score: Score,
}

fn score(ranked: &[String], evidence: &HashSet<String>) -> Score {
    let mut s = Score {
        n: 1,
        ..Score::default()
    };
    for (i, k) in KS.iter().enumerate() {
        let got: HashSet<&str> = ranked.iter().take(*k).map(String::as_str).collect();
        let found = evidence.iter().filter(|e| got.contains(e.as_str())).count();
        s.recall[i] = found as f64 / evidence.len() as f64;
        s.hit[i] = f64::from(u8::from(found > 0));
    }
    s
}

fn total<'a>(outcomes: impl Iterator<Item = &'a Outcome>) -> Score {
    let mut t = Score::default();
    for o in outcomes {
        t.add(&o.score);
    }
    t
}

/// p-th percentile (0-100) of sorted durations, in milliseconds.
fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

fn git_describe() -> String {
    std::process::Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

// ---------------------------------------------------------------- main

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let convs = load(&args.dir)?;

    let tmp;
    let data_dir = match &args.brain_dir {
        Some(d) => {
            if d.exists() && std::fs::read_dir(d)?.next().is_some() {
                bail!("--brain-dir {} is not empty", d.display());
            }
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let mut config = BrainConfig {
        data_dir,
        ..BrainConfig::default()
    };
    config.embedder.kind = match args.embedder {
        EmbedderArg::Bert => EmbedderKind::Bert,
        EmbedderArg::Hashing => EmbedderKind::Hashing,
    };
    config.embedder.model_dir = args.model_dir.clone();
    let brain = brain_engines::open(config)
        .await
        .context("opening the brain")?;
    let info = brain.embedder_info().clone();

    // ---- fill
    let n_turns: usize = convs.iter().map(|c| c.turns().count()).sum();
    let n_sessions: usize = convs.iter().map(|c| c.sessions.len()).sum();
    let mut undated = Vec::new();
    let fill_started = Instant::now();
    let mut filled = 0usize;
    for conv in &convs {
        let started = Instant::now();
        let mut last_ms: Option<i64> = None;
        for session in &conv.sessions {
            if session.turns.is_empty() {
                continue;
            }
            let start_ms = match parse_session_time(&session.date_time) {
                Some(t) => t.as_millis(),
                None => {
                    // Undated: right after the previous session, so the order is kept.
                    undated.push(format!(
                        "{} session_{}: {:?}",
                        conv.name, session.n, session.date_time
                    ));
                    last_ms.map_or(0, |t| t + 1)
                }
            };
            let scope = conv.scope().with_session(format!("session_{}", session.n));
            let batch: Vec<NewMemory> = session
                .turns
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let mut m = NewMemory::new(t.content.clone())
                        .with_kind(MemoryKind::episode())
                        .with_scope(scope.clone())
                        .with_metadata(
                            Metadata::new()
                                .with("dia_id", t.dia.as_str())
                                .with("speaker", t.speaker.as_str())
                                .with("session", session.n),
                        );
                    m.created_at = Some(Timestamp::from_millis(start_ms + i as i64));
                    m
                })
                .collect();
            last_ms = Some(start_ms + batch.len() as i64 - 1);
            let stored = brain
                .remember_many(batch)
                .await
                .with_context(|| format!("remembering {} session_{}", conv.name, session.n))?;
            if stored.len() != session.turns.len() {
                bail!(
                    "{} session_{}: remembered {} of {} turns",
                    conv.name,
                    session.n,
                    stored.len(),
                    session.turns.len()
                );
            }
            filled += stored.len();
        }
        eprintln!(
            "filled conversation {} ({} sessions, {} turns) in {:.1} s [{filled}/{n_turns}]",
            conv.name,
            conv.sessions.len(),
            conv.turns().count(),
            started.elapsed().as_secs_f64()
        );
    }
    let fill_time = fill_started.elapsed();
    let stats = brain.stats().await?;

    // ---- query
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut latencies: Vec<Vec<Duration>> = vec![Vec::new(); MODES.len()];
    let mut errors: Vec<(usize, String)> = Vec::new();
    let query_started = Instant::now();
    for (ci, conv) in convs.iter().enumerate() {
        let started = Instant::now();
        for q in &conv.questions {
            for (mi, (_, mode)) in MODES.iter().enumerate() {
                let query = RecallQuery::new(q.text.clone(), conv.scope())
                    .with_k(KS[KS.len() - 1])
                    .with_mode(*mode);
                let t0 = Instant::now();
                let result = brain.recall(&query).await;
                latencies[mi].push(t0.elapsed());
                let ranked: Vec<String> = match result {
                    Ok(hits) => hits
                        .iter()
                        .map(|h| {
                            h.memory
                                .metadata
                                .get("dia_id")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned()
                        })
                        .collect(),
                    Err(e) => {
                        // Scored as a miss and reported, so one bad question does not
                        // end a long run.
                        errors.push((mi, format!("{} {:?}: {e:#}", conv.name, q.text)));
                        Vec::new()
                    }
                };
                outcomes.push(Outcome {
                    conv: ci,
                    category: q.category,
                    mode: mi,
                    score: score(&ranked, &q.evidence),
                });
            }
        }
        eprintln!(
            "queried conversation {} ({} questions x {} modes) in {:.1} s",
            conv.name,
            conv.questions.len(),
            MODES.len(),
            started.elapsed().as_secs_f64()
        );
    }
    let query_time = query_started.elapsed();
    for l in &mut latencies {
        l.sort();
    }

    // ---- report
    let n_questions: usize = convs.iter().map(|c| c.questions.len()).sum();
    // Per conversation: an id may name a turn of another conversation (`"D10:19"` in 42).
    let odd_evidence: Vec<String> = convs
        .iter()
        .flat_map(|c| {
            let dia: HashSet<&str> = c.turns().map(|t| t.dia.as_str()).collect();
            c.questions
                .iter()
                .flat_map(|q| &q.evidence)
                .filter(move |e| !dia.contains(e.as_str()))
                .map(|e| format!("{}/{e}", c.name))
        })
        .collect();
    let categories: Vec<i64> = {
        let mut c: Vec<i64> = convs
            .iter()
            .flat_map(|c| c.questions.iter().map(|q| q.category))
            .collect();
        c.sort_unstable();
        c.dedup();
        c
    };
    let commit = git_describe();

    if args.json {
        let mut modes = serde_json::Map::new();
        for (mi, (name, _)) in MODES.iter().enumerate() {
            let of = |f: &dyn Fn(&Outcome) -> bool| {
                total(outcomes.iter().filter(|o| o.mode == mi && f(o))).json()
            };
            let per_conv: BTreeMap<&str, Value> = convs
                .iter()
                .enumerate()
                .map(|(ci, c)| (c.name.as_str(), of(&|o| o.conv == ci)))
                .collect();
            let per_cat: BTreeMap<String, Value> = categories
                .iter()
                .map(|&k| (k.to_string(), of(&|o| o.category == k)))
                .collect();
            let l = &latencies[mi];
            modes.insert(
                (*name).to_owned(),
                json!({
                    "overall": of(&|_| true),
                    "per_conversation": per_conv,
                    "per_category": per_cat,
                    "errors": errors.iter().filter(|(m, _)| *m == mi).count(),
                    "query_ms": {
                        "total": l.iter().map(Duration::as_secs_f64).sum::<f64>() * 1e3,
                        "mean": l.iter().map(Duration::as_secs_f64).sum::<f64>() * 1e3
                            / l.len().max(1) as f64,
                        "p50": percentile_ms(l, 50.0),
                        "p95": percentile_ms(l, 95.0),
                    },
                }),
            );
        }
        let out = json!({
            "data": args.dir,
            "commit": commit,
            "embedder": info,
            "conversations": convs.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            "sessions": n_sessions,
            "turns": n_turns,
            "indexed": stats.indexed,
            "questions": n_questions,
            "evidence_ids_naming_no_turn": odd_evidence,
            "undated_sessions": undated,
            "fill_seconds": fill_time.as_secs_f64(),
            "query_seconds": query_time.as_secs_f64(),
            "k": KS,
            "modes": modes,
            "errors": errors.iter().map(|(m, e)| json!({"mode": MODES[*m].0, "error": e})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "LoCoMo through the brain ({}): {} conversations, {} sessions, {} turns ({} indexed), \
             {} questions (categories 1-4)",
            args.dir.display(),
            convs.len(),
            n_sessions,
            n_turns,
            stats.indexed,
            n_questions,
        );
        println!(
            "embedder {} ({} dims); commit {commit}",
            info.model_id, info.dimension
        );
        println!();
        print!(
            "{:<8} {:>6} {:>6} {:>6} {:>6} |",
            "recall", "R@5", "R@10", "H@5", "H@10"
        );
        for c in &convs {
            print!(" {:>7}", format!("{}:R@10", c.name));
        }
        println!();
        for (mi, (name, _)) in MODES.iter().enumerate() {
            let t = total(outcomes.iter().filter(|o| o.mode == mi)).mean();
            print!(
                "{:<8} {:>6.3} {:>6.3} {:>6.3} {:>6.3} |",
                name, t.recall[0], t.recall[1], t.hit[0], t.hit[1]
            );
            for ci in 0..convs.len() {
                let s = total(outcomes.iter().filter(|o| o.mode == mi && o.conv == ci)).mean();
                print!(" {:>7.3}", s.recall[1]);
            }
            println!();
        }
        println!();
        print!("{:<8}", "R@10");
        for &k in &categories {
            let n = total(outcomes.iter().filter(|o| o.mode == 0 && o.category == k)).n;
            print!(" {:>13}", format!("cat {k} (n={n})"));
        }
        println!();
        for (mi, (name, _)) in MODES.iter().enumerate() {
            print!("{name:<8}");
            for &k in &categories {
                let s = total(outcomes.iter().filter(|o| o.mode == mi && o.category == k)).mean();
                print!(" {:>13.3}", s.recall[1]);
            }
            println!();
        }
        println!();
        println!(
            "fill: {} turns in {:.1} s ({:.1} turns/s, embedding included)",
            n_turns,
            fill_time.as_secs_f64(),
            n_turns as f64 / fill_time.as_secs_f64().max(1e-9)
        );
        println!(
            "query: {} recalls in {:.1} s",
            n_questions * MODES.len(),
            query_time.as_secs_f64()
        );
        for (mi, (name, _)) in MODES.iter().enumerate() {
            let l = &latencies[mi];
            let mean =
                l.iter().map(Duration::as_secs_f64).sum::<f64>() * 1e3 / l.len().max(1) as f64;
            println!(
                "  {name:<8} mean {mean:.1} ms, p50 {:.1} ms, p95 {:.1} ms per recall",
                percentile_ms(l, 50.0),
                percentile_ms(l, 95.0)
            );
        }
        if !odd_evidence.is_empty() {
            println!(
                "evidence ids naming no turn (counted, never found): {}",
                odd_evidence
                    .iter()
                    .map(|e| format!("{e:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if !undated.is_empty() {
            println!("sessions without a readable date: {}", undated.join("; "));
        }
        if !errors.is_empty() {
            println!("recall errors (scored as misses): {}", errors.len());
            for (m, e) in errors.iter().take(5) {
                println!("  {}: {e}", MODES[*m].0);
            }
        }
    }
    if args.brain_dir.is_some() {
        brain.close().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(y: i64, mo: u32, d: u32, h: i64, mi: i64) -> i64 {
        (days_from_civil(y, mo, d) * 1440 + h * 60 + mi) * 60_000
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2023, 5, 8), 19_485);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }

    #[test]
    fn session_times() {
        let t = |s| parse_session_time(s).map(Timestamp::as_millis);
        // 2023-05-08T13:56:00Z
        assert_eq!(t("1:56 pm on 8 May, 2023"), Some(1_683_554_160_000));
        assert_eq!(
            t("12:09 am on 13 September, 2023"),
            Some(ms(2023, 9, 13, 0, 9))
        );
        assert_eq!(t("12:30 pm on 1 Jan, 2024"), Some(ms(2024, 1, 1, 12, 30)));
        assert_eq!(t("8 May, 2023"), Some(ms(2023, 5, 8, 0, 0)));
        assert_eq!(t("May 8, 2023"), Some(ms(2023, 5, 8, 0, 0)));
        assert_eq!(
            t("13:05 on 29 February, 2024"),
            Some(ms(2024, 2, 29, 13, 5))
        );
        for bad in [
            "",
            "on",
            "1:56 pm on 29 February, 2023",
            "13:56 pm on 8 May, 2023",
            "1:60 pm on 8 May, 2023",
            "0:10 am on 8 May, 2023",
            "1:56 pm on 8 Ma, 2023",
            "1:56 pm on 8 May",
            "1:56 pm on 32 May, 2023",
            "noon on 8 May, 2023",
            "1:56 pm on 8 May, 20233",
            "\u{1F600}:56 pm on 8 May, 2023",
        ] {
            assert_eq!(t(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_dev_session_date_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/locomo-dev");
        let Ok(convs) = load(&dir) else {
            return; // the data set is not beside this checkout
        };
        for c in &convs {
            for s in &c.sessions {
                if !s.turns.is_empty() {
                    assert!(
                        parse_session_time(&s.date_time).is_some(),
                        "{} session_{}: {:?}",
                        c.name,
                        s.n,
                        s.date_time
                    );
                }
            }
        }
    }

    #[test]
    fn scores() {
        let ev: HashSet<String> = ["D1:1", "D1:2"].iter().map(|s| s.to_string()).collect();
        let ranked: Vec<String> = (1..=10)
            .map(|i| format!("D2:{i}"))
            .chain(["D1:1".into()])
            .collect();
        let s = score(&ranked, &ev);
        assert_eq!((s.recall, s.hit), ([0.0, 0.0], [0.0, 0.0]));
        let ranked: Vec<String> = ["D2:1", "D1:2", "D2:2", "D2:3", "D2:4", "D1:1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let s = score(&ranked, &ev);
        assert_eq!((s.recall, s.hit), ([0.5, 1.0], [1.0, 1.0]));
    }
}
