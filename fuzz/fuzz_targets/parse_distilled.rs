//! `distill::parse_distilled` on any text: no panic; when it answers, all three fields are
//! non-empty and the confidence is finite and in `[0, 1]`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(d) = distill::parse_distilled(&text) {
        assert!(!d.pattern.trim().is_empty());
        assert!(!d.applicability.trim().is_empty());
        assert!(d.confidence.is_finite() && (0.0..=1.0).contains(&d.confidence));
    }
});
