//! cargo-fuzz target: see `framepipe_fuzz::caps_layout`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| framepipe_fuzz::caps_layout(data));
