//! Reading a chain-of-thought answer: the text, its steps as a tree, and its decision.
//!
//! The decision is, in order of preference:
//!
//! 1. the last explicit decision line: `Decision: ...` or `Final decision: ...`, also as a
//!    heading (`## Decision`) or in bold (`**Decision:**`), with the text after it up to a
//!    blank line (the next paragraph when the line itself is empty);
//! 2. the seed's regex `(?:decision|conclusion|recommend|final|plan):\s*(.+?)(?:\n\n|$)`
//!    (case-insensitive, dot matches newline; the leftmost keyword wins), extended with
//!    `recommendation` and `final answer`, bold between the keyword and the colon
//!    (`**Conclusion**:`), and the rule that a keyword starts a word (`replan:` is not
//!    `plan:`);
//! 3. the paragraph after the last heading named `Conclusion`, `Recommendation` or
//!    `Final Answer`.
//!
//! The result keeps line breaks (each line trimmed), drops leftover bold markers at its
//! ends, and holds at most [`MAX_DECISION_CHARS`] chars. An empty result is `None`.

use serde::{Deserialize, Serialize};

use crate::MAX_DECISION_CHARS;
use crate::steps::{Step, parse_steps};
use crate::text::{cap_input, clean_block, fence, heading, strip_prefix_ci};

/// A parsed chain-of-thought answer (the seed's `_parse_reasoning_output`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Reasoning {
    /// The answer as given (at most [`crate::MAX_INPUT_BYTES`]).
    pub reasoning: String,
    /// Its steps as a tree (see [`parse_steps`]).
    pub steps: Vec<Step>,
    /// Its decision, if it states one (see the [module docs](self)).
    pub decision: Option<String>,
}

/// Parses a chain-of-thought answer. Total: never panics, linear in the input.
pub fn parse_reasoning(text: &str) -> Reasoning {
    let text = cap_input(text);
    Reasoning {
        reasoning: text.to_string(),
        steps: parse_steps(text),
        decision: extract_decision(text),
    }
}

/// The decision an answer states, if any (see the [module docs](self)). Total.
pub fn extract_decision(text: &str) -> Option<String> {
    let text = cap_input(text);
    let lines: Vec<&str> = text.lines().collect();
    explicit_decision(&lines)
        .or_else(|| seed_decision(text))
        .or_else(|| heading_decision(&lines))
}

/// Strips quote marks, heading hashes, a bullet and emphasis from the start of a line.
fn strip_line_decor(line: &str) -> &str {
    let mut s = line.trim_start();
    s = s.trim_start_matches('>').trim_start();
    s = s.trim_start_matches('#').trim_start();
    for b in ["- ", "* ", "• "] {
        if let Some(rest) = s.strip_prefix(b) {
            s = rest.trim_start();
            break;
        }
    }
    s.trim_start_matches(['*', '_']).trim_start()
}

/// The rest of the line after `decision` / `final decision` and a colon, or the empty
/// string for a `## Decision` heading.
fn decision_label(line: &str) -> Option<&str> {
    let is_heading = heading(line.trim_start()).is_some();
    let s = strip_line_decor(line);
    let rest = strip_prefix_ci(s, "final decision").or_else(|| strip_prefix_ci(s, "decision"))?;
    let rest = rest.trim_start_matches(['*', '_', ' ']);
    if let Some(after) = rest.strip_prefix(':') {
        return Some(after);
    }
    (is_heading && rest.trim().is_empty()).then_some("")
}

fn paragraph_from<'a>(lines: &[&'a str], first: &'a str, mut j: usize) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let first = first.trim();
    if first.is_empty() {
        while lines.get(j).is_some_and(|l| l.trim().is_empty()) {
            j += 1;
        }
    } else {
        parts.push(first);
    }
    let mut chars = first.len();
    while let Some(l) = lines.get(j) {
        let t = l.trim();
        if t.is_empty() || fence(t).is_some() || heading(t).is_some() {
            break;
        }
        if chars > MAX_DECISION_CHARS * 4 {
            break;
        }
        chars += t.len();
        parts.push(t);
        j += 1;
    }
    finish_decision(&parts)
}

fn finish_decision(parts: &[&str]) -> String {
    let block = clean_block(parts.iter().copied(), MAX_DECISION_CHARS);
    let mut s = block.trim_start_matches(['*', '_', ' ']).trim().to_string();
    if s.ends_with("**") && s.matches("**").count() % 2 == 1 {
        s.truncate(s.len() - 2);
        s = s.trim_end().to_string();
    }
    s
}

fn explicit_decision(lines: &[&str]) -> Option<String> {
    let mut found = None;
    for (i, line) in lines.iter().enumerate() {
        if let Some(rest) = decision_label(line) {
            found = Some((i, rest));
        }
    }
    let (i, rest) = found?;
    let d = paragraph_from(lines, rest, i + 1);
    (!d.is_empty()).then_some(d)
}

const SEED_KEYWORDS: [&str; 7] = [
    "decision",
    "conclusion",
    "recommendation",
    "recommend",
    "final answer",
    "final",
    "plan",
];

fn seed_decision(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let b = lower.as_bytes();
    let mut best: Option<(usize, usize)> = None; // (keyword start, after the colon)
    for kw in SEED_KEYWORDS {
        for (pos, _) in lower.match_indices(kw) {
            if best.is_some_and(|(start, _)| pos >= start) {
                break;
            }
            if pos > 0 && b.get(pos - 1).is_some_and(u8::is_ascii_alphabetic) {
                continue;
            }
            let mut k = pos + kw.len();
            while matches!(b.get(k), Some(b'*') | Some(b'_')) {
                k += 1;
            }
            if b.get(k) == Some(&b':') {
                best = Some((pos, k + 1));
                break;
            }
        }
    }
    let (_, after) = best?;
    let rest = text.get(after..)?.trim_start();
    let mut parts: Vec<&str> = Vec::new();
    let mut chars = 0usize;
    for l in rest.lines() {
        if l.trim().is_empty() || chars > MAX_DECISION_CHARS * 4 {
            break;
        }
        chars += l.len();
        parts.push(l);
    }
    let d = finish_decision(&parts);
    (!d.is_empty()).then_some(d)
}

fn heading_decision(lines: &[&str]) -> Option<String> {
    let mut found = None;
    for (i, line) in lines.iter().enumerate() {
        if let Some(h) = heading(line) {
            let h = h.trim_matches(['*', '_', ':', ' ']).to_ascii_lowercase();
            if matches!(h.as_str(), "conclusion" | "recommendation" | "final answer") {
                found = Some(i);
            }
        }
    }
    let d = paragraph_from(lines, "", found? + 1);
    (!d.is_empty()).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_decision_line_wins_over_earlier_keywords() {
        let t = "Plan: try things\n\nMore thinking.\n\nDecision: use SQLite\n";
        assert_eq!(extract_decision(t).as_deref(), Some("use SQLite"));
    }

    #[test]
    fn seed_keywords() {
        assert_eq!(
            extract_decision("I recommend: ship it\nnow\n\nlater").as_deref(),
            Some("ship it\nnow")
        );
        assert_eq!(
            extract_decision("**Conclusion**: done").as_deref(),
            Some("done")
        );
        assert_eq!(extract_decision("replan: no"), None);
        assert_eq!(extract_decision("nothing here"), None);
        assert_eq!(extract_decision("Decision:"), None);
    }

    #[test]
    fn headings() {
        assert_eq!(
            extract_decision("## Decision\n\nGo with B.\n\nWhy: ...").as_deref(),
            Some("Go with B.")
        );
        assert_eq!(
            extract_decision("## Conclusion\nUse the cache.\n").as_deref(),
            Some("Use the cache.")
        );
    }
}
