//! The contract every `Embedder` of this crate meets, checked through the port.

use std::sync::Arc;

use embed::Embedder;

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

/// Checks, through `dyn Embedder`: one unit-length, finite vector of the advertised
/// dimension per text, in order; empty input gives empty output; the same text gives the
/// same vector alone or in a batch (to `tolerance` in cosine); concurrent calls agree.
pub(crate) async fn check_embedder(e: Arc<dyn Embedder>, tolerance: f32) {
    let info = e.info().clone();
    assert!(!info.model_id.is_empty());
    assert!(info.dimension > 0);
    assert!(e.embed(&[]).await.unwrap().is_empty());

    let texts: Vec<String> = [
        "the first text",
        "",
        "a second, somewhat longer text about caches and invalidation",
        "ünïcödé 🚀 テキスト",
        "the first text",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let v = e.embed(&texts).await.unwrap();
    assert_eq!(v.len(), texts.len());
    for x in &v {
        assert_eq!(x.len(), info.dimension);
        assert!(x.iter().all(|f| f.is_finite()));
        assert!((norm(x) - 1.0).abs() < 1e-4, "norm {}", norm(x));
        memory_core::validate::vector(x, info.dimension).unwrap();
    }
    let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    assert!(cos(&v[0], &v[4]) > 1.0 - tolerance);
    assert!(cos(&v[0], &v[2]) < 0.99);
    for (i, t) in texts.iter().enumerate() {
        let alone = e.embed(std::slice::from_ref(t)).await.unwrap();
        assert!(cos(&alone[0], &v[i]) > 1.0 - tolerance, "text {i}");
    }

    // Concurrent calls from several tasks give the same vectors.
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let e = Arc::clone(&e);
            let texts = texts.clone();
            tokio::spawn(async move { e.embed(&texts).await.unwrap() })
        })
        .collect();
    for h in handles {
        let w = h.await.unwrap();
        for (a, b) in w.iter().zip(&v) {
            assert!(cos(a, b) > 1.0 - tolerance);
        }
    }
}
