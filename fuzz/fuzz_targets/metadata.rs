//! cargo-fuzz target: see `framepipe_fuzz::metadata`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| framepipe_fuzz::metadata(data));
