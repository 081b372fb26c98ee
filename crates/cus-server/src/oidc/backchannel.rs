//! OpenID Connect Back-Channel Logout 1.0. CUS remembers which portals each session signed
//! in to (in the shared cache, for the session's lifetime). When a session ends — logout,
//! a new login in the same browser, or a CUS change that ends them all — every portal with
//! a `backchannel_logout_uri` gets a notice through the outbox: retried, kept across
//! restarts, and signed only when sent, so a retry never carries an expired token.

use cus_cache::{Key, Namespace};
use cus_core::notification::Notification;
use cus_core::{AccountId, Client, ClientId};
use serde_json::json;

use crate::app::AppState;
use crate::secrets::random_token;

/// The `events` member that makes a JWT a logout token (§2.4).
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A logout token is used at once; two minutes covers clock skew.
const TOKEN_LIFETIME: i64 = 120;

fn session_clients(sid: &str) -> Key {
    Key::new(Namespace::SessionClients, sid)
}

fn account_sessions(account: AccountId) -> Key {
    Key::new(Namespace::AccountSessions, account)
}

/// Records that `client` was given a code in session `sid` of `account`.
pub async fn joined(
    app: &AppState,
    account: AccountId,
    sid: &str,
    client: &ClientId,
) -> anyhow::Result<()> {
    // On every code issued: the two writes go out together, not one after the other.
    let lifetime = app.config.oidc.session_absolute.std();
    let (clients, sessions) = (session_clients(sid), account_sessions(account));
    tokio::try_join!(
        app.cache.add_member(&clients, &client.0, lifetime),
        app.cache.add_member(&sessions, sid, lifetime),
    )?;
    Ok(())
}

/// The portals (client ids) session `sid` signed in to, left in place.
pub async fn clients_of(app: &AppState, sid: &str) -> anyhow::Result<Vec<String>> {
    Ok(app.cache.members(&session_clients(sid)).await?)
}

/// Session `sid` of `account` ended: queues a notice to every portal it signed in to.
pub async fn session_ended(app: &AppState, account: AccountId, sid: &str) -> anyhow::Result<()> {
    let notices = notices(app, account, sid).await?;
    if !notices.is_empty() {
        app.store.queue_notifications(&notices).await?;
    }
    Ok(())
}

/// The notices for every session of `account`, to be written in the same transaction as
/// the change that ends them all (a new CUS). Taken from the cache: should that change
/// fail, the sessions live on and a later logout notifies only portals joined after it.
pub async fn all_sessions_ended(
    app: &AppState,
    account: AccountId,
) -> anyhow::Result<Vec<Notification>> {
    let mut all = Vec::new();
    for sid in app.cache.take_members(&account_sessions(account)).await? {
        all.extend(notices(app, account, &sid).await?);
    }
    Ok(all)
}

async fn notices(
    app: &AppState,
    account: AccountId,
    sid: &str,
) -> anyhow::Result<Vec<Notification>> {
    let now = app.clock.now();
    let mut notices = Vec::new();
    for client_id in app.cache.take_members(&session_clients(sid)).await? {
        let client = app.store.client(&ClientId(client_id.clone())).await?;
        if client.is_some_and(|c| c.backchannel_logout_uri.is_some()) {
            notices.push(Notification::logout(
                &client_id,
                sid,
                &account.to_string(),
                now,
            ));
        }
    }
    Ok(notices)
}

/// The logout token of a notice for `client`, signed like its ID tokens (§2.4).
pub fn logout_token(
    app: &AppState,
    client: &Client,
    sid: &str,
    sub: &str,
) -> anyhow::Result<String> {
    let now = app.clock.now();
    let iat = now.unix_timestamp();
    let claims = json!({
        "iss": app.issuer,
        "aud": client.client_id.0,
        "iat": iat,
        "exp": iat + TOKEN_LIFETIME,
        "jti": random_token(),
        "sub": sub,
        "sid": sid,
        "events": { EVENT: {} },
    });
    app.keys.sign(
        &client.id_token_signed_response_alg,
        "logout+jwt",
        &claims,
        now,
    )
}
