//! One contract, every backend: each test below runs against the in-process cache and
//! Redis (`REDIS_URL`, default redis://127.0.0.1:6379). Each test uses its own key prefix.
//! The in-process cache reads a clock the test moves; Redis expires keys in real time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use cus_cache::{Cache, CacheExt, Key, Namespace, TimeSource};

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(super::memory()).await })*
        }
        mod redis {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(super::redis().await).await })*
        }
    };
}

contract!(
    values_round_trip,
    expired_values_are_gone,
    take_once_is_won_by_exactly_one_of_fifty,
    put_new_does_not_overwrite,
    counters_count_within_their_window_and_reset,
    json_helpers_round_trip,
    sets_collect_members_once_and_are_taken_whole,
    sets_expire_from_their_last_addition,
);

fn prefix() -> String {
    format!("test:{}:", uuid::Uuid::new_v4().simple())
}

/// A backend under test, and how time passes for it.
struct Subject {
    cache: Arc<dyn Cache>,
    time: Time,
}

enum Time {
    /// The cache reads this clock, which stands still until the test moves it.
    Manual(Arc<ManualTime>),
    /// The backend keeps its own clock: time passes by waiting.
    Real,
}

impl Time {
    /// Lets `span` pass for the cache.
    async fn pass(&self, span: Duration) {
        match self {
            Self::Manual(clock) => clock.advance(span),
            Self::Real => tokio::time::sleep(span).await,
        }
    }
}

struct ManualTime(Mutex<SystemTime>);

impl ManualTime {
    fn advance(&self, span: Duration) {
        *self.0.lock().expect("clock") += span;
    }
}

impl TimeSource for ManualTime {
    fn now(&self) -> SystemTime {
        *self.0.lock().expect("clock")
    }
}

fn memory() -> Subject {
    let clock = Arc::new(ManualTime(Mutex::new(SystemTime::now())));
    Subject {
        cache: Arc::new(cus_cache::MemoryCache::new(&prefix(), clock.clone())),
        time: Time::Manual(clock),
    }
}

async fn redis() -> Subject {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let cache = cus_cache::connect(&url, &prefix(), Arc::new(cus_cache::SystemTimeSource))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "Redis is required by the tests and is not reachable at {url}: {e}\n\
             Start one (e.g. `redis-server --daemonize yes`, or `docker run -d -p 6379:6379 \
             redis:7`) or set REDIS_URL."
            )
        });
    cache
        .ping()
        .await
        .unwrap_or_else(|e| panic!("Redis at {url} does not answer: {e}"));
    Subject {
        cache,
        time: Time::Real,
    }
}

async fn values_round_trip(Subject { cache, .. }: Subject) {
    let key = Key::new(Namespace::Session, "abc");
    assert_eq!(cache.get(&key).await.expect("get"), None);
    cache
        .put(&key, b"one", Duration::from_secs(60))
        .await
        .expect("put");
    assert_eq!(cache.get(&key).await.expect("get"), Some(b"one".to_vec()));
    cache
        .put(&key, b"two", Duration::from_secs(60))
        .await
        .expect("put");
    assert_eq!(cache.get(&key).await.expect("get"), Some(b"two".to_vec()));
    cache.delete(&key).await.expect("delete");
    assert_eq!(cache.get(&key).await.expect("get"), None);
}

async fn expired_values_are_gone(Subject { cache, time }: Subject) {
    let key = Key::new(Namespace::AuthCode, "short");
    cache
        .put(&key, b"v", Duration::from_millis(100))
        .await
        .expect("put");
    time.pass(Duration::from_millis(250)).await;
    assert_eq!(cache.get(&key).await.expect("get"), None);
    assert_eq!(cache.take(&key).await.expect("take"), None);
    assert!(
        cache
            .put_new(&key, b"w", Duration::from_secs(5))
            .await
            .expect("put_new")
    );
}

async fn take_once_is_won_by_exactly_one_of_fifty(Subject { cache, .. }: Subject) {
    let key = Key::new(Namespace::AuthCode, "the-code");
    cache
        .put(&key, b"grant", Duration::from_secs(60))
        .await
        .expect("put");
    let takers: Vec<_> = (0..50)
        .map(|_| {
            let cache = cache.clone();
            let key = key.clone();
            tokio::spawn(async move { cache.take(&key).await })
        })
        .collect();
    let mut winners = 0;
    for taker in takers {
        if let Some(value) = taker.await.expect("ran").expect("take") {
            assert_eq!(value, b"grant");
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(cache.get(&key).await.expect("get"), None);
}

async fn put_new_does_not_overwrite(Subject { cache, .. }: Subject) {
    let key = Key::new(Namespace::CodeUsed, "c1");
    assert!(
        cache
            .put_new(&key, b"first", Duration::from_secs(60))
            .await
            .expect("put")
    );
    assert!(
        !cache
            .put_new(&key, b"second", Duration::from_secs(60))
            .await
            .expect("put")
    );
    assert_eq!(cache.get(&key).await.expect("get"), Some(b"first".to_vec()));
}

async fn counters_count_within_their_window_and_reset(Subject { cache, time }: Subject) {
    let key = Key::new(Namespace::Counter, "login:ip:127.0.0.1");
    let window = Duration::from_millis(300);
    assert_eq!(cache.count(&key).await.expect("count"), 0);
    for expected in 1..=5 {
        let (count, left) = cache.incr(&key, window).await.expect("incr");
        assert_eq!(count, expected);
        assert!(left <= window && !left.is_zero());
    }
    assert_eq!(
        cache.count(&key).await.expect("count"),
        5,
        "reading does not count"
    );
    time.pass(Duration::from_millis(450)).await;
    assert_eq!(cache.count(&key).await.expect("count"), 0, "expired");
    let (count, _) = cache.incr(&key, window).await.expect("incr");
    assert_eq!(count, 1, "a new window starts after the old one expired");
}

async fn json_helpers_round_trip(Subject { cache, .. }: Subject) {
    let key = Key::new(Namespace::Captcha, "id1");
    cache
        .put_json(
            &key,
            &vec!["a".to_owned(), "b".to_owned()],
            Duration::from_secs(10),
        )
        .await
        .expect("put");
    let got: Option<Vec<String>> = cache.get_json(&key).await.expect("get");
    assert_eq!(got, Some(vec!["a".into(), "b".into()]));
    let taken: Option<Vec<String>> = cache.take_json(&key).await.expect("take");
    assert!(taken.is_some());
    let again: Option<Vec<String>> = cache.take_json(&key).await.expect("take");
    assert_eq!(again, None);
}

async fn sets_collect_members_once_and_are_taken_whole(Subject { cache, .. }: Subject) {
    let key = Key::new(Namespace::SessionClients, "sid-1");
    assert!(cache.take_members(&key).await.expect("take").is_empty());
    // Concurrent additions from many nodes: none is lost, none counted twice.
    let adders: Vec<_> = (0..20)
        .map(|i| {
            let cache = cache.clone();
            let key = key.clone();
            tokio::spawn(async move {
                cache
                    .add_member(&key, &format!("client-{}", i % 10), Duration::from_secs(60))
                    .await
            })
        })
        .collect();
    for adder in adders {
        adder.await.expect("ran").expect("add");
    }
    let mut members = cache.take_members(&key).await.expect("take");
    members.sort();
    let mut expected: Vec<String> = (0..10).map(|i| format!("client-{i}")).collect();
    expected.sort();
    assert_eq!(members, expected);
    assert!(
        cache.take_members(&key).await.expect("take").is_empty(),
        "taken whole"
    );
}

async fn sets_expire_from_their_last_addition(Subject { cache, time }: Subject) {
    let key = Key::new(Namespace::AccountSessions, "account-1");
    // Each step must land within the TTL of the addition before it: on Redis, in real time
    // on a busy machine, 400 ms of slack each.
    let ttl = Duration::from_millis(1000);
    cache.add_member(&key, "a", ttl).await.expect("add");
    time.pass(Duration::from_millis(600)).await;
    cache.add_member(&key, "b", ttl).await.expect("add");
    time.pass(Duration::from_millis(600)).await;
    let mut members = cache.take_members(&key).await.expect("take");
    members.sort();
    assert_eq!(members, ["a", "b"], "the second addition extended the set");
    cache.add_member(&key, "c", ttl).await.expect("add");
    time.pass(Duration::from_millis(1100)).await;
    assert!(
        cache.take_members(&key).await.expect("take").is_empty(),
        "expired"
    );
}
