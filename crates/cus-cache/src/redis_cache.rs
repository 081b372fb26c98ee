//! Redis cache, shared by every node. Every command, and every `MULTI` block, touches one
//! key, so the same code runs on Redis Cluster: `RedisCache` is generic over the
//! connection, and the cluster connection and the Sentinel-following one plug in where
//! `ConnectionManager` is.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Client, IntoConnectionInfo, Value};

use crate::sentinel::SentinelConnection;
use crate::target::Credentials;
use crate::{Cache, CacheError, Key, Result};

/// How long connecting, and waiting for any one reply, may take: a cache that does not
/// answer fails the request quickly rather than holding it.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Redis-backed cache. `C` is any async connection that reconnects by itself.
pub struct RedisCache<C = ConnectionManager> {
    conn: C,
    prefix: String,
}

impl RedisCache<ConnectionManager> {
    /// Connects to a standalone Redis (or a proxy in front of one). The connection manager
    /// reconnects in the background: while Redis is down calls fail fast and readiness
    /// reports it; when it is back they succeed again without a restart.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self> {
        let client = Client::open(url).map_err(|e| CacheError::Config(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(unavailable)?;
        Ok(Self::with_connection(conn, prefix))
    }
}

impl RedisCache<ClusterConnection> {
    /// Connects to a Redis Cluster through any of `nodes` (`redis://` URLs); the client
    /// learns the slot map from them and follows `MOVED`/`ASK` redirections and failovers.
    /// A few short retries ride out a redirection or a promotion; a cluster that stays
    /// down fails the command within seconds, as standalone Redis does.
    pub async fn connect_cluster(nodes: Vec<String>, prefix: &str) -> Result<Self> {
        let client = ClusterClient::builder(nodes)
            .connection_timeout(TIMEOUT)
            .response_timeout(TIMEOUT)
            .retries(3)
            .min_retry_wait(100)
            .max_retry_wait(1000)
            .build()
            .map_err(|e| CacheError::Config(e.to_string()))?;
        let conn = client.get_async_connection().await.map_err(unavailable)?;
        Ok(Self::with_connection(conn, prefix))
    }
}

impl RedisCache<SentinelConnection> {
    /// Connects to the master the `sentinels` (`redis://` URLs) know as `master`, logging
    /// in to it with `credentials`; after a failover the connection asks them again.
    pub(crate) async fn connect_sentinel(
        sentinels: Vec<String>,
        master: &str,
        credentials: &Credentials,
        prefix: &str,
    ) -> Result<Self> {
        // The redis crate decodes user-info from a URL, so the credentials, written in the
        // URL's own encoding, are read back through one.
        let login = format!("redis://{}localhost", credentials.user_info())
            .into_connection_info()
            .map_err(|e| CacheError::Config(e.to_string()))?
            .redis_settings()
            .clone();
        let conn = SentinelConnection::connect(sentinels, master, login, TIMEOUT)
            .await
            .map_err(unavailable)?;
        Ok(Self::with_connection(conn, prefix))
    }
}

impl<C> RedisCache<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    pub fn with_connection(conn: C, prefix: &str) -> Self {
        Self {
            conn,
            prefix: prefix.to_owned(),
        }
    }

    fn full(&self, key: &Key) -> String {
        format!("{}{}", self.prefix, key.as_str())
    }

    async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T> {
        let mut conn = self.conn.clone();
        cmd.query_async(&mut conn).await.map_err(unavailable)
    }
}

fn unavailable(err: redis::RedisError) -> CacheError {
    CacheError::Unavailable(err.to_string())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl<C> Cache for RedisCache<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    async fn put(&self, key: &Key, value: &[u8], ttl: Duration) -> Result<()> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.full(key))
            .arg(value)
            .arg("PX")
            .arg(millis(ttl));
        self.run::<()>(&cmd).await
    }

    async fn put_new(&self, key: &Key, value: &[u8], ttl: Duration) -> Result<bool> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.full(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl));
        let reply: Value = self.run(&cmd).await?;
        Ok(!matches!(reply, Value::Nil))
    }

    async fn get(&self, key: &Key) -> Result<Option<Vec<u8>>> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.full(key));
        self.run(&cmd).await
    }

    async fn take(&self, key: &Key) -> Result<Option<Vec<u8>>> {
        // GETDEL (Redis ≥ 6.2) is atomic: one caller gets the value, the rest get nil.
        let mut cmd = redis::cmd("GETDEL");
        cmd.arg(self.full(key));
        self.run(&cmd).await
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.full(key));
        self.run::<()>(&cmd).await
    }

    async fn incr(&self, key: &Key, window: Duration) -> Result<(u64, Duration)> {
        // INCR, then start the window only if none is running (PEXPIRE … NX, Redis ≥ 7), in
        // one MULTI so a crash between the two cannot leave a counter that never expires.
        let full = self.full(key);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("INCR")
            .arg(&full)
            .cmd("PEXPIRE")
            .arg(&full)
            .arg(millis(window))
            .arg("NX")
            .ignore()
            .cmd("PTTL")
            .arg(&full);
        let mut conn = self.conn.clone();
        let (count, ttl): (u64, i64) = pipe.query_async(&mut conn).await.map_err(unavailable)?;
        let left = u64::try_from(ttl).map_or(window, Duration::from_millis);
        Ok((count, left))
    }

    async fn count(&self, key: &Key) -> Result<u64> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.full(key));
        let value: Option<u64> = self.run(&cmd).await?;
        Ok(value.unwrap_or(0))
    }

    async fn add_member(&self, key: &Key, member: &str, ttl: Duration) -> Result<()> {
        let full = self.full(key);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SADD")
            .arg(&full)
            .arg(member)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&full)
            .arg(millis(ttl))
            .ignore();
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(unavailable)
    }

    async fn take_members(&self, key: &Key) -> Result<Vec<String>> {
        let full = self.full(key);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SMEMBERS")
            .arg(&full)
            .cmd("DEL")
            .arg(&full)
            .ignore();
        let mut conn = self.conn.clone();
        let (members,): (Vec<String>,) = pipe.query_async(&mut conn).await.map_err(unavailable)?;
        Ok(members)
    }

    async fn members(&self, key: &Key) -> Result<Vec<String>> {
        self.run(redis::cmd("SMEMBERS").arg(self.full(key))).await
    }

    async fn remove_member(&self, key: &Key, member: &str) -> Result<()> {
        self.run::<i64>(redis::cmd("SREM").arg(self.full(key)).arg(member))
            .await
            .map(|_| ())
    }

    async fn ping(&self) -> Result<()> {
        self.run::<String>(&redis::cmd("PING")).await.map(|_| ())
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}
