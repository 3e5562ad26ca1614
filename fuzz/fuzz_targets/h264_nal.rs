//! cargo-fuzz target: see `framepipe_fuzz::h264_nal`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| framepipe_fuzz::h264_nal(data));
