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
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::input::Tree;
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

/// A root as the classification needs it.
#[derive(Debug, Clone, Copy)]
struct Root {
    name: u32,
    follows: bool,
}

/// A background root whose end the classification has not passed yet: foreground roots
/// that start before its end may still overlap it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Running {
    end: u64,
    start: u64,
    /// Foreground time before `start`.
    covered_at_start: u64,
    name: u32,
}

const NAME_LIMIT: usize = 10_000;

/// Collects what the async analysis needs, in memory that does not grow with the number
/// of roots: roots are classified as they come, in start order, and after that only
/// background roots still running (at the time the classification has reached) stay
/// held. Each segment is classified on its own.
#[derive(Debug, Clone, Default)]
pub struct Background {
    root_names: Vec<Arc<str>>,
    root_index: HashMap<Arc<str>, u32>,
    classes: Classes,
    idle: HashMap<Arc<str>, IdleRow>,
    batching: HashMap<(Arc<str>, Arc<str>), BatchRow>,
    counts: HashMap<Arc<str>, (u64, u64)>,
}

/// Roots classified in start order. Foreground roots never overlap each other (one
/// that starts while another runs is background), so the foreground time before any
/// instant since the latest foreground start is `foreground_ns` minus what the latest
/// foreground root has left: a background root's overlap is the difference of that
/// count at its end and at its start.
#[derive(Debug, Clone, Default)]
struct Classes {
    foreground_roots: u64,
    /// Summed durations of the foreground roots so far.
    foreground_ns: u64,
    /// The latest foreground root.
    latest: Option<(u64, u64)>,
    running: BinaryHeap<Reverse<Running>>,
    rows: HashMap<u32, BackgroundRow>,
    background_roots: u64,
    overlapped_ns: u64,
    serialized_ns: u64,
}

impl Classes {
    /// Foreground time before `at` (for `at` no earlier than the latest foreground start).
    fn covered(&self, at: u64) -> u64 {
        let rest = self.latest.map_or(0, |(_, end)| end.saturating_sub(at));
        self.foreground_ns.saturating_sub(rest)
    }

    fn add(&mut self, start: u64, end: u64, root: Root, names: &[Arc<str>]) {
        let end = end.max(start);
        self.finish_until(start, names);
        let fg_end = self.latest.map(|(_, end)| end);
        if root.follows || fg_end.is_some_and(|fg_end| start < fg_end) {
            self.background_roots += 1;
            let covered_at_start = self.covered(start);
            self.running.push(Reverse(Running {
                end,
                start,
                covered_at_start,
                name: root.name,
            }));
        } else {
            self.foreground_roots += 1;
            self.foreground_ns = self.foreground_ns.saturating_add(end - start);
            self.latest = Some((start, end));
        }
    }

    /// Sums up the background roots that end by `at`: no foreground root starting at or
    /// after it can overlap them.
    fn finish_until(&mut self, at: u64, names: &[Arc<str>]) {
        while let Some(Reverse(run)) = self.running.peek().copied() {
            if run.end > at {
                break;
            }
            self.running.pop();
            let duration = run.end - run.start;
            let overlapped = self
                .covered(run.end)
                .saturating_sub(run.covered_at_start)
                .min(duration);
            let row = self.rows.entry(run.name).or_insert_with(|| BackgroundRow {
                name: names[run.name as usize].to_string(),
                count: 0,
                total_ns: 0,
                overlapped_ns: 0,
                serialized_ns: 0,
            });
            row.count += 1;
            row.total_ns = row.total_ns.saturating_add(duration);
            row.overlapped_ns = row.overlapped_ns.saturating_add(overlapped);
            row.serialized_ns = row.serialized_ns.saturating_add(duration - overlapped);
            self.overlapped_ns = self.overlapped_ns.saturating_add(overlapped);
            self.serialized_ns = self.serialized_ns.saturating_add(duration - overlapped);
        }
    }
}

impl Background {
    /// Classifies a root. Roots come in start order (a
    /// [`StartOrder`](super::intervals::StartOrder) puts them in it), and each
    /// segment's apart: [`Background::finish_segment`] between them.
    pub fn add_root(&mut self, start: u64, end: u64, name: &Arc<str>, follows: bool) {
        let name = match self.root_index.get(name) {
            Some(&i) => i,
            None => {
                let i = self.root_names.len() as u32;
                self.root_names.push(name.clone());
                self.root_index.insert(name.clone(), i);
                i
            }
        };
        self.classes
            .add(start, end, Root { name, follows }, &self.root_names);
    }

    /// Adds the spans of a tree, root or not: waiting spans and batching candidates.
    pub fn add_spans(&mut self, tree: &Tree, t: &Thresholds) {
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
                    row.idle_ns = row.idle_ns.saturating_add(idle);
                    row.busy_ns = row.busy_ns.saturating_add(span.busy_ns);
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
                entry.1 = entry.1.saturating_add(child.duration_ns());
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
                row.total_ns = row.total_ns.saturating_add(total);
                row.mean_ns = row.total_ns / row.calls;
            }
        }
    }

    /// Ends a segment: its roots are classified on their own, apart from the next
    /// segment's (another run of the program, which may even have its clock set back).
    pub fn finish_segment(&mut self) {
        self.classes.finish_until(u64::MAX, &self.root_names);
        self.classes.latest = None;
    }

    /// Classifies the roots still held and sums up.
    #[must_use]
    pub fn finish(&mut self) -> AsyncSummary {
        self.finish_segment();
        let classes = &mut self.classes;
        let rows = std::mem::take(&mut classes.rows);
        let mut summary = AsyncSummary {
            foreground_roots: classes.foreground_roots,
            background_roots: classes.background_roots,
            overlapped_ns: classes.overlapped_ns,
            serialized_ns: classes.serialized_ns,
            ..AsyncSummary::default()
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::intervals::{StartOrder, REORDER_CAPACITY};
    use proptest::prelude::*;

    /// The definition, on all roots at once: sorted by start (longest first), a root is
    /// background if it follows from a span or starts before the foreground's latest end.
    fn reference(roots: &[(u64, u64, bool)]) -> (u64, u64, u64, u64) {
        let mut sorted = roots.to_vec();
        sorted.sort_by_key(|&(s, e, _)| (s, Reverse(e)));
        let (mut foreground, mut background) = (Vec::new(), Vec::new());
        let mut fg_end = None;
        for (s, e, follows) in sorted {
            if follows || fg_end.is_some_and(|end| s < end) {
                background.push((s, e));
            } else {
                fg_end = Some(e);
                foreground.push((s, e));
            }
        }
        let overlapped: u64 = background
            .iter()
            .flat_map(|b| foreground.iter().map(move |f| (b, f)))
            .map(|(b, f)| b.1.min(f.1).saturating_sub(b.0.max(f.0)))
            .sum();
        let total: u64 = background.iter().map(|(s, e)| e - s).sum();
        (
            foreground.len() as u64,
            background.len() as u64,
            overlapped,
            total - overlapped,
        )
    }

    type Order = StartOrder<(Arc<str>, bool)>;

    /// Roots as they close (by end), through a reorder buffer of `capacity`.
    fn stream(roots: &[(u64, u64, bool)], capacity: usize) -> (Background, Order) {
        let mut arrival = roots.to_vec();
        arrival.sort_by_key(|&(_, e, _)| e);
        let mut background = Background::default();
        let mut order = StartOrder::new(capacity);
        for (s, e, follows) in arrival {
            let name: Arc<str> = if follows { "task" } else { "turn" }.into();
            order.push(s, e, (name, follows), |s, e, (name, follows)| {
                background.add_root(s, e, &name, follows);
            });
        }
        (background, order)
    }

    /// Places what the buffer still holds and sums up.
    fn finish(background: &mut Background, order: &mut Order) -> AsyncSummary {
        order.finish(|s, e, (name, follows)| background.add_root(s, e, &name, follows));
        background.finish()
    }

    #[test]
    fn a_long_session_is_classified_while_it_streams() {
        // Turns of 100 ns every 150 ns, each spawning a task of 120 ns that runs into the
        // next turn; a buffer of 2 releases roots all along.
        let mut roots = Vec::new();
        for turn in 0..1_000u64 {
            roots.push((turn * 150, turn * 150 + 100, false));
            roots.push((turn * 150 + 90, turn * 150 + 210, true));
        }
        let (mut background, mut order) = stream(&roots, 2);
        assert!(
            background.classes.foreground_roots > 900,
            "released while streaming"
        );
        let summary = finish(&mut background, &mut order);
        assert_eq!(order.late(), 0);
        let got = (
            summary.foreground_roots,
            summary.background_roots,
            summary.overlapped_ns,
            summary.serialized_ns,
        );
        assert_eq!(got, reference(&roots));
        // 10 ns in its own turn and 60 in the next, except after the last turn.
        assert_eq!(got.2, 1_000 * 10 + 999 * 60);
    }

    proptest! {
        #[test]
        fn classifies_roots_arriving_as_they_close_as_the_definition_does(
            roots in proptest::collection::vec((0u64..1_000, 0u64..300, any::<bool>()), 0..40),
            capacity in prop_oneof![Just(REORDER_CAPACITY), 1usize..6],
        ) {
            let roots: Vec<(u64, u64, bool)> = roots.into_iter().map(|(s, l, f)| (s, s + l, f)).collect();
            let (mut background, mut order) = stream(&roots, capacity);
            let summary = finish(&mut background, &mut order);
            let got = (summary.foreground_roots, summary.background_roots, summary.overlapped_ns, summary.serialized_ns);
            prop_assert_eq!(got.0 + got.1, roots.len() as u64);
            // Exact unless a root stayed open while more than `capacity` later ones closed.
            if order.late() == 0 {
                prop_assert_eq!(got, reference(&roots));
            }
            let row_total: u64 = summary.background.iter().map(|r| r.overlapped_ns + r.serialized_ns).sum();
            prop_assert_eq!(row_total, got.2 + got.3);
        }
    }
}
