//! Property tests of memory-core's own invariants.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use memory_core::*;
use proptest::prelude::*;
use serde_json::json;

fn scope_strategy() -> impl Strategy<Value = Scope> {
    let part = || {
        proptest::option::of(proptest::sample::select(vec!["a", "b", "c"]).prop_map(String::from))
    };
    (part(), part(), part()).prop_map(|(user, agent, session)| Scope {
        user,
        agent,
        session,
    })
}

proptest! {
    #[test]
    fn reward_holds_only_finite_values_in_range(v in any::<f64>()) {
        match Reward::new(v) {
            Ok(r) => prop_assert!(v.is_finite() && (-1.0..=1.0).contains(&r.get())),
            Err(_) => prop_assert!(!v.is_finite() || !(-1.0..=1.0).contains(&v)),
        }
        if let Some(r) = Reward::clamped(v) {
            prop_assert!((-1.0..=1.0).contains(&r.get()));
        } else {
            prop_assert!(v.is_nan());
        }
    }

    #[test]
    fn reward_serde_round_trips_and_rejects_out_of_range(v in -2.0f64..2.0) {
        let text = serde_json::to_string(&v).unwrap();
        match serde_json::from_str::<Reward>(&text) {
            Ok(r) => {
                prop_assert_eq!(r.get(), v);
                prop_assert_eq!(serde_json::to_string(&r).unwrap(), text);
            }
            Err(_) => prop_assert!(!(-1.0..=1.0).contains(&v)),
        }
    }

    #[test]
    fn importance_holds_only_unit_interval(v in any::<f64>()) {
        prop_assert_eq!(Importance::new(v).is_ok(), v.is_finite() && (0.0..=1.0).contains(&v));
    }

    #[test]
    fn an_owner_always_sees_itself_and_global_sees_all(owner in scope_strategy(), filter in scope_strategy()) {
        prop_assert!(owner.matches(&owner));
        prop_assert!(Scope::global().matches(&owner));
        // A filter that names a user never shows another user's (or an unowned) record.
        if let Some(u) = &filter.user
            && filter.matches(&owner)
        {
            prop_assert_eq!(owner.user.as_ref(), Some(u));
        }
        // Narrowing a filter never widens what it sees.
        let narrower = filter.clone().with_session("c");
        if filter.session.is_none() && narrower.matches(&owner) {
            prop_assert!(filter.matches(&owner));
        }
    }

    #[test]
    fn memories_serde_round_trip(content in "\\PC{1,40}", scope in scope_strategy(), imp in 0.0f64..=1.0, n in any::<i64>(), s in any::<String>()) {
        prop_assume!(!content.trim().is_empty());
        let m = NewMemory::new(content)
            .with_scope(scope)
            .with_importance(Importance::new(imp).unwrap())
            .with_metadata(Metadata::new().with("n", n).with("s", s))
            .into_memory(Timestamp::now());
        let text = serde_json::to_string(&m).unwrap();
        prop_assert_eq!(serde_json::from_str::<Memory>(&text).unwrap(), m);
    }

    #[test]
    fn timestamps_display_in_order(a in 0i64..253_402_300_799_999, b in 0i64..253_402_300_799_999) {
        // Within years 1970..=9999 RFC 3339 text sorts like the instant.
        let (ta, tb) = (Timestamp::from_millis(a), Timestamp::from_millis(b));
        prop_assert_eq!(ta.cmp(&tb), ta.to_string().cmp(&tb.to_string()));
        prop_assert_eq!(ta.to_string().len(), 24);
    }

    #[test]
    fn query_terms_are_plain_words(text in any::<String>()) {
        let terms = query_terms(&text);
        prop_assert!(terms.len() <= 64);
        let mut seen = std::collections::HashSet::new();
        for t in &terms {
            prop_assert!(!t.is_empty());
            prop_assert!(t.chars().all(char::is_alphanumeric), "{t:?}");
            prop_assert!(seen.insert(t.clone()), "duplicate {t:?}");
        }
    }

    #[test]
    fn json_depth_counts_nesting(depth in 0usize..60) {
        let mut v = json!("leaf");
        for _ in 0..depth {
            v = json!([v]);
        }
        prop_assert_eq!(validate::json_depth(&v), depth);
        prop_assert_eq!(validate::json("v", &v).is_ok(), depth <= validate::MAX_JSON_DEPTH);
    }

    #[test]
    fn metadata_from_text_never_panics(text in any::<String>()) {
        let _ = Metadata::from_json_str(&text);
    }

    #[test]
    fn vectors_are_checked(v in proptest::collection::vec(prop_oneof![any::<f32>(), Just(0.0f32)], 0..8), dim in 0usize..8) {
        let ok = validate::vector(&v, dim).is_ok();
        prop_assert_eq!(ok, v.len() == dim && v.iter().all(|x| x.is_finite()) && v.iter().any(|x| *x != 0.0));
    }
}
