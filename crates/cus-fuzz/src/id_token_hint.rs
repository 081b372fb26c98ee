//! The JWS parsing behind `id_token_hint` (at `/authorize` and `/end_session`) and access
//! tokens: `KeySet::verify` on any text must refuse it (nobody forges our signatures), and
//! on tokens we signed over fuzzed claims it must return exactly those claims, then refuse
//! them again after any one-byte change of the token.

use std::sync::LazyLock;

use cus_core::authorize;
use cus_jose::{ALGORITHMS, KeySet};
use serde_json::Value;
use time::OffsetDateTime;

const ISSUER: &str = "https://cus.sence.cl";

static KEYS: LazyLock<KeySet> = LazyLock::new(|| {
    cus_jose::ephemeral(OffsetDateTime::UNIX_EPOCH).expect("generate the fuzzing keys")
});

/// One input, as libFuzzer hands it over (decoded by `arbitrary`).
pub fn fuzz(input: (u8, u16, u8, &[u8])) {
    let (alg, position, flip, data) = input;
    let keys = &*KEYS;
    if let Ok(text) = std::str::from_utf8(data) {
        assert!(
            keys.verify(text).is_err(),
            "accepted a token we did not sign"
        );
    }
    // Structure-aware half: our own token over fuzzed claims.
    let Ok(claims) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let alg = ALGORITHMS[usize::from(alg) % ALGORITHMS.len()];
    let token = keys
        .sign(alg, "JWT", &claims, OffsetDateTime::now_utc())
        .expect("signing with an active key");
    let (verified, header) = keys.verify(&token).expect("our own token verifies");
    // Exactly the JSON of the payload (serde_json's float parsing is not round-trip exact,
    // so the claims are compared as the payload decodes, not as first parsed).
    let claims: Value =
        serde_json::from_slice(&serde_json::to_vec(&claims).expect("JSON")).expect("JSON");
    assert_eq!(verified, claims);
    assert_eq!(header.algorithm(), Some(alg));
    let subject = authorize::hinted_subject(&verified, ISSUER);
    if subject.is_some() {
        assert_eq!(verified["iss"], ISSUER);
    }
    let mut bytes = token.into_bytes();
    let at = usize::from(position) % bytes.len();
    let changed = bytes[at] ^ flip.max(1);
    if changed.is_ascii() {
        bytes[at] = changed;
        if let Ok(tampered) = String::from_utf8(bytes)
            && let Ok((other, _)) = keys.verify(&tampered)
        {
            // Base64 padding bits can change without changing the decoded bytes;
            // then the claims are the same ones. Anything else is a forgery.
            assert_eq!(other, claims, "a changed token verified with other claims");
        }
    }
}
