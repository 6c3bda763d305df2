//! Research harness for no-LLM recall on the LoCoMo development conversations.
//!
//! `cargo run --release -p brain-benches --bin locomo-research -- [--data DIR] [--mode M]`
//!
//! Every dialog turn is a candidate; each question of categories 1-4 is answered by a
//! ranking of the conversation's turns. The harness computes many ranked *signals* per
//! question (dense cosine over several texts of a turn, FTS5 BM25 over several texts and
//! tokenizers, with several query constructions) once, then scores fusions of them
//! (weighted reciprocal rank fusion, neighbour score propagation) by evidence recall@k and
//! hit@k, overall and per conversation, with leave-one-conversation-out selection.
//!
//! `--mode combos` prints the recipe and its ablations, `--mode signals` every single
//! signal, `--mode loco` a leave-one-conversation-out selection over a grid, `--mode cats`
//! recall@10 per question category, `--mode fail --combo SPEC` sampled misses.
//!
//! Embeddings are cached under `target/locomo-cache` keyed by the sha256 of the text, so
//! only the first run pays for BERT.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(missing_docs, clippy::type_complexity)]

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Parser;
use rusqlite::Connection;
use serde_json::Value;
use sha2::{Digest, Sha256};

#[derive(Debug, Parser)]
#[command(about = "LoCoMo recall research: signals, fusions, ablations")]
struct Args {
    /// Directory of LoCoMo conversation files (*.json).
    #[arg(long, default_value = "../shared/data/locomo-dev")]
    data: PathBuf,
    /// Embedding cache directory.
    #[arg(long, default_value = "target/locomo-cache")]
    cache: PathBuf,
    /// What to print: `signals`, `combos`, `all`.
    #[arg(long, default_value = "all")]
    mode: String,
    /// Only signals/combos whose name contains this.
    #[arg(long)]
    filter: Option<String>,
    /// Extra fusions to score: `sig=w[@depth],sig=w;k=K;prop=P[;prev]` (repeatable).
    #[arg(long)]
    combo: Vec<String>,
}

fn parse_combo(spec: &str) -> Result<Combo> {
    let mut parts_iter = spec.split(';');
    let sigs = parts_iter.next().unwrap_or_default();
    let mut c = Combo {
        name: spec.to_owned(),
        parts: Vec::new(),
        rrf_k: 60.0,
        prop: 0.0,
        prop_prev_only: false,
        dprf: None,
        spk: 0.0,
        div: 0.0,
        div_w: 1,
        combsum: false,
        kprf: None,
    };
    for p in sigs.split(',').filter(|p| !p.is_empty()) {
        let (name, rest) = p.split_once('=').unwrap_or((p, "1"));
        let (w, depth) = rest.split_once('@').unwrap_or((rest, "100"));
        c.parts.push((name.to_owned(), w.parse()?, depth.parse()?));
    }
    for opt in parts_iter {
        match opt.split_once('=') {
            Some(("k", v)) => c.rrf_k = v.parse()?,
            Some(("prop", v)) => c.prop = v.parse()?,
            Some(("spk", v)) => c.spk = v.parse()?,
            Some(("div", v)) => c.div = v.parse()?,
            Some(("divw", v)) => c.div_w = v.parse()?,
            None if opt == "prev" => c.prop_prev_only = true,
            None if opt == "sum" => c.combsum = true,
            Some(("kprf", v)) => {
                let f: Vec<&str> = v.split('/').collect();
                c.kprf = Some((f[0].parse()?, f[1].parse()?, f[2].parse()?));
            }
            Some(("dprf", v)) => {
                // beta/m/weight/window
                let f: Vec<&str> = v.split('/').collect();
                c.dprf = Some((f[0].parse()?, f[1].parse()?, f[2].parse()?, f[3].to_owned()));
            }
            _ => bail!("bad combo option {opt:?}"),
        }
    }
    Ok(c)
}

// ---------------------------------------------------------------- data

struct Turn {
    session: usize,
    speaker: String,
    /// `"{speaker}: {text}"` plus the image caption when the turn shared one.
    text: String,
    dia: String,
}

struct Question {
    text: String,
    evidence: HashSet<String>,
    category: i64,
}

struct Conv {
    name: String,
    turns: Vec<Turn>,
    /// Per session: the indices of its turns, in order.
    sessions: Vec<Vec<usize>>,
    /// Per session: its date text ("8 May, 2023").
    dates: Vec<String>,
    questions: Vec<Question>,
}

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
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&f)?)?;
        let obj = v.as_object().context("conversation is not an object")?;
        let mut sessions: Vec<(usize, &Vec<Value>)> = obj
            .iter()
            .filter_map(|(k, v)| {
                let n = k.strip_prefix("session_")?.parse::<usize>().ok()?;
                Some((n, v.as_array()?))
            })
            .collect();
        sessions.sort_by_key(|(n, _)| *n);
        let mut conv = Conv {
            name: f.file_stem().unwrap().to_string_lossy().into_owned(),
            turns: Vec::new(),
            sessions: Vec::new(),
            dates: Vec::new(),
            questions: Vec::new(),
        };
        for (n, session) in sessions {
            let date = obj
                .get(&format!("session_{n}_date_time"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            let date = date.split_once(" on ").map_or(date, |(_, d)| d).to_owned();
            let s = conv.sessions.len();
            let mut idx = Vec::new();
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
                idx.push(conv.turns.len());
                conv.turns.push(Turn {
                    session: s,
                    speaker: speaker.to_owned(),
                    text: content,
                    dia: id.to_owned(),
                });
            }
            conv.sessions.push(idx);
            conv.dates.push(date);
        }
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
            conv.questions.push(Question {
                text: q["question"].as_str().unwrap_or_default().to_owned(),
                evidence,
                category,
            });
        }
        out.push(conv);
    }
    Ok(out)
}

// ---------------------------------------------------------------- texts

/// A context window: `prev` turns before and `next` after, within the same session.
#[derive(Clone, Copy)]
struct Window {
    prev: usize,
    next: usize,
    date: bool,
}

impl Window {
    fn name(&self) -> String {
        let mut s = String::new();
        if self.date {
            s.push('d');
        }
        s.push_str(&format!("p{}n{}", self.prev, self.next));
        s
    }
}

fn window_text(c: &Conv, i: usize, w: Window) -> String {
    let t = &c.turns[i];
    let sess = &c.sessions[t.session];
    let pos = sess.iter().position(|&j| j == i).unwrap();
    let lo = pos.saturating_sub(w.prev);
    let hi = (pos + w.next).min(sess.len() - 1);
    let mut parts: Vec<String> = Vec::new();
    if w.date {
        parts.push(format!("[{}]", c.dates[t.session]));
    }
    // The turn itself first, so truncation cuts context, never the turn.
    parts.push(t.text.clone());
    for &j in &sess[lo..pos] {
        parts.push(c.turns[j].text.clone());
    }
    for &j in &sess[pos + 1..=hi] {
        parts.push(c.turns[j].text.clone());
    }
    parts.join("\n")
}

fn session_text(c: &Conv, s: usize) -> String {
    let mut t = format!("[{}]", c.dates[s]);
    for &j in &c.sessions[s] {
        t.push('\n');
        t.push_str(&c.turns[j].text);
    }
    t
}

// ---------------------------------------------------------------- embeddings

struct EmbedCache {
    path: PathBuf,
    map: HashMap<[u8; 16], Vec<f32>>,
    model: Option<embed::BertEmbedder>,
    dim: usize,
}

impl EmbedCache {
    fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("minilm-l6-v2.bin");
        let dim = 384;
        let mut map = HashMap::new();
        if let Ok(mut f) = std::fs::File::open(&path) {
            let mut buf = Vec::new();
            f.read_to_end(&mut buf)?;
            let rec = 16 + dim * 4;
            for r in buf.chunks_exact(rec) {
                let key: [u8; 16] = r[..16].try_into().unwrap();
                let v = r[16..]
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                    .collect();
                map.insert(key, v);
            }
        }
        Ok(EmbedCache {
            path,
            map,
            model: None,
            dim,
        })
    }

    fn key(text: &str) -> [u8; 16] {
        let d = Sha256::digest(text.as_bytes());
        d[..16].try_into().unwrap()
    }

    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let missing: Vec<String> = {
            let mut seen = HashSet::new();
            texts
                .iter()
                .filter(|t| !self.map.contains_key(&Self::key(t)) && seen.insert(t.as_str()))
                .cloned()
                .collect()
        };
        if !missing.is_empty() {
            if self.model.is_none() {
                self.model = Some(embed::BertEmbedder::load_default()?);
            }
            let model = self.model.as_ref().unwrap();
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            let started = std::time::Instant::now();
            for (n, chunk) in missing.chunks(64).enumerate() {
                let vs = model.embed_sync(chunk)?;
                let mut buf = Vec::new();
                for (t, v) in chunk.iter().zip(vs) {
                    assert_eq!(v.len(), self.dim);
                    let k = Self::key(t);
                    buf.extend_from_slice(&k);
                    for x in &v {
                        buf.extend_from_slice(&x.to_le_bytes());
                    }
                    self.map.insert(k, v);
                }
                f.write_all(&buf)?;
                eprintln!(
                    "embedded {}/{} ({:.0}/s)",
                    (n + 1) * 64,
                    missing.len(),
                    ((n + 1) * 64) as f64 / started.elapsed().as_secs_f64()
                );
            }
        }
        Ok(texts
            .iter()
            .map(|t| self.map[&Self::key(t)].clone())
            .collect())
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let n = dot(&v, &v).sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

// ---------------------------------------------------------------- keyword

/// Lucene's `EnglishAnalyzer.ENGLISH_STOP_WORDS_SET` (33 words).
const LUCENE_STOP: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// NLTK's English stop words, as the brain uses them.
const NLTK_STOP: &[&str] = memory_core::STOP_WORDS;

/// Words that frame a question rather than name its subject, beyond NLTK's list.
const QFRAME_STOP: &[&str] = memory_core::QUESTION_WORDS;

fn qa_stop() -> Vec<&'static str> {
    NLTK_STOP.iter().chain(QFRAME_STOP).copied().collect()
}

fn query_terms(text: &str, stop: &[&str]) -> Vec<String> {
    let all = memory_core::query_terms(text);
    let kept: Vec<String> = all
        .iter()
        .filter(|t| !stop.contains(&t.as_str()))
        .cloned()
        .collect();
    if kept.is_empty() { all } else { kept }
}

fn fts_or(terms: &[String]) -> Option<String> {
    if terms.is_empty() {
        return None;
    }
    Some(
        terms
            .iter()
            .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" OR "),
    )
}

const TOKENIZERS: &[(&str, &str)] = &[
    ("u61", "unicode61 remove_diacritics 2"),
    ("porter", "porter unicode61 remove_diacritics 2"),
];

/// A keyword index over one text per document, in its own FTS5 table.
fn fts_build(db: &Connection, table: &str, tokenize: &str, docs: &[String]) -> Result<()> {
    db.execute_batch(&format!(
        "CREATE VIRTUAL TABLE {table} USING fts5(content, tokenize='{tokenize}');"
    ))?;
    let mut st = db.prepare(&format!(
        "INSERT INTO {table}(rowid, content) VALUES (?, ?)"
    ))?;
    for (i, d) in docs.iter().enumerate() {
        st.execute(rusqlite::params![i as i64, d])?;
    }
    Ok(())
}

fn fts_search(db: &Connection, table: &str, query: &str, depth: usize) -> Result<Vec<(u32, f32)>> {
    let mut st = db.prepare_cached(&format!(
        "SELECT rowid, -bm25({table}) FROM {table} WHERE {table} MATCH ? ORDER BY bm25({table}) LIMIT ?"
    ))?;
    let rows = st.query_map(rusqlite::params![query, depth as i64], |r| {
        Ok((r.get::<_, i64>(0)? as u32, r.get::<_, f64>(1)? as f32))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

// ---------------------------------------------------------------- signals

/// Per question (global index over all conversations), a list of (turn, score), best
/// first. Turn indices are local to the question's conversation.
type Signal = Vec<Vec<(u32, f32)>>;

struct Q {
    conv: usize,
    /// The one speaker of the conversation the question names, if exactly one.
    speaker: Option<String>,
    evidence: HashSet<String>,
    category: i64,
}

fn sort_desc(v: &mut [(u32, f32)]) {
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
}

const KW_DEPTH: usize = 200;

fn build_signals(
    convs: &[Conv],
    cache: &mut EmbedCache,
) -> Result<(Vec<Q>, Vec<(String, Signal)>, Vecs)> {
    let mut all_vecs = Vecs::default();
    let mut qs = Vec::new();
    for (ci, c) in convs.iter().enumerate() {
        for q in &c.questions {
            let terms = memory_core::query_terms(&q.text);
            let mut speakers: Vec<&str> = c.turns.iter().map(|t| t.speaker.as_str()).collect();
            speakers.sort_unstable();
            speakers.dedup();
            let named: Vec<&str> = speakers
                .into_iter()
                .filter(|s| terms.contains(&s.to_lowercase()))
                .collect();
            qs.push(Q {
                conv: ci,
                speaker: (named.len() == 1).then(|| named[0].to_owned()),
                evidence: q.evidence.clone(),
                category: q.category,
            });
        }
    }
    let nq = qs.len();
    let mut signals: Vec<(String, Signal)> = Vec::new();
    // (prev, next, date, dense)
    let spec = [
        (0, 0, false, true),
        (1, 1, false, true),
        (2, 0, false, true),
        (1, 0, false, true),
        (2, 1, false, true),
        (0, 1, false, true),
        (3, 0, false, true),
        (2, 0, true, true),
        (4, 0, false, true),
        (0, 0, true, false),
        (2, 2, false, false),
        (1, 1, true, false),
        (2, 1, true, false),
        (3, 0, true, false),
        (3, 1, true, false),
        (4, 0, true, false),
        (4, 1, true, false),
        (6, 0, true, false),
    ];
    let windows: Vec<Window> = spec
        .iter()
        .map(|&(prev, next, date, _)| Window { prev, next, date })
        .collect();
    let dense_windows: Vec<Window> = spec
        .iter()
        .filter(|s| s.3)
        .map(|&(prev, next, date, _)| Window { prev, next, date })
        .collect();
    let dense_windows = &dense_windows[..];

    // Embed everything in one pass so the cache fills in one go.
    let mut all_texts = Vec::new();
    for c in convs {
        for q in &c.questions {
            all_texts.push(q.text.clone());
        }
    }
    for w in dense_windows {
        for c in convs {
            for i in 0..c.turns.len() {
                all_texts.push(window_text(c, i, *w));
            }
        }
    }
    cache.embed(&all_texts)?;

    let add = |signals: &mut Vec<(String, Signal)>, name: String| -> usize {
        signals.push((name, vec![Vec::new(); nq]));
        signals.len() - 1
    };
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut get = |signals: &mut Vec<(String, Signal)>, name: &str| -> usize {
        if let Some(&i) = names.get(name) {
            return i;
        }
        let i = add(signals, name.to_owned());
        names.insert(name.to_owned(), i);
        i
    };

    let mut qbase = 0;
    for c in convs {
        let n = c.turns.len();
        let qtexts: Vec<String> = c.questions.iter().map(|q| q.text.clone()).collect();
        let qvecs = cache.embed(&qtexts)?;
        all_vecs.q.extend(qvecs.iter().cloned());
        // Dense over every window text.
        let mut turn_vecs: Vec<Vec<f32>> = Vec::new();
        for w in dense_windows {
            let texts: Vec<String> = (0..n).map(|i| window_text(c, i, *w)).collect();
            let vecs = cache.embed(&texts)?;
            if w.prev == 0 && w.next == 0 && !w.date {
                turn_vecs = vecs.clone();
            }
            all_vecs.d.entry(w.name()).or_default().push(vecs.clone());
            let s = get(&mut signals, &format!("dense:{}", w.name()));
            for (qi, qv) in qvecs.iter().enumerate() {
                let mut l: Vec<(u32, f32)> =
                    (0..n).map(|i| (i as u32, dot(qv, &vecs[i]))).collect();
                sort_desc(&mut l);
                signals[s].1[qbase + qi] = l;
            }
        }
        // Dense from vector arithmetic: the turn's vector plus a share of its neighbours'.
        for (label, prev_w, next_w) in [
            ("vmix:p1n1", 0.5f32, 0.5f32),
            ("vmix:p1", 0.5, 0.0),
            ("vmix:p2", 0.5, 0.0),
        ] {
            let two = label.ends_with("p2");
            let mixed: Vec<Vec<f32>> = (0..n)
                .map(|i| {
                    let t = &c.turns[i];
                    let sess = &c.sessions[t.session];
                    let pos = sess.iter().position(|&j| j == i).unwrap();
                    let mut v = turn_vecs[i].clone();
                    let mut addv = |j: usize, w: f32| {
                        for (a, b) in v.iter_mut().zip(&turn_vecs[j]) {
                            *a += w * b;
                        }
                    };
                    if pos > 0 {
                        addv(sess[pos - 1], prev_w);
                    }
                    if two && pos > 1 {
                        addv(sess[pos - 2], prev_w * 0.5);
                    }
                    if pos + 1 < sess.len() && next_w > 0.0 {
                        addv(sess[pos + 1], next_w);
                    }
                    normalized(v)
                })
                .collect();
            let s = get(&mut signals, &format!("dense:{label}"));
            for (qi, qv) in qvecs.iter().enumerate() {
                let mut l: Vec<(u32, f32)> =
                    (0..n).map(|i| (i as u32, dot(qv, &mixed[i]))).collect();
                sort_desc(&mut l);
                signals[s].1[qbase + qi] = l;
            }
        }
        // Dense session: mean of the session's turn vectors; every turn gets its
        // session's similarity.
        {
            let svecs: Vec<Vec<f32>> = c
                .sessions
                .iter()
                .map(|sess| {
                    let mut v = vec![0f32; 384];
                    for &j in sess {
                        for (a, b) in v.iter_mut().zip(&turn_vecs[j]) {
                            *a += b;
                        }
                    }
                    normalized(v)
                })
                .collect();
            let s = get(&mut signals, "dense:session");
            for (qi, qv) in qvecs.iter().enumerate() {
                let mut l: Vec<(u32, f32)> = (0..n)
                    .map(|i| (i as u32, dot(qv, &svecs[c.turns[i].session])))
                    .collect();
                sort_desc(&mut l);
                signals[s].1[qbase + qi] = l;
            }
        }
        // Keyword: every window text and the session text, each tokenizer, each query.
        let db = Connection::open_in_memory()?;
        let mut docsets: Vec<(String, Vec<String>)> = windows
            .iter()
            .map(|w| (w.name(), (0..n).map(|i| window_text(c, i, *w)).collect()))
            .collect();
        docsets.push((
            "nospk".into(),
            c.turns
                .iter()
                .map(|t| {
                    t.text
                        .strip_prefix(&format!("{}: ", t.speaker))
                        .unwrap_or(&t.text)
                        .to_owned()
                })
                .collect(),
        ));
        let stexts: Vec<String> = (0..c.sessions.len()).map(|s| session_text(c, s)).collect();
        docsets.push(("session".into(), stexts));
        // Two columns: the turn alone and its context (window without the turn).
        let two_col: Vec<(String, Vec<(String, String)>)> = [(2usize, 0usize), (2, 1), (4, 0)]
            .into_iter()
            .map(|(prev, next)| {
                let w = Window {
                    prev,
                    next,
                    date: true,
                };
                let docs = (0..n)
                    .map(|i| {
                        let full = window_text(c, i, w);
                        let ctx = full.replacen(&format!("\n{}", c.turns[i].text), "", 1);
                        (c.turns[i].text.clone(), ctx)
                    })
                    .collect();
                (w.name(), docs)
            })
            .collect();
        for (ti, (tname, tok)) in TOKENIZERS.iter().enumerate() {
            for (di, (dname, docs)) in docsets.iter().enumerate() {
                let table = format!("t{ti}_{di}");
                fts_build(&db, &table, tok, docs)?;
                for (qname, stop) in [
                    ("all", &[][..]),
                    ("lucene", LUCENE_STOP),
                    ("nltk", NLTK_STOP),
                ] {
                    let s = get(&mut signals, &format!("kw:{tname}:{qname}:{dname}"));
                    for (qi, q) in c.questions.iter().enumerate() {
                        let Some(m) = fts_or(&query_terms(&q.text, stop)) else {
                            continue;
                        };
                        let hits = fts_search(&db, &table, &m, KW_DEPTH)?;
                        let l = if dname == "session" {
                            // Every turn of a hit session, at the session's score.
                            let mut l = Vec::new();
                            for (sidx, sc) in hits {
                                for &j in &c.sessions[sidx as usize] {
                                    l.push((j as u32, sc));
                                }
                            }
                            l
                        } else {
                            hits
                        };
                        signals[s].1[qbase + qi] = l;
                    }
                }
            }
        }
        for (ti, (tname, tok)) in TOKENIZERS.iter().enumerate().skip(1) {
            for (di, (dname, docs)) in two_col.iter().enumerate() {
                let table = format!("c{ti}_{di}");
                db.execute_batch(&format!(
                    "CREATE VIRTUAL TABLE {table} USING fts5(turn, ctx, tokenize='{tok}');"
                ))?;
                for (i, (a, b)) in docs.iter().enumerate() {
                    db.execute(
                        &format!("INSERT INTO {table}(rowid, turn, ctx) VALUES (?, ?, ?)"),
                        rusqlite::params![i as i64, a, b],
                    )?;
                }
                let qa = qa_stop();
                for (wt, qname, stop) in [
                    (1.0, "nltk", NLTK_STOP),
                    (2.0, "nltk", NLTK_STOP),
                    (3.0, "nltk", NLTK_STOP),
                    (2.0, "qa", &qa[..]),
                ] {
                    let s = get(
                        &mut signals,
                        &format!("kw:{tname}:{qname}:2col{wt}-{dname}"),
                    );
                    let mut st = db.prepare(&format!(
                        "SELECT rowid, -bm25({table}, {wt}, 1.0) FROM {table} WHERE {table} MATCH ? \
                         ORDER BY bm25({table}, {wt}, 1.0) LIMIT {KW_DEPTH}"
                    ))?;
                    for (qi, q) in c.questions.iter().enumerate() {
                        let Some(m) = fts_or(&query_terms(&q.text, stop)) else {
                            continue;
                        };
                        let l = st
                            .query_map(rusqlite::params![m], |r| {
                                Ok((r.get::<_, i64>(0)? as u32, r.get::<_, f64>(1)? as f32))
                            })?
                            .collect::<rusqlite::Result<Vec<_>>>()?;
                        signals[s].1[qbase + qi] = l;
                    }
                }
            }
        }
        qbase += c.questions.len();
        all_vecs.dbs.push(db);
    }
    Ok((qs, signals, all_vecs))
}

// ---------------------------------------------------------------- fusion and scoring

#[derive(Clone)]
struct Combo {
    name: String,
    /// (signal name, weight, depth)
    parts: Vec<(String, f64, usize)>,
    rrf_k: f64,
    /// Share of each same-session neighbour's fused score a turn receives (distance 1).
    prop: f64,
    /// Only propagate from the previous turn (what a turn's successor can add is unknown at
    /// remember time is irrelevant here: propagation is at recall time, so both are fair).
    prop_prev_only: bool,
    /// Dense pseudo-relevance feedback: (beta, top m, weight of the new list, window).
    dprf: Option<(f32, usize, f64, String)>,
    /// Boost of turns spoken by the one speaker the query names: score * (1 + spk).
    spk: f64,
    /// Diversification: a candidate loses this share of its score for each higher-ranked
    /// turn of the same session within `div_w` turns of it.
    div: f64,
    div_w: usize,
    /// Fuse min-max normalised scores (over each list's top `depth`) instead of ranks.
    combsum: bool,
    /// Keyword pseudo-relevance feedback: (top m docs, expansion terms, weight of the new
    /// list).
    kprf: Option<(usize, usize, f64)>,
}

impl Combo {
    fn new(name: &str, parts: &[(&str, f64)], rrf_k: f64) -> Self {
        Combo {
            name: name.to_owned(),
            parts: parts
                .iter()
                .map(|(s, w)| ((*s).to_owned(), *w, 100))
                .collect(),
            rrf_k,
            prop: 0.0,
            prop_prev_only: false,
            dprf: None,
            spk: 0.0,
            div: 0.0,
            div_w: 1,
            combsum: false,
            kprf: None,
        }
    }
}

#[derive(Default, Clone, Copy)]
struct Score {
    recall: [f64; 2],
    hit: [f64; 2],
    n: usize,
}

impl Score {
    fn add(&mut self, o: &Score) {
        for i in 0..2 {
            self.recall[i] += o.recall[i];
            self.hit[i] += o.hit[i];
        }
        self.n += o.n;
    }
    fn mean(&self) -> Score {
        let n = self.n.max(1) as f64;
        Score {
            recall: [self.recall[0] / n, self.recall[1] / n],
            hit: [self.hit[0] / n, self.hit[1] / n],
            n: self.n,
        }
    }
}

/// Ranks with ties sharing a rank (dense ranking of distinct scores).
fn ranks(l: &[(u32, f32)]) -> Vec<(u32, usize)> {
    let mut out = Vec::with_capacity(l.len());
    let mut rank = 0;
    let mut last = f32::NAN;
    for &(d, s) in l {
        if s != last {
            rank += 1;
            last = s;
        }
        out.push((d, rank));
    }
    out
}

struct Eval<'a> {
    convs: &'a [Conv],
    qs: &'a [Q],
    sig: HashMap<&'a str, &'a Signal>,
    vecs: &'a Vecs,
    /// Per conversation: document frequency of each (unstemmed) term over turn texts.
    df: Vec<HashMap<String, usize>>,
    /// Per global question: its text.
    qtext: Vec<String>,
}

/// Query vectors (per global question) and document vectors (window name -> per
/// conversation -> per turn).
#[derive(Default)]
struct Vecs {
    /// Per conversation, its FTS tables (for feedback queries at fusion time).
    dbs: Vec<Connection>,
    q: Vec<Vec<f32>>,
    d: HashMap<String, Vec<Vec<Vec<f32>>>>,
}

impl Eval<'_> {
    fn rank(&self, combo: &Combo, qi: usize) -> Vec<u32> {
        let c = &self.convs[self.qs[qi].conv];
        let n = c.turns.len();
        let mut f = vec![0f64; n];
        for (name, w, depth) in &combo.parts {
            let s = self
                .sig
                .get(name.as_str())
                .unwrap_or_else(|| panic!("no signal {name}"));
            if combo.combsum {
                let l = &s[qi];
                let top = &l[..l.len().min(*depth)];
                if let (Some(hi), Some(lo)) = (top.first(), top.last()) {
                    let span = f64::from(hi.1 - lo.1).max(1e-9);
                    for (d, sc) in top {
                        f[*d as usize] += w * (f64::from(*sc - lo.1) / span + 1e-6);
                    }
                }
                continue;
            }
            for (d, r) in ranks(&s[qi]).into_iter().take_while(|(_, r)| r <= depth) {
                f[d as usize] += w / (combo.rrf_k + r as f64);
            }
        }
        if let Some((beta, m, w, win)) = &combo.dprf {
            let mut top: Vec<usize> = (0..n).filter(|&i| f[i] > 0.0).collect();
            top.sort_by(|a, b| f[*b].total_cmp(&f[*a]).then(a.cmp(b)));
            let dv = &self.vecs.d[win][self.qs[qi].conv];
            let mut q = self.vecs.q[qi].clone();
            for &i in top.iter().take(*m) {
                for (a, b) in q.iter_mut().zip(&dv[i]) {
                    *a += beta / *m as f32 * b;
                }
            }
            let q = normalized(q);
            let mut l: Vec<(u32, f32)> = (0..n).map(|i| (i as u32, dot(&q, &dv[i]))).collect();
            sort_desc(&mut l);
            for (r, (d, _)) in l.iter().enumerate().take(100) {
                f[*d as usize] += w / (combo.rrf_k + (r + 1) as f64);
            }
        }
        if let Some((m, nterms, w)) = combo.kprf {
            let mut top: Vec<usize> = (0..n).filter(|&i| f[i] > 0.0).collect();
            top.sort_by(|a, b| f[*b].total_cmp(&f[*a]).then(a.cmp(b)));
            let conv = self.qs[qi].conv;
            let df = &self.df[conv];
            let stop = qa_stop();
            let qterms = query_terms(&self.qtext[qi], &stop);
            let mut weight: HashMap<String, f64> = HashMap::new();
            for &i in top.iter().take(m) {
                let terms = memory_core::query_terms(&c.turns[i].text);
                let len = terms.len().max(1) as f64;
                for t in terms {
                    if stop.contains(&t.as_str()) || qterms.contains(&t) || t.len() < 3 {
                        continue;
                    }
                    let idf =
                        ((n as f64 + 1.0) / (df.get(&t).copied().unwrap_or(0) as f64 + 0.5)).ln();
                    *weight.entry(t).or_default() += idf / len;
                }
            }
            let mut exp: Vec<(String, f64)> = weight.into_iter().collect();
            exp.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let mut terms = qterms.clone();
            terms.extend(exp.into_iter().take(nterms).map(|(t, _)| t));
            if let Some(mq) = fts_or(&terms) {
                let db = &self.vecs.dbs[conv];
                let mut st = db
                    .prepare_cached(
                        "SELECT rowid FROM c1_1 WHERE c1_1 MATCH ? ORDER BY bm25(c1_1, 2.0, 1.0) LIMIT 100",
                    )
                    .unwrap();
                let l: Vec<u32> = st
                    .query_map(rusqlite::params![mq], |r| Ok(r.get::<_, i64>(0)? as u32))
                    .unwrap()
                    .collect::<rusqlite::Result<_>>()
                    .unwrap();
                for (r, d) in l.iter().enumerate() {
                    f[*d as usize] += w / (combo.rrf_k + (r + 1) as f64);
                }
            }
        }
        if combo.prop > 0.0 {
            let base = f.clone();
            for sess in &c.sessions {
                for (p, &i) in sess.iter().enumerate() {
                    if p > 0 {
                        f[i] += combo.prop * base[sess[p - 1]];
                    }
                    if p + 1 < sess.len() && !combo.prop_prev_only {
                        f[i] += combo.prop * base[sess[p + 1]];
                    }
                }
            }
        }
        if combo.spk > 0.0
            && let Some(sp) = &self.qs[qi].speaker
        {
            for (i, t) in c.turns.iter().enumerate() {
                if &t.speaker == sp {
                    f[i] *= 1.0 + combo.spk;
                }
            }
        }
        let mut order: Vec<u32> = (0..n as u32).filter(|&i| f[i as usize] > 0.0).collect();
        order.sort_by(|a, b| f[*b as usize].total_cmp(&f[*a as usize]).then(a.cmp(b)));
        if combo.div > 0.0 {
            let pos = |i: usize| {
                let t = &c.turns[i];
                (
                    t.session,
                    c.sessions[t.session].iter().position(|&j| j == i).unwrap(),
                )
            };
            let mut rest: Vec<u32> = order.iter().take(40).copied().collect();
            let tail: Vec<u32> = order.iter().skip(40).copied().collect();
            let mut picked: Vec<u32> = Vec::new();
            while !rest.is_empty() {
                let mut best = 0;
                let mut best_s = f64::NEG_INFINITY;
                for (ri, &i) in rest.iter().enumerate() {
                    let (si, pi) = pos(i as usize);
                    let near = picked
                        .iter()
                        .filter(|&&j| {
                            let (sj, pj) = pos(j as usize);
                            sj == si && pi.abs_diff(pj) <= combo.div_w
                        })
                        .count();
                    let sc = f[i as usize] * (1.0 - combo.div).powi(near as i32);
                    if sc > best_s {
                        best_s = sc;
                        best = ri;
                    }
                }
                picked.push(rest.remove(best));
            }
            picked.extend(tail);
            return picked;
        }
        order
    }

    /// Per conversation (not averaged) and the category filter.
    fn score(&self, combo: &Combo) -> Vec<Score> {
        let mut per = vec![Score::default(); self.convs.len()];
        for (qi, q) in self.qs.iter().enumerate() {
            let order = self.rank(combo, qi);
            let c = &self.convs[q.conv];
            let mut s = Score {
                n: 1,
                ..Score::default()
            };
            for (i, k) in [5usize, 10].iter().enumerate() {
                let got: HashSet<&str> = order
                    .iter()
                    .take(*k)
                    .map(|&d| c.turns[d as usize].dia.as_str())
                    .collect();
                let found = q
                    .evidence
                    .iter()
                    .filter(|e| got.contains(e.as_str()))
                    .count();
                s.recall[i] = found as f64 / q.evidence.len() as f64;
                s.hit[i] = f64::from(u8::from(found > 0));
            }
            per[q.conv].add(&s);
        }
        per
    }
}

fn total(per: &[Score]) -> Score {
    let mut t = Score::default();
    for s in per {
        t.add(s);
    }
    t.mean()
}

fn print_header(convs: &[Conv]) {
    print!(
        "{:<58} {:>6} {:>6} {:>6} {:>6}",
        "ranking", "R@5", "R@10", "H@5", "H@10"
    );
    for c in convs {
        print!(" {:>6}", format!("{}R10", c.name));
    }
    println!(" {:>6}", "minΔ");
}

fn print_row(name: &str, per: &[Score], base: Option<&[Score]>) {
    let t = total(per);
    print!(
        "{:<58} {:>6.3} {:>6.3} {:>6.3} {:>6.3}",
        name, t.recall[0], t.recall[1], t.hit[0], t.hit[1]
    );
    let mut min_delta = f64::INFINITY;
    for (i, s) in per.iter().enumerate() {
        let m = s.mean();
        print!(" {:>6.3}", m.recall[1]);
        if let Some(b) = base {
            min_delta = min_delta.min(m.recall[1] - b[i].mean().recall[1]);
        }
    }
    if base.is_some() {
        print!(" {:>+6.3}", min_delta);
    }
    println!();
}

fn main() -> Result<()> {
    let args = Args::parse();
    let convs = load(&args.data)?;
    let mut cache = EmbedCache::open(&args.cache)?;
    let t0 = std::time::Instant::now();
    let (qs, signals, vecs) = build_signals(&convs, &mut cache)?;
    eprintln!("signals built in {:.1}s", t0.elapsed().as_secs_f64());
    let eval = Eval {
        convs: &convs,
        qs: &qs,
        sig: signals.iter().map(|(n, s)| (n.as_str(), s)).collect(),
        vecs: &vecs,
        df: convs
            .iter()
            .map(|c| {
                let mut df = HashMap::new();
                for t in &c.turns {
                    let mut terms = memory_core::query_terms(&t.text);
                    terms.sort();
                    terms.dedup();
                    for term in terms {
                        *df.entry(term).or_insert(0) += 1;
                    }
                }
                df
            })
            .collect(),
        qtext: convs
            .iter()
            .flat_map(|c| c.questions.iter().map(|q| q.text.clone()))
            .collect(),
    };
    println!(
        "LoCoMo dev: {} conversations, {} turns, {} questions",
        convs.len(),
        convs.iter().map(|c| c.turns.len()).sum::<usize>(),
        qs.len()
    );
    let keep = |name: &str| {
        args.filter
            .as_ref()
            .is_none_or(|f| name.contains(f.as_str()))
    };
    if args.mode == "signals" || args.mode == "all" {
        print_header(&convs);
        for (name, _) in &signals {
            if !keep(name) {
                continue;
            }
            let per = eval.score(&Combo::new(name, &[(name, 1.0)], 60.0));
            print_row(name, &per, None);
        }
    }
    if args.mode == "combos" || args.mode == "all" {
        let mut combos = combos();
        for spec in &args.combo {
            combos.push(parse_combo(spec)?);
        }
        print_header(&convs);
        let base = eval.score(&combos[0]);
        for c in &combos {
            if !keep(&c.name) {
                continue;
            }
            let per = eval.score(c);
            print_row(&c.name, &per, Some(&base));
        }
    }
    if args.mode == "loco" {
        let mut grid = Vec::new();
        for ctx in ["dp2n1", "dp2n0"] {
            for kw in [1.5, 2.0, 3.0] {
                for k in [3.0, 5.0, 10.0] {
                    for spk in [0.0, 0.5, 1.0] {
                        for prf in ["", ";kprf=3/5/1", ";kprf=5/5/1"] {
                            let dctx = if ctx == "dp2n1" { "p2n1" } else { "p2n0" };
                            for dense_ctx in ["p2n0", dctx] {
                                grid.push(parse_combo(&format!(
                                    "dense:p0n0=1,dense:{dense_ctx}=1,kw:porter:nltk:2col2-{ctx}={kw};k={k};spk={spk}{prf}"
                                ))?);
                            }
                        }
                    }
                }
            }
        }
        grid.dedup_by(|a, b| a.name == b.name);
        eprintln!("scoring {} combos", grid.len());
        let scored: Vec<(String, Vec<Score>)> = grid
            .iter()
            .map(|c| (c.name.clone(), eval.score(c)))
            .collect();
        let mut held = Vec::new();
        for (ci, conv) in convs.iter().enumerate() {
            let best = scored
                .iter()
                .max_by(|a, b| {
                    let r = |per: &[Score]| {
                        let mut t = Score::default();
                        for (j, s) in per.iter().enumerate() {
                            if j != ci {
                                t.add(s);
                            }
                        }
                        t.mean().recall[1]
                    };
                    r(&a.1).total_cmp(&r(&b.1)).then(b.0.cmp(&a.0))
                })
                .unwrap();
            println!(
                "held out {}: chose {} -> R@10 {:.3}",
                conv.name,
                best.0,
                best.1[ci].mean().recall[1]
            );
            held.push(best.1[ci]);
        }
        let t = total(&held);
        println!(
            "LOCO: R@5 {:.3} R@10 {:.3} H@5 {:.3} H@10 {:.3}",
            t.recall[0], t.recall[1], t.hit[0], t.hit[1]
        );
        let mut all: Vec<&(String, Vec<Score>)> = scored.iter().collect();
        all.sort_by(|a, b| total(&b.1).recall[1].total_cmp(&total(&a.1).recall[1]));
        print_header(&convs);
        for (name, per) in all.iter().take(15) {
            print_row(name, per, None);
        }
    }
    if args.mode == "fail" {
        let c = parse_combo(&args.combo[0])?;
        let mut rng = 12345u64;
        for (qi, q) in qs.iter().enumerate() {
            let order = eval.rank(&c, qi);
            let conv = &convs[q.conv];
            let got: HashSet<&str> = order
                .iter()
                .take(10)
                .map(|&d| conv.turns[d as usize].dia.as_str())
                .collect();
            if q.evidence.iter().any(|e| got.contains(e.as_str())) {
                continue;
            }
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            if !rng.is_multiple_of(6) {
                continue;
            }
            let local = qi - qs.iter().take_while(|x| x.conv < q.conv).count();
            println!(
                "\n## [{}] cat {} Q: {}",
                conv.name, q.category, conv.questions[local].text
            );
            for e in &q.evidence {
                if let Some((i, t)) = conv.turns.iter().enumerate().find(|(_, t)| &t.dia == e) {
                    let rank = order
                        .iter()
                        .position(|&d| d as usize == i)
                        .map_or(0, |r| r + 1);
                    println!(
                        "   EVID {e} (rank {rank}) [{}] {}",
                        conv.dates[t.session], t.text
                    );
                }
            }
            for &d in order.iter().take(3) {
                let t = &conv.turns[d as usize];
                println!("   got  {} {}", t.dia, t.text);
            }
        }
    }
    if args.mode == "cats" {
        let mut combos = combos();
        for spec in &args.combo {
            combos.push(parse_combo(spec)?);
        }
        for c in &combos {
            let mut per = [Score::default(); 5];
            for (qi, q) in qs.iter().enumerate() {
                let order = eval.rank(c, qi);
                let conv = &convs[q.conv];
                let got: HashSet<&str> = order
                    .iter()
                    .take(10)
                    .map(|&d| conv.turns[d as usize].dia.as_str())
                    .collect();
                let found = q
                    .evidence
                    .iter()
                    .filter(|e| got.contains(e.as_str()))
                    .count();
                per[q.category as usize].add(&Score {
                    recall: [0.0, found as f64 / q.evidence.len() as f64],
                    hit: [0.0, 0.0],
                    n: 1,
                });
            }
            print!("{:<58}", c.name);
            for s in &per[1..] {
                print!(" cat R@10 {:.3} (n={})", s.mean().recall[1], s.n);
            }
            println!();
        }
    }
    Ok(())
}

/// The recipe (`RECIPE`; `--mode loco` re-selects its settings leaving one conversation out)
/// and its ablations. The first row is the baseline the `minΔ` column
/// compares against (today's recall: BM25 on unicode61 + dense, RRF k=5).
fn combos() -> Vec<Combo> {
    const KW: &str = "kw:porter:nltk:2col2-dp2n1=2";
    const KW_PREV: &str = "kw:porter:nltk:2col2-dp2n0=2";
    const RECIPE: &str =
        "dense:p0n0=1,dense:p2n0=1,kw:porter:nltk:2col2-dp2n1=2;k=10;spk=0.5;kprf=5/5/1";
    let rows: Vec<(&str, String)> = vec![
        (
            "baseline: RRF(dense turn, BM25 unicode61 turn) k=5",
            "dense:p0n0=1,kw:u61:all:p0n0=1;k=5".into(),
        ),
        ("dense turn", "dense:p0n0=1".into()),
        ("BM25 unicode61 turn", "kw:u61:all:p0n0=1".into()),
        ("BM25 porter+nltk turn", "kw:porter:nltk:p0n0=1".into()),
        (
            "RRF(dense turn, BM25 porter+nltk turn) k=5",
            "dense:p0n0=1,kw:porter:nltk:p0n0=1;k=5".into(),
        ),
        (
            "4 lists: dense/kw x turn/p2n0 k=5",
            "dense:p0n0=1,kw:porter:nltk:p0n0=1,dense:p2n0=1,kw:porter:nltk:p2n0=1;k=5".into(),
        ),
        ("RECIPE", RECIPE.into()),
        (
            "RECIPE dense side only: RRF(dense turn, dense p2n0)",
            "dense:p0n0=1,dense:p2n0=1;k=10;spk=0.5".into(),
        ),
        (
            "RECIPE keyword side only: 2col + PRF",
            format!("{KW};k=10;spk=0.5;kprf=5/5/1"),
        ),
        (
            "RECIPE - speaker boost",
            "dense:p0n0=1,dense:p2n0=1,kw:porter:nltk:2col2-dp2n1=2;k=10;kprf=5/5/1".into(),
        ),
        (
            "RECIPE - keyword PRF",
            format!("dense:p0n0=1,dense:p2n0=1,{KW};k=10;spk=0.5"),
        ),
        (
            "RECIPE - speaker - PRF",
            format!("dense:p0n0=1,dense:p2n0=1,{KW};k=10"),
        ),
        (
            "RECIPE - dense context (p2n0)",
            format!("dense:p0n0=1,{KW};k=10;spk=0.5;kprf=5/5/1"),
        ),
        (
            "RECIPE - dense turn",
            format!("dense:p2n0=1,{KW};k=10;spk=0.5;kprf=5/5/1"),
        ),
        (
            "RECIPE, kw turn-col weight 1 (= one text)",
            "dense:p0n0=1,dense:p2n0=1,kw:porter:nltk:2col1-dp2n1=2;k=10;spk=0.5;kprf=5/5/1".into(),
        ),
        (
            "RECIPE, kw as 2 one-text lists (turn; p2n1 no date), no PRF",
            "dense:p0n0=1,dense:p2n0=1,kw:porter:nltk:p0n0=1,kw:porter:nltk:p2n1=1;k=10;spk=0.5"
                .into(),
        ),
        (
            "RECIPE, kw list weight 1",
            "dense:p0n0=1,dense:p2n0=1,kw:porter:nltk:2col2-dp2n1=1;k=10;spk=0.5;kprf=5/5/1".into(),
        ),
        (
            "RECIPE, previous-only context (kw dp2n0)",
            format!("dense:p0n0=1,dense:p2n0=1,{KW_PREV};k=10;spk=0.5;kprf=5/5/1"),
        ),
        (
            "RECIPE, rrf_k=5",
            "dense:p0n0=1,dense:p2n0=1,kw:porter:nltk:2col2-dp2n1=2;k=5;spk=0.5;kprf=5/5/1".into(),
        ),
        (
            "RECIPE, rrf_k=60",
            "dense:p0n0=1,dense:p2n0=1,kw:porter:nltk:2col2-dp2n1=2;k=60;spk=0.5;kprf=5/5/1".into(),
        ),
        (
            "RECIPE + neighbour propagation 0.1",
            format!("{RECIPE};prop=0.1"),
        ),
    ];
    rows.into_iter()
        .map(|(name, spec)| {
            let mut c = parse_combo(&spec).unwrap();
            c.name = name.to_owned();
            c
        })
        .collect()
}
