//! What the help desk does to an account as a whole: disable and enable it, clear its
//! login lockout, send it a new CUS, delete it.

use cus_core::Rut;
use cus_core::audit::AuditKind;
use cus_store::Change;

use super::{AccountView, HelpdeskError, account, event, with_credentials};
use crate::app::AppState;
use crate::lifecycle::{lockout, natural};

/// Disables the account: from now on it cannot sign in, keep a session or token, or use
/// any lifecycle flow ([`cus_core::Account::usable`]). Its sessions and access tokens end
/// (`tokens_valid_after` moves), its refresh tokens are revoked and its portals get their
/// back-channel logouts, in one transaction with the audit event. An account already
/// disabled is left as it is.
pub async fn disable(
    app: &AppState,
    rut: &Rut,
    reason: Option<&str>,
    operator: &str,
) -> Result<AccountView, HelpdeskError> {
    let found = account(app, rut).await?;
    if !found.usable() {
        return Ok(AccountView::of(&found, false));
    }
    let mut event = event(app, AuditKind::AccountDisabled, rut, operator);
    event.detail = reason.map(|r| r.chars().take(200).collect());
    let now = event.at;
    let logouts = crate::oidc::backchannel::all_sessions_ended(app, found.id).await?;
    let change = Change::audited(&event)
        .with_notices(&logouts)
        .revoking_tokens_at(now);
    if !app.store.disable_account(found.id, now, change).await? {
        return Err(HelpdeskError::NotFound);
    }
    tracing::info!(account.id = %found.id, "account disabled by the help desk");
    Ok(AccountView::of(&account(app, rut).await?, false))
}

/// Enables a disabled account: the person can sign in again (what ended stays ended).
pub async fn enable(
    app: &AppState,
    rut: &Rut,
    operator: &str,
) -> Result<AccountView, HelpdeskError> {
    let found = account(app, rut).await?;
    if found.usable() {
        return Ok(AccountView::of(&found, false));
    }
    let event = event(app, AuditKind::AccountEnabled, rut, operator);
    if !app
        .store
        .enable_account(found.id, event.at, Change::audited(&event))
        .await?
    {
        return Err(HelpdeskError::NotFound);
    }
    Ok(AccountView::of(&account(app, rut).await?, false))
}

/// Clears the RUT's login lockout, ladder included, and its secret-answer limit: the
/// person proved who they are to the help desk.
pub async fn unlock(app: &AppState, rut: &Rut, operator: &str) -> Result<(), HelpdeskError> {
    account(app, rut).await?;
    lockout::clear(app, rut).await?;
    natural::clear_answer_limit(app, rut).await?;
    let event = event(app, AuditKind::AccountUnlocked, rut, operator);
    app.store.append_audit(&event).await?;
    Ok(())
}

/// Sends a new CUS to the account's registered channels, exactly as "Genere nueva CUS"
/// does after a right answer (`natural::send_new_cus`); the masked destinations.
pub async fn new_cus(
    app: &AppState,
    rut: &Rut,
    operator: &str,
) -> Result<natural::Sent, HelpdeskError> {
    let (found, credentials) = with_credentials(app, rut).await?;
    let mut event = event(app, AuditKind::CusGenerated, rut, operator);
    event.detail = Some("sent by the help desk".into());
    let ticket = app.hasher.admit().map_err(anyhow::Error::from)?;
    Ok(natural::send_new_cus(app, &ticket, &found, credentials, &event).await?)
}

/// Deletes the account with its consents and refresh tokens; its sessions end (they name
/// an account that no longer exists) and its portals get their back-channel logouts. The
/// audit trail keeps its RUT and this event.
pub async fn delete(app: &AppState, rut: &Rut, operator: &str) -> Result<(), HelpdeskError> {
    let found = account(app, rut).await?;
    let event = event(app, AuditKind::AccountDeleted, rut, operator);
    let logouts = crate::oidc::backchannel::all_sessions_ended(app, found.id).await?;
    let change = Change::audited(&event).with_notices(&logouts);
    if !app.store.delete_account(found.id, change).await? {
        return Err(HelpdeskError::NotFound);
    }
    tracing::info!(account.id = %found.id, "account deleted by the help desk");
    Ok(())
}
