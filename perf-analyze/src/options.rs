//! How to analyze: strictness and the thresholds of the detailed analyses.

/// How to analyze a session.
///
/// ```
/// let options = perf_analyze::Options { strict: true, ..Default::default() };
/// assert_eq!(options.thresholds.share_high, 20.0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Make a malformed line an error instead of a warning (a truncated last line is still read past).
    pub strict: bool,
    /// Thresholds of bottlenecks, parallelism, idle spans and batching.
    pub thresholds: Thresholds,
    /// For the commands that take closed subtrees before their root closes (folded
    /// stacks, flamegraph): how many closed spans to hold under open roots first.
    /// `None` is [`HOLD_BUDGET`](crate::input::HOLD_BUDGET); the output is the same
    /// whatever the budget, only memory changes.
    pub hold_budget: Option<usize>,
}

/// Thresholds of the detailed analyses. Shares are percentages of wall time.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Self time share of wall time for a high-severity bottleneck (default 20%).
    pub share_high: f64,
    /// ... for medium (default 10%).
    pub share_medium: f64,
    /// ... for low (default 5%).
    pub share_low: f64,
    /// Mean duration for a high-severity bottleneck (default 2 s).
    pub mean_high_ns: u64,
    /// ... for medium (default 500 ms).
    pub mean_medium_ns: u64,
    /// ... for low (default 100 ms).
    pub mean_low_ns: u64,
    /// Calls before frequency times mean counts as a reason (default 10).
    pub frequent_min_count: u64,
    /// A parallelization saving must be at least this share of the parent (default 0.05).
    pub parallel_min_share: f64,
    /// ... and at least this long (default 1 ms).
    pub parallel_min_ns: u64,
    /// A span is waiting if idle at least this many times its busy time (default 10) ...
    pub idle_ratio: f64,
    /// ... and idle at least this long (default 1 ms).
    pub idle_min_ns: u64,
    /// Calls of one name under one parent that suggest batching (default 5) ...
    pub batch_min_calls: u64,
    /// ... if their mean is at most this (default 50 ms).
    pub batch_max_mean_ns: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            share_high: 20.0,
            share_medium: 10.0,
            share_low: 5.0,
            mean_high_ns: 2_000_000_000,
            mean_medium_ns: 500_000_000,
            mean_low_ns: 100_000_000,
            frequent_min_count: 10,
            parallel_min_share: 0.05,
            parallel_min_ns: 1_000_000,
            idle_ratio: 10.0,
            idle_min_ns: 1_000_000,
            batch_min_calls: 5,
            batch_max_mean_ns: 50_000_000,
        }
    }
}
