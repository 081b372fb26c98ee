//! Redis set-ups a test starts for itself from the local `redis-server` (Redis ≥ 7): a
//! three-master Redis Cluster, or a master and its replica watched by one Sentinel. Each
//! lives on free ports with its files in a temporary folder, and is killed when dropped.
//! Without `redis-server` and `redis-cli` tests fail, saying so: they are never skipped.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The name the Sentinel set-up monitors its master by.
pub const MASTER_NAME: &str = "mymaster";

/// How long a set-up may take to become usable before the test fails.
const STARTUP: Duration = Duration::from_secs(20);

/// Redis processes of a test's own; [`LocalRedis::url`] is the `cache.url` that reaches them.
pub struct LocalRedis {
    url: String,
    /// The data nodes' ports: the cluster's masters, or the master then its replica.
    pub ports: Vec<u16>,
    /// The Sentinel's port (Sentinel set-up only).
    pub sentinel_port: Option<u16>,
    /// Each process, by the port it listens on.
    children: Vec<(u16, Child)>,
    dir: tempfile::TempDir,
}

impl LocalRedis {
    /// Three masters sharing the 16384 slots, created by `redis-cli --cluster create`, once
    /// every node reports `cluster_state:ok`.
    pub async fn cluster() -> Self {
        let mut redis = Self::empty();
        for _ in 0..3 {
            // The cluster bus listens on the port + 10000: both must be free.
            let port = free_port(|port| port.checked_add(10000).is_some_and(is_free));
            let nodes_file = redis.dir.path().join(format!("nodes-{port}.conf"));
            redis.spawn_server(
                port,
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    &nodes_file.display().to_string(),
                ],
            );
        }
        redis.await_ping(&redis.ports.clone()).await;
        let nodes: Vec<String> = redis
            .ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        let created = tokio::process::Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .await
            .expect("redis-cli is installed (the Redis Cluster tests need it)");
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&created.stdout),
            String::from_utf8_lossy(&created.stderr)
        );
        for port in redis.ports.clone() {
            redis
                .await_reply(port, &["CLUSTER", "INFO"], |info| {
                    info.contains("cluster_state:ok")
                })
                .await;
        }
        redis.url = format!("redis+cluster://{}/", nodes.join(","));
        redis
    }

    /// A master, a replica of it, and one Sentinel monitoring them as [`MASTER_NAME`]
    /// (quorum 1), once the Sentinel names the master.
    pub async fn sentinel() -> Self {
        let mut redis = Self::empty();
        let master = free_port(|_| true);
        redis.spawn_server(master, &[]);
        let replica = free_port(|_| true);
        redis.spawn_server(replica, &["--replicaof", "127.0.0.1", &master.to_string()]);
        redis.await_ping(&[master, replica]).await;
        // The Sentinel learns of replicas from the master's INFO, which it reads on
        // connecting and then every ten seconds: it starts once the replica is there to see.
        redis
            .await_reply(master, &["INFO", "replication"], |info| {
                info.contains("connected_slaves:1")
            })
            .await;

        let sentinel = free_port(|_| true);
        let conf = redis.dir.path().join("sentinel.conf");
        // Sentinel rewrites its configuration file as it learns, so it gets one of its own.
        std::fs::write(
            &conf,
            format!(
                "port {sentinel}\nbind 127.0.0.1\ndir {dir}\nlogfile {dir}/sentinel.log\n\
                 sentinel monitor {MASTER_NAME} 127.0.0.1 {master} 1\n\
                 sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
                 sentinel failover-timeout {MASTER_NAME} 5000\n",
                dir = redis.dir.path().display()
            ),
        )
        .expect("the Sentinel configuration is written");
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (the Sentinel tests need it)");
        redis.children.push((sentinel, child));
        redis.sentinel_port = Some(sentinel);
        // Until the Sentinel has connected to the master it flags it `disconnected`, and
        // clients asking for the master are refused.
        redis
            .await_reply(sentinel, &["SENTINEL", "MASTER", MASTER_NAME], |master| {
                master.lines().any(|line| line == "master")
            })
            .await;
        redis.url = format!("redis+sentinel://127.0.0.1:{sentinel}/{MASTER_NAME}");
        redis
    }

    /// The `cache.url` of this set-up.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Kills the master, as when its machine dies, has the Sentinel promote the replica at
    /// once (`SENTINEL FAILOVER`, rather than after `down-after-milliseconds` and a vote),
    /// and returns once the Sentinel names the replica as master.
    ///
    /// # Panics
    /// On a cluster set-up, or when the failover does not complete in time.
    pub async fn kill_master_and_fail_over(&mut self) {
        let sentinel = self.sentinel_port.expect("a Sentinel set-up");
        let master = self.ports.first().copied().expect("a master");
        let replica = self.ports.get(1).copied().expect("a replica").to_string();
        // Only a replica the Sentinel has connected to (flags exactly `slave`) can be
        // promoted once the master is gone.
        self.await_reply(
            sentinel,
            &["SENTINEL", "REPLICAS", MASTER_NAME],
            |replicas| {
                replicas.contains(&format!(":{replica}")) && replicas.lines().any(|l| l == "slave")
            },
        )
        .await;
        for (_, child) in self.children.iter_mut().filter(|(port, _)| *port == master) {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Until the Sentinel has fresh news of the replica it answers NOGOODSLAVE, and a
        // promotion it gives up on is not retried by itself: the request is repeated (while
        // one is under way it is refused with INPROG) until the replica is named master.
        let started = Instant::now();
        loop {
            let asked = query(sentinel, &["SENTINEL", "FAILOVER", MASTER_NAME]).await;
            let named = query(
                sentinel,
                &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME],
            )
            .await;
            if named.as_deref().is_ok_and(|addr| addr.contains(&replica)) {
                return;
            }
            assert!(
                started.elapsed() < STARTUP,
                "no failover: SENTINEL FAILOVER answered {asked:?}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn empty() -> Self {
        Self {
            url: String::new(),
            ports: Vec::new(),
            sentinel_port: None,
            children: Vec::new(),
            dir: tempfile::Builder::new()
                .prefix("cus-redis-")
                .tempdir()
                .expect("a temporary folder"),
        }
    }

    fn spawn_server(&mut self, port: u16, extra: &[&str]) {
        let dir = self.dir.path();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--dir", &dir.display().to_string()])
            .args(["--logfile", &log_file(dir, port)])
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (the Redis Cluster and Sentinel tests need it)");
        self.children.push((port, child));
        self.ports.push(port);
    }

    async fn await_ping(&self, ports: &[u16]) {
        for &port in ports {
            self.await_reply(port, &["PING"], |reply| reply == "PONG")
                .await;
        }
    }

    /// Repeats `command` on `port` until `ready` accepts its reply.
    async fn await_reply(&self, port: u16, command: &[&str], ready: impl Fn(&str) -> bool) {
        let started = Instant::now();
        loop {
            let reply = query(port, command).await;
            if reply.as_deref().is_ok_and(&ready) {
                return;
            }
            assert!(
                started.elapsed() < STARTUP,
                "Redis on port {port} not ready after {STARTUP:?}: {command:?} answered \
                 {reply:?}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The processes' logs, for a failure message.
    fn logs(&self) -> String {
        let mut files: Vec<String> = self
            .ports
            .iter()
            .map(|&port| log_file(self.dir.path(), port))
            .collect();
        files.push(self.dir.path().join("sentinel.log").display().to_string());
        files
            .iter()
            .filter_map(|file| {
                std::fs::read_to_string(file)
                    .ok()
                    .map(|log| format!("--- {file}\n{log}"))
            })
            .collect()
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn log_file(dir: &Path, port: u16) -> String {
    dir.join(format!("redis-{port}.log")).display().to_string()
}

/// One command on a fresh connection, its reply as text (arrays joined by newlines).
async fn query(port: u16, command: &[&str]) -> Result<String, redis::RedisError> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let mut cmd = redis::cmd(command.first().copied().unwrap_or("PING"));
    cmd.arg(command.get(1..).unwrap_or_default());
    let reply: redis::Value = cmd.query_async(&mut conn).await?;
    Ok(text(&reply))
}

fn text(value: &redis::Value) -> String {
    match value {
        redis::Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        redis::Value::SimpleString(text) => text.clone(),
        redis::Value::VerbatimString { text, .. } => text.clone(),
        redis::Value::Int(n) => n.to_string(),
        redis::Value::Array(items) | redis::Value::Set(items) => {
            items.iter().map(text).collect::<Vec<_>>().join("\n")
        }
        other => format!("{other:?}"),
    }
}

/// A port nothing listens on now, that `also` accepts.
fn free_port(also: impl Fn(u16) -> bool) -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free local port")
            .port();
        if also(port) {
            return port;
        }
    }
}

fn is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}
