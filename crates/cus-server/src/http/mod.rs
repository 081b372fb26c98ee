//! The HTTP surface: one router per area, and the layers every response goes through.

mod account;
pub mod admin;
mod bearer;
mod captcha;
mod consents;
mod csrf;
mod errors;
mod extract;
mod health;
mod helpdesk;
mod lifecycle;
pub mod meta;
mod my_data;
mod oidc;
mod page;
mod registration;
mod routes;
mod territory;

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{OnResponse, TraceLayer};

use crate::app::AppState;
use routes::Routes;

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Pages load only our own scripts, styles and images, and are never framed.
const CSP: &str = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; \
                   form-action 'self' http: https:; base-uri 'none'";

/// The same policy, but images may also come from any https address: for a page that
/// shows a portal's registered logo (the login page).
const CSP_HTTPS_IMAGES: &str = "default-src 'self'; img-src 'self' data: https:; \
                                frame-ancestors 'none'; form-action 'self' http: https:; \
                                base-uri 'none'";

/// `response` with the policy that lets it show https images (`CSP_HTTPS_IMAGES`).
pub fn with_https_images(mut response: axum::response::Response) -> axum::response::Response {
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP_HTTPS_IMAGES),
    );
    response
}

/// Every path CUS serves, as registered (with `{placeholders}`).
pub fn paths() -> Vec<&'static str> {
    routes().paths().to_vec()
}

fn routes() -> Routes {
    Routes::new()
        .merge(health::routes())
        .merge(territory::routes())
        .merge(oidc::routes())
        .merge(account::routes())
        .merge(consents::routes())
        .merge(my_data::routes())
        .merge(admin::routes())
        .merge(helpdesk::routes())
        .merge(registration::routes())
        .merge(lifecycle::routes())
        .merge(captcha::routes())
        .route("/static/cus.css", axum::routing::get(stylesheet))
        .route("/static/cus.js", axum::routing::get(script))
}

/// The management listener's router (`server.management_listen`): Prometheus metrics and
/// the health checks with their reasons. Never merged into the public router.
pub fn management(state: AppState) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(metrics_text))
        .route("/healthz", axum::routing::get(health::healthz))
        .route("/readyz", axum::routing::get(health::readyz_detailed))
        .with_state(state)
}

async fn metrics_text(State(app): State<AppState>) -> impl axum::response::IntoResponse {
    crate::metrics::sample(app.store.as_ref(), app.clock.now()).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::handle().render(),
    )
}

/// Counts every request by its route template (never the path: it may carry ids) and
/// status, and times it.
async fn measured(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "(no route)".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(request.method());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16().to_string();
    metrics::histogram!(crate::metrics::HTTP_SECONDS, "route" => route.clone(), "method" => method)
        .record(seconds);
    metrics::counter!(crate::metrics::HTTP_REQUESTS, "route" => route, "method" => method, "status" => status)
        .increment(1);
    response
}

/// A request method as a metric label: the standard ones by name, anything else as one
/// `OTHER` — HTTP allows any token as a method, and a label per invented method would let
/// anyone grow `/metrics` (and the node's memory) without bound.
pub(crate) fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| known == method)
        .map_or("OTHER", |(_, label)| label)
}

pub fn router(state: AppState) -> Router {
    let timeout = Duration::from_secs(state.config.server.request_timeout_seconds);
    let https = state.issuer.starts_with("https://");
    // Per route (axum applies `layer` after routing), so the route template is known.
    let mut router = routes()
        .into_router()
        .with_state(state)
        .layer(axum::middleware::from_fn(measured));
    if https {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ));
    }
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(crate::telemetry::request_span)
                    // One `info` line per request: its status and latency, in the span
                    // above (the access log).
                    .on_response(
                        |response: &axum::http::Response<_>,
                         latency: Duration,
                         span: &tracing::Span| {
                            crate::telemetry::record_response(response, span);
                            tower_http::trace::DefaultOnResponse::new()
                                .level(tracing::Level::INFO)
                                .latency_unit(tower_http::LatencyUnit::Micros)
                                .on_response(response, latency, span);
                        },
                    ),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                timeout,
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            )),
    )
}

async fn stylesheet() -> impl axum::response::IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../../templates/static/cus.css"),
    )
}

async fn script() -> impl axum::response::IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../../templates/static/cus.js"),
    )
}
