//! Small shared pieces: poison-tolerant locks and top-k selection.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

// Every critical section in this crate leaves its data consistent before anything that
// could panic, so a poisoned lock (a panic elsewhere while it was held) is safe to reuse.

pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn lock<T>(l: &Mutex<T>) -> MutexGuard<'_, T> {
    l.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A candidate: greater means better (higher similarity, then smaller key).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scored<K> {
    pub(crate) sim: f32,
    pub(crate) key: K,
}

impl<K: Ord> PartialEq for Scored<K> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<K: Ord> Eq for Scored<K> {}
impl<K: Ord> PartialOrd for Scored<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<K: Ord> Ord for Scored<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.sim
            .total_cmp(&other.sim)
            .then_with(|| other.key.cmp(&self.key))
    }
}

/// Keeps the `k` best of what it is offered.
pub(crate) struct TopK<K> {
    k: usize,
    heap: BinaryHeap<Reverse<Scored<K>>>,
}

impl<K: Ord> TopK<K> {
    pub(crate) fn new(k: usize) -> Self {
        TopK {
            k,
            // Bounded: k is clamped by callers to the number of entries.
            heap: BinaryHeap::with_capacity(k.min(4096) + 1),
        }
    }

    /// The similarity a candidate must beat to enter, once full.
    #[inline]
    pub(crate) fn push(&mut self, s: Scored<K>) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(Reverse(s));
        } else if let Some(mut worst) = self.heap.peek_mut()
            && s > worst.0
        {
            *worst = Reverse(s);
        }
    }

    /// Best first.
    pub(crate) fn into_sorted(self) -> Vec<Scored<K>> {
        // into_sorted_vec is ascending in Reverse order, i.e. best first.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| r.0)
            .collect()
    }
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topk_keeps_best_in_order() {
        let mut t = TopK::new(3);
        for (i, s) in [0.1f32, 0.9, 0.5, 0.7, 0.9, -1.0].into_iter().enumerate() {
            t.push(Scored { sim: s, key: i });
        }
        let got: Vec<(f32, usize)> = t.into_sorted().iter().map(|s| (s.sim, s.key)).collect();
        assert_eq!(got, vec![(0.9, 1), (0.9, 4), (0.7, 3)]);
        assert!(TopK::<usize>::new(0).into_sorted().is_empty());
        assert_eq!(hex(&[0x0f, 0xa0]), "0fa0");
    }
}
