//! Checking a RUT + CUS: the one gate of every form that takes a CUS (the login page,
//! "Cambie su CUS" and "Actualice sus datos", for both kinds of persona). [`attempt`]
//! applies the per-RUT lock, the captcha the lock calls for, counts the attempt into the
//! lockout ladder before checking (so concurrent guesses cannot slip past it), checks the
//! CUS, and audits the failure. No other code verifies a CUS.
//!
//! A generated CUS (pending) is accepted beside the current one until it expires, and
//! replaces it at its first use; a login with the current CUS cancels it.

use cus_core::audit::{AuditEvent, AuditKind, AuditOutcome};
use cus_core::{Account, Credentials, Rut};
use cus_store::Change;

use super::lockout::{self, AfterFailure};
use super::{captcha, messages};
use crate::app::AppState;
use crate::hashing::Ticket;
use crate::hashing::legacy::Scheme;
use crate::request::RequestMeta;
use time::OffsetDateTime;

/// An account whose CUS was just verified.
pub struct Verified {
    pub account: Account,
    pub credentials: Credentials,
}

/// The captcha that came with the CUS.
pub enum Captcha<'a> {
    /// The form always carries one and it was already solved (the lifecycle forms).
    Solved,
    /// The login page: what the person typed, if the page showed a captcha.
    Typed { id: &'a str, answer: &'a str },
}

/// What became of an attempt.
pub enum Attempt {
    Verified(Box<Verified>),
    /// A wrong RUT or CUS; whether the next attempt needs the captcha.
    Wrong {
        captcha_required: bool,
    },
    /// The captcha is required and was missing or wrong: nothing was checked or counted,
    /// so a stranger without it cannot spend the owner's attempts.
    CaptchaRequired,
    /// Locked by repeated wrong CUS (perhaps by this very attempt): nothing was checked.
    Locked,
    /// The RUT and CUS were right, but the help desk disabled the account
    /// ([`cus_core::Account::usable`]): told only to whoever knows the CUS.
    Disabled,
    /// Hashing is saturated ([`crate::hashing::Busy`]): refused before the attempt was
    /// counted, nothing was checked.
    Busy,
}

impl Attempt {
    /// The outcome as metrics label it.
    fn label(&self) -> &'static str {
        match self {
            Self::Verified(_) => "verified",
            Self::Wrong { .. } => "wrong",
            Self::CaptchaRequired => "captcha_required",
            Self::Locked => "locked",
            Self::Disabled => "disabled",
            Self::Busy => "busy",
        }
    }
}

/// Checks `cus` for `rut` at `place` (for the audit trail and the metrics), under the
/// lockout rules.
pub async fn attempt(
    app: &AppState,
    rut: &Rut,
    cus: &str,
    captcha: Captcha<'_>,
    place: &'static str,
    meta: &RequestMeta,
) -> anyhow::Result<Attempt> {
    let attempt = check(app, rut, cus, captcha, place, meta).await?;
    let outcome = attempt.label();
    metrics::counter!(crate::metrics::LOGINS, "form" => place, "outcome" => outcome).increment(1);
    Ok(attempt)
}

async fn check(
    app: &AppState,
    rut: &Rut,
    cus: &str,
    captcha: Captcha<'_>,
    place: &'static str,
    meta: &RequestMeta,
) -> anyhow::Result<Attempt> {
    if lockout::locked(app, rut).await? {
        return Ok(Attempt::Locked);
    }
    // A place in the hashing pool before anything is counted: a refusal for load spends
    // neither a free attempt nor one of the lockout ladder's.
    let Ok(ticket) = app.hasher.admit() else {
        return Ok(Attempt::Busy);
    };
    if let Captcha::Typed { id, answer } = captcha {
        // Free (no captcha) only while failures are few and a free attempt is left.
        let free = !lockout::captcha_required(app, rut).await?
            && lockout::take_free_attempt(app, rut).await?;
        if !free && !captcha::solve(app, id, answer).await? {
            return Ok(Attempt::CaptchaRequired);
        }
    }
    let Some(admitted) = lockout::admit(app, rut).await? else {
        return Ok(Attempt::Locked);
    };
    let verified = verify(app, &ticket, rut, cus, meta.now).await?;
    drop(ticket);
    if let Some(verified) = verified {
        lockout::succeeded(app, rut).await?;
        if !verified.account.usable() {
            let mut event = audit(AuditKind::LoginFailed, rut, meta);
            event.outcome = AuditOutcome::Failed;
            event.detail = Some(format!("account disabled, at {place}"));
            crate::audit::record(app, &event).await;
            return Ok(Attempt::Disabled);
        }
        return Ok(Attempt::Verified(Box::new(verified)));
    }
    let mut event = audit(AuditKind::LoginFailed, rut, meta);
    event.outcome = AuditOutcome::Failed;
    event.detail = Some(format!("wrong RUT or CUS at {place}"));
    crate::audit::record(app, &event).await;
    tracing::info!(ip = ?meta.ip, place, "wrong RUT or CUS");
    match lockout::failed(app, rut, admitted).await? {
        AfterFailure::Open { captcha_required } => Ok(Attempt::Wrong { captcha_required }),
        AfterFailure::Locked(duration) => {
            notify_lock(app, rut, duration, meta).await;
            Ok(Attempt::Locked)
        }
    }
}

fn audit(kind: AuditKind, rut: &Rut, meta: &RequestMeta) -> AuditEvent {
    crate::audit::of_request(kind, Some(rut.compact()), meta)
}

/// Verifies `cus` for `rut`. `None` for an unknown RUT or a wrong CUS, indistinguishably:
/// a failure always costs two hashes (the current CUS, then the pending one or the dummy),
/// whether or not the RUT exists or has a generated CUS waiting.
async fn verify(
    app: &AppState,
    ticket: &Ticket,
    rut: &Rut,
    cus: &str,
    now: OffsetDateTime,
) -> anyhow::Result<Option<Verified>> {
    match verify_once(app, ticket, rut, cus, now).await {
        // Another request changed the CUS between this one's read and write (two logins
        // with a generated CUS at once, say): nothing was written; judge on the new state.
        Err(e) if matches!(e.downcast_ref(), Some(cus_store::StoreError::Conflict(_))) => {
            verify_once(app, ticket, rut, cus, now).await
        }
        other => other,
    }
}

async fn verify_once(
    app: &AppState,
    ticket: &Ticket,
    rut: &Rut,
    cus: &str,
    now: OffsetDateTime,
) -> anyhow::Result<Option<Verified>> {
    let cus = cus_core::policy::normalize(cus);
    let found = app.store.account_by_rut(rut).await?;
    let current = found.as_ref().map(|(_, c)| c.cus_hash.as_str());
    if ticket.verify(&cus, current).await {
        let (account, mut credentials) =
            found.ok_or_else(|| anyhow::anyhow!("verified without an account"))?;
        let mut changed = Vec::new();
        if credentials.pending_cus_hash.is_some() {
            // The owner still knows their CUS: the generated one is not needed any more.
            credentials.pending_cus_hash = None;
            credentials.pending_cus_expires = None;
            changed.push("generated CUS cancelled by a login with the current CUS");
        }
        if app.hasher.needs_rehash(&credentials.cus_hash) {
            // The configuration raised the cost, or the hash came with an imported account
            // in another format: the CUS is known now, rehash it.
            let imported = Scheme::of(&credentials.cus_hash) != Some(Scheme::Argon2id);
            credentials.cus_hash = ticket.hash(&cus).await?;
            changed.push(if imported {
                "imported hash replaced by argon2id"
            } else {
                "hash parameters upgraded"
            });
        }
        if !changed.is_empty() {
            let mut event = AuditEvent::new(AuditKind::CusChanged, now, Some(rut.compact()));
            event.detail = Some(changed.join("; "));
            app.store
                .update_account(&account, &credentials, Change::audited(&event))
                .await?;
        }
        return Ok(Some(Verified {
            account,
            credentials,
        }));
    }
    let pending = found.as_ref().and_then(|(_, c)| {
        c.pending_cus_hash
            .as_deref()
            .filter(|_| c.pending_cus_expires.is_some_and(|e| e > now))
    });
    if !ticket.verify(&cus, pending).await {
        return Ok(None);
    }
    let Some((mut account, mut credentials)) = found else {
        return Ok(None);
    };
    // First use of a generated CUS: it becomes the CUS, the old one stops working, every
    // earlier session and token ends, and the person must choose their own next.
    credentials.cus_hash = credentials.pending_cus_hash.take().unwrap_or_default();
    credentials.pending_cus_expires = None;
    account.cus_must_change = true;
    account.updated_at = now;
    let read = std::mem::replace(&mut account.tokens_valid_after, now);
    let mut event = AuditEvent::new(AuditKind::CusChanged, now, Some(account.rut.compact()));
    event.detail = Some("generated CUS used for the first time".into());
    let logouts = crate::oidc::backchannel::all_sessions_ended(app, account.id).await?;
    app.store
        .update_account(
            &account,
            &credentials,
            Change::audited(&event)
                .with_notices(&logouts)
                .changing_cus(read, now),
        )
        .await?;
    Ok(Some(Verified {
        account,
        credentials,
    }))
}

/// Tells the owner (if the RUT has an account) that logins are locked, and audits it.
async fn notify_lock(app: &AppState, rut: &Rut, duration: std::time::Duration, meta: &RequestMeta) {
    let mut event = audit(AuditKind::LoginLocked, rut, meta);
    event.outcome = AuditOutcome::Locked;
    event.detail = Some(format!("locked for {} s", duration.as_secs()));
    let result: anyhow::Result<()> = async {
        match app.store.account_by_rut(rut).await? {
            Some((account, credentials)) => {
                let notice = messages::login_locked(
                    &account.email,
                    &account.display_name(),
                    duration.as_secs() / 60,
                    event.at,
                );
                app.store
                    .update_account(
                        &account,
                        &credentials,
                        Change::audited(&event).with_notices(&[notice]),
                    )
                    .await?;
            }
            None => app.store.append_audit(&event).await?,
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::error!(error = %format!("{e:#}"), "cannot record a login lock");
    }
    tracing::warn!("RUT locked after repeated wrong CUS");
}
