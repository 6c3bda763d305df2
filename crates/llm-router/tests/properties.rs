//! Property tests of the router's own invariants: a valid table routes every request to
//! its first matching rule, costs are additive and never negative, and a request never
//! needs fewer tokens for asking more.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use llm_router::router::tokens_needed;
use llm_router::{
    Complexity, Condition, Registry, RouteRequest, RoutingTable, Rule, Target, TaskType,
};
use memory_core::{CompletionRequest, Usage};
use proptest::prelude::*;

fn task() -> impl Strategy<Value = TaskType> {
    proptest::sample::select(TaskType::ALL.to_vec())
}

fn complexity() -> impl Strategy<Value = Complexity> {
    proptest::sample::select(Complexity::ALL.to_vec())
}

fn request() -> impl Strategy<Value = RouteRequest> {
    (
        task(),
        complexity(),
        0u64..100_000,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(t, c, n, f, ch)| {
            RouteRequest::new(t, c)
                .with_context_length(n)
                .fast_and_cheap(f, ch)
        })
}

fn condition() -> impl Strategy<Value = Condition> {
    (
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::collection::vec(task(), 0..3),
        proptest::collection::vec(complexity(), 0..3),
        proptest::option::of(0u64..100_000),
    )
        .prop_map(
            |(require_fast, require_cheap, tasks, complexities, context_longer_than)| Condition {
                require_fast,
                require_cheap,
                tasks,
                complexities,
                context_longer_than,
            },
        )
}

/// The condition's meaning, written out independently: a loop over the constraints.
fn reference(c: &Condition, r: &RouteRequest) -> bool {
    let checks = [
        c.require_fast.map(|f| f == r.require_fast),
        c.require_cheap.map(|ch| ch == r.require_cheap),
        (!c.tasks.is_empty()).then(|| c.tasks.contains(&r.task)),
        (!c.complexities.is_empty()).then(|| c.complexities.contains(&r.complexity)),
        c.context_longer_than.map(|n| r.context_length > n),
    ];
    checks.into_iter().flatten().all(|ok| ok)
}

proptest! {
    #[test]
    fn conditions_mean_what_they_say(c in condition(), r in request()) {
        prop_assert_eq!(c.matches(&r), reference(&c, &r));
    }

    /// A valid table (any rules, then a catch-all) routes every request, to the first
    /// rule that matches.
    #[test]
    fn valid_tables_route_everything_to_the_first_match(conds in proptest::collection::vec(condition(), 0..6), r in request()) {
        let mut rules: Vec<Rule> = conds
            .into_iter()
            .enumerate()
            .map(|(i, when)| Rule {
                name: format!("r{i}"),
                when,
                target: Target::new("p", format!("m{i}")),
                fallbacks: vec![],
                reason: String::new(),
            })
            .collect();
        rules.push(Rule {
            name: "last".into(),
            when: Condition::default(),
            target: Target::new("p", "last"),
            fallbacks: vec![],
            reason: String::new(),
        });
        let table = RoutingTable { rules: rules.clone() };
        prop_assert!(table.validate().is_ok());
        let d = table.route(&r).unwrap();
        let first = rules.iter().find(|rule| reference(&rule.when, &r)).unwrap();
        prop_assert_eq!(d.rule, first.name.clone());
    }

    #[test]
    fn costs_are_additive_and_never_negative(a in 0u64..10_000_000, b in 0u64..10_000_000, c in 0u64..10_000_000, d in 0u64..10_000_000) {
        let registry = Registry::seed("llama3.1:8b");
        for m in registry.models() {
            let x = m.cost(&Usage { input_tokens: a, output_tokens: b });
            let y = m.cost(&Usage { input_tokens: c, output_tokens: d });
            let both = m.cost(&Usage { input_tokens: a + c, output_tokens: b + d });
            prop_assert!(x >= 0.0 && y >= 0.0);
            prop_assert!((x + y - both).abs() <= 1e-9 * both.max(1.0));
            if m.local {
                prop_assert_eq!(both, 0.0);
            }
        }
    }

    #[test]
    fn asking_more_never_needs_fewer_tokens(text in ".{0,400}", extra in ".{0,400}", max in proptest::option::of(0u32..100_000)) {
        let mut small = CompletionRequest::prompt(text.clone());
        small.max_tokens = max;
        let mut big = CompletionRequest::prompt(format!("{text}{extra}"));
        big.max_tokens = max.map(|m| m + 1).or(Some(1));
        prop_assert!(tokens_needed(&big) >= tokens_needed(&small));
    }
}
