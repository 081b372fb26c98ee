//! End to end with the `openidconnect` crate as the relying party, on both backends:
//! discovery → authorize → login at /Account → consent → code → tokens (id_token verified
//! through JWKS, nonce checked) → userinfo → refresh → revoke → introspect.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde_json::Value;

use crate::helpers::oidc::{code_of, rp_http};
use crate::helpers::{Backend, CUS, REDIRECT, RUT, TestApp, on_both_backends};

on_both_backends!(
    openidconnect_client_signs_in_end_to_end,
    id_tokens_signed_per_client_algorithm_verify
);

/// The whole sign-in again with the cache scaled out (issue 12): sessions, the pending
/// request, the code and the counters spread over a Redis Cluster's three masters, or on
/// the master a Sentinel names.
mod scaled_out_cache {
    use crate::helpers::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn openidconnect_client_signs_in_on_a_redis_cluster() {
        super::openidconnect_client_signs_in_end_to_end(Backend::RedisCluster).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn openidconnect_client_signs_in_through_redis_sentinel() {
        super::openidconnect_client_signs_in_end_to_end(Backend::RedisSentinel).await;
    }
}

async fn openidconnect_client_signs_in_end_to_end(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let account = app.account().await;
    // Not first-party: consent is asked.
    let registered = app.client(false, false).await;
    let http = rp_http();

    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(app.base.clone()).expect("issuer"),
        &http,
    )
    .await
    .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(registered.id.clone()),
        registered.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).expect("redirect"));

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("run".into()))
        .add_scope(Scope::new("name".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    let browser = app.browser();
    let callback = app
        .browse_to_callback(&browser, auth_url.as_str(), RUT, CUS)
        .await;
    let query: std::collections::HashMap<_, _> = callback.query_pairs().into_owned().collect();
    assert_eq!(query.get("state"), Some(state.secret()));
    assert_eq!(query.get("iss"), Some(&app.base), "RFC 9207 iss");
    let code = query.get("code").expect("code").clone();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token response");
    // The signature is verified against the provider's JWKS, the nonce against ours.
    let id_token = tokens.id_token().expect("id_token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("valid id_token");
    assert_eq!(claims.subject().as_str(), account.id.to_string());
    assert_eq!(claims.issuer().as_str(), app.base);

    // Userinfo with the ClaveÚnica-shaped claims (read as JSON: `name` is an object here,
    // which the crate's standard-claims type cannot hold).
    let userinfo: Value = http
        .get(app.url("/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .expect("userinfo")
        .json()
        .await
        .expect("json");
    assert_eq!(userinfo["sub"], account.id.to_string());
    assert_eq!(userinfo["RolUnico"]["numero"], 12_345_678);
    assert_eq!(userinfo["RolUnico"]["DV"], "5");
    assert_eq!(userinfo["RolUnico"]["tipo"], "RUN");
    assert_eq!(userinfo["rut"], "12345678-5");
    assert_eq!(userinfo["tipo_persona"], "natural");
    assert_eq!(
        userinfo["name"]["nombres"],
        serde_json::json!(["María", "Carmen"])
    );
    assert_eq!(
        userinfo["name"]["apellidos"],
        serde_json::json!(["Del Río", "González"])
    );
    assert_eq!(userinfo["email"], "maria@example.cl");
    assert!(userinfo.get("address").is_none(), "address scope not asked");

    // SSO: a second authorization in the same browser does not ask again.
    let (challenge2, _) = PkceCodeChallenge::new_random_sha256();
    let (again_url, _, _) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("run".into()))
        .set_pkce_challenge(challenge2)
        .url();
    let response = browser
        .get(again_url.as_str())
        .send()
        .await
        .expect("authorize");
    assert!(
        crate::helpers::html::location(&response).starts_with(REDIRECT),
        "no login, no consent the second time"
    );

    // Refresh rotates the refresh token.
    let refresh = tokens.refresh_token().expect("refresh token").clone();
    let refreshed = client
        .exchange_refresh_token(&refresh)
        .expect("token endpoint")
        .request_async(&http)
        .await
        .expect("refreshed");
    let new_refresh = refreshed.refresh_token().expect("rotated").clone();
    assert_ne!(new_refresh.secret(), refresh.secret());

    // Revoke (RFC 7009) then introspect (RFC 7662): inactive.
    let secret = registered.secret.clone().expect("confidential");
    let revoked = http
        .post(app.url("/revoke"))
        .basic_auth(&registered.id, Some(&secret))
        .form(&[
            ("token", new_refresh.secret().as_str()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), 200);
    let introspection: Value = http
        .post(app.url("/introspect"))
        .basic_auth(&registered.id, Some(&secret))
        .form(&[("token", new_refresh.secret().as_str())])
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("json");
    assert_eq!(introspection, serde_json::json!({ "active": false }));
    // The access token from the refresh is still active until revoked itself.
    let active: Value = http
        .post(app.url("/introspect"))
        .basic_auth(&registered.id, Some(&secret))
        .form(&[("token", refreshed.access_token().secret().as_str())])
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("json");
    assert_eq!(active["active"], true);
    assert_eq!(active["sub"], account.id.to_string());
}

/// A client registered for ES256 or EdDSA ID tokens gets them, and they verify through JWKS.
async fn id_tokens_signed_per_client_algorithm_verify(backend: Backend) {
    use openidconnect::core::CoreJwsSigningAlgorithm;
    let app = TestApp::spawn(backend).await;
    app.account().await;
    let http = rp_http();
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(app.base.clone()).expect("issuer"),
        &http,
    )
    .await
    .expect("discovery");
    for (alg, jws) in [
        ("ES256", CoreJwsSigningAlgorithm::EcdsaP256Sha256),
        ("EdDSA", CoreJwsSigningAlgorithm::EdDsa),
    ] {
        let registered = app.client_signing_with(false, true, alg).await;
        let client = CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(registered.id.clone()),
            registered.secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).expect("redirect"));
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (auth_url, _, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .url();
        let callback = app
            .browse_to_callback(&app.browser(), auth_url.as_str(), RUT, CUS)
            .await;
        let code = code_of(&callback);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .expect("token endpoint")
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .expect("tokens");
        let id_token = tokens.id_token().expect("id_token");
        let verifier = client.id_token_verifier().set_allowed_algs(vec![jws]);
        id_token
            .claims(&verifier, &nonce)
            .unwrap_or_else(|e| panic!("{alg} id_token verifies: {e}"));
        // at_hash matches the access token under this algorithm's hash.
        let claims = id_token.claims(&verifier, &nonce).expect("claims");
        assert!(claims.access_token_hash().is_some());
    }
}
