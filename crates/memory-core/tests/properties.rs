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

fn new_record_strategy() -> impl Strategy<Value = NewRecord> {
    (scope_strategy(), "[a-z]{1,12}", 0usize..6).prop_map(|(scope, word, arm)| match arm {
        0 => NewPreference::new(word, 1).with_scope(scope).into(),
        1 => NewProject {
            scope,
            name: word,
            ..Default::default()
        }
        .into(),
        2 => NewPattern::new("t", word, "s").with_scope(scope).into(),
        3 => NewLearningEvent {
            scope,
            event_type: "e".into(),
            task_description: word,
            outcome: "o".into(),
            reward: Reward::NEUTRAL,
            metadata: Metadata::new(),
        }
        .into(),
        4 => NewConversation {
            scope,
            summary: word,
            ..Default::default()
        }
        .into(),
        _ => NewDecision {
            scope,
            agent_type: "a".into(),
            context: word,
            options: vec!["x".into()],
            chosen_option: "x".into(),
            ..Default::default()
        }
        .into(),
    })
}

proptest! {
    /// A new record becomes a record of its own kind and scope, and every typed view of
    /// it unwraps only as that kind.
    #[test]
    fn new_records_keep_kind_and_scope(new in new_record_strategy(), ms in 0i64..1 << 40) {
        let kind = new.kind();
        let scope = match &new {
            NewRecord::Preference(r) => r.scope.clone(),
            NewRecord::Project(r) => r.scope.clone(),
            NewRecord::Pattern(r) => r.scope.clone(),
            NewRecord::LearningEvent(r) => r.scope.clone(),
            NewRecord::Conversation(r) => r.scope.clone(),
            NewRecord::Decision(r) => r.scope.clone(),
        };
        prop_assert!(new.validate().is_ok());
        let json = serde_json::to_string(&new).unwrap();
        prop_assert_eq!(serde_json::from_str::<NewRecord>(&json).unwrap(), new.clone());
        let r = new.into_record(Timestamp::from_millis(ms));
        prop_assert_eq!(r.record_kind(), kind);
        prop_assert_eq!(r.scope(), &scope);
        prop_assert_eq!(r.clone().into_type::<Preference>().is_ok(), kind == RecordKind::Preference);
        prop_assert_eq!(r.clone().into_type::<Project>().is_ok(), kind == RecordKind::Project);
        prop_assert_eq!(r.clone().into_type::<CodePattern>().is_ok(), kind == RecordKind::Pattern);
        prop_assert_eq!(r.clone().into_type::<LearningEvent>().is_ok(), kind == RecordKind::LearningEvent);
        prop_assert_eq!(r.clone().into_type::<ConversationSummary>().is_ok(), kind == RecordKind::Conversation);
        prop_assert_eq!(r.into_type::<AgentDecision>().is_ok(), kind == RecordKind::Decision);
    }

    /// `order_by_ids` gives the present ids in the asked order, each once.
    #[test]
    fn records_come_back_in_id_order(
        present in proptest::collection::btree_set(1i64..40, 0..20),
        asked in proptest::collection::vec(1i64..40, 0..30),
    ) {
        let rows: Vec<Record> = present
            .iter()
            .rev()
            .map(|&id| {
                let mut r = NewRecord::from(NewConversation { summary: "s".into(), ..Default::default() })
                    .into_record(Timestamp::from_millis(0));
                if let Record::Conversation(c) = &mut r { c.id = id; }
                r
            })
            .collect();
        let got: Vec<RecordId> = order_by_ids(&asked, rows).iter().map(Record::id).collect();
        let mut seen = std::collections::HashSet::new();
        let want: Vec<RecordId> = asked
            .iter()
            .copied()
            .filter(|id| present.contains(id) && seen.insert(*id))
            .collect();
        prop_assert_eq!(got, want);
    }
}
