//! The one place that reads the wall clock; everything else is handed a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The system's UTC clock, truncated to microseconds (what both databases keep).
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        let t = OffsetDateTime::now_utc();
        t.replace_nanosecond(t.nanosecond() / 1000 * 1000)
            .unwrap_or(t)
    }
}

/// `clock` as the in-process cache's time source: cache TTLs then run on the clock the rest
/// of the application reads, so moving a test's clock expires cache entries too.
pub fn cache_time(clock: Arc<dyn Clock>) -> Arc<dyn cus_cache::TimeSource> {
    Arc::new(move || std::time::SystemTime::from(clock.now()))
}

/// The system clock shifted by an adjustable offset: lets tests make time pass.
#[derive(Default)]
pub struct ShiftedClock {
    offset_seconds: AtomicI64,
}

impl ShiftedClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn advance(&self, seconds: i64) {
        self.offset_seconds.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> OffsetDateTime {
        SystemClock.now() + time::Duration::seconds(self.offset_seconds.load(Ordering::SeqCst))
    }
}
