//! The OpenID Connect provider's state machine: pending authorization requests, SSO
//! sessions, codes, tokens. Handlers in `http::oidc` call into these modules.

pub mod authorize;
pub mod backchannel;
pub mod client_auth;
pub mod introspection;
pub mod session;
pub mod tokens;
pub mod userinfo;

use std::time::Duration;

use crate::app::AppState;

/// `acr` of a login with RUT + CUS: one factor (ISO/IEC 29115 LoA 1, NIST AAL1).
pub const ACR_PASSWORD: &str = "1";

/// Background task: reload the keyring every `keys.reload_seconds`, to follow rotations
/// made by another node or the CLI.
pub async fn keep_keys_fresh(app: AppState) {
    let every = app
        .config
        .keys
        .reload_seconds
        .std()
        .max(Duration::from_secs(1));
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = app.keys.reload().await {
            tracing::warn!(error = %e, "cannot reload signing keys; keeping the previous set");
        }
    }
}

pub use cus_core::oauth::split_scopes;
