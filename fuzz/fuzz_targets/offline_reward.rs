//! `offline_reward` on any text: no panic; a finite value in [-1, 1].
#![no_main]

use libfuzzer_sys::fuzz_target;
use reasoning::offline_reward;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let v = offline_reward(&text);
    assert!(v.is_finite() && (-1.0..=1.0).contains(&v));
});
