//! Latencies of one run and the summary the report prints: percentiles of a sorted list
//! of microseconds (exact, and small enough: a few hundred thousand entries a run), and
//! the median of repeats.

use std::time::Duration;

/// Every latency of one measured window.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    micros: Vec<u64>,
}

impl Latencies {
    pub fn record(&mut self, latency: Duration) {
        self.micros
            .push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn merge(&mut self, other: Latencies) {
        self.micros.extend(other.micros);
    }

    /// Percentiles `ps` (0–100) by the nearest-rank method, in microseconds; 0 when empty.
    pub fn percentiles(&mut self, ps: &[f64]) -> Vec<u64> {
        self.micros.sort_unstable();
        ps.iter().map(|p| nearest_rank(&self.micros, *p)).collect()
    }
}

/// The smallest value with at least `p` % of the values at or below it.
fn nearest_rank(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of `values` (the mean of the middle two for an even count); None when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut l = Latencies::default();
        for us in (1..=100).rev() {
            l.record(Duration::from_micros(us));
        }
        assert_eq!(
            l.percentiles(&[50.0, 99.0, 100.0, 0.0]),
            vec![50, 99, 100, 1]
        );
        assert_eq!(Latencies::default().percentiles(&[99.0]), vec![0]);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN]), None);
    }
}
