//! "Mis autorizaciones": the consents a person gave, and withdrawing them.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use cus_core::ClientId;
use cus_core::audit::AuditKind;
use cus_core::forms::WithdrawForm;
use cus_store::Change;

use super::csrf;
use super::errors::{PageError, no_store};
use super::extract::{CsrfForm, CurrentSession};
use super::meta::RequestMeta;
use super::routes::Routes;
use crate::app::AppState;
use crate::audit;

pub fn routes() -> Routes {
    Routes::new()
        .route("/autorizaciones", get(list_consents))
        .route("/autorizaciones/retirar", post(withdraw_consent))
}

struct Item {
    client_id: String,
    client_name: String,
    granted_on: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "account/consents.html")]
struct ConsentsPage {
    csrf: String,
    items: Vec<Item>,
}

async fn list_consents(
    State(app): State<AppState>,
    jar: CookieJar,
    session: CurrentSession,
) -> Result<Response, PageError> {
    let session = session.required("")?;
    let mut items = Vec::new();
    for consent in app.store.consents_of(session.account_id).await? {
        let name = app
            .store
            .client(&consent.client_id)
            .await?
            .map_or_else(|| consent.client_id.0.clone(), |c| c.name);
        items.push(Item {
            client_id: consent.client_id.0,
            client_name: name,
            granted_on: consent.granted_at.date().to_string(),
        });
    }
    let (jar, csrf) = csrf::token(&app, jar);
    Ok(no_store(
        (jar, ConsentsPage { csrf, items }).into_response(),
    ))
}

async fn withdraw_consent(
    State(app): State<AppState>,
    session: CurrentSession,
    meta: RequestMeta,
    CsrfForm(form): CsrfForm<WithdrawForm>,
) -> Result<Response, PageError> {
    let session = session.required("")?;
    let client = ClientId(form.client_id.unwrap_or_default());
    let now = meta.now;
    let subject = Some(client.0.clone());
    let mut event = audit::of_request(AuditKind::ConsentWithdrawn, subject, &meta);
    event.detail = Some(format!("account {}", session.account_id));
    // The event is written with the withdrawal, and only if there was a consent to
    // withdraw; nothing left to withdraw (a second click) ends on the same page.
    let change = Change::audited(&event).revoking_tokens_at(now);
    app.store
        .withdraw_consent(session.account_id, &client, change)
        .await?;
    Ok(Redirect::to("/autorizaciones").into_response())
}
