//! `herald_tests::fuzz::structured`; see FUZZING.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| herald_tests::fuzz::structured(data));
