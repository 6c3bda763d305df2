//! The model conformance suites: [`Embedder`] and [`TextModel`].
//!
//! Each `pub async fn` takes the model under test and panics with a message when it
//! breaks the port's contract. [`crate::embedder_suite!`] and [`crate::text_model_suite!`]
//! generate one test per check.

use crate::*;

fn texts(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

/// The model's info is a valid pin; one unit-length, finite vector of the stated
/// dimension per text, in order; nothing for no texts.
pub async fn embedder_shapes(embedder: &dyn Embedder) {
    let info = embedder.info().clone();
    info.validate().unwrap();
    assert!(
        embedder.embed(&[]).await.unwrap().is_empty(),
        "no texts, no vectors"
    );
    let input = texts(&[
        "The cat sat on the windowsill",
        "Quarterly revenue grew by twelve percent",
        "fn main() { println!(\"hi\"); }",
        "ünïcödé — 日本語のテキスト",
    ]);
    let vectors = embedder.embed(&input).await.unwrap();
    assert_eq!(vectors.len(), input.len(), "one vector per text");
    for (v, t) in vectors.iter().zip(&input) {
        assert_eq!(v.len(), info.dimension, "{t:?}: dimension");
        assert!(v.iter().all(|x| x.is_finite()), "{t:?}: not finite");
        let n = norm(v);
        assert!((n - 1.0).abs() < 1e-3, "{t:?}: norm {n}, not unit length");
    }
}

/// The same text gives the same vector, alone or in a batch, wherever it stands; two
/// different texts give different vectors.
pub async fn embedder_is_deterministic(embedder: &dyn Embedder) {
    let a = texts(&["use a torque wrench on the wheel nuts"]);
    let batch = texts(&[
        "she baked sourdough bread this morning",
        "use a torque wrench on the wheel nuts",
        "the CI runs on Debian",
    ]);
    let alone = embedder.embed(&a).await.unwrap();
    let again = embedder.embed(&a).await.unwrap();
    let together = embedder.embed(&batch).await.unwrap();
    let close = |x: &[f32], y: &[f32]| x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-4);
    assert!(close(&alone[0], &again[0]), "the same text twice");
    assert!(close(&alone[0], &together[1]), "alone and in a batch");
    assert!(
        !close(&together[0], &together[2]),
        "two different texts, one vector"
    );
}

/// The model has a name and answers a plain prompt with text and a finish reason.
pub async fn text_model_answers(model: &dyn TextModel) {
    assert!(!model.name().trim().is_empty(), "a model needs a name");
    let answer = model
        .complete(CompletionRequest::prompt("Say hello."))
        .await
        .unwrap();
    assert!(
        !answer.text.trim().is_empty(),
        "an empty answer: {answer:?}"
    );
    assert!(
        !answer.model.trim().is_empty(),
        "the answering model is named"
    );
}
