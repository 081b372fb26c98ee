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

pub fn routes() -> Routes {
    Routes::new()
        .route("/captcha/audio", get(audio))
        .route("/captcha/nuevo", get(fresh))
}

#[derive(Deserialize)]
struct CaptchaQuery {
    id: Option<String>,
}

/// The address of a captcha's audio, as the forms link it.
pub fn audio_url(id: &str) -> String {
    format!("/captcha/audio?id={id}")
}

/// `GET /captcha/audio?id=…`: the WAV of the captcha's code; 404 once it is used or expired.
async fn audio(
    State(app): State<AppState>,
    Query(q): Query<CaptchaQuery>,
) -> Result<Response, PageError> {
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
    Query(q): Query<CaptchaQuery>,
) -> Result<Response, PageError> {
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
