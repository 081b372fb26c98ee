//! Everything the API tests share. Here: `TestApp`, a CUS server on a free port, on
//! SQLite + in-process cache or PostgreSQL + Redis, built from the same `Config` the binary
//! uses; in the submodules, a person at a browser, the pages, the people and the relying
//! party's side of the protocol.

pub mod api;
pub mod backchannel;
pub mod browse;
pub mod cli;
pub mod fakes;
pub mod forms;
pub mod headers;
pub mod html;
pub mod juridica;
pub mod mmdb;
pub mod natural;
pub mod node;
pub mod oidc;

use std::ops::{Deref, DerefMut};
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
    /// Production with the cache on a three-master Redis Cluster of the test's own.
    RedisCluster,
    /// Production with the cache on the master a Sentinel of the test's own names.
    RedisSentinel,
}

pub struct TestApp {
    pub base: String,
    /// Where the server listens (the issuer may name another host).
    pub address: std::net::SocketAddr,
    /// The management listener, when `server.management_listen` is set.
    pub management: Option<std::net::SocketAddr>,
    pub config: TestConfig,
    pub server: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub state: AppState,
    pub clock: Arc<ShiftedClock>,
    pub http: reqwest::Client,
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A `Config` whose files (SQLite database, KEK, outbox) live in a temporary folder of
/// its own, removed when the last app or configuration holding it is dropped. Reads and
/// changes like the `Config` it holds.
#[derive(Clone)]
pub struct TestConfig {
    config: Config,
    _dir: Arc<tempfile::TempDir>,
    /// The Redis Cluster or Sentinel set-up the cache is on, stopped with the last holder.
    _redis: Option<Arc<cus_cache::testing::LocalRedis>>,
}

impl Deref for TestConfig {
    type Target = Config;

    fn deref(&self) -> &Config {
        &self.config
    }
}

impl DerefMut for TestConfig {
    fn deref_mut(&mut self) -> &mut Config {
        &mut self.config
    }
}

/// The default configuration, pointed at fresh backends, on a free port, its files in a
/// temporary folder (under `TMPDIR`).
pub async fn test_config(backend: Backend) -> TestConfig {
    let dir = tempfile::Builder::new()
        .prefix("cus-test-")
        .tempdir()
        .expect("a temporary folder");
    let mut config = Config::load(None).expect("default configuration loads");
    config.server.listen = "127.0.0.1:0".parse().expect("address");
    config.outbox.dir = dir.path().join("outbox");
    config.keys.dev_kek_path = dir.path().join("kek");
    config.keys.publish_lead_seconds = 0;
    // Cheap hashes: the tests exercise flows, not argon2's cost.
    config.hash.memory_kib = 1024;
    config.hash.iterations = 1;
    // The outbox worker's first round is an hour away: tests read the outbox table, and
    // the delivery tests run rounds themselves.
    config.outbox.poll_seconds = 3600;
    let redis = match backend {
        Backend::Embedded | Backend::Production => None,
        Backend::RedisCluster => Some(cus_cache::testing::LocalRedis::cluster().await),
        Backend::RedisSentinel => Some(cus_cache::testing::LocalRedis::sentinel().await),
    };
    if backend == Backend::Embedded {
        config.database.url = format!("sqlite://{}", dir.path().join("cus.db").display()).into();
        config.cache.url = "memory".to_owned().into();
    } else {
        config.database.url = cus_store::testing::fresh_postgres_url().await.into();
        config.cache.url = redis
            .as_ref()
            .map_or_else(redis_url, |redis| redis.url().to_owned())
            .into();
        config.cache.prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    }
    TestConfig {
        config,
        _dir: Arc::new(dir),
        _redis: redis.map(Arc::new),
    }
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

    pub async fn spawn_with(config: TestConfig) -> Self {
        let clock = ShiftedClock::new();
        let app = Application::build_with_clock(config.config.clone(), clock.clone())
            .await
            .unwrap_or_else(|e| panic!("CUS starts: {e:#}"));
        let state = app.state().clone();
        let address = app.address();
        let management = app.management_address();
        let base = state.issuer.clone();
        let server = tokio::spawn(app.run_until_stopped());
        let http = browse::browser();
        Self {
            base,
            address,
            management,
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
        Backend::Production | Backend::RedisCluster | Backend::RedisSentinel => 2,
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
/// A second person's RUT: without an account unless a test creates it
/// ([`TestApp::other_account`]).
pub const OTHER_RUT: &str = "11.111.111-1";
pub const OTHER_CUS: &str = "tortuga verde del Maule 9";

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
        redeem_at(&self.http, &self.url("/token"), client, code).await
    }
}

/// Redeems `code` at the token endpoint `token_url` as `client` (secret in Basic); the
/// token response.
pub async fn redeem_at(
    http: &reqwest::Client,
    token_url: &str,
    client: &TestClient,
    code: &str,
) -> serde_json::Value {
    http.post(token_url)
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

impl TestApp {
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
            email: cus_core::contact::Email::parse("maria@example.cl").expect("valid"),
            celular: Some("+56912345678".into()),
            address: Some(cus_core::Address {
                calle: "Huérfanos".into(),
                numero: "1273".into(),
                block: None,
                departamento: Some("1101".into()),
                codigo_comuna: 13101,
            }),
        };
        self.account_from(spec, CUS).await
    }

    /// Creates the second person, `OTHER_RUT` with `OTHER_CUS`.
    pub async fn other_account(&self) -> cus_core::Account {
        let spec = cus_server::admin::AccountSpec {
            rut: cus_core::Rut::parse(OTHER_RUT).expect("valid"),
            nombres: "Juan Pablo".into(),
            apellidos: vec!["Soto".into(), "Rojas".into()],
            email: cus_core::contact::Email::parse("juan@example.cl").expect("valid"),
            celular: None,
            address: None,
        };
        self.account_from(spec, OTHER_CUS).await
    }

    /// Creates the account `spec` describes, with `cus`, as an operator would.
    pub async fn account_from(
        &self,
        spec: cus_server::admin::AccountSpec,
        cus: &str,
    ) -> cus_core::Account {
        cus_server::admin::create_account(
            self.state.store.as_ref(),
            &self.state.hasher,
            spec,
            cus,
            false,
            "cli:test-operator",
            self.state.clock.now(),
        )
        .await
        .expect("account created")
    }
}

/// The undelivered messages as their recipients will read them: sealed bodies opened
/// (`sealed` still tells which were kept sealed).
pub async fn outbox(app: &TestApp) -> Vec<cus_core::notification::Notification> {
    app.pending()
        .await
        .into_iter()
        .map(|stored| {
            let mut n = stored.notification;
            if n.sealed {
                n.body = app.state.message_key.open(&n.body).expect("opens");
            }
            n
        })
        .collect()
}

/// The files in `dir`, none when it does not exist.
pub fn files_in(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    !p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// How many audit events of `kind` with `outcome` were recorded.
pub async fn audit_count(app: &TestApp, kind: &str, outcome: &str) -> usize {
    app.state
        .store
        .audit_events(&cus_store::AuditFilter::default())
        .await
        .expect("audit")
        .iter()
        .filter(|e| e.kind == kind && e.outcome == outcome)
        .count()
}

/// A server with an account that takes two form posts per IP, behind `proxies`.
pub async fn two_logins_per_ip(backend: Backend, proxies: &[&str]) -> TestApp {
    let mut config = test_config(backend).await;
    config.limits.form_per_ip = cus_server::config::Limit { max: 2, window: 60 };
    config.server.trusted_proxies = proxies.iter().map(|p| p.parse().expect("net")).collect();
    let app = TestApp::spawn_with(config).await;
    app.account().await;
    app
}

/// Polls `/readyz` until it answers `want` (10 s at most); the last status.
pub async fn wait_for_status(app: &TestApp, want: u16) -> u16 {
    let mut last = 0;
    for _ in 0..50 {
        last = app.get("/readyz").await.status().as_u16();
        if last == want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    last
}
