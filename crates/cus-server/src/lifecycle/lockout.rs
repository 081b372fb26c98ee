//! Login throttling per RUT: after a few failures the captcha is required; after more, the
//! RUT is locked for a growing time and its owner is told by e-mail. It applies to any RUT
//! typed, registered or not, so it reveals nothing about which RUTs exist. While a RUT is
//! locked no form checks a CUS for it; a right secret answer at "Genere nueva CUS" clears
//! the lock (the owner proved themselves another way), as does a CUS change made before it.
//!
//! Attempts are counted *before* the CUS is checked ([`admit`]): a burst of concurrent
//! guesses cannot all read "not locked yet" and slip past the limit. Only
//! [`crate::lifecycle::credentials::attempt`] calls it, for every form that takes a CUS.

use std::time::Duration;

use cus_cache::{Key, Namespace};
use cus_core::Rut;

use crate::app::AppState;

fn failures(rut: &Rut) -> Key {
    Key::new(Namespace::Counter, format!("login-fail:{}", rut.compact()))
}

fn level(rut: &Rut) -> Key {
    Key::new(Namespace::Counter, format!("lock-level:{}", rut.compact()))
}

fn free(rut: &Rut) -> Key {
    Key::new(Namespace::Counter, format!("login-free:{}", rut.compact()))
}

fn lock(rut: &Rut) -> Key {
    Key::new(Namespace::Ticket, format!("lock:{}", rut.compact()))
}

/// Whether the RUT is locked now.
pub async fn locked(app: &AppState, rut: &Rut) -> anyhow::Result<bool> {
    Ok(app.cache.get(&lock(rut)).await?.is_some())
}

/// Whether the next attempt for the RUT must carry a solved captcha.
pub async fn captcha_required(app: &AppState, rut: &Rut) -> anyhow::Result<bool> {
    let count = app.cache.count(&failures(rut)).await?;
    Ok(count >= app.config.lockout.captcha_after)
}

/// Takes one of the attempts a RUT may have without a captcha in the window (`captcha_after`
/// of them); `false` once they are spent. Taken by an atomic increment, so a burst of
/// concurrent attempts cannot all read "no captcha needed yet" and lock the RUT for a
/// stranger who never solved one.
pub async fn take_free_attempt(app: &AppState, rut: &Rut) -> anyhow::Result<bool> {
    let config = &app.config.lockout;
    let (number, _) = app
        .cache
        .incr(&free(rut), Duration::from_secs(config.window.max(1)))
        .await?;
    Ok(number <= config.captcha_after)
}

/// An attempt that may be checked: its number in the current window.
pub struct Admitted {
    number: u64,
}

/// Counts an attempt for the RUT before its CUS is checked. `None`: the RUT is locked, or
/// this attempt is beyond the last one the window allows (others are being checked right
/// now); nothing may be checked.
pub async fn admit(app: &AppState, rut: &Rut) -> anyhow::Result<Option<Admitted>> {
    let config = &app.config.lockout;
    let (number, _) = app
        .cache
        .incr(&failures(rut), Duration::from_secs(config.window.max(1)))
        .await?;
    if number > config.lock_after || locked(app, rut).await? {
        return Ok(None);
    }
    Ok(Some(Admitted { number }))
}

/// What a failed attempt led to.
pub enum AfterFailure {
    /// The RUT is now locked for this long.
    Locked(Duration),
    /// Not locked; whether the next attempt needs the captcha.
    Open { captcha_required: bool },
}

/// The admitted attempt failed (it was counted when admitted): locks the RUT when it was
/// the last one allowed.
pub async fn failed(app: &AppState, rut: &Rut, attempt: Admitted) -> anyhow::Result<AfterFailure> {
    let config = &app.config.lockout;
    if attempt.number < config.lock_after {
        return Ok(AfterFailure::Open {
            captcha_required: attempt.number >= config.captcha_after,
        });
    }
    // The ladder remembers earlier locks for twice its longest step.
    let longest = config.ladder.iter().copied().max().unwrap_or(900);
    let (step, _) = app
        .cache
        .incr(&level(rut), Duration::from_secs(longest * 2))
        .await?;
    let index = usize::try_from(step.saturating_sub(1))
        .unwrap_or(usize::MAX)
        .min(config.ladder.len().saturating_sub(1));
    let seconds = config.ladder.get(index).copied().unwrap_or(900);
    let duration = Duration::from_secs(seconds);
    app.cache.put(&lock(rut), b"1", duration).await?;
    app.cache.delete(&failures(rut)).await?;
    metrics::counter!(crate::metrics::LOCKOUTS).increment(1);
    Ok(AfterFailure::Locked(duration))
}

/// A successful login forgets the failures and the free attempts spent (not the ladder).
pub async fn succeeded(app: &AppState, rut: &Rut) -> anyhow::Result<()> {
    app.cache.delete(&failures(rut)).await?;
    Ok(app.cache.delete(&free(rut)).await?)
}

/// A right secret answer: the lock and the failures go, so the generated CUS can be used;
/// the ladder stays, so whoever knows the answer but not the CUS gets ever longer locks.
pub async fn unlock(app: &AppState, rut: &Rut) -> anyhow::Result<()> {
    for key in [failures(rut), free(rut), lock(rut)] {
        app.cache.delete(&key).await?;
    }
    Ok(())
}

/// The owner proved themselves (new or changed CUS): everything is forgotten.
pub async fn clear(app: &AppState, rut: &Rut) -> anyhow::Result<()> {
    for key in [failures(rut), free(rut), level(rut), lock(rut)] {
        app.cache.delete(&key).await?;
    }
    Ok(())
}
