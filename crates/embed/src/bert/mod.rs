//! The sentence-transformers BERT embedder.

mod kernels;
mod model;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use memory_core::{Embedder, EmbedderInfo};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokenizers::{Tokenizer, TruncationParams};

use crate::batch::{BatchLimits, plan_batches, restore_order};
use crate::error::EmbedError;
use crate::fetch::{DEFAULT_MODEL_SAFETENSORS_SHA256, DEFAULT_TOKENIZER_SHA256};
use crate::pooling::{PoolingMode, normalize, pool_packed, read_pooling_config};
use model::{BertConfig, BertModel};

/// The model id of all-MiniLM-L6-v2, the default model, as recorded in a brain.
pub const DEFAULT_MODEL_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// How to load a [`BertEmbedder`]. `Default` reads everything from the model directory.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct BertOptions {
    /// The id recorded as [`EmbedderInfo::model_id`]; see [`BertEmbedder`] for the default.
    pub model_id: Option<String>,
    /// Truncate inputs to this many tokens (special tokens included) instead of the
    /// directory's `max_seq_length`; clamped to the model's position table.
    pub max_seq_length: Option<usize>,
    /// How inputs are grouped into batches.
    pub batch: BatchLimits,
}

impl BertOptions {
    /// Records `id` as the model id.
    pub fn with_model_id(mut self, id: impl Into<String>) -> Self {
        self.model_id = Some(id.into());
        self
    }

    /// Truncates inputs to `tokens` tokens.
    pub fn with_max_seq_length(mut self, tokens: usize) -> Self {
        self.max_seq_length = Some(tokens);
        self
    }

    /// Uses these batch limits.
    pub fn with_batch_limits(mut self, limits: BatchLimits) -> Self {
        self.batch = limits;
        self
    }
}

#[derive(Debug, Default, Deserialize)]
struct SentenceBertConfig {
    #[serde(default)]
    max_seq_length: Option<usize>,
    #[serde(default)]
    do_lower_case: bool,
}

#[derive(Debug, Deserialize)]
struct ModuleEntry {
    #[serde(default)]
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

/// What the directory's `modules.json` says about the pipeline.
struct Pipeline {
    pooling_dir: Option<PathBuf>,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path, dir: &Path) -> Result<T, EmbedError> {
    let raw = std::fs::read_to_string(path).map_err(|e| EmbedError::io(path, e))?;
    serde_json::from_str(&raw)
        .map_err(|e| EmbedError::invalid_model(dir, format!("{}: {e}", path.display())))
}

fn read_pipeline(dir: &Path) -> Result<Pipeline, EmbedError> {
    let path = dir.join("modules.json");
    if !path.exists() {
        let default = dir.join("1_Pooling");
        return Ok(Pipeline {
            pooling_dir: default.is_dir().then_some(default),
        });
    }
    let modules: Vec<ModuleEntry> = read_json(&path, dir)?;
    let mut pooling_dir = None;
    for (i, m) in modules.iter().enumerate() {
        let short = m.kind.rsplit('.').next().unwrap_or(&m.kind);
        match short {
            "Transformer" if i == 0 => {}
            "Pooling" => pooling_dir = Some(dir.join(&m.path)),
            "Normalize" => {}
            _ => {
                return Err(EmbedError::invalid_model(
                    dir,
                    format!(
                        "module {} ({}) is not supported: only Transformer, Pooling and Normalize are",
                        i, m.kind
                    ),
                ));
            }
        }
    }
    Ok(Pipeline { pooling_dir })
}

/// Checks that `dir` holds the three files every model needs.
pub(crate) fn check_model_files(dir: &Path) -> Result<(), EmbedError> {
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        if !dir.join(f).is_file() {
            return Err(EmbedError::ModelNotFound {
                dir: dir.to_path_buf(),
                reason: format!("{f} is missing"),
            });
        }
    }
    Ok(())
}

struct Inner {
    model: BertModel,
    tokenizer: Tokenizer,
    pooling: Vec<PoolingMode>,
    lowercase: bool,
    limits: BatchLimits,
    device: Device,
}

/// A sentence-transformers BERT (all-MiniLM-L6-v2 by default) on candle, on the CPU.
///
/// Loads any local sentence-transformers BERT directory: `config.json`, `tokenizer.json`
/// and `model.safetensors`, plus, when present, `modules.json` (which modules run: a
/// Transformer, a Pooling and optionally a Normalize module; anything else, a Dense layer
/// for instance, is refused), the pooling module's `config.json` (mean pooling when
/// absent) and `sentence_bert_config.json` (`max_seq_length`: longer inputs are truncated,
/// as sentence-transformers does; `do_lower_case`).
///
/// Output vectors are always L2-normalised (the [`Embedder`] port promises unit length).
///
/// # Identity
///
/// [`EmbedderInfo::model_id`] is, in order: [`BertOptions::model_id`] when given;
/// [`DEFAULT_MODEL_ID`] when `model.safetensors` and `tokenizer.json` are byte-identical
/// to all-MiniLM-L6-v2's (checked by sha256) and it runs as sentence-transformers runs it
/// (mean pooling, 256 tokens, no extra lower-casing); otherwise `local-bert-<16 hex
/// digits>` of a sha256 over the weights, the tokenizer and those settings, so the same
/// model gets the same id wherever its directory lives, and any change that alters the
/// vectors changes the id. [`EmbedderInfo::dimension`] is the hidden size times the
/// number of pooling modes.
///
/// # Throughput
///
/// Inputs are tokenised together, sorted by token length and cut into batches
/// ([`BatchLimits`]) padded only to their own longest sequence; results come back in the
/// caller's order. The async [`Embedder::embed`] runs on tokio's blocking pool, and the
/// matrix products use candle's CPU thread pool (all cores; `RAYON_NUM_THREADS` and
/// `CANDLE_NUM_THREADS` limit it).
#[derive(Clone)]
pub struct BertEmbedder {
    inner: Arc<Inner>,
    info: EmbedderInfo,
    max_seq_length: usize,
}

impl std::fmt::Debug for BertEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertEmbedder")
            .field("info", &self.info)
            .field("max_seq_length", &self.max_seq_length)
            .field("pooling", &self.inner.pooling)
            .finish_non_exhaustive()
    }
}

impl BertEmbedder {
    /// Loads the model in `dir` with default options.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, EmbedError> {
        Self::load_with(dir, BertOptions::default())
    }

    /// Loads the default model from [`crate::resolve_model_dir`]`(None)`: `BRAIN_MODEL_DIR`
    /// when set, else the user's cache directory.
    pub fn load_default() -> Result<Self, EmbedError> {
        Self::load(crate::fetch::resolve_model_dir(None)?)
    }

    /// Loads the model in `dir`.
    #[tracing::instrument(skip(options), fields(dir = %dir.as_ref().display()))]
    pub fn load_with(dir: impl AsRef<Path>, options: BertOptions) -> Result<Self, EmbedError> {
        let dir = dir.as_ref();
        check_model_files(dir)?;
        if options.batch.max_sequences == 0 || options.batch.max_tokens == 0 {
            return Err(EmbedError::InvalidArgument(
                "batch limits must be positive".into(),
            ));
        }
        let cfg: BertConfig = read_json(&dir.join("config.json"), dir)?;
        let pipeline = read_pipeline(dir)?;
        let pooling = match &pipeline.pooling_dir {
            Some(p) if p.join("config.json").is_file() => {
                read_pooling_config(&p.join("config.json"), dir)?
            }
            _ => vec![PoolingMode::Mean],
        };
        let st_path = dir.join("sentence_bert_config.json");
        let st: SentenceBertConfig = if st_path.is_file() {
            read_json(&st_path, dir)?
        } else {
            SentenceBertConfig::default()
        };
        let max_seq_length = options
            .max_seq_length
            .or(st.max_seq_length)
            .unwrap_or(512)
            .clamp(2, cfg.max_position_embeddings);

        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer_bytes =
            std::fs::read(&tokenizer_path).map_err(|e| EmbedError::io(&tokenizer_path, e))?;
        let mut tokenizer = Tokenizer::from_bytes(&tokenizer_bytes)
            .map_err(|e| EmbedError::invalid_model(dir, format!("tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_seq_length,
                ..TruncationParams::default()
            }))
            .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        tokenizer.with_padding(None);

        let weights_path = dir.join("model.safetensors");
        let weights = std::fs::read(&weights_path).map_err(|e| EmbedError::io(&weights_path, e))?;
        let identity = Identity {
            weights_sha256: hex_digest(&Sha256::digest(&weights)),
            tokenizer_sha256: hex_digest(&Sha256::digest(&tokenizer_bytes)),
            pooling: &pooling,
            max_seq_length,
            lowercase: st.do_lower_case,
        };
        let model_id = options.model_id.unwrap_or_else(|| identity.model_id());
        let device = Device::Cpu;
        let model = {
            let vb = VarBuilder::from_slice_safetensors(&weights, DType::F32, &device)
                .map_err(|e| EmbedError::invalid_model(dir, format!("model.safetensors: {e}")))?;
            BertModel::load(vb, &cfg).map_err(|m| EmbedError::invalid_model(dir, m))?
        };
        drop(weights);
        let dimension = model.hidden_size() * pooling.len();
        tracing::debug!(%model_id, dimension, max_seq_length, ?pooling, "loaded BERT embedder");
        Ok(BertEmbedder {
            inner: Arc::new(Inner {
                model,
                tokenizer,
                pooling,
                lowercase: st.do_lower_case,
                limits: options.batch,
                device,
            }),
            info: EmbedderInfo {
                model_id,
                dimension,
            },
            max_seq_length,
        })
    }

    /// The model id and dimension.
    pub fn info(&self) -> &EmbedderInfo {
        &self.info
    }

    /// Inputs are truncated to this many tokens, special tokens included.
    pub fn max_seq_length(&self) -> usize {
        self.max_seq_length
    }

    /// Embeds `texts` on the calling thread (blocking; uses candle's thread pool). One
    /// unit-length vector per text, in order.
    #[tracing::instrument(skip_all, fields(texts = texts.len()))]
    pub fn embed_sync<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.inner.embed(texts)
    }
}

impl Inner {
    fn embed<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let inputs: Vec<String> = texts
            .iter()
            .map(|t| {
                let t = t.as_ref();
                if self.lowercase {
                    t.to_lowercase()
                } else {
                    t.to_string()
                }
            })
            .collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        let lengths: Vec<usize> = encodings.iter().map(|e| e.get_ids().len()).collect();
        if let Some(i) = lengths.iter().position(|&l| l == 0) {
            // Only possible with a tokenizer that adds no special tokens.
            return Err(EmbedError::Tokenizer(format!(
                "text {i} produced no tokens, so it has no embedding"
            )));
        }
        let batches = plan_batches(&lengths, self.limits);
        let dim = self.model.hidden_size();
        let run = |batch: &Vec<usize>| -> Result<Vec<Vec<f32>>, EmbedError> {
            let tokens: usize = batch.iter().map(|&i| lengths[i]).sum();
            let mut ids = Vec::with_capacity(tokens);
            let mut type_ids = Vec::with_capacity(tokens);
            let mut lens = Vec::with_capacity(batch.len());
            for &i in batch {
                ids.extend_from_slice(encodings[i].get_ids());
                type_ids.extend_from_slice(encodings[i].get_type_ids());
                lens.push(lengths[i]);
            }
            let hidden = self.model.forward(ids, type_ids, &lens)?;
            let mut pooled = pool_packed(&hidden, dim, &lens, &self.pooling);
            for v in &mut pooled {
                if !normalize(v) {
                    return Err(EmbedError::Candle(candle_core::Error::Msg(
                        "the model produced a zero or non-finite embedding".into(),
                    )));
                }
            }
            Ok(pooled)
        };
        // On candle's thread pool: batches run in parallel, one per worker, and a batch's
        // matrix products split over idle workers by work stealing (the last batches, or
        // a call with a single batch).
        let results = self.device.with_context(|| {
            use rayon::prelude::*;
            batches
                .par_iter()
                .with_max_len(1)
                .map(run)
                .collect::<Result<Vec<_>, EmbedError>>()
        })?;
        restore_order(texts.len(), &batches, results)
            .ok_or_else(|| EmbedError::Task("batch results did not cover every input".into()))
    }
}

/// What decides a BERT embedder's vectors, for its model id.
struct Identity<'a> {
    weights_sha256: String,
    tokenizer_sha256: String,
    pooling: &'a [PoolingMode],
    max_seq_length: usize,
    lowercase: bool,
}

impl Identity<'_> {
    fn model_id(&self) -> String {
        if self.weights_sha256 == DEFAULT_MODEL_SAFETENSORS_SHA256
            && self.tokenizer_sha256 == DEFAULT_TOKENIZER_SHA256
            && self.pooling == [PoolingMode::Mean]
            && self.max_seq_length == 256
            && !self.lowercase
        {
            return DEFAULT_MODEL_ID.to_string();
        }
        let mut h = Sha256::new();
        h.update(self.weights_sha256.as_bytes());
        h.update(b"\n");
        h.update(self.tokenizer_sha256.as_bytes());
        let pooling: Vec<&str> = self.pooling.iter().map(|m| m.name()).collect();
        h.update(format!(
            "\n{}\n{}\n{}",
            pooling.join(","),
            self.max_seq_length,
            self.lowercase
        ));
        format!("local-bert-{}", &hex_digest(&h.finalize())[..16])
    }
}

pub(crate) fn hex_digest(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[async_trait]
impl Embedder for BertEmbedder {
    fn info(&self) -> &EmbedderInfo {
        &self.info
    }

    async fn embed(&self, texts: &[String]) -> memory_core::Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        if tokio::runtime::Handle::try_current().is_err() {
            // Not on a tokio runtime (another executor): there is no blocking pool to use.
            return Ok(self.inner.embed(texts)?);
        }
        let inner = Arc::clone(&self.inner);
        let owned = texts.to_vec();
        let out = tokio::task::spawn_blocking(move || inner.embed(&owned))
            .await
            .map_err(|e| EmbedError::Task(e.to_string()))??;
        Ok(out)
    }
}
