//! Protocol endpoints: discovery and JWKS here; `/authorize` and its continuation in
//! [`authorize`]; the token endpoint, userinfo, revocation and introspection in [`token`].
//! Handlers decode, call `crate::oidc`, and render.

mod authorize;
mod token;

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::routes::Routes;
use crate::app::AppState;

pub use authorize::{RidQuery, pending, proceed};

pub fn routes() -> Routes {
    Routes::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route(
            "/authorize",
            get(authorize::authorize)
                .post(authorize::authorize)
                .layer(DefaultBodyLimit::max(authorize::BODY_MAX)),
        )
        .route("/authorize/resume", get(authorize::resume))
        .route("/token", post(token::token))
        .route("/userinfo", get(token::userinfo).post(token::userinfo))
        .route("/revoke", post(token::revoke))
        .route("/introspect", post(token::introspect))
}

async fn discovery(State(app): State<AppState>) -> Response {
    let iss = &app.issuer;
    let mut claims: Vec<&str> = cus_core::claims::CLAIMS.to_vec();
    claims.extend(cus_core::claims::EXTRA_CLAIMS);
    let doc = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "userinfo_endpoint": format!("{iss}/userinfo"),
        "jwks_uri": format!("{iss}/jwks"),
        "end_session_endpoint": format!("{iss}/end_session"),
        "revocation_endpoint": format!("{iss}/revoke"),
        "introspection_endpoint": format!("{iss}/introspect"),
        "registration_endpoint": format!("{iss}/register"),
        "scopes_supported": cus_core::claims::SCOPES,
        "claims_supported": claims,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": cus_jose::assertion::ALGORITHMS,
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "id_token_signing_alg_values_supported": crate::keys::ALGORITHMS,
        "userinfo_signing_alg_values_supported": [],
        "subject_types_supported": ["public"],
        "acr_values_supported": [crate::oidc::ACR_PASSWORD],
        "ui_locales_supported": ["es-CL"],
        "claims_locales_supported": ["es-CL"],
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    });
    ([(header::CACHE_CONTROL, "public, max-age=3600")], Json(doc)).into_response()
}

async fn jwks(State(app): State<AppState>) -> Response {
    // Short enough that a rotation's new key is seen well within the publication lead time.
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(app.keys.jwks()),
    )
        .into_response()
}
