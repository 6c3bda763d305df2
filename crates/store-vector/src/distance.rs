//! The vector kernels: a dot product LLVM vectorises, normalisation, and the cosine
//! distance the HNSW graph is built with.

use std::sync::LazyLock;

use hnsw_rs::prelude::Distance;
use memory_core::validate;
use pulp::{Arch, Simd, WithSimd};

use crate::error::{Result, VectorError};
use memory_core::MemoryId;

/// The CPU's best SIMD level, detected once.
static ARCH: LazyLock<Arch> = LazyLock::new(Arch::new);

/// The dot product of two vectors (over the shorter length). Never panics.
///
/// Dispatched at run time (through [`pulp`], which keeps the `unsafe` of
/// `target_feature` out of this crate) to AVX-512, AVX2 + FMA or the baseline, with four
/// independent accumulators so the loop is not one long dependency chain. On the
/// baseline x86-64 target (SSE2) it is the same code at 4 lanes. The result depends on the
/// SIMD width only through the order of the additions (a few ulps).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    ARCH.dispatch(Dot(a, b))
}

struct Dot<'a>(&'a [f32], &'a [f32]);

impl WithSimd for Dot<'_> {
    type Output = f32;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> f32 {
        dot_with(simd, self.0, self.1)
    }
}

/// [`dot`] at a SIMD level already chosen, for kernels that dispatch once around a
/// whole loop (the frozen graph search) so that the product inlines into it instead of
/// costing a dispatched call per vector.
#[inline(always)]
pub(crate) fn dot_with<S: Simd>(simd: S, a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, a_tail) = S::as_simd_f32s(&a[..n]);
    let (b, b_tail) = S::as_simd_f32s(&b[..n]);
    let zero = simd.splat_f32s(0.0);
    let (mut c0, mut c1, mut c2, mut c3) = (zero, zero, zero, zero);
    let (a4, a1) = a.as_chunks::<4>();
    let (b4, b1) = b.as_chunks::<4>();
    for (x, y) in a4.iter().zip(b4) {
        c0 = simd.mul_add_f32s(x[0], y[0], c0);
        c1 = simd.mul_add_f32s(x[1], y[1], c1);
        c2 = simd.mul_add_f32s(x[2], y[2], c2);
        c3 = simd.mul_add_f32s(x[3], y[3], c3);
    }
    for (x, y) in a1.iter().zip(b1) {
        c0 = simd.mul_add_f32s(*x, *y, c0);
    }
    let c = simd.add_f32s(simd.add_f32s(c0, c1), simd.add_f32s(c2, c3));
    let mut sum = simd.reduce_sum_f32s(c);
    for (x, y) in a_tail.iter().zip(b_tail) {
        sum += x * y;
    }
    sum
}

/// Runs `op` at the CPU's best SIMD level, for kernels that dispatch once themselves.
#[inline]
pub(crate) fn dispatch<Op: WithSimd>(op: Op) -> Op::Output {
    ARCH.dispatch(op)
}

/// Cosine distance between unit vectors: `1 - dot`, clamped to `[0, 2]`.
///
/// hnsw_rs's own `DistDot` asserts `1 - dot >= 0`, which rounding breaks for
/// normalised real embeddings (a vector against itself can give `dot = 1.0000001`); it
/// then panics inside the search. This one clamps instead and cannot panic or return
/// NaN for finite input. It is public only because hnsw_rs records the distance's type
/// name in its dump files; nothing in this crate's API takes or returns it.
#[derive(Debug, Default, Clone, Copy)]
pub struct CosineDistance;

impl Distance<f32> for CosineDistance {
    #[inline]
    fn eval(&self, va: &[f32], vb: &[f32]) -> f32 {
        let d = 1.0 - dot(va, vb);
        // Not `clamp`: it passes a NaN through, where this turns one (impossible for the
        // finite vectors we store, but hnsw_rs panics on a NaN distance) into 0.
        if d >= 0.0 { d.min(2.0) } else { 0.0 }
    }
}

/// Cosine similarity of two unit vectors, clamped to `[-1, 1]`.
#[inline]
pub(crate) fn similarity(a: &[f32], b: &[f32]) -> f32 {
    dot(a, b).clamp(-1.0, 1.0)
}

/// Checks a vector (dimension, finite, not all zeros) and returns it scaled to unit
/// length. The norm is computed in `f64`, so tiny (subnormal) and huge components
/// normalise without underflow or overflow.
pub(crate) fn normalized(v: &[f32], dimension: usize, id: Option<MemoryId>) -> Result<Vec<f32>> {
    validate::vector(v, dimension).map_err(|source| VectorError::InvalidVector { id, source })?;
    let norm = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    // validate::vector rejected zeros and non-finite values, so 0 < norm < inf.
    Ok(v.iter().map(|x| (f64::from(*x) / norm) as f32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum()
    }

    #[test]
    fn dot_matches_naive_for_every_length() {
        for n in 0..70 {
            let a: Vec<f32> = (0..n).map(|i| ((i * 7 % 13) as f32 - 6.0) / 3.0).collect();
            let b: Vec<f32> = (0..n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 2.0).collect();
            assert!(
                (f64::from(dot(&a, &b)) - naive(&a, &b)).abs() < 1e-3,
                "n = {n}"
            );
        }
        assert_eq!(dot(&[1.0, 2.0, 3.0], &[1.0]), 1.0);
    }

    #[test]
    fn distance_never_negative_or_nan() {
        let v = normalized(&[0.3, 0.4, 0.5, 0.6, 0.7, 0.1, 0.2, 0.9], 8, None).unwrap();
        assert!(CosineDistance.eval(&v, &v) >= 0.0);
        let big = vec![1.0f32; 64];
        assert_eq!(CosineDistance.eval(&big, &big), 0.0);
        let neg: Vec<f32> = big.iter().map(|x| -x).collect();
        assert_eq!(CosineDistance.eval(&big, &neg), 2.0);
        assert_eq!(CosineDistance.eval(&[f32::NAN], &[1.0]), 0.0);
    }

    #[test]
    fn normalisation_handles_extremes() {
        let tiny = normalized(&[1e-45, 0.0, 0.0], 3, None).unwrap();
        assert_eq!(tiny, vec![1.0, 0.0, 0.0]);
        let huge = normalized(&[3e38, 3e38], 2, None).unwrap();
        assert!((dot(&huge, &huge) - 1.0).abs() < 1e-6);
        assert!(normalized(&[0.0, 0.0], 2, None).is_err());
        assert!(normalized(&[f32::INFINITY, 0.0], 2, None).is_err());
        assert!(normalized(&[1.0], 2, None).is_err());
    }
}
