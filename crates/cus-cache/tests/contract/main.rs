//! One contract, every backend: each test below runs against the in-process cache, Redis
//! (`REDIS_URL`, default redis://127.0.0.1:6379), and a three-master Redis Cluster and a
//! Sentinel-watched master started from the local `redis-server`. Each test uses its own
//! key prefix. The in-process cache reads a clock the test moves; Redis expires keys in
//! real time.

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

        /// Every contract at once on the Redis at `url`, each under its own prefix: a
        /// cluster takes two seconds to start (Redis holds a new master's slots that long),
        /// so the set-ups below are started once, not once per contract.
        async fn whole_contract_at(url: &str) {
            let runs = vec![$((
                stringify!($name),
                tokio::spawn($name(redis_at(url).await)),
            )),*];
            for (name, run) in runs {
                run.await.unwrap_or_else(|e| panic!("{name} on {url}: {e}"));
            }
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_contract_on_a_redis_cluster() {
    let cluster = cus_cache::testing::LocalRedis::cluster().await;
    whole_contract_at(cluster.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_contract_on_redis_sentinel() {
    let sentinel = cus_cache::testing::LocalRedis::sentinel().await;
    whole_contract_at(sentinel.url()).await;
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
    sets_are_read_in_place_and_lose_one_member_at_a_time,
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
    redis_at(&url).await
}

async fn redis_at(url: &str) -> Subject {
    let cache = cus_cache::connect(url, &prefix(), Arc::new(cus_cache::SystemTimeSource))
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

async fn sets_are_read_in_place_and_lose_one_member_at_a_time(Subject { cache, .. }: Subject) {
    let key = Key::new(Namespace::SessionsOfAccount, "account-1");
    assert!(cache.members(&key).await.expect("members").is_empty());
    cache
        .remove_member(&key, "absent")
        .await
        .expect("remove from nothing");
    for member in ["s1", "s2", "s3"] {
        cache
            .add_member(&key, member, Duration::from_secs(60))
            .await
            .expect("add");
    }
    let mut read = cache.members(&key).await.expect("members");
    read.sort();
    assert_eq!(read, ["s1", "s2", "s3"]);
    let mut again = cache.members(&key).await.expect("members");
    again.sort();
    assert_eq!(again, read, "reading leaves the set as it was");
    cache.remove_member(&key, "s2").await.expect("remove");
    cache
        .remove_member(&key, "s9")
        .await
        .expect("remove a stranger");
    let mut left = cache.members(&key).await.expect("members");
    left.sort();
    assert_eq!(left, ["s1", "s3"]);
    cache.remove_member(&key, "s1").await.expect("remove");
    cache.remove_member(&key, "s3").await.expect("remove");
    assert!(cache.members(&key).await.expect("members").is_empty());
    assert!(
        cache.take_members(&key).await.expect("take").is_empty(),
        "the last removal removed the set"
    );
}

/// Keys spread over the cluster's masters by their slot: nothing pins them to one node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_spread_over_every_master_of_a_cluster() {
    let cluster = cus_cache::testing::LocalRedis::cluster().await;
    let Subject { cache, .. } = redis_at(cluster.url()).await;
    for i in 0..30 {
        let key = Key::new(Namespace::Session, i);
        cache
            .put(&key, b"v", Duration::from_secs(60))
            .await
            .expect("put");
        assert_eq!(cache.get(&key).await.expect("get"), Some(b"v".to_vec()));
    }
    for port in &cluster.ports {
        let keys: u64 = ::redis::cmd("DBSIZE")
            .query_async(&mut node(*port).await)
            .await
            .expect("DBSIZE");
        assert!(keys > 0, "the master on port {port} holds none of 30 keys");
    }
}

/// When the master dies and Sentinel promotes its replica, the cache writes to the new
/// master without a restart: the commands that meet the dead connection fail, the next
/// one asks Sentinel where the master is now.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cache_follows_a_sentinel_failover() {
    let mut sentinel = cus_cache::testing::LocalRedis::sentinel().await;
    let cache = cus_cache::connect(
        sentinel.url(),
        "failover:",
        Arc::new(cus_cache::SystemTimeSource),
    )
    .await
    .expect("connects through Sentinel");
    let key = Key::new(Namespace::Session, "s1");
    cache
        .put(&key, b"before", Duration::from_secs(60))
        .await
        .expect("put");
    sentinel.kill_master_and_fail_over().await;

    let mut failed = 0;
    while let Err(e) = cache.put(&key, b"after", Duration::from_secs(60)).await {
        failed += 1;
        assert!(failed <= 3, "still failing after the failover: {e}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(cache.get(&key).await.expect("get"), Some(b"after".to_vec()));
    let new_master = sentinel.ports.get(1).copied().expect("the replica's port");
    let stored: Option<Vec<u8>> = ::redis::cmd("GET")
        .arg(format!("failover:{}", key.as_str()))
        .query_async(&mut node(new_master).await)
        .await
        .expect("GET");
    assert_eq!(
        stored.as_deref(),
        Some(&b"after"[..]),
        "written to the new master"
    );
}

#[tokio::test]
async fn connection_errors_do_not_carry_the_password() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    for url in [
        format!("redis://:s3cr3t@127.0.0.1:{closed}"),
        format!("redis+cluster://cus:s3cr3t@127.0.0.1:{closed}/"),
        format!("redis+sentinel://cus:s3cr3t@127.0.0.1:{closed}/mymaster"),
    ] {
        let Err(e) = cus_cache::connect(&url, "t:", Arc::new(cus_cache::SystemTimeSource)).await
        else {
            panic!("nothing listens on {closed}");
        };
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
    }
}

/// Refused before connecting: nothing needs to listen.
#[tokio::test]
async fn a_cluster_prefix_takes_no_hash_tag() {
    let Err(e) = cus_cache::connect(
        "redis+cluster://127.0.0.1:1/",
        "{cus}:",
        Arc::new(cus_cache::SystemTimeSource),
    )
    .await
    else {
        panic!("a hash tag in the prefix is refused");
    };
    assert!(e.to_string().contains("cache.prefix"), "{e}");
}

/// A plain connection to one node, to look behind the cache.
async fn node(port: u16) -> ::redis::aio::MultiplexedConnection {
    ::redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("node answers")
}
