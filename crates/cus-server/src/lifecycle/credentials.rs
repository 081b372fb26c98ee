//! Checking a RUT + CUS, shared by the login page and every flow that asks for the current
//! CUS. A generated CUS (pending) is accepted beside the current one and replaces it at its
//! first use.

use cus_core::audit::{AuditEvent, AuditKind};
use cus_core::{Account, Credentials, Rut};

use crate::app::AppState;

/// An account whose CUS was just verified.
pub struct Verified {
    pub account: Account,
    pub credentials: Credentials,
}

/// Verifies `cus` for `rut`. `None` for an unknown RUT or a wrong CUS, indistinguishably
/// (an unknown RUT is checked against a dummy hash, taking the same time).
pub async fn verify(app: &AppState, rut: &Rut, cus: &str) -> anyhow::Result<Option<Verified>> {
    let cus = cus_core::policy::normalize(cus);
    let found = app.store.account_by_rut(rut).await?;
    let current = found.as_ref().map(|(_, c)| c.cus_hash.as_str());
    if app.hasher.verify(&cus, current).await {
        let (account, mut credentials) =
            found.ok_or_else(|| anyhow::anyhow!("verified without an account"))?;
        if app.hasher.needs_rehash(&credentials.cus_hash) {
            // The configuration raised the cost: the CUS is known now, rehash it.
            credentials.cus_hash = app.hasher.hash(&cus).await?;
            let mut event = AuditEvent::new(
                AuditKind::CusChanged,
                app.clock.now(),
                Some(account.rut.compact()),
            );
            event.detail = Some("hash parameters upgraded".into());
            app.store
                .update_account(&account, &credentials, &[], &event, None)
                .await?;
        }
        return Ok(Some(Verified {
            account,
            credentials,
        }));
    }
    let Some((mut account, mut credentials)) = found else {
        return Ok(None);
    };
    let Some(pending) = credentials.pending_cus_hash.clone() else {
        return Ok(None);
    };
    if !app.hasher.verify(&cus, Some(&pending)).await {
        return Ok(None);
    }
    // First use of a generated CUS: it becomes the CUS, the old one stops working, every
    // earlier session and token ends, and the person must choose their own next.
    let now = app.clock.now();
    credentials.cus_hash = pending;
    credentials.pending_cus_hash = None;
    account.cus_must_change = true;
    account.updated_at = now;
    account.tokens_valid_after = now;
    let mut event = AuditEvent::new(AuditKind::CusChanged, now, Some(account.rut.compact()));
    event.detail = Some("generated CUS used for the first time".into());
    let logouts = crate::oidc::backchannel::all_sessions_ended(app, account.id).await?;
    app.store
        .update_account(&account, &credentials, &logouts, &event, Some(now))
        .await?;
    Ok(Some(Verified {
        account,
        credentials,
    }))
}
