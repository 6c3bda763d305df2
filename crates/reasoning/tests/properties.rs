//! Property tests: every parser is total on arbitrary and list-shaped strings and keeps its
//! bounds; rendered plans parse back; the combined reward stays in `[-1, 1]` and is
//! monotone in each source. Pathological inputs finish quickly (linear work).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::time::{Duration, Instant};

use proptest::prelude::*;
use reasoning::*;

fn check_steps(steps: &[Step]) {
    assert!(tree_size(steps) <= MAX_STEPS, "{} steps", tree_size(steps));
    assert!(
        tree_depth(steps) <= MAX_DEPTH,
        "depth {}",
        tree_depth(steps)
    );
    fn each(steps: &[Step]) {
        for s in steps {
            assert!(!s.text.is_empty(), "empty step text");
            assert!(s.text.chars().count() <= MAX_STEP_CHARS);
            assert_eq!(s.text, s.text.trim());
            assert!(!s.text.contains('\n'));
            each(&s.children);
        }
    }
    each(steps);
}

fn check_all(text: &str, options: &[String]) {
    let r = parse_reasoning(text);
    check_steps(&r.steps);
    assert!(r.reasoning.len() <= MAX_INPUT_BYTES);
    assert!(text.starts_with(&r.reasoning));
    if let Some(d) = &r.decision {
        assert!(!d.is_empty());
        assert!(d.chars().count() <= MAX_DECISION_CHARS);
    }
    check_steps(&parse_plan(text).steps);
    let refl = parse_reflection(text);
    if let Some(p) = &refl.plan {
        assert!(!p.is_empty());
        check_steps(&p.steps);
    }

    let d = parse_decision(text, options);
    if let Some(c) = d.chosen {
        assert!(c < options.len());
    }
    assert!(d.evaluations.len() <= options.len());
    for w in d.evaluations.windows(2) {
        assert!(w[0].option < w[1].option, "sorted, one per option");
    }
    for e in &d.evaluations {
        assert!(e.option < options.len());
        if let Some(s) = e.score {
            assert!((0.0..=10.0).contains(&s), "score {s}");
        }
        assert!(e.pros.len() <= MAX_NOTES && e.risks.len() <= MAX_NOTES);
        for n in e.pros.iter().chain(&e.risks) {
            assert!(!n.is_empty() && n.chars().count() <= MAX_STEP_CHARS);
        }
    }

    if let Some(v) = parse_reward(text) {
        assert!(v.is_finite() && (-1.0..=1.0).contains(&v), "reward {v}");
    }
    let o = offline_reward(text);
    assert!(o.is_finite() && (-1.0..=1.0).contains(&o), "offline {o}");
}

/// Any chars at all, control characters and newlines included.
fn any_text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..300).prop_map(String::from_iter)
}

const MARKERS: &[&str] = &[
    "",
    "",
    "1.",
    "2)",
    "(3)",
    "1.2.",
    "1.2",
    "10.",
    "-",
    "*",
    "+",
    "•",
    "a.",
    "b)",
    "#",
    "##",
    "### Step 2:",
    "**1.**",
    "**Step 1:**",
    "Step 4 -",
    "```",
    "```json",
    "```python",
    "~~~",
    "---",
    "> ",
    "- [x]",
    "Decision:",
    "Conclusion:",
    "**Decision:**",
    "Chosen:",
    "Option 1:",
    "### Option 2:",
    "Pros:",
    "Risks:",
    "Score:",
    "Rating:",
    "Revised plan:",
    "{",
    "[",
    "]",
    "}",
];

const WORDS: &[&str] = &[
    "alpha",
    "beta",
    "SQLite",
    "Postgres",
    "good",
    "not",
    "bad",
    "very",
    "7/10",
    "0.8",
    "-1",
    "to",
    "1",
    "80%",
    "\"text\":",
    "\"steps\":",
    "[",
    "]",
    "{",
    "}",
    ",",
    "**",
    "`",
    "👍",
    "NaN",
    "between",
    "and",
    "but",
    "didn't",
    "work",
    ":)",
    "★",
    "☆",
    "é",
    "\t",
    "1e9",
];

fn list_line() -> impl Strategy<Value = String> {
    (
        0usize..12,
        any::<bool>(),
        prop::sample::select(MARKERS),
        prop::collection::vec(prop::sample::select(WORDS), 0..6),
    )
        .prop_map(|(indent, tabs, marker, words)| {
            let pad = if tabs {
                "\t".repeat(indent / 4)
            } else {
                " ".repeat(indent)
            };
            format!("{pad}{marker} {}", words.join(" "))
        })
}

/// Text shaped like model answers: indented lists, fences, headings, labels.
fn list_text() -> impl Strategy<Value = String> {
    prop::collection::vec(list_line(), 0..60).prop_map(|lines| lines.join("\n"))
}

fn options() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(WORDS).prop_map(str::to_string),
            "[a-zA-Z ]{0,12}",
            Just(String::new()),
        ],
        0..6,
    )
}

/// A tree of steps with plain one-line texts.
fn step_tree() -> impl Strategy<Value = Vec<Step>> {
    let text = "[a-z]{1,8}( [a-z]{1,8}){0,3}";
    let leaf = text.prop_map(Step::new);
    let tree = leaf.prop_recursive(MAX_DEPTH as u32 - 1, 60, 4, move |inner| {
        (text, prop::collection::vec(inner, 0..4))
            .prop_map(|(t, children)| Step { text: t, children })
    });
    prop::collection::vec(tree, 0..6)
}

fn signals() -> impl Strategy<Value = RewardSignals> {
    (
        prop::option::of(-1.0f64..=1.0),
        prop::option::of(any::<bool>()),
        prop::option::of(quality()),
    )
        .prop_map(|(explicit, success, quality)| RewardSignals {
            explicit,
            success,
            quality,
        })
}

fn quality() -> impl Strategy<Value = CodeQuality> {
    (0u32..50, 0u32..50, 0u32..20, 0u32..20, any::<bool>()).prop_map(|(p, f, l, b, failed)| {
        CodeQuality {
            tests_passed: p,
            tests_failed: f,
            lint_warnings: l,
            build_warnings: b,
            build_failed: failed,
        }
    })
}

fn weights() -> impl Strategy<Value = RewardWeights> {
    (0.0f64..5.0, 0.0f64..5.0, 0.01f64..5.0)
        .prop_map(|(e, i, q)| RewardWeights::new(e, i, q).unwrap())
}

fn reward(w: &RewardWeights, s: RewardSignals) -> Option<f64> {
    w.combine(s).map(|b| b.reward)
}

/// `a <= b` where both are present, or both absent (the same sources with the same weights).
fn le(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a <= b,
        (None, None) => true,
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parsers_are_total_on_any_text(text in any_text(), options in options()) {
        check_all(&text, &options);
    }

    #[test]
    fn parsers_are_total_on_list_shaped_text(text in list_text(), options in options()) {
        check_all(&text, &options);
    }

    #[test]
    fn options_named_in_the_text_are_in_range(
        options in prop::collection::vec("[A-Za-z]{1,6}( [A-Za-z]{1,6})?", 1..6),
        picks in prop::collection::vec((0usize..6, 0.0f64..12.0), 0..8),
        chosen in "[ A-Za-z0-9*]{0,20}",
    ) {
        let mut text = String::new();
        for (i, score) in &picks {
            let name = &options[i % options.len()];
            text.push_str(&format!("### Option {}: {name}\nPros: x\nScore: {score}\n\n", i + 1));
        }
        text.push_str(&format!("Chosen: {chosen}\n"));
        let d = parse_decision(&text, &options);
        if let Some(c) = d.chosen {
            prop_assert!(c < options.len());
        }
        for e in &d.evaluations {
            prop_assert!(e.option < options.len());
            prop_assert!(e.score.is_none_or(|s| (0.0..=10.0).contains(&s)));
        }
        // An exact name always wins.
        let exact = format!("{text}Chosen: {}\n", options[0]);
        let first = options.iter().position(|o| *o == options[0]);
        prop_assert_eq!(parse_decision(&exact, &options).chosen, first);
    }

    #[test]
    fn rewards_are_in_range(text in "[-+.0-9/% a-zA-Z]{0,40}") {
        if let Some(v) = parse_reward(&text) {
            prop_assert!(v.is_finite() && (-1.0..=1.0).contains(&v));
        }
        let o = offline_reward(&text);
        prop_assert!(o.is_finite() && (-1.0..=1.0).contains(&o));
    }

    #[test]
    fn numbers_read_back(v in -1.0f64..=1.0) {
        let got = parse_reward(&format!("{v}")).unwrap();
        prop_assert!((got - v).abs() < 1e-12);
        let got = parse_reward(&format!("Rating: {v:.3}")).unwrap();
        prop_assert!((got - v).abs() < 1e-3);
    }

    #[test]
    fn rendered_plans_parse_back(steps in step_tree()) {
        let plan = Plan { steps };
        prop_assume!(plan.len() <= MAX_STEPS);
        prop_assert_eq!(&parse_plan(&plan.render()), &plan);
        prop_assert_eq!(&parse_plan(&serde_json::to_string(&plan).unwrap()), &plan);
        let fenced = format!("Here you go:\n```json\n{}\n```\n", serde_json::to_string_pretty(&plan).unwrap());
        prop_assert_eq!(&parse_plan(&fenced), &plan);
    }

    #[test]
    fn combined_reward_is_in_range(s in signals(), w in weights()) {
        match w.combine(s) {
            Some(b) => {
                prop_assert!(b.reward.is_finite() && (-1.0..=1.0).contains(&b.reward));
                let total: f64 = b.parts.iter().map(|p| p.weight).sum();
                prop_assert!((total - 1.0).abs() < 1e-9);
                for p in &b.parts {
                    prop_assert!((-1.0..=1.0).contains(&p.value));
                }
            }
            None => prop_assert!(
                (s.explicit.is_none() || w.explicit() == 0.0)
                    && (s.success.is_none() || w.implicit() == 0.0)
                    && s.quality.is_none()
            ),
        }
    }

    #[test]
    fn combined_reward_is_monotone_in_each_source(
        s in signals(),
        w in weights(),
        a in -1.0f64..=1.0,
        b in -1.0f64..=1.0,
        dp in 0u32..20,
        df in 0u32..20,
        dw in 0u32..20,
    ) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let r = |s: RewardSignals| reward(&w, s);
        // Explicit rating.
        let x = |e| RewardSignals { explicit: Some(e), ..s };
        prop_assert!(le(r(x(lo)), r(x(hi))));
        // Success.
        let y = |ok| RewardSignals { success: Some(ok), ..s };
        prop_assert!(le(r(y(false)), r(y(true))));
        // Quality.
        let q = s.quality.unwrap_or_default();
        let z = |q: CodeQuality| RewardSignals { quality: Some(q), ..s };
        let more_passed = CodeQuality { tests_passed: q.tests_passed + dp, ..q };
        prop_assert!(le(r(z(q)), r(z(more_passed))));
        let more_failed = CodeQuality { tests_failed: q.tests_failed + df, ..q };
        prop_assert!(le(r(z(more_failed)), r(z(q))));
        let more_warnings = CodeQuality { lint_warnings: q.lint_warnings + dw, build_warnings: q.build_warnings + dw / 2, ..q };
        prop_assert!(le(r(z(more_warnings)), r(z(q))));
        let broken = CodeQuality { build_failed: true, ..q };
        prop_assert!(le(r(z(broken)), r(z(q))));
    }
}

/// Large and adversarial inputs: bounded output, and quick (a quadratic parser would take
/// minutes on these).
#[test]
fn pathological_inputs_stay_bounded_and_fast() {
    let n = MAX_INPUT_BYTES;
    let inputs: Vec<String> = vec![
        "1.".repeat(n / 2),
        "1. ".repeat(n / 3),
        "\n1".repeat(n / 2),
        "1\n".repeat(n / 2),
        "- ".repeat(n / 2),
        " ".repeat(n - 3) + "- x",
        (0..5_000)
            .map(|i| format!("{}- x\n", " ".repeat(i % 200)))
            .collect(),
        "[".repeat(n),
        "{\"steps\":[".repeat(n / 10),
        "```\n".repeat(n / 4),
        "decision".repeat(n / 8),
        "plan plan: ".repeat(n / 11),
        "Decision:\n".repeat(n / 10),
        "Option 1: a\nPros: ;;;;\n- x\nScore: 9/10\n".repeat(n / 40),
        "9".repeat(n),
        "-1 to ".repeat(n / 6),
        "not very ".repeat(n / 9),
        "**".repeat(n / 2),
        "# ".repeat(n / 2),
        "é".repeat(n),
        "1.".repeat(n), // over the input cap
    ];
    let options: Vec<String> = ["a", "x", "Option", "9"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let start = Instant::now();
    for text in &inputs {
        check_all(text, &options);
    }
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
}
