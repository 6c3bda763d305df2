//! The BERT encoder forward pass on candle, written for inference throughput on the CPU.
//!
//! Compared with `candle_transformers::models::bert` it computes the same function but:
//! the query, key and value projections are one fused matrix product; the attention scale
//! `1/sqrt(head_dim)` is folded into the query weights at load time; every linear layer
//! runs on the batch's tokens packed back to back (no padding) with its weight stored
//! transposed and contiguous; bias, activation, mask, softmax, residual and layer norm
//! run as fused in-place kernels ([`super::kernels`]); and there are no dropout or
//! tracing wrappers.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::Deserialize;

use super::kernels::{Act, add_norm, bias_act, masked_softmax};

/// The subset of a Hugging Face BERT `config.json` the encoder needs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct BertConfig {
    pub(crate) vocab_size: usize,
    pub(crate) hidden_size: usize,
    pub(crate) num_hidden_layers: usize,
    pub(crate) num_attention_heads: usize,
    pub(crate) intermediate_size: usize,
    #[serde(default = "default_act")]
    pub(crate) hidden_act: String,
    pub(crate) max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub(crate) type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub(crate) layer_norm_eps: f64,
    #[serde(default)]
    pub(crate) position_embedding_type: Option<String>,
    #[serde(default)]
    pub(crate) model_type: Option<String>,
}

fn default_act() -> String {
    "gelu".to_string()
}
fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}

impl BertConfig {
    /// Checks that this is a BERT this encoder computes exactly.
    pub(crate) fn check(&self) -> Result<Act, String> {
        if let Some(t) = &self.model_type
            && t != "bert"
        {
            return Err(format!(
                "model_type {t:?} is not supported (only BERT encoders are)"
            ));
        }
        if let Some(p) = &self.position_embedding_type
            && p != "absolute"
        {
            return Err(format!("position_embedding_type {p:?} is not supported"));
        }
        if self.num_attention_heads == 0
            || self.hidden_size == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.max_position_embeddings < 2 || self.type_vocab_size == 0 {
            return Err("max_position_embeddings or type_vocab_size is too small".into());
        }
        match self.hidden_act.as_str() {
            // Hugging Face's "gelu" is the exact (erf) GELU.
            "gelu" => Ok(Act::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Act::GeluTanh),
            "relu" => Ok(Act::Relu),
            "silu" | "swish" => Ok(Act::Silu),
            other => Err(format!("hidden_act {other:?} is not supported")),
        }
    }
}

/// A dense layer `x · wᵀ + b` with `wᵀ` stored contiguous; the bias is added by the fused
/// kernel that follows the product.
struct Dense {
    w_t: Tensor,
    b: Vec<f32>,
}

impl Dense {
    fn load(vb: &VarBuilder, out_dim: usize, in_dim: usize) -> candle_core::Result<Self> {
        let w = vb.get((out_dim, in_dim), "weight")?;
        let b = vb.get(out_dim, "bias")?;
        Self::new(&w, b)
    }

    fn new(w: &Tensor, b: Tensor) -> candle_core::Result<Self> {
        Ok(Dense {
            w_t: w.t()?.contiguous()?,
            b: b.to_vec1()?,
        })
    }

    /// `x · wᵀ` without the bias: `(n, in)` → `(n, out)`.
    fn matmul(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.w_t)
    }
}

struct Norm {
    w: Tensor,
    b: Tensor,
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
}

impl Norm {
    fn load(vb: &VarBuilder, dim: usize, eps: f64) -> candle_core::Result<Self> {
        // Old TensorFlow-converted checkpoints name the parameters gamma and beta.
        let (w, b) = if vb.contains_tensor("weight") {
            (vb.get(dim, "weight")?, vb.get(dim, "bias")?)
        } else {
            (vb.get(dim, "gamma")?, vb.get(dim, "beta")?)
        };
        Ok(Norm {
            gamma: w.to_vec1()?,
            beta: b.to_vec1()?,
            w,
            b,
            eps: eps as f32,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.w, &self.b, self.eps)
    }

    /// `x = LayerNorm(x + bias + residual)`, in place.
    fn add_norm(&self, x: &Tensor, bias: &[f32], residual: &Tensor) -> candle_core::Result<()> {
        add_norm(x, bias, residual, &self.gamma, &self.beta, self.eps)
    }
}

struct Layer {
    qkv: Dense,
    attn_out: Dense,
    attn_norm: Norm,
    inter: Dense,
    out: Dense,
    out_norm: Norm,
}

/// A BERT encoder: token ids in, one vector per token out.
pub(crate) struct BertModel {
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    emb_norm: Norm,
    layers: Vec<Layer>,
    heads: usize,
    head_dim: usize,
    hidden: usize,
    act: Act,
    device: Device,
}

impl BertModel {
    /// Loads the weights; `vb` may be rooted at the model or above a `bert.` prefix.
    pub(crate) fn load(vb: VarBuilder, cfg: &BertConfig) -> Result<Self, String> {
        let act = cfg.check()?;
        let vb = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") {
            vb.pp("bert")
        } else {
            vb
        };
        Self::load_inner(&vb, cfg, act).map_err(|e| e.to_string())
    }

    fn load_inner(vb: &VarBuilder, cfg: &BertConfig, act: Act) -> candle_core::Result<Self> {
        let h = cfg.hidden_size;
        let heads = cfg.num_attention_heads;
        let head_dim = h / heads;
        let emb = vb.pp("embeddings");
        let word = emb.get((cfg.vocab_size, h), "word_embeddings.weight")?;
        let position = emb.get(
            (cfg.max_position_embeddings, h),
            "position_embeddings.weight",
        )?;
        let token_type = emb.get((cfg.type_vocab_size, h), "token_type_embeddings.weight")?;
        let emb_norm = Norm::load(&emb.pp("LayerNorm"), h, cfg.layer_norm_eps)?;
        let scale = 1.0 / (head_dim as f64).sqrt();
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{i}"));
            let a = l.pp("attention.self");
            let qw = (a.get((h, h), "query.weight")? * scale)?;
            let qb = (a.get(h, "query.bias")? * scale)?;
            let kw = a.get((h, h), "key.weight")?;
            let kb = a.get(h, "key.bias")?;
            let vw = a.get((h, h), "value.weight")?;
            let vbias = a.get(h, "value.bias")?;
            let qkv = Dense::new(
                &Tensor::cat(&[&qw, &kw, &vw], 0)?,
                Tensor::cat(&[&qb, &kb, &vbias], 0)?,
            )?;
            layers.push(Layer {
                qkv,
                attn_out: Dense::load(&l.pp("attention.output.dense"), h, h)?,
                attn_norm: Norm::load(&l.pp("attention.output.LayerNorm"), h, cfg.layer_norm_eps)?,
                inter: Dense::load(&l.pp("intermediate.dense"), cfg.intermediate_size, h)?,
                out: Dense::load(&l.pp("output.dense"), h, cfg.intermediate_size)?,
                out_norm: Norm::load(&l.pp("output.LayerNorm"), h, cfg.layer_norm_eps)?,
            });
        }
        Ok(BertModel {
            word,
            position,
            token_type,
            emb_norm,
            layers,
            heads,
            head_dim,
            hidden: h,
            act,
            device: vb.device().clone(),
        })
    }

    /// The hidden size (dimension of each token vector).
    pub(crate) fn hidden_size(&self) -> usize {
        self.hidden
    }

    /// Encodes a batch of sequences given back to back ("packed"): `ids` and `type_ids`
    /// hold `lengths[0]` tokens of the first sequence, then `lengths[1]` of the second, and
    /// so on. Returns the last hidden states in the same packed order, `tokens × hidden`
    /// row-major.
    ///
    /// Every linear layer runs on the packed tokens only, so no work is spent on padding
    /// there; attention, which needs a rectangle per sequence, gathers the rows into a
    /// right-padded `(batch, seq, ·)` layout and back, with padded keys masked out.
    pub(crate) fn forward(
        &self,
        ids: Vec<u32>,
        type_ids: Vec<u32>,
        lengths: &[usize],
    ) -> candle_core::Result<Vec<f32>> {
        let b = lengths.len();
        let seq = lengths.iter().copied().max().unwrap_or(0);
        let tokens: usize = lengths.iter().sum();
        let (h, heads, hd) = (self.hidden, self.heads, self.head_dim);
        let dev = &self.device;
        if b == 0 || seq == 0 || ids.len() != tokens || type_ids.len() != tokens {
            candle_core::bail!("forward: ids do not match the lengths");
        }

        // Row maps between the packed and the padded layouts (None when they coincide).
        let (to_padded, to_packed) = if lengths.iter().all(|&l| l == seq) {
            (None, None)
        } else {
            let mut to_padded = Vec::with_capacity(b * seq);
            let mut to_packed = Vec::with_capacity(tokens);
            let mut offset = 0u32;
            for (r, &len) in lengths.iter().enumerate() {
                for t in 0..seq {
                    // Padding rows copy the sequence's first token; they are masked as keys
                    // and their outputs are never read.
                    to_padded.push(offset + if t < len { t as u32 } else { 0 });
                }
                to_packed.extend((0..len).map(|t| (r * seq + t) as u32));
                offset += len as u32;
            }
            (
                Some(Tensor::from_vec(to_padded, b * seq, dev)?),
                Some(Tensor::from_vec(to_packed, tokens, dev)?),
            )
        };

        let positions: Vec<u32> = lengths.iter().flat_map(|&l| 0..l as u32).collect();
        let positions = Tensor::from_vec(positions, tokens, dev)?;
        let ids = Tensor::from_vec(ids, tokens, dev)?;
        let type_ids = Tensor::from_vec(type_ids, tokens, dev)?;
        let x = (self.word.index_select(&ids, 0)? + self.token_type.index_select(&type_ids, 0)?)?;
        let x = (x + self.position.index_select(&positions, 0)?)?;
        let mut x = self.emb_norm.forward(&x)?;

        for layer in &self.layers {
            let qkv = layer.qkv.matmul(&x)?; // (tokens, 3h)
            bias_act(&qkv, &layer.qkv.b, Act::Identity)?;
            let qkv = match &to_padded {
                Some(idx) => qkv.index_select(idx, 0)?,
                None => qkv,
            };
            let qkv = qkv
                .reshape((b, seq, 3, heads, hd))?
                .permute((2, 0, 3, 1, 4))?
                .contiguous()?; // (3, b, heads, seq, hd)
            let q = qkv.get(0)?;
            let k = qkv.get(1)?;
            let v = qkv.get(2)?;
            // The 1/sqrt(head_dim) scale is folded into the query weights.
            let probs = q.matmul(&k.t()?)?; // (b, heads, seq, seq)
            masked_softmax(&probs, lengths, heads, seq)?;
            let ctx = probs
                .matmul(&v)? // (b, heads, seq, hd)
                .transpose(1, 2)?
                .contiguous()?
                .reshape((b * seq, h))?;
            let ctx = match &to_packed {
                Some(idx) => ctx.index_select(idx, 0)?,
                None => ctx,
            };
            let a = layer.attn_out.matmul(&ctx)?;
            layer.attn_norm.add_norm(&a, &layer.attn_out.b, &x)?;
            let i = layer.inter.matmul(&a)?;
            bias_act(&i, &layer.inter.b, self.act)?;
            let o = layer.out.matmul(&i)?;
            layer.out_norm.add_norm(&o, &layer.out.b, &a)?;
            x = o;
        }
        x.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()
    }
}
