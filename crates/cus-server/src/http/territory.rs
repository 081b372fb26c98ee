//! The región → comuna catalogue as JSON, for the forms' comuna filter.

use axum::Json;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cus_core::Catalogue;
use serde_json::json;

use super::routes::Routes;

pub fn routes() -> Routes {
    Routes::new()
        .route("/api/regiones", get(list_regiones))
        .route("/api/regiones/{codigo}/comunas", get(list_comunas))
}

/// Reference data changes by law, not by the hour: let browsers keep it a day.
const CACHE_CONTROL: &str = "public, max-age=86400";

async fn list_regiones() -> Response {
    let regiones: Vec<_> = Catalogue::chile().regiones().collect();
    ([(header::CACHE_CONTROL, CACHE_CONTROL)], Json(regiones)).into_response()
}

async fn list_comunas(Path(codigo): Path<String>) -> Response {
    let catalogue = Catalogue::chile();
    let Some(region) = codigo.parse::<u16>().ok().and_then(|c| catalogue.region(c)) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "not_found", "error_description": "Región desconocida." })),
        )
            .into_response();
    };
    let comunas: Vec<_> = catalogue.comunas_of(region.codigo).collect();
    ([(header::CACHE_CONTROL, CACHE_CONTROL)], Json(comunas)).into_response()
}
