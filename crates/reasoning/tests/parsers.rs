//! The parsers on realistic model answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use reasoning::*;

fn texts(steps: &[Step]) -> Vec<&str> {
    steps.iter().map(|s| s.text.as_str()).collect()
}

fn opts(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// ---------- parse_reasoning ----------

#[test]
fn numbered_steps_with_nested_bullets_and_a_decision_line() {
    let answer = "Let me think about this step by step.\n\
        \n\
        1. **Reproduce the failure**\n   \
           - Run the test 100 times with `cargo test -- --test-threads=1`\n   \
           - Record the seed of each failure\n\
        2. **Find the race**\n   \
           - Check the shared temp directory\n\
        3. **Fix and verify**\n\
        \n\
        Decision: isolate the temp directory per test.\n";
    let r = parse_reasoning(answer);
    assert_eq!(r.reasoning, answer);
    assert_eq!(
        texts(&r.steps),
        ["Reproduce the failure", "Find the race", "Fix and verify"]
    );
    assert_eq!(
        texts(&r.steps[0].children),
        [
            "Run the test 100 times with `cargo test -- --test-threads=1`",
            "Record the seed of each failure"
        ]
    );
    assert_eq!(
        texts(&r.steps[1].children),
        ["Check the shared temp directory"]
    );
    assert!(r.steps[2].children.is_empty());
    assert_eq!(
        r.decision.as_deref(),
        Some("isolate the temp directory per test.")
    );
}

#[test]
fn hierarchical_numbers_nest_without_indentation() {
    let answer =
        "1. Setup\n1.1 Install Rust\n1.2. Clone the repo\n2. Build\n2.1) Run cargo build\n";
    let r = parse_reasoning(answer);
    assert_eq!(texts(&r.steps), ["Setup", "Build"]);
    assert_eq!(
        texts(&r.steps[0].children),
        ["Install Rust", "Clone the repo"]
    );
    assert_eq!(texts(&r.steps[1].children), ["Run cargo build"]);
}

#[test]
fn step_headings_hold_their_lists_and_code_fences_are_skipped() {
    let answer = "### Step 1: Understand the schema\n\
        The schema has two tables.\n\
        - users\n\
        - orders\n\
        \n\
        ### Step 2: Write the migration\n\
        ```sql\n\
        ALTER TABLE users ADD COLUMN email TEXT;\n\
        - this is SQL, not a step\n\
        1. neither is this\n\
        ```\n\
        \n\
        ### Conclusion\n\
        Ship the migration behind a flag.\n";
    let r = parse_reasoning(answer);
    assert_eq!(
        texts(&r.steps),
        ["Understand the schema", "Write the migration"]
    );
    assert_eq!(texts(&r.steps[0].children), ["users", "orders"]);
    assert!(r.steps[1].children.is_empty());
    assert_eq!(
        r.decision.as_deref(),
        Some("Ship the migration behind a flag.")
    );
}

#[test]
fn bold_step_labels_and_mixed_bullets() {
    let answer = "**Step 1:** Read the logs\n\
        * look for panics\n\
        \t• note the timestamps\n\
        **Step 2:** Bisect\n\
        + run git bisect\n";
    let r = parse_reasoning(answer);
    assert_eq!(texts(&r.steps), ["Read the logs", "Bisect"]);
    assert_eq!(texts(&r.steps[0].children), ["look for panics"]);
    assert_eq!(
        texts(&r.steps[0].children[0].children),
        ["note the timestamps"]
    );
    assert_eq!(texts(&r.steps[1].children), ["run git bisect"]);
}

#[test]
fn bullets_under_numbers_at_the_same_indentation_are_children() {
    let answer = "1. Prepare\n- back up the database\n- tell the team\n2. Migrate\n";
    let r = parse_reasoning(answer);
    assert_eq!(texts(&r.steps), ["Prepare", "Migrate"]);
    assert_eq!(
        texts(&r.steps[0].children),
        ["back up the database", "tell the team"]
    );
}

#[test]
fn indented_text_continues_a_step_and_unindented_text_ends_the_list() {
    let answer = "1. Add an index\n   on orders.user_id\n2. Re-run the query\nThat should do it.\n   - not part of step 2\n";
    let r = parse_reasoning(answer);
    assert_eq!(
        texts(&r.steps),
        [
            "Add an index on orders.user_id",
            "Re-run the query",
            "not part of step 2"
        ]
    );
}

#[test]
fn an_untagged_fence_around_the_answer_does_not_hide_the_list() {
    let r = parse_reasoning("```\n1. a\n2. b\n```\n");
    assert_eq!(texts(&r.steps), ["a", "b"]);
}

#[test]
fn checkboxes_and_lettered_sub_steps() {
    let r = parse_reasoning("- [x] done\n- [ ] todo\n1. Release\n   a. tag\n   b) publish\n");
    assert_eq!(texts(&r.steps), ["done", "todo", "Release"]);
    assert_eq!(texts(&r.steps[2].children), ["tag", "publish"]);
}

#[test]
fn the_seed_flat_extraction_is_the_fallback() {
    let r = parse_reasoning("We should 1. measure first 2. then optimise\n\nDone.");
    assert_eq!(texts(&r.steps), ["measure first 2. then optimise"]);
    assert!(r.steps[0].children.is_empty());
}

#[test]
fn prose_without_lists_has_no_steps_and_no_decision() {
    let r = parse_reasoning("Version 2.0 is out. Nothing to decide today.");
    assert!(r.steps.is_empty());
    assert_eq!(r.decision, None);
}

#[test]
fn decision_keywords_like_the_seed() {
    let d = |t: &str| parse_reasoning(t).decision;
    assert_eq!(
        d("Thinking...\n\nConclusion: use a mutex.\nIt is simpler.\n\nAppendix").as_deref(),
        Some("use a mutex.\nIt is simpler.")
    );
    assert_eq!(
        d("After weighing it, I recommend: the in-process cache").as_deref(),
        Some("the in-process cache")
    );
    assert_eq!(
        d("Recommendation: retry with backoff").as_deref(),
        Some("retry with backoff")
    );
    assert_eq!(d("**Final answer:** 42").as_deref(), Some("42"));
    assert_eq!(d("FINAL: ship it").as_deref(), Some("ship it"));
    assert_eq!(d("Plan:\n\n1. a\n2. b").as_deref(), Some("1. a\n2. b"));
    // The seed takes the leftmost keyword...
    assert_eq!(
        d("Plan: look around\n\nConclusion: go left").as_deref(),
        Some("look around")
    );
    // ...but an explicit decision line wins, and the last one counts.
    assert_eq!(
        d("Plan: look around\n\nDecision: go left\n\n**Decision:** go right").as_deref(),
        Some("go right")
    );
    assert_eq!(
        d("## Decision:\nUse the queue.\n\nBecause...").as_deref(),
        Some("Use the queue.")
    );
}

// ---------- parse_plan ----------

#[test]
fn json_plan_in_a_fence() {
    let answer = "Here is the plan:\n\n```json\n{\n  \"steps\": [\n    {\"text\": \"Set up CI\", \"children\": [{\"text\": \"Add a workflow\"}, \"Cache the target dir\"]},\n    {\"text\": \"Write tests\"}\n  ]\n}\n```\nLet me know!";
    let plan = parse_plan(answer);
    assert_eq!(texts(&plan.steps), ["Set up CI", "Write tests"]);
    assert_eq!(
        texts(&plan.steps[0].children),
        ["Add a workflow", "Cache the target dir"]
    );
    assert_eq!(plan.len(), 4);
    assert_eq!(plan.depth(), 2);
}

#[test]
fn json_arrays_and_other_key_names() {
    let plan = parse_plan(
        r#"["1. Install", "2. Configure", {"title": "Deploy", "subtasks": ["canary", "full"]}]"#,
    );
    assert_eq!(texts(&plan.steps), ["Install", "Configure", "Deploy"]);
    assert_eq!(texts(&plan.steps[2].children), ["canary", "full"]);

    let plan = parse_plan(r#"{"plan": {"tasks": [{"step": 1, "description": "Profile"}]}}"#);
    assert_eq!(texts(&plan.steps), ["Profile"]);
}

#[test]
fn unbraced_json_after_prose() {
    let plan = parse_plan("Sure! The plan:\n[\"a\", [\"a1\"], \"b\"]\nHope this helps.");
    assert_eq!(texts(&plan.steps), ["a", "b"]);
    assert_eq!(texts(&plan.steps[0].children), ["a1"]);
}

#[test]
fn broken_json_falls_back_to_the_list() {
    let plan = parse_plan("```json\n{steps: [\n```\n1. a\n   1.1 b\n");
    assert_eq!(texts(&plan.steps), ["a"]);
    assert_eq!(texts(&plan.steps[0].children), ["b"]);
    // JSON with no step in it is not a plan either.
    let plan = parse_plan("[1, 2, 3]\n- real step\n");
    assert_eq!(texts(&plan.steps), ["real step"]);
}

#[test]
fn deep_lists_are_cut_to_the_depth_limit() {
    let mut answer = String::new();
    for level in 0..20 {
        answer.push_str(&" ".repeat(level * 2));
        answer.push_str(&format!("- level {level}\n"));
    }
    let plan = parse_plan(&answer);
    assert_eq!(plan.depth(), MAX_DEPTH);
    assert_eq!(plan.len(), 20);

    let mut json = String::new();
    for i in 0..20 {
        json.push_str(&format!("{{\"text\": \"l{i}\", \"children\": ["));
    }
    json.push_str(&"]}".repeat(20));
    let plan = parse_plan(&json);
    assert_eq!(plan.depth(), MAX_DEPTH);
    assert_eq!(plan.len(), MAX_DEPTH);
}

#[test]
fn long_lists_are_cut_to_the_step_limit_and_long_text_is_capped() {
    let answer: String = (1..=500).map(|i| format!("{i}. step {i}\n")).collect();
    let plan = parse_plan(&answer);
    assert_eq!(plan.len(), MAX_STEPS);
    assert_eq!(plan.steps.last().map(|s| s.text.as_str()), Some("step 200"));

    let long = format!("1. {}\n", "word ".repeat(2_000));
    let plan = parse_plan(&long);
    let n = plan.steps[0].text.chars().count();
    assert!((MAX_STEP_CHARS - 5..=MAX_STEP_CHARS).contains(&n), "{n}");
    assert!(!plan.steps[0].text.ends_with(' '));
}

#[test]
fn rendered_plans_parse_back() {
    let plan = Plan {
        steps: vec![
            Step::new("Drain traffic").with_child(
                Step::new("Switch the load balancer").with_child(Step::new("Check health")),
            ),
            Step::new("Upgrade the database"),
        ],
    };
    assert_eq!(
        plan.render(),
        "1. Drain traffic\n   1.1 Switch the load balancer\n      1.1.1 Check health\n2. Upgrade the database\n"
    );
    assert_eq!(parse_plan(&plan.render()), plan);
    assert_eq!(parse_plan(&serde_json::to_string(&plan).unwrap()), plan);
}

// ---------- parse_reflection ----------

#[test]
fn reflection_splits_critique_and_revised_plan() {
    let answer = "## Critique\n\
        - Step 1 repeats the failed attempt (restarting the server).\n\
        - Nothing respects the no-downtime constraint.\n\
        \n\
        ## Revised Plan\n\
        1. Drain traffic\n   \
           1.1 Switch the load balancer\n\
        2. Upgrade the database\n";
    let r = parse_reflection(answer);
    assert!(r.critique.starts_with("## Critique\n- Step 1 repeats"));
    assert!(r.critique.ends_with("constraint."));
    let plan = r.plan.unwrap();
    assert_eq!(
        texts(&plan.steps),
        ["Drain traffic", "Upgrade the database"]
    );
    assert_eq!(texts(&plan.steps[0].children), ["Switch the load balancer"]);

    let r = parse_reflection("Here's the improved plan:\n- a\n- b");
    assert_eq!(r.critique, "");
    assert_eq!(texts(&r.plan.unwrap().steps), ["a", "b"]);
}

#[test]
fn reflection_without_a_revised_plan_has_none() {
    let r = parse_reflection("The plan is fine.\n- keep step 1\n");
    assert_eq!(r.plan, None);
    assert_eq!(r.critique, "The plan is fine.\n- keep step 1");
    assert_eq!(parse_reflection("## Revised Plan\n(no changes)").plan, None);
}

// ---------- parse_decision ----------

const PROMPT_FORMAT_ANSWER: &str = "### Option 1: SQLite\n\
    Pros: no server; single file\n\
    Risks: write concurrency\n\
    Score: 8\n\
    \n\
    ### Option 2: Postgres\n\
    **Pros:**\n\
    - mature\n\
    - concurrent writes\n\
    **Risks:**\n\
    - another service to run\n\
    **Score:** 6/10\n\
    \n\
    Chosen: SQLite\n";

#[test]
fn decision_in_the_prompt_format() {
    let options = opts(&["SQLite", "Postgres"]);
    let d = parse_decision(PROMPT_FORMAT_ANSWER, &options);
    assert_eq!(d.chosen, Some(0));
    assert_eq!(d.evaluations.len(), 2);
    let a = d.evaluation(0).unwrap();
    assert_eq!(a.pros, ["no server", "single file"]);
    assert_eq!(a.risks, ["write concurrency"]);
    assert_eq!(a.score, Some(8.0));
    let b = d.evaluation(1).unwrap();
    assert_eq!(b.pros, ["mature", "concurrent writes"]);
    assert_eq!(b.risks, ["another service to run"]);
    assert_eq!(b.score, Some(6.0));
}

#[test]
fn chosen_without_the_exact_name() {
    let options = opts(&["SQLite", "Postgres"]);
    let with = |chosen: &str| {
        let answer = PROMPT_FORMAT_ANSWER.replace("Chosen: SQLite", chosen);
        parse_decision(&answer, &options).chosen
    };
    assert_eq!(with("Chosen: **postgres**."), Some(1));
    assert_eq!(
        with("Chosen: I'd go with Postgres because it scales"),
        Some(1)
    );
    assert_eq!(with("Chosen: Option 2"), Some(1));
    assert_eq!(with("Chosen:\n`Postgres`"), Some(1));
    assert_eq!(with("Final decision: postgres"), Some(1));
    // Naming both, or neither, falls back to the higher score.
    assert_eq!(with("Chosen: Postgres or SQLite"), Some(0));
    assert_eq!(with("Chosen: MySQL"), Some(0));
    assert_eq!(with(""), Some(0));
}

#[test]
fn longer_option_names_win_over_their_prefixes() {
    let options = opts(&["SQLite", "SQLite with WAL"]);
    let d = parse_decision("Chosen: use sqlite with WAL mode", &options);
    assert_eq!(d.chosen, Some(1));
    let d = parse_decision("Chosen: SQLite", &options);
    assert_eq!(d.chosen, Some(0));
}

#[test]
fn free_form_evaluations_by_name_with_inline_scores() {
    let options = opts(&["Redis", "in-process LRU"]);
    let answer = "1. **Redis** (score: 6/10)\n   - Pros: shared across instances\n   - Cons: network hop; ops burden\n\
                  2. **In-process LRU** — score 85%\n   - Pros: fastest\n";
    let d = parse_decision(answer, &options);
    let a = d.evaluation(0).unwrap();
    assert_eq!(a.score, Some(6.0));
    assert_eq!(a.pros, ["shared across instances"]);
    assert_eq!(a.risks, ["network hop", "ops burden"]);
    let b = d.evaluation(1).unwrap();
    assert_eq!(b.score, Some(8.5));
    assert_eq!(d.chosen, Some(1), "no Chosen line: the higher score");
}

#[test]
fn a_recommendation_inside_a_section_does_not_end_it() {
    let options = opts(&["A", "B"]);
    let answer = "Option 1: A\nRecommendation: good fit\nScore: 9\nOption 2: B\nScore: 4\n";
    let d = parse_decision(answer, &options);
    assert_eq!(d.evaluation(0).unwrap().score, Some(9.0));
    assert_eq!(d.chosen, Some(0));
}

#[test]
fn tied_scores_choose_nothing_and_scores_are_clamped() {
    let options = opts(&["A", "B"]);
    let d = parse_decision("Option 1: A\nScore: 7\nOption 2: B\nScore: 7", &options);
    assert_eq!(d.chosen, None);
    let d = parse_decision("Option 1: A\nScore: 15\nOption 2: B\nScore: -3", &options);
    assert_eq!(d.evaluation(0).unwrap().score, Some(10.0));
    assert_eq!(d.evaluation(1).unwrap().score, Some(0.0));
    assert_eq!(d.chosen, Some(0));
}

#[test]
fn no_options_or_no_answer() {
    let d = parse_decision(PROMPT_FORMAT_ANSWER, &[]);
    assert_eq!(d, DecisionParse::default());
    let d = parse_decision("", &opts(&["A"]));
    assert_eq!(d.chosen, None);
    assert!(d.evaluations.is_empty());
}
