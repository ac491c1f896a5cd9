//! Latency percentiles.

use std::time::Duration;

/// Latencies of one kind of operation, in microseconds, merged from every
/// client. Kept whole (not bucketed): a 10-second run makes at most a few
/// hundred thousand samples, and exact values need no error bound.
#[derive(Debug, Default)]
pub struct Latencies {
    micros: Vec<u64>,
}

/// The figures reported for a set of latencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Latencies {
    pub fn record(&mut self, d: Duration) {
        self.micros
            .push(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn is_empty(&self) -> bool {
        self.micros.is_empty()
    }

    pub fn merge(&mut self, other: Self) {
        self.micros.extend(other.micros);
    }

    /// `None` when nothing was measured, so that an empty run reports
    /// `null` rather than a made-up zero.
    pub fn summary(&self) -> Option<Summary> {
        let mut sorted = self.micros.clone();
        sorted.sort_unstable();
        let at = |p| percentile(&sorted, p).map(Duration::from_micros);
        Some(Summary {
            p50: at(50)?,
            p90: at(90)?,
            p99: at(99)?,
            max: at(100)?,
        })
    }
}

/// The nearest-rank percentile of sorted values: the smallest value that at
/// least `p` percent of the values do not exceed. No interpolation, so every
/// figure reported is a latency that was really measured. Integer
/// arithmetic, because `0.9 * 10.0` is a hair above 9 in floating point and
/// would round the rank up by one.
pub fn percentile(sorted: &[u64], p: u32) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let p = usize::try_from(p.min(100)).unwrap_or(100);
    let rank = (p * n).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_on_ten_values() {
        let v: Vec<u64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9), "no floating-point round-up");
        assert_eq!(percentile(&v, 99), Some(10));
        assert_eq!(percentile(&v, 100), Some(10));
        assert_eq!(percentile(&v, 0), Some(1));
    }

    #[test]
    fn nearest_rank_on_odd_counts_and_one_value() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 99), Some(990));
        assert_eq!(percentile(&[7], 50), Some(7));
        assert_eq!(percentile(&[7], 99), Some(7));
        assert_eq!(percentile(&[1, 2, 3], 50), Some(2));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn summary_sorts_merged_samples() {
        let mut a = Latencies::default();
        let mut b = Latencies::default();
        for ms in [30, 10, 20] {
            a.record(Duration::from_millis(ms));
        }
        b.record(Duration::from_millis(40));
        a.merge(b);
        let s = a.summary().unwrap();
        assert_eq!(s.p50, Duration::from_millis(20));
        assert_eq!(s.max, Duration::from_millis(40));
        assert_eq!(Latencies::default().summary(), None);
    }
}
