//! `parse_reward` on any text: no panic; a finite value in [-1, 1] or none.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reasoning::parse_reward;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(v) = parse_reward(&text) {
        assert!(v.is_finite() && (-1.0..=1.0).contains(&v));
    }
});
