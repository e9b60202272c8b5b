//! Latency histograms shared by the server's metrics and the shared watermark store: one set
//! of buckets (0.25 ms … 10 s, so sub-millisecond costs such as a journal write and multi-second
//! stalls both resolve), lock-free counting.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds, in seconds, of every latency histogram's buckets.
pub(crate) const BUCKETS: [f64; 15] = [
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Observations by bucket, with their count and sum.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

/// A copy of a [`Histogram`]: per-bucket (not cumulative) counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub buckets: Vec<u64>,
    pub count: u64,
    pub sum_seconds: f64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos
            .fetch_add(d.as_nanos().min(u64::MAX as u128) as u64, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            buckets: self
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
            count: self.count.load(Ordering::Relaxed),
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let h = Histogram::default();
        for us in [100, 250, 300, 9_000, 20_000_000] {
            h.observe(Duration::from_micros(us));
        }
        let s = h.snapshot();
        assert_eq!(s.count, 5);
        assert_eq!(s.buckets[0], 2, "0.1 and 0.25 ms are <= 0.25 ms");
        assert_eq!(s.buckets[1], 1, "0.3 ms");
        assert_eq!(s.buckets[5], 1, "9 ms <= 10 ms");
        assert_eq!(s.buckets.iter().sum::<u64>(), 4, "20 s is only in +Inf");
        assert!((s.sum_seconds - 20.00965).abs() < 1e-9, "{}", s.sum_seconds);
    }
}
