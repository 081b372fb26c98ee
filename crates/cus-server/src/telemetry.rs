//! Structured logs with `tracing`: pretty on a terminal, JSON for collectors; spans
//! exported to an OpenTelemetry collector when configured (`otlp`), each request's span
//! continuing its caller's W3C `traceparent`; and what of a URL may be shown in logs, in
//! stored errors and in `cus config check`.

mod otlp;

use std::time::Duration;

use axum::http::{Request, Response};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Status, TraceContextExt, TracerProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{Log, LogFormat, Telemetry};

/// Installs the global subscriber (logs only) once; later calls (tests) are no-ops.
pub fn init(log: &Log) {
    install(log, None);
}

/// [`init`] for `cus serve`: with `telemetry.otlp_endpoint` set, spans are exported too.
/// Call inside the Tokio runtime that serves (the exports run on it), and
/// [`Spans::shutdown`] the result once the server has stopped, so the last spans are sent.
pub fn init_serving(log: &Log, telemetry: &Telemetry) -> anyhow::Result<Spans> {
    let Some(url) = telemetry.traces_url() else {
        install(log, None);
        return Ok(Spans(None));
    };
    let provider = otlp::provider(&url, telemetry)?;
    install(log, Some(provider.tracer("cus")));
    tracing::info!(
        collector = %redact_url(&url),
        sample_ratio = telemetry.sample_ratio,
        "exporting spans over OTLP/HTTP"
    );
    Ok(Spans(Some(provider)))
}

fn install(log: &Log, tracer: Option<opentelemetry_sdk::trace::SdkTracer>) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour codes only for a person at a terminal, never into a file or a collector.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let lines = tracing_subscriber::fmt::layer()
        .with_target(true)
        .with_ansi(ansi);
    let lines = match log.format {
        LogFormat::Json => lines.json().flatten_event(true).boxed(),
        LogFormat::Pretty => lines.boxed(),
    };
    let spans = tracer.map(|tracer| {
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            // Source file and thread names say nothing an operator needs.
            .with_location(false)
            .with_threads(false)
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(spans)
        .with(lines)
        .try_init();
}

/// The span exporter of a serving node, when export is on.
#[must_use = "shut it down after serving, or the last spans are lost"]
pub struct Spans(Option<SdkTracerProvider>);

impl Spans {
    /// Sends the spans queued so far and waits for the collector's answer.
    pub async fn flush(&self) {
        if let Some(provider) = self.0.clone() {
            // Blocking (the batch thread exports on this runtime): off the runtime's threads.
            let _ = tokio::task::spawn_blocking(move || provider.force_flush()).await;
        }
    }

    /// Sends the last spans (within a few seconds) and stops the exporter.
    pub async fn shutdown(self) {
        if let Some(provider) = self.0 {
            let stopped = tokio::task::spawn_blocking(move || {
                provider.shutdown_with_timeout(otlp::EXPORT_TIMEOUT + Duration::from_secs(1))
            })
            .await;
            if let Ok(Err(e)) = stopped {
                tracing::warn!(error = %e, "the last spans may not have been exported");
            }
        }
    }
}

/// The span of one request, the access log line's context: method, route template (never
/// the path or query: they carry codes and tokens) and request id. When spans are
/// exported, its parent is the caller's W3C `traceparent` (a malformed one is ignored: a
/// new trace), it is named "METHOD /route/{template}", and the log line gets its trace id.
pub fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get(crate::http::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("(no route)", axum::extract::MatchedPath::as_str);
    let method = crate::http::method_label(request.method());
    let span = tracing::info_span!(
        "request",
        method,
        route,
        request.id = %id,
        trace.id = tracing::field::Empty,
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
    );
    let parent = TraceContextPropagator::new()
        .extract(&opentelemetry_http::HeaderExtractor(request.headers()));
    // Refused when nothing exports spans (no OpenTelemetry layer): then nothing more to do.
    if span.set_parent(parent).is_ok() {
        span.record("otel.name", format!("{method} {route}"));
        span.record("otel.kind", "server");
        span.set_attribute("http.request.method", method);
        span.set_attribute("http.route", route.to_owned());
        let trace_id = span.context().span().span_context().trace_id();
        span.record("trace.id", tracing::field::display(trace_id));
    }
    span
}

/// Records the response's status on the request's exported span (an error status on 5xx).
pub fn record_response<B>(response: &Response<B>, span: &tracing::Span) {
    let status = response.status();
    span.set_attribute("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.set_status(Status::error(status.to_string()));
    }
}

/// A URL as it may be shown anywhere (logs, stored delivery errors, `cus config check`):
/// user-info and the values of the query (and any fragment) masked, since gateways take
/// credentials there (`https://user:pass@…`, `?api_key=…`); scheme, host, port, path and
/// the query's parameter names stay, to tell where it points.
pub fn redact_url(url: &str) -> String {
    const MASK: &str = "********";
    let Ok(mut parsed) = url::Url::parse(url) else {
        // Not a URL: it could be anything, show nothing of it.
        return if url.is_empty() || url == "memory" {
            url.to_owned()
        } else {
            MASK.to_owned()
        };
    };
    // An `@` the parser did not take as the end of the user-info means a password written
    // without percent-encoding (`postgres://cus:ab/cd@db/cus` parses as host `cus`, the
    // password in the path): nothing of such a URL can be told apart from its secret.
    let userinfo_at = usize::from(!parsed.username().is_empty() || parsed.password().is_some());
    if url.matches('@').count() > userinfo_at {
        return MASK.to_owned();
    }
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some(MASK));
    }
    if !parsed.username().is_empty() {
        let _ = parsed.set_username(MASK);
    }
    if let Some(query) = parsed.query() {
        let masked: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) => format!("{name}={MASK}"),
                None if pair.is_empty() => String::new(),
                None => MASK.to_owned(),
            })
            .collect();
        parsed.set_query(Some(&masked.join("&")));
    }
    if parsed.fragment().is_some() {
        parsed.set_fragment(Some(MASK));
    }
    // Web gateways also take keys in the path (`/v1/<key>/send`): of an http(s) URL only
    // where it points stays. A database's path is its name, and stays.
    if matches!(parsed.scheme(), "http" | "https") && parsed.path() != "/" {
        parsed.set_path(&format!("/{MASK}"));
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn a_password_not_percent_encoded_masks_the_whole_url() {
        for url in [
            "postgres://cus:ab/cd@db.internal/cus",
            "postgres://cus:83/kq+Z@db.internal/cus",
            "redis://:p@ss@cache:6379",
        ] {
            let shown = redact_url(url);
            assert_eq!(shown, "********", "{url} shown as {shown}");
        }
        assert_eq!(
            redact_url("postgres://cus:s3cret@db.internal/cus"),
            "postgres://********:********@db.internal/cus"
        );
    }

    #[test]
    fn urls_are_shown_without_their_credentials() {
        assert_eq!(
            redact_url("postgres://cus:hunter2@db:5432/cus"),
            "postgres://********:********@db:5432/cus"
        );
        assert_eq!(
            redact_url("https://gw:s3cr3t@sms.example/send?api_key=s3cr3t&to&from=CUS#s3cr3t"),
            "https://********:********@sms.example/********?api_key=********&********&from=********#********"
        );
        assert_eq!(
            redact_url("https://token@hooks.example/x"),
            "https://********@hooks.example/********"
        );
        assert_eq!(
            redact_url("https://sms.example/v1/k3y-s3cr3t/send"),
            "https://sms.example/********"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(
            redact_url("redis+cluster://cus:s3cr3t@h1:7000,h2:7000/"),
            "********"
        );
        assert_eq!(
            redact_url("redis+sentinel://:s3cr3t@s1:26379/mymaster"),
            "redis+sentinel://:********@s1:26379/mymaster"
        );
        assert_eq!(redact_url("memory"), "memory");
        assert_eq!(redact_url(""), "");
        assert_eq!(redact_url("not a url s3cr3t"), "********");
    }
}
