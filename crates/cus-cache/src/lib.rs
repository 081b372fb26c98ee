//! Short-lived shared state: sessions, one-time challenges and rate-limit counters, with a
//! TTL on every key. Redis in production (shared by every node), in-process by default.

mod keys;
mod memory;
mod redis_cache;
mod sentinel;
mod target;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use keys::{Key, Namespace};
pub use memory::{MemoryCache, SystemTimeSource, TimeSource};
pub use redis_cache::RedisCache;

use target::Target;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache unavailable: {0}")]
    Unavailable(String),
    #[error("invalid cache configuration: {0}")]
    Config(String),
    #[error("cached value does not decode: {0}")]
    Decode(String),
}

pub type Result<T, E = CacheError> = std::result::Result<T, E>;

/// The operations CUS needs, each a single-key atomic command (so it maps onto Redis
/// Cluster unchanged).
#[async_trait]
pub trait Cache: Send + Sync {
    /// Stores `value` under `key` for `ttl`, replacing any value.
    async fn put(&self, key: &Key, value: &[u8], ttl: Duration) -> Result<()>;
    /// Stores only if the key is absent; `true` when stored.
    async fn put_new(&self, key: &Key, value: &[u8], ttl: Duration) -> Result<bool>;
    async fn get(&self, key: &Key) -> Result<Option<Vec<u8>>>;
    /// Reads and removes in one step: of many concurrent takers, exactly one gets the value.
    async fn take(&self, key: &Key) -> Result<Option<Vec<u8>>>;
    async fn delete(&self, key: &Key) -> Result<()>;
    /// Adds one to a counter that lives `window` from its first increment; returns the new
    /// count and the time left in the window.
    async fn incr(&self, key: &Key, window: Duration) -> Result<(u64, Duration)>;
    /// The current value of a counter made by [`Cache::incr`]; 0 when absent or expired.
    async fn count(&self, key: &Key) -> Result<u64>;
    /// Adds `member` to the set at `key`; the whole set then lives `ttl` from now.
    async fn add_member(&self, key: &Key, member: &str, ttl: Duration) -> Result<()>;
    /// Removes the set at `key` and returns its members, in one step: of many concurrent
    /// takers, one gets each member.
    async fn take_members(&self, key: &Key) -> Result<Vec<String>>;
    /// The members of the set at `key`, leaving it as it is (empty when absent or expired).
    async fn members(&self, key: &Key) -> Result<Vec<String>>;
    /// Removes `member` from the set at `key`, leaving its TTL as it is.
    async fn remove_member(&self, key: &Key, member: &str) -> Result<()>;
    /// Round trip for readiness checks.
    async fn ping(&self) -> Result<()>;
    /// `memory` or `redis`.
    fn backend(&self) -> &'static str;
}

/// Opens the cache a `cache.url` names: `memory`; one Redis, `redis://…` / `rediss://…`;
/// a Redis Cluster, `redis+cluster://[user:password@]h1:p1,h2:p2/`; or the master Redis
/// Sentinel names, `redis+sentinel://[user:password@]s1:p1,s2:p2/mastername`. The
/// in-process cache measures TTLs by `time`; Redis keeps its own clock. An error never
/// carries the URL's password, so it can be logged as it is.
pub async fn connect(url: &str, prefix: &str, time: Arc<dyn TimeSource>) -> Result<Arc<dyn Cache>> {
    let opened: Result<Arc<dyn Cache>> = match Target::parse(url)? {
        Target::Memory => Ok(Arc::new(MemoryCache::new(prefix, time))),
        Target::Standalone(url) => RedisCache::connect(&url, prefix).await.map(shared),
        // A hash tag in the prefix would put every key in one slot, on one master.
        Target::Cluster { .. } if prefix.contains(['{', '}']) => Err(CacheError::Config(
            "cache.prefix: no { or } on a Redis Cluster (every key would share one slot)"
                .to_owned(),
        )),
        Target::Cluster { nodes } => RedisCache::connect_cluster(nodes, prefix).await.map(shared),
        Target::Sentinel {
            sentinels,
            master,
            credentials,
        } => RedisCache::connect_sentinel(sentinels, &master, &credentials, prefix)
            .await
            .map(shared),
    };
    opened.map_err(|e| e.without(&Target::secrets(url)))
}

fn shared(cache: impl Cache + 'static) -> Arc<dyn Cache> {
    Arc::new(cache)
}

impl CacheError {
    /// The same error with each of `secrets` masked in its message (the redis crate may
    /// quote what it was given).
    fn without(self, secrets: &[String]) -> Self {
        let mask = |mut message: String| {
            for secret in secrets {
                message = message.replace(secret.as_str(), "********");
            }
            message
        };
        match self {
            Self::Unavailable(message) => Self::Unavailable(mask(message)),
            Self::Config(message) => Self::Config(mask(message)),
            Self::Decode(message) => Self::Decode(mask(message)),
        }
    }
}

/// Typed helpers over any [`Cache`]: values are JSON.
#[async_trait]
pub trait CacheExt: Cache {
    async fn put_json<T: Serialize + Sync>(
        &self,
        key: &Key,
        value: &T,
        ttl: Duration,
    ) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| CacheError::Decode(e.to_string()))?;
        self.put(key, &bytes, ttl).await
    }

    async fn get_json<T: DeserializeOwned>(&self, key: &Key) -> Result<Option<T>> {
        self.get(key).await?.map(|b| decode(&b)).transpose()
    }

    async fn take_json<T: DeserializeOwned>(&self, key: &Key) -> Result<Option<T>> {
        self.take(key).await?.map(|b| decode(&b)).transpose()
    }
}

impl<C: Cache + ?Sized> CacheExt for C {}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| CacheError::Decode(e.to_string()))
}
