//! Fused, in-place CPU kernels for the encoder's element-wise work, as candle custom ops.
//!
//! candle runs `x + bias`, GELU, `+ residual`, layer norm and the attention mask and
//! softmax as separate passes, each allocating its output, and computes `erf` and `exp`
//! one scalar libm call at a time; on this model that was about half the time of a
//! forward pass. These kernels do each group in one pass over memory, in place, with
//! branch-free `erf` and `exp` that the compiler vectorises: every kernel runs inside
//! [`pulp::Arch::dispatch`], which selects AVX2 or AVX-512 at run time, and large tensors
//! are split over rayon (candle's thread pool when called inside
//! [`candle_core::Device::with_context`]).

use candle_core::{CpuStorage, InplaceOp1, InplaceOp2, Layout, Result, Tensor, bail};
use rayon::prelude::*;

/// Tensors of at least this many elements are split over threads.
const PAR_MIN_ELEMS: usize = 1 << 14;

fn data_mut<'a>(s: &'a mut CpuStorage, l: &Layout, name: &str) -> Result<&'a mut [f32]> {
    let CpuStorage::F32(v) = s else {
        bail!("{name}: f32 tensors only")
    };
    let Some((a, b)) = l.contiguous_offsets() else {
        bail!("{name}: the tensor must be contiguous")
    };
    match v.get_mut(a..b) {
        Some(d) => Ok(d),
        None => bail!("{name}: layout out of the storage's bounds"),
    }
}

fn data<'a>(s: &'a CpuStorage, l: &Layout, name: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        bail!("{name}: f32 tensors only")
    };
    let Some((a, b)) = l.contiguous_offsets() else {
        bail!("{name}: the tensor must be contiguous")
    };
    match v.get(a..b) {
        Some(d) => Ok(d),
        None => bail!("{name}: layout out of the storage's bounds"),
    }
}

/// A kernel over whole rows of a contiguous tensor. Implementations mark `run`
/// `#[inline(always)]` so that it is compiled inside pulp's target-feature functions.
trait RowKernel: Sync {
    /// Processes `rows` (whole rows), the first of which is row `first_row` of the tensor.
    fn run(&self, first_row: usize, rows: &mut [f32]);
}

/// Runs a kernel under pulp's best SIMD level for this CPU.
struct Dispatch<'a, K> {
    kernel: &'a K,
    first_row: usize,
    rows: &'a mut [f32],
}

impl<K: RowKernel> pulp::WithSimd for Dispatch<'_, K> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        self.kernel.run(self.first_row, self.rows);
    }
}

/// Runs `kernel` over `data` (rows of `row_len`), in parallel chunks of whole rows when
/// the data is large, each chunk under the best SIMD level of this CPU.
fn for_rows<K: RowKernel>(data: &mut [f32], row_len: usize, kernel: &K) {
    let row_len = row_len.max(1);
    let rows_per_chunk = PAR_MIN_ELEMS.div_ceil(row_len).max(1);
    let chunk = rows_per_chunk * row_len;
    let arch = pulp::Arch::new();
    if data.len() <= chunk {
        arch.dispatch(Dispatch {
            kernel,
            first_row: 0,
            rows: data,
        });
    } else {
        data.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, rows)| {
                arch.dispatch(Dispatch {
                    kernel,
                    first_row: i * rows_per_chunk,
                    rows,
                })
            });
    }
}

/// `erf(x)` to within about 1e-6: the rational approximation of Eigen and XLA, exact to
/// single precision outside `[-4, 4]` where it is ±1. Branch-free, so it vectorises.
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2.mul_add(-2.726_142_3e-10, 2.770_681_4e-8);
    p = x2.mul_add(p, -2.101_024e-6);
    p = x2.mul_add(p, -5.692_506_4e-5);
    p = x2.mul_add(p, -7.349_906_3e-4);
    p = x2.mul_add(p, -2.9546e-3);
    p = x2.mul_add(p, -1.609_603_3e-2);
    let p = x * p;
    let mut q = x2.mul_add(-1.456_607_2e-5, -2.133_740_6e-4);
    q = x2.mul_add(q, -1.682_827e-3);
    q = x2.mul_add(q, -7.373_329e-3);
    q = x2.mul_add(q, -1.426_474e-2);
    p / q
}

/// `exp(x)` for `x <= 0` (softmax inputs) to about 2 ulp: Cephes' `expf` polynomial on
/// the reduced argument, scaled by a power of two built from its bits. Inputs below -87
/// give about 1e-38 instead of a subnormal.
#[inline(always)]
pub(crate) fn exp_neg(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 0.0);
    let n = x.mul_add(LOG2E, 0.5).floor();
    let r = n.mul_add(-LN2_LO, n.mul_add(-LN2_HI, x));
    let mut p = r.mul_add(1.987_569_1e-4, 1.398_199_9e-3);
    p = r.mul_add(p, 8.333_452e-3);
    p = r.mul_add(p, 4.166_579_6e-2);
    p = r.mul_add(p, 1.666_666_5e-1);
    p = r.mul_add(p, 0.5);
    let y = (p * r).mul_add(r, r + 1.0);
    // n is within [-126, 0], so the exponent field stays normal.
    let bits = ((n as i32 + 127) as u32) << 23;
    y * f32::from_bits(bits)
}

#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

#[inline(always)]
fn silu(v: f32) -> f32 {
    // σ(v) = 1 / (1 + exp(-v)), computed with exp of -|v|.
    let e = exp_neg(-v.abs());
    let s = if v >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    };
    v * s
}

#[inline(always)]
fn gelu_tanh(x: f32) -> f32 {
    // tanh(u) = 1 - 2 / (exp(2u) + 1), with exp of a non-positive argument for stability.
    let u = 0.797_884_6 * x.mul_add(0.044_715 * x * x, x);
    let e = exp_neg(-2.0 * u.abs());
    let t = (1.0 - e) / (1.0 + e);
    0.5 * x * (1.0 + t.copysign(u))
}

/// The activation applied after adding the bias, see [`bias_act`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    /// None: only add the bias.
    Identity,
    /// Exact GELU, `x Φ(x)`.
    Gelu,
    /// GELU's tanh approximation.
    GeluTanh,
    /// `max(x, 0)`.
    Relu,
    /// `x σ(x)`.
    Silu,
}

struct BiasAct<'a> {
    bias: &'a [f32],
    act: Act,
}

impl RowKernel for BiasAct<'_> {
    #[inline(always)]
    fn run(&self, _first_row: usize, rows: &mut [f32]) {
        let bias = self.bias;
        for row in rows.chunks_exact_mut(bias.len()) {
            let pairs = row.iter_mut().zip(bias);
            match self.act {
                Act::Identity => pairs.for_each(|(x, b)| *x += b),
                Act::Gelu => pairs.for_each(|(x, b)| *x = gelu(*x + b)),
                Act::GeluTanh => pairs.for_each(|(x, b)| *x = gelu_tanh(*x + b)),
                Act::Relu => pairs.for_each(|(x, b)| *x = (*x + b).max(0.0)),
                Act::Silu => pairs.for_each(|(x, b)| *x = silu(*x + b)),
            }
        }
    }
}

impl InplaceOp1 for BiasAct<'_> {
    fn name(&self) -> &'static str {
        "bias-act"
    }

    fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout) -> Result<()> {
        let h = self.bias.len();
        if h == 0 || l.dims().last() != Some(&h) {
            bail!(
                "bias-act: shape {:?} does not end in the bias length {h}",
                l.dims()
            );
        }
        let d = data_mut(s, l, self.name())?;
        for_rows(d, h, self);
        Ok(())
    }
}

/// `x[r, j] = act(x[r, j] + bias[j])` in place; `x` is contiguous with rows of
/// `bias.len()`.
pub(crate) fn bias_act(x: &Tensor, bias: &[f32], act: Act) -> Result<()> {
    x.inplace_op1(&BiasAct { bias, act })
}

struct MaskedSoftmax<'a> {
    lengths: &'a [usize],
    heads: usize,
    seq: usize,
}

impl RowKernel for MaskedSoftmax<'_> {
    #[inline(always)]
    fn run(&self, first_row: usize, rows: &mut [f32]) {
        let seq = self.seq;
        let rows_per_batch = self.heads * seq;
        for (i, row) in rows.chunks_exact_mut(seq).enumerate() {
            let len = self.lengths[(first_row + i) / rows_per_batch].clamp(1, seq);
            let (live, pad) = row.split_at_mut(len);
            pad.fill(0.0);
            let max = reduce_max(live);
            live.iter_mut().for_each(|x| *x = exp_neg(*x - max));
            let inv = 1.0 / reduce_sum(live);
            live.iter_mut().for_each(|x| *x *= inv);
        }
    }
}

impl InplaceOp1 for MaskedSoftmax<'_> {
    fn name(&self) -> &'static str {
        "masked-softmax"
    }

    fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout) -> Result<()> {
        let seq = self.seq;
        if seq == 0 || l.dims() != [self.lengths.len(), self.heads, seq, seq] {
            bail!(
                "masked-softmax: shape {:?} does not match the lengths",
                l.dims()
            );
        }
        let d = data_mut(s, l, self.name())?;
        for_rows(d, seq, self);
        Ok(())
    }
}

/// Softmax over the last dimension of attention scores `(batch, heads, seq, seq)` in
/// place, over the first `lengths[b]` keys of batch row `b` only (the rest become 0).
pub(crate) fn masked_softmax(
    scores: &Tensor,
    lengths: &[usize],
    heads: usize,
    seq: usize,
) -> Result<()> {
    scores.inplace_op1(&MaskedSoftmax {
        lengths,
        heads,
        seq,
    })
}

const LANES: usize = 16;

#[inline(always)]
fn reduce_sum(xs: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    acc.iter().sum::<f32>() + tail.iter().sum::<f32>()
}

#[inline(always)]
fn reduce_max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a = a.max(*x);
        }
    }
    acc.iter()
        .chain(tail)
        .fold(f32::NEG_INFINITY, |m, x| m.max(*x))
}

#[derive(Clone, Copy)]
struct AddNorm<'a> {
    bias: &'a [f32],
    gamma: &'a [f32],
    beta: &'a [f32],
    eps: f32,
}

/// [`AddNorm`] with the residual's data.
struct AddNormRows<'a> {
    p: &'a AddNorm<'a>,
    residual: &'a [f32],
}

impl RowKernel for AddNormRows<'_> {
    #[inline(always)]
    fn run(&self, first_row: usize, rows: &mut [f32]) {
        let AddNorm {
            bias,
            gamma,
            beta,
            eps,
        } = *self.p;
        let h = bias.len();
        let inv_h = 1.0 / h as f32;
        let res = self.residual.get(first_row * h..).unwrap_or(&[]);
        for (row, r) in rows.chunks_exact_mut(h).zip(res.chunks_exact(h)) {
            for ((x, b), r) in row.iter_mut().zip(bias).zip(r) {
                *x += b + r;
            }
            let mean = reduce_sum(row) * inv_h;
            row.iter_mut().for_each(|x| *x -= mean);
            let mut acc = [0f32; LANES];
            let chunks = row.chunks_exact(LANES);
            let tail: f32 = chunks.remainder().iter().map(|x| x * x).sum();
            for c in chunks {
                for (a, x) in acc.iter_mut().zip(c) {
                    *a = x.mul_add(*x, *a);
                }
            }
            let var = (acc.iter().sum::<f32>() + tail) * inv_h;
            let inv = 1.0 / (var + eps).sqrt();
            for ((x, g), b) in row.iter_mut().zip(gamma).zip(beta) {
                *x = (*x * inv).mul_add(*g, *b);
            }
        }
    }
}

impl InplaceOp2 for AddNorm<'_> {
    fn name(&self) -> &'static str {
        "bias-residual-layer-norm"
    }

    fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout, rs: &CpuStorage, rl: &Layout) -> Result<()> {
        let h = self.bias.len();
        if h == 0 || l.dims().last() != Some(&h) || l.dims() != rl.dims() {
            bail!("bias-residual-layer-norm: shapes do not match");
        }
        let d = data_mut(s, l, self.name())?;
        let residual = data(rs, rl, self.name())?;
        for_rows(d, h, &AddNormRows { p: self, residual });
        Ok(())
    }
}

/// `x = LayerNorm(x + bias + residual)` in place, row by row (rows of `bias.len()`).
pub(crate) fn add_norm(
    x: &Tensor,
    bias: &[f32],
    residual: &Tensor,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) -> Result<()> {
    if gamma.len() != bias.len() || beta.len() != bias.len() {
        bail!("bias-residual-layer-norm: parameter lengths differ");
    }
    x.inplace_op2(
        residual,
        &AddNorm {
            bias,
            gamma,
            beta,
            eps,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Module};

    /// erf by its Taylor series in f64, accurate to ~1e-10 on [-4, 4].
    fn erf_ref(x: f64) -> f64 {
        let mut term = x;
        let mut sum = x;
        for n in 1..200 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_is_accurate() {
        let mut worst = 0f64;
        for i in -6000..=6000 {
            let x = i as f32 * 1e-3;
            let want = if x.abs() > 4.0 {
                x.signum() as f64
            } else {
                erf_ref(f64::from(x))
            };
            worst = worst.max((f64::from(erf(x)) - want).abs());
        }
        assert!(worst < 2e-6, "max |erf error| {worst}");
    }

    #[test]
    fn exp_is_accurate() {
        let mut worst = 0f64;
        for i in 0..=86_900 {
            let x = -(i as f32) * 1e-3;
            let want = f64::from(x).exp();
            let got = f64::from(exp_neg(x));
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst < 1e-6, "max relative exp error {worst}");
        assert!(exp_neg(-1000.0) >= 0.0 && exp_neg(-1000.0) < 1e-37);
        assert_eq!(exp_neg(0.0), 1.0);
    }

    fn rand_vec(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 8.0
            })
            .collect()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        let a: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
        let b: Vec<f32> = b.flatten_all().unwrap().to_vec1().unwrap();
        a.iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn bias_act_matches_candle() {
        let dev = Device::Cpu;
        // Large enough to take the parallel path.
        let (rows, h) = (100, 384);
        let x = Tensor::from_vec(rand_vec(rows * h, 1), (rows, h), &dev).unwrap();
        let bias_v = rand_vec(h, 2);
        let bias = Tensor::from_vec(bias_v.clone(), h, &dev).unwrap();
        let pre = x.broadcast_add(&bias).unwrap();
        for (act, want) in [
            (Act::Identity, pre.clone()),
            (Act::Gelu, pre.gelu_erf().unwrap()),
            (Act::GeluTanh, pre.gelu().unwrap()),
            (Act::Relu, pre.relu().unwrap()),
            (
                Act::Silu,
                candle_nn::Activation::Silu.forward(&pre).unwrap(),
            ),
        ] {
            let got = x.copy().unwrap();
            bias_act(&got, &bias_v, act).unwrap();
            let d = max_diff(&got, &want);
            assert!(d < 1e-5, "{act:?}: {d}");
        }
    }

    #[test]
    fn masked_softmax_matches_candle() {
        let dev = Device::Cpu;
        let (b, heads, seq) = (3, 4, 40);
        let lengths = [40, 7, 1];
        let x = Tensor::from_vec(
            rand_vec(b * heads * seq * seq, 3),
            (b, heads, seq, seq),
            &dev,
        )
        .unwrap();
        let mut bias = vec![0f32; b * seq];
        for (r, len) in lengths.iter().enumerate() {
            bias[r * seq + len..(r + 1) * seq].fill(f32::NEG_INFINITY);
        }
        let bias = Tensor::from_vec(bias, (b, 1, 1, seq), &dev).unwrap();
        let want = candle_nn::ops::softmax_last_dim(&x.broadcast_add(&bias).unwrap()).unwrap();
        let got = x.copy().unwrap();
        masked_softmax(&got, &lengths, heads, seq).unwrap();
        let d = max_diff(&got, &want);
        assert!(d < 1e-6, "{d}");
    }

    #[test]
    fn add_norm_matches_candle() {
        let dev = Device::Cpu;
        let (rows, h) = (90, 384);
        let x = Tensor::from_vec(rand_vec(rows * h, 4), (rows, h), &dev).unwrap();
        let r = Tensor::from_vec(rand_vec(rows * h, 5), (rows, h), &dev).unwrap();
        let (bias, gamma, beta) = (rand_vec(h, 6), rand_vec(h, 7), rand_vec(h, 8));
        let t = |v: &Vec<f32>| Tensor::from_vec(v.clone(), h, &dev).unwrap();
        let want = candle_nn::ops::layer_norm(
            &(x.broadcast_add(&t(&bias)).unwrap() + &r).unwrap(),
            &t(&gamma),
            &t(&beta),
            1e-12,
        )
        .unwrap();
        let got = x.copy().unwrap();
        add_norm(&got, &bias, &r, &gamma, &beta, 1e-12).unwrap();
        let d = max_diff(&got, &want);
        assert!(d < 1e-4, "{d}");
    }

    #[test]
    fn rejects_mismatched_shapes() {
        let dev = Device::Cpu;
        let x = Tensor::zeros((2, 3), candle_core::DType::F32, &dev).unwrap();
        assert!(bias_act(&x, &[1.0, 2.0], Act::Gelu).is_err());
        assert!(masked_softmax(&x, &[1], 1, 3).is_err());
        // A transposed (non-contiguous) view is refused rather than misread.
        let t = x.t().unwrap();
        assert!(bias_act(&t, &[1.0, 2.0], Act::Identity).is_err());
        let r = Tensor::zeros((3, 2), candle_core::DType::F32, &dev).unwrap();
        assert!(add_norm(&x, &[0.0; 3], &r, &[1.0; 3], &[0.0; 3], 1e-5).is_err());
    }
}
