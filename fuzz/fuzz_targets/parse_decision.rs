//! `parse_decision` on any text and options: the first line holds the options separated by
//! `|`, the rest is the answer. No panic; indices in range; scores in [0, 10].
#![no_main]

use libfuzzer_sys::fuzz_target;
use reasoning::{MAX_NOTES, parse_decision};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (head, answer) = text.split_once('\n').unwrap_or((&text, ""));
    let options: Vec<String> = head.split('|').take(16).map(str::to_string).collect();
    let d = parse_decision(answer, &options);
    if let Some(c) = d.chosen {
        assert!(c < options.len());
    }
    assert!(d.evaluations.len() <= options.len());
    for e in &d.evaluations {
        assert!(e.option < options.len());
        if let Some(s) = e.score {
            assert!((0.0..=10.0).contains(&s));
        }
        assert!(e.pros.len() <= MAX_NOTES && e.risks.len() <= MAX_NOTES);
    }
});
