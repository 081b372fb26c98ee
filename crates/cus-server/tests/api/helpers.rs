//! `TestApp`: a CUS server on a free port, on SQLite + in-process cache or PostgreSQL +
//! Redis, built from the same `Config` the binary uses.

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

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(test_config(backend).await).await
    }

    pub async fn spawn_with(config: Config) -> Self {
        let clock = ShiftedClock::new();
        let app = Application::build_with_clock(config, clock.clone())
            .await
            .unwrap_or_else(|e| panic!("CUS starts: {e:#}"));
        let base = app.state().issuer.clone();
        tokio::spawn(app.run_until_stopped());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .danger_accept_invalid_certs(true)
            .build()
            .expect("client");
        Self { base, http }
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
