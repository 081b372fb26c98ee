//! The `rut` target: its body lives in `cus_fuzz::rut`, where the main workspace's
//! tests replay the committed corpus through it (docs/security.md, Fuzzing).
#![no_main]

libfuzzer_sys::fuzz_target!(|text: &str| cus_fuzz::rut::fuzz(text));
