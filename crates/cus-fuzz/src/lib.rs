//! The bodies of the `cargo fuzz` targets in `fuzz/`: everything CUS parses from the
//! outside, driven with any input, with the properties each must keep. They live here, in
//! the main workspace, so the test suite replays every committed corpus through the same
//! code (`tests/replay.rs`) without building libFuzzer; `scripts/fuzz` runs the
//! exploratory, coverage-guided search.

pub mod authorize;
pub mod client_assertion;
pub mod client_metadata;
pub mod id_token_hint;
pub mod protocol_forms;
pub mod rut;
pub mod web_forms;
