//! In-process cache for the embedded single-node set-up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::{Cache, Key, Result};

/// Where the in-process cache reads the time its TTLs run against. The server hands it the
/// clock the rest of the application reads, so a test that moves that clock forward expires
/// cache entries with it instead of sleeping. Wall time, like Redis, whose expiries are
/// absolute Unix times.
pub trait TimeSource: Send + Sync {
    fn now(&self) -> SystemTime;
}

impl<F: Fn() -> SystemTime + Send + Sync> TimeSource for F {
    fn now(&self) -> SystemTime {
        self()
    }
}

/// The system's wall clock.
pub struct SystemTimeSource;

impl TimeSource for SystemTimeSource {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Sweep expired entries every this many writes, so abandoned keys do not pile up.
const SWEEP_EVERY: u64 = 1024;

struct Entry {
    value: Vec<u8>,
    expires: SystemTime,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, Entry>,
    writes: u64,
}

/// A mutex-guarded map with per-entry deadlines. Every operation holds the lock only for
/// the map access, which makes take-once and increments atomic.
pub struct MemoryCache {
    prefix: String,
    inner: Mutex<Inner>,
    time: Arc<dyn TimeSource>,
}

impl MemoryCache {
    /// An empty cache whose keys start with `prefix`, measuring TTLs by `time`.
    pub fn new(prefix: &str, time: Arc<dyn TimeSource>) -> Self {
        Self {
            prefix: prefix.to_owned(),
            inner: Mutex::new(Inner::default()),
            time,
        }
    }

    fn full(&self, key: &Key) -> String {
        format!("{}{}", self.prefix, key.as_str())
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner, SystemTime) -> T) -> T {
        // A panic while holding the lock cannot leave the map half-updated, so a poisoned
        // lock is still safe to use.
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.time.now();
        inner.writes += 1;
        if inner.writes.is_multiple_of(SWEEP_EVERY) {
            inner.map.retain(|_, e| e.expires > now);
        }
        f(&mut inner, now)
    }
}

/// Removes `key`'s entry, and returns it if it had not expired: the one take-once rule of
/// values and sets.
fn take_live(inner: &mut Inner, key: &str, now: SystemTime) -> Option<Entry> {
    inner.map.remove(key).filter(|e| e.expires > now)
}

fn live(inner: &mut Inner, key: &str, now: SystemTime) -> bool {
    match inner.map.get(key) {
        Some(e) if e.expires > now => true,
        Some(_) => {
            inner.map.remove(key);
            false
        }
        None => false,
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn put(&self, key: &Key, value: &[u8], ttl: Duration) -> Result<()> {
        let key = self.full(key);
        self.with(|inner, now| {
            inner.map.insert(
                key,
                Entry {
                    value: value.to_vec(),
                    expires: now + ttl,
                },
            );
        });
        Ok(())
    }

    async fn put_new(&self, key: &Key, value: &[u8], ttl: Duration) -> Result<bool> {
        let key = self.full(key);
        Ok(self.with(|inner, now| {
            if live(inner, &key, now) {
                return false;
            }
            inner.map.insert(
                key,
                Entry {
                    value: value.to_vec(),
                    expires: now + ttl,
                },
            );
            true
        }))
    }

    async fn get(&self, key: &Key) -> Result<Option<Vec<u8>>> {
        let key = self.full(key);
        Ok(self.with(|inner, now| {
            live(inner, &key, now)
                .then(|| inner.map.get(&key).map(|e| e.value.clone()))
                .flatten()
        }))
    }

    async fn take(&self, key: &Key) -> Result<Option<Vec<u8>>> {
        let key = self.full(key);
        Ok(self.with(|inner, now| take_live(inner, &key, now).map(|e| e.value)))
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        let key = self.full(key);
        self.with(|inner, _| inner.map.remove(&key));
        Ok(())
    }

    async fn incr(&self, key: &Key, window: Duration) -> Result<(u64, Duration)> {
        let key = self.full(key);
        Ok(self.with(|inner, now| {
            if !live(inner, &key, now) {
                inner.map.insert(
                    key.clone(),
                    Entry {
                        value: 0u64.to_le_bytes().to_vec(),
                        expires: now + window,
                    },
                );
            }
            match inner.map.get_mut(&key) {
                Some(entry) => {
                    let count = entry
                        .value
                        .get(..8)
                        .and_then(|b| <[u8; 8]>::try_from(b).ok())
                        .map_or(0, u64::from_le_bytes)
                        + 1;
                    entry.value = count.to_le_bytes().to_vec();
                    (count, entry.expires.duration_since(now).unwrap_or_default())
                }
                None => (1, window),
            }
        }))
    }

    async fn count(&self, key: &Key) -> Result<u64> {
        let key = self.full(key);
        Ok(self.with(|inner, now| {
            if !live(inner, &key, now) {
                return 0;
            }
            inner
                .map
                .get(&key)
                .and_then(|e| e.value.get(..8))
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, u64::from_le_bytes)
        }))
    }

    async fn add_member(&self, key: &Key, member: &str, ttl: Duration) -> Result<()> {
        let key = self.full(key);
        self.with(|inner, now| {
            let mut members = if live(inner, &key, now) {
                inner
                    .map
                    .get(&key)
                    .map_or_else(Vec::new, |e| members_of(&e.value))
            } else {
                Vec::new()
            };
            if !members.iter().any(|m| m == member) {
                members.push(member.to_owned());
            }
            inner.map.insert(
                key,
                Entry {
                    value: serde_json::to_vec(&members).unwrap_or_default(),
                    expires: now + ttl,
                },
            );
        });
        Ok(())
    }

    async fn take_members(&self, key: &Key) -> Result<Vec<String>> {
        let key = self.full(key);
        Ok(self.with(|inner, now| {
            take_live(inner, &key, now).map_or_else(Vec::new, |e| members_of(&e.value))
        }))
    }

    async fn members(&self, key: &Key) -> Result<Vec<String>> {
        let key = self.full(key);
        Ok(self.with(|inner, now| {
            if live(inner, &key, now) {
                inner
                    .map
                    .get(&key)
                    .map_or_else(Vec::new, |e| members_of(&e.value))
            } else {
                Vec::new()
            }
        }))
    }

    async fn remove_member(&self, key: &Key, member: &str) -> Result<()> {
        let key = self.full(key);
        self.with(|inner, now| {
            if !live(inner, &key, now) {
                return;
            }
            let Some(entry) = inner.map.get_mut(&key) else {
                return;
            };
            let mut members = members_of(&entry.value);
            members.retain(|m| m != member);
            if members.is_empty() {
                // Like Redis: a set left empty is no set.
                inner.map.remove(&key);
            } else {
                entry.value = serde_json::to_vec(&members).unwrap_or_default();
            }
        });
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}

/// A set is kept as a JSON array of its members, in the order they were added.
fn members_of(value: &[u8]) -> Vec<String> {
    serde_json::from_slice(value).unwrap_or_default()
}
