//! Human and JSON output.

use std::io::Write;

use brain::{BrainStats, PatternMatch, RecallHit};
use memory_core::{
    AgentDecision, CodePattern, ConversationSummary, LearningEvent, Memory, Preference, Project,
    Scope,
};
use serde::Serialize;
use serde_json::Value;

/// Writes results to stdout, as text for people or as JSON.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Out {
    pub(crate) json: bool,
    pub(crate) quiet: bool,
}

impl Out {
    /// Writes one line to stdout.
    pub(crate) fn line(&self, text: impl AsRef<str>) -> std::io::Result<()> {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(text.as_ref().as_bytes())?;
        stdout.write_all(b"\n")?;
        stdout.flush()
    }

    /// Writes a value as one line of compact JSON.
    pub(crate) fn json_line<T: Serialize + ?Sized>(&self, value: &T) -> anyhow::Result<()> {
        let text = serde_json::to_string(value)?;
        Ok(self.line(text)?)
    }

    /// Writes `value` as JSON in JSON mode, else `human()`'s lines.
    pub(crate) fn either<T: Serialize + ?Sized>(
        &self,
        value: &T,
        human: impl FnOnce() -> Vec<String>,
    ) -> anyhow::Result<()> {
        if self.json {
            self.json_line(value)
        } else {
            for l in human() {
                self.line(l)?;
            }
            Ok(())
        }
    }

    /// A note for people on stderr (not in quiet mode).
    pub(crate) fn note(&self, text: impl AsRef<str>) {
        if !self.quiet {
            let mut stderr = std::io::stderr().lock();
            // A note that cannot be written is not worth failing the command for.
            let _ = writeln!(stderr, "{}", text.as_ref());
        }
    }
}

/// `content` on one line, cut to `max` characters.
pub(crate) fn preview(content: &str, max: usize) -> String {
    let flat: String = content.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// `user=alice agent=coder`, or `global`.
pub(crate) fn scope(s: &Scope) -> String {
    let parts: Vec<String> = [
        ("user", &s.user),
        ("agent", &s.agent),
        ("session", &s.session),
    ]
    .into_iter()
    .filter_map(|(name, v)| v.as_ref().map(|v| format!("{name}={v}")))
    .collect();
    if parts.is_empty() {
        "global".into()
    } else {
        parts.join(" ")
    }
}

/// A value as people read it: strings bare, anything else as JSON.
pub(crate) fn value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(crate) fn memory_line(m: &Memory) -> String {
    let mut line = format!(
        "{}  {}  {:.2}  {}",
        m.id,
        m.kind,
        m.importance.get(),
        scope(&m.scope)
    );
    if !m.metadata.is_empty() {
        line.push_str("  ");
        line.push_str(&m.metadata.to_json_string());
    }
    if let Some(e) = m.expires_at {
        line.push_str(&format!("  expires {e}"));
    }
    line.push_str("\n    ");
    line.push_str(&preview(&m.content, 160));
    line
}

pub(crate) fn hits(hits: &[RecallHit]) -> Vec<String> {
    if hits.is_empty() {
        return vec!["no memories found".into()];
    }
    let mut out = Vec::with_capacity(hits.len() * 2);
    for (i, h) in hits.iter().enumerate() {
        let s = &h.score;
        out.push(format!(
            "{:>2}. [{:.3}] {}",
            i + 1,
            s.total,
            preview(&h.memory.content, 160)
        ));
        let mut why = Vec::new();
        if let Some(r) = s.keyword_rank {
            why.push(format!("keyword #{r} {:.3}", s.keyword));
        }
        if let Some(r) = s.vector_rank {
            let sim = s
                .similarity
                .map(|x| format!(" (sim {x:.2})"))
                .unwrap_or_default();
            why.push(format!("vector #{r} {:.3}{sim}", s.vector));
        }
        why.push(format!("importance {:.3}", s.importance));
        why.push(format!("recency {:.3}", s.recency));
        if s.outcome != 0.0 {
            why.push(format!("outcome {:+.3}", s.outcome));
        }
        out.push(format!(
            "    {} {} {} · {}",
            h.memory.id,
            h.memory.kind,
            scope(&h.memory.scope),
            why.join(" · ")
        ));
    }
    out
}

pub(crate) fn preference(p: &Preference) -> String {
    format!(
        "{} = {}  ({}, {})",
        p.key,
        value(&p.value),
        p.category,
        scope(&p.scope)
    )
}

pub(crate) fn project(p: &Project) -> String {
    let mut line = format!("{}  {}  [{}]  {}", p.id, p.name, p.status, scope(&p.scope));
    if let Some(path) = &p.path {
        line.push_str(&format!("  {path}"));
    }
    if !p.tech_stack.is_empty() {
        line.push_str(&format!("  ({})", p.tech_stack.join(", ")));
    }
    if let Some(d) = &p.description {
        line.push_str(&format!("\n    {}", preview(d, 160)));
    }
    line
}

pub(crate) fn pattern(p: &CodePattern) -> String {
    let lang = p
        .language
        .as_deref()
        .map(|l| format!(" {l}"))
        .unwrap_or_default();
    format!(
        "{}  {}{}  {}✓ {}✗ (rate {:.2})  {}\n    {}\n    → {}",
        p.id,
        p.pattern_type,
        lang,
        p.success_count,
        p.failure_count,
        p.success_rate(),
        scope(&p.scope),
        preview(&p.context, 160),
        preview(&p.solution, 160)
    )
}

pub(crate) fn pattern_match(m: &PatternMatch) -> String {
    format!("[{:.3}] {}", m.score.total, pattern(&m.pattern))
}

pub(crate) fn event(e: &LearningEvent) -> String {
    let mut line = format!(
        "{}  {}  reward {:+.2}  {}  {}",
        e.id,
        e.event_type,
        e.reward.get(),
        e.created_at,
        scope(&e.scope)
    );
    if !e.task_description.is_empty() {
        line.push_str(&format!(
            "\n    task: {}",
            preview(&e.task_description, 150)
        ));
    }
    if !e.outcome.is_empty() {
        line.push_str(&format!("\n    outcome: {}", preview(&e.outcome, 150)));
    }
    line
}

pub(crate) fn decision(d: &AgentDecision) -> String {
    let outcome = match (&d.outcome, d.reward) {
        (Some(o), Some(r)) => format!("{} (reward {:+.2})", preview(o, 100), r.get()),
        (Some(o), None) => preview(o, 100),
        _ => "pending".into(),
    };
    format!(
        "{}  {}  {}  {}\n    context: {}\n    chose: {}\n    outcome: {}",
        d.id,
        d.agent_type,
        d.created_at,
        scope(&d.scope),
        preview(&d.context, 150),
        preview(&d.chosen_option, 150),
        outcome
    )
}

pub(crate) fn conversation(c: &ConversationSummary) -> String {
    let mut line = format!(
        "{}  {}  {}\n    {}",
        c.id,
        c.created_at,
        scope(&c.scope),
        preview(&c.summary, 160)
    );
    for d in &c.key_decisions {
        line.push_str(&format!("\n    - {}", preview(d, 150)));
    }
    if let Some(f) = &c.user_feedback {
        line.push_str(&format!("\n    feedback: {}", preview(f, 150)));
    }
    line
}

pub(crate) fn stats(s: &BrainStats) -> Vec<String> {
    let st = &s.store;
    vec![
        format!("memories       {}", st.memories),
        format!("embeddings     {}", st.embeddings),
        format!(
            "indexed        {} (through change {})",
            s.indexed, s.index_seq
        ),
        format!("preferences    {}", st.preferences),
        format!("projects       {}", st.projects),
        format!("patterns       {}", st.patterns),
        format!("events         {}", st.learning_events),
        format!("conversations  {}", st.conversations),
        format!("decisions      {}", st.decisions),
        format!(
            "embedder       {} ({} dimensions)",
            s.embedder.model_id, s.embedder.dimension
        ),
    ]
}

/// A list, or a line saying it is empty.
pub(crate) fn list<T>(items: &[T], what: &str, f: impl Fn(&T) -> String) -> Vec<String> {
    if items.is_empty() {
        vec![format!("no {what}")]
    } else {
        items.iter().map(f).collect()
    }
}

/// `1 memory`, `2 memories`.
pub(crate) fn memories(n: usize) -> String {
    if n == 1 {
        "1 memory".into()
    } else {
        format!("{n} memories")
    }
}

/// `1 record`, `2 records`.
pub(crate) fn records(n: u64) -> String {
    if n == 1 {
        "1 record".into()
    } else {
        format!("{n} records")
    }
}
