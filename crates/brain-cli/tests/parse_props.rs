#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Property tests of the command line's own parsers: arbitrary input never panics, and
//! what the formatters write parses back to the same value.

use std::time::Duration;

use brain::{RecallMode, RecallQuery};
use brain_cli::batch::{Defaults, parse_line};
use brain_cli::parse::{
    MAX_DURATION, format_duration, format_meta, format_value, parse_duration, parse_meta,
    parse_value,
};
use memory_core::{MemoryFilter, MemoryKind, MetadataCondition, Scope};
use proptest::prelude::*;
use serde_json::Value;

/// JSON values as `--meta` and `pref set` take them: scalars, text, and small nests.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        // Text that looks like other JSON, which must be quoted to stay text.
        prop_oneof![
            Just("3"),
            Just("true"),
            Just("null"),
            Just(" 4 "),
            Just("\"q\""),
            Just("[]")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn scope() -> impl Strategy<Value = Scope> {
    let part = prop::option::of("[a-z0-9_-]{1,12}");
    (part.clone(), part.clone(), part).prop_map(|(user, agent, session)| Scope {
        user,
        agent,
        session,
    })
}

fn recall_query() -> impl Strategy<Value = RecallQuery> {
    (
        any::<String>(),
        scope(),
        prop::option::of(1usize..1000),
        prop_oneof![
            Just(RecallMode::Hybrid),
            Just(RecallMode::Vector),
            Just(RecallMode::Keyword)
        ],
        prop::collection::vec("[a-z_]{1,10}", 0..3),
        prop::collection::vec(("[a-z]{1,8}", any::<i32>()), 0..3),
    )
        .prop_map(|(text, scope, k, mode, kinds, meta)| {
            let mut filter = MemoryFilter::scoped(scope);
            filter.kinds = kinds
                .into_iter()
                .filter_map(|k| MemoryKind::new(k).ok())
                .collect();
            filter.metadata = meta
                .into_iter()
                .map(|(k, v)| MetadataCondition::eq(k, v))
                .collect();
            RecallQuery {
                text,
                filter,
                k,
                mode,
                min_score: None,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn durations_never_panic(s in any::<String>()) {
        if let Ok(d) = parse_duration(&s) {
            prop_assert!(d <= MAX_DURATION);
        }
    }

    #[test]
    fn duration_like_text_never_panics(s in "[0-9]{0,25}(ms|[wdhmsxy])?([0-9]{0,6}[a-z]{0,2}){0,4}") {
        let _ = parse_duration(&s);
    }

    #[test]
    fn durations_round_trip(ms in 0u64..=(MAX_DURATION.as_millis() as u64)) {
        let d = Duration::from_millis(ms);
        let text = format_duration(d);
        prop_assert_eq!(parse_duration(&text), Ok(d), "{}", text);
    }

    #[test]
    fn meta_never_panics(s in any::<String>()) {
        if let Ok((k, v)) = parse_meta(&s) {
            prop_assert!(!k.trim().is_empty());
            prop_assert!(!k.contains('='));
            prop_assert_eq!(format!("{k}={}", s.split_once('=').map(|x| x.1).unwrap_or("")), s.clone());
            let _ = v;
        }
    }

    #[test]
    fn meta_round_trips(key in "[^=]{1,20}".prop_filter("not blank", |k| !k.trim().is_empty()), value in json_value()) {
        let text = format_meta(&key, &value);
        prop_assert_eq!(parse_meta(&text), Ok((key, value)), "{}", text);
    }

    #[test]
    fn values_round_trip(value in json_value()) {
        prop_assert_eq!(parse_value(&format_value(&value)), value);
    }

    #[test]
    fn plain_words_stay_text(word in "[a-zA-Z][a-zA-Z ._/-]{0,20}") {
        // Except JSON's own words.
        prop_assume!(!matches!(word.as_str(), "true" | "false" | "null"));
        prop_assert_eq!(parse_value(&word), Value::String(word.clone()));
    }

    #[test]
    fn batch_lines_never_panic(line in any::<String>()) {
        let _ = parse_line(&line, &Defaults::default());
    }

    #[test]
    fn batch_json_never_panics(v in json_value()) {
        let _ = parse_line(&v.to_string(), &Defaults::default());
    }

    #[test]
    fn serialized_recall_queries_round_trip(q in recall_query()) {
        let line = serde_json::to_string(&q).unwrap();
        prop_assert_eq!(parse_line(&line, &Defaults::default()), Ok(q));
    }
}
