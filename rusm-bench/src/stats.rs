//! Latency histograms and the percentiles reported from them, and the medians and ratios used
//! to compare targets.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency a histogram tracks: 60 s, in nanoseconds; longer samples are clamped.
const MAX_NANOS: u64 = 60_000_000_000;

/// A latency histogram with nanosecond resolution and 3 significant digits.
#[derive(Debug, Clone)]
pub struct Latency {
    hist: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    /// An empty histogram.
    pub fn new() -> Self {
        Latency {
            // Bounds are constants that hdrhistogram accepts (low ≥ 1, high ≥ 2 × low).
            hist: Histogram::new_with_bounds(1, MAX_NANOS, 3).expect("valid histogram bounds"),
        }
    }

    /// Records one sample.
    pub fn record(&mut self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(MAX_NANOS);
        self.hist.saturating_record(nanos.clamp(1, MAX_NANOS));
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Latency) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.hist.add(&other.hist);
    }

    /// Number of samples.
    pub fn len(&self) -> u64 {
        self.hist.len()
    }

    /// Whether no sample was recorded.
    pub fn is_empty(&self) -> bool {
        self.hist.is_empty()
    }

    /// Removes every sample.
    pub fn clear(&mut self) {
        self.hist.reset();
    }

    /// The `q`-quantile (0.0 ..= 1.0), or zero when empty.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.hist.is_empty() {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.hist.value_at_quantile(q))
    }

    /// p50, p99 and max.
    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            samples: self.len(),
            p50_us: micros(self.quantile(0.50)),
            p99_us: micros(self.quantile(0.99)),
            max_us: if self.is_empty() {
                0.0
            } else {
                micros(Duration::from_nanos(self.hist.max()))
            },
        }
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// How many samples the percentiles come from.
    pub samples: u64,
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Largest sample.
    pub max_us: f64,
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The median of `values` (mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() & 1 == 0 {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

/// `system under test / baseline`, or `None` when the baseline is zero or either is missing.
pub fn ratio(sut: f64, baseline: f64) -> Option<f64> {
    (baseline != 0.0 && sut.is_finite() && baseline.is_finite()).then(|| sut / baseline)
}

/// `count / elapsed` in units per second; zero for an empty interval.
pub fn rate(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_one_to_a_thousand_microseconds() {
        let mut h = Latency::new();
        for us in 1..=1000 {
            h.record(Duration::from_micros(us));
        }
        let s = h.summary();
        assert_eq!(s.samples, 1000);
        // 3 significant digits: within 0.1 % of the exact rank.
        assert!((s.p50_us - 500.0).abs() <= 1.0, "p50 {}", s.p50_us);
        assert!((s.p99_us - 990.0).abs() <= 1.0, "p99 {}", s.p99_us);
        assert!((s.max_us - 1000.0).abs() <= 1.0, "max {}", s.max_us);
    }

    #[test]
    fn one_slow_sample_moves_max_but_not_p99() {
        let mut h = Latency::new();
        for _ in 0..999 {
            h.record(Duration::from_micros(10));
        }
        h.record(Duration::from_secs(2));
        let s = h.summary();
        assert!((s.p99_us - 10.0).abs() < 0.1, "p99 {}", s.p99_us);
        assert!((s.max_us - 2e6).abs() / 2e6 < 1e-3, "max {}", s.max_us);
    }

    #[test]
    fn empty_histogram_reports_zeros_and_merge_adds_samples() {
        let mut a = Latency::new();
        assert_eq!(a.summary(), LatencySummary::default());
        let mut b = Latency::new();
        b.record(Duration::from_micros(7));
        b.record(Duration::from_secs(120)); // clamped to the 60 s bound, not dropped
        a.merge(&b);
        assert_eq!(a.len(), 2);
        a.clear();
        assert!(a.is_empty());
    }

    #[test]
    fn median_ratio_and_rate() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(ratio(9.0, 10.0), Some(0.9));
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(rate(500, Duration::from_millis(250)), 2000.0);
        assert_eq!(rate(5, Duration::ZERO), 0.0);
    }
}
