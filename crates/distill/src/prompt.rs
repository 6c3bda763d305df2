//! The seed's two prompts, verbatim apart from Rust string handling.

use memory_core::CodePattern;

/// How many characters of each pattern the grouping prompt shows (the seed's `t[:200]`).
pub const GROUPING_PREVIEW_CHARS: usize = 200;

/// How many examples the distillation prompt shows (the seed's `group[:5]`).
pub const DISTILL_EXAMPLES: usize = 5;

/// The seed's grouping prompt over `patterns`, numbered from 1.
pub fn grouping_prompt(patterns: &[&CodePattern]) -> String {
    let lines: Vec<String> = patterns
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let text = format!("Context: {}\nSolution: {}", p.context, p.solution);
            let preview: String = text.chars().take(GROUPING_PREVIEW_CHARS).collect();
            format!("{}. {preview}...", i + 1)
        })
        .collect();
    format!(
        "Group these {} code patterns into clusters of similar solutions.\n\n\
         Patterns:\n{}\n\n\
         Respond with groups as JSON: {{\"groups\": [[1,2,3], [4,5], ...]}}\n\
         Group by similar problem/solution type, not just language.",
        patterns.len(),
        lines.join("\n")
    )
}

/// The seed's distillation prompt for a group (its first [`DISTILL_EXAMPLES`] shown).
pub fn distill_prompt(group: &[&CodePattern]) -> String {
    let examples: Vec<String> = group
        .iter()
        .take(DISTILL_EXAMPLES)
        .enumerate()
        .map(|(i, p)| {
            format!(
                "Example {}:\nContext: {}\nSolution: {}",
                i + 1,
                p.context,
                p.solution
            )
        })
        .collect();
    format!(
        "Analyze these {} similar code patterns and extract the general knowledge.\n\n\
         {}\n\n\
         Create a generalized pattern that:\n\
         1. Captures the common solution approach\n\
         2. Uses placeholders for specific values\n\
         3. Explains when to apply this pattern\n\n\
         Respond in this format:\n\
         PATTERN: (the generalized solution template)\n\
         APPLICABILITY: (when to use this pattern)\n\
         CONFIDENCE: (0.0-1.0, how reliable is this pattern)",
        group.len(),
        examples.join("\n\n")
    )
}
