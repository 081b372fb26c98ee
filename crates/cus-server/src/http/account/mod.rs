//! People's pages around the protocol: the login page `/Account` ([`login`]), consent
//! ([`consent`]), logout ([`logout`]), and "Mis sesiones" ([`sessions`]).

mod consent;
mod login;
mod logout;
mod sessions;

use axum::routing::{get, post};

use super::routes::Routes;

pub use login::start_session;

pub fn routes() -> Routes {
    Routes::new()
        .route("/Account", get(login::login_page).post(login::login))
        .route(
            "/consent",
            get(consent::consent_page).post(consent::consent),
        )
        .route(
            "/end_session",
            get(logout::end_session).post(logout::end_session),
        )
        .route("/end_session/confirm", post(logout::end_session_confirm))
        .route("/mis-sesiones", get(sessions::list_sessions))
        .route("/mis-sesiones/cerrar", post(sessions::end_one))
        .route("/mis-sesiones/cerrar-otras", post(sessions::end_others))
}
