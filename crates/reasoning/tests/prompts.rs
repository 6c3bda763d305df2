//! The prompts: the seed's reasoning and feedback prompts word for word, and the shape of
//! the planning, reflection and decision prompts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use reasoning::*;

#[test]
fn reasoning_prompt_with_only_a_goal_is_the_seeds() {
    let p = reasoning_prompt(&ReasoningInput::new("Fix the flaky test"));
    assert_eq!(
        p,
        "You are an expert AI reasoning engine. Think step-by-step to achieve the goal.\n\
         \n\
         ## Goal\n\
         Fix the flaky test\n\
         \n\
         ## Instructions\n\
         1. Analyze the goal and break it into steps\n\
         2. Consider constraints and previous attempts\n\
         3. Reason through each step\n\
         4. Provide your plan\n\
         \n\
         ## Your Reasoning (think step by step)\n"
    );
}

#[test]
fn reasoning_prompt_with_context_keeps_five_memories_and_the_last_three_attempts() {
    let mut input = ReasoningInput::new("Fix the flaky test")
        .with_constraint("no new dependencies")
        .with_constraint("keep the test\nparallel");
    for i in 1..=7 {
        input = input.with_memory(format!("memory {i}"));
    }
    for i in 1..=4 {
        input = input.with_attempt(Attempt::new(format!("action {i}"), format!("result {i}")));
    }
    let p = reasoning_prompt(&input);
    assert_eq!(
        p,
        "You are an expert AI reasoning engine. Think step-by-step to achieve the goal.\n\
         \n\
         ## Goal\n\
         Fix the flaky test\n\
         \n\
         ## Constraints\n\
         - no new dependencies\n\
         - keep the test parallel\n\
         \n\
         ## Relevant Knowledge\n\
         - memory 1\n\
         - memory 2\n\
         - memory 3\n\
         - memory 4\n\
         - memory 5\n\
         \n\
         ## Previous Attempts\n\
         - Tried: action 2, Result: result 2\n\
         - Tried: action 3, Result: result 3\n\
         - Tried: action 4, Result: result 4\n\
         \n\
         ## Instructions\n\
         1. Analyze the goal and break it into steps\n\
         2. Consider constraints and previous attempts\n\
         3. Reason through each step\n\
         4. Provide your plan\n\
         \n\
         ## Your Reasoning (think step by step)\n"
    );
}

#[test]
fn reasoning_prompt_can_ask_for_a_decision_line() {
    let p = reasoning_prompt(&ReasoningInput::new("g").with_decision_line(true));
    assert!(p.contains(
        "4. Provide your plan\n5. End with one line of the form \"Decision: <your decision>\"\n\n## Your Reasoning"
    ));
}

#[test]
fn feedback_prompt_is_the_seeds() {
    assert_eq!(
        feedback_prompt("works, thanks"),
        "Analyze this user feedback and rate it from -1 (very negative) to 1 (very positive).\n\
         \n\
         Feedback: works, thanks\n\
         \n\
         Respond with only a number between -1 and 1."
    );
}

#[test]
fn planning_prompt_asks_for_nested_numbered_steps() {
    let p = planning_prompt("Ship v2", &["no downtime".to_string()]);
    assert!(p.starts_with("You are an expert AI planning engine."));
    assert!(p.contains("## Goal\nShip v2\n\n## Constraints\n- no downtime\n\n## Instructions\n"));
    assert!(
        p.contains("1. First step\n   1.1 A sub-step\n   1.2 Another sub-step\n2. Second step\n")
    );
    assert!(p.ends_with("## Plan\n"));
    // The example in the prompt parses as the tree it shows.
    let example = "1. First step\n   1.1 A sub-step\n   1.2 Another sub-step\n2. Second step\n";
    let plan = parse_plan(example);
    assert_eq!(plan.steps.len(), 2);
    assert_eq!(plan.steps[0].children.len(), 2);
    assert_eq!(plan.render(), example);
}

#[test]
fn planning_prompt_without_constraints_has_no_constraints_section() {
    assert!(!planning_prompt("g", &[]).contains("## Constraints"));
}

#[test]
fn reflection_prompt_carries_the_plan_constraints_and_attempts() {
    let attempts: Vec<Attempt> = (1..=5)
        .map(|i| Attempt::new(format!("a{i}"), "failed"))
        .collect();
    let plan = Plan {
        steps: vec![Step::new("Restart the server").with_child(Step::new("Wait"))],
    };
    let p = reflection_prompt(
        "Upgrade",
        &["no downtime".into()],
        &attempts,
        &plan.render(),
    );
    assert!(p.contains("## Constraints\n- no downtime\n"));
    assert!(!p.contains("Tried: a2,"));
    assert!(p.contains(
        "- Tried: a3, Result: failed\n- Tried: a4, Result: failed\n- Tried: a5, Result: failed\n"
    ));
    assert!(p.contains("## Plan\n1. Restart the server\n   1.1 Wait\n\n## Instructions\n"));
    assert!(p.contains(REVISED_PLAN_HEADING));
    assert!(p.ends_with("## Critique\n"));
}

#[test]
fn decision_prompt_lists_options_and_the_answer_format() {
    let options = vec!["SQLite".to_string(), "Postgres\nwith replicas".to_string()];
    let p = decision_prompt("Pick a store", &options, "single machine");
    assert!(p.contains(
        "## Context\nsingle machine\n\n## Options\n1. SQLite\n2. Postgres with replicas\n"
    ));
    assert!(p.contains("Score: <a number from 0 to 10>"));
    assert!(p.trim_end().ends_with("Chosen: <option>"));
    assert!(!decision_prompt("g", &options, "  ").contains("## Context"));
}
