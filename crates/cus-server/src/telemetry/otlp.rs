//! Span export over OTLP/HTTP protobuf (`telemetry.otlp_endpoint`), on our own reqwest
//! client and Tokio runtime; how a failing collector is reported.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing::instrument::WithSubscriber;

use crate::config::Telemetry;

/// How long one export may take; the shutdown flush waits a little longer.
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(4);

/// A collector's answer is a small protobuf message (partial success at most).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The tracer provider that batches spans and POSTs them to `traces_url`. Call inside the
/// Tokio runtime that serves: the exports run on it.
pub fn provider(traces_url: &str, settings: &Telemetry) -> anyhow::Result<SdkTracerProvider> {
    let client = OnRuntime {
        http: reqwest::Client::builder()
            .timeout(EXPORT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("cannot build the OTLP HTTP client")?,
        runtime: tokio::runtime::Handle::try_current()
            .context("span export needs the Tokio runtime")?,
        failing: AtomicBool::new(false),
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(traces_url)
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .context("cannot set up span export (telemetry.otlp_endpoint)")?;
    // Parent-based: a caller's `traceparent` decides for its trace; the ratio decides for
    // the traces that start here.
    let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(settings.sample_ratio)));
    let resource = Resource::builder_empty()
        .with_service_name(settings.service_name.clone())
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            crate::VERSION,
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(sampler)
        .with_resource(resource)
        .build())
}

/// reqwest's async client, driven on the serving runtime. The SDK's batch processor
/// exports from a thread of its own, outside Tokio, where the async client cannot run
/// ("there is no reactor running"); opentelemetry-otlp 0.33's own reqwest client is a
/// second reqwest (0.13). So each export is spawned onto the runtime and awaited.
#[derive(Debug)]
struct OnRuntime {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
    /// Whether the last export failed: a failing collector is logged once, not per batch.
    failing: AtomicBool,
}

#[async_trait::async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let http = self.http.clone();
        // Nothing the export does is recorded: a span about sending spans would be sent
        // in the next batch, and so on forever.
        let sent = self.runtime.spawn(
            send(http, request).with_subscriber(tracing::subscriber::NoSubscriber::default()),
        );
        let answer = match sent.await {
            Ok(answer) => answer,
            Err(stopped) => Err(HttpError::from(format!("export task ended: {stopped}"))),
        };
        match &answer {
            Ok(response) if response.status().is_success() => self.recovered(),
            Ok(response) => self.failed(&format!("the collector answered {}", response.status())),
            Err(e) => self.failed(&e.to_string()),
        }
        answer
    }
}

impl OnRuntime {
    fn failed(&self, why: &str) {
        if !self.failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %why, "OTLP span export failing: spans are being dropped");
        }
    }

    fn recovered(&self) {
        if self.failing.swap(false, Ordering::Relaxed) {
            tracing::info!("OTLP span export recovered");
        }
    }
}

async fn send(
    http: reqwest::Client,
    request: Request<Bytes>,
) -> Result<Response<Bytes>, HttpError> {
    let mut response = http.execute(request.try_into()?).await?;
    let mut answer = Response::builder().status(response.status());
    if let Some(headers) = answer.headers_mut() {
        *headers = std::mem::take(response.headers_mut());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err("the collector's answer is too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(answer.body(Bytes::from(body))?)
}
