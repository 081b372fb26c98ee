//! `/authorize` requests: any query through `forms::protocol` and the request rules
//! (`authorize::check`) against a public and a confidential client. Whatever passes keeps
//! the promises the rest of the flow relies on.

use std::sync::LazyLock;

use cus_core::authorize::{self, AuthorizeError, AuthorizeParams};
use cus_core::forms;
use cus_core::{Client, ClientId, ClientKind, GrantType, TokenAuthMethod, claims, pkce};
use time::OffsetDateTime;

fn client(id: &str, kind: ClientKind, scopes: &[&str]) -> Client {
    Client {
        client_id: ClientId(id.to_owned()),
        name: id.to_owned(),
        kind,
        secret_hash: None,
        redirect_uris: vec![
            "https://portal.sence.cl/callback".to_owned(),
            "http://127.0.0.1:8080/cb?x=1".to_owned(),
        ],
        post_logout_redirect_uris: Vec::new(),
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        token_endpoint_auth_method: TokenAuthMethod::ClientSecretBasic,
        id_token_signed_response_alg: "RS256".to_owned(),
        first_party: false,
        enabled: true,
        previous_secret_hash: None,
        previous_secret_expires: None,
        backchannel_logout_uri: None,
        contacts: Vec::new(),
        logo_uri: None,
        client_uri: None,
        registration_token_hash: None,
        jwks: None,
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
    }
}

static CLIENTS: LazyLock<[Client; 2]> = LazyLock::new(|| {
    [
        client(
            "portal",
            ClientKind::Confidential,
            &["openid", "profile", "email"],
        ),
        client("app", ClientKind::Public, &[]),
    ]
});

/// One input, as libFuzzer hands it over (decoded by `arbitrary`).
pub fn fuzz(input: (bool, &[u8])) {
    let (public, query) = input;
    let Ok(params) = forms::protocol::<AuthorizeParams>(query) else {
        return;
    };
    let client = &CLIENTS[usize::from(public)];
    if authorize::client_id(&params).is_err() {
        return;
    }
    match authorize::check(params, client) {
        Ok(request) => {
            assert!(client.redirect_uris.contains(&request.redirect_uri));
            assert!(request.scopes.iter().any(|s| s == "openid"));
            for scope in &request.scopes {
                assert!(
                    claims::SCOPES.contains(&scope.as_str()),
                    "unknown scope {scope}"
                );
                assert!(client.scopes.is_empty() || client.scopes.contains(scope));
            }
            match &request.code_challenge {
                Some(challenge) => assert!(pkce::is_valid_challenge(challenge)),
                None => assert_eq!(
                    client.kind,
                    ClientKind::Confidential,
                    "public client without PKCE"
                ),
            }
            if request.prompt.iter().any(|p| p == "none") {
                assert_eq!(request.prompt.len(), 1);
            }
            assert!(request.max_age.is_none_or(|m| m >= 0));
        }
        // An error goes back only to a registered redirect URI (RFC 9700 §4.1.3).
        Err(AuthorizeError::Redirect { redirect_uri, .. }) => {
            assert!(client.redirect_uris.contains(&redirect_uri));
        }
        Err(AuthorizeError::NoRedirect(_)) => {}
    }
}
