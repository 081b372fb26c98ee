//! Login throttling per RUT: after a few failures the captcha is required; after more, the
//! RUT is locked for a growing time and its owner is told by e-mail. It applies to any RUT
//! typed, registered or not, so it reveals nothing about which RUTs exist. A successful
//! "Genere nueva CUS" or "Cambie su CUS" clears it.

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

fn lock(rut: &Rut) -> Key {
    Key::new(Namespace::Ticket, format!("lock:{}", rut.compact()))
}

/// Where a RUT stands.
pub struct Status {
    pub locked: bool,
    pub captcha_required: bool,
}

pub async fn status(app: &AppState, rut: &Rut) -> anyhow::Result<Status> {
    let locked = app.cache.get(&lock(rut)).await?.is_some();
    let count = app.cache.count(&failures(rut)).await?;
    Ok(Status {
        locked,
        captcha_required: count >= app.config.lockout.captcha_after,
    })
}

/// Records a failed login; returns the lock duration when this failure locked the RUT.
pub async fn record_failure(app: &AppState, rut: &Rut) -> anyhow::Result<Option<Duration>> {
    let config = &app.config.lockout;
    let (count, _) = app
        .cache
        .incr(&failures(rut), Duration::from_secs(config.window.max(1)))
        .await?;
    if count < config.lock_after {
        return Ok(None);
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
    Ok(Some(duration))
}

/// A successful login forgets the failures (not the ladder).
pub async fn record_success(app: &AppState, rut: &Rut) -> anyhow::Result<()> {
    Ok(app.cache.delete(&failures(rut)).await?)
}

/// The owner proved themselves (new or changed CUS): everything is forgotten.
pub async fn clear(app: &AppState, rut: &Rut) -> anyhow::Result<()> {
    for key in [failures(rut), level(rut), lock(rut)] {
        app.cache.delete(&key).await?;
    }
    Ok(())
}
