//! The JSON bodies of the admin API and of dynamic registration (RFC 7591/7592): the
//! document itself, read as `ClientMetadata` and applied to a new client by the same
//! `cus_core::client_metadata` code the server runs, with cus-jose's key check — `jwks` is
//! a JWK Set chosen by whoever holds an initial access token. Whatever the input, an
//! accepted client must keep the rules, and accepted keys must refuse forged assertions.

use cus_core::ClientId;
use cus_core::client_metadata::{ClientMetadata, Signing, new_client};
use cus_jose::assertion::ClientKeys;
use serde_json::Value;
use time::OffsetDateTime;

/// The server's signing side (`cus_server::clients`), rebuilt from the same cus-jose parts.
const SIGNING: Signing<'static> = Signing {
    id_token_algs: &cus_jose::ALGORITHMS,
    check_jwks: &|jwks| ClientKeys::from_jwks(jwks).map(drop),
};

/// One input, as libFuzzer hands it over (decoded by `arbitrary`).
pub fn fuzz(data: &[u8]) {
    if let Ok(meta) = serde_json::from_slice::<ClientMetadata>(data) {
        accepted_clients_keep_the_rules(meta);
    }
    if let Ok(body) = serde_json::from_slice::<Value>(data)
        && let Some(jwks) = body.get("jwks")
        && let Ok(keys) = ClientKeys::from_jwks(jwks)
    {
        // Keys we accept never let an unsigned or garbage assertion through.
        for assertion in [
            "eyJhbGciOiJub25lIn0.eyJpc3MiOiJjIiwic3ViIjoiYyJ9.",
            "a.b.c",
            "",
        ] {
            assert!(
                keys.verify(assertion, "c", &["https://cus.sence.cl/token"], 0, 600)
                    .is_err()
            );
        }
    }
}

fn accepted_clients_keep_the_rules(meta: ClientMetadata) {
    let operator_only = meta.first_party.is_some()
        || meta
            .scope
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|x| x == "cus:admin"));
    assert_eq!(meta.self_service().is_err(), operator_only);
    let mut client = new_client(ClientId("c".into()), OffsetDateTime::UNIX_EPOCH);
    if meta.apply(&mut client, &SIGNING).is_err() {
        return;
    }
    for uri in client
        .redirect_uris
        .iter()
        .chain(&client.post_logout_redirect_uris)
    {
        let parsed = url::Url::parse(uri).expect("accepted URIs are absolute");
        assert!(parsed.fragment().is_none() && !uri.contains('*'), "{uri}");
        match parsed.scheme() {
            "https" => {}
            "http" => assert!(
                matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")),
                "{uri}"
            ),
            scheme => assert!(scheme.contains('.'), "{uri}"),
        }
    }
    for email in &client.contacts {
        assert!(email.contains('@') && email.len() <= 254, "{email}");
    }
    for s in &client.scopes {
        assert!(!s.is_empty() && !s.contains(' '), "{s:?}");
        assert_eq!(
            client.scopes.iter().filter(|o| *o == s).count(),
            1,
            "{s:?} twice"
        );
    }
    if let Some(jwks) = &client.jwks {
        let jwks: Value = serde_json::from_str(jwks).expect("accepted jwks is JSON");
        assert!(ClientKeys::from_jwks(&jwks).is_ok());
    }
}
