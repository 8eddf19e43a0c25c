//! Latency samples and their percentiles.

use std::time::Duration;

/// Latency samples in nanoseconds.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    samples: Vec<u64>,
    sorted: bool,
}

impl Latencies {
    /// No samples yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one sample.
    pub fn record(&mut self, latency: Duration) {
        self.record_ns(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Adds one sample in nanoseconds.
    pub fn record_ns(&mut self, nanos: u64) {
        self.samples.push(nanos);
        self.sorted = false;
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: Latencies) {
        self.samples.extend(other.samples);
        self.sorted = false;
    }

    /// How many samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The `p`-th percentile (0 to 100) by nearest rank, in nanoseconds;
    /// `None` without samples.
    pub fn percentile(&mut self, p: f64) -> Option<u64> {
        if self.samples.is_empty() {
            return None;
        }
        if !self.sorted {
            self.samples.sort_unstable();
            self.sorted = true;
        }
        Some(self.samples[nearest_rank(self.samples.len(), p)])
    }

    /// The largest sample.
    pub fn max(&self) -> Option<u64> {
        self.samples.iter().copied().max()
    }
}

/// The index of the `p`-th percentile among `n` sorted samples, by the
/// nearest-rank method: the smallest sample with at least `p` percent of
/// the samples at or below it.
pub fn nearest_rank(n: usize, p: f64) -> usize {
    if n == 0 {
        return 0;
    }
    let p = p.clamp(0.0, 100.0);
    // Invariant: rank is in 1..=n, so the cast and the subtraction hold.
    let rank = ((p / 100.0) * n as f64).ceil().max(1.0) as usize;
    rank.min(n) - 1
}

/// Nanoseconds as microseconds, for figures.
pub fn micros(nanos: u64) -> f64 {
    nanos as f64 / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(samples: &[u64], p: f64, expect: Option<u64>) {
        let mut latencies = Latencies::new();
        samples.iter().for_each(|&s| latencies.record_ns(s));
        assert_eq!(latencies.percentile(p), expect);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        check(&[], 50.0, None);
        check(&[7], 0.0, Some(7));
        check(&[7], 99.0, Some(7));
        check(&[5, 1, 4, 2, 3], 50.0, Some(3));
        check(&[5, 1, 4, 2, 3], 100.0, Some(5));
        let hundred: Vec<u64> = (1..=100).rev().collect();
        check(&hundred, 99.0, Some(99));
        check(&hundred, 50.0, Some(50));
        check(&hundred, 99.9, Some(100));
        let thousand: Vec<u64> = (1..=1000).collect();
        check(&thousand, 99.0, Some(990));
    }

    #[test]
    fn merging_keeps_every_sample() {
        let mut a = Latencies::new();
        a.record(Duration::from_micros(3));
        let mut b = Latencies::new();
        b.record_ns(1);
        b.record_ns(2);
        a.merge(b);
        assert_eq!(
            (a.len(), a.max(), a.percentile(50.0)),
            (3, Some(3000), Some(2))
        );
        assert_eq!(micros(1500), 1.5);
    }
}
