//! "Mis autorizaciones": the consents a person gave, and withdrawing them.

use super::params::WebForm;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use cus_core::ClientId;
use cus_core::audit::{AuditEvent, AuditKind};
use cus_core::forms::WithdrawForm;
use cus_store::Change;

use super::csrf;
use super::errors;
use super::meta::RequestMeta;
use super::oidc::current_session;
use super::routes::Routes;
use crate::app::AppState;

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

async fn list_consents(State(app): State<AppState>, jar: CookieJar) -> Response {
    let session = match current_session(&app, &jar).await {
        Ok(Some(s)) => s,
        Ok(None) => return Redirect::to("/Account").into_response(),
        Err(e) => return errors::internal(&e),
    };
    let result: anyhow::Result<Vec<Item>> = async {
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
        Ok(items)
    }
    .await;
    match result {
        Ok(items) => {
            let (jar, csrf) = csrf::token(&app, jar);
            let mut response = (jar, ConsentsPage { csrf, items }).into_response();
            response.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            response
        }
        Err(e) => errors::internal(&e),
    }
}

async fn withdraw_consent(
    State(app): State<AppState>,
    jar: CookieJar,
    meta: RequestMeta,
    WebForm(form): WebForm<WithdrawForm>,
) -> Response {
    if !csrf::verify(&app, &jar, form.csrf.as_deref()) {
        return errors::form_expired();
    }
    let session = match current_session(&app, &jar).await {
        Ok(Some(s)) => s,
        Ok(None) => return Redirect::to("/Account").into_response(),
        Err(e) => return errors::internal(&e),
    };
    let client = ClientId(form.client_id.unwrap_or_default());
    let now = app.clock.now();
    let mut event = AuditEvent::new(AuditKind::ConsentWithdrawn, now, Some(client.0.clone()));
    event.ip = meta.ip;
    event.user_agent = meta.user_agent;
    event.detail = Some(format!("account {}", session.account_id));
    // The event is written with the withdrawal, and only if there was a consent to withdraw.
    match app
        .store
        .withdraw_consent(
            session.account_id,
            &client,
            Change::audited(&event).revoking_tokens_at(now),
        )
        .await
    {
        // Nothing left to withdraw (a second click) ends on the same page.
        Ok(_withdrawn) => Redirect::to("/autorizaciones").into_response(),
        Err(e) => errors::internal(&e.into()),
    }
}
