//! The `client_assertion` target: its body lives in `cus_fuzz::client_assertion`, where the main workspace's
//! tests replay the committed corpus through it (docs/security.md, Fuzzing).
#![no_main]

libfuzzer_sys::fuzz_target!(|input: (u8, &[u8])| cus_fuzz::client_assertion::fuzz(input));
