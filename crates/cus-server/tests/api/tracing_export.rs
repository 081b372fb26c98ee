//! Span export over OTLP/HTTP (`telemetry.otlp_endpoint`): a collector of the test's own
//! receives what CUS sends, decodes it with the protocol's types and the tests read the
//! spans: the caller's `traceparent` is their parent, the route template their name, and
//! no path or query is anywhere in them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;

use crate::helpers::cli::Cli;
use crate::helpers::{Backend, TestApp, test_config};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";
const ROUTE: &str = "/api/regiones/{codigo}/comunas";
/// What the query carries, as an authorization code or token would be.
const SECRET: &str = "s3cr3t-c0de-in-the-query";

/// An OTLP/HTTP collector on a free port: every `POST /v1/traces` body, decoded.
struct Collector {
    endpoint: String,
    received: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

impl Collector {
    async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = received.clone();
        let router = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: axum::body::Bytes| async move {
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                kept.lock().expect("lock").push(request);
                // An empty ExportTraceServiceResponse: everything accepted.
                (
                    [(axum::http::header::CONTENT_TYPE, "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("collector binds");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { endpoint, received }
    }

    /// Every span received so far.
    fn spans(&self) -> Vec<Span> {
        self.received
            .lock()
            .expect("lock")
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| s.spans.clone())
            .collect()
    }

    /// Everything received, as text: to look for what must never be exported.
    fn everything(&self) -> String {
        format!("{:?}", self.received.lock().expect("lock"))
    }

    /// The span of the request CUS answered with `request_id`, once it arrives.
    async fn span_of(&self, request_id: &str) -> Span {
        for _ in 0..100 {
            if let Some(span) = self
                .spans()
                .into_iter()
                .find(|s| string_attribute(s, "request.id").as_deref() == Some(request_id))
            {
                return span;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no span for request {request_id}; received: {}",
            self.everything()
        );
    }
}

fn string_attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.clone()),
            _ => None,
        })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A test app exporting to `collector`, and the exporter to flush.
async fn app_exporting_to(collector: &Collector) -> (TestApp, cus_server::telemetry::Spans) {
    let mut config = test_config(Backend::Embedded).await;
    config.telemetry.otlp_endpoint = collector.endpoint.clone();
    // One process per test (nextest): this installs the process's subscriber.
    let spans = cus_server::telemetry::init_serving(&config.log, &config.telemetry)
        .expect("span export starts");
    (TestApp::spawn_with(config).await, spans)
}

/// GETs the comunas of región 13 with `traceparent` and a secret in the query; the
/// request id CUS answered with.
async fn comunas(app: &TestApp, traceparent: &str) -> String {
    let response = app
        .http
        .get(app.url(&format!(
            "/api/regiones/13/comunas?code={SECRET}&state={SECRET}"
        )))
        .header("traceparent", traceparent)
        .header("tracestate", "portal=abc")
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 200);
    response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id")
        .to_owned()
}

#[tokio::test]
async fn exported_spans_follow_traceparent_and_name_the_route_template() {
    let collector = Collector::start().await;
    let (app, spans) = app_exporting_to(&collector).await;

    let request_id = comunas(&app, &format!("00-{TRACE_ID}-{PARENT_ID}-01")).await;
    spans.flush().await;
    let span = collector.span_of(&request_id).await;

    assert_eq!(hex(&span.trace_id), TRACE_ID, "the caller's trace");
    assert_eq!(hex(&span.parent_span_id), PARENT_ID, "the caller's span");
    assert_eq!(span.name, format!("GET {ROUTE}"));
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!(
        string_attribute(&span, "http.route").as_deref(),
        Some(ROUTE)
    );
    assert_eq!(
        string_attribute(&span, "http.request.method").as_deref(),
        Some("GET")
    );
    let status = span
        .attributes
        .iter()
        .find(|kv| kv.key == "http.response.status_code")
        .and_then(|kv| kv.value.as_ref()?.value.clone());
    assert_eq!(status, Some(Value::IntValue(200)));
    let resource = format!(
        "{:?}",
        collector.received.lock().expect("lock")[0].resource_spans[0].resource
    );
    assert!(
        resource.contains("service.name") && resource.contains("\"cus\""),
        "{resource}"
    );

    let everything = collector.everything();
    for never in [SECRET, "code=", "state=", "/api/regiones/13/comunas"] {
        assert!(
            !everything.contains(never),
            "{never} exported: {everything}"
        );
    }
    spans.shutdown().await;
}

#[tokio::test]
async fn a_malformed_traceparent_is_ignored_and_starts_a_new_trace() {
    let collector = Collector::start().await;
    let (app, spans) = app_exporting_to(&collector).await;

    for malformed in [
        "00-not-a-trace-01",
        &format!("00-{}-{PARENT_ID}-01", "0".repeat(32)),
        &format!("ff-{TRACE_ID}-{PARENT_ID}-01"),
        &format!("00-{TRACE_ID}-{PARENT_ID}"),
        "garbage",
    ] {
        let request_id = comunas(&app, malformed).await;
        spans.flush().await;
        let span = collector.span_of(&request_id).await;
        assert!(span.parent_span_id.is_empty(), "{malformed}: a root span");
        let trace = hex(&span.trace_id);
        assert_eq!(trace.len(), 32, "{malformed}");
        assert!(
            trace != TRACE_ID && trace != "0".repeat(32),
            "{malformed}: a fresh trace, not {trace}"
        );
        assert_eq!(span.name, format!("GET {ROUTE}"));
    }
    spans.shutdown().await;
}

/// A `cus serve` process exporting to `endpoint`, its log lines as they come.
struct Served {
    process: std::process::Child,
    address: String,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    _cli: Cli,
}

impl Served {
    async fn start(endpoint: &str, schedule_delay_ms: &str) -> Self {
        use std::io::{BufRead, BufReader};
        let cli = Cli::new();
        let mut process = cli
            .with_store()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("CUS_SERVER__SHUTDOWN_GRACE_SECONDS", "1")
            .env("CUS_OUTBOX__DIR", cli.path().join("outbox"))
            .env("CUS_LOG__LEVEL", "info")
            .env("CUS_TELEMETRY__OTLP_ENDPOINT", endpoint)
            .env("OTEL_BSP_SCHEDULE_DELAY", schedule_delay_ms)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starts");
        let stdout = process.stdout.take().expect("stdout");
        let (lines_to, mut lines) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_to.send(line).is_err() {
                    break;
                }
            }
        });
        let address = loop {
            let line = lines.recv().await.expect("the listening address is logged");
            if line.contains("CUS listening") {
                let at = line.find("http://").expect("a URL") + 7;
                let rest = &line[at..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == ':'))
                    .unwrap_or(rest.len());
                break rest[..end].to_owned();
            }
        };
        Self {
            process,
            address,
            lines,
            _cli: cli,
        }
    }

    /// GETs the comunas of región 13 with a secret in the query, as a caller in trace
    /// [`TRACE_ID`].
    async fn comunas(&self) -> u16 {
        reqwest::Client::new()
            .get(format!(
                "http://{}/api/regiones/13/comunas?code={SECRET}",
                self.address
            ))
            .header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01"))
            .send()
            .await
            .expect("request sent")
            .status()
            .as_u16()
    }

    /// The next log line containing every one of `words`.
    async fn line_with(&mut self, words: &[&str]) -> String {
        loop {
            let line = self.lines.recv().await.expect("more log lines");
            if words.iter().all(|w| line.contains(w)) {
                return line;
            }
        }
    }

    /// SIGTERM, then every log line written until the process exited (successfully).
    async fn stop(mut self) -> Vec<String> {
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &self.process.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let mut process = self.process;
        let exited = tokio::task::spawn_blocking(move || process.wait())
            .await
            .expect("joined")
            .expect("exits");
        assert!(exited.success(), "{exited}");
        let mut rest = Vec::new();
        while let Some(line) = self.lines.recv().await {
            rest.push(line);
        }
        rest
    }
}

/// `cus serve` sends its queued spans when it stops on SIGTERM (the batch would otherwise
/// wait ten minutes here), and its access log line names the trace.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_sends_the_last_spans_and_the_access_log_names_the_trace() {
    let collector = Collector::start().await;
    let mut served = Served::start(&collector.endpoint, "600000").await;
    assert_eq!(served.comunas().await, 200);
    let access = served.line_with(&[ROUTE, "status=200"]).await;
    assert!(access.contains(&format!("trace.id={TRACE_ID}")), "{access}");
    assert!(!access.contains(SECRET), "{access}");
    assert!(collector.spans().is_empty(), "nothing sent before SIGTERM");

    served.stop().await;
    let span = collector
        .spans()
        .into_iter()
        .find(|s| string_attribute(s, "http.route").as_deref() == Some(ROUTE))
        .unwrap_or_else(|| panic!("the last span was not sent: {}", collector.everything()));
    assert_eq!(hex(&span.trace_id), TRACE_ID);
    assert_eq!(hex(&span.parent_span_id), PARENT_ID);
}

/// A collector that cannot be reached changes nothing for the requests; it is logged once
/// at `warn`, never at `error`, however many batches fail.
#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_collector_is_logged_once_and_never_fails_a_request() {
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let mut served = Served::start(&format!("http://{nobody}"), "50").await;
    assert_eq!(served.comunas().await, 200);
    let failing = served.line_with(&["OTLP span export failing"]).await;
    assert!(failing.contains("WARN"), "{failing}");
    for _ in 0..5 {
        assert_eq!(served.comunas().await, 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rest = served.stop().await;
    assert!(
        !rest.iter().any(|l| l.contains("OTLP span export failing")),
        "logged once: {rest:#?}"
    );
    assert!(!rest.iter().any(|l| l.contains("ERROR")), "{rest:#?}");
    assert_eq!(
        rest.iter()
            .filter(|l| l.contains(ROUTE) && l.contains("status=200"))
            .count(),
        5,
        "{rest:#?}"
    );
}
