//! The `id_token_hint` target: its body lives in `cus_fuzz::id_token_hint`, where the main workspace's
//! tests replay the committed corpus through it (docs/security.md, Fuzzing).
#![no_main]

libfuzzer_sys::fuzz_target!(|input: (u8, u16, u8, &[u8])| cus_fuzz::id_token_hint::fuzz(input));
