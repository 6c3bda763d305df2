//! The frozen search layout: hnsw_rs's graph copied into flat arrays and searched by
//! our own code.
//!
//! hnsw_rs builds, links and persists the graph, but its search walks `Arc`s of points
//! whose neighbour lists sit behind a `RwLock` each, keeps the visited set in a
//! `HashSet`, and (with a filter) never stops early; measured on 67k × 384 sentence
//! embeddings it reached about 0.4× hnswlib's queries per second at equal recall. The
//! layout here is what hnswlib searches: the base layer's neighbour lists as one
//! contiguous `u32` array with a fixed stride (count first), the few upper-layer lists
//! in a map, the vectors read from the engine's own contiguous table, an epoch-stamped
//! visited array reused per thread, and heaps of packed `u64` keys. The whole search runs
//! inside one SIMD dispatch so the dot product inlines into it.
//!
//! A frozen layout covers the internal ids below [`Frozen::len`]; points linked into the
//! graph later (the *delta*) are searched exactly by the engine until the layout is
//! frozen again (in the background, past [`Frozen::refreeze_after`] of them).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use pulp::{Simd, WithSimd};

use crate::distance::{dispatch, dot_with};
use crate::engine::Graph;

/// The least delta that triggers a new freeze.
const MIN_REFREEZE: usize = 256;

/// The HNSW graph as flat arrays, over internal ids `0..len`.
#[derive(Debug, Default)]
pub(crate) struct Frozen {
    /// Internal ids below this are in the layout (some may have no links: ids that
    /// never made it into the graph, which are tombstones).
    len: usize,
    /// `1 + ` the most links a point has on the base layer.
    stride: usize,
    /// Base-layer links, `stride` words per internal id: the count, then the ids.
    base: Vec<u32>,
    /// Links on layers `1..`: `upper[l - 1]` maps a point of layer `l` to its links there.
    upper: Vec<HashMap<u32, Box<[u32]>>>,
    /// Where a search starts: a point of the top layer.
    entry: Option<u32>,
}

/// Distance and id packed so that integer order is distance order, then id order:
/// distances are in `[0, 2]`, and the bits of non-negative floats order like the floats.
#[inline(always)]
fn pack(dist: f32, id: u32) -> u64 {
    (u64::from(dist.to_bits()) << 32) | u64::from(id)
}

#[inline(always)]
fn unpack(key: u64) -> (f32, u32) {
    (f32::from_bits((key >> 32) as u32), key as u32)
}

impl Frozen {
    /// Copies the links of every point of `graph` whose internal id is below `bound`,
    /// dropping links to ids at or past it (points still being linked when this runs,
    /// which the delta covers). `m` is the graph's link parameter: the base layer holds
    /// up to `2m` links per point.
    ///
    /// Runs concurrently with inserts: hnsw_rs guards each neighbour list with a lock,
    /// and points below `bound` were fully linked before it was read.
    pub(crate) fn from_graph(graph: &Graph, bound: usize, m: usize) -> Frozen {
        let bound = bound.min(u32::MAX as usize);
        let stride = 2 * m + 1;
        let mut base = vec![0u32; bound * stride];
        let points = graph.get_point_indexation();
        let top = usize::from(points.get_max_level_observed());
        let mut upper: Vec<HashMap<u32, Box<[u32]>>> = vec![HashMap::new(); top];
        let mut entry: Option<(usize, u32)> = None;
        // `points_by_layer[l]` holds the points whose highest layer is `l`.
        for layer in 0..=top {
            for point in points.get_layer_iterator(layer) {
                let iid = point.get_origin_id();
                if iid >= bound {
                    continue;
                }
                let Ok(id) = u32::try_from(iid) else { continue };
                if entry.is_none_or(|(l, _)| layer > l) {
                    entry = Some((layer, id));
                }
                for (l, links) in point
                    .get_neighborhood_id()
                    .into_iter()
                    .enumerate()
                    .take(layer + 1)
                {
                    // Links are sorted nearest first, so a cut keeps the nearest.
                    let ids = links
                        .iter()
                        .map(|n| n.get_origin_id())
                        .filter(|&j| j < bound && j != iid)
                        .filter_map(|j| u32::try_from(j).ok());
                    if l == 0 {
                        let row = &mut base[iid * stride..(iid + 1) * stride];
                        let mut count = 0;
                        for (slot, j) in row[1..].iter_mut().zip(ids) {
                            *slot = j;
                            count += 1;
                        }
                        row[0] = count;
                    } else if let Some(map) = upper.get_mut(l - 1) {
                        map.insert(id, ids.collect());
                    }
                }
            }
        }
        Frozen {
            len: bound,
            stride,
            base,
            upper,
            entry: entry.map(|(_, id)| id),
        }
    }

    /// The base-layer links of `iid`.
    #[cfg(test)]
    pub(crate) fn base_links(&self, iid: usize) -> &[u32] {
        let row = &self.base[iid * self.stride..(iid + 1) * self.stride];
        &row[1..1 + row[0] as usize]
    }

    /// The links of `iid` on upper layer `layer`.
    #[cfg(test)]
    pub(crate) fn upper_links(&self, layer: usize, iid: usize) -> Option<&[u32]> {
        self.upper
            .get(layer - 1)?
            .get(&(iid as u32))
            .map(|l| &l[..])
    }

    /// Internal ids below this are in the layout.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// How many points past the layout make it worth freezing again: the delta is
    /// scanned exactly by every search, so it is kept to about `4·√len` (a few per cent
    /// of a search's distance computations), and at least [`MIN_REFREEZE`] so that small
    /// indexes are not frozen after every write.
    pub(crate) fn refreeze_after(&self) -> usize {
        ((4.0 * (self.len as f64).sqrt()) as usize).max(MIN_REFREEZE)
    }

    /// The `ef` nearest points passing `pass` (by internal id), as (distance, id) sorted
    /// nearest first; `filtered` says whether `pass` can reject anything. `vectors`
    /// holds the unit vectors of every internal id, `dimension` floats each, and `q` is
    /// a unit vector of that dimension.
    ///
    /// hnswlib's search: greedy descent through the upper layers, then a best-first
    /// search of the base layer with `ef` results. Points that fail `pass` are walked
    /// through (they keep the graph connected) but never enter the results; with a
    /// filter the search goes on until it holds `ef` passing points or runs out of
    /// candidates, so it finds `k ≤ ef` whenever the reachable graph holds them.
    pub(crate) fn search(
        &self,
        vectors: &[f32],
        dimension: usize,
        q: &[f32],
        ef: usize,
        pass: &dyn Fn(usize) -> bool,
        filtered: bool,
    ) -> Vec<(f32, usize)> {
        if self.entry.is_none() || ef == 0 || dimension == 0 {
            return Vec::new();
        }
        VISITED.with(|cell| match cell.try_borrow_mut() {
            Ok(mut visited) => {
                self.search_with(vectors, dimension, q, ef, pass, filtered, &mut visited)
            }
            // Only reachable if a search re-entered itself on this thread; a fresh
            // array is correct, just slower.
            Err(_) => self.search_with(
                vectors,
                dimension,
                q,
                ef,
                pass,
                filtered,
                &mut Visited::default(),
            ),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn search_with(
        &self,
        vectors: &[f32],
        dimension: usize,
        q: &[f32],
        ef: usize,
        pass: &dyn Fn(usize) -> bool,
        filtered: bool,
        visited: &mut Visited,
    ) -> Vec<(f32, usize)> {
        visited.reset(self.len);
        dispatch(Search {
            frozen: self,
            vectors,
            dimension,
            q,
            ef,
            pass,
            filtered,
            visited,
        })
    }
}

/// Visited marks by internal id: a point is visited when its mark equals the current
/// epoch, so starting a search costs one increment, not clearing the array.
#[derive(Debug, Default)]
struct Visited {
    marks: Vec<u16>,
    epoch: u16,
}

impl Visited {
    fn reset(&mut self, len: usize) {
        if self.marks.len() < len {
            self.marks.resize(len, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            // Wrapped: old marks could equal new epochs.
            self.marks.fill(0);
            self.epoch = 1;
        }
    }

    /// Marks `id`; returns whether it was already marked.
    #[inline(always)]
    fn check_and_mark(&mut self, id: usize) -> bool {
        match self.marks.get_mut(id) {
            Some(m) if *m == self.epoch => true,
            Some(m) => {
                *m = self.epoch;
                false
            }
            // Outside the layout: never walked.
            None => true,
        }
    }
}

thread_local! {
    /// One visited array per thread, reused by every search on it (whatever the
    /// engine: epochs keep them apart).
    static VISITED: RefCell<Visited> = RefCell::new(Visited::default());
}

struct Search<'a> {
    frozen: &'a Frozen,
    vectors: &'a [f32],
    dimension: usize,
    q: &'a [f32],
    ef: usize,
    pass: &'a dyn Fn(usize) -> bool,
    filtered: bool,
    visited: &'a mut Visited,
}

impl WithSimd for Search<'_> {
    type Output = Vec<(f32, usize)>;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Self::Output {
        let Search {
            frozen,
            vectors,
            dimension: d,
            q,
            ef,
            pass,
            filtered,
            visited,
        } = self;
        // A function, not a closure: closures do not reliably inherit the target
        // features of the dispatch, and the SIMD intrinsics then stop inlining.
        let dist = |id: u32| distance(simd, vectors, d, q, id);
        let Some(mut cur) = frozen.entry else {
            return Vec::new();
        };
        let mut cur_d = dist(cur);
        // Greedy descent: on each upper layer move to a nearer neighbour while one exists.
        for layer in frozen.upper.iter().rev() {
            loop {
                let mut moved = false;
                if let Some(links) = layer.get(&cur) {
                    for &nb in links.iter() {
                        let nd = dist(nb);
                        if nd < cur_d {
                            cur_d = nd;
                            cur = nb;
                            moved = true;
                        }
                    }
                }
                if !moved {
                    break;
                }
            }
        }
        // Best-first search of the base layer.
        let stride = frozen.stride;
        let mut candidates: BinaryHeap<Reverse<u64>> = BinaryHeap::with_capacity(ef * 4);
        let mut results: BinaryHeap<u64> = BinaryHeap::with_capacity(ef + 1);
        visited.check_and_mark(cur as usize);
        candidates.push(Reverse(pack(cur_d, cur)));
        let mut bound = f32::MAX;
        if pass(cur as usize) {
            results.push(pack(cur_d, cur));
            bound = cur_d;
        }
        while let Some(Reverse(key)) = candidates.pop() {
            let (cd, c) = unpack(key);
            if cd > bound && (results.len() >= ef || !filtered) {
                break;
            }
            let i = c as usize;
            let Some(row) = frozen.base.get(i * stride..(i + 1) * stride) else {
                continue;
            };
            let count = (row[0] as usize).min(stride - 1);
            for &nb in &row[1..1 + count] {
                if visited.check_and_mark(nb as usize) {
                    continue;
                }
                let nd = dist(nb);
                if results.len() < ef || nd < bound {
                    candidates.push(Reverse(pack(nd, nb)));
                    if pass(nb as usize) {
                        results.push(pack(nd, nb));
                        if results.len() > ef {
                            results.pop();
                        }
                        if let Some(&worst) = results.peek() {
                            bound = unpack(worst).0;
                        }
                    }
                }
            }
        }
        let mut out: Vec<(f32, usize)> = results
            .into_vec()
            .into_iter()
            .map(|k| {
                let (d, id) = unpack(k);
                (d, id as usize)
            })
            .collect();
        out.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        out
    }
}

/// `1 − dot(q, vectors[id])`, at least 0 (and so never NaN: the packed keys need
/// non-negative floats); `f32::MAX` for an id without a vector.
#[inline(always)]
fn distance<S: Simd>(simd: S, vectors: &[f32], d: usize, q: &[f32], id: u32) -> f32 {
    let i = id as usize;
    match vectors.get(i * d..(i + 1) * d) {
        Some(v) => {
            let x = 1.0 - dot_with(simd, q, v);
            if x >= 0.0 { x } else { 0.0 }
        }
        None => f32::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visited_marks_reset_per_search_and_survive_the_epoch_wrap() {
        let mut v = Visited::default();
        v.reset(4);
        assert!(!v.check_and_mark(1));
        assert!(v.check_and_mark(1));
        assert!(
            v.check_and_mark(9),
            "ids outside the layout count as visited"
        );
        for _ in 0..70_000 {
            v.reset(4);
            assert!(!v.check_and_mark(2));
        }
        v.reset(4);
        assert!(!v.check_and_mark(1));
        assert!(!v.check_and_mark(2));
    }

    #[test]
    fn keys_order_like_distances_then_ids() {
        let mut keys = [
            pack(0.5, 1),
            pack(0.25, 9),
            pack(0.5, 0),
            pack(2.0, 0),
            pack(0.0, 3),
        ];
        keys.sort_unstable();
        let order: Vec<(f32, u32)> = keys.iter().map(|k| unpack(*k)).collect();
        assert_eq!(
            order,
            vec![(0.0, 3), (0.25, 9), (0.5, 0), (0.5, 1), (2.0, 0)]
        );
    }

    #[test]
    fn an_empty_layout_finds_nothing() {
        let f = Frozen::default();
        assert!(f.search(&[], 4, &[0.0; 4], 10, &|_| true, false).is_empty());
        assert_eq!(f.refreeze_after(), MIN_REFREEZE);
    }
}
