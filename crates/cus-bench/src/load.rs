//! The load itself: N workers, each with its own keep-alive connection and state, for a
//! warm-up (not counted) and then a measured window. Closed loop: each worker sends its
//! next request as soon as the last one is answered. Open loop: requests leave on a fixed
//! schedule (the rate shared among workers) and each latency counts from when its request
//! was due, so a slow answer is not hidden by the requests it delayed.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::procfs::Process;
use crate::stats::Latencies;

#[derive(Debug, Clone, Copy)]
pub enum Mode {
    Closed,
    /// Requests per second, across all workers.
    Open(f64),
}

#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub mode: Mode,
    pub warmup: Duration,
    pub duration: Duration,
}

/// What one step of a worker came to.
pub enum Step {
    Ok,
    Failed(String),
    /// The worker has nothing left to send (its pre-issued codes are spent).
    Exhausted,
}

/// The figures of one measured window.
#[derive(Debug, Default)]
pub struct Outcome {
    pub requests: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub latencies: Latencies,
    pub window: Duration,
    pub cpu: Option<Duration>,
    pub peak_kib: Option<u64>,
    /// Some worker ran out of work before the window ended.
    pub exhausted: bool,
}

impl Outcome {
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.window.as_secs_f64().max(1e-9)
    }

    /// Server CPU time per request, in microseconds.
    pub fn cpu_per_request_us(&self) -> Option<f64> {
        let cpu = self.cpu?;
        (self.requests > 0).then(|| cpu.as_secs_f64() * 1e6 / self.requests as f64)
    }
}

struct WorkerResult {
    requests: u64,
    errors: u64,
    first_error: Option<String>,
    latencies: Latencies,
    exhausted: bool,
}

/// Runs `step` over `workers` under `plan`, measuring `server` over the window.
pub async fn run<W, F, Fut>(workers: Vec<W>, plan: Plan, server: Process, step: F) -> Outcome
where
    W: Send + 'static,
    F: Fn(W) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = (W, Step)> + Send,
{
    let step = Arc::new(step);
    let count = workers.len().max(1);
    let peak_reset = server.reset_peak();
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;

    // The server's CPU over exactly the window, and its RSS sampled if VmHWM cannot be reset.
    let sampler = tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        let cpu_start = server.cpu();
        let mut peak = 0;
        while Instant::now() < end {
            if !peak_reset {
                peak = peak.max(server.rss_kib().unwrap_or(0));
            }
            tokio::time::sleep(Duration::from_millis(50).min(end - Instant::now().min(end))).await;
        }
        let cpu = match (cpu_start, server.cpu()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        (cpu, (!peak_reset).then_some(peak))
    });

    let mut tasks = tokio::task::JoinSet::new();
    for (index, mut worker) in workers.into_iter().enumerate() {
        let step = Arc::clone(&step);
        tasks.spawn(async move {
            let mut result = WorkerResult {
                requests: 0,
                errors: 0,
                first_error: None,
                latencies: Latencies::default(),
                exhausted: false,
            };
            // Open loop: this worker's share of the schedule, offset so workers interleave.
            let interval = match plan.mode {
                Mode::Open(rate) => Some(Duration::from_secs_f64(count as f64 / rate.max(0.001))),
                Mode::Closed => None,
            };
            let mut due =
                start + interval.map_or(Duration::ZERO, |i| i * index as u32 / count as u32);
            loop {
                if interval.is_some() {
                    tokio::time::sleep_until(due.into()).await;
                }
                let sent = if interval.is_some() {
                    due
                } else {
                    Instant::now()
                };
                if sent >= end {
                    break;
                }
                let (back, outcome) = step(worker).await;
                worker = back;
                let done = Instant::now();
                match outcome {
                    Step::Ok => {
                        // Completions inside the window: a login taking longer than the
                        // window still counts once it ends inside it.
                        if done >= measure_from && done <= end {
                            result.requests += 1;
                            result.latencies.record(done - sent);
                        }
                    }
                    Step::Failed(e) => {
                        result.errors += 1;
                        result.first_error.get_or_insert(e);
                    }
                    Step::Exhausted => {
                        result.exhausted = true;
                        break;
                    }
                }
                if let Some(interval) = interval {
                    due += interval;
                }
            }
            result
        });
    }

    let mut outcome = Outcome {
        window: plan.duration,
        ..Outcome::default()
    };
    while let Some(done) = tasks.join_next().await {
        let Ok(r) = done else {
            outcome.errors += 1;
            outcome
                .first_error
                .get_or_insert_with(|| "a worker panicked".into());
            continue;
        };
        outcome.requests += r.requests;
        outcome.errors += r.errors;
        if outcome.first_error.is_none() {
            outcome.first_error = r.first_error;
        }
        outcome.latencies.merge(r.latencies);
        outcome.exhausted |= r.exhausted;
    }
    let (cpu, sampled_peak) = sampler.await.unwrap_or((None, None));
    outcome.cpu = cpu;
    outcome.peak_kib = if peak_reset {
        server.peak_kib()
    } else {
        sampled_peak
    };
    outcome
}
