//! Pooling: from one vector per token to one vector per text, as sentence-transformers'
//! `Pooling` module does.
//!
//! Sequences are right-padded: the first `len` tokens of a row are real, the rest padding,
//! and padding never influences the result.

use std::path::Path;

use serde::Deserialize;

use crate::error::EmbedError;

/// One way of pooling token vectors; several are concatenated in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PoolingMode {
    /// The first token's vector (`[CLS]`).
    Cls,
    /// The component-wise maximum over the real tokens.
    Max,
    /// The mean over the real tokens.
    Mean,
    /// The sum over the real tokens divided by the square root of their number.
    MeanSqrtLen,
    /// The mean weighted by position (1 for the first token, 2 for the second, ...).
    WeightedMean,
    /// The last real token's vector.
    LastToken,
}

impl PoolingMode {
    /// sentence-transformers' name of the mode (`"mean"`, `"cls"`, ...). Stable: model ids
    /// are derived from it.
    pub fn name(self) -> &'static str {
        match self {
            PoolingMode::Cls => "cls",
            PoolingMode::Max => "max",
            PoolingMode::Mean => "mean",
            PoolingMode::MeanSqrtLen => "mean_sqrt_len_tokens",
            PoolingMode::WeightedMean => "weightedmean",
            PoolingMode::LastToken => "lasttoken",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "cls" => PoolingMode::Cls,
            "max" => PoolingMode::Max,
            "mean" => PoolingMode::Mean,
            "mean_sqrt_len_tokens" => PoolingMode::MeanSqrtLen,
            "weightedmean" => PoolingMode::WeightedMean,
            "lasttoken" => PoolingMode::LastToken,
            _ => return None,
        })
    }
}

/// `1_Pooling/config.json` in either of the layouts sentence-transformers writes.
#[derive(Debug, Default, Deserialize)]
struct PoolingConfigFile {
    #[serde(default)]
    pooling_mode: Option<ModeNames>,
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ModeNames {
    One(String),
    Many(Vec<String>),
}

/// Reads the pooling modes from a sentence-transformers pooling config file. The legacy
/// boolean flags are taken in sentence-transformers' order (cls, max, mean,
/// mean_sqrt_len, weightedmean, lasttoken); none set means mean pooling.
pub(crate) fn read_pooling_config(path: &Path, dir: &Path) -> Result<Vec<PoolingMode>, EmbedError> {
    let raw = std::fs::read_to_string(path).map_err(|e| EmbedError::io(path, e))?;
    let cfg: PoolingConfigFile = serde_json::from_str(&raw)
        .map_err(|e| EmbedError::invalid_model(dir, format!("{}: {e}", path.display())))?;
    let modes = match cfg.pooling_mode {
        Some(names) => {
            let names = match names {
                ModeNames::One(n) => vec![n],
                ModeNames::Many(v) => v,
            };
            names
                .iter()
                .map(|n| {
                    PoolingMode::from_name(n).ok_or_else(|| {
                        EmbedError::invalid_model(dir, format!("unknown pooling mode {n:?}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        None => [
            (cfg.pooling_mode_cls_token, PoolingMode::Cls),
            (cfg.pooling_mode_max_tokens, PoolingMode::Max),
            (cfg.pooling_mode_mean_tokens, PoolingMode::Mean),
            (
                cfg.pooling_mode_mean_sqrt_len_tokens,
                PoolingMode::MeanSqrtLen,
            ),
            (
                cfg.pooling_mode_weightedmean_tokens,
                PoolingMode::WeightedMean,
            ),
            (cfg.pooling_mode_lasttoken, PoolingMode::LastToken),
        ]
        .into_iter()
        .filter_map(|(on, m)| on.then_some(m))
        .collect(),
    };
    Ok(if modes.is_empty() {
        vec![PoolingMode::Mean]
    } else {
        modes
    })
}

/// Pools a right-padded batch of token vectors.
///
/// `hidden` is `lengths.len()` rows of `seq` tokens of `dim` values (row-major); row `r`'s
/// first `lengths[r]` tokens are real (`lengths[r]` is clamped to `seq`). Returns one
/// vector of `modes.len() * dim` values per row. A row with no real token pools to zeros.
pub fn pool(
    hidden: &[f32],
    seq: usize,
    dim: usize,
    lengths: &[usize],
    modes: &[PoolingMode],
) -> Vec<Vec<f32>> {
    lengths
        .iter()
        .enumerate()
        .map(|(r, &len)| {
            let start = r * seq * dim;
            let tokens = hidden.get(start..start + len.min(seq) * dim).unwrap_or(&[]);
            pool_one(tokens, dim, modes)
        })
        .collect()
}

/// Pools sequences stored back to back: row `r`'s `lengths[r]` tokens of `dim` values
/// follow row `r - 1`'s. Rows beyond the end of `hidden` pool to zeros.
pub fn pool_packed(
    hidden: &[f32],
    dim: usize,
    lengths: &[usize],
    modes: &[PoolingMode],
) -> Vec<Vec<f32>> {
    let mut offset = 0;
    lengths
        .iter()
        .map(|&len| {
            let tokens = hidden.get(offset..offset + len * dim).unwrap_or(&[]);
            offset += len * dim;
            pool_one(tokens, dim, modes)
        })
        .collect()
}

/// Pools the real tokens of one text (`tokens.len() / dim` of them).
fn pool_one(tokens: &[f32], dim: usize, modes: &[PoolingMode]) -> Vec<f32> {
    let len = tokens.len().checked_div(dim).unwrap_or(0);
    let token = |t: usize| &tokens[t * dim..(t + 1) * dim];
    let mut out = Vec::with_capacity(modes.len() * dim);
    for mode in modes {
        let start = out.len();
        out.resize(start + dim, 0.0);
        let acc = &mut out[start..];
        if len == 0 {
            continue;
        }
        match mode {
            PoolingMode::Cls => add(acc, token(0), 1.0),
            PoolingMode::LastToken => add(acc, token(len - 1), 1.0),
            PoolingMode::Max => {
                acc.copy_from_slice(token(0));
                for t in 1..len {
                    for (a, x) in acc.iter_mut().zip(token(t)) {
                        *a = a.max(*x);
                    }
                }
            }
            PoolingMode::Mean | PoolingMode::MeanSqrtLen => {
                for t in 0..len {
                    add(acc, token(t), 1.0);
                }
                let n = len as f32;
                let d = if *mode == PoolingMode::Mean {
                    n
                } else {
                    n.sqrt()
                };
                acc.iter_mut().for_each(|a| *a /= d);
            }
            PoolingMode::WeightedMean => {
                let mut wsum = 0.0f32;
                for t in 0..len {
                    let w = (t + 1) as f32;
                    add(acc, token(t), w);
                    wsum += w;
                }
                acc.iter_mut().for_each(|a| *a /= wsum);
            }
        }
    }
    out
}

fn add(acc: &mut [f32], x: &[f32], w: f32) {
    for (a, v) in acc.iter_mut().zip(x) {
        *a += w * v;
    }
}

/// Scales `v` to unit L2 norm in place. Returns `false` (leaving `v` unchanged) when its
/// norm is zero or not finite.
pub fn normalize(v: &mut [f32]) -> bool {
    let norm = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 && norm.is_finite() {
        v.iter_mut()
            .for_each(|x| *x = (f64::from(*x) / norm) as f32);
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        // Two rows of three tokens of two values; row 0 has 2 real tokens, row 1 has 3.
        let h = [
            1.0, 2.0, 3.0, 4.0, 99.0, 99.0, //
            1.0, 0.0, 2.0, 0.0, 6.0, -3.0,
        ];
        let all = [
            PoolingMode::Cls,
            PoolingMode::Max,
            PoolingMode::Mean,
            PoolingMode::LastToken,
        ];
        let p = pool(&h, 3, 2, &[2, 3], &all);
        assert_eq!(p[0], vec![1.0, 2.0, 3.0, 4.0, 2.0, 3.0, 3.0, 4.0]);
        assert_eq!(p[1], vec![1.0, 0.0, 6.0, 0.0, 3.0, -1.0, 6.0, -3.0]);
        let w = pool(&h, 3, 2, &[2], &[PoolingMode::WeightedMean]);
        assert_eq!(w[0], vec![(1.0 + 2.0 * 3.0) / 3.0, (2.0 + 2.0 * 4.0) / 3.0]);
        let s = pool(&h, 3, 2, &[2], &[PoolingMode::MeanSqrtLen]);
        assert!((s[0][0] - 4.0 / 2f32.sqrt()).abs() < 1e-6);
        assert_eq!(
            pool(&h, 3, 2, &[0], &[PoolingMode::Mean])[0],
            vec![0.0, 0.0]
        );
    }

    #[test]
    fn config_layouts() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        let read = |s: &str| {
            std::fs::write(&p, s).unwrap();
            read_pooling_config(&p, dir.path())
        };
        assert_eq!(
            read(r#"{"word_embedding_dimension": 384, "pooling_mode_mean_tokens": true}"#).unwrap(),
            vec![PoolingMode::Mean]
        );
        assert_eq!(
            read(r#"{"pooling_mode_mean_tokens": true, "pooling_mode_cls_token": true}"#).unwrap(),
            vec![PoolingMode::Cls, PoolingMode::Mean]
        );
        assert_eq!(
            read(r#"{"pooling_mode": "cls"}"#).unwrap(),
            vec![PoolingMode::Cls]
        );
        assert_eq!(
            read(r#"{"pooling_mode": ["max", "lasttoken"]}"#).unwrap(),
            vec![PoolingMode::Max, PoolingMode::LastToken]
        );
        assert_eq!(read("{}").unwrap(), vec![PoolingMode::Mean]);
        assert!(read(r#"{"pooling_mode": "median"}"#).is_err());
        assert!(read("not json").is_err());
    }

    #[test]
    fn names_round_trip() {
        for m in [
            PoolingMode::Cls,
            PoolingMode::Max,
            PoolingMode::Mean,
            PoolingMode::MeanSqrtLen,
            PoolingMode::WeightedMean,
            PoolingMode::LastToken,
        ] {
            assert_eq!(PoolingMode::from_name(m.name()), Some(m));
        }
    }

    #[test]
    fn normalizes() {
        let mut v = [3.0, 4.0];
        assert!(normalize(&mut v));
        assert_eq!(v, [0.6, 0.8]);
        let mut z = [0.0, 0.0];
        assert!(!normalize(&mut z));
    }
}
