//! Reading a plan: JSON when the model answered in JSON, otherwise its lists.
//!
//! [`parse_plan`] first looks for JSON: in a fenced block tagged `json` (or untagged), as the
//! whole answer, or from the first line that starts with `{` or `[` (only the first JSON
//! value is read; text after it is ignored). It accepts
//!
//! - `{"steps": [...]}` (also under `plan`, `tasks`, `subtasks`, `children` or `items`,
//!   possibly nested one object deeper, as in `{"plan": {"steps": [...]}}`);
//! - an array of strings and objects; a nested array right after an item holds that item's
//!   children;
//! - objects whose text is the first string among `text`, `step`, `title`, `task`, `name`,
//!   `action`, `description`, `summary`, with children under `children`, `steps`,
//!   `substeps`, `sub_steps`, `subtasks` or `tasks`.
//!
//! A list marker at the start of a JSON string (`"1. Do X"`) is removed. JSON that yields no
//! step falls through to the list parser, [`parse_steps`]. Either way the tree is at most
//! [`MAX_DEPTH`] deep (JSON deeper than that is cut off), holds at most [`MAX_STEPS`] steps
//! (the first in document order), and each text is trimmed to [`MAX_STEP_CHARS`] chars.
//!
//! [`parse_reflection`] splits an answer to [`crate::reflection_prompt`] into the critique
//! and the revised plan.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::steps::{Step, item_marker, parse_steps, render_steps, tree_depth, tree_size};
use crate::text::{cap_input, clean_step, fence};
use crate::{MAX_DEPTH, MAX_STEP_CHARS, MAX_STEPS};

/// A plan: a forest of steps.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Plan {
    /// The top-level steps, in order.
    pub steps: Vec<Step>,
}

impl Plan {
    /// Whether the plan has no step.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Steps in the plan, sub-steps included.
    pub fn len(&self) -> usize {
        tree_size(&self.steps)
    }

    /// Levels in the plan: 0 when empty.
    pub fn depth(&self) -> usize {
        tree_depth(&self.steps)
    }

    /// The plan as the nested numbered list the prompts ask for (see [`render_steps`]).
    pub fn render(&self) -> String {
        render_steps(&self.steps)
    }
}

/// Parses a plan (see the [module docs](self)). Total: never panics, linear in the input.
pub fn parse_plan(text: &str) -> Plan {
    let text = cap_input(text);
    if let Some(steps) = json_steps(text) {
        return Plan { steps };
    }
    Plan {
        steps: parse_steps(text),
    }
}

/// An answer to [`crate::reflection_prompt`]: the critique, and the revised plan if the
/// answer has one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Reflection {
    /// The text before the revised plan (the whole answer when there is none), trimmed.
    pub critique: String,
    /// The steps after the last line that announces a revised plan: a heading or short line
    /// starting with `Revised plan`, `Improved plan`, `Updated plan`, `New plan` or
    /// `Better plan` (optionally after `Here is the` / `Here's the`). `None` when there is
    /// no such line or no step after it.
    pub plan: Option<Plan>,
}

const REVISION_MARKERS: [&str; 5] = [
    "revised plan",
    "improved plan",
    "updated plan",
    "new plan",
    "better plan",
];

fn is_revision_marker(line: &str) -> bool {
    let s = line.trim();
    if s.len() > 100 {
        return false;
    }
    let s = s
        .trim_start_matches(['#', '*', '_', '>', ' '])
        .to_ascii_lowercase();
    let s = s
        .strip_prefix("here is the ")
        .or_else(|| s.strip_prefix("here's the "))
        .or_else(|| s.strip_prefix("here is my "))
        .or_else(|| s.strip_prefix("here's my "))
        .unwrap_or(&s);
    REVISION_MARKERS.iter().any(|m| s.starts_with(m))
}

/// Splits an answer to [`crate::reflection_prompt`]. Total.
pub fn parse_reflection(text: &str) -> Reflection {
    let text = cap_input(text);
    let mut offset = 0;
    let mut marker: Option<(usize, usize)> = None; // (line start, line end)
    for line in text.split_inclusive('\n') {
        if is_revision_marker(line) {
            marker = Some((offset, offset + line.len()));
        }
        offset += line.len();
    }
    let Some((start, end)) = marker else {
        return Reflection {
            critique: text.trim().to_string(),
            plan: None,
        };
    };
    let plan = parse_plan(text.get(end..).unwrap_or(""));
    Reflection {
        critique: text.get(..start).unwrap_or("").trim().to_string(),
        plan: (!plan.is_empty()).then_some(plan),
    }
}

/// Byte ranges of JSON candidates, in the order they are tried.
fn json_candidates(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut offset = 0;
    let mut open: Option<(char, usize, usize, bool)> = None; // (char, len, content start, json)
    let mut first_brace_line: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        match open {
            Some((ch, len, content, json)) => {
                if let Some((c, l, info)) = fence(line)
                    && c == ch
                    && l >= len
                    && info.is_empty()
                {
                    if json {
                        out.push(text.get(content..start).unwrap_or(""));
                    }
                    open = None;
                }
            }
            None => {
                if let Some((ch, len, info)) = fence(line) {
                    let lang = info.split_whitespace().next().unwrap_or("");
                    let json = lang.is_empty()
                        || lang.eq_ignore_ascii_case("json")
                        || lang.eq_ignore_ascii_case("jsonc")
                        || lang.eq_ignore_ascii_case("json5");
                    open = Some((ch, len, offset, json));
                } else if first_brace_line.is_none() && line.trim_start().starts_with(['{', '[']) {
                    first_brace_line = Some(start);
                }
            }
        }
    }
    if let Some((_, _, content, true)) = open {
        out.push(text.get(content..).unwrap_or(""));
    }
    if let Some(start) = first_brace_line {
        out.push(text.get(start..).unwrap_or(""));
    }
    out.truncate(4);
    out
}

fn first_json_value(s: &str) -> Option<Value> {
    let s = s.trim_start();
    if !s.starts_with(['{', '[']) {
        return None;
    }
    serde_json::Deserializer::from_str(s)
        .into_iter::<Value>()
        .next()?
        .ok()
}

/// Steps from a JSON answer, if it has one that yields at least one step.
pub(crate) fn json_steps(text: &str) -> Option<Vec<Step>> {
    for candidate in json_candidates(text) {
        if let Some(v) = first_json_value(candidate) {
            let mut budget = MAX_STEPS;
            let steps = from_value(&v, 1, &mut budget);
            if !steps.is_empty() {
                return Some(steps);
            }
        }
    }
    None
}

const TEXT_KEYS: [&str; 8] = [
    "text",
    "step",
    "title",
    "task",
    "name",
    "action",
    "description",
    "summary",
];
const CHILD_KEYS: [&str; 6] = [
    "children",
    "steps",
    "substeps",
    "sub_steps",
    "subtasks",
    "tasks",
];
const LIST_KEYS: [&str; 6] = ["steps", "plan", "tasks", "subtasks", "children", "items"];

fn json_text(s: &str) -> String {
    let t = s.trim_start();
    let t = item_marker(t).map_or(t, |(_, rest)| rest);
    clean_step(t, MAX_STEP_CHARS)
}

/// Steps at `depth` (1 for the top level) from a JSON value.
fn from_value(v: &Value, depth: usize, budget: &mut usize) -> Vec<Step> {
    if *budget == 0 {
        return Vec::new();
    }
    match v {
        Value::Array(items) => from_array(items, depth, budget),
        Value::Object(map) => {
            if TEXT_KEYS
                .iter()
                .any(|k| map.get(*k).is_some_and(Value::is_string))
            {
                return from_object(map, depth, budget);
            }
            for k in LIST_KEYS {
                if let Some(inner @ (Value::Array(_) | Value::Object(_))) = map.get(k) {
                    return from_value(inner, depth, budget);
                }
            }
            Vec::new()
        }
        Value::String(s) => {
            let text = json_text(s);
            if text.is_empty() {
                Vec::new()
            } else {
                *budget -= 1;
                vec![Step::new(text)]
            }
        }
        _ => Vec::new(),
    }
}

fn from_array(items: &[Value], depth: usize, budget: &mut usize) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    for item in items {
        if *budget == 0 {
            break;
        }
        match item {
            Value::Array(inner) => match out.last_mut() {
                Some(last) => {
                    if depth < MAX_DEPTH {
                        let kids = from_array(inner, depth + 1, budget);
                        last.children.extend(kids);
                    }
                }
                None => out.extend(from_array(inner, depth, budget)),
            },
            other => out.extend(from_value(other, depth, budget)),
        }
    }
    out
}

fn from_object(map: &Map<String, Value>, depth: usize, budget: &mut usize) -> Vec<Step> {
    let text = TEXT_KEYS
        .iter()
        .find_map(|k| map.get(*k).and_then(Value::as_str))
        .map(json_text)
        .unwrap_or_default();
    let has_text = !text.is_empty();
    if has_text {
        *budget -= 1;
    }
    let child_depth = if has_text { depth + 1 } else { depth };
    let mut children = Vec::new();
    if child_depth <= MAX_DEPTH {
        for k in CHILD_KEYS {
            if let Some(Value::Array(items)) = map.get(k) {
                children = from_array(items, child_depth, budget);
                break;
            }
        }
    }
    if has_text {
        vec![Step { text, children }]
    } else {
        children
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_find_fences_and_braces() {
        let t = "Here:\n```json\n{\"steps\":[\"a\"]}\n```\nand [1]\n[2]\n";
        let c = json_candidates(t);
        assert_eq!(c, vec!["{\"steps\":[\"a\"]}\n", "[2]\n"]);
    }

    #[test]
    fn nested_arrays_are_children() {
        let steps = json_steps(r#"["a", ["a1", "a2"], "b"]"#).unwrap_or_default();
        assert_eq!(
            steps,
            vec![
                Step::new("a")
                    .with_child(Step::new("a1"))
                    .with_child(Step::new("a2")),
                Step::new("b")
            ]
        );
    }
}
