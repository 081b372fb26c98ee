//! OpenID Core §5.3: the claims a live access token releases about its person.

use cus_core::claims::Destination;
use serde_json::{Map, Value};

use super::tokens;
use crate::app::AppState;

/// Why a Bearer token gets nothing (RFC 6750 §3.1 `invalid_token`), or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    #[error("{0}")]
    Rejected(&'static str),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The claims `token` releases: those its scopes and its `claims` request allow
/// (`cus_core::claims::release`, the same rule as the ID token), if it is live
/// ([`tokens::live_access_token`]) and names a person.
pub async fn claims(app: &AppState, token: &str) -> Result<Map<String, Value>, BearerError> {
    let live = tokens::live_access_token(app, token)
        .await?
        .ok_or(BearerError::Rejected(
            "the access token is invalid, expired or revoked",
        ))?;
    let account = live.account.as_ref().ok_or(BearerError::Rejected(
        "the access token does not name a person",
    ))?;
    let claims = &live.claims;
    let requested = claims.userinfo_claims.iter().map(String::as_str);
    Ok(cus_core::claims::release(
        account,
        claims.scopes(),
        requested,
        Destination::Userinfo,
    ))
}
