//! Extractive distillation helpers: the words a group's contexts share.

/// English stop words left out of shared context words.
pub const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been",
    "before", "but", "by", "can", "could", "do", "does", "for", "from", "had", "has", "have",
    "how", "i", "if", "in", "into", "is", "it", "its", "may", "more", "most", "must", "my", "no",
    "not", "of", "on", "one", "or", "our", "out", "over", "should", "so", "some", "such", "than",
    "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "to", "too",
    "under", "up", "use", "used", "using", "via", "was", "we", "were", "what", "when", "where",
    "which", "while", "who", "why", "will", "with", "would", "you", "your",
];

/// The lower-cased words of `text`: runs of alphanumeric characters and `_`.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// The words that appear in at least half of `contexts` (rounded up), stop words and
/// one-character words removed, each once, in the order first seen.
///
/// ```
/// let shared = distill::shared_words(&[
///     "Fix the flaky retry in the HTTP client",
///     "HTTP client retry with backoff",
///     "database pool size",
/// ]);
/// assert_eq!(shared, vec!["retry", "http", "client"]);
/// ```
pub fn shared_words<S: AsRef<str>>(contexts: &[S]) -> Vec<String> {
    if contexts.is_empty() {
        return Vec::new();
    }
    let need = contexts.len().div_ceil(2);
    let mut order: Vec<String> = Vec::new();
    let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for c in contexts {
        let mut seen_here = std::collections::HashSet::new();
        for w in words(c.as_ref()) {
            if w.chars().count() < 2 || STOP_WORDS.contains(&w.as_str()) {
                continue;
            }
            if seen_here.insert(w.clone()) {
                let n = counts.entry(w.clone()).or_insert(0);
                if *n == 0 {
                    order.push(w);
                }
                *n += 1;
            }
        }
    }
    order
        .into_iter()
        .filter(|w| counts.get(w).copied().unwrap_or(0) >= need)
        .collect()
}
