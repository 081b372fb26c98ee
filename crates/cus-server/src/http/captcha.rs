//! The captcha's own routes: its audio alternative, and a new challenge for the forms'
//! "Refrescar" control (which replaces the image in place, so nothing typed is lost).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

use super::errors::{PageError, no_store};
use super::routes::Routes;
use crate::app::AppState;
use crate::lifecycle::captcha;
use crate::request::RequestMeta;

pub fn routes() -> Routes {
    Routes::new()
        .route("/captcha/audio", get(audio))
        .route("/captcha/nuevo", get(fresh))
}

#[derive(Deserialize)]
struct CaptchaQuery {
    id: Option<String>,
}

/// One budget per client IP for both captcha routes: each draws (an image or a WAV) and a
/// program solving captchas in bulk would start from them.
async fn per_ip(app: &AppState, meta: &RequestMeta) -> Result<(), PageError> {
    let limit = app.config.limits.captcha_per_ip;
    Ok(crate::limits::check(app, "captcha-ip", &meta.limit_address(), limit).await?)
}

/// The address of a captcha's audio, as the forms link it.
pub fn audio_url(id: &str) -> String {
    format!("/captcha/audio?id={id}")
}

/// `GET /captcha/audio?id=…`: the WAV of the captcha's code; 404 once it is used or expired.
async fn audio(
    State(app): State<AppState>,
    meta: RequestMeta,
    Query(q): Query<CaptchaQuery>,
) -> Result<Response, PageError> {
    per_ip(&app, &meta).await?;
    let id = q.id.unwrap_or_default();
    let Some(wav) = captcha::audio(&app, &id).await? else {
        return Err(PageError::NotFound);
    };
    Ok(no_store(
        (
            [
                (header::CONTENT_TYPE, "audio/wav"),
                (
                    header::CONTENT_DISPOSITION,
                    "inline; filename=\"codigo.wav\"",
                ),
            ],
            wav,
        )
            .into_response(),
    ))
}

/// `GET /captcha/nuevo?id=…`: throws the shown captcha away and returns a new one as JSON
/// (`id`, `image` as a `data:` URI, `audio` address).
async fn fresh(
    State(app): State<AppState>,
    meta: RequestMeta,
    Query(q): Query<CaptchaQuery>,
) -> Result<Response, PageError> {
    per_ip(&app, &meta).await?;
    if let Some(old) = q.id.as_deref().filter(|id| !id.is_empty()) {
        captcha::discard(&app, old).await?;
    }
    let challenge = captcha::new_challenge(&app).await?;
    let body = json!({
        "id": challenge.id,
        "image": challenge.image,
        "audio": audio_url(&challenge.id),
    });
    Ok(no_store(Json(body).into_response()))
}
