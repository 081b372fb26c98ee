//! The servers under load, each started by the benchmark on a free loopback port and
//! stopped (and its state removed) at the end: CUS on the embedded backends, CUS on
//! PostgreSQL + Redis (a fresh schema and key prefix, dropped afterwards), and the peer.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Rate limits lifted for the run: every `limits.*` budget of config/default.toml, set
/// far above what a run can send (each is printed in the report).
pub const LIFTED_LIMITS: [&str; 7] = [
    "CUS_LIMITS__FORM_PER_IP__MAX",
    "CUS_LIMITS__FORM_PER_RUT__MAX",
    "CUS_LIMITS__TOKEN_PER_CLIENT__MAX",
    "CUS_LIMITS__REGISTER_PER_IP__MAX",
    "CUS_LIMITS__CLIENT_AUTH_FAILURES_PER_IP__MAX",
    "CUS_LIMITS__AUTHORIZE_PER_IP__MAX",
    "CUS_LIMITS__CAPTCHA_PER_IP__MAX",
];
pub const LIFTED_TO: &str = "1000000000";
/// The pre-issued codes of scenario 7 must outlive their pre-issuing (60 s by default).
pub const CODE_TTL: &str = "600";
pub const CAPTCHA_ANSWER: &str = "bench";
pub const REDIRECT: &str = "http://127.0.0.1:9/cb";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Postgres,
}

impl Backend {
    pub fn label(self) -> &'static str {
        match self {
            Backend::Embedded => "CUS embedded",
            Backend::Postgres => "CUS PG+Redis",
        }
    }
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// One running CUS and how to clean up after it.
pub struct Cus {
    /// `cus serve`, once started.
    child: Option<Child>,
    pub base: String,
    pub client_id: String,
    pub client_secret: String,
    bin: PathBuf,
    work: PathBuf,
    env: Vec<(String, String)>,
    schema: Option<(String, String)>,
    redis: Option<(String, String)>,
}

impl Cus {
    /// Migrates a fresh instance, registers the bench client and serves it.
    pub fn start(bin: &Path, backend: Backend) -> anyhow::Result<Self> {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let work = std::env::temp_dir().join(format!("cus-bench-{}", &tag[..12]));
        std::fs::create_dir_all(&work)?;
        let mut env = vec![
            ("CUS_ENVIRONMENT".into(), "development".into()),
            ("CUS_LOG__LEVEL".into(), "warn".into()),
            ("CUS_OUTBOX__DIR".into(), path(&work.join("outbox"))),
            ("CUS_KEYS__DEV_KEK_PATH".into(), path(&work.join("kek"))),
            ("CUS_CAPTCHA__TEST_ANSWER".into(), CAPTCHA_ANSWER.into()),
            ("CUS_OIDC__CODE_TTL".into(), CODE_TTL.into()),
        ];
        env.extend(
            LIFTED_LIMITS
                .iter()
                .map(|k| (k.to_string(), LIFTED_TO.to_string())),
        );
        let (mut schema, mut redis) = (None, None);
        match backend {
            Backend::Embedded => {
                env.push((
                    "CUS_DATABASE__URL".into(),
                    format!("sqlite://{}", path(&work.join("cus.db"))),
                ));
                env.push(("CUS_CACHE__URL".into(), "memory".into()));
            }
            Backend::Postgres => {
                let admin = std::env::var("DATABASE_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
                let name = format!("cus_bench_{}", &tag[..16]);
                psql(&admin, &format!("CREATE SCHEMA {name}"))?;
                let sep = if admin.contains('?') { '&' } else { '?' };
                env.push((
                    "CUS_DATABASE__URL".into(),
                    format!("{admin}{sep}options=-c%20search_path%3D{name}"),
                ));
                schema = Some((admin, name));
                let url =
                    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
                let prefix = format!("bench:{}:", &tag[..16]);
                env.push(("CUS_CACHE__URL".into(), url.clone()));
                env.push(("CUS_CACHE__PREFIX".into(), prefix.clone()));
                redis = Some((url, prefix));
            }
        }
        let mut cus = Self {
            child: None,
            base: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
            bin: bin.to_owned(),
            work,
            env,
            schema,
            redis,
        };
        // Only `migrate --create` makes the SQLite file; PostgreSQL's schema exists already.
        match backend {
            Backend::Embedded => cus.cli(&["migrate", "--create"], None)?,
            Backend::Postgres => cus.cli(&["migrate"], None)?,
        };
        let created = cus.cli(
            &[
                "client",
                "create",
                "--name",
                "Benchmark",
                "--first-party",
                "--redirect-uri",
                REDIRECT,
                "--grant-type",
                "authorization_code",
                "--grant-type",
                "refresh_token",
                "--grant-type",
                "client_credentials",
                "--id-token-alg",
                "ES256",
                "--json",
            ],
            None,
        )?;
        let created: serde_json::Value =
            serde_json::from_str(&created).context("client create --json")?;
        cus.client_id = created["client_id"]
            .as_str()
            .context("client_id")?
            .to_owned();
        cus.client_secret = created["client_secret"]
            .as_str()
            .context("client_secret")?
            .to_owned();

        let port = free_port()?;
        cus.base = format!("http://127.0.0.1:{port}");
        let log = std::fs::File::create(cus.work.join("cus.log"))?;
        let child = cus
            .command()
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting cus serve")?;
        let child = cus.child.insert(child);
        wait_ready(&format!("{}/readyz", cus.base), child)?;
        Ok(cus)
    }

    /// The process id of `cus serve`.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// A persona natural account, created with the CLI.
    pub fn account(&self, rut: &str, secret: &str) -> anyhow::Result<()> {
        self.cli(
            &[
                "account",
                "create",
                "--rut",
                rut,
                "--nombres",
                "Ana María",
                "--apellidos",
                "Pérez",
                "--apellidos",
                "Soto",
                "--email",
                "ana.perez@example.cl",
            ],
            Some(secret),
        )
        .map(drop)
    }

    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.work.join("cus.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        // Nothing of the caller's CUS_… environment leaks in: only this instance's settings.
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("CUS_")) {
            c.env_remove(k);
        }
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    fn cli(&self, args: &[&str], stdin: Option<&str>) -> anyhow::Result<String> {
        use std::io::Write;
        let mut child = self
            .command()
            .args(["--operator", "bench"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("running {}", self.bin.display()))?;
        if let Some(mut input) = child.stdin.take() {
            input.write_all(stdin.unwrap_or("").as_bytes())?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "cus {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Cus {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            stop(child);
        }
        if let Some((admin, schema)) = &self.schema
            && let Err(e) = psql(admin, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        {
            eprintln!("warning: schema {schema} left behind: {e}");
        }
        if let Some((url, prefix)) = &self.redis {
            // Keys by the thousand after a run: deleted in batches, one redis-cli each.
            let script = format!(
                "redis-cli -u '{url}' --scan --pattern '{prefix}*' | xargs -r -n 1000 redis-cli -u '{url}' DEL >/dev/null"
            );
            let _ = Command::new("sh").args(["-c", &script]).status();
        }
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

/// The peer, oidc-provider under node, with the tokens it minted at start-up.
pub struct Peer {
    pub child: Child,
    pub base: String,
    pub tokens: serde_json::Value,
}

impl Peer {
    pub fn start(dir: &Path, client_id: &str, secret: &str, chains: usize) -> anyhow::Result<Self> {
        use std::io::BufRead;
        let port = free_port()?;
        let mut child = Command::new("node")
            .current_dir(dir)
            .env("NODE_ENV", "production")
            .args([
                "server.mjs",
                &port.to_string(),
                client_id,
                secret,
                &chains.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the peer (node bench/peer/server.mjs)")?;
        let stdout = child.stdout.take().context("peer stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let tokens: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("the peer's start-up line: {line:?}"))?;
        let base = format!("http://127.0.0.1:{port}");
        wait_ready(
            &format!("{base}/.well-known/openid-configuration"),
            &mut child,
        )?;
        Ok(Self {
            child,
            base,
            tokens,
        })
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

fn stop(child: &mut Child) {
    // SIGTERM by pid (graceful for both servers), SIGKILL after 10 s.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn wait_ready(url: &str, child: &mut Child) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            bail!("the server exited ({status}) before answering {url}");
        }
        let ok = Command::new("curl")
            .args(["-sf", "-o", "/dev/null", url])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{url} did not answer within 30 s")
}

fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let out = Command::new("psql")
        .args(["-q", url, "-c", sql])
        .output()
        .context("psql")?;
    if !out.status.success() {
        bail!(
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn path(p: &Path) -> String {
    p.display().to_string()
}
