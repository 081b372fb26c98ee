//! The client metadata rules, by example and as properties over generated metadata.

use proptest::prelude::*;
use serde_json::json;

use super::*;

const ALGS: [&str; 3] = ["RS256", "ES256", "EdDSA"];

/// A stand-in for cus-jose's check: an object with a non-empty `keys` array.
fn check_jwks(jwks: &Value) -> Result<(), String> {
    match jwks["keys"].as_array() {
        Some(keys) if !keys.is_empty() => Ok(()),
        Some(_) | None => Err("jwks must hold at least one key".into()),
    }
}

const SIGNING: Signing<'static> = Signing {
    id_token_algs: &ALGS,
    check_jwks: &check_jwks,
};

fn fresh() -> Client {
    new_client(ClientId("portal".into()), OffsetDateTime::UNIX_EPOCH)
}

fn portal() -> ClientMetadata {
    ClientMetadata {
        client_name: Some("Portal".into()),
        redirect_uris: Some(vec!["https://portal.sence.cl/cb".into()]),
        ..ClientMetadata::default()
    }
}

fn applied(meta: ClientMetadata) -> Result<Client, MetadataError> {
    let mut client = fresh();
    meta.apply(&mut client, &SIGNING).map(|()| client)
}

#[test]
fn errors_keep_their_codes_and_texts() {
    let cases = [
        (
            ClientMetadata {
                redirect_uris: Some(vec!["http://portal.sence.cl/cb".into()]),
                ..portal()
            },
            MetadataError::InvalidRedirectUri(
                "redirect URI must use https (http only for localhost): http://portal.sence.cl/cb"
                    .into(),
            ),
        ),
        (
            ClientMetadata {
                redirect_uris: Some(vec![]),
                ..portal()
            },
            MetadataError::InvalidRedirectUri(
                "authorization_code needs at least one redirect URI".into(),
            ),
        ),
        (
            ClientMetadata {
                scope: Some("openid telepathy".into()),
                ..portal()
            },
            invalid("unknown scope telepathy"),
        ),
        (
            ClientMetadata {
                token_endpoint_auth_method: Some("private_key_jwt".into()),
                ..portal()
            },
            invalid("private_key_jwt needs jwks (the keys themselves; jwks_uri is not supported)"),
        ),
        (
            ClientMetadata {
                id_token_signed_response_alg: Some("HS256".into()),
                ..portal()
            },
            invalid("id_token_signed_response_alg must be one of RS256, ES256, EdDSA"),
        ),
        (
            ClientMetadata {
                logo_uri: Some("http://portal.sence.cl/logo.png".into()),
                ..portal()
            },
            invalid("logo_uri must be an https URL"),
        ),
    ];
    for (meta, expected) in cases {
        assert_eq!(applied(meta).err(), Some(expected));
    }
}

#[test]
fn a_private_key_jwt_client_keeps_no_secret() {
    let mut client = fresh();
    client.secret_hash = Some("hash".into());
    client.previous_secret_hash = Some("old".into());
    let meta = ClientMetadata {
        token_endpoint_auth_method: Some("private_key_jwt".into()),
        jwks: Some(json!({"keys": [{"kty": "EC"}]})),
        ..portal()
    };
    assert_eq!(meta.apply(&mut client, &SIGNING), Ok(()));
    assert!(!uses_secret(&client));
    assert_eq!(
        (client.secret_hash, client.previous_secret_hash),
        (None, None)
    );
}

#[test]
fn a_registered_client_cannot_turn_public() {
    let mut client = applied(portal()).expect("valid portal");
    let meta = ClientMetadata {
        token_endpoint_auth_method: Some("none".into()),
        ..ClientMetadata::default()
    };
    assert_eq!(
        meta.apply_change(&mut client, &SIGNING),
        Err(invalid(
            "a client cannot change between public and confidential; register a new one"
        ))
    );
}

/// Redirect URIs built from parts that hit every branch of the rule, plus any text.
fn redirect_uri() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec![
        "https",
        "http",
        "ftp",
        "com.example.app",
        "javascript",
    ]);
    let host = prop::sample::select(vec![
        "localhost",
        "127.0.0.1",
        "[::1]",
        "portal.sence.cl",
        "127.0.0.1.evil.cl",
        "",
    ]);
    prop_oneof![
        6 => "(https://portal\\.sence\\.cl|http://(localhost|127\\.0\\.0\\.1)(:[0-9]{2,4})?)/[a-z]{0,8}",
        3 => (scheme, host, "[a-z/?=.]{0,12}", prop_oneof![6 => Just(String::new()), 1 => Just("*".to_owned()), 1 => "#[a-z]*"])
            .prop_map(|(s, h, p, tail)| format!("{s}://{h}/{p}{tail}")),
        1 => ".{0,40}",
    ]
}

fn grant() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(vec!["authorization_code", "refresh_token", "client_credentials"]),
        1 => Just("implicit"),
    ]
    .prop_map(str::to_owned)
}

/// Mostly valid metadata, so that both verdicts are common.
fn metadata() -> impl Strategy<Value = ClientMetadata> {
    let uris = || prop::option::weighted(0.9, prop::collection::vec(redirect_uri(), 0..3));
    let method = prop::option::of(
        prop_oneof![
            8 => prop::sample::select(vec![
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none",
            ]),
            1 => Just("tls_client_auth"),
        ]
        .prop_map(str::to_owned),
    );
    let scope = prop::option::of(
        prop::sample::select(vec![
            "openid profile",
            "openid cus:admin",
            "cus:helpdesk",
            "openid  email",
            "x",
        ])
        .prop_map(str::to_owned),
    );
    (
        (
            prop_oneof![8 => "[A-Za-z ]{1,20}".prop_map(Some), 1 => Just(None), 1 => ".{0,110}".prop_map(Some)],
            uris(),
            uris(),
        ),
        (
            prop::option::of(prop::collection::vec(grant(), 0..3)),
            scope,
            method,
        ),
        (
            prop::option::of(prop::collection::vec(
                prop_oneof![4 => "[a-z]{1,5}@[a-z]{1,5}\\.cl", 1 => "[a-z@. ]{0,12}"],
                0..2,
            )),
            prop::option::of(redirect_uri()),
            prop::option::of(any::<bool>()),
            any::<bool>(),
        ),
    )
        .prop_map(
            |((name, redirect, logout), (grants, scope, method), (contacts, bcl, first, jwks))| {
                ClientMetadata {
                    client_name: name,
                    redirect_uris: redirect,
                    post_logout_redirect_uris: logout,
                    grant_types: grants,
                    scope,
                    token_endpoint_auth_method: method,
                    jwks: jwks.then(|| json!({"keys": [{"kty": "RSA"}]})),
                    backchannel_logout_uri: bcl,
                    contacts,
                    first_party: first,
                    ..ClientMetadata::default()
                }
            },
        )
}

proptest! {
    // About one generated client in eight is accepted: 1024 cases check ~120 of them.
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn an_accepted_client_has_only_safe_redirect_uris(meta in metadata()) {
        if let Ok(client) = applied(meta) {
            for uri in client.redirect_uris.iter().chain(&client.post_logout_redirect_uris) {
                let parsed = Url::parse(uri).expect("accepted URIs are absolute");
                prop_assert!(parsed.fragment().is_none() && !uri.contains('*'), "{uri}");
                match parsed.scheme() {
                    "https" => {}
                    "http" => prop_assert!(
                        matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")),
                        "{uri}"
                    ),
                    scheme => prop_assert!(scheme.contains('.'), "{uri}"),
                }
            }
        }
    }

    #[test]
    fn an_accepted_client_is_consistent(meta in metadata()) {
        if let Ok(client) = applied(meta) {
            prop_assert_eq!(client.name.trim(), client.name.as_str());
            prop_assert!((1..=100).contains(&client.name.chars().count()));
            prop_assert!(!client.grant_types.is_empty());
            if client.kind == ClientKind::Public {
                prop_assert!(!client.grant_types.contains(&GrantType::ClientCredentials));
            }
            if !uses_secret(&client) {
                prop_assert_eq!(&client.secret_hash, &None);
            }
            for scope in &client.scopes {
                prop_assert!(crate::claims::SCOPES.contains(&scope.as_str()) || OPERATOR_SCOPES.contains(&scope.as_str()));
            }
            for contact in &client.contacts {
                prop_assert!(contact.contains('@'), "{contact}");
            }
        }
    }

    #[test]
    fn self_service_never_grants_operator_powers(meta in metadata()) {
        let operator_only = meta.first_party.is_some()
            || meta.scope.as_deref().is_some_and(|s| s.split(' ').any(|x| OPERATOR_SCOPES.contains(&x)));
        prop_assert_eq!(meta.self_service().is_err(), operator_only);
    }

    #[test]
    fn a_change_never_flips_public_and_confidential(first in metadata(), then in metadata()) {
        if let Ok(mut client) = applied(first) {
            let kind = client.kind;
            if then.apply_change(&mut client, &SIGNING).is_ok() {
                prop_assert_eq!(client.kind, kind);
            }
        }
    }

    #[test]
    fn accepted_client_ids_are_url_safe(id in ".{0,120}") {
        if let Ok(ClientId(id)) = parse_client_id(id) {
            prop_assert!((1..=100).contains(&id.len()));
            prop_assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
        }
    }

    #[test]
    fn metadata_read_back_from_json_gets_the_same_verdict(meta in metadata()) {
        let body = serde_json::to_string(&meta).expect("metadata serialises");
        let read: ClientMetadata = serde_json::from_str(&body).expect("and reads back");
        prop_assert_eq!(applied(read), applied(meta));
    }
}
