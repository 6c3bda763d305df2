//! # reasoning
//!
//! Prompts for a language model, and total parsers for its answers: chain-of-thought
//! reasoning, plans as task trees, reflection on a plan, decisions between options, and
//! rewards from feedback. The `brain` crate sends these prompts through its LLM router and
//! reads the answers with these parsers; this crate does no IO, has no async code and
//! names no model.
//!
//! **LLM output is untrusted input.** Every parser here is total: it takes any `&str`,
//! never panics, does work roughly linear in the input, clamps what it reads and bounds
//! what it returns, and falls back deterministically when the answer is not in the asked
//! format:
//!
//! - at most [`MAX_INPUT_BYTES`] of an answer are read;
//! - step trees are at most [`MAX_DEPTH`] deep and hold at most [`MAX_STEPS`] steps of at
//!   most [`MAX_STEP_CHARS`] chars; a decision is at most [`MAX_DECISION_CHARS`] chars;
//! - rewards are finite and in `[-1, 1]`, scores in `[0, 10]`, a chosen option is an index
//!   into the options given.
//!
//! Property tests over arbitrary and list-shaped strings check these bounds, and the
//! `fuzz/` directory at the repository root has a cargo-fuzz target per parser.
//!
//! | Prompt | Parser | Result |
//! |---|---|---|
//! | [`reasoning_prompt`] (the seed's, word for word) | [`parse_reasoning`] | [`Reasoning`]: text, [`Step`] tree, decision |
//! | [`planning_prompt`] | [`parse_plan`] (JSON or lists) | [`Plan`] |
//! | [`reflection_prompt`] | [`parse_reflection`] | [`Reflection`]: critique, revised [`Plan`] |
//! | [`decision_prompt`] | [`parse_decision`] | [`DecisionParse`]: chosen index, pros, risks, scores |
//! | [`feedback_prompt`] (the seed's, word for word) | [`parse_reward`] | `Option<f64>` in `[-1, 1]` |
//!
//! Without a model, [`offline_reward`] estimates a reward from feedback with a small
//! lexicon (see [`reward`] for the method and its limits), and [`combined_reward`] merges
//! the seed's three reward sources — explicit feedback, task success, code quality — into
//! one documented weighted mean.
//!
//! ```
//! use reasoning::{
//!     parse_decision, parse_plan, parse_reasoning, parse_reward, reasoning_prompt,
//!     CodeQuality, ReasoningInput, RewardSignals,
//! };
//!
//! let prompt = reasoning_prompt(
//!     &ReasoningInput::new("Add a cache to the API")
//!         .with_constraint("no new services")
//!         .with_memory("the API is read-heavy")
//!         .with_decision_line(true),
//! );
//! assert!(prompt.contains("## Constraints\n- no new services\n"));
//!
//! // What a model might answer.
//! let answer = "1. Measure hit rates\n   - log cache keys\n2. Add an in-process LRU\n\n\
//!               Decision: an in-process LRU cache";
//! let r = parse_reasoning(answer);
//! assert_eq!(r.steps.len(), 2);
//! assert_eq!(r.steps[0].children[0].text, "log cache keys");
//! assert_eq!(r.decision.as_deref(), Some("an in-process LRU cache"));
//!
//! // Plans may come back as JSON, fenced or not.
//! let plan = parse_plan("```json\n{\"steps\": [{\"text\": \"a\", \"children\": [\"b\"]}]}\n```");
//! assert_eq!(plan.render(), "1. a\n   1.1 b\n");
//!
//! let options = vec!["Redis".to_string(), "in-process LRU".to_string()];
//! let d = parse_decision("Option 1: Redis\nScore: 6\nOption 2: LRU\nScore: 8/10\n\
//!                         Chosen: the in-process LRU", &options);
//! assert_eq!(d.chosen, Some(1));
//!
//! // Rewards: never a silent 0 for an answer that is not a number.
//! assert_eq!(parse_reward("I'd say 7/10"), Some(0.7));
//! assert_eq!(parse_reward("N/A"), None);
//! let reward = reasoning::combined_reward(RewardSignals {
//!     explicit: Some(0.8),
//!     success: Some(true),
//!     quality: Some(CodeQuality { tests_passed: 9, tests_failed: 1, ..CodeQuality::default() }),
//! });
//! assert!(reward.is_some_and(|b| b.reward > 0.8 && b.reward <= 1.0));
//! ```

pub mod answer;
pub mod decision;
mod number;
pub mod plan;
pub mod prompt;
pub mod reward;
pub mod steps;
mod text;

pub use answer::{Reasoning, extract_decision, parse_reasoning};
pub use decision::{DecisionParse, OptionEvaluation, parse_decision};
pub use plan::{Plan, Reflection, parse_plan, parse_reflection};
pub use prompt::{
    Attempt, MAX_ATTEMPTS_IN_PROMPT, MAX_MEMORIES_IN_PROMPT, REVISED_PLAN_HEADING, ReasoningInput,
    decision_prompt, feedback_prompt, planning_prompt, reasoning_prompt, reflection_prompt,
};
pub use reward::{
    CodeQuality, MAX_WARNING_PENALTY, RewardBreakdown, RewardPart, RewardSignals, RewardSource,
    RewardWeights, WARNING_PENALTY, WeightsError, combined_reward, offline_reward, parse_reward,
};
pub use steps::{Step, parse_steps, render_steps, tree_depth, tree_size};

/// The most of an answer any parser reads: 256 KiB (a 4,096-token answer is about 16 KiB).
pub const MAX_INPUT_BYTES: usize = 256 * 1024;

/// The deepest a step tree gets: items nested deeper become siblings at this level.
pub const MAX_DEPTH: usize = 8;

/// The most steps a tree holds, sub-steps included; later items are dropped.
pub const MAX_STEPS: usize = 200;

/// The longest a step's text (or a pro or a risk) gets, in chars.
pub const MAX_STEP_CHARS: usize = 1_000;

/// The longest a decision gets, in chars.
pub const MAX_DECISION_CHARS: usize = 2_000;

/// The most pros, and the most risks, kept per option.
pub const MAX_NOTES: usize = 16;
