//! A deterministic embedder that needs no model: hashed word and character n-grams.
//!
//! # The algorithm (version 1; frozen)
//!
//! The vectors of `hashing-v1-<dim>` are part of stored data, so every detail below is
//! fixed; a change of any of them needs a new model id (`hashing-v2-…`).
//!
//! 1. **Words.** The text is lower-cased ([`char::to_lowercase`]) and split into words:
//!    maximal runs of characters that are alphanumeric ([`char::is_alphanumeric`]) or `_`.
//! 2. **Features**, each a byte string hashed with a one-byte tag in front:
//!    - every word (tag `w`), weight [`WORD_WEIGHT`];
//!    - every pair of adjacent words joined by a space (tag `b`), weight [`BIGRAM_WEIGHT`];
//!    - every character n-gram, n = 3, 4, 5, of each word wrapped as `<word>` (tag `c`,
//!      fastText style, so prefixes and suffixes are marked; a wrapped word shorter than n
//!      gives one n-gram, itself), weight [`CHAR_WEIGHT`].
//!
//!    Text without any word (only punctuation or symbols) uses the character n-grams of its
//!    trimmed text instead; empty or whitespace-only text uses one feature, the tag `e`
//!    alone, so it has a defined, fixed direction rather than an error.
//! 3. **Hash.** 64-bit FNV-1a (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`) over
//!    the tag byte then the feature's UTF-8 bytes, followed by the `fmix64` finaliser of
//!    MurmurHash3 so that every bit depends on every input bit.
//! 4. **Signed hashing.** The feature adds `±weight` to component `h % dim`, with the sign
//!    taken from bit 63 of `h` (set: negative). Accumulation is in `f64`.
//! 5. **Normalisation.** The vector is divided by its L2 norm. Should the signed sums cancel
//!    to exactly zero, the vector becomes `+1` at the component of the hash of the tag `z`
//!    and the whole text, so the output always has unit length.

use async_trait::async_trait;
use memory_core::{Embedder, EmbedderInfo};

use crate::error::EmbedError;

/// The hashing embedder's default dimension (the same as all-MiniLM-L6-v2's).
pub const DEFAULT_HASHING_DIMENSION: usize = 384;
/// The largest dimension [`HashingEmbedder::new`] accepts.
pub const MAX_HASHING_DIMENSION: usize = 1 << 16;
/// Weight of a word unigram.
pub const WORD_WEIGHT: f64 = 1.0;
/// Weight of a word bigram.
pub const BIGRAM_WEIGHT: f64 = 0.7;
/// Weight of one character n-gram.
pub const CHAR_WEIGHT: f64 = 0.25;

/// Texts whose total size is at least this many bytes are hashed on tokio's blocking pool
/// (when called inside a runtime) rather than inline on the async task.
const INLINE_BYTES: usize = 64 << 10;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a of `tag` followed by `bytes`, finalised with MurmurHash3's `fmix64`.
///
/// This is the hash the [`HashingEmbedder`] is defined by; it is stable across versions,
/// platforms and endianness.
pub fn feature_hash(tag: u8, bytes: &[u8]) -> u64 {
    let mut h = FNV_OFFSET;
    h ^= u64::from(tag);
    h = h.wrapping_mul(FNV_PRIME);
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    fmix64(h)
}

fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// A model-free embedder: signed feature hashing of word unigrams, word bigrams and
/// character 3- to 5-grams into `dimension` components, L2-normalised.
///
/// Deterministic across runs, versions and platforms (see the [module docs](self) for the
/// exact algorithm). Its [`EmbedderInfo::model_id`] is `hashing-v1-<dimension>`. Lexical
/// rather than semantic: texts that share words and word pieces land near each other.
///
/// ```
/// use embed::HashingEmbedder;
///
/// let e = HashingEmbedder::new(256)?;
/// let a = e.embed_one("the cache is stale");
/// let b = e.embed_one("The cache was stale!");
/// let c = e.embed_one("quarterly revenue grew");
/// let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>();
/// assert!(dot(&a, &b) > dot(&a, &c));
/// # Ok::<(), embed::EmbedError>(())
/// ```
#[derive(Debug, Clone)]
pub struct HashingEmbedder {
    info: EmbedderInfo,
}

impl Default for HashingEmbedder {
    fn default() -> Self {
        HashingEmbedder {
            info: EmbedderInfo {
                model_id: model_id(DEFAULT_HASHING_DIMENSION),
                dimension: DEFAULT_HASHING_DIMENSION,
            },
        }
    }
}

fn model_id(dimension: usize) -> String {
    format!("hashing-v1-{dimension}")
}

impl HashingEmbedder {
    /// An embedder of `dimension` components, `1..=`[`MAX_HASHING_DIMENSION`].
    pub fn new(dimension: usize) -> Result<Self, EmbedError> {
        if dimension == 0 || dimension > MAX_HASHING_DIMENSION {
            return Err(EmbedError::InvalidArgument(format!(
                "hashing dimension must be within 1..={MAX_HASHING_DIMENSION}, got {dimension}"
            )));
        }
        Ok(HashingEmbedder {
            info: EmbedderInfo {
                model_id: model_id(dimension),
                dimension,
            },
        })
    }

    /// The output dimension.
    pub fn dimension(&self) -> usize {
        self.info.dimension
    }

    /// The unit-length embedding of one text.
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let dim = self.info.dimension;
        let mut acc = vec![0f64; dim];
        let mut add = |tag: u8, bytes: &[u8], weight: f64| {
            let h = feature_hash(tag, bytes);
            // Both casts are lossless: `dim` fits in u64 and the remainder is below `dim`.
            let i = (h % dim as u64) as usize;
            acc[i] += if h >> 63 == 1 { -weight } else { weight };
        };

        let lower = text.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            let trimmed = lower.trim();
            if trimmed.is_empty() {
                add(b'e', &[], 1.0);
            } else {
                char_ngrams(trimmed, &mut |g| add(b'c', g.as_bytes(), CHAR_WEIGHT));
            }
        } else {
            let mut buf = String::new();
            for (i, w) in words.iter().enumerate() {
                add(b'w', w.as_bytes(), WORD_WEIGHT);
                if let Some(next) = words.get(i + 1) {
                    buf.clear();
                    buf.push_str(w);
                    buf.push(' ');
                    buf.push_str(next);
                    add(b'b', buf.as_bytes(), BIGRAM_WEIGHT);
                }
                buf.clear();
                buf.push('<');
                buf.push_str(w);
                buf.push('>');
                char_ngrams(&buf, &mut |g| add(b'c', g.as_bytes(), CHAR_WEIGHT));
            }
        }

        let norm = acc.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 0.0 && norm.is_finite() {
            acc.iter().map(|x| (x / norm) as f32).collect()
        } else {
            let mut v = vec![0f32; dim];
            let h = feature_hash(b'z', text.as_bytes());
            v[(h % dim as u64) as usize] = 1.0;
            v
        }
    }

    /// The embeddings of `texts`, in order.
    pub fn embed_batch<S: AsRef<str>>(&self, texts: &[S]) -> Vec<Vec<f32>> {
        texts.iter().map(|t| self.embed_one(t.as_ref())).collect()
    }
}

/// Calls `f` with every character n-gram of `s`, n = 3, 4, 5 (or `s` itself when it is
/// shorter than three characters).
fn char_ngrams(s: &str, f: &mut impl FnMut(&str)) {
    // Byte offsets of every char boundary, the end included.
    let bounds: Vec<usize> = s
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(s.len()))
        .collect();
    let chars = bounds.len() - 1;
    if chars < 3 {
        if chars > 0 {
            f(s);
        }
        return;
    }
    for n in 3..=5usize {
        if n > chars {
            break;
        }
        for start in 0..=chars - n {
            f(&s[bounds[start]..bounds[start + n]]);
        }
    }
}

#[async_trait]
impl Embedder for HashingEmbedder {
    fn info(&self) -> &EmbedderInfo {
        &self.info
    }

    async fn embed(&self, texts: &[String]) -> memory_core::Result<Vec<Vec<f32>>> {
        let bytes: usize = texts.iter().map(String::len).sum();
        if bytes >= INLINE_BYTES && tokio::runtime::Handle::try_current().is_ok() {
            let this = self.clone();
            let owned = texts.to_vec();
            return tokio::task::spawn_blocking(move || this.embed_batch(&owned))
                .await
                .map_err(|e| EmbedError::Task(e.to_string()).into());
        }
        Ok(self.embed_batch(texts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(v: &[f32]) -> f32 {
        v.iter().map(|x| x * x).sum::<f32>().sqrt()
    }

    #[test]
    fn fnv_reference_values() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c; with our tag byte first the raw hash
        // differs, so pin our own outputs to catch any change of the algorithm.
        let mut h = FNV_OFFSET;
        h ^= u64::from(b'a');
        h = h.wrapping_mul(FNV_PRIME);
        assert_eq!(h, 0xaf63_dc4c_8601_ec8c);
        assert_eq!(feature_hash(b'w', b"cache"), feature_hash(b'w', b"cache"));
        assert_ne!(feature_hash(b'w', b"cache"), feature_hash(b'b', b"cache"));
    }

    #[test]
    fn pinned_vector() {
        // The first components of a fixed text: stored vectors depend on these never
        // changing. Update only together with a new model id.
        let v = HashingEmbedder::new(8).unwrap().embed_one("Hello, world");
        for (a, b) in v.iter().zip(PINNED) {
            assert!((a - b).abs() < 1e-6, "{v:?}");
        }
    }
    const PINNED: [f32; 8] = [
        0.0,
        -0.135_781_36,
        0.271_562_73,
        -0.244_406_45,
        -0.543_125_45,
        -0.135_781_36,
        0.271_562_73,
        -0.678_906_8,
    ];

    #[test]
    fn empty_and_symbol_texts_have_unit_vectors() {
        let e = HashingEmbedder::default();
        for t in ["", "   \n\t", "!!!", "—", "a", "ß", "日本語のテキスト"] {
            let v = e.embed_one(t);
            assert_eq!(v.len(), 384);
            assert!((norm(&v) - 1.0).abs() < 1e-5, "{t:?}");
        }
        assert_eq!(e.embed_one(""), e.embed_one("  "));
        assert_ne!(e.embed_one(""), e.embed_one("!!!"));
    }

    #[test]
    fn case_and_punctuation_insensitive() {
        let e = HashingEmbedder::default();
        assert_eq!(e.embed_one("Hello, World"), e.embed_one("hello world"));
    }

    #[test]
    fn rejects_bad_dimensions() {
        assert!(HashingEmbedder::new(0).is_err());
        assert!(HashingEmbedder::new(MAX_HASHING_DIMENSION + 1).is_err());
        assert_eq!(
            HashingEmbedder::new(1).unwrap().info.model_id,
            "hashing-v1-1"
        );
    }

    #[test]
    fn ngrams() {
        let mut got = Vec::new();
        char_ngrams("<ab>", &mut |g| got.push(g.to_string()));
        assert_eq!(got, ["<ab", "ab>", "<ab>"]);
        got.clear();
        char_ngrams("é", &mut |g| got.push(g.to_string()));
        assert_eq!(got, ["é"]);
    }

    #[tokio::test]
    async fn port_embeds_in_order() {
        let e = HashingEmbedder::default();
        let texts = vec!["one".to_string(), "two".to_string()];
        let v = Embedder::embed(&e, &texts).await.unwrap();
        assert_eq!(v, vec![e.embed_one("one"), e.embed_one("two")]);
        let big = vec!["word ".repeat(20_000); 2];
        let v = Embedder::embed(&e, &big).await.unwrap();
        assert_eq!(v[0], v[1]);
    }
}
