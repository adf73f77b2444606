//! `herald_tests::fuzz::catalog_yaml`; see FUZZING.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| herald_tests::fuzz::catalog_yaml(data));
