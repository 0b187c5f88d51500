//! Bottlenecks: operations that deserve a look, with every reason that applies.
//!
//! Three rules, each with thresholds in [`Thresholds`]: the operation's own time
//! (self time, working or waiting) as a share of wall time, its mean duration, and
//! its frequency times its mean. The severity is the highest any rule gives: a later
//! rule never lowers it. Own time summed over concurrent spans can pass the wall
//! time: the reason then says so rather than print a share above 100%. An operation
//! seen only in background work is at most `medium`: no user waits for it directly
//! (the recommendations say when user-facing work waits behind it).

use serde::{Deserialize, Serialize};

use super::stats::{NameStats, Stats};
use crate::duration::{human, percent};
use crate::Thresholds;

/// How much an operation matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Worth fixing.
    Medium,
    /// Fix this first.
    High,
}

impl Severity {
    /// `high`, `medium` or `low`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// One bottleneck, as in the summary's `bottlenecks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bottleneck {
    /// The operation (span name).
    pub name: String,
    /// The highest severity any rule gave.
    pub severity: Severity,
    /// Every reason that applies, one sentence each.
    pub reasons: Vec<String>,
    /// Its self time.
    #[serde(default)]
    pub self_ns: u64,
}

fn level(value: f64, high: f64, medium: f64, low: f64) -> Option<Severity> {
    if value >= high {
        Some(Severity::High)
    } else if value >= medium {
        Some(Severity::Medium)
    } else if value >= low {
        Some(Severity::Low)
    } else {
        None
    }
}

fn judge(
    stats: &NameStats,
    name: String,
    wall_ns: u64,
    t: &Thresholds,
    busy_known: bool,
    background_only: bool,
) -> Option<Bottleneck> {
    let mut severity: Option<Severity> = None;
    let mut reasons = Vec::new();
    let mut raise = |s: Severity, reason: String| {
        severity = Some(severity.map_or(s, |old| old.max(s)));
        reasons.push(reason);
    };
    let share = percent(stats.self_ns, wall_ns);
    if let Some(s) = level(share, t.share_high, t.share_medium, t.share_low) {
        let own = if share > 100.0 {
            format!(
                "own time {} over {} spans, more than the wall time {}: they ran concurrently",
                human(stats.self_ns),
                stats.count,
                human(wall_ns)
            )
        } else {
            format!(
                "own time {} ({share:.1}% of wall time)",
                human(stats.self_ns)
            )
        };
        let busy = if busy_known {
            format!("; busy {} in all", human(stats.busy_ns))
        } else {
            String::new()
        };
        raise(s, format!("{own}{busy}"));
    }
    let mean = stats.mean_ns();
    let mean_f = mean as f64;
    if let Some(s) = level(
        mean_f,
        t.mean_high_ns as f64,
        t.mean_medium_ns as f64,
        t.mean_low_ns as f64,
    ) {
        raise(
            s,
            format!(
                "mean duration {} (p95 {}, max {})",
                human(mean),
                human(stats.p95_ns()),
                human(stats.max_ns)
            ),
        );
    }
    if stats.count >= t.frequent_min_count {
        let sum_share = percent(stats.sum_ns, wall_ns);
        if let Some(s) = level(sum_share, f64::INFINITY, t.share_medium, t.share_low) {
            let of_wall = if sum_share > 100.0 {
                "more than the wall time: calls ran concurrently".to_owned()
            } else {
                format!("{sum_share:.1}% of wall time")
            };
            raise(
                s,
                format!(
                    "called {} times x mean {} = {} ({of_wall})",
                    stats.count,
                    human(mean),
                    human(stats.sum_ns)
                ),
            );
        }
    }
    let mut severity = severity?;
    if background_only {
        severity = severity.min(Severity::Medium);
        reasons.push("background work only".into());
    }
    Some(Bottleneck {
        name,
        severity,
        reasons,
        self_ns: stats.self_ns,
    })
}

/// The bottlenecks among all operations, most severe first, then by self time.
/// `busy_known` is false where the file records no busy time (the Python tracker's);
/// `background_only` tells the operations seen only in background work.
#[must_use]
pub fn find(
    stats: &Stats,
    wall_ns: u64,
    t: &Thresholds,
    busy_known: bool,
    background_only: impl Fn(&NameStats) -> bool,
) -> Vec<Bottleneck> {
    let mut found: Vec<Bottleneck> = stats
        .names()
        .iter()
        .filter_map(|s| {
            let background = background_only(s);
            judge(s, stats.label(s), wall_ns, t, busy_known, background)
        })
        .collect();
    found.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| b.self_ns.cmp(&a.self_ns))
            .then_with(|| a.name.cmp(&b.name))
    });
    found
}
