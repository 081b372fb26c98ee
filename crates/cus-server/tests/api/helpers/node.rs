//! `cus serve` processes beside a test app, as an operator runs more nodes: a node, the
//! messages its outbox delivered, and a registration through its form.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::Value;

use super::{TestApp, TestClient};

/// A `cus serve` process: a second node beside a test app, on the same database, cache,
/// KEK and issuer. Killed when dropped.
pub struct Node {
    child: Child,
    pub base: String,
    dir: tempfile::TempDir,
}

impl Node {
    /// A node whose outbox worker polls every second.
    pub async fn beside(app: &TestApp) -> Self {
        Self::beside_with(app, &[]).await
    }

    /// A node with `settings` (`CUS_…` variables) over the ones [`Node::beside`] sets.
    pub async fn beside_with(app: &TestApp, settings: &[(&str, &str)]) -> Self {
        let binary = std::path::Path::new(env!("CARGO_BIN_EXE_cus"));
        Self::start(binary, &app.config, &app.base, settings).await
    }

    /// `binary serve` (this build's `cus`, or another release's) on `config`'s database,
    /// cache, KEK, captcha and hash settings, answering as `issuer`; its outbox in a
    /// folder of its own.
    pub async fn start(
        binary: &std::path::Path,
        config: &cus_server::config::Config,
        issuer: &str,
        settings: &[(&str, &str)],
    ) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(binary)
            .arg("serve")
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .env("CUS_DATABASE__URL", config.database.url.expose_secret())
            .env("CUS_CACHE__URL", config.cache.url.expose_secret())
            .env("CUS_CACHE__PREFIX", &config.cache.prefix)
            .env("CUS_KEYS__DEV_KEK_PATH", &config.keys.dev_kek_path)
            .env("CUS_KEYS__RELOAD_SECONDS", "1")
            .env("CUS_SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("CUS_SERVER__ISSUER", issuer)
            .env("CUS_OUTBOX__DIR", dir.path().join("outbox"))
            .env("CUS_OUTBOX__POLL_SECONDS", "1")
            .env("CUS_CAPTCHA__TEST_ANSWER", &config.captcha.test_answer)
            .env("CUS_HASH__MEMORY_KIB", config.hash.memory_kib.to_string())
            .env("CUS_HASH__ITERATIONS", config.hash.iterations.to_string())
            .envs(settings.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cus serve starts");
        let node = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
        };
        let http = reqwest::Client::new();
        for _ in 0..100 {
            let up = http.get(node.url("/healthz")).send().await;
            if up.is_ok_and(|r| r.status() == 200) {
                return node;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the node ({}) did not come up", binary.display());
    }

    /// `kill -9`: the process ends at once, in the middle of whatever it was doing
    /// (`Child::kill` is SIGKILL on Unix).
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    pub fn outbox(&self) -> std::path::PathBuf {
        self.dir.path().join("outbox")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Redeems `code` at this node's `/token` as `client`.
    pub async fn redeem(&self, client: &TestClient, code: &str) -> Value {
        super::redeem_at(&reqwest::Client::new(), &self.url("/token"), client, code).await
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every delivered message under an outbox folder (`mail/`, `sms/`), by file name (each
/// file is named by its message's id).
pub fn delivered_in(outbox: &std::path::Path) -> Vec<String> {
    ["mail", "sms"]
        .iter()
        .flat_map(|channel| super::files_in(&outbox.join(channel)))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect()
}

/// The e-mail address [`register_at`] gives `rut`'s account.
pub fn email_of(rut: &str) -> String {
    format!("persona.{}@example.cl", rut.replace(['.', '-'], ""))
}

/// Registers persona natural `rut` through node `base`'s form (`app` reads the captcha
/// from the shared cache).
pub async fn register_at(app: &TestApp, base: &str, rut: &str) {
    let status = try_register_at(app, base, rut)
        .await
        .unwrap_or_else(|e| panic!("{rut} at {base}: {e}"));
    assert_eq!(status, 200, "{rut} registered at {base}");
}

/// [`register_at`] for a node that may die meanwhile: the status of the form's POST (or
/// of its page, when that is not 200), or the connection error that came instead.
pub async fn try_register_at(app: &TestApp, base: &str, rut: &str) -> reqwest::Result<u16> {
    use super::forms::{form_of, with};
    let browser = app.browser();
    let page = browser
        .get(format!("{base}/natural/registro"))
        .send()
        .await?;
    if page.status() != 200 {
        return Ok(page.status().as_u16());
    }
    let page = page.text().await?;
    let form = form_of(app, page).await;
    let email = email_of(rut);
    let fields = with(
        super::natural::registration(&form),
        &[("rut", rut), ("email", &email)],
    );
    let response = browser
        .post(format!("{base}/natural/registro"))
        .form(&fields)
        .send()
        .await?;
    Ok(response.status().as_u16())
}
