//! `parse_reasoning` on any text: no panic, bounded steps and decision.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reasoning::{
    MAX_DECISION_CHARS, MAX_DEPTH, MAX_INPUT_BYTES, MAX_STEPS, parse_reasoning, tree_depth,
    tree_size,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let r = parse_reasoning(&text);
    assert!(r.reasoning.len() <= MAX_INPUT_BYTES);
    assert!(tree_size(&r.steps) <= MAX_STEPS);
    assert!(tree_depth(&r.steps) <= MAX_DEPTH);
    if let Some(d) = r.decision {
        assert!(!d.is_empty() && d.chars().count() <= MAX_DECISION_CHARS);
    }
});
