//! Latency over time: user-facing requests (or turns) in equal intervals of the
//! session, in a bounded number of buckets (their width doubles as the session grows).
//!
//! ```
//! use perf_analyze::analysis::latency::LatencyOverTime;
//!
//! let mut l = LatencyOverTime::default();
//! for i in 0..1_000u64 {
//!     l.add(i * 1_000_000, 100 + i);
//! }
//! let s = l.summary();
//! assert!(s.buckets.len() <= 120);
//! assert_eq!(s.buckets.iter().map(|b| b.count).sum::<u64>(), 1_000);
//! assert_eq!(s.buckets.last().unwrap().max_ns, 1_099);
//! ```

use serde::{Deserialize, Serialize};

/// At most this many buckets.
const BUCKETS: usize = 120;

/// One interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Requests that started in it.
    pub count: u64,
    /// Their mean duration.
    pub mean_ns: u64,
    /// Their longest duration.
    pub max_ns: u64,
    #[serde(skip)]
    sum_ns: u64,
}

/// The summary's `latency_over_time`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// When the first bucket starts, on the session timeline.
    pub start_ns: u64,
    /// Each bucket's width.
    pub bucket_ns: u64,
    /// The buckets, in time order.
    pub buckets: Vec<Bucket>,
}

/// Collects request durations by start time.
#[derive(Debug, Clone, Default)]
pub struct LatencyOverTime {
    origin: Option<u64>,
    width: u64,
    buckets: Vec<Bucket>,
}

impl LatencyOverTime {
    /// Adds a request that started at `start_ns` and took `duration_ns`.
    pub fn add(&mut self, start_ns: u64, duration_ns: u64) {
        self.add_requests(start_ns, 1, duration_ns, duration_ns);
    }

    /// The first request's start, if one was added: where the buckets start.
    #[must_use]
    pub fn origin(&self) -> Option<u64> {
        self.origin
    }

    /// Starts the buckets at `start_ns` if no request was added yet: for requests added
    /// out of start order whose earliest is known.
    pub fn start_at(&mut self, start_ns: u64) {
        self.origin.get_or_insert(start_ns);
    }

    /// Widens the buckets until one holds `start_ns`, as adding a request that started
    /// then would (without adding it).
    pub fn cover(&mut self, start_ns: u64) {
        self.index(start_ns);
    }

    /// Adds the requests of another collection, each bucket's at that bucket's start:
    /// exact where both started at the same origin (the other's buckets then lie each in
    /// one of these once [`LatencyOverTime::cover`] reached the other's latest start),
    /// else each bucket's requests may land one bucket early.
    pub fn merge(&mut self, other: &LatencyOverTime) {
        let Some(origin) = other.origin else {
            return;
        };
        for (i, b) in other.buckets.iter().enumerate() {
            if b.count > 0 {
                let start = origin.saturating_add(i as u64 * other.width);
                self.add_requests(start, b.count, b.sum_ns, b.max_ns);
            }
        }
    }

    /// The bucket of a request that started at `start_ns`, widening the buckets as needed.
    fn index(&mut self, start_ns: u64) -> usize {
        let origin = *self.origin.get_or_insert(start_ns);
        if self.width == 0 {
            self.width = 1_000_000;
        }
        let offset = start_ns.saturating_sub(origin);
        while offset / self.width >= BUCKETS as u64 {
            self.width *= 2;
            let merged: Vec<Bucket> = self
                .buckets
                .chunks(2)
                .map(|pair| {
                    let mut b = pair[0];
                    if let Some(o) = pair.get(1) {
                        b.count += o.count;
                        b.sum_ns += o.sum_ns;
                        b.max_ns = b.max_ns.max(o.max_ns);
                    }
                    b
                })
                .collect();
            self.buckets = merged;
        }
        let i = (offset / self.width) as usize;
        if self.buckets.len() <= i {
            self.buckets.resize(i + 1, Bucket::default());
        }
        i
    }

    /// Adds `count` requests that started at `start_ns`, their durations summing to
    /// `sum_ns`, the longest `max_ns`.
    fn add_requests(&mut self, start_ns: u64, count: u64, sum_ns: u64, max_ns: u64) {
        let i = self.index(start_ns);
        let b = &mut self.buckets[i];
        b.count += count;
        b.sum_ns = b.sum_ns.saturating_add(sum_ns);
        b.max_ns = b.max_ns.max(max_ns);
    }

    /// The buckets with their means.
    #[must_use]
    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            start_ns: self.origin.unwrap_or(0),
            bucket_ns: self.width,
            buckets: self
                .buckets
                .iter()
                .map(|b| Bucket {
                    mean_ns: b.sum_ns.checked_div(b.count).unwrap_or(0),
                    ..*b
                })
                .collect(),
        }
    }
}
