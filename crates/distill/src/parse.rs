//! Total parsers for the two LLM answers: the grouping JSON and the
//! `PATTERN:` / `APPLICABILITY:` / `CONFIDENCE:` distillation.
//!
//! Neither parser panics on any input; each returns `None` or an error that says what
//! was wrong, and the distiller falls back (to the embedding groups, to extractive
//! distillation).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A group distilled into one general pattern, as the seed's `DistilledKnowledge`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distilled {
    /// The generalised solution template (stored as the pattern's solution).
    pub pattern: String,
    /// When to use it (stored as the pattern's context).
    pub applicability: String,
    /// How reliable it is, in `[0, 1]`.
    pub confidence: f64,
}

/// Parses a distillation answer.
///
/// Recognises `PATTERN:`, `APPLICABILITY:` and `CONFIDENCE:` lines in any order and any
/// case, with optional Markdown decoration (`**PATTERN:**`, `- Pattern:`, `## Pattern:`).
/// A field's value is the rest of its line plus every following line up to the next
/// field, trimmed, so multi-line templates (code) survive. The confidence is the first
/// number in its field (a percentage when followed by `%`), clamped to `[0, 1]`.
///
/// Returns `None` unless all three fields are present and non-empty and the confidence
/// is a finite number: a partial answer is not trusted.
///
/// ```
/// let d = distill::parse_distilled(
///     "confidence: 1.7\nPATTERN: retry with backoff\nApplicability: flaky network calls",
/// )
/// .unwrap();
/// assert_eq!(d.pattern, "retry with backoff");
/// assert_eq!(d.applicability, "flaky network calls");
/// assert_eq!(d.confidence, 1.0);
/// assert!(distill::parse_distilled("PATTERN: only this").is_none());
/// ```
pub fn parse_distilled(text: &str) -> Option<Distilled> {
    #[derive(Clone, Copy, PartialEq)]
    enum Field {
        Pattern,
        Applicability,
        Confidence,
    }
    let mut values: [Option<String>; 3] = [None, None, None];
    let mut current: Option<Field> = None;
    for line in text.lines() {
        if let Some((field, rest)) = field_line(line) {
            let f = match field.as_str() {
                "pattern" => Field::Pattern,
                "applicability" => Field::Applicability,
                _ => Field::Confidence,
            };
            current = Some(f);
            // A repeated field starts over: the last one wins.
            values[f as usize] = Some(rest.to_owned());
        } else if let Some(f) = current
            && let Some(v) = values[f as usize].as_mut()
        {
            v.push('\n');
            v.push_str(line);
        }
    }
    let [pattern, applicability, confidence] = values;
    let pattern = clean_value(&pattern?);
    let applicability = clean_value(&applicability?);
    let confidence = parse_confidence(&confidence?)?;
    if pattern.is_empty() || applicability.is_empty() {
        return None;
    }
    Some(Distilled {
        pattern,
        applicability,
        confidence,
    })
}

/// If `line` starts a field, its lower-cased name and the rest of the line.
fn field_line(line: &str) -> Option<(String, &str)> {
    let stripped = line.trim_start_matches(|c: char| c.is_whitespace() || "*#->_`".contains(c));
    let (key, rest) = stripped.split_once(':')?;
    let key = key
        .trim_matches(|c: char| c.is_whitespace() || "*_`".contains(c))
        .to_lowercase();
    match key.as_str() {
        "pattern" | "applicability" | "confidence" => {
            Some((key, rest.trim_start_matches(|c: char| "*_`".contains(c))))
        }
        _ => None,
    }
}

fn clean_value(v: &str) -> String {
    let t = v.trim();
    // Strip a code fence around the whole value, keeping what is inside.
    let t = t
        .strip_prefix("```")
        .map(|inner| {
            let inner = inner.split_once('\n').map_or("", |(_, body)| body);
            inner.trim_end().strip_suffix("```").unwrap_or(inner)
        })
        .unwrap_or(t);
    t.trim().to_owned()
}

/// The first number in `v`, `%` meaning a percentage, clamped to `[0, 1]`.
fn parse_confidence(v: &str) -> Option<f64> {
    let start = v.find(|c: char| c.is_ascii_digit() || c == '.')?;
    let tail = &v[start..];
    let end = tail
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(tail.len());
    let number: f64 = tail[..end].parse().ok()?;
    if !number.is_finite() {
        return None;
    }
    let percent = tail[end..].trim_start().starts_with('%');
    let negative = v[..start].trim_end().ends_with('-');
    let x = if percent { number / 100.0 } else { number };
    let x = if negative { -x } else { x };
    Some(x.clamp(0.0, 1.0))
}

/// Why an LLM grouping answer was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupingError {
    /// No JSON value could be read from the answer.
    #[error("the answer holds no JSON")]
    NoJson,
    /// The JSON is not `{"groups": [[...], ...]}` or a bare array of arrays.
    #[error("the answer is not an array of arrays of indices")]
    Shape,
    /// An index is not an integer in `1..=n`.
    #[error("index {index} is out of range 1..={n}")]
    OutOfRange {
        /// The index as written.
        index: String,
        /// How many patterns there are.
        n: usize,
    },
    /// An index appears twice.
    #[error("index {0} appears more than once")]
    Duplicate(usize),
    /// A group is empty.
    #[error("group {0} is empty")]
    EmptyGroup(usize),
}

/// Parses and validates an LLM grouping answer over `n` patterns numbered from 1, as in
/// the seed's prompt (`{"groups": [[1,2,3], [4,5]]}`; a bare `[[1,2],[3]]` is accepted
/// too, and so is JSON wrapped in prose or a code fence).
///
/// Returns 0-based groups: every index in range, none repeated, no group empty; each
/// index not mentioned becomes a group of its own, appended in index order. Anything
/// else is an error: the whole answer is rejected rather than partly trusted.
///
/// ```
/// assert_eq!(
///     distill::parse_groups(r#"{"groups": [[1, 3], [2]]}"#, 4),
///     Ok(vec![vec![0, 2], vec![1], vec![3]])
/// );
/// assert!(distill::parse_groups("[[1, 9]]", 4).is_err());
/// assert!(distill::parse_groups("[[1, 2], [2]]", 4).is_err());
/// ```
pub fn parse_groups(text: &str, n: usize) -> Result<Vec<Vec<usize>>, GroupingError> {
    let value = extract_json(text).ok_or(GroupingError::NoJson)?;
    let groups = match &value {
        Value::Object(map) => map.get("groups").ok_or(GroupingError::Shape)?,
        v @ Value::Array(_) => v,
        _ => return Err(GroupingError::Shape),
    };
    let Value::Array(groups) = groups else {
        return Err(GroupingError::Shape);
    };
    let mut seen = vec![false; n];
    let mut out = Vec::with_capacity(groups.len());
    for (g, group) in groups.iter().enumerate() {
        let Value::Array(items) = group else {
            return Err(GroupingError::Shape);
        };
        if items.is_empty() {
            return Err(GroupingError::EmptyGroup(g + 1));
        }
        let mut members = Vec::with_capacity(items.len());
        for item in items {
            let index = match item {
                Value::Number(x) => x.as_u64().and_then(|i| usize::try_from(i).ok()),
                Value::String(s) => s.trim().parse::<usize>().ok(),
                _ => None,
            };
            let Some(i) = index.filter(|i| (1..=n).contains(i)) else {
                return Err(GroupingError::OutOfRange {
                    index: item.to_string(),
                    n,
                });
            };
            let slot = seen.get_mut(i - 1).ok_or(GroupingError::OutOfRange {
                index: item.to_string(),
                n,
            })?;
            if *slot {
                return Err(GroupingError::Duplicate(i));
            }
            *slot = true;
            members.push(i - 1);
        }
        out.push(members);
    }
    for (i, s) in seen.iter().enumerate() {
        if !s {
            out.push(vec![i]);
        }
    }
    Ok(out)
}

/// The first JSON object or array in `text`: the whole text, or the span from the first
/// `{` or `[` to the last matching closer.
fn extract_json(text: &str) -> Option<Value> {
    let t = text.trim();
    if let Ok(v) = serde_json::from_str::<Value>(t) {
        return Some(v);
    }
    for (open, close) in [('{', '}'), ('[', ']')] {
        if let (Some(a), Some(b)) = (t.find(open), t.rfind(close))
            && a < b
            && let Ok(v) = serde_json::from_str::<Value>(&t[a..=b])
        {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fields_in_any_order_and_case_with_markdown() {
        let d = parse_distilled(
            "Here you go.\n**Confidence:** 85%\n- applicability: when X\n  and Y\n## PATTERN:\n```rust\nfoo(<x>)\n```\n",
        )
        .unwrap();
        assert_eq!(d.confidence, 0.85);
        assert_eq!(d.applicability, "when X\n  and Y");
        assert_eq!(d.pattern, "foo(<x>)");
    }

    #[test]
    fn missing_or_bad_fields_are_none() {
        assert!(parse_distilled("").is_none());
        assert!(parse_distilled("PATTERN: a\nAPPLICABILITY: b").is_none());
        assert!(parse_distilled("PATTERN: a\nAPPLICABILITY: b\nCONFIDENCE: high").is_none());
        assert!(parse_distilled("PATTERN:\nAPPLICABILITY: b\nCONFIDENCE: 0.5").is_none());
        let d = parse_distilled("PATTERN: a\nAPPLICABILITY: b\nCONFIDENCE: -3").unwrap();
        assert_eq!(d.confidence, 0.0, "clamped");
    }

    #[test]
    fn groups_are_validated() {
        assert_eq!(
            parse_groups("Sure:\n```json\n{\"groups\": [[2,1],[\"4\"]]}\n```", 4),
            Ok(vec![vec![1, 0], vec![3], vec![2]])
        );
        assert_eq!(parse_groups("nothing", 3), Err(GroupingError::NoJson));
        assert_eq!(parse_groups("{\"g\": 1}", 3), Err(GroupingError::Shape));
        assert_eq!(
            parse_groups("[[1],[]]", 3),
            Err(GroupingError::EmptyGroup(2))
        );
        assert_eq!(parse_groups("[[1,1]]", 3), Err(GroupingError::Duplicate(1)));
        assert!(matches!(
            parse_groups("[[0]]", 3),
            Err(GroupingError::OutOfRange { .. })
        ));
        assert!(matches!(
            parse_groups("[[1.5]]", 3),
            Err(GroupingError::OutOfRange { .. })
        ));
        assert_eq!(parse_groups("[]", 2), Ok(vec![vec![0], vec![1]]));
    }
}
