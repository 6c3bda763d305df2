//! Test support: an in-memory `EmbeddingStore` and synthetic data.
#![allow(dead_code, unreachable_pub, missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeSet, HashMap};

use memory_core::{
    Error, Importance, Memory, MemoryFilter, MemoryId, MemoryKind, Metadata, Scope, Timestamp,
    ValidationError, VectorEntry, VectorHit,
};

// ---------------------------------------------------------------- the store double

/// The in-memory embedding store, published by memory-core for index tests.
#[allow(unused_imports)]
pub use memory_core::testing::MemoryEmbeddings as MemStore;

// ---------------------------------------------------------------- data

/// A small deterministic generator (splitmix64).
#[derive(Clone)]
pub struct TestRng(u64);

impl TestRng {
    pub fn new(seed: u64) -> Self {
        TestRng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }
}

/// `n` vectors around `clusters` random centres (noise 0.35 of a centre's scale).
pub fn clustered(n: usize, dim: usize, clusters: usize, seed: u64) -> Vec<Vec<f32>> {
    clustered_with(n, dim, clusters, 0.35, seed)
}

/// `n` vectors around `clusters` random centres with Gaussian noise of `noise` (the
/// centres' components are standard normal).
pub fn clustered_with(
    n: usize,
    dim: usize,
    clusters: usize,
    noise: f32,
    seed: u64,
) -> Vec<Vec<f32>> {
    let mut rng = TestRng::new(seed);
    let centres: Vec<Vec<f32>> = (0..clusters)
        .map(|_| (0..dim).map(|_| rng.normal()).collect())
        .collect();
    (0..n)
        .map(|_| {
            let c = &centres[rng.below(clusters)];
            c.iter().map(|x| x + noise * rng.normal()).collect()
        })
        .collect()
}

/// A deterministic id for test row `i`.
pub fn id(i: usize) -> MemoryId {
    MemoryId::from_bytes((i as u128 + 1).to_be_bytes())
}

/// The base time of the corpus (as in memory-core's conformance corpus).
pub fn base_now() -> i64 {
    Timestamp::now().as_millis()
}

/// An entry with varied filter fields, after memory-core's conformance corpus: three
/// users, two agents, sessions, three kinds, metadata, creation times and expiries.
pub fn entry(i: usize, vector: Vec<f32>, now: i64) -> VectorEntry {
    let i64i = i as i64;
    let mut scope = Scope::default();
    if i % 4 != 3 {
        scope.user = Some(["alice", "bob", "carol"][i % 3].into());
    }
    if i.is_multiple_of(2) {
        scope.agent = Some(["coder", "planner"][(i / 2) % 2].into());
    }
    if i.is_multiple_of(5) {
        scope.session = Some(format!("s{}", i % 3));
    }
    let kind = MemoryKind::new(["fact", "episode", "doc_chunk"][i % 3]).unwrap();
    let mut md = Metadata::new()
        .with("i", i64i % 60)
        .with("parity", if i.is_multiple_of(2) { "even" } else { "odd" });
    if i.is_multiple_of(3) {
        md = md.with("lang", "rust").with("flag", true);
    }
    if i.is_multiple_of(7) {
        md = md.with("score", 1.5);
    }
    let expires_at = match i % 6 {
        0 => Some(Timestamp::from_millis(now - 1)),
        1 => Some(Timestamp::from_millis(now + 10_000_000)),
        _ => None,
    };
    VectorEntry {
        id: id(i),
        vector,
        scope,
        kind,
        metadata: md,
        created_at: Timestamp::from_millis(now - 1_000_000 + (i64i % 60) * 1000),
        expires_at,
    }
}

/// A plain entry: global scope, no metadata, no expiry.
pub fn plain(i: usize, vector: Vec<f32>) -> VectorEntry {
    VectorEntry {
        id: id(i),
        vector,
        scope: Scope::default(),
        kind: MemoryKind::fact(),
        metadata: Metadata::new(),
        created_at: Timestamp::from_millis(0),
        expires_at: None,
    }
}

/// The memory an entry stands for, to ask `MemoryFilter::matches`.
pub fn as_memory(e: &VectorEntry) -> Memory {
    Memory {
        id: e.id,
        content: "x".into(),
        context: String::new(),
        kind: e.kind.clone(),
        scope: e.scope.clone(),
        metadata: e.metadata.clone(),
        importance: Importance::DEFAULT,
        created_at: e.created_at,
        updated_at: e.created_at,
        expires_at: e.expires_at,
    }
}

pub fn matches(f: &MemoryFilter, e: &VectorEntry, now: Timestamp) -> bool {
    f.matches(&as_memory(e), now)
}

/// Exact top-k by the reference filter, computed in f64, best first.
pub fn reference_top_k(
    entries: &HashMap<MemoryId, VectorEntry>,
    q: &[f32],
    k: usize,
    f: &MemoryFilter,
    now: Timestamp,
) -> Vec<(MemoryId, f64)> {
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let qn = norm(q);
    let mut all: Vec<(MemoryId, f64)> = entries
        .values()
        .filter(|e| matches(f, e, now))
        .map(|e| {
            let d: f64 = e
                .vector
                .iter()
                .zip(q)
                .map(|(a, b)| f64::from(*a) * f64::from(*b))
                .sum();
            (e.id, d / (norm(&e.vector) * qn))
        })
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    all.truncate(k);
    all
}

/// |a ∩ b| / |b|, for recall of `got` against `truth`.
pub fn recall(got: &[VectorHit], truth: &[VectorHit]) -> f64 {
    if truth.is_empty() {
        return 1.0;
    }
    let t: BTreeSet<MemoryId> = truth.iter().map(|h| h.id).collect();
    got.iter().filter(|h| t.contains(&h.id)).count() as f64 / t.len() as f64
}

pub fn invalid(e: &memory_core::Error) -> bool {
    matches!(e, Error::InvalidInput(_))
}

pub fn wrong_dim(e: &memory_core::Error) -> bool {
    matches!(
        e,
        Error::InvalidInput(ValidationError::WrongDimension { .. })
    )
}
