//! Length-sorted batching: which inputs go through the model together.
//!
//! A transformer batch is padded to its longest sequence, so mixing a 5-token sentence with
//! a 250-token one wastes almost all of the short one's work. Sorting inputs by token
//! length and cutting the sorted list into batches keeps padding to a few tokens; the
//! results are then put back in the caller's order.

/// Limits of one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// At most this many sequences in a batch (at least 1).
    pub max_sequences: usize,
    /// At most this many padded tokens (sequences × longest length) in a batch, unless a
    /// single sequence is longer, in which case it forms a batch alone.
    pub max_tokens: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits {
            max_sequences: 64,
            max_tokens: 8192,
        }
    }
}

/// Splits inputs of the given token `lengths` into batches: each batch is a list of input
/// indices in ascending length order (ties by index), and the batches together hold every
/// index exactly once. Padding is only to the longest sequence of each batch.
pub fn plan_batches(lengths: &[usize], limits: BatchLimits) -> Vec<Vec<usize>> {
    let max_sequences = limits.max_sequences.max(1);
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| (lengths[i], i));
    let mut batches = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        // Sorted ascending, so `lengths[i]` is the longest of `current` plus `i`.
        let padded = (current.len() + 1).saturating_mul(lengths[i]);
        if !current.is_empty() && (current.len() >= max_sequences || padded > limits.max_tokens) {
            batches.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// Puts per-batch results back in input order: `batches` as from [`plan_batches`],
/// `results[b][j]` the result for `batches[b][j]`. `n` is the number of inputs.
///
/// Returns `None` when the shapes disagree or an index is missing or repeated.
pub fn restore_order<T>(n: usize, batches: &[Vec<usize>], results: Vec<Vec<T>>) -> Option<Vec<T>> {
    if batches.len() != results.len() {
        return None;
    }
    let mut slots: Vec<Option<T>> = std::iter::repeat_with(|| None).take(n).collect();
    for (idx, res) in batches.iter().zip(results) {
        if idx.len() != res.len() {
            return None;
        }
        for (&i, r) in idx.iter().zip(res) {
            let slot = slots.get_mut(i)?;
            if slot.is_some() {
                return None;
            }
            *slot = Some(r);
        }
    }
    slots.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_and_cuts() {
        let lengths = [5, 1, 3, 9, 2];
        let b = plan_batches(
            &lengths,
            BatchLimits {
                max_sequences: 2,
                max_tokens: 100,
            },
        );
        assert_eq!(b, vec![vec![1, 4], vec![2, 0], vec![3]]);
        let res: Vec<Vec<usize>> = b
            .iter()
            .map(|idx| idx.iter().map(|&i| lengths[i]).collect())
            .collect();
        assert_eq!(restore_order(5, &b, res), Some(lengths.to_vec()));
    }

    #[test]
    fn token_budget() {
        let b = plan_batches(
            &[10, 10, 10, 50],
            BatchLimits {
                max_sequences: 64,
                max_tokens: 20,
            },
        );
        assert_eq!(b, vec![vec![0, 1], vec![2], vec![3]]);
    }

    #[test]
    fn restore_rejects_bad_shapes() {
        assert_eq!(restore_order(2, &[vec![0, 0]], vec![vec![1, 2]]), None);
        assert_eq!(restore_order(2, &[vec![0]], vec![vec![1]]), None);
        assert_eq!(restore_order(1, &[vec![3]], vec![vec![1]]), None);
        assert_eq!(restore_order::<u8>(0, &[], vec![]), Some(vec![]));
    }
}
