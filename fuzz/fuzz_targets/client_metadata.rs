//! The `client_metadata` target: its body lives in `cus_fuzz::client_metadata`, where the main workspace's
//! tests replay the committed corpus through it (docs/security.md, Fuzzing).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cus_fuzz::client_metadata::fuzz(data));
