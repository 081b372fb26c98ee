//! What a client may learn and undo about its own tokens: introspection (RFC 7662) and
//! revocation (RFC 7009). Both apply the one liveness rule of each token kind
//! (`tokens::live_refresh_token`, `tokens::live_access_token`), and both treat another
//! client's token as unknown.

use cus_core::Client;
use serde_json::{Value, json};

use super::tokens;
use crate::app::AppState;
use crate::secrets::token_hash;

/// RFC 7662 §2.2: the token's description if it is live and `client`'s, else
/// `{"active": false}` — unknown, dead and foreign tokens answer alike.
pub async fn introspect(app: &AppState, client: &Client, token: &str) -> anyhow::Result<Value> {
    if let Some(live) = tokens::live_refresh_token(app, token, &client.client_id).await? {
        let stored = live.stored;
        return Ok(json!({
            "active": true,
            "token_type": "refresh_token",
            "client_id": stored.client_id.0,
            "sub": stored.account_id.to_string(),
            "scope": live.scopes.join(" "),
            "iat": stored.created_at.unix_timestamp(),
            "exp": stored.expires_at.unix_timestamp(),
            "iss": app.issuer,
        }));
    }
    match tokens::live_access_token(app, token).await? {
        Some(access) if access.client_id() == client.client_id.0 => {
            let claims = access.claims;
            Ok(json!({
                "active": true,
                "token_type": "Bearer",
                "client_id": claims.client_id,
                "sub": claims.sub,
                "scope": claims.scope,
                "iat": claims.iat,
                "exp": claims.exp,
                "iss": claims.iss,
                "aud": claims.aud,
                "jti": claims.jti,
            }))
        }
        Some(_) | None => Ok(json!({ "active": false })),
    }
}

/// RFC 7009 §2.1: a refresh token revokes its whole rotation family, an access token its
/// `jti` — only when the token is `client`'s. Unknown and foreign tokens change nothing
/// and are not an error (§2.2).
pub async fn revoke(app: &AppState, client: &Client, token: &str) -> anyhow::Result<()> {
    let now = app.clock.now();
    if let Some(stored) = app.store.refresh_token(&token_hash(token)).await? {
        if stored.client_id == client.client_id {
            app.store
                .revoke_refresh_family(stored.family_id, now)
                .await?;
        }
    } else if let Some(access) = tokens::live_access_token(app, token).await?
        && access.client_id() == client.client_id.0
    {
        tokens::revoke_jti(app, &access.claims.jti, access.claims.exp).await?;
    }
    Ok(())
}
