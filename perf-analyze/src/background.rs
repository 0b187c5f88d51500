//! Async analysis: background work against foreground work, waiting spans, batching.
//!
//! - A root is *background* if it follows from another span (`follows_from`) or
//!   starts while a foreground root is running; other roots are *foreground*.
//!   For background work: how much of it overlapped foreground work, and how much
//!   ran while nothing in the foreground did (serialized: a program that waits for
//!   it, as in piped mode, pays for it in full).
//! - A span idle far longer than busy was waiting, not working.
//! - Many small calls of one name under one parent want batching.

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::intervals::IntervalSet;
use crate::tree::Tree;
use crate::Thresholds;

/// Background work of one root name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackgroundRow {
    /// The root span's name.
    pub name: String,
    /// How many roots.
    pub count: u64,
    /// Their summed durations.
    pub total_ns: u64,
    /// Time that overlapped foreground work.
    pub overlapped_ns: u64,
    /// Time that ran while no foreground root ran.
    pub serialized_ns: u64,
}

/// Spans idle far longer than busy, per name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdleRow {
    /// The span name.
    pub name: String,
    /// How many such spans.
    pub count: u64,
    /// Their summed idle time.
    pub idle_ns: u64,
    /// Their summed busy time.
    pub busy_ns: u64,
}

/// Many small calls of one name under one parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRow {
    /// The parent's name.
    pub parent: String,
    /// The repeated operation.
    pub operation: String,
    /// Parents where it was repeated.
    pub occurrences: u64,
    /// Calls over all those parents.
    pub calls: u64,
    /// Their summed durations.
    pub total_ns: u64,
    /// Their mean duration.
    pub mean_ns: u64,
}

/// The async analysis, as in the summary's `background`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsyncSummary {
    /// Foreground roots.
    pub foreground_roots: u64,
    /// Background roots.
    pub background_roots: u64,
    /// Background time that overlapped foreground work.
    pub overlapped_ns: u64,
    /// Background time that ran while no foreground root ran.
    pub serialized_ns: u64,
    /// Per background root name, largest first.
    pub background: Vec<BackgroundRow>,
    /// Waiting spans, most idle first.
    pub idle: Vec<IdleRow>,
    /// Batching candidates, largest total first.
    pub batching: Vec<BatchRow>,
}

#[derive(Debug, Clone, Copy)]
struct Root {
    start: u64,
    end: u64,
    name: u32,
    follows: bool,
}

const NAME_LIMIT: usize = 10_000;

/// Collects what the async analysis needs, tree by tree: roots' intervals (24 bytes per root),
/// and per-name totals of idle spans and batching candidates.
#[derive(Debug, Clone, Default)]
pub struct Background {
    roots: Vec<Root>,
    root_names: Vec<Arc<str>>,
    root_index: HashMap<Arc<str>, u32>,
    idle: HashMap<Arc<str>, IdleRow>,
    batching: HashMap<(Arc<str>, Arc<str>), BatchRow>,
    counts: HashMap<Arc<str>, (u64, u64)>,
}

impl Background {
    /// Adds a complete tree: its root, then its spans.
    pub fn add_tree(&mut self, tree: &Tree, t: &Thresholds) {
        let root = tree.root();
        let name = match self.root_index.get(&root.name) {
            Some(&i) => i,
            None => {
                let i = self.root_names.len() as u32;
                self.root_names.push(root.name.clone());
                self.root_index.insert(root.name.clone(), i);
                i
            }
        };
        self.roots.push(Root {
            start: root.start_ns,
            end: root.end_ns,
            name,
            follows: !root.follows_from.is_empty(),
        });
        self.add_fragment(tree, t);
    }

    /// Adds the spans of a tree that is not a root (part of an operation still running):
    /// waiting spans and batching candidates, but no root to classify.
    pub fn add_fragment(&mut self, tree: &Tree, t: &Thresholds) {
        for (index, node) in tree.nodes().iter().enumerate() {
            let span = &node.span;
            let idle = span.idle();
            let waiting =
                idle >= t.idle_min_ns && idle as f64 >= t.idle_ratio * span.busy_ns as f64;
            let tracked = self.idle.len() < NAME_LIMIT || self.idle.contains_key(&span.name);
            if waiting && tracked {
                {
                    let row = self
                        .idle
                        .entry(span.name.clone())
                        .or_insert_with(|| IdleRow {
                            name: span.name.to_string(),
                            count: 0,
                            idle_ns: 0,
                            busy_ns: 0,
                        });
                    row.count += 1;
                    row.idle_ns += idle;
                    row.busy_ns += span.busy_ns;
                }
            }
            let children = tree.children(index);
            if children.len() < t.batch_min_calls as usize {
                continue;
            }
            self.counts.clear();
            for &c in children {
                let child = tree.span(c as usize);
                let entry = self.counts.entry(child.name.clone()).or_default();
                entry.0 += 1;
                entry.1 += child.duration_ns();
            }
            for (child, &(calls, total)) in &self.counts {
                if calls < t.batch_min_calls || total / calls > t.batch_max_mean_ns {
                    continue;
                }
                let key = (span.name.clone(), child.clone());
                if self.batching.len() >= NAME_LIMIT && !self.batching.contains_key(&key) {
                    continue;
                }
                let row = self.batching.entry(key).or_insert_with(|| BatchRow {
                    parent: span.name.to_string(),
                    operation: child.to_string(),
                    occurrences: 0,
                    calls: 0,
                    total_ns: 0,
                    mean_ns: 0,
                });
                row.occurrences += 1;
                row.calls += calls;
                row.total_ns += total;
                row.mean_ns = row.total_ns / row.calls;
            }
        }
    }

    /// Classifies the roots and sums up.
    #[must_use]
    pub fn finish(&mut self) -> AsyncSummary {
        let mut roots = std::mem::take(&mut self.roots);
        roots.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
        let mut foreground = IntervalSet::default();
        let mut fg_end = 0u64;
        let mut fg_count = 0u64;
        let mut background: Vec<Root> = Vec::new();
        for root in roots.drain(..) {
            if root.follows || (fg_count > 0 && root.start < fg_end) {
                background.push(root);
            } else {
                fg_count += 1;
                fg_end = fg_end.max(root.end);
                foreground.insert(root.start, root.end);
            }
        }
        let mut rows: HashMap<u32, BackgroundRow> = HashMap::default();
        let mut summary = AsyncSummary {
            foreground_roots: fg_count,
            background_roots: background.len() as u64,
            ..AsyncSummary::default()
        };
        for root in &background {
            let duration = root.end.saturating_sub(root.start);
            let overlapped = foreground.overlap(root.start, root.end);
            let row = rows.entry(root.name).or_insert_with(|| BackgroundRow {
                name: self.root_names[root.name as usize].to_string(),
                count: 0,
                total_ns: 0,
                overlapped_ns: 0,
                serialized_ns: 0,
            });
            row.count += 1;
            row.total_ns += duration;
            row.overlapped_ns += overlapped;
            row.serialized_ns += duration - overlapped;
            summary.overlapped_ns += overlapped;
            summary.serialized_ns += duration - overlapped;
        }
        summary.background = rows.into_values().collect();
        summary.background.sort_by(|a, b| {
            b.total_ns
                .cmp(&a.total_ns)
                .then_with(|| a.name.cmp(&b.name))
        });
        summary.idle = self.idle.values().cloned().collect();
        summary
            .idle
            .sort_by(|a, b| b.idle_ns.cmp(&a.idle_ns).then_with(|| a.name.cmp(&b.name)));
        summary.batching = self.batching.values().cloned().collect();
        summary.batching.sort_by(|a, b| {
            b.total_ns
                .cmp(&a.total_ns)
                .then_with(|| (&a.parent, &a.operation).cmp(&(&b.parent, &b.operation)))
        });
        summary
    }
}
