//! `parse_steps` on any text: no panic, at most `MAX_STEPS` steps, `MAX_DEPTH` deep, each
//! step's text non-empty and at most `MAX_STEP_CHARS` chars.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reasoning::{MAX_DEPTH, MAX_STEP_CHARS, MAX_STEPS, Step, parse_steps, tree_depth, tree_size};

fn check(steps: &[Step]) {
    for s in steps {
        assert!(!s.text.is_empty() && s.text.chars().count() <= MAX_STEP_CHARS);
        check(&s.children);
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let steps = parse_steps(&text);
    assert!(tree_size(&steps) <= MAX_STEPS);
    assert!(tree_depth(&steps) <= MAX_DEPTH);
    check(&steps);
});
