//! Async analysis: background work against foreground work, waiting spans, batching.
//!
//! - A root is *background* if it follows from another span (`follows_from`) or
//!   starts while a foreground root of another name is running; other roots are
//!   *foreground*. Roots of one name running side by side are requests, served
//!   concurrently: once a root starts while another of its name runs (neither
//!   following from a span), every root of that name is foreground (a client's `get`
//!   and `set` beside each other are both requests).
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
    counts: Calls,
    /// The children handed over in pieces while their parent was open, counted per name
    /// as in `counts`: (segment, open parent id) -> its children's calls.
    pending: HashMap<(u32, u64), Calls>,
}

/// A parent's children by name: (calls, summed durations).
type Calls = HashMap<Arc<str>, (u64, u64)>;

/// Counts one call of `name` lasting `ns` among a parent's children.
fn add_call(counts: &mut Calls, name: &Arc<str>, ns: u64) {
    let entry = counts.entry(name.clone()).or_default();
    entry.0 += 1;
    entry.1 = entry.1.saturating_add(ns);
}

/// Roots classified in start order. Foreground roots overlap only roots of their own
/// name (one of another name that starts while they run is background), and those are
/// merged into one block: the foreground time before any instant since the latest
/// block's start is `foreground_ns` (the length of their union) minus what the block
/// has left. A background root's overlap is the difference of that count at its end
/// and at its start.
#[derive(Debug, Clone, Default)]
struct Classes {
    foreground_roots: u64,
    /// The length of the union of the foreground roots so far.
    foreground_ns: u64,
    /// The latest block of foreground roots (their union: start, end).
    latest: Option<(u64, u64)>,
    /// Names of requests: roots seen starting while a root of their name ran. A root of
    /// such a name is foreground whatever runs beside it.
    requests: rustc_hash::FxHashSet<u32>,
    /// The latest end of the roots of each name that do not follow from a span.
    last_end: HashMap<u32, u64>,
    /// Names of roots classified background without following from a span: started
    /// beside another name's foreground work.
    beside: rustc_hash::FxHashSet<u32>,
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
        let running = fg_end.is_some_and(|fg_end| start < fg_end);
        if !root.follows {
            let last_end = self.last_end.entry(root.name).or_default();
            if start < *last_end && self.requests.len() < NAME_LIMIT {
                self.requests.insert(root.name);
            }
            *last_end = (*last_end).max(end);
        }
        if !root.follows && running && self.requests.contains(&root.name) {
            // A request beside others: foreground, the block grows.
            let (block_start, block_end) = self.latest.unwrap_or((start, end));
            self.foreground_roots += 1;
            self.foreground_ns = self
                .foreground_ns
                .saturating_add(end.saturating_sub(block_end));
            self.latest = Some((block_start, block_end.max(end)));
        } else if root.follows || running {
            self.background_roots += 1;
            if !root.follows && self.beside.len() < NAME_LIMIT {
                self.beside.insert(root.name);
            }
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

    /// True if roots of this name are background work by the classification so far:
    /// one started beside another name's foreground work, and none started beside one of
    /// its own name (a request). Roots are classified in start order, a little after
    /// they close, so a name's first roots may come before it is known.
    #[must_use]
    pub fn is_background_name(&self, name: &str) -> bool {
        self.root_index
            .get(name)
            .is_some_and(|i| self.classes.beside.contains(i) && !self.classes.requests.contains(i))
    }

    /// Adds the spans of a tree, root or not: waiting spans and batching candidates. A
    /// piece's root ([`Tree::open_parent`]) is kept, per name, with its parent's other
    /// children handed over early, for when the parent comes. A long-lived root (a
    /// connection: its children are the requests) is neither: it waits for requests by
    /// nature, and its requests are not calls to batch.
    pub fn add_spans(&mut self, tree: &Tree, t: &Thresholds, long_lived_root: bool) {
        if let Some(key) = tree.waits_for() {
            // A piece: its root is a child of a parent still open, counted when it comes.
            let root = tree.root();
            add_call(
                self.pending.entry(key).or_default(),
                &root.name,
                root.duration_ns(),
            );
        }
        for (index, node) in tree.nodes().iter().enumerate() {
            if index == 0 && long_lived_root {
                if let Some(key) = tree.awaited_at(0) {
                    self.pending.remove(&key);
                }
                continue;
            }
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
            let early = tree
                .awaited_at(index)
                .and_then(|key| self.pending.remove(&key));
            let early_calls: u64 = early.iter().flat_map(|e| e.values()).map(|c| c.0).sum();
            if children.len() as u64 + early_calls < t.batch_min_calls {
                continue;
            }
            match early {
                Some(early) => self.counts = early,
                None => self.counts.clear(),
            }
            for &c in children {
                let child = tree.span(c as usize);
                add_call(&mut self.counts, &child.name, child.duration_ns());
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
        // Children whose parent never came were not its children: they came as trees.
        self.pending.clear();
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

    /// The name of a root: the tests' roots that follow from a span are `task`, the
    /// others `turn`, or `request` if `requests`.
    fn root_name(follows: bool, requests: bool) -> &'static str {
        match (follows, requests) {
            (true, _) => "task",
            (false, false) => "turn",
            (false, true) => "request",
        }
    }

    /// The definition, on all roots at once: sorted by start (longest first), a root is
    /// background if it follows from a span, or starts before the foreground's latest
    /// end and no root of its name (not following from a span) has started before it
    /// and was still running; overlap is with the union of the foreground roots.
    fn reference(roots: &[(u64, u64, bool, bool)]) -> (u64, u64, u64, u64) {
        let mut sorted = roots.to_vec();
        sorted.sort_by_key(|&(s, e, _, _)| (s, Reverse(e)));
        let (mut foreground, mut background) = (Vec::new(), Vec::new());
        let mut latest: Option<u64> = None;
        let mut request_names = Vec::new();
        let mut started: Vec<(u64, &str)> = Vec::new();
        for (s, e, follows, requests) in sorted {
            let name = root_name(follows, requests);
            let running = latest.filter(|&end| s < end);
            if !follows {
                if started.iter().any(|&(end, n)| n == name && s < end) {
                    request_names.push(name);
                }
                started.push((e, name));
            }
            if follows || (running.is_some() && !request_names.contains(&name)) {
                background.push((s, e));
            } else {
                latest = Some(running.map_or(e, |end| end.max(e)));
                foreground.push((s, e));
            }
        }
        // The foreground's union, as disjoint intervals.
        foreground.sort_unstable();
        let mut union: Vec<(u64, u64)> = Vec::new();
        for (s, e) in foreground.iter().copied() {
            match union.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => union.push((s, e)),
            }
        }
        let overlapped: u64 = background
            .iter()
            .flat_map(|b| union.iter().map(move |f| (b, f)))
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
    fn stream(roots: &[(u64, u64, bool, bool)], capacity: usize) -> (Background, Order) {
        let mut arrival = roots.to_vec();
        arrival.sort_by_key(|&(_, e, _, _)| e);
        let mut background = Background::default();
        let mut order = StartOrder::new(capacity);
        for (s, e, follows, requests) in arrival {
            let name: Arc<str> = root_name(follows, requests).into();
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
            roots.push((turn * 150, turn * 150 + 100, false, false));
            roots.push((turn * 150 + 90, turn * 150 + 210, true, false));
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

    #[test]
    fn concurrent_roots_of_one_name_are_foreground_and_another_name_beside_them_is_not() {
        // Three requests side by side, the second and third starting while the first
        // runs, and a `turn` started while they run: background.
        let roots = [
            (0, 100, false, true),
            (10, 150, false, true),
            (20, 60, false, true),
            (120, 400, false, false),
        ];
        let (mut background, mut order) = stream(&roots, REORDER_CAPACITY);
        let summary = finish(&mut background, &mut order);
        assert_eq!((summary.foreground_roots, summary.background_roots), (3, 1));
        // The turn overlapped the requests' union [0, 150) for 30 ns.
        assert_eq!((summary.overlapped_ns, summary.serialized_ns), (30, 250));
        assert_eq!(
            (
                summary.foreground_roots,
                summary.background_roots,
                summary.overlapped_ns,
                summary.serialized_ns
            ),
            reference(&roots)
        );
    }

    proptest! {
        #[test]
        fn classifies_roots_arriving_as_they_close_as_the_definition_does(
            roots in proptest::collection::vec((0u64..1_000, 0u64..300, any::<bool>(), any::<bool>()), 0..40),
            capacity in prop_oneof![Just(REORDER_CAPACITY), 1usize..6],
        ) {
            let roots: Vec<(u64, u64, bool, bool)> = roots.into_iter().map(|(s, l, f, r)| (s, s + l, f, r)).collect();
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
