//! `TestApp`: a CUS server on a free port, on SQLite + in-process cache or PostgreSQL +
//! Redis, built from the same `Config` the binary uses.

use std::sync::Arc;

use cus_server::app::AppState;
use cus_server::clock::ShiftedClock;
use cus_server::config::Config;
use cus_server::startup::Application;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: SQLite file + in-process cache.
    Embedded,
    /// Production: PostgreSQL + Redis.
    Production,
}

pub struct TestApp {
    pub base: String,
    /// Where the server listens (the issuer may name another host).
    pub address: std::net::SocketAddr,
    pub config: Config,
    pub server: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub state: AppState,
    pub clock: Arc<ShiftedClock>,
    pub http: reqwest::Client,
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The default configuration, pointed at fresh backends, on a free port.
pub async fn test_config(backend: Backend) -> Config {
    let mut config = Config::load(None).expect("default configuration loads");
    config.server.listen = "127.0.0.1:0".parse().expect("address");
    let dir = std::env::temp_dir().join(format!("cus-test-{}", uuid::Uuid::new_v4().simple()));
    config.outbox.dir = dir.join("outbox");
    config.keys.dev_kek_path = dir.join("kek");
    config.keys.publish_lead_seconds = 0;
    // Cheap hashes: the tests exercise flows, not argon2's cost.
    config.hash.memory_kib = 1024;
    config.hash.iterations = 1;
    // The outbox worker's first round is an hour away: tests read the outbox table, and
    // the delivery tests run rounds themselves.
    config.outbox.poll_seconds = 3600;
    match backend {
        Backend::Embedded => {
            config.database.url = cus_store::testing::fresh_sqlite_url().into();
            config.cache.url = "memory".to_owned().into();
        }
        Backend::Production => {
            config.database.url = cus_store::testing::fresh_postgres_url().await.into();
            config.cache.url = redis_url().into();
            config.cache.prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
        }
    }
    config
}

/// Applies the migrations to `config`'s database, as `cus migrate` would (a production
/// configuration is served only on a migrated database).
pub async fn migrate(config: &Config) {
    let store = cus_server::startup::connect_store(config)
        .await
        .expect("store opens");
    store.migrate().await.expect("migrations apply");
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(test_config(backend).await).await
    }

    pub async fn spawn_with(config: Config) -> Self {
        let clock = ShiftedClock::new();
        let app = Application::build_with_clock(config.clone(), clock.clone())
            .await
            .unwrap_or_else(|e| panic!("CUS starts: {e:#}"));
        let state = app.state().clone();
        let address = app.address();
        let base = state.issuer.clone();
        let server = tokio::spawn(app.run_until_stopped());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .danger_accept_invalid_certs(true)
            .build()
            .expect("client");
        Self {
            base,
            address,
            config,
            server,
            state,
            clock,
            http,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }
}

/// A rate limit of `max` requests per window, for a test that waits the window out with
/// [`TestApp::outlast_window`]. On the in-process cache the window ends when the test moves
/// the app's clock, so it can be long enough that no slow request straddles it; Redis
/// expires counters in real time, so there it is short, to keep the wait short.
pub fn short_limit(backend: Backend, max: u64) -> cus_server::config::Limit {
    let window = match backend {
        Backend::Embedded => 60,
        Backend::Production => 2,
    };
    cus_server::config::Limit { max, window }
}

impl TestApp {
    /// Lets a rate-limit window of `limit` end: the in-process cache reads the app's clock,
    /// which moves at once; Redis keeps its own, so there the test waits the window out.
    pub async fn outlast_window(&self, limit: cus_server::config::Limit) {
        match self.state.cache.backend() {
            "memory" => self
                .clock
                .advance(i64::try_from(limit.window).expect("a window in seconds")),
            _ => {
                tokio::time::sleep(
                    std::time::Duration::from_secs(limit.window)
                        + std::time::Duration::from_millis(100),
                )
                .await;
            }
        }
    }
}

/// Runs the same async test body on both backends.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Backend::Embedded).await })*
        }
        mod production {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Backend::Production).await })*
        }
    };
}
pub(crate) use on_both_backends;

pub const RUT: &str = "12.345.678-5";
pub const CUS: &str = "caballo azul de Ñuble 7";
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// A registered client and its secret.
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
}

impl TestApp {
    /// Registers a client on this server's store.
    pub async fn client(&self, public: bool, first_party: bool) -> TestClient {
        self.client_signing_with(public, first_party, "RS256").await
    }

    /// A client whose ID tokens are signed with `alg`.
    pub async fn client_signing_with(
        &self,
        public: bool,
        first_party: bool,
        alg: &str,
    ) -> TestClient {
        self.client_from(cus_server::clients::ClientMetadata {
            client_name: Some("Portal de pruebas".into()),
            redirect_uris: Some(vec![REDIRECT.into()]),
            post_logout_redirect_uris: Some(vec!["http://127.0.0.1:9/bye".into()]),
            token_endpoint_auth_method: public.then(|| "none".to_owned()),
            id_token_signed_response_alg: Some(alg.into()),
            first_party: Some(first_party),
            ..Default::default()
        })
        .await
    }

    /// Registers a client described by `metadata`.
    pub async fn client_from(&self, metadata: cus_server::clients::ClientMetadata) -> TestClient {
        let created = cus_server::clients::create(
            self.state.store.as_ref(),
            None,
            metadata,
            false,
            "test",
            self.state.clock.now(),
        )
        .await
        .expect("client created");
        let (client, secret) = (created.client, created.secret);
        TestClient {
            id: client.client_id.0,
            secret,
        }
    }

    /// Redeems `code` at `/token` as `client` (secret in Basic); the token response.
    pub async fn redeem(&self, client: &TestClient, code: &str) -> serde_json::Value {
        self.http
            .post(self.url("/token"))
            .basic_auth(&client.id, client.secret.as_deref())
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
            ])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("json")
    }

    /// One round of the outbox worker with `outbox`'s transports; how many were sent.
    pub async fn deliver_with(&self, outbox: &cus_server::config::Outbox) -> usize {
        let delivery = cus_server::delivery::Delivery::from_config(outbox).expect("delivery");
        cus_server::delivery::deliver_due(&self.state, &delivery)
            .await
            .expect("round")
    }

    /// Every undelivered message, as stored.
    pub async fn pending(&self) -> Vec<cus_store::StoredNotification> {
        self.state
            .store
            .pending_notifications(100)
            .await
            .expect("outbox")
    }

    /// Creates the persona natural `RUT` with `CUS`.
    pub async fn account(&self) -> cus_core::Account {
        let spec = cus_server::admin::AccountSpec {
            rut: cus_core::Rut::parse(RUT).expect("valid"),
            nombres: "María Carmen".into(),
            apellidos: vec!["Del Río".into(), "González".into()],
            email: "maria@example.cl".into(),
            celular: Some("+56912345678".into()),
            address: Some(cus_core::Address {
                calle: "Huérfanos".into(),
                numero: "1273".into(),
                block: None,
                departamento: Some("1101".into()),
                codigo_comuna: 13101,
            }),
        };
        cus_server::admin::create_account(
            self.state.store.as_ref(),
            &self.state.hasher,
            spec,
            CUS,
            false,
            self.state.clock.now(),
        )
        .await
        .expect("account created")
    }
}

/// The value of a hidden or text input in an HTML page.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let start = rest.find("value=\"")? + 7;
    let end = rest[start..].find('"')?;
    Some(
        rest[start..start + end]
            .replace("&#43;", "+")
            .replace("&amp;", "&"),
    )
}

/// Follows the redirect of a response, relative to the app.
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a redirect")
        .to_owned()
}

impl TestApp {
    /// Follows redirects like a browser until one leaves this server, logging in with
    /// `rut`/`cus` and consenting when asked. Returns the URL the relying party receives.
    pub async fn browse_to_callback(
        &self,
        browser: &reqwest::Client,
        start: &str,
        rut: &str,
        cus: &str,
    ) -> url::Url {
        let mut next = start.to_owned();
        for _ in 0..10 {
            if !next.starts_with(&self.base) {
                next = if next.starts_with('/') {
                    format!("{}{next}", self.base)
                } else {
                    return url::Url::parse(&next).expect("callback URL");
                };
            }
            let response = browser.get(&next).send().await.expect("GET");
            if response.status().is_redirection() {
                next = location(&response);
                continue;
            }
            let page = response.text().await.expect("page");
            let form = if page.contains("action=\"/Account\"") {
                vec![
                    ("csrf", input_value(&page, "csrf").expect("csrf")),
                    ("rid", input_value(&page, "rid").unwrap_or_default()),
                    ("rut", rut.to_owned()),
                    ("cus", cus.to_owned()),
                ]
            } else if page.contains("action=\"/consent\"") {
                vec![
                    ("csrf", input_value(&page, "csrf").expect("csrf")),
                    ("rid", input_value(&page, "rid").expect("rid")),
                    ("decision", "allow".to_owned()),
                ]
            } else {
                panic!("unexpected page at {next}: {page}");
            };
            let action = if page.contains("action=\"/Account\"") {
                "/Account"
            } else {
                "/consent"
            };
            let response = browser
                .post(self.url(action))
                .form(&form)
                .send()
                .await
                .expect("POST");
            assert!(
                response.status().is_redirection(),
                "{action} answered {}: {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
            next = location(&response);
        }
        panic!("too many redirects");
    }

    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .danger_accept_invalid_certs(true)
            .build()
            .expect("browser")
    }
}
