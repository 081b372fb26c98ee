//! `private_key_jwt` client authentication (OpenID Core §9, RFC 7523 §2.2 and §3): a client
//! proves who it is with a short-lived JWT signed by a key it registered, so no shared
//! secret exists to leak (RFC 9700 §2.5 prefers it).

use josekit::jwk::{Jwk, JwkSet};
use josekit::jws::{self, ES256, EdDSA, JwsVerifier, PS256, RS256};
use serde_json::Value;

/// The algorithms a client may sign its assertions with.
pub const ALGORITHMS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

/// `client_assertion_type` of RFC 7523 §2.2.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Why an assertion was refused. Clients only ever see `invalid_client`; the reason is for
/// the server's logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    #[error("the assertion is not a signed JWT with JSON claims")]
    Malformed,
    #[error("no registered key of the client matches the assertion's kid and alg")]
    UnknownKey,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("iss and sub must both be the client_id")]
    WrongIssuer,
    #[error("aud does not name this server")]
    WrongAudience,
    #[error("the assertion has expired or has no exp")]
    Expired,
    #[error("the assertion lives longer than allowed")]
    TooLong,
    #[error("the assertion has no jti")]
    MissingJti,
}

/// A verified assertion: what the caller still must check once (its `jti`, until `exp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAssertion {
    pub jti: String,
    pub exp: i64,
}

/// The client an assertion claims to come from (its `sub`), read before anything is
/// verified: only to know whose keys to verify it with.
pub fn claimed_client(assertion: &str) -> Option<String> {
    use base64::Engine;
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims["sub"].as_str().map(str::to_owned)
}

struct ClientKey {
    kid: Option<String>,
    alg: &'static str,
    verifier: Box<dyn JwsVerifier>,
}

/// The public keys a client registered (its `jwks`), ready to verify.
pub struct ClientKeys {
    keys: Vec<ClientKey>,
}

impl ClientKeys {
    /// Parses a JWK Set. Every key must be a public signing key of an accepted algorithm:
    /// its `alg`, or the one its type implies (RSA → RS256, P-256 → ES256, Ed25519 → EdDSA).
    pub fn from_jwks(jwks: &Value) -> Result<Self, String> {
        let map = jwks
            .as_object()
            .ok_or("jwks must be a JSON object with keys")?
            .clone();
        let set = JwkSet::from_map(map).map_err(|e| format!("jwks is not a JWK Set: {e}"))?;
        let mut keys = Vec::new();
        for jwk in set.keys() {
            keys.push(client_key(jwk)?);
        }
        if keys.is_empty() {
            return Err("jwks must hold at least one key".into());
        }
        Ok(Self { keys })
    }

    /// Verifies `assertion` for `client_id`. `audiences` are the values `aud` may name (the
    /// issuer and the endpoint's URL); `now` and the limits are Unix seconds.
    pub fn verify(
        &self,
        assertion: &str,
        client_id: &str,
        audiences: &[&str],
        now: i64,
        max_lifetime: i64,
    ) -> Result<ClientAssertion, AssertionError> {
        let known = std::cell::Cell::new(true);
        let result = jws::deserialize_compact_with_selector(assertion, |header| {
            let found = self.keys.iter().find(|k| {
                Some(k.alg) == header.algorithm()
                    && (k.kid.is_none()
                        || header.key_id().is_none()
                        || k.kid.as_deref() == header.key_id())
            });
            known.set(found.is_some());
            Ok(found.map(|k| k.verifier.as_ref()))
        });
        let payload = match result {
            Ok((payload, _)) => payload,
            Err(_) if !known.get() => return Err(AssertionError::UnknownKey),
            Err(josekit::JoseError::InvalidSignature(_)) => {
                return Err(AssertionError::BadSignature);
            }
            Err(_) => return Err(AssertionError::Malformed),
        };
        let claims: Value =
            serde_json::from_slice(&payload).map_err(|_| AssertionError::Malformed)?;
        if claims["iss"].as_str() != Some(client_id) || claims["sub"].as_str() != Some(client_id) {
            return Err(AssertionError::WrongIssuer);
        }
        let aud_ok = match &claims["aud"] {
            Value::String(a) => audiences.contains(&a.as_str()),
            Value::Array(list) => list
                .iter()
                .any(|a| a.as_str().is_some_and(|a| audiences.contains(&a))),
            _ => false,
        };
        if !aud_ok {
            return Err(AssertionError::WrongAudience);
        }
        let exp = claims["exp"].as_i64().ok_or(AssertionError::Expired)?;
        if exp <= now {
            return Err(AssertionError::Expired);
        }
        // A long-lived assertion is a bearer credential in all but name.
        if exp - now > max_lifetime {
            return Err(AssertionError::TooLong);
        }
        let jti = claims["jti"]
            .as_str()
            .filter(|j| !j.is_empty() && j.len() <= 256)
            .ok_or(AssertionError::MissingJti)?;
        Ok(ClientAssertion {
            jti: jti.to_owned(),
            exp,
        })
    }
}

fn client_key(jwk: &Jwk) -> Result<ClientKey, String> {
    const PRIVATE: [&str; 6] = ["d", "p", "q", "dp", "dq", "qi"];
    if PRIVATE.iter().any(|m| jwk.parameter(m).is_some()) {
        return Err("jwks must hold public keys only (a private key was sent)".into());
    }
    if jwk.key_use().is_some_and(|u| u != "sig") {
        return Err("jwks keys must be signing keys (use = sig)".into());
    }
    let implied = match (jwk.key_type(), jwk.curve()) {
        ("RSA", _) => "RS256",
        ("EC", Some("P-256")) => "ES256",
        ("OKP", Some("Ed25519")) => "EdDSA",
        (kty, crv) => {
            return Err(format!(
                "unsupported key type {kty}{}",
                crv.map(|c| format!(" ({c})")).unwrap_or_default()
            ));
        }
    };
    let alg = match jwk.algorithm() {
        None => implied,
        Some(alg) => ALGORITHMS
            .into_iter()
            .find(|a| *a == alg)
            .ok_or_else(|| format!("unsupported key algorithm {alg}"))?,
    };
    let verifier: Result<Box<dyn JwsVerifier>, _> = match alg {
        "RS256" => RS256.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        "PS256" => PS256.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        "ES256" => ES256.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        _ => EdDSA.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
    };
    Ok(ClientKey {
        kid: jwk.key_id().map(str::to_owned),
        alg,
        verifier: verifier.map_err(|e| format!("unusable key in jwks: {e}"))?,
    })
}

#[cfg(test)]
mod tests {
    use josekit::jws::JwsHeader;
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_800_000_000;
    const AUD: &str = "https://cus.sence.cl/token";

    fn pair(alg: &str) -> (Jwk, Value) {
        let (private, public) = crate::generate(alg, &format!("{alg}-client")).expect("key");
        (private, json!({ "keys": [public] }))
    }

    fn sign(private: &Jwk, alg: &str, claims: &Value) -> String {
        let mut header = JwsHeader::new();
        header.set_key_id(private.key_id().expect("kid"));
        let payload = serde_json::to_vec(claims).expect("json");
        match alg {
            "RS256" => jws::serialize_compact(
                &payload,
                &header,
                &RS256.signer_from_jwk(private).expect("signer"),
            ),
            "ES256" => jws::serialize_compact(
                &payload,
                &header,
                &ES256.signer_from_jwk(private).expect("signer"),
            ),
            _ => jws::serialize_compact(
                &payload,
                &header,
                &EdDSA.signer_from_jwk(private).expect("signer"),
            ),
        }
        .expect("sign")
    }

    fn claims() -> Value {
        json!({"iss": "portal", "sub": "portal", "aud": AUD, "exp": NOW + 60, "jti": "j1"})
    }

    #[test]
    fn accepts_a_fresh_assertion_signed_by_a_registered_key() {
        for alg in ["RS256", "ES256", "EdDSA"] {
            let (private, jwks) = pair(alg);
            let keys = ClientKeys::from_jwks(&jwks).expect("jwks");
            let assertion = sign(&private, alg, &claims());
            assert_eq!(
                keys.verify(&assertion, "portal", &[AUD], NOW, 300),
                Ok(ClientAssertion {
                    jti: "j1".into(),
                    exp: NOW + 60
                })
            );
        }
    }

    #[test]
    fn refuses_each_broken_rule() {
        let (private, jwks) = pair("ES256");
        let keys = ClientKeys::from_jwks(&jwks).expect("jwks");
        let verify = |claims: Value| {
            keys.verify(
                &sign(&private, "ES256", &claims),
                "portal",
                &[AUD],
                NOW,
                300,
            )
        };
        let mut c = claims();
        c["sub"] = json!("other");
        assert_eq!(verify(c), Err(AssertionError::WrongIssuer));
        let mut c = claims();
        c["aud"] = json!(["https://elsewhere"]);
        assert_eq!(verify(c), Err(AssertionError::WrongAudience));
        let mut c = claims();
        c["exp"] = json!(NOW);
        assert_eq!(verify(c), Err(AssertionError::Expired));
        let mut c = claims();
        c["exp"] = json!(NOW + 3600);
        assert_eq!(verify(c), Err(AssertionError::TooLong));
        let mut c = claims();
        c["jti"] = json!("");
        assert_eq!(verify(c), Err(AssertionError::MissingJti));

        let (stranger, _) = pair("ES256");
        let forged = sign(&stranger, "ES256", &claims());
        assert_eq!(
            keys.verify(&forged, "portal", &[AUD], NOW, 300),
            Err(AssertionError::BadSignature)
        );
        let (rsa, _) = pair("RS256");
        let other_alg = sign(&rsa, "RS256", &claims());
        assert_eq!(
            keys.verify(&other_alg, "portal", &[AUD], NOW, 300),
            Err(AssertionError::UnknownKey)
        );
    }

    #[test]
    fn refuses_private_or_unusable_jwks() {
        let (private, _) = pair("ES256");
        let with_private = json!({ "keys": [serde_json::to_value(&private).expect("jwk")] });
        assert!(ClientKeys::from_jwks(&with_private).is_err());
        assert!(ClientKeys::from_jwks(&json!({ "keys": [] })).is_err());
        assert!(ClientKeys::from_jwks(&json!({ "keys": [{"kty": "oct", "k": "AAAA"}] })).is_err());
        assert!(ClientKeys::from_jwks(&json!("nope")).is_err());
    }
}
