//! Reading an answer to [`crate::decision_prompt`]: each option's pros, risks and score, and the
//! option chosen.
//!
//! **Sections.** A line starts an option's section when, with heading hashes, list markers and bold
//! removed, it starts with `Option <n>` (or `Option <letter>`) for an option in range, or with an
//! option's text followed by nothing or by `:`, `(`, `-`, `–`, `—`, `|` or `.` (the longest such
//! option wins). Within a section, `Pros:` (also `Pro`, `Advantages`, `Benefits`, `Strengths`,
//! `Upsides`) and `Risks:` (also `Risk`, `Cons`, `Con`, `Disadvantages`, `Drawbacks`, `Weaknesses`,
//! `Downsides`) take the rest of the line split at semicolons and the list items that follow;
//! `Score:` (also `Rating`, `Overall score`, `Final score`) takes the first number after it, or
//! failing that a number right after `score` or `rating` on a line of the section that is not a pro
//! or a risk (`(score 7/10)`, `score of 6`). Scores out of another scale are rescaled (`4/5` is 8,
//! `80%` is 8) and clamped to `[0, 10]`; the first score of a section counts.
//!
//! **Choice.** The last `Chosen:` line (also `Chosen option:`), else the last line labelled
//! `Choice`, `Final choice`, `My choice`, `Decision`, `Final decision`, `Selected`, `Selected
//! option`, `Selection`, `Recommendation`, `Final answer`, `I choose` or `I recommend`, names the
//! option (on the next line when the label stands alone). It is matched to an option exactly; else
//! case- and whitespace-insensitively; else by containment at word boundaries: the one option the
//! answer contains, setting aside options that are part of a longer option it contains (`SQLite
//! with WAL` beats `SQLite`; `Postgres or SQLite` names neither); else the only option that
//! contains the answer; else by `Option <n>` or a bare number. When no line names one of the
//! options, the option with the highest score is chosen if no other option has that score.
//! Otherwise `chosen` is `None`.
//!
//! At most [`MAX_NOTES`] pros and risks per option, each at most [`MAX_STEP_CHARS`] chars. Work is
//! linear in the text times the number of options.

use serde::{Deserialize, Serialize};

use crate::number::numbers;
use crate::steps::item_marker;
use crate::text::{cap_input, clean_inline, contains_word, normalise, split_indent};
use crate::{MAX_NOTES, MAX_STEP_CHARS};

/// What the answer says about one option.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OptionEvaluation {
    /// Index of the option in the slice given to [`parse_decision`].
    pub option: usize,
    /// Its score, in `[0, 10]`.
    pub score: Option<f64>,
    /// Its risks.
    pub risks: Vec<String>,
    /// Its advantages.
    pub pros: Vec<String>,
}

/// A parsed decision answer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DecisionParse {
    /// Index of the chosen option, always less than the number of options.
    pub chosen: Option<usize>,
    /// The options the answer discusses, by index, at most one each.
    pub evaluations: Vec<OptionEvaluation>,
}

impl DecisionParse {
    /// The evaluation of option `option`, if the answer has one.
    pub fn evaluation(&self, option: usize) -> Option<&OptionEvaluation> {
        self.evaluations.iter().find(|e| e.option == option)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Field {
    Pros,
    Risks,
    Score,
}

const FIELD_LABELS: [(&str, Field); 18] = [
    ("overall score", Field::Score),
    ("final score", Field::Score),
    ("score", Field::Score),
    ("rating", Field::Score),
    ("advantages", Field::Pros),
    ("benefits", Field::Pros),
    ("strengths", Field::Pros),
    ("upsides", Field::Pros),
    ("pros", Field::Pros),
    ("pro", Field::Pros),
    ("disadvantages", Field::Risks),
    ("drawbacks", Field::Risks),
    ("weaknesses", Field::Risks),
    ("downsides", Field::Risks),
    ("risks", Field::Risks),
    ("risk", Field::Risks),
    ("cons", Field::Risks),
    ("con", Field::Risks),
];

/// Choice labels; `true` for the primary `Chosen:` label.
const CHOICE_LABELS: [(&str, bool); 15] = [
    ("chosen option", true),
    ("chosen", true),
    ("final choice", false),
    ("my choice", false),
    ("choice", false),
    ("final decision", false),
    ("decision", false),
    ("selected option", false),
    ("selected", false),
    ("selection", false),
    ("recommendation", false),
    ("final answer", false),
    ("i choose", false),
    ("i recommend", false),
    ("recommended option", false),
];

/// Removes indentation, quote marks, heading hashes, list markers and emphasis from the
/// start of a line.
fn strip_decor(line: &str) -> &str {
    let mut s = line.trim();
    loop {
        let before = s.len();
        s = s.trim_start_matches(['>', '#']).trim_start();
        if let Some((_, after)) = item_marker(s) {
            s = after.trim_start();
        }
        s = s.trim_start_matches(['*', '_']).trim_start();
        if s.len() == before {
            return s;
        }
    }
}

/// `label`, then emphasis or spaces, an optional parenthesis, then `:`; the text after.
fn labelled<'a>(lower: &'a str, label: &str) -> Option<&'a str> {
    let rest = lower.strip_prefix(label)?;
    if rest.chars().next().is_some_and(char::is_alphanumeric) {
        return None;
    }
    let mut rest = rest.trim_start_matches(['*', '_', ' ']);
    if rest.starts_with('(')
        && let Some(close) = rest.get(..rest.len().min(40)).and_then(|h| h.find(')'))
    {
        rest = rest
            .get(close + 1..)
            .unwrap_or("")
            .trim_start_matches(['*', '_', ' ']);
    }
    let rest = rest.strip_prefix(':')?;
    Some(rest.trim_start_matches(['*', '_', ' ']))
}

fn field_label(lower: &str) -> Option<(Field, &str)> {
    FIELD_LABELS
        .iter()
        .find_map(|(l, f)| labelled(lower, l).map(|rest| (*f, rest)))
}

fn choice_label(lower: &str) -> Option<(bool, &str)> {
    CHOICE_LABELS
        .iter()
        .find_map(|(l, p)| labelled(lower, l).map(|rest| (*p, rest)))
}

/// `option 2`, `option #2`, `option b`: the index, if in range.
fn option_number(lower: &str, n: usize) -> Option<usize> {
    let tail = lower.strip_prefix("option")?;
    let rest = tail.trim_start_matches([' ', '#']);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let (idx, after) = if digits.is_empty() {
        if rest.len() == tail.len() {
            return None; // `options`, `optional`: a letter needs a space before it
        }
        let c = rest.chars().next().filter(char::is_ascii_lowercase)?;
        (usize::from(c as u8 - b'a'), rest.get(1..).unwrap_or(""))
    } else if digits.len() <= 4 {
        let k: usize = digits.parse().ok()?;
        (k.checked_sub(1)?, rest.get(digits.len()..).unwrap_or(""))
    } else {
        return None;
    };
    if after.chars().next().is_some_and(char::is_alphanumeric) {
        return None;
    }
    (idx < n).then_some(idx)
}

fn option_header(lower: &str, norm: &[String]) -> Option<usize> {
    if let Some(i) = option_number(lower, norm.len()) {
        return Some(i);
    }
    let mut best: Option<(usize, usize)> = None;
    for (i, o) in norm.iter().enumerate() {
        if o.is_empty() || best.is_some_and(|(_, len)| o.len() <= len) {
            continue;
        }
        let Some(rest) = lower.strip_prefix(o.as_str()) else {
            continue;
        };
        let r = rest.trim_start_matches(['*', '_']).trim_start();
        if r.is_empty() || r.starts_with([':', '(', '-', '–', '—', '|', '.']) {
            best = Some((i, o.len()));
        }
    }
    best.map(|(i, _)| i)
}

/// A score on a 0–10 scale from the first number in `s`.
fn score_in(s: &str) -> Option<f64> {
    let n = numbers(s).next()?;
    let v = match n.denominator {
        Some(d) if d > 0.0 => n.value / d * 10.0,
        Some(_) => return None,
        None if n.percent => n.value / 10.0,
        None => n.value,
    };
    v.is_finite().then(|| v.clamp(0.0, 10.0))
}

/// A number right after `score` or `rating` in the line (`score 7/10`, `rating: 8`,
/// `score of 6`, `score is 9`).
fn inline_score(lower: &str) -> Option<f64> {
    for k in ["score", "rating"] {
        for (p, _) in lower.match_indices(k) {
            let rest = lower.get(p + k.len()..).unwrap_or("");
            let rest = rest.trim_start_matches([' ', ':', '=', '*', '_']);
            let rest = rest
                .strip_prefix("of ")
                .or_else(|| rest.strip_prefix("is "))
                .unwrap_or(rest)
                .trim_start();
            if rest.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
                return score_in(rest);
            }
        }
    }
    None
}

fn push_note(list: &mut Vec<String>, text: &str) {
    if list.len() >= MAX_NOTES {
        return;
    }
    let t = clean_inline(&text.replace("**", ""), MAX_STEP_CHARS);
    if !t.is_empty() {
        list.push(t);
    }
}

fn push_notes(ev: &mut OptionEvaluation, field: Field, rest: &str) {
    let list = match field {
        Field::Pros => &mut ev.pros,
        Field::Risks => &mut ev.risks,
        Field::Score => return,
    };
    for part in rest.split(';') {
        push_note(list, part);
    }
}

fn clean_choice(value: &str) -> &str {
    value.trim_matches(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '*' | '_' | '`' | '"' | '\'' | '“' | '”' | '‘' | '’' | '.' | '!'
            )
    })
}

/// Matches a named choice to an option (see the [module docs](self)).
fn match_choice(value: &str, options: &[String], norm: &[String]) -> Option<usize> {
    let raw = clean_choice(value);
    if raw.is_empty() {
        return None;
    }
    if let Some(i) = options
        .iter()
        .position(|o| !o.trim().is_empty() && o.trim() == raw)
    {
        return Some(i);
    }
    let v = normalise(raw);
    if let Some(i) = norm.iter().position(|o| !o.is_empty() && *o == v) {
        return Some(i);
    }
    // The longest option contained in the answer, if unique (identical texts count once).
    let contained: Vec<usize> = (0..norm.len())
        .filter(|&i| norm.get(i).is_some_and(|o| contains_word(&v, o)))
        .collect();
    let unique = |ids: &[usize]| -> Option<usize> {
        let first = *ids.first()?;
        let text = norm.get(first)?;
        ids.iter()
            .all(|&i| norm.get(i) == Some(text))
            .then_some(first)
    };
    if !contained.is_empty() {
        // Options contained in another contained option ("SQLite" in "SQLite with WAL")
        // are subsumed by it.
        let text = |i: usize| norm.get(i).map_or("", String::as_str);
        let best: Vec<usize> = contained
            .iter()
            .copied()
            .filter(|&i| {
                !contained
                    .iter()
                    .any(|&j| text(j) != text(i) && contains_word(text(j), text(i)))
            })
            .collect();
        if let Some(i) = unique(&best) {
            return Some(i);
        }
    } else if v.chars().count() >= 2 {
        let containers: Vec<usize> = (0..norm.len())
            .filter(|&i| norm.get(i).is_some_and(|o| contains_word(o, &v)))
            .collect();
        if let Some(i) = unique(&containers) {
            return Some(i);
        }
    }
    if let Some(i) = option_number(&v, options.len()) {
        return Some(i);
    }
    let bare = v.trim_start_matches('#');
    if !bare.is_empty() && bare.len() <= 4 && bare.chars().all(|c| c.is_ascii_digit()) {
        let k: usize = bare.parse().ok()?;
        return k.checked_sub(1).filter(|&i| i < options.len());
    }
    None
}

fn best_score(evals: &[OptionEvaluation]) -> Option<usize> {
    let top = evals
        .iter()
        .filter_map(|e| e.score)
        .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))))?;
    let mut at_top = evals.iter().filter(|e| e.score == Some(top));
    let first = at_top.next()?;
    at_top.next().is_none().then_some(first.option)
}

/// Parses an answer to [`crate::decision_prompt`] against the options it was asked about
/// (see the [module docs](self)). Total: never panics; `chosen` and every evaluation's
/// `option` are less than `options.len()`.
pub fn parse_decision(text: &str, options: &[String]) -> DecisionParse {
    let text = cap_input(text);
    let norm: Vec<String> = options.iter().map(|o| normalise(o)).collect();
    let mut evals: Vec<Option<OptionEvaluation>> = (0..options.len()).map(|_| None).collect();
    let mut current: Option<usize> = None;
    let mut list: Option<Field> = None;
    let mut chosen_primary: Option<String> = None;
    let mut chosen_other: Option<String> = None;
    let mut pending: Option<bool> = None;

    for line in text.lines() {
        let body = strip_decor(line);
        if body.is_empty() {
            continue;
        }
        let lower = normalise(body);
        if let Some(primary) = pending.take() {
            let slot = if primary {
                &mut chosen_primary
            } else {
                &mut chosen_other
            };
            *slot = Some(body.to_string());
            continue;
        }
        if let Some((primary, rest)) = choice_label(&lower) {
            // `rest` is normalised; take the same tail of the original where possible.
            let value = original_tail(body, rest);
            if clean_choice(&value).is_empty() {
                pending = Some(primary);
            } else if primary {
                chosen_primary = Some(value);
            } else {
                chosen_other = Some(value);
            }
            if primary {
                current = None;
            }
            list = None;
            continue;
        }
        let ev = current
            .and_then(|i| evals.get_mut(i))
            .and_then(Option::as_mut);
        if let Some(ev) = ev
            && let Some((field, rest)) = field_label(&lower)
        {
            match field {
                Field::Score => {
                    list = None;
                    if ev.score.is_none() {
                        ev.score = score_in(rest);
                    }
                }
                Field::Pros | Field::Risks => {
                    list = Some(field);
                    push_notes(ev, field, &original_tail(body, rest));
                }
            }
            continue;
        }
        if let Some(i) = option_header(&lower, &norm)
            && let Some(slot) = evals.get_mut(i)
        {
            current = Some(i);
            list = None;
            let ev = slot.get_or_insert_with(|| OptionEvaluation {
                option: i,
                ..OptionEvaluation::default()
            });
            if ev.score.is_none() {
                ev.score = inline_score(&lower);
            }
            continue;
        }
        let Some(ev) = current
            .and_then(|i| evals.get_mut(i))
            .and_then(Option::as_mut)
        else {
            continue;
        };
        let (_, rest) = split_indent(line);
        let is_item = item_marker(rest.trim_start_matches('>').trim_start()).is_some();
        match list {
            Some(field) if is_item => push_notes(ev, field, body),
            _ => {
                list = None;
                if ev.score.is_none() {
                    ev.score = inline_score(&lower);
                }
            }
        }
    }

    let evaluations: Vec<OptionEvaluation> = evals.into_iter().flatten().collect();
    let chosen = chosen_primary
        .as_deref()
        .and_then(|v| match_choice(v, options, &norm))
        .or_else(|| {
            chosen_other
                .as_deref()
                .and_then(|v| match_choice(v, options, &norm))
        })
        .or_else(|| best_score(&evaluations));
    DecisionParse {
        chosen,
        evaluations,
    }
}

/// The part of `body` that corresponds to the normalised tail `rest` of its normalised
/// form: the text after the first colon when `rest` came from a label, else `rest` itself.
fn original_tail(body: &str, rest: &str) -> String {
    match body.find(':') {
        Some(p) => body
            .get(p + 1..)
            .unwrap_or("")
            .trim_start_matches(['*', '_', ' '])
            .to_string(),
        None => rest.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn matching_rules() {
        let o = opts(&["SQLite", "SQLite with WAL", "Postgres"]);
        let n: Vec<String> = o.iter().map(|s| normalise(s)).collect();
        assert_eq!(match_choice("SQLite", &o, &n), Some(0));
        assert_eq!(match_choice("postgres", &o, &n), Some(2));
        assert_eq!(match_choice("**Postgres**.", &o, &n), Some(2));
        assert_eq!(match_choice("Use SQLite with WAL mode", &o, &n), Some(1));
        assert_eq!(match_choice("Option 3", &o, &n), Some(2));
        assert_eq!(match_choice("2", &o, &n), Some(1));
        assert_eq!(match_choice("Postgres or SQLite", &o, &n), None);
        assert_eq!(match_choice("Option 9", &o, &n), None);
        assert_eq!(match_choice("gres", &o, &n), None);
    }

    #[test]
    fn labels() {
        assert!(field_label("score (0-10): 7").is_some());
        assert!(field_label("prosecution: no").is_none());
        assert_eq!(choice_label("chosen: x"), Some((true, "x")));
        assert_eq!(option_number("options: 1", 30), None);
        assert_eq!(option_number("option 2: foo", 3), Some(1));
        assert_eq!(option_number("option b", 3), Some(1));
        assert_eq!(option_number("optional", 3), None);
        assert_eq!(option_number("option 4", 3), None);
    }
}
