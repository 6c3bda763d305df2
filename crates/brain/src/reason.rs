//! The reasoning engine and feedback: the seed's `reason` and `learn_from_feedback`,
//! over the router, recall and the learning loop.
//!
//! **Reasoning** has the seed's three parts:
//! - *thinking*: the seed's chain-of-thought prompt (goal, constraints, the five most
//!   relevant memories recalled from the brain, the last three previous attempts, its
//!   instructions), routed as a reasoning task (complex by default, so to the cloud model
//!   in the seed's table), its answer parsed into reasoning text, steps and a decision;
//! - *planning*: the steps as a task tree, nested as the model nests them; with
//!   `reflect`, a second call critiques the plan against the constraints and previous
//!   attempts and revises it;
//! - *deciding*: with options, a third call evaluates each (pros, risks, a score) and
//!   chooses; when its answer names no option, the brain's own recommendation (learned
//!   from outcomes) chooses, and the result says so.
//!
//! The result is recorded as an agent decision whose metadata ties it to the model that
//! served the thinking, so its outcome later teaches the routing and option bandits.
//! Every parser is total (crate `reasoning`): any answer yields a result.
//!
//! **Feedback** turns text into a reward in [-1, 1]: the seed's prompt on the local model
//! (a classification task) when there is one and its answer parses, otherwise the
//! documented offline estimate ([`reasoning::offline_reward`]) — never a silent 0. The
//! reward is combined with task success and code-quality metrics when given
//! ([`reasoning::combined_reward`]), recorded as a learning event, stored as a learned
//! preference when above 0.5 (seed), and applied to the decision it is about.

use llm_router::{Complexity, RouteRequest, TaskType};
use memory_core::{
    CompletionRequest, DecisionQuery, LearningEvent, Memory, MemoryId, MemoryKind, Metadata,
    NewDecision, NewLearningEvent, NewMemory, Record, RecordId, RecordWrite, Reward, Scope,
    WriteOp, WriteOutcome,
};
use reasoning::{
    Attempt, CodeQuality, OptionEvaluation, ReasoningInput, RewardBreakdown, RewardSignals, Step,
};
use serde::{Deserialize, Serialize};

use crate::brain::cut;
use crate::error::{BrainError, Result};
use crate::learn::{Completed, OutcomeLearned};
use crate::{Brain, RecallQuery};

/// The longest reasoning text kept in a recorded decision.
const MAX_RECORDED_REASONING: usize = 16 * 1024;

/// What to reason about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReasonRequest {
    /// The goal.
    pub goal: String,
    /// Whose memories inform it and who owns the recorded decision.
    pub scope: Scope,
    /// The agent type the decision is recorded under. Default `reasoner`.
    pub agent_type: String,
    /// The task bucket for learning which options work. Default `default`.
    pub task_bucket: String,
    /// Constraints the plan must respect.
    pub constraints: Vec<String>,
    /// Options to choose among; empty means the answer's own decision is taken.
    pub options: Vec<String>,
    /// Previous attempts; when empty, the last three decisions of this agent type on the
    /// same goal that have outcomes.
    pub previous_attempts: Vec<Attempt>,
    /// How hard the task is (the seed reasons on the cloud model: complex).
    pub complexity: Complexity,
    /// Critique and revise the plan in a second call.
    pub reflect: bool,
}

impl Default for ReasonRequest {
    fn default() -> Self {
        ReasonRequest {
            goal: String::new(),
            scope: Scope::default(),
            agent_type: "reasoner".to_owned(),
            task_bucket: "default".to_owned(),
            constraints: Vec::new(),
            options: Vec::new(),
            previous_attempts: Vec::new(),
            complexity: Complexity::Complex,
            reflect: false,
        }
    }
}

impl ReasonRequest {
    /// A request to reason about `goal` in `scope`.
    pub fn new(goal: impl Into<String>, scope: Scope) -> Self {
        ReasonRequest {
            goal: goal.into(),
            scope,
            ..Self::default()
        }
    }
}

/// One model call the reasoning made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonCall {
    /// `thinking`, `reflection` or `deciding`.
    pub stage: &'static str,
    /// The model that answered.
    pub served_by: String,
    /// Prompt and generated tokens.
    pub tokens: (u64, u64),
    /// US dollars, where the model's price is known.
    pub cost_usd: Option<f64>,
    /// Why the model was tried first.
    pub why: Vec<String>,
}

/// What reasoning produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonOutcome {
    /// The chain of thought, as the model wrote it.
    pub reasoning: String,
    /// The plan as a task tree (revised, when reflection ran and revised it).
    pub plan: Vec<Step>,
    /// The reflection's critique, when it ran.
    pub critique: Option<String>,
    /// The decision: the chosen option, or the answer's own decision line.
    pub decision: Option<String>,
    /// How the decision was reached: `model`, `recommendation` (the model named no
    /// option, so the learned ranking chose), `answer` (no options; the answer's decision
    /// line) or `none`.
    pub decided_by: &'static str,
    /// Each option's evaluation, when there were options.
    pub evaluations: Vec<OptionEvaluation>,
    /// The recorded decision; report its outcome to teach the brain.
    pub decision_id: RecordId,
    /// The memories put into the prompt.
    pub memories_used: usize,
    /// The previous attempts put into the prompt.
    pub attempts_used: usize,
    /// Every model call.
    pub calls: Vec<ReasonCall>,
}

/// Feedback to learn from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FeedbackRequest {
    /// What the user said.
    pub feedback: String,
    /// The task it is about.
    pub task_context: String,
    /// Who gave it.
    pub scope: Scope,
    /// The decision it is about, whose outcome it becomes.
    pub decision: Option<RecordId>,
    /// Whether the task succeeded (implicit reward).
    pub success: Option<bool>,
    /// Code-quality metrics the agent reports.
    pub quality: Option<CodeQuality>,
}

/// Where the explicit reward came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackSource {
    /// The model rated it.
    Llm,
    /// The offline estimate ([`reasoning::offline_reward`]).
    Offline,
}

/// What feedback taught.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackLearned {
    /// The combined reward in [-1, 1].
    pub reward: f64,
    /// The feedback's own rating in [-1, 1].
    pub rating: f64,
    /// Who rated it.
    pub source: FeedbackSource,
    /// Why the offline estimate was used, when it was.
    pub fallback_reason: Option<String>,
    /// The combination of the reward's sources.
    pub breakdown: RewardBreakdown,
    /// The learning event recorded.
    pub event: LearningEvent,
    /// What the feedback taught, kept as a memory of kind [`crate::LEARNED_KIND`]
    /// (reward above 0.5), apart from the user's preferences.
    pub learned: Option<Memory>,
    /// What the decision's outcome taught, when a decision was named.
    pub outcome: Option<OutcomeLearned>,
}

fn call(stage: &'static str, c: &Completed) -> ReasonCall {
    ReasonCall {
        stage,
        served_by: c.routed.served_by.to_string(),
        tokens: (
            c.routed.completion.usage.input_tokens,
            c.routed.completion.usage.output_tokens,
        ),
        cost_usd: c.routed.cost_usd,
        why: c.order.iter().map(|w| w.why.clone()).collect(),
    }
}

fn request(prompt: String, temperature: f32, max_tokens: u32) -> CompletionRequest {
    CompletionRequest {
        temperature: Some(temperature),
        max_tokens: Some(max_tokens),
        ..CompletionRequest::prompt(prompt)
    }
}

impl Brain {
    /// Reasons about a goal (see the module docs): recalls what is relevant, thinks,
    /// optionally reflects, decides among options, and records the decision. Needs an
    /// LLM; without one, [`llm_router::LlmError::NotConfigured`].
    pub async fn reason(&self, req: &ReasonRequest) -> Result<ReasonOutcome> {
        memory_core::validate::non_empty_text("goal", &req.goal)?;
        memory_core::validate::key("agent_type", &req.agent_type)?;
        memory_core::validate::key("task bucket", &req.task_bucket)?;
        self.llm()?;
        let memories = self
            .recall(&RecallQuery::new(req.goal.clone(), req.scope.clone()).with_k(5))
            .await?;
        let attempts = if req.previous_attempts.is_empty() {
            self.previous_attempts(req).await?
        } else {
            let skip = req.previous_attempts.len().saturating_sub(3);
            req.previous_attempts[skip..].to_vec()
        };
        let mut input = ReasoningInput::new(req.goal.clone()).with_decision_line(true);
        for c in &req.constraints {
            input = input.with_constraint(c.clone());
        }
        for m in &memories {
            input = input.with_memory(m.memory.content.clone());
        }
        for a in &attempts {
            input = input.with_attempt(a.clone());
        }
        let route = RouteRequest::new(TaskType::Reasoning, req.complexity);

        // Thinking.
        let thought = self
            .complete(
                &route,
                request(reasoning::reasoning_prompt(&input), 0.7, 4096),
            )
            .await?;
        let mut calls = vec![call("thinking", &thought)];
        let parsed = reasoning::parse_reasoning(&thought.routed.completion.text);
        let mut plan = parsed.steps.clone();

        // Reflection.
        let mut critique = None;
        if req.reflect {
            let prompt = reasoning::reflection_prompt(
                &req.goal,
                &req.constraints,
                &attempts,
                &reasoning::render_steps(&plan),
            );
            let reflected = self.complete(&route, request(prompt, 0.3, 2048)).await?;
            calls.push(call("reflection", &reflected));
            let r = reasoning::parse_reflection(&reflected.routed.completion.text);
            critique = Some(r.critique);
            if let Some(revised) = r.plan.filter(|p| !p.is_empty()) {
                plan = revised.steps;
            }
        }

        // Deciding.
        let mut evaluations = Vec::new();
        let (decision, decided_by) = if req.options.is_empty() {
            match parsed.decision.clone() {
                Some(d) => (Some(d), "answer"),
                None => (None, "none"),
            }
        } else {
            let prompt =
                reasoning::decision_prompt(&req.goal, &req.options, &cut(&parsed.reasoning, 8000));
            let decided = self.complete(&route, request(prompt, 0.2, 1024)).await?;
            calls.push(call("deciding", &decided));
            let d = reasoning::parse_decision(&decided.routed.completion.text, &req.options);
            evaluations = d.evaluations;
            match d.chosen.and_then(|i| req.options.get(i)) {
                Some(o) => (Some(o.clone()), "model"),
                None => {
                    let rec = self
                        .recommend(
                            &req.scope,
                            &req.agent_type,
                            &req.task_bucket,
                            &req.options,
                            false,
                        )
                        .await?;
                    (
                        rec.ranked.first().map(|r| r.option.clone()),
                        "recommendation",
                    )
                }
            }
        };

        let chosen = decision
            .clone()
            .or_else(|| plan.first().map(|s| s.text.clone()))
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| req.goal.clone());
        let metadata = thought
            .decision_metadata()
            .with("task_bucket", req.task_bucket.clone())
            .with("decided_by", decided_by);
        let recorded = self
            .record_decision(NewDecision {
                scope: req.scope.clone(),
                agent_type: req.agent_type.clone(),
                context: req.goal.clone(),
                // Without options, the answer was the only option weighed.
                options: if req.options.is_empty() {
                    vec![cut(&chosen, memory_core::validate::MAX_OPTION_BYTES)]
                } else {
                    req.options.clone()
                },
                chosen_option: cut(&chosen, memory_core::validate::MAX_OPTION_BYTES),
                reasoning: cut(&parsed.reasoning, MAX_RECORDED_REASONING),
                metadata,
            })
            .await?;
        Ok(ReasonOutcome {
            reasoning: parsed.reasoning,
            plan,
            critique,
            decision,
            decided_by,
            evaluations,
            decision_id: recorded.id,
            memories_used: memories.len(),
            attempts_used: attempts.len(),
            calls,
        })
    }

    /// The last three decisions of this agent type on the same goal that have outcomes,
    /// oldest first, as previous attempts.
    async fn previous_attempts(&self, req: &ReasonRequest) -> Result<Vec<Attempt>> {
        let decided = self
            .decisions(&DecisionQuery {
                scope: req.scope.clone(),
                agent_type: Some(req.agent_type.clone()),
                with_outcome: Some(true),
                limit: 200,
            })
            .await?;
        let mut attempts: Vec<Attempt> = decided
            .into_iter()
            .filter(|d| d.context == req.goal)
            .take(3)
            .map(|d| Attempt::new(d.chosen_option, d.outcome.unwrap_or_default()))
            .collect();
        attempts.reverse();
        Ok(attempts)
    }

    /// Learns from feedback (see the module docs). Works without an LLM.
    pub async fn learn_from_feedback(&self, req: &FeedbackRequest) -> Result<FeedbackLearned> {
        memory_core::validate::non_empty_text("feedback", &req.feedback)?;
        memory_core::validate::text("task context", &req.task_context)?;
        let (rating, source, fallback_reason) = self.rate_feedback(&req.feedback).await;
        let breakdown = reasoning::combined_reward(RewardSignals {
            explicit: Some(rating),
            success: req.success,
            quality: req.quality,
        })
        .ok_or_else(|| BrainError::Config("no reward source".into()))?;
        let reward = Reward::new(breakdown.reward.clamp(-1.0, 1.0))?;
        let mut metadata = Metadata::new()
            .with("source", serde_json::to_value(source).unwrap_or_default())
            .with("rating", rating)
            .with(
                "parts",
                serde_json::to_value(&breakdown.parts).unwrap_or_default(),
            );
        if let Some(reason) = &fallback_reason {
            metadata = metadata.with("fallback_reason", reason.clone());
        }
        if let Some(d) = req.decision {
            metadata = metadata.with("decision_id", d);
        }
        req.scope.validate()?;
        let mut before = vec![WriteOp::put(NewLearningEvent {
            scope: req.scope.clone(),
            event_type: "user_feedback".to_owned(),
            task_description: req.task_context.clone(),
            outcome: req.feedback.clone(),
            reward,
            metadata,
        })];
        if reward.get() > 0.5 {
            // What worked is kept as a memory of its own kind, recallable by meaning,
            // never among the user's settings.
            let learned = NewMemory::new(format!(
                "Feedback on \"{}\": {}",
                memory_core::validate::preview(&req.task_context),
                req.feedback
            ))
            .with_kind(MemoryKind::new(crate::brain::LEARNED_KIND)?)
            .with_scope(req.scope.clone())
            .with_metadata(
                Metadata::new()
                    .with("task_context", req.task_context.clone())
                    .with("reward", reward.get()),
            )
            .with_id(MemoryId::new());
            learned.validate()?;
            let text = learned.content.clone();
            before.extend(self.put_ops(&[learned], &[text]).await?);
        }
        // The feedback event, the learned memory and the decision's outcome with all it
        // teaches commit together, or not at all.
        let (outcome, outs) = match req.decision {
            Some(id) => {
                let (learned, outs) = self
                    .commit_outcome(id, &req.feedback, reward, Some(&req.scope), before)
                    .await?;
                (Some(learned), outs)
            }
            None => (None, self.store().write_batch(before).await?),
        };
        let mut event = None;
        let mut learned = None;
        for o in outs {
            match o {
                WriteOutcome::Record(RecordWrite {
                    record: Record::LearningEvent(e),
                    ..
                }) => event = Some(e),
                WriteOutcome::Memory(m) if m.kind.as_str() == crate::brain::LEARNED_KIND => {
                    learned = Some(m)
                }
                _ => {}
            }
        }
        if learned.is_some() {
            self.after_commit().await;
        }
        let event = event.ok_or_else(|| {
            BrainError::Core(memory_core::Error::Backend {
                message: "the store returned no event for a feedback write".into(),
                source: None,
            })
        })?;
        Ok(FeedbackLearned {
            reward: reward.get(),
            rating,
            source,
            fallback_reason,
            breakdown,
            event,
            learned,
            outcome,
        })
    }

    /// The feedback's rating: the model's, when there is a model and its answer parses;
    /// otherwise the offline estimate, with the reason.
    async fn rate_feedback(&self, feedback: &str) -> (f64, FeedbackSource, Option<String>) {
        let offline = |why: String| {
            (
                reasoning::offline_reward(feedback),
                FeedbackSource::Offline,
                Some(why),
            )
        };
        if self.llm().is_err() {
            return offline("no LLM is configured".to_owned());
        }
        let route = RouteRequest::new(TaskType::Classification, Complexity::Simple);
        match self
            .complete(
                &route,
                request(reasoning::feedback_prompt(feedback), 0.0, 10),
            )
            .await
        {
            Ok(c) => match reasoning::parse_reward(&c.routed.completion.text) {
                Some(r) => (r, FeedbackSource::Llm, None),
                None => offline(format!(
                    "the model's answer {:?} holds no rating",
                    cut(&c.routed.completion.text, 80)
                )),
            },
            Err(e) => offline(format!("the model failed: {e}")),
        }
    }

    /// Reports a decision's outcome from the three reward sources (explicit rating in
    /// [-1, 1], task success, code-quality metrics), combined by
    /// [`reasoning::combined_reward`], and learns from it.
    pub async fn report_outcome(
        &self,
        id: RecordId,
        outcome: &str,
        signals: RewardSignals,
    ) -> Result<(RewardBreakdown, OutcomeLearned)> {
        let breakdown = reasoning::combined_reward(signals).ok_or_else(|| {
            BrainError::Core(memory_core::Error::InvalidInput(
                memory_core::ValidationError::Other(
                    "an outcome needs at least one reward source: a rating, success or failure, or code-quality metrics".into(),
                ),
            ))
        })?;
        let reward = Reward::new(breakdown.reward.clamp(-1.0, 1.0))?;
        let learned = self.update_decision_outcome(id, outcome, reward).await?;
        Ok((breakdown, learned))
    }
}
