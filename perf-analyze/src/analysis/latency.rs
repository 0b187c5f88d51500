//! Latency over time: user-facing requests (or turns) in equal intervals of the
//! session, in a bounded number of buckets (their width doubles as the session grows).
//! Buckets lie on one grid of absolute time (each starts at a multiple of its width),
//! so collections made apart merge exactly, whatever order the requests came in.
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

/// The narrowest bucket.
const FIRST_WIDTH_NS: u64 = 1_000_000;

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

    /// Starts the buckets at the one that holds `start_ns` if no request was added yet:
    /// for requests added out of start order whose earliest is known.
    pub fn start_at(&mut self, start_ns: u64) {
        if self.origin.is_none() {
            self.width = self.width.max(FIRST_WIDTH_NS);
            self.origin = Some(start_ns - start_ns % self.width);
        }
    }

    /// Widens the buckets until one holds `start_ns`, as adding a request that started
    /// then would (without adding it).
    pub fn cover(&mut self, start_ns: u64) {
        self.index(start_ns);
    }

    /// Adds the requests of another collection, each bucket's at that bucket's start:
    /// exact, as both lie on one grid and these buckets are first widened to the other's
    /// (requests before this collection's first bucket count in it, as when added).
    ///
    /// ```
    /// use perf_analyze::analysis::latency::LatencyOverTime;
    ///
    /// let (mut all, mut early, mut late) = Default::default();
    /// for i in 0..2_000u64 {
    ///     let (start, duration) = (7_777_777 + i * 3_000_000, i);
    ///     LatencyOverTime::add(&mut all, start, duration);
    ///     LatencyOverTime::add(if i % 3 == 0 { &mut early } else { &mut late }, start, duration);
    /// }
    /// early.merge(&late);
    /// assert_eq!(early.summary(), all.summary());
    /// ```
    pub fn merge(&mut self, other: &LatencyOverTime) {
        let Some(origin) = other.origin else {
            return;
        };
        while self.origin.is_some() && self.width < other.width {
            self.widen();
        }
        if self.origin.is_none() {
            self.width = other.width;
            self.origin = Some(origin);
        }
        for (i, b) in other.buckets.iter().enumerate() {
            if b.count > 0 {
                let start = origin.saturating_add(i as u64 * other.width);
                self.add_requests(start, b.count, b.sum_ns, b.max_ns);
            }
        }
    }

    /// The bucket of a request that started at `start_ns`, widening the buckets as needed.
    fn index(&mut self, start_ns: u64) -> usize {
        self.start_at(start_ns);
        while start_ns.saturating_sub(self.origin.unwrap_or_default()) / self.width
            >= BUCKETS as u64
        {
            self.widen();
        }
        let offset = start_ns.saturating_sub(self.origin.unwrap_or_default());
        let i = (offset / self.width) as usize;
        if self.buckets.len() <= i {
            self.buckets.resize(i + 1, Bucket::default());
        }
        i
    }

    /// Doubles the buckets' width: the first starts at a multiple of the new width, so an
    /// empty bucket goes first if the old first one started halfway into one.
    fn widen(&mut self) {
        let origin = self.origin.unwrap_or_default();
        let width = self.width.saturating_mul(2);
        if origin % width != 0 {
            self.buckets.insert(0, Bucket::default());
        }
        self.origin = Some(origin - origin % width);
        self.width = width;
        let merged: Vec<Bucket> = self
            .buckets
            .chunks(2)
            .map(|pair| {
                let mut b = pair[0];
                if let Some(o) = pair.get(1) {
                    b.count += o.count;
                    b.sum_ns = b.sum_ns.saturating_add(o.sum_ns);
                    b.max_ns = b.max_ns.max(o.max_ns);
                }
                b
            })
            .collect();
        self.buckets = merged;
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
