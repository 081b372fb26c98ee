//! The anti-robot captcha: a server-drawn image of distorted digits, and the same code as
//! audio (`captcha_audio`); the answer waits in the cache for 5 minutes and is taken once,
//! right or wrong.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use captcha::Captcha;
use captcha::filters::{Noise, Wave};
use cus_cache::{Key, Namespace};
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::secrets::random_token;

const TTL: Duration = Duration::from_secs(5 * 60);

/// A captcha to show: its id (a hidden field) and its image as a `data:` URI.
pub struct Challenge {
    pub id: String,
    pub image: String,
}

/// Draws a new captcha and remembers its answer.
pub async fn new_challenge(app: &AppState) -> anyhow::Result<Challenge> {
    let drawing = app.drawing.acquire().await?;
    let (answer, png) = tokio::task::spawn_blocking(|| {
        let mut captcha = Captcha::new();
        captcha
            .set_chars(&super::captcha_audio::DIGITS)
            .add_chars(5)
            .apply_filter(Noise::new(0.25))
            .apply_filter(Wave::new(2.0, 12.0).horizontal())
            .apply_filter(Wave::new(2.0, 12.0).vertical())
            .view(220, 90);
        (captcha.chars_as_string(), captcha.as_png())
    })
    .await?;
    drop(drawing);
    let png = png.ok_or_else(|| anyhow::anyhow!("the captcha image could not be drawn"))?;
    let id = random_token();
    app.cache
        .put(
            &Key::new(Namespace::Captcha, &id),
            answer.to_lowercase().as_bytes(),
            TTL,
        )
        .await?;
    Ok(Challenge {
        id,
        image: format!("data:image/png;base64,{}", STANDARD.encode(png)),
    })
}

/// The audio of captcha `id` (a WAV of the same code), or `None` once it is used up or
/// expired. Listening does not use the captcha up: the answer is read, not taken.
pub async fn audio(app: &AppState, id: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let Some(answer) = app.cache.get(&Key::new(Namespace::Captcha, id)).await? else {
        return Ok(None);
    };
    let code = String::from_utf8(answer)?;
    Ok(Some(super::captcha_audio::wav(&code, &mut rand::rng())))
}

/// Whether `answer` solves captcha `id` (case-insensitive). The captcha is used up either
/// way. `captcha.test_answer`, for automated tests only, is always accepted.
pub async fn solve(app: &AppState, id: &str, answer: &str) -> anyhow::Result<bool> {
    let expected = app.cache.take(&Key::new(Namespace::Captcha, id)).await?;
    let answer = answer.trim().to_lowercase();
    let test = &app.config.captcha.test_answer;
    if !test.is_empty() && answer == test.to_lowercase() {
        return Ok(true);
    }
    Ok(match expected {
        Some(expected) => !answer.is_empty() && bool::from(expected.ct_eq(answer.as_bytes())),
        None => false,
    })
}

/// Throws captcha `id` away unsolved ("Refrescar" asks for a new image instead).
pub async fn discard(app: &AppState, id: &str) -> anyhow::Result<()> {
    app.cache.delete(&Key::new(Namespace::Captcha, id)).await?;
    Ok(())
}
