//! The `authorize` target: its body lives in `cus_fuzz::authorize`, where the main workspace's
//! tests replay the committed corpus through it (docs/security.md, Fuzzing).
#![no_main]

libfuzzer_sys::fuzz_target!(|input: (bool, &[u8])| cus_fuzz::authorize::fuzz(input));
