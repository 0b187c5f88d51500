//! A bounded log-bucket histogram for percentiles of durations.

/// Counts durations in logarithmic buckets: 64 per power of two, so a percentile is
/// within 1% of the true value, in at most 3,776 counters however many values.
///
/// ```
/// use perf_analyze::analysis::sketch::Sketch;
///
/// let mut sketch = Sketch::default();
/// for ms in 1..=100u64 {
///     sketch.add(ms * 1_000_000);
/// }
/// let p50 = sketch.quantile(0.5) as f64;
/// assert!((p50 - 50e6).abs() / 50e6 < 0.01);
/// assert_eq!(sketch.quantile(1.0), 100_000_000);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Sketch {
    counts: Vec<u32>,
    count: u64,
    min: u64,
    max: u64,
}

const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;

/// The bucket a value is counted in: values in one bucket are within 1/64 of each
/// other (equal below 64), and buckets are in the order of their values.
#[must_use]
pub fn bucket(value: u64) -> usize {
    if value < SUB {
        return value as usize;
    }
    let exp = 63 - value.leading_zeros();
    let mantissa = (value >> (exp - SUB_BITS)) & (SUB - 1);
    ((u64::from(exp - SUB_BITS + 1)) * SUB + mantissa) as usize
}

/// The middle of a bucket.
fn representative(index: usize) -> u64 {
    let index = index as u64;
    if index < SUB {
        return index;
    }
    let exp = index / SUB + u64::from(SUB_BITS) - 1;
    let mantissa = index % SUB;
    let width = 1u64 << (exp - u64::from(SUB_BITS));
    ((SUB + mantissa) * width).saturating_add(width / 2)
}

impl Sketch {
    /// Counts one value.
    pub fn add(&mut self, value: u64) {
        let index = bucket(value);
        if index >= self.counts.len() {
            self.counts.resize(index + 1, 0);
        }
        self.counts[index] = self.counts[index].saturating_add(1);
        if self.count == 0 {
            self.min = value;
            self.max = value;
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.count += 1;
    }

    /// How many values were counted.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The `q` quantile (0..=1), within 1%, clamped to the exact min and max; 0 if empty.
    #[must_use]
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let total: u64 = self.counts.iter().map(|&c| u64::from(c)).sum();
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (index, &c) in self.counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                return representative(index).clamp(self.min, self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn bucket_holds_its_value_within_one_percent(value in 0u64..u64::MAX / 2) {
            let r = representative(bucket(value));
            let err = (r as f64 - value as f64).abs() / (value.max(1) as f64);
            prop_assert!(err <= 0.01, "{} -> {}", value, r);
        }

        #[test]
        fn quantiles_are_ordered_and_bounded(values in proptest::collection::vec(0u64..10_000_000_000, 1..200)) {
            let mut s = Sketch::default();
            for v in &values { s.add(*v); }
            let (p50, p95) = (s.quantile(0.5), s.quantile(0.95));
            prop_assert!(p50 <= p95);
            prop_assert!(p95 <= *values.iter().max().unwrap());
            prop_assert!(p50 >= *values.iter().min().unwrap());
        }
    }
}
