//! Every protocol POST body (token, revocation, introspection, userinfo, logout) through
//! `forms::protocol`, which must refuse any repeated parameter and treat empty values as
//! absent; then the PKCE checks `/token` runs on the verifier.

use std::collections::HashSet;

use cus_core::forms::{
    self, ClientCredentialsForm, EndSessionParams, TokenActionForm, TokenForm, UserinfoForm,
};
use cus_core::pkce;

/// One input, as libFuzzer hands it over (decoded by `arbitrary`).
pub fn fuzz(input: (u8, &[u8])) {
    let (which, body) = input;
    let decoded = match which % 5 {
        0 => forms::protocol::<TokenForm>(body).map(|form| {
            if let Some(verifier) = form.code_verifier.as_deref()
                && pkce::is_valid_verifier(verifier)
            {
                let challenge = form.code.as_deref().unwrap_or_default();
                let _ = pkce::verify_s256(verifier, challenge);
            }
            for value in [&form.grant_type, &form.code, &form.scope] {
                assert_ne!(
                    value.as_deref(),
                    Some(""),
                    "an empty value counted as present"
                );
            }
        }),
        1 => forms::protocol::<TokenActionForm>(body).map(drop),
        2 => forms::protocol::<UserinfoForm>(body).map(drop),
        3 => forms::protocol::<ClientCredentialsForm>(body).map(drop),
        _ => forms::protocol::<EndSessionParams>(body).map(drop),
    };
    if decoded.is_ok() {
        // Accepted: then no non-empty parameter appeared twice.
        let mut seen = HashSet::new();
        // The same pair splitting the decoder relies on; what is checked is its refusal.
        for (name, value) in url::form_urlencoded::parse(body) {
            if !value.is_empty() {
                assert!(seen.insert(name), "a repeated parameter was accepted");
            }
        }
    }
}
