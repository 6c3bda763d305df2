//! One HNSW graph and the table beside it: internal ids, tombstones, filter fields and
//! the unit vectors for exact search. Everything hnsw_rs-specific lives here and in
//! `snapshot.rs`.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use hnsw_rs::prelude::Hnsw;
use memory_core::{MemoryId, VectorHit};

use crate::distance::{CosineDistance, similarity};
use crate::error::{Result, VectorError};
use crate::filter::{EntryMeta, FilterPlan};
use crate::frozen::Frozen;
use crate::params::{HnswParams, MIN_TOMBSTONES_FOR_REBUILD, TOMBSTONE_RATIO_DENOMINATOR};
use crate::util::{Scored, TopK, read, write};

/// The graph type. `'static`: graphs built here own their points; a graph loaded from
/// a snapshot borrows its loader, which `snapshot.rs` leaks so the borrow is `'static`.
pub(crate) type Graph = Hnsw<'static, f32, CosineDistance>;

/// hnsw_rs's maximum number of layers (`NB_LAYER_MAX`); more is clamped to it anyway.
const MAX_LAYERS: usize = 16;

/// Batches at least this large are inserted with hnsw_rs's `parallel_insert` (rayon, all
/// cores); smaller ones one by one, where thread hand-off would cost more than it saves.
const PARALLEL_INSERT_MIN: usize = 32;

/// Live entries sampled to estimate how selective a filter is.
const SELECTIVITY_SAMPLE: usize = 512;

/// The most a selective filter multiplies `ef` by.
const MAX_EF_GROWTH: f64 = 4.0;

/// A validated, normalised entry ready to insert.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) id: MemoryId,
    pub(crate) vector: Vec<f32>,
    pub(crate) meta: Arc<EntryMeta>,
}

/// The state of an internal id.
#[derive(Debug, Clone)]
pub(crate) enum Slot {
    /// Being inserted into the graph; not yet visible.
    Pending,
    /// A live entry.
    Live(Arc<EntryMeta>),
    /// A tombstone: deleted or replaced. Still a node of the graph (it keeps the graph
    /// navigable) but never returned.
    Dead,
}

#[derive(Debug, Default)]
pub(crate) struct Table {
    /// Memory id of each internal id.
    pub(crate) ids: Vec<MemoryId>,
    pub(crate) slots: Vec<Slot>,
    /// Unit vectors, `dimension` floats per internal id.
    pub(crate) vectors: Vec<f32>,
    /// Internal id of each live memory.
    pub(crate) by_id: HashMap<MemoryId, usize>,
    pub(crate) tombstones: usize,
    pub(crate) pending: usize,
    /// Live entries with an expiry (when 0, expiry cannot reject anything).
    pub(crate) expiring: usize,
}

impl Table {
    fn kill(&mut self, iid: usize) {
        if let Some(slot) = self.slots.get_mut(iid) {
            if let Slot::Live(m) = slot
                && m.expires_at.is_some()
            {
                self.expiring -= 1;
            }
            if matches!(slot, Slot::Pending) {
                self.pending -= 1;
            }
            *slot = Slot::Dead;
            self.tombstones += 1;
        }
    }
}

/// Counts describing an engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EngineCounts {
    pub(crate) live: usize,
    pub(crate) tombstones: usize,
    pub(crate) internal: usize,
}

pub(crate) struct Engine {
    /// hnsw_rs's graph: built, linked and persisted by hnsw_rs.
    pub(crate) graph: Graph,
    pub(crate) table: RwLock<Table>,
    pub(crate) params: HnswParams,
    /// The graph copied into flat arrays, which searches walk (see `frozen.rs`); it
    /// covers the internal ids below its `len`, and searches scan the rest exactly.
    frozen: RwLock<Arc<Frozen>>,
    /// Whether a background freeze is running.
    freezing: AtomicBool,
}

/// Turns a panic payload into a message.
pub(crate) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_owned()
    }
}

/// Runs hnsw_rs code, turning a panic into an error.
pub(crate) fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f))
        .map_err(|p| VectorError::Engine(format!("{what}: {}", panic_message(p.as_ref()))))
}

impl Engine {
    /// An empty graph sized for about `hint` points (a capacity hint only).
    pub(crate) fn empty(params: HnswParams, hint: usize) -> Result<Engine> {
        params.validate()?;
        // hnsw_rs reserves per-layer vectors from the hint, so keep it to what we know.
        let hint = hint.clamp(1, params.max_elements);
        let graph = guarded("creating the graph", || {
            Hnsw::new(
                params.m,
                hint,
                MAX_LAYERS,
                params.ef_construction,
                CosineDistance,
            )
        })?;
        Ok(Engine {
            graph,
            table: RwLock::new(Table::default()),
            params,
            frozen: RwLock::new(Arc::new(Frozen::default())),
            freezing: AtomicBool::new(false),
        })
    }

    /// A graph over `entries` (ids unique), inserted in parallel, and frozen.
    pub(crate) fn build(params: HnswParams, entries: Vec<Prepared>) -> Result<Engine> {
        let engine = Engine::empty(params, entries.len())?;
        engine.insert(entries)?;
        engine.freeze()?;
        Ok(engine)
    }

    /// An engine over a graph loaded from a snapshot and its table, frozen. If freezing
    /// fails the engine still answers correctly (every point is in the exactly searched
    /// delta) and the next write past the threshold tries again.
    pub(crate) fn from_parts(graph: Graph, table: Table, params: HnswParams) -> Engine {
        let engine = Engine {
            graph,
            table: RwLock::new(table),
            params,
            frozen: RwLock::new(Arc::new(Frozen::default())),
            freezing: AtomicBool::new(false),
        };
        if let Err(e) = engine.freeze() {
            tracing::warn!(error = %e, "could not freeze the loaded graph; searching it exactly");
        }
        engine
    }

    /// Copies the graph's current links into a new frozen layout and installs it.
    /// Safe while writes go on: it covers the ids published before it started.
    pub(crate) fn freeze(&self) -> Result<()> {
        let bound = {
            let t = read(&self.table);
            // Writers are serialised, so the pending ids are the tail of the table.
            t.slots
                .iter()
                .position(|s| matches!(s, Slot::Pending))
                .unwrap_or(t.slots.len())
        };
        let frozen = guarded("freezing the graph", || {
            Frozen::from_graph(&self.graph, bound, self.params.m)
        })?;
        let mut current = write(&self.frozen);
        // A freeze that started earlier but finished later must not undo a newer one.
        if frozen.len() >= current.len() {
            *current = Arc::new(frozen);
        }
        Ok(())
    }

    /// Claims the right to run a background freeze when the delta (points past the
    /// frozen layout) has grown past its threshold; the caller runs [`Engine::freeze`]
    /// and then [`Engine::freeze_done`].
    pub(crate) fn claim_freeze(&self) -> bool {
        let internal = read(&self.table).slots.len();
        let frozen = Arc::clone(&read(&self.frozen));
        internal.saturating_sub(frozen.len()) >= frozen.refreeze_after()
            && !self.freezing.swap(true, Ordering::AcqRel)
    }

    /// Ends a claim of [`Engine::claim_freeze`].
    pub(crate) fn freeze_done(&self) {
        self.freezing.store(false, Ordering::Release);
    }

    /// Internal ids covered by the frozen layout (the rest are the delta).
    #[cfg(test)]
    #[allow(dead_code)]
    pub(crate) fn frozen_len(&self) -> usize {
        read(&self.frozen).len()
    }

    pub(crate) fn counts(&self) -> EngineCounts {
        let t = read(&self.table);
        EngineCounts {
            live: t.by_id.len(),
            tombstones: t.tombstones,
            internal: t.slots.len(),
        }
    }

    /// Whether a fifth or more of the graph is tombstones (and enough to matter).
    pub(crate) fn needs_rebuild(&self) -> bool {
        let c = self.counts();
        c.tombstones >= MIN_TOMBSTONES_FOR_REBUILD
            && c.tombstones * TOMBSTONE_RATIO_DENOMINATOR >= c.internal
    }

    pub(crate) fn contains(&self, id: &MemoryId) -> bool {
        read(&self.table).by_id.contains_key(id)
    }

    /// How many of `ids` are not live here.
    pub(crate) fn count_new(&self, ids: impl Iterator<Item = MemoryId>) -> usize {
        let t = read(&self.table);
        ids.filter(|id| !t.by_id.contains_key(id)).count()
    }

    /// Inserts or replaces entries (ids unique within the batch). The caller serialises
    /// writers; searches run concurrently and see each entry once it is fully linked.
    pub(crate) fn insert(&self, entries: Vec<Prepared>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let d = self.params.dimension;
        // 1. Reserve internal ids. Pending slots are invisible to searches.
        let first = {
            let mut t = write(&self.table);
            let first = t.slots.len();
            for e in &entries {
                t.ids.push(e.id);
                t.slots.push(Slot::Pending);
                t.vectors.extend_from_slice(&e.vector[..d]);
                t.pending += 1;
            }
            first
        };
        // 2. Link them into the graph without holding the table lock, so searches go on.
        let linked = guarded("inserting into the graph", || {
            if entries.len() >= PARALLEL_INSERT_MIN {
                let data: Vec<(&[f32], usize)> = entries
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (e.vector.as_slice(), first + i))
                    .collect();
                self.graph.parallel_insert_slice(&data);
            } else {
                for (i, e) in entries.iter().enumerate() {
                    self.graph.insert_slice((&e.vector, first + i));
                }
            }
        });
        // 3. Publish: the new ids become live, the ids they replace become tombstones.
        let mut t = write(&self.table);
        if let Err(e) = linked {
            for i in 0..entries.len() {
                t.kill(first + i);
            }
            return Err(e);
        }
        for (i, e) in entries.into_iter().enumerate() {
            let iid = first + i;
            if let Some(old) = t.by_id.insert(e.id, iid) {
                t.kill(old);
            }
            if e.meta.expires_at.is_some() {
                t.expiring += 1;
            }
            t.slots[iid] = Slot::Live(e.meta);
            t.pending -= 1;
        }
        Ok(())
    }

    /// Tombstones the entries; returns how many were live.
    pub(crate) fn delete(&self, ids: &[MemoryId]) -> usize {
        let mut t = write(&self.table);
        let mut n = 0;
        for id in ids {
            if let Some(iid) = t.by_id.remove(id) {
                t.kill(iid);
                n += 1;
            }
        }
        n
    }

    /// Copies of the live entries, for a rebuild.
    pub(crate) fn live_entries(&self) -> Vec<Prepared> {
        let t = read(&self.table);
        let d = self.params.dimension;
        t.slots
            .iter()
            .enumerate()
            .filter_map(|(iid, s)| match s {
                Slot::Live(m) => Some(Prepared {
                    id: t.ids[iid],
                    vector: t.vectors[iid * d..(iid + 1) * d].to_vec(),
                    meta: Arc::clone(m),
                }),
                _ => None,
            })
            .collect()
    }

    /// The `k` nearest live entries passing the filter, as (internal id, similarity),
    /// best first. `q` is a unit vector of the right dimension.
    ///
    /// The plan (documented with its measurements in the crate docs): with `p` the
    /// share of live entries passing the filter (1 when nothing can fail it, else
    /// estimated on a sample),
    /// 1. exact search when `p² · live <= exact_threshold`;
    /// 2. otherwise a walk of the frozen layout, the filter (tombstones included)
    ///    applied to every point that could enter the results (nothing checked when
    ///    nothing can fail and there are no tombstones), `ef` grown by `1/sqrt(p)` (at
    ///    most 4x), plus an exact scan of the delta (points past the layout);
    /// 3. if that found fewer than `k`, exact search, which finds every entry that
    ///    passes: a search returns `k` hits whenever `k` entries pass.
    pub(crate) fn search(
        &self,
        q: &[f32],
        k: usize,
        plan: &FilterPlan<'_>,
        ef_search: usize,
    ) -> Vec<VectorHit> {
        let t = read(&self.table);
        self.search_locked(&t, q, k, plan, ef_search)
            .into_iter()
            .filter_map(|s| {
                t.ids.get(s.key).map(|id| VectorHit {
                    id: *id,
                    similarity: s.sim,
                })
            })
            .collect()
    }

    /// [`Engine::search`] by internal id.
    pub(crate) fn search_internal(
        &self,
        q: &[f32],
        k: usize,
        plan: &FilterPlan<'_>,
        ef_search: usize,
    ) -> Vec<Scored<usize>> {
        let t = read(&self.table);
        self.search_locked(&t, q, k, plan, ef_search)
    }

    fn search_locked(
        &self,
        t: &Table,
        q: &[f32],
        k: usize,
        plan: &FilterPlan<'_>,
        ef_search: usize,
    ) -> Vec<Scored<usize>> {
        let live = t.by_id.len();
        let k = k.min(live);
        if k == 0 {
            return Vec::new();
        }
        let threshold = self.params.exact_threshold as f64;
        let internal = t.slots.len();
        let ef = ef_search.max(k);
        let accepts_all = plan.accepts_all(t.expiring > 0);
        let p = if accepts_all {
            1.0
        } else {
            Self::selectivity(t, plan)
        };
        if p * p * live as f64 <= threshold {
            return self.exact(t, q, k, plan);
        }
        // Nothing to check per point when nothing can fail the filter and every id is
        // live; otherwise tombstones and the filter are checked inside the walk.
        let check = !(accepts_all && t.tombstones == 0 && t.pending == 0);
        let growth = (1.0 / p.max(1e-9)).sqrt().clamp(1.0, MAX_EF_GROWTH);
        let ef = ((ef as f64 * growth).ceil() as usize).clamp(k, internal.max(k));
        let pass = |iid: usize| {
            !check || matches!(t.slots.get(iid), Some(Slot::Live(m)) if plan.passes(m))
        };
        let frozen = Arc::clone(&read(&self.frozen));
        let d = self.params.dimension;
        let found = frozen.search(&t.vectors, d, q, ef, &pass, check);
        let mut top = TopK::new(k);
        for (dist, iid) in found {
            top.push(Scored {
                sim: (1.0 - dist).clamp(-1.0, 1.0),
                key: iid,
            });
        }
        // The delta: points linked after the layout was frozen, scanned exactly.
        for iid in frozen.len()..internal {
            if let Some(Slot::Live(m)) = t.slots.get(iid)
                && plan.passes(m)
            {
                top.push(Scored {
                    sim: similarity(q, &t.vectors[iid * d..(iid + 1) * d]),
                    key: iid,
                });
            }
        }
        let hits = top.into_sorted();
        if hits.len() >= k {
            return hits;
        }
        self.exact(t, q, k, plan)
    }

    /// The share of live entries passing the filter, estimated on an evenly spaced
    /// sample of at most [`SELECTIVITY_SAMPLE`] internal ids.
    fn selectivity(t: &Table, plan: &FilterPlan<'_>) -> f64 {
        let step = (t.slots.len() / SELECTIVITY_SAMPLE).max(1);
        let (mut seen, mut passed) = (0usize, 0usize);
        for slot in t.slots.iter().step_by(step) {
            if let Slot::Live(m) = slot {
                seen += 1;
                passed += usize::from(plan.passes(m));
            }
        }
        if seen == 0 {
            1.0
        } else {
            passed as f64 / seen as f64
        }
    }

    /// Brute force over the live entries that pass the filter.
    fn exact(&self, t: &Table, q: &[f32], k: usize, plan: &FilterPlan<'_>) -> Vec<Scored<usize>> {
        let d = self.params.dimension;
        let mut top = TopK::new(k);
        for (iid, slot) in t.slots.iter().enumerate() {
            if let Slot::Live(m) = slot
                && plan.passes(m)
            {
                top.push(Scored {
                    sim: similarity(q, &t.vectors[iid * d..(iid + 1) * d]),
                    key: iid,
                });
            }
        }
        top.into_sorted()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::normalized;
    use memory_core::{MemoryFilter, Timestamp};
    use proptest::prelude::*;

    /// Clustered vectors (a few centres plus noise), deterministic per seed.
    fn clustered(n: usize, d: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut s = seed | 1;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
        };
        let centres: Vec<Vec<f32>> = (0..8).map(|_| (0..d).map(|_| next()).collect()).collect();
        (0..n)
            .map(|i| {
                let c = &centres[i % centres.len()];
                c.iter().map(|x| x + 0.5 * next()).collect()
            })
            .collect()
    }

    fn prepared(i: usize, v: &[f32]) -> Prepared {
        let id = MemoryId::from_bytes((i as u128).to_be_bytes());
        Prepared {
            id,
            vector: normalized(v, v.len(), Some(id)).unwrap(),
            meta: Arc::new(EntryMeta::bare()),
        }
    }

    fn all() -> MemoryFilter {
        MemoryFilter {
            include_expired: true,
            ..MemoryFilter::default()
        }
    }

    fn params(d: usize) -> HnswParams {
        HnswParams::new(d)
            .with_m(8)
            .with_ef_construction(64)
            .with_exact_threshold(0)
    }

    #[test]
    fn the_frozen_layout_copies_the_graph() {
        let vs = clustered(600, 16, 7);
        let entries = vs.iter().enumerate().map(|(i, v)| prepared(i, v)).collect();
        let engine = Engine::build(params(16), entries).unwrap();
        assert_eq!(engine.frozen_len(), 600);
        let frozen = Arc::clone(&read(&engine.frozen));
        let points = engine.graph.get_point_indexation();
        let mut seen = 0;
        for layer in 0..=usize::from(points.get_max_level_observed()) {
            for p in points.get_layer_iterator(layer) {
                let iid = p.get_origin_id();
                let links = p.get_neighborhood_id();
                let want: Vec<u32> = links[0].iter().map(|n| n.get_origin_id() as u32).collect();
                assert_eq!(frozen.base_links(iid), want.as_slice(), "point {iid}");
                for (l, upper) in links.iter().enumerate().skip(1).take(layer) {
                    let want: Vec<u32> = upper.iter().map(|n| n.get_origin_id() as u32).collect();
                    assert_eq!(frozen.upper_links(l, iid), Some(want.as_slice()));
                }
                seen += 1;
            }
        }
        assert_eq!(seen, 600);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        /// Points inserted after the freeze (the delta) are found by the exact scan,
        /// tombstones never come back, and the frozen layout plus the delta agree with
        /// exact search; freezing again covers everything and still agrees.
        #[test]
        fn frozen_layout_plus_delta_agrees_with_exact(
            n0 in 300usize..700,
            n1 in 1usize..200,
            seed in any::<u64>(),
            dead_every in 3usize..11,
        ) {
            let d = 12;
            let vs = clustered(n0 + n1, d, seed);
            let first: Vec<Prepared> = (0..n0).map(|i| prepared(i, &vs[i])).collect();
            let engine = Engine::build(params(d), first).unwrap();
            for (i, v) in vs.iter().enumerate().skip(n0) {
                // One at a time, as single upserts arrive; no freeze in between.
                engine.insert(vec![prepared(i, v)]).unwrap();
            }
            prop_assert_eq!(engine.frozen_len(), n0);
            let dead: Vec<MemoryId> = (0..n0 + n1)
                .step_by(dead_every)
                .map(|i| prepared(i, &vs[i]).id)
                .collect();
            engine.delete(&dead);
            let filter = all();
            let plan = FilterPlan::new(&filter, Timestamp::from_millis(0));
            let check = |engine: &Engine, phase: &str| -> std::result::Result<(), TestCaseError> {
                let t = read(&engine.table);
                let (mut agree, mut total) = (0usize, 0usize);
                let (mut graph_self, mut graph_queries) = (0usize, 0usize);
                for i in (0..n0 + n1).step_by(7) {
                    let q = normalized(&vs[i], d, None).unwrap();
                    let got = engine.search_internal(&q, 10, &plan, 48);
                    let want = engine.exact(&t, &q, 10, &plan);
                    prop_assert_eq!(got.len(), want.len());
                    for g in &got {
                        prop_assert!(matches!(t.slots[g.key], Slot::Live(_)), "tombstone {} returned", g.key);
                    }
                    if i % dead_every != 0 {
                        // A live delta point is its own nearest neighbour (the delta is
                        // scanned exactly); a graph point nearly always is. HNSW may leave a
                        // point without in-links that survive pruning, so the graph's share
                        // is measured, not demanded point by point.
                        if i >= engine.frozen_len() {
                            prop_assert_eq!(got[0].key, i, "{}: delta point {} not found first", phase, i);
                        } else {
                            graph_queries += 1;
                            graph_self += usize::from(got[0].key == i);
                        }
                    }
                    let want: std::collections::HashSet<usize> = want.iter().map(|s| s.key).collect();
                    agree += got.iter().filter(|s| want.contains(&s.key)).count();
                    total += want.len();
                }
                prop_assert!(agree as f64 >= 0.95 * total as f64, "{phase}: recall {agree}/{total}");
                prop_assert!(
                    graph_self as f64 >= 0.95 * graph_queries as f64,
                    "{phase}: {graph_self} of {graph_queries} graph points found themselves first"
                );
                Ok(())
            };
            check(&engine, "before the freeze")?;
            engine.freeze().unwrap();
            prop_assert_eq!(engine.frozen_len(), n0 + n1);
            check(&engine, "after the freeze")?;
        }
    }
}
