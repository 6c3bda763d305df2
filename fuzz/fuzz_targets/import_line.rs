//! `brain::parse_export_line` (the JSONL import's per-line parser and validator) on any
//! text: no panic; an accepted line serialises, and the serialised line is accepted too
//! (as an export of the imported data would be).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(line) = brain::parse_export_line(text) {
        let again = serde_json::to_string(&line).expect("an accepted line serialises");
        if let Err(e) = brain::parse_export_line(&again) {
            panic!("a re-serialised line is rejected: {e}\n{again}");
        }
    }
});
