//! Request bodies as handlers take them, decoded by `cus_core::forms` (the one decoder the
//! fuzz targets drive too).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

pub use cus_core::forms::protocol as decode;

use super::errors;

/// A web form from one of our pages. A body that is not such a form gets a Spanish page,
/// not a framework message.
pub struct WebForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for WebForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        cus_core::forms::web(&body).map(WebForm).map_err(|_| {
            errors::page(
                StatusCode::BAD_REQUEST,
                "Solicitud no válida",
                "El formulario recibido no es válido. Vuelva a la página anterior e inténtelo nuevamente.",
            )
        })
    }
}
