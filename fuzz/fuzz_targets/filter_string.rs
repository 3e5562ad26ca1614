//! cargo-fuzz target: see `framepipe_fuzz::filter_string`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| framepipe_fuzz::filter_string(data));
