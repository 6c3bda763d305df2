//! Deterministic grouping by embedding: cosine similarity, average-linkage
//! agglomerative clustering with a similarity threshold, and medoids.

/// Cosine similarity of two vectors; 0 when either is zero or their lengths differ.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na <= 0.0 || nb <= 0.0 || !dot.is_finite() {
        return 0.0;
    }
    (dot / (na.sqrt() * nb.sqrt())).clamp(-1.0, 1.0)
}

/// The pairwise cosine similarities of `vectors`, row-major `n × n`.
pub fn similarity_matrix(vectors: &[Vec<f32>]) -> Vec<Vec<f64>> {
    let n = vectors.len();
    let mut m = vec![vec![0.0; n]; n];
    for i in 0..n {
        m[i][i] = 1.0;
        for j in (i + 1)..n {
            let s = cosine(&vectors[i], &vectors[j]);
            m[i][j] = s;
            m[j][i] = s;
        }
    }
    m
}

/// Average-linkage agglomerative clustering.
///
/// Starts with every item alone and repeatedly merges the two clusters whose *average*
/// pairwise cosine similarity is highest, while it is at least `threshold`. Ties go to
/// the lower item index (the caller orders items by record id, so ties go to the older
/// record). Average linkage rather than single linkage keeps one chain of near neighbours
/// from gluing distinct topics together; rather than complete linkage it tolerates one
/// odd member.
///
/// Returns the clusters, each sorted, ordered by their smallest index. `O(n²)` memory
/// and about `O(n²)` time for well-separated data (each row caches its best partner).
///
/// ```
/// let v = vec![vec![1.0, 0.0], vec![0.9, 0.1], vec![0.0, 1.0]];
/// let sim = distill::cluster::similarity_matrix(&v);
/// assert_eq!(distill::cluster::average_linkage(&sim, 0.6), vec![vec![0, 1], vec![2]]);
/// ```
pub fn average_linkage(sim: &[Vec<f64>], threshold: f64) -> Vec<Vec<usize>> {
    let n = sim.len();
    let mut s: Vec<Vec<f64>> = sim.to_vec();
    let mut members: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    let mut active = vec![true; n];
    let at = |s: &Vec<Vec<f64>>, i: usize, j: usize| -> f64 {
        s.get(i)
            .and_then(|r| r.get(j))
            .copied()
            .filter(|x| x.is_finite())
            .unwrap_or(f64::NEG_INFINITY)
    };
    let best_of = |s: &Vec<Vec<f64>>, active: &[bool], i: usize| -> Option<(usize, f64)> {
        let mut best: Option<(usize, f64)> = None;
        for (j, &live) in active.iter().enumerate() {
            if j == i || !live {
                continue;
            }
            let x = at(s, i, j);
            if best.is_none_or(|(_, b)| x > b) {
                best = Some((j, x));
            }
        }
        best
    };
    let mut best: Vec<Option<(usize, f64)>> = (0..n).map(|i| best_of(&s, &active, i)).collect();
    loop {
        // The best pair over all rows; ties to the lowest row, then lowest partner.
        let mut pick: Option<(usize, usize, f64)> = None;
        for i in 0..n {
            if !active[i] {
                continue;
            }
            if let Some((j, x)) = best[i]
                && pick.is_none_or(|(_, _, b)| x > b)
            {
                pick = Some((i, j, x));
            }
        }
        let Some((a, b, x)) = pick else { break };
        if x < threshold {
            break;
        }
        let (keep, gone) = (a.min(b), a.max(b));
        let (wk, wg) = (members[keep].len() as f64, members[gone].len() as f64);
        for k in 0..n {
            if !active[k] || k == keep || k == gone {
                continue;
            }
            let merged = (wk * at(&s, keep, k) + wg * at(&s, gone, k)) / (wk + wg);
            s[keep][k] = merged;
            s[k][keep] = merged;
        }
        active[gone] = false;
        let moved = std::mem::take(&mut members[gone]);
        members[keep].extend(moved);
        best[gone] = None;
        best[keep] = best_of(&s, &active, keep);
        for k in 0..n {
            if !active[k] || k == keep {
                continue;
            }
            match best[k] {
                Some((j, _)) if j == keep || j == gone => best[k] = best_of(&s, &active, k),
                Some((j, bx)) => {
                    let x = at(&s, k, keep);
                    if x > bx || (x == bx && keep < j) {
                        best[k] = Some((keep, x));
                    }
                }
                None => best[k] = best_of(&s, &active, k),
            }
        }
    }
    let mut out: Vec<Vec<usize>> = members
        .into_iter()
        .zip(active)
        .filter(|(_, a)| *a)
        .map(|(mut m, _)| {
            m.sort_unstable();
            m
        })
        .collect();
    out.sort_by_key(|m| m.first().copied().unwrap_or(usize::MAX));
    out
}

/// The medoid of `group` (indices into `sim`): the member with the greatest total
/// similarity to the others; ties go to the earlier member of `group`.
pub fn medoid(sim: &[Vec<f64>], group: &[usize]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for &i in group {
        let total: f64 = group
            .iter()
            .filter(|&&j| j != i)
            .map(|&j| sim.get(i).and_then(|r| r.get(j)).copied().unwrap_or(0.0))
            .sum();
        if best.is_none_or(|(_, b)| total > b) {
            best = Some((i, total));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_threshold_stays_apart() {
        let v = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![0.0, 0.0]];
        let sim = similarity_matrix(&v);
        assert_eq!(average_linkage(&sim, 0.5), vec![vec![0], vec![1], vec![2]]);
        assert_eq!(average_linkage(&[], 0.5), Vec::<Vec<usize>>::new());
    }

    #[test]
    fn two_topics() {
        let v = vec![
            vec![1.0, 0.0, 0.1],
            vec![0.0, 1.0, 0.1],
            vec![0.95, 0.05, 0.0],
            vec![0.05, 0.95, 0.0],
            vec![0.9, 0.0, 0.2],
        ];
        let sim = similarity_matrix(&v);
        assert_eq!(average_linkage(&sim, 0.6), vec![vec![0, 2, 4], vec![1, 3]]);
        assert_eq!(medoid(&sim, &[0, 2, 4]), Some(0));
        assert_eq!(medoid(&sim, &[]), None);
    }
}
