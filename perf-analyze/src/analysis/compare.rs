//! Compares sessions: did a change make things faster or slower?
//!
//! Each side is one or more runs ([`RunStats`]). Per operation the comparison
//! gives count, p50, p95, total and self time with their deltas, plus the
//! session wall time and the LLM generation speed (tokens/s).
//!
//! A change is a **regression** when it is worse than the base by more than the
//! threshold (in percent) *and* by more than the noise seen on the base side:
//! with several base runs, the spread of the metric across them (max - min);
//! with one run, the spread within it: an operation's p95 against its p50,
//! relative, applied to its p50 and p95, and divided by the square root of
//! its call count for the per-run sums (total and self time, count), since a
//! sum over n calls varies about 1/sqrt(n) as much as one call. So an
//! operation whose duration already varies widely
//! is not flagged for a change that lies within its usual variation. The same
//! rule the other way round marks an **improvement**. A metric that is zero on the
//! base side (a base run that measured nothing) has nothing to compare with: it is
//! never a regression.
//!
//! ```
//! use perf_analyze::analysis::compare::{compare, OperationStats, RunStats, Verdict};
//!
//! let run = |p50_ms: u64| RunStats {
//!     label: "run".into(),
//!     wall_ns: 10_000_000_000,
//!     tokens_per_s: None,
//!     operations: vec![OperationStats {
//!         name: "llm_generation".into(), count: 10, total_ns: 10 * p50_ms * 1_000_000,
//!         self_ns: 10 * p50_ms * 1_000_000, p50_ns: p50_ms * 1_000_000, p95_ns: p50_ms * 1_100_000,
//!     }],
//! };
//! // p50 went from 100 ms to 150 ms; the base run's p95 was only 10% above its p50.
//! let comparison = compare(&[run(100)], &[run(150)], 10.0);
//! assert_eq!(comparison.operations[0].verdict, Verdict::Regression);
//! assert!(comparison.has_regression());
//! // 104 ms is within the threshold.
//! assert_eq!(compare(&[run(100)], &[run(104)], 10.0).operations[0].verdict, Verdict::Unchanged);
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::Summary;

/// What one run (one session file) says about its operations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunStats {
    /// The session name or path, for display.
    pub label: String,
    /// Wall time: first start to last end of each segment, summed over segments.
    pub wall_ns: u64,
    /// LLM generation speed over the run (output tokens per second of generation), if any LLM call said.
    pub tokens_per_s: Option<f64>,
    /// Per operation (span name).
    pub operations: Vec<OperationStats>,
}

impl RunStats {
    /// A run's statistics from its report summary. The token rate is the
    /// output tokens of all LLM calls over their generation time (calls
    /// without Ollama's timings count by their own tokens/s).
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn from_summary(label: impl Into<String>, summary: &Summary) -> RunStats {
        let (mut tokens, mut seconds) = (0.0, 0.0);
        for call in &summary.llm_calls {
            match (call.output_tokens, call.eval_ns, call.tokens_per_s) {
                (Some(out), Some(ns), _) if ns > 0 => {
                    tokens += out as f64;
                    seconds += ns as f64 / 1e9;
                }
                (Some(out), _, Some(rate)) if rate > 0.0 => {
                    tokens += out as f64;
                    seconds += out as f64 / rate;
                }
                _ => {}
            }
        }
        RunStats {
            label: label.into(),
            wall_ns: summary.wall_ns,
            tokens_per_s: (seconds > 0.0).then(|| tokens / seconds),
            operations: summary
                .by_name
                .iter()
                .map(|row| OperationStats {
                    name: row.name.clone(),
                    count: row.count,
                    total_ns: row.total_ns,
                    self_ns: row.self_ns,
                    p50_ns: row.p50_ns,
                    p95_ns: row.p95_ns,
                })
                .collect(),
        }
    }
}

/// One operation's statistics in one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperationStats {
    /// The span name.
    pub name: String,
    /// How many spans.
    pub count: u64,
    /// Wall time, same-name nesting counted once.
    pub total_ns: u64,
    /// Self time.
    pub self_ns: u64,
    /// Median duration.
    pub p50_ns: u64,
    /// 95th percentile duration.
    pub p95_ns: u64,
}

/// Whether a change is good, bad or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Worse beyond the threshold and the base's noise.
    Regression,
    /// Better beyond the threshold and the base's noise.
    Improvement,
    /// Within the threshold or the noise.
    Unchanged,
    /// Only on the new side.
    Added,
    /// Only on the base side.
    Removed,
}

/// One metric on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Delta {
    /// The base side's value (the median over its runs; counts and times per run).
    pub base: f64,
    /// The new side's value.
    pub new: f64,
    /// `new - base` in percent of `base`; `None` when `base` is 0.
    pub delta_pct: Option<f64>,
    /// The noise on the base side, in the metric's unit (see the [module docs](self)).
    pub noise: f64,
    /// The verdict for this metric.
    pub verdict: Verdict,
}

impl Delta {
    /// Compares two values; `higher_is_better` for speeds.
    #[must_use]
    pub fn new(
        base: f64,
        new: f64,
        noise: f64,
        threshold_pct: f64,
        higher_is_better: bool,
    ) -> Delta {
        let delta_pct = (base != 0.0).then(|| (new - base) / base * 100.0);
        let change = new - base;
        let beyond = |worse: bool| {
            let signed = if worse == higher_is_better {
                -change
            } else {
                change
            };
            // A base of zero (a run that measured nothing) gives nothing to compare with.
            signed > noise && delta_pct.is_some_and(|pct| pct.abs() > threshold_pct)
        };
        let verdict = if beyond(true) {
            Verdict::Regression
        } else if beyond(false) {
            Verdict::Improvement
        } else {
            Verdict::Unchanged
        };
        Delta {
            base,
            new,
            delta_pct,
            noise,
            verdict,
        }
    }
}

/// One operation compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationDelta {
    /// The span name.
    pub name: String,
    /// Spans per run.
    pub count: Delta,
    /// Median duration, ns.
    pub p50_ns: Delta,
    /// 95th percentile duration, ns.
    pub p95_ns: Delta,
    /// Total (wall) time per run, ns.
    pub total_ns: Delta,
    /// Self time per run, ns.
    pub self_ns: Delta,
    /// Regression if the median or the self time regressed; improvement if either
    /// improved and neither regressed.
    pub verdict: Verdict,
}

/// The comparison of two sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The base side's runs.
    pub base: Vec<String>,
    /// The new side's runs.
    pub new: Vec<String>,
    /// The threshold in percent.
    pub threshold_pct: f64,
    /// Session wall time per run, ns.
    pub wall_ns: Delta,
    /// LLM output tokens per second, when both sides have LLM calls.
    pub tokens_per_s: Option<Delta>,
    /// Every operation of either side, regressions first, then by base self time.
    pub operations: Vec<OperationDelta>,
}

impl Comparison {
    /// True if any operation, the wall time or the token rate regressed.
    #[must_use]
    pub fn has_regression(&self) -> bool {
        self.wall_ns.verdict == Verdict::Regression
            || self
                .tokens_per_s
                .is_some_and(|d| d.verdict == Verdict::Regression)
            || self
                .operations
                .iter()
                .any(|o| o.verdict == Verdict::Regression)
    }

    /// The regressed operations' names.
    #[must_use]
    pub fn regressions(&self) -> Vec<&str> {
        self.operations
            .iter()
            .filter(|o| o.verdict == Verdict::Regression)
            .map(|o| o.name.as_str())
            .collect()
    }
}

/// The median of some values (the mean of the middle two for an even count).
fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// One side's view of a metric: its center (median over runs) and its spread (max - min).
fn center_and_spread(mut values: Vec<f64>) -> (f64, f64) {
    let spread = values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - values.iter().copied().fold(f64::INFINITY, f64::min);
    let center = median(&mut values);
    (center, if spread.is_finite() { spread } else { 0.0 })
}

/// Each run's operations by name.
fn by_name(runs: &[RunStats]) -> Vec<BTreeMap<&str, &OperationStats>> {
    runs.iter()
        .map(|run| {
            run.operations
                .iter()
                .map(|o| (o.name.as_str(), o))
                .collect()
        })
        .collect()
}

/// Compares the `new` runs against the `base` runs. `threshold_pct` is the
/// smallest change, in percent, that can count as a regression.
#[must_use]
#[allow(clippy::cast_precision_loss)]
pub fn compare(base: &[RunStats], new: &[RunStats], threshold_pct: f64) -> Comparison {
    let single_base = base.len() == 1;
    let names: BTreeSet<&str> = base
        .iter()
        .chain(new)
        .flat_map(|run| run.operations.iter().map(|o| o.name.as_str()))
        .collect();
    let (base_ops, new_ops) = (by_name(base), by_name(new));

    let mut operations = Vec::with_capacity(names.len());
    for name in names {
        let in_base = base_ops.iter().any(|run| run.contains_key(name));
        let in_new = new_ops.iter().any(|run| run.contains_key(name));
        // A run without the operation counts as zero of it.
        let values = |runs: &[BTreeMap<&str, &OperationStats>], f: fn(&OperationStats) -> u64| {
            runs.iter()
                .map(|run| run.get(name).map_or(0.0, |o| f(o) as f64))
                .collect::<Vec<f64>>()
        };
        // With one base run the within-run spread, p95 against p50, stands
        // for the noise, relative to the metric.
        let within = base_ops
            .first()
            .and_then(|run| run.get(name))
            .filter(|o| o.p50_ns > 0)
            .map_or(0.0, |o| {
                (o.p95_ns.saturating_sub(o.p50_ns)) as f64 / o.p50_ns as f64
            });
        // A sum over n calls varies about 1/sqrt(n) as much as one call does.
        let calls = base_ops
            .first()
            .and_then(|run| run.get(name))
            .map_or(1.0, |o| (o.count.max(1) as f64).sqrt());
        let metric = |f: fn(&OperationStats) -> u64, summed: bool| {
            let (base_center, base_spread) = center_and_spread(values(&base_ops, f));
            let (new_center, _) = center_and_spread(values(&new_ops, f));
            let noise = match (single_base, summed) {
                (false, _) => base_spread,
                (true, false) => base_center * within,
                (true, true) => base_center * within / calls,
            };
            Delta::new(base_center, new_center, noise, threshold_pct, false)
        };
        let count = metric(|o| o.count, true);
        let p50 = metric(|o| o.p50_ns, false);
        let p95 = metric(|o| o.p95_ns, false);
        let total = metric(|o| o.total_ns, true);
        let self_time = metric(|o| o.self_ns, true);
        let judged = [p50.verdict, self_time.verdict];
        let verdict = if !in_base {
            Verdict::Added
        } else if !in_new {
            Verdict::Removed
        } else if judged.contains(&Verdict::Regression) {
            Verdict::Regression
        } else if judged.contains(&Verdict::Improvement) {
            Verdict::Improvement
        } else {
            Verdict::Unchanged
        };
        operations.push(OperationDelta {
            name: name.to_owned(),
            count,
            p50_ns: p50,
            p95_ns: p95,
            total_ns: total,
            self_ns: self_time,
            verdict,
        });
    }
    operations.sort_by(|a, b| {
        (b.verdict == Verdict::Regression)
            .cmp(&(a.verdict == Verdict::Regression))
            .then(
                b.self_ns
                    .base
                    .max(b.self_ns.new)
                    .total_cmp(&a.self_ns.base.max(a.self_ns.new)),
            )
            .then_with(|| a.name.cmp(&b.name))
    });

    let (base_wall, wall_spread) =
        center_and_spread(base.iter().map(|r| r.wall_ns as f64).collect());
    let (new_wall, _) = center_and_spread(new.iter().map(|r| r.wall_ns as f64).collect());
    // One base run has no spread of its wall time: the threshold alone decides.
    let wall_ns = Delta::new(base_wall, new_wall, wall_spread, threshold_pct, false);

    let rates = |runs: &[RunStats]| {
        runs.iter()
            .filter_map(|r| r.tokens_per_s)
            .collect::<Vec<f64>>()
    };
    let (base_rates, new_rates) = (rates(base), rates(new));
    let tokens_per_s = (!base_rates.is_empty() && !new_rates.is_empty()).then(|| {
        let (base_rate, spread) = center_and_spread(base_rates);
        let (new_rate, _) = center_and_spread(new_rates);
        Delta::new(base_rate, new_rate, spread, threshold_pct, true)
    });

    Comparison {
        base: base.iter().map(|r| r.label.clone()).collect(),
        new: new.iter().map(|r| r.label.clone()).collect(),
        threshold_pct,
        wall_ns,
        tokens_per_s,
        operations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str, count: u64, p50_ms: u64, p95_ms: u64) -> OperationStats {
        OperationStats {
            name: name.into(),
            count,
            total_ns: count * p50_ms * 1_000_000,
            self_ns: count * p50_ms * 1_000_000,
            p50_ns: p50_ms * 1_000_000,
            p95_ns: p95_ms * 1_000_000,
        }
    }

    fn run(wall_ms: u64, ops: Vec<OperationStats>) -> RunStats {
        RunStats {
            label: "r".into(),
            wall_ns: wall_ms * 1_000_000,
            tokens_per_s: None,
            operations: ops,
        }
    }

    #[test]
    fn a_base_with_zero_wall_time_is_not_a_regression() {
        let base = [run(0, vec![op("search", 10, 100, 110)])];
        let new = [run(1000, vec![op("search", 10, 100, 110)])];
        let c = compare(&base, &new, 10.0);
        assert_eq!(c.wall_ns.verdict, Verdict::Unchanged);
        assert_eq!(c.wall_ns.delta_pct, None);
        assert!(!c.has_regression());
    }

    #[test]
    fn a_noisy_operation_is_not_flagged_for_a_change_within_its_spread() {
        // p95 is 3x p50 in the base run: a 50% slower median is within its noise.
        let base = [run(1000, vec![op("search", 10, 100, 300)])];
        let new = [run(1000, vec![op("search", 10, 150, 330)])];
        let c = compare(&base, &new, 10.0);
        assert_eq!(c.operations[0].verdict, Verdict::Unchanged);
        assert!(!c.has_regression());
    }

    #[test]
    fn spread_across_base_runs_is_the_noise() {
        let base = [
            run(1000, vec![op("llm", 1, 100, 100)]),
            run(1000, vec![op("llm", 1, 140, 140)]),
            run(1000, vec![op("llm", 1, 120, 120)]),
        ];
        // Median 120 ms, spread 40 ms: 150 ms is beyond both 10% and 40 ms ...
        let slow = compare(&base, &[run(1000, vec![op("llm", 1, 170, 170)])], 10.0);
        assert_eq!(slow.operations[0].verdict, Verdict::Regression);
        assert_eq!(slow.operations[0].p50_ns.base, 120e6);
        assert_eq!(slow.operations[0].p50_ns.noise, 40e6);
        // ... but 150 ms is not beyond the 40 ms spread.
        let within = compare(&base, &[run(1000, vec![op("llm", 1, 150, 150)])], 10.0);
        assert_eq!(within.operations[0].verdict, Verdict::Unchanged);
    }

    #[test]
    fn faster_is_an_improvement_and_added_or_removed_operations_are_named() {
        let base = [run(1000, vec![op("a", 1, 100, 100), op("old", 1, 5, 5)])];
        let new = [run(600, vec![op("a", 1, 50, 50), op("fresh", 1, 5, 5)])];
        let c = compare(&base, &new, 10.0);
        let verdict = |name: &str| {
            c.operations
                .iter()
                .find(|o| o.name == name)
                .unwrap()
                .verdict
        };
        assert_eq!(verdict("a"), Verdict::Improvement);
        assert_eq!(verdict("old"), Verdict::Removed);
        assert_eq!(verdict("fresh"), Verdict::Added);
        assert_eq!(c.wall_ns.verdict, Verdict::Improvement);
        assert!(!c.has_regression());
    }

    #[test]
    fn slower_token_rate_is_a_regression() {
        let mut base = run(1000, vec![]);
        base.tokens_per_s = Some(40.0);
        let mut new = base.clone();
        new.tokens_per_s = Some(20.0);
        let c = compare(&[base], &[new], 10.0);
        assert_eq!(c.tokens_per_s.unwrap().verdict, Verdict::Regression);
        assert!(c.has_regression());
    }

    #[test]
    fn more_calls_at_the_same_median_regress_self_time() {
        let base = [run(1000, vec![op("embed", 10, 10, 11)])];
        let new = [run(1000, vec![op("embed", 30, 10, 11)])];
        let c = compare(&base, &new, 10.0);
        assert_eq!(c.operations[0].p50_ns.verdict, Verdict::Unchanged);
        assert_eq!(c.operations[0].self_ns.verdict, Verdict::Regression);
        assert_eq!(c.operations[0].verdict, Verdict::Regression);
    }
}
