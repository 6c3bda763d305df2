//! Steps as a tree, read from the lists a model writes.
//!
//! [`parse_steps`] reads numbered (`1.`, `1)`, `(1)`, `1.2.`, `1.2`, `Step 3:`), lettered
//! (`a.`, `b)`) and bulleted (`-`, `*`, `+`, `•`, `◦`, `▪`, `‣`) items, and headings that
//! carry one (`## 1. Setup`, `### Step 2: Build`). Nesting follows the model's:
//!
//! - an item indented deeper than an open item is its child;
//! - at the same indentation, a deeper number is a child (`1.1` under `1.`), and so are
//!   letters under numbers and bullets under numbers or letters; a heading item holds
//!   everything up to the next heading;
//! - a line of text indented deeper than the open item continues its text; text at or left
//!   of it closes the item (a heading item stays open until the next heading), and a
//!   heading without an item or a horizontal rule closes them all;
//! - code fences tagged with a language other than markdown or text are skipped; the fence
//!   lines themselves never break a list.
//!
//! Bold markers (`**`) and checkboxes (`[ ]`, `[x]`) are removed from the text; whitespace
//! collapses to single spaces. A tree is at most [`MAX_DEPTH`] deep (deeper items become
//! siblings at the last level) and holds at most [`MAX_STEPS`] steps (later items are
//! dropped); a step's text is at most [`MAX_STEP_CHARS`] chars. An item whose text is empty
//! gives its children to its parent.
//!
//! When the text has no list at all, the seed's flat extraction is the fallback: the seed's
//! regex `\d+\.\s*(.+?)(?=\n\d+\.|\n\n|$)` (dot matches newline), with two refinements: a
//! number glued to a letter or dot before it, or a decimal (`2.0`), is not a step marker,
//! and empty steps are dropped.

use serde::{Deserialize, Serialize};

use crate::text::{clean_step, fence, heading, split_indent, strip_prefix_ci};
use crate::{MAX_DEPTH, MAX_STEP_CHARS, MAX_STEPS};

/// One step of a plan or of a chain of thought, with its sub-steps.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Step {
    /// What to do, on one line.
    pub text: String,
    /// Sub-steps, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Step>,
}

impl Step {
    /// A step with no sub-steps.
    pub fn new(text: impl Into<String>) -> Self {
        Step {
            text: text.into(),
            children: Vec::new(),
        }
    }

    /// This step with `child` appended to its sub-steps.
    #[must_use]
    pub fn with_child(mut self, child: Step) -> Self {
        self.children.push(child);
        self
    }

    /// Levels in this subtree: 1 for a step with no sub-steps.
    pub fn depth(&self) -> usize {
        1 + tree_depth(&self.children)
    }

    /// Steps in this subtree, this one included.
    pub fn count(&self) -> usize {
        1 + tree_size(&self.children)
    }
}

/// Levels in a forest of steps: 0 when empty.
pub fn tree_depth(steps: &[Step]) -> usize {
    steps.iter().map(Step::depth).max().unwrap_or(0)
}

/// Steps in a forest, sub-steps included.
pub fn tree_size(steps: &[Step]) -> usize {
    steps.iter().map(Step::count).sum()
}

/// Writes steps as the nested numbered list the planning prompt asks for:
/// `1. text`, then `   1.1 text` three spaces deeper per level. [`parse_steps`] reads it
/// back to the same tree when each text is a single line that does not itself start with a
/// list marker.
pub fn render_steps(steps: &[Step]) -> String {
    let mut out = String::new();
    let mut path = Vec::new();
    render_level(steps, &mut path, &mut out);
    out
}

fn render_level(steps: &[Step], path: &mut Vec<usize>, out: &mut String) {
    for (i, step) in steps.iter().enumerate() {
        path.push(i + 1);
        for _ in 1..path.len() {
            out.push_str("   ");
        }
        let numbers: Vec<String> = path.iter().map(usize::to_string).collect();
        out.push_str(&numbers.join("."));
        if path.len() == 1 {
            out.push('.');
        }
        out.push(' ');
        out.push_str(&crate::prompt::one_line(&step.text));
        out.push('\n');
        render_level(&step.children, path, out);
        path.pop();
    }
}

/// Rank of a marker at equal indentation: a lower rank holds a higher one.
const RANK_HEADING: u8 = 0;
const RANK_LETTER: u8 = 50;
const RANK_BULLET: u8 = 100;

const BULLETS: [char; 7] = ['-', '*', '+', '•', '◦', '▪', '‣'];

/// If `s` (with its indentation removed) starts with a list marker: the marker's rank and
/// the text after it.
pub(crate) fn item_marker(s: &str) -> Option<(u8, &str)> {
    let first = s.chars().next()?;
    if BULLETS.contains(&first) {
        let after = s.get(first.len_utf8()..).unwrap_or("");
        if after.is_empty() || after.starts_with(char::is_whitespace) {
            return Some((RANK_BULLET, strip_checkbox(after)));
        }
    }
    let (body, emph) = match s.get(..2) {
        Some("**") | Some("__") => (s.get(2..).unwrap_or(""), true),
        _ => (s, false),
    };
    step_word(body, emph)
        .or_else(|| numbered(body, emph))
        .or_else(|| lettered(body))
}

fn strip_checkbox(s: &str) -> &str {
    let t = s.trim_start();
    for b in ["[ ]", "[x]", "[X]"] {
        if let Some(rest) = t.strip_prefix(b)
            && (rest.is_empty() || rest.starts_with(char::is_whitespace))
        {
            return rest;
        }
    }
    s
}

/// Digits (one to three) and dot-separated further components: the component count and the
/// end, or `None`.
fn number_path(b: &[u8], mut i: usize) -> Option<(usize, usize, bool)> {
    let mut comps = 0usize;
    let mut trailing_dot = false;
    loop {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let n = i - start;
        if n == 0 && comps > 0 && trailing_dot {
            break;
        }
        if n == 0 || n > 3 {
            return None;
        }
        comps += 1;
        trailing_dot = false;
        if b.get(i) == Some(&b'.') {
            i += 1;
            trailing_dot = true;
            continue;
        }
        break;
    }
    Some((comps, i, trailing_dot))
}

fn rank_of(comps: usize) -> u8 {
    u8::try_from(comps.clamp(1, 7)).unwrap_or(7)
}

fn skip_emph(body: &str, i: usize, emph: bool) -> usize {
    if emph && matches!(body.get(i..i + 2), Some("**") | Some("__")) {
        i + 2
    } else {
        i
    }
}

fn followed_by_space(body: &str, i: usize) -> Option<&str> {
    let after = body.get(i..)?;
    (after.is_empty() || after.starts_with(char::is_whitespace)).then_some(after)
}

/// `1.`, `1)`, `(1)`, `1.2.`, `1.2`, `1.2)`.
fn numbered(body: &str, emph: bool) -> Option<(u8, &str)> {
    let b = body.as_bytes();
    let paren = b.first() == Some(&b'(');
    let (comps, mut i, trailing_dot) = number_path(b, usize::from(paren))?;
    if paren {
        if b.get(i) != Some(&b')') {
            return None;
        }
        i += 1;
    } else if !trailing_dot {
        if b.get(i) == Some(&b')') {
            i += 1;
        } else if comps < 2 {
            return None;
        }
    }
    let i = skip_emph(body, i, emph);
    Some((rank_of(comps), followed_by_space(body, i)?))
}

/// `Step 3:`, `Step 3.`, `Step 3 -`, `Step 1.2:`, `**Step 3:**`.
fn step_word(body: &str, emph: bool) -> Option<(u8, &str)> {
    let rest = strip_prefix_ci(body, "step")?;
    let offset = body.len() - rest.len();
    let spaces = rest.len() - rest.trim_start_matches(' ').len();
    let b = body.as_bytes();
    let (comps, mut i, trailing_dot) = number_path(b, offset + spaces)?;
    i = skip_emph(body, i, emph);
    if !trailing_dot && matches!(b.get(i), Some(b':') | Some(b')')) {
        i += 1;
    }
    i = skip_emph(body, i, emph);
    let after = body.get(i..)?;
    let trimmed = after.trim_start();
    let after = match trimmed.chars().next() {
        Some(c @ ('-' | '–' | '—')) if trimmed.len() < after.len() => {
            trimmed.get(c.len_utf8()..).unwrap_or("")
        }
        _ => after,
    };
    if after.is_empty() || after.starts_with(char::is_whitespace) {
        Some((rank_of(comps), after))
    } else {
        None
    }
}

/// `a.`, `b)`, `(c)` followed by a space.
fn lettered(body: &str) -> Option<(u8, &str)> {
    let b = body.as_bytes();
    let (i, close) = if b.first() == Some(&b'(') {
        (1, b')')
    } else {
        (0, 0)
    };
    if !b.get(i).is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    let term = b.get(i + 1)?;
    let ok = if close == b')' {
        *term == b')'
    } else {
        *term == b'.' || *term == b')'
    };
    if !ok {
        return None;
    }
    let after = body.get(i + 2..)?;
    if after.starts_with(char::is_whitespace) {
        Some((RANK_LETTER, after))
    } else {
        None
    }
}

/// A horizontal rule or setext underline: three or more of one of `-`, `*`, `_`, `=`.
fn is_rule(s: &str) -> bool {
    let mut kind = None;
    let mut n = 0;
    for c in s.chars() {
        match c {
            ' ' | '\t' => {}
            '-' | '*' | '_' | '=' if kind.is_none() || kind == Some(c) => {
                kind = Some(c);
                n += 1;
            }
            _ => return false,
        }
    }
    n >= 3
}

/// Whether a fence's info string marks prose, whose lines are read as usual.
fn prose_fence(info: &str) -> bool {
    let lang = info.split_whitespace().next().unwrap_or("");
    ["", "markdown", "md", "text", "txt", "plain", "plaintext"]
        .iter()
        .any(|p| lang.eq_ignore_ascii_case(p))
}

enum Line<'a> {
    Blank,
    Break,
    Item {
        indent: usize,
        rank: u8,
        text: &'a str,
    },
    Text {
        indent: usize,
        text: &'a str,
    },
}

fn classify(line: &str) -> Line<'_> {
    let (indent, rest) = split_indent(line);
    let rest = rest.trim_end();
    if rest.is_empty() {
        return Line::Blank;
    }
    if let Some(h) = heading(rest) {
        return match item_marker(h) {
            Some((_, text)) => Line::Item {
                indent,
                rank: RANK_HEADING,
                text,
            },
            None => Line::Break,
        };
    }
    if is_rule(rest) {
        return Line::Break;
    }
    match item_marker(rest) {
        Some((rank, text)) => Line::Item { indent, rank, text },
        None => Line::Text { indent, text: rest },
    }
}

struct Node {
    raw: String,
    children: Vec<usize>,
}

struct Open {
    node: usize,
    indent: usize,
    rank: u8,
}

/// Raw text kept per step before cleaning: enough for [`MAX_STEP_CHARS`] after collapsing.
const RAW_CAP: usize = MAX_STEP_CHARS * 8;

fn push_raw(raw: &mut String, text: &str) {
    if raw.len() >= RAW_CAP {
        return;
    }
    if !raw.is_empty() {
        raw.push(' ');
    }
    raw.push_str(crate::text::prefix_bytes(text, RAW_CAP));
}

/// Reads the steps of a model's answer as a tree; see the [module docs](self). Total:
/// never panics, linear in the input (of which at most [`crate::MAX_INPUT_BYTES`] is read).
pub fn parse_steps(text: &str) -> Vec<Step> {
    let text = crate::text::cap_input(text);
    let steps = list_steps(text);
    if steps.is_empty() {
        seed_steps(text)
    } else {
        steps
    }
}

/// The list parser alone, without the seed fallback.
pub(crate) fn list_steps(text: &str) -> Vec<Step> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut roots: Vec<usize> = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    // An open code fence: its character, its length, whether its content is skipped.
    let mut open_fence: Option<(char, usize, bool)> = None;

    for line in text.lines() {
        if let Some((ch, len, skip)) = open_fence {
            if let Some((c, l, info)) = fence(line)
                && c == ch
                && l >= len
                && info.is_empty()
            {
                open_fence = None;
                continue;
            }
            if skip {
                continue;
            }
        } else if let Some((ch, len, info)) = fence(line) {
            open_fence = Some((ch, len, !prose_fence(info)));
            continue;
        }
        match classify(line) {
            Line::Blank => {}
            Line::Break => stack.clear(),
            Line::Item { indent, rank, text } => {
                if nodes.len() >= MAX_STEPS {
                    break;
                }
                while let Some(top) = stack.last() {
                    if top.indent < indent || (top.indent == indent && top.rank < rank) {
                        break;
                    }
                    stack.pop();
                }
                if stack.len() >= MAX_DEPTH {
                    stack.truncate(MAX_DEPTH - 1);
                }
                let id = nodes.len();
                let mut raw = String::new();
                push_raw(&mut raw, text);
                nodes.push(Node {
                    raw,
                    children: Vec::new(),
                });
                match stack.last().and_then(|p| nodes.get_mut(p.node)) {
                    Some(parent) => parent.children.push(id),
                    None => roots.push(id),
                }
                stack.push(Open {
                    node: id,
                    indent,
                    rank,
                });
            }
            Line::Text { indent, text } => {
                // Text closes the items it is not indented under; a heading item stays open
                // (its section goes on) but only takes text indented under it.
                while stack
                    .last()
                    .is_some_and(|top| top.indent >= indent && top.rank != RANK_HEADING)
                {
                    stack.pop();
                }
                if let Some(top) = stack.last()
                    && top.indent < indent
                    && let Some(node) = nodes.get_mut(top.node)
                {
                    push_raw(&mut node.raw, text);
                }
            }
        }
    }

    let mut out = Vec::new();
    for &r in &roots {
        build(&nodes, r, &mut out);
    }
    out
}

fn build(nodes: &[Node], id: usize, out: &mut Vec<Step>) {
    let Some(node) = nodes.get(id) else { return };
    let mut children = Vec::new();
    for &c in &node.children {
        build(nodes, c, &mut children);
    }
    let text = clean_step(&node.raw, MAX_STEP_CHARS);
    if text.is_empty() {
        out.extend(children);
    } else {
        out.push(Step { text, children });
    }
}

/// The seed's flat extraction (see the [module docs](self)).
pub(crate) fn seed_steps(text: &str) -> Vec<Step> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() && out.len() < MAX_STEPS {
        let c = b.get(i).copied().unwrap_or(0);
        let prev = i
            .checked_sub(1)
            .and_then(|p| b.get(p))
            .copied()
            .unwrap_or(b' ');
        if !c.is_ascii_digit() || prev.is_ascii_alphanumeric() || prev == b'.' {
            i += 1;
            continue;
        }
        let mut j = i;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if b.get(j) != Some(&b'.') || b.get(j + 1).is_some_and(u8::is_ascii_digit) {
            i = j;
            continue;
        }
        // `\s*`, then at least one character, lazily, up to `\n\d+\.`, `\n\n` or the end.
        let rest = text.get(j + 1..).unwrap_or("");
        let start = j + 1 + (rest.len() - rest.trim_start().len());
        let mut end = start;
        if end < b.len() {
            end = next_char_end(text, end);
            while end < b.len() && !seed_stop(b, end) {
                end += 1;
            }
        }
        while end < b.len() && !text.is_char_boundary(end) {
            end += 1;
        }
        let step = clean_step(text.get(start..end).unwrap_or(""), MAX_STEP_CHARS);
        if !step.is_empty() {
            out.push(Step::new(step));
        }
        i = end.max(j + 1);
    }
    out
}

fn next_char_end(text: &str, i: usize) -> usize {
    text.get(i..)
        .and_then(|s| s.chars().next())
        .map_or(i + 1, |c| i + c.len_utf8())
}

/// Where the seed's lazy capture stops: before `\n\d+\.`, `\n\n`, or a final `\n`.
fn seed_stop(b: &[u8], p: usize) -> bool {
    if b.get(p) != Some(&b'\n') {
        return false;
    }
    if p + 1 == b.len() || b.get(p + 1) == Some(&b'\n') {
        return true;
    }
    let mut q = p + 1;
    while b.get(q).is_some_and(u8::is_ascii_digit) {
        q += 1;
    }
    q > p + 1 && b.get(q) == Some(&b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(|s| s.text.as_str()).collect()
    }

    #[test]
    fn markers() {
        assert_eq!(item_marker("1. a"), Some((1, " a")));
        assert_eq!(item_marker("1) a"), Some((1, " a")));
        assert_eq!(item_marker("(2) a"), Some((1, " a")));
        assert_eq!(item_marker("1.2. a"), Some((2, " a")));
        assert_eq!(item_marker("1.2 a"), Some((2, " a")));
        assert_eq!(item_marker("- a"), Some((RANK_BULLET, " a")));
        assert_eq!(item_marker("• a"), Some((RANK_BULLET, " a")));
        assert_eq!(item_marker("b) a"), Some((RANK_LETTER, " a")));
        assert_eq!(item_marker("**1.** a"), Some((1, " a")));
        assert_eq!(item_marker("Step 3: a"), Some((1, " a")));
        assert_eq!(item_marker("**Step 3:** a"), Some((1, " a")));
        assert_eq!(item_marker("Step 3 - a"), Some((1, " a")));
        assert_eq!(item_marker("- [x] a"), Some((RANK_BULLET, " a")));
        assert_eq!(item_marker("1.5x faster"), None);
        assert_eq!(item_marker("2 apples"), None);
        assert_eq!(item_marker("**bold** text"), None);
        assert_eq!(item_marker("e.g. this"), None);
        assert_eq!(item_marker("Steps to take"), None);
        assert_eq!(item_marker("1234. year"), None);
    }

    #[test]
    fn seed_fallback_matches_the_seed_regex() {
        assert_eq!(
            texts(&seed_steps("First 1. alpha 2. beta")),
            ["alpha 2. beta"]
        );
        assert_eq!(
            texts(&seed_steps("Plan: 1. alpha\n2. beta\n\nmore")),
            ["alpha", "beta"]
        );
        assert!(seed_steps("version 2.0 shipped in v3. ok").is_empty());
        assert!(seed_steps("1.   ").is_empty());
    }
}
