//! `private_key_jwt` client assertions (RFC 7523): `claimed_client` and
//! `ClientKeys::verify` on any text must never accept it (nobody forges a client's
//! signature); on assertions signed with the client's key over fuzzed claims, the verdict
//! must be exactly what the rules say, decided here independently.

use std::sync::LazyLock;

use cus_jose::assertion::{AssertionError, ClientAssertion, ClientKeys, claimed_client};
use josekit::jwk::Jwk;
use josekit::jws::{self, ES256, EdDSA, JwsHeader, JwsSigner, RS256};
use serde_json::{Value, json};

const CLIENT: &str = "portal";
const AUD: &str = "https://cus.sence.cl/token";
const NOW: i64 = 1_800_000_000;
const MAX_LIFETIME: i64 = 600;

struct Client {
    keys: ClientKeys,
    signers: Vec<Box<dyn JwsSigner>>,
    kids: Vec<String>,
}

static CLIENT_KEYS: LazyLock<Client> = LazyLock::new(|| {
    let mut public = Vec::new();
    let mut signers: Vec<Box<dyn JwsSigner>> = Vec::new();
    let mut kids = Vec::new();
    for alg in ["RS256", "ES256", "EdDSA"] {
        let kid = format!("{alg}-client");
        let (private, jwk) = cus_jose::generate(alg, &kid).expect("key pair");
        signers.push(signer(alg, &private));
        public.push(jwk);
        kids.push(kid);
    }
    let jwks = json!({ "keys": public });
    Client {
        keys: ClientKeys::from_jwks(&jwks).expect("the client's jwks"),
        signers,
        kids,
    }
});

fn signer(alg: &str, private: &Jwk) -> Box<dyn JwsSigner> {
    match alg {
        "RS256" => Box::new(RS256.signer_from_jwk(private).expect("signer")),
        "ES256" => Box::new(ES256.signer_from_jwk(private).expect("signer")),
        _ => Box::new(EdDSA.signer_from_jwk(private).expect("signer")),
    }
}

/// The rules, restated: what `verify` must answer for claims signed with a good key.
fn expected(claims: &Value) -> Result<ClientAssertion, AssertionError> {
    if claims["iss"] != CLIENT || claims["sub"] != CLIENT {
        return Err(AssertionError::WrongIssuer);
    }
    let aud = match &claims["aud"] {
        Value::String(a) => a == AUD,
        Value::Array(list) => list.iter().any(|a| a == AUD),
        _ => false,
    };
    if !aud {
        return Err(AssertionError::WrongAudience);
    }
    let Some(exp) = claims["exp"].as_i64().filter(|exp| *exp > NOW) else {
        return Err(AssertionError::Expired);
    };
    if exp - NOW > MAX_LIFETIME {
        return Err(AssertionError::TooLong);
    }
    match claims["jti"].as_str() {
        Some(jti) if !jti.is_empty() && jti.len() <= 256 => Ok(ClientAssertion {
            jti: jti.to_owned(),
            exp,
        }),
        _ => Err(AssertionError::MissingJti),
    }
}

/// One input, as libFuzzer hands it over (decoded by `arbitrary`).
pub fn fuzz(input: (u8, &[u8])) {
    let (which, data) = input;
    let client = &*CLIENT_KEYS;
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = claimed_client(text);
        assert!(
            client
                .keys
                .verify(text, CLIENT, &[AUD], NOW, MAX_LIFETIME)
                .is_err(),
            "accepted an assertion the client did not sign"
        );
    }
    let Ok(claims) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let key = usize::from(which) % client.signers.len();
    let mut header = JwsHeader::new();
    if which & 0x80 == 0 {
        header.set_key_id(client.kids[key].clone());
    }
    let payload = serde_json::to_vec(&claims).expect("JSON");
    let assertion =
        jws::serialize_compact(&payload, &header, client.signers[key].as_ref()).expect("signed");
    // Claims as the payload decodes (serde_json's float parsing is not round-trip exact).
    let claims: Value = serde_json::from_slice(&payload).expect("JSON");
    assert_eq!(
        client
            .keys
            .verify(&assertion, CLIENT, &[AUD], NOW, MAX_LIFETIME),
        expected(&claims)
    );
    if let Some(sub) = claims["sub"].as_str() {
        assert_eq!(claimed_client(&assertion).as_deref(), Some(sub));
    }
}
