//! The prompts: chain-of-thought reasoning and feedback rating word for word from the seed,
//! and planning, reflection and decision prompts written to match this crate's parsers.
//!
//! List items (constraints, memories, attempts, options) are written one per line: line
//! breaks inside an item become spaces so that an item cannot break the prompt's structure.
//! The goal, the context, the plan under review and the feedback are inserted verbatim.

use serde::{Deserialize, Serialize};

/// At most this many memories go into the reasoning prompt (the seed's `[:5]`).
pub const MAX_MEMORIES_IN_PROMPT: usize = 5;

/// At most this many previous attempts, the latest, go into a prompt (the seed's `[-3:]`).
pub const MAX_ATTEMPTS_IN_PROMPT: usize = 3;

/// Something already tried and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Attempt {
    /// What was tried.
    pub action: String,
    /// What happened.
    pub result: String,
}

impl Attempt {
    /// An attempt.
    pub fn new(action: impl Into<String>, result: impl Into<String>) -> Self {
        Attempt {
            action: action.into(),
            result: result.into(),
        }
    }
}

/// What the reasoning prompt is built from (the seed's goal and `ReasoningContext`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReasoningInput {
    /// What to achieve.
    pub goal: String,
    /// Rules the answer must keep.
    #[serde(default)]
    pub constraints: Vec<String>,
    /// Relevant memories as text, most relevant first; the first
    /// [`MAX_MEMORIES_IN_PROMPT`] are used.
    #[serde(default)]
    pub memories: Vec<String>,
    /// Earlier attempts, oldest first; the last [`MAX_ATTEMPTS_IN_PROMPT`] are used.
    #[serde(default)]
    pub previous_attempts: Vec<Attempt>,
    /// Adds a fifth instruction asking the model to end with a line `Decision: ...`.
    /// It only helps the parser: [`crate::parse_reasoning`] prefers such a line, and without
    /// it still finds a decision the way the seed does (`decision`, `conclusion`,
    /// `recommend`, `final` or `plan` followed by `:`). Off by default, which gives the
    /// seed's prompt exactly.
    #[serde(default)]
    pub ask_for_decision: bool,
}

impl ReasoningInput {
    /// Input with a goal and nothing else.
    pub fn new(goal: impl Into<String>) -> Self {
        ReasoningInput {
            goal: goal.into(),
            ..ReasoningInput::default()
        }
    }

    /// Adds a constraint.
    #[must_use]
    pub fn with_constraint(mut self, c: impl Into<String>) -> Self {
        self.constraints.push(c.into());
        self
    }

    /// Adds a memory (after those already added, so add the most relevant first).
    #[must_use]
    pub fn with_memory(mut self, m: impl Into<String>) -> Self {
        self.memories.push(m.into());
        self
    }

    /// Adds an attempt (the latest last).
    #[must_use]
    pub fn with_attempt(mut self, a: Attempt) -> Self {
        self.previous_attempts.push(a);
        self
    }

    /// Asks, or not, for a closing `Decision:` line.
    #[must_use]
    pub fn with_decision_line(mut self, ask: bool) -> Self {
        self.ask_for_decision = ask;
        self
    }
}

/// The text on one line: each run of line breaks becomes a space.
pub(crate) fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_break = false;
    for c in s.chars() {
        if matches!(
            c,
            '\n' | '\r' | '\u{2028}' | '\u{2029}' | '\u{85}' | '\u{b}' | '\u{c}'
        ) {
            if !in_break {
                out.push(' ');
            }
            in_break = true;
        } else {
            out.push(c);
            in_break = false;
        }
    }
    out
}

fn push_list(p: &mut String, title: &str, items: impl IntoIterator<Item = String>) {
    let mut items = items.into_iter().peekable();
    if items.peek().is_none() {
        return;
    }
    p.push_str(title);
    for item in items {
        p.push_str("- ");
        p.push_str(&item);
        p.push('\n');
    }
    p.push('\n');
}

fn last_attempts(attempts: &[Attempt]) -> impl Iterator<Item = String> + '_ {
    attempts
        .iter()
        .skip(attempts.len().saturating_sub(MAX_ATTEMPTS_IN_PROMPT))
        .map(|a| {
            format!(
                "Tried: {}, Result: {}",
                one_line(&a.action),
                one_line(&a.result)
            )
        })
}

fn push_goal_and_context(p: &mut String, goal: &str, constraints: &[String]) {
    p.push_str("## Goal\n");
    p.push_str(goal);
    p.push_str("\n\n");
    push_list(
        p,
        "## Constraints\n",
        constraints.iter().map(|c| one_line(c)),
    );
}

/// The seed's chain-of-thought prompt (`_build_reasoning_prompt`), word for word: the goal,
/// then `## Constraints`, `## Relevant Knowledge` (the first [`MAX_MEMORIES_IN_PROMPT`]
/// memories, each `- {text}`) and `## Previous Attempts` (the last
/// [`MAX_ATTEMPTS_IN_PROMPT`], each `- Tried: {action}, Result: {result}`), each only when
/// it has items, then the seed's instructions and `## Your Reasoning (think step by step)`.
/// With [`ReasoningInput::ask_for_decision`], a fifth instruction asks for a closing
/// `Decision:` line.
pub fn reasoning_prompt(input: &ReasoningInput) -> String {
    let mut p = String::from(
        "You are an expert AI reasoning engine. Think step-by-step to achieve the goal.\n\n",
    );
    push_goal_and_context(&mut p, &input.goal, &input.constraints);
    push_list(
        &mut p,
        "## Relevant Knowledge\n",
        input
            .memories
            .iter()
            .take(MAX_MEMORIES_IN_PROMPT)
            .map(|m| one_line(m)),
    );
    push_list(
        &mut p,
        "## Previous Attempts\n",
        last_attempts(&input.previous_attempts),
    );
    p.push_str(
        "## Instructions\n\
         1. Analyze the goal and break it into steps\n\
         2. Consider constraints and previous attempts\n\
         3. Reason through each step\n\
         4. Provide your plan\n",
    );
    if input.ask_for_decision {
        p.push_str("5. End with one line of the form \"Decision: <your decision>\"\n");
    }
    p.push_str("\n## Your Reasoning (think step by step)\n");
    p
}

const PLAN_FORMAT: &str = "a numbered list, one concrete action per line, \
sub-steps numbered under their parent and indented three spaces, like this:\n\
1. First step\n   \
1.1 A sub-step\n   \
1.2 Another sub-step\n\
2. Second step\n";

/// A prompt asking for a plan as a task tree: nested numbered steps (`1.`, `1.1`), which
/// [`crate::parse_plan`] reads (it also reads bullets and JSON).
pub fn planning_prompt(goal: &str, constraints: &[String]) -> String {
    let mut p = String::from(
        "You are an expert AI planning engine. Break the goal into a tree of concrete tasks.\n\n",
    );
    push_goal_and_context(&mut p, goal, constraints);
    p.push_str(
        "## Instructions\n\
         1. Break the goal into top-level steps, in the order they should be done\n\
         2. Break any step that needs it into sub-steps\n\
         3. Respect every constraint\n\
         4. Write only the plan, as ",
    );
    p.push_str(PLAN_FORMAT);
    p.push_str("\n## Plan\n");
    p
}

/// The heading under which the reflection prompt asks for the revised plan, and which
/// [`crate::parse_reflection`] looks for.
pub const REVISED_PLAN_HEADING: &str = "## Revised Plan";

/// A prompt asking the model to critique `plan_text` against the constraints and the
/// previous attempts (the last [`MAX_ATTEMPTS_IN_PROMPT`]), then to give a revised plan in
/// the planning prompt's format under [`REVISED_PLAN_HEADING`]. [`crate::render_steps`]
/// writes a parsed plan back in that format.
pub fn reflection_prompt(
    goal: &str,
    constraints: &[String],
    previous_attempts: &[Attempt],
    plan_text: &str,
) -> String {
    let mut p = String::from(
        "You are an expert AI reviewer. Critique the plan below, then improve it.\n\n",
    );
    push_goal_and_context(&mut p, goal, constraints);
    push_list(
        &mut p,
        "## Previous Attempts\n",
        last_attempts(previous_attempts),
    );
    p.push_str("## Plan\n");
    p.push_str(plan_text.trim_end());
    p.push_str(
        "\n\n## Instructions\n\
         1. Check the plan against every constraint and name any step that breaks one\n\
         2. Check it against the previous attempts and name any step that repeats what failed\n\
         3. Name missing steps, unnecessary steps and steps in the wrong order\n\
         4. Under the heading \"",
    );
    p.push_str(REVISED_PLAN_HEADING);
    p.push_str("\", give the revised plan as ");
    p.push_str(PLAN_FORMAT);
    p.push_str("\n## Critique\n");
    p
}

/// A prompt asking, for each option, its pros, its risks and a score from 0 to 10, then a
/// closing `Chosen: <option>` line; [`crate::parse_decision`] reads the answer. An empty
/// `context` is left out.
pub fn decision_prompt(goal: &str, options: &[String], context: &str) -> String {
    let mut p = String::from(
        "You are an expert AI decision engine. Evaluate each option, then choose one.\n\n",
    );
    p.push_str("## Goal\n");
    p.push_str(goal);
    p.push_str("\n\n");
    if !context.trim().is_empty() {
        p.push_str("## Context\n");
        p.push_str(context.trim_end());
        p.push_str("\n\n");
    }
    p.push_str("## Options\n");
    for (i, o) in options.iter().enumerate() {
        p.push_str(&format!("{}. {}\n", i + 1, one_line(o)));
    }
    p.push_str(
        "\n## Instructions\n\
         For each option, in order, write:\n\
         ### Option <number>: <option>\n\
         Pros: <its main advantages, separated by semicolons>\n\
         Risks: <its main risks, separated by semicolons>\n\
         Score: <a number from 0 to 10>\n\
         \n\
         Then end with one line naming the option you choose, exactly as written above:\n\
         Chosen: <option>\n",
    );
    p
}

/// The seed's feedback-rating prompt (`_analyze_feedback`), word for word; read the answer
/// with [`crate::parse_reward`].
pub fn feedback_prompt(feedback: &str) -> String {
    format!(
        "Analyze this user feedback and rate it from -1 (very negative) to 1 (very positive).\n\n\
         Feedback: {feedback}\n\n\
         Respond with only a number between -1 and 1."
    )
}
