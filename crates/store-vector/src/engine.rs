//! One HNSW graph and the table beside it: internal ids, tombstones, filter fields and
//! the unit vectors for exact search. Everything hnsw_rs-specific lives here and in
//! `snapshot.rs`.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, RwLock};

use hnsw_rs::prelude::Hnsw;
use memory_core::{MemoryId, VectorHit};

use crate::distance::{CosineDistance, similarity};
use crate::error::{Result, VectorError};
use crate::filter::{EntryMeta, FilterPlan};
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
    pub(crate) graph: Graph,
    pub(crate) table: RwLock<Table>,
    pub(crate) params: HnswParams,
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
        })
    }

    /// A graph over `entries` (ids unique), inserted in parallel.
    pub(crate) fn build(params: HnswParams, entries: Vec<Prepared>) -> Result<Engine> {
        let engine = Engine::empty(params, entries.len())?;
        engine.insert(entries)?;
        Ok(engine)
    }

    /// An engine over a graph loaded from a snapshot and its table.
    pub(crate) fn from_parts(graph: Graph, table: Table, params: HnswParams) -> Engine {
        Engine {
            graph,
            table: RwLock::new(table),
            params,
        }
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
    /// 2. a plain HNSW search when nothing can fail the filter and there are no
    ///    tombstones;
    /// 3. otherwise a filtered HNSW search, the filter (tombstones included) applied to
    ///    every candidate inside hnsw_rs, with `ef` grown by `1/sqrt(p)` (at most 4x);
    /// 4. if an HNSW search found fewer than `k`, exact search, which finds every entry
    ///    that passes: a search returns `k` hits whenever `k` entries pass.
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
        if accepts_all && t.tombstones == 0 && t.pending == 0 {
            let found = self.graph.search(q, k, ef.min(internal));
            let hits = Self::hits(t, found, |_| true);
            if hits.len() >= k {
                return hits;
            }
            return self.exact(t, q, k, plan);
        }
        let growth = (1.0 / p.max(1e-9)).sqrt().clamp(1.0, MAX_EF_GROWTH);
        let ef = ((ef as f64 * growth).ceil() as usize).clamp(k, internal.max(k));
        let pass = |iid: &usize| matches!(t.slots.get(*iid), Some(Slot::Live(m)) if plan.passes(m));
        let found = self.graph.search_filter(q, k, ef, Some(&pass));
        let hits = Self::hits(t, found, |m| plan.passes(m));
        if hits.len() >= k {
            return hits;
        }
        self.exact(t, q, k, plan)
    }

    /// Live hits of an HNSW result (the filter re-checked, as a guard), best first.
    fn hits(
        t: &Table,
        found: Vec<hnsw_rs::prelude::Neighbour>,
        pass: impl Fn(&EntryMeta) -> bool,
    ) -> Vec<Scored<usize>> {
        found
            .into_iter()
            .filter_map(|n| {
                let iid = n.get_origin_id();
                match t.slots.get(iid) {
                    Some(Slot::Live(m)) if pass(m) => Some(Scored {
                        sim: (1.0 - n.get_distance()).clamp(-1.0, 1.0),
                        key: iid,
                    }),
                    _ => None,
                }
            })
            .collect()
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
