//! The threads argon2id runs on and the bounded queue in front of them. `workers` threads
//! of their own (not tokio's blocking pool, which sqlx and file I/O share) take jobs from
//! one channel; at most `workers + queue` requests are admitted at once ([`Pool::admit`]),
//! and one more is refused at once ([`Busy`]) instead of waiting without limit. This is
//! the one place that decides "busy".

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type Job = Box<dyn FnOnce() + Send>;

/// Hashing is saturated: every worker is busy and the queue is full. The request is
/// refused now (HTTP 503 with `Retry-After: `[`Busy::RETRY_AFTER`]), so latency stays
/// bounded under a burst instead of growing with it.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("hashing is saturated: every worker is busy and the queue is full")]
pub struct Busy;

impl Busy {
    /// What a refused caller is told to wait: the queue is sized to drain in about 1–2 s.
    pub const RETRY_AFTER: Duration = Duration::from_secs(2);
}

/// Whether `error` is (or wraps) a [`Busy`] refusal: how the error policies of the HTTP
/// layer tell it from a failure.
pub fn is_busy(error: &anyhow::Error) -> bool {
    error.chain().any(|e| e.is::<Busy>())
}

pub struct Pool {
    jobs: mpsc::Sender<Job>,
    /// Requests admitted and not finished: queued, running, or between two hashes of
    /// one attempt.
    admitted: AtomicUsize,
    capacity: usize,
    /// Unix second of the last "refusing" log line: at most one a second.
    last_log: AtomicU64,
}

impl Pool {
    /// `workers` threads (at least one) and room for `queue` more requests waiting.
    pub fn new(workers: usize, queue: usize) -> std::io::Result<Arc<Self>> {
        let workers = workers.max(1);
        let (jobs, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..workers {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(format!("cus-hash-{n}"))
                .spawn(move || work(&receiver))?;
        }
        Ok(Arc::new(Self {
            jobs,
            admitted: AtomicUsize::new(0),
            capacity: workers + queue,
            last_log: AtomicU64::new(0),
        }))
    }

    /// Admits one request, or refuses it when `workers + queue` are already admitted.
    pub fn admit(self: &Arc<Self>) -> Result<Ticket, Busy> {
        let taken = self
            .admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.capacity).then_some(n + 1)
            });
        match taken {
            Ok(before) => {
                depth(before + 1);
                Ok(Ticket {
                    pool: Arc::clone(self),
                })
            }
            Err(_) => {
                self.refused();
                Err(Busy)
            }
        }
    }

    fn refused(&self) {
        metrics::counter!(crate::metrics::HASH_REFUSED).increment(1);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.last_log.swap(now, Ordering::AcqRel);
        if last != now {
            tracing::warn!(
                hash.capacity = self.capacity,
                "hashing saturated: refusing requests with 503 (hash.max_concurrent, hash.max_queue)"
            );
        }
    }
}

/// One admitted request: it may run jobs on the pool until dropped.
pub struct Ticket {
    pool: Arc<Pool>,
}

impl Ticket {
    /// Runs `job` on a worker and waits for it without blocking the runtime. `None` if the
    /// job panicked.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(job());
        });
        self.pool.jobs.send(job).ok()?;
        result.await.ok()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let before = self.pool.admitted.fetch_sub(1, Ordering::AcqRel);
        depth(before.saturating_sub(1));
    }
}

/// The gauge of requests admitted to hashing (running or queued).
fn depth(admitted: usize) {
    #[expect(clippy::cast_precision_loss, reason = "a gauge is an f64")]
    metrics::gauge!(crate::metrics::HASH_QUEUE).set(admitted as f64);
}

/// A worker: runs jobs until every sender is gone (the last `Hasher` dropped).
fn work(receiver: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        let job = {
            let Ok(receiver) = receiver.lock() else {
                return;
            };
            receiver.recv()
        };
        let Ok(job) = job else { return };
        // A panicking job only loses its own answer (its sender is dropped): the worker
        // stays.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}
