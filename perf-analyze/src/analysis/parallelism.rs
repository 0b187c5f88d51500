//! Parallelization opportunities: siblings that ran one after another.
//!
//! Under one parent, a run of children where each starts after the previous one
//! ended could have run concurrently (if independent): it took the sum of their
//! durations, and would take their maximum. Reported only where the saving is
//! material (by default at least 5% of the parent and 1 ms), aggregated over all
//! parents of the same name running the same operations.
//!
//! ```
//! use perf_analyze::{analysis::parallelism::Parallelism, input::TreeBuilder, Options, Span};
//!
//! let mut turn = Span::example("turn", 0, 100_000_000);
//! turn.id = 1;
//! let mut rag = Span::example("rag", 0, 40_000_000);
//! (rag.id, rag.parent) = (2, Some(1));
//! let mut graph = Span::example("graph", 40_000_000, 100_000_000);
//! (graph.id, graph.parent) = (3, Some(1));
//! let mut found = Parallelism::default();
//! let mut builder = TreeBuilder::new("mem");
//! for span in [rag, graph, turn] {
//!     builder.push(span, &mut |tree| found.add_tree(&tree, &Options::default().thresholds));
//! }
//! let top = &found.opportunities()[0];
//! assert_eq!(top.operations, ["rag", "graph"]);
//! assert_eq!(top.saving_ns, 40_000_000); // 100 ms in a row, 60 ms side by side
//! ```

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::input::{Span, Tree};
use crate::Thresholds;

/// Sequential siblings that could run concurrently, as in the summary's `parallelism`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opportunity {
    /// The parent's name.
    pub parent: String,
    /// The siblings' names in order of first start (each once).
    pub operations: Vec<String>,
    /// How many parents had this run.
    pub occurrences: u64,
    /// How many sibling spans, over all occurrences.
    pub spans: u64,
    /// Their summed durations, over all occurrences.
    pub sequential_ns: u64,
    /// The longest sibling's duration, summed over occurrences: the time if run concurrently.
    pub parallel_ns: u64,
    /// `sequential_ns - parallel_ns`.
    pub saving_ns: u64,
}

/// Above this many distinct (parent, operations) keys, new ones are not tracked.
const KEY_LIMIT: usize = 10_000;

/// The most closed runs kept per open parent (see [`Parallelism::add_tree_from`]): past
/// it, the run with the smallest saving is dropped (whether a run is material depends
/// on the parent's duration, known only when it comes; a larger saving is material
/// whenever a smaller one is).
pub const MAX_PENDING_RUNS: usize = 64;

/// A run of sequential siblings, as [`Parallelism`] sums it up.
#[derive(Debug, Clone, Default)]
struct Run {
    /// The siblings' names in order of first start (each once).
    names: Vec<Arc<str>>,
    /// How many siblings.
    count: u64,
    /// Their summed durations.
    sequential: u64,
    /// The longest one's duration.
    longest: u64,
}

impl Run {
    fn push(&mut self, child: &Span) {
        if !self.names.contains(&child.name) {
            self.names.push(child.name.clone());
        }
        self.count += 1;
        let duration = child.duration_ns();
        self.sequential += duration;
        self.longest = self.longest.max(duration);
    }

    fn saving(&self) -> u64 {
        self.sequential - self.longest
    }
}

/// One parent's children so far: the current run, and the latest end among them (a
/// child that starts before it overlaps an earlier sibling and starts a new run).
#[derive(Debug, Clone, Default)]
struct Siblings {
    run: Run,
    end: u64,
}

impl Siblings {
    /// Adds the next child (in start order); returns the run it ended, if any.
    fn push(&mut self, child: &Span) -> Option<Run> {
        let ended = (self.run.count > 0 && child.start_ns < self.end)
            .then(|| std::mem::take(&mut self.run));
        self.run.push(child);
        self.end = self.end.max(child.end_ns);
        ended
    }
}

/// The children of a parent still open, handed over in pieces: the run they leave
/// open, and the runs they closed that may be material.
#[derive(Debug, Clone, Default)]
struct Pending {
    siblings: Siblings,
    closed: Vec<Run>,
    /// Closed runs left out past [`MAX_PENDING_RUNS`].
    dropped: u64,
}

/// Finds and aggregates opportunities, tree by tree.
#[derive(Debug, Clone, Default)]
pub struct Parallelism {
    found: HashMap<(Arc<str>, Vec<Arc<str>>), Opportunity>,
    /// The children of parents still open, handed over in pieces: (segment, open
    /// parent id) -> their runs so far.
    pending: HashMap<(u32, u64), Pending>,
    /// Closed runs left out past [`MAX_PENDING_RUNS`].
    runs_dropped: u64,
}

impl Parallelism {
    /// Looks at every parent in a complete tree.
    pub fn add_tree(&mut self, tree: &Tree, thresholds: &Thresholds) {
        self.add_tree_from(tree, thresholds, 0);
    }

    /// Looks at the parents in a tree from node `first` on: 1 leaves out a long-lived
    /// root (a connection), whose requests run one after another by nature.
    ///
    /// The tree may be a piece ([`Tree::waits_for`]): its root, a child of a parent still
    /// open, continues that parent's runs, kept (bounded: the current run's distinct
    /// names and sums, and at most [`MAX_PENDING_RUNS`] closed runs) until the parent's
    /// node comes ([`Tree::awaited_at`]), where its late children continue them; they
    /// are dropped if that node is left out (`first`), or at [`Parallelism::finish_segment`]
    /// if it never comes. The result is the same as with the whole tree when siblings
    /// close in start order (sequential ones do). Overlapping siblings that close out of
    /// start order come in pieces in another order than in the whole tree, where
    /// children are sorted by start: a run may then end at another sibling.
    pub fn add_tree_from(&mut self, tree: &Tree, thresholds: &Thresholds, first: usize) {
        for index in 0..tree.len() {
            let early = tree
                .awaited_at(index)
                .and_then(|key| self.pending.remove(&key));
            let children = tree.children(index);
            if index < first || (early.is_none() && children.len() < 2) {
                continue;
            }
            let parent = tree.span(index);
            let (parent_name, parent_ns) = (&parent.name, parent.duration_ns());
            let Pending {
                mut siblings,
                closed,
                dropped,
            } = early.unwrap_or_default();
            self.runs_dropped += dropped;
            for run in &closed {
                self.close_run(parent_name, parent_ns, run, thresholds);
            }
            for &c in children {
                if let Some(run) = siblings.push(tree.span(c as usize)) {
                    // Overlaps the previous sibling: they already ran concurrently.
                    self.close_run(parent_name, parent_ns, &run, thresholds);
                }
            }
            self.close_run(parent_name, parent_ns, &siblings.run, thresholds);
        }
        if let Some(key) = tree.waits_for() {
            let pending = self.pending.entry(key).or_default();
            if let Some(run) = pending.siblings.push(tree.root()) {
                // Material only if its saving reaches the minimum (and a share of the
                // parent's duration, known when the parent comes).
                if run.count >= 2 && run.saving() >= thresholds.parallel_min_ns {
                    pending.closed.push(run);
                    if pending.closed.len() > MAX_PENDING_RUNS {
                        let smallest = (0..pending.closed.len())
                            .min_by_key(|&i| pending.closed[i].saving())
                            .unwrap_or(0);
                        pending.closed.remove(smallest);
                        pending.dropped += 1;
                    }
                }
            }
        }
    }

    /// Runs of sequential siblings left out past [`MAX_PENDING_RUNS`] per open parent
    /// (those saving least), counted where that parent came and its runs were looked
    /// at: the opportunities may be understated.
    #[must_use]
    pub fn runs_dropped(&self) -> u64 {
        self.runs_dropped
    }

    /// Ends a segment: the children of parents that never came in it were not
    /// siblings under a parent (they came as trees of their own).
    pub fn finish_segment(&mut self) {
        self.pending.clear();
    }

    /// Counts a run of siblings under a parent of `parent_ns`, if material.
    fn close_run(&mut self, parent: &Arc<str>, parent_ns: u64, run: &Run, t: &Thresholds) {
        // A run ends where an overlapping sibling starts; that sibling starts the next one.
        if run.count < 2 {
            return;
        }
        let (sequential, parallel) = (run.sequential, run.longest);
        let saving = run.saving();
        let material =
            saving >= t.parallel_min_ns && saving as f64 >= t.parallel_min_share * parent_ns as f64;
        if !material {
            return;
        }
        let key = (parent.clone(), run.names.clone());
        if !self.found.contains_key(&key) && self.found.len() >= KEY_LIMIT {
            return;
        }
        let entry = self
            .found
            .entry(key)
            .or_insert_with_key(|(p, names)| Opportunity {
                parent: p.to_string(),
                operations: names.iter().map(|n| n.to_string()).collect(),
                occurrences: 0,
                spans: 0,
                sequential_ns: 0,
                parallel_ns: 0,
                saving_ns: 0,
            });
        entry.occurrences += 1;
        entry.spans += run.count;
        entry.sequential_ns += sequential;
        entry.parallel_ns += parallel;
        entry.saving_ns += saving;
    }

    /// The opportunities, largest saving first.
    #[must_use]
    pub fn opportunities(&self) -> Vec<Opportunity> {
        let mut all: Vec<Opportunity> = self.found.values().cloned().collect();
        all.sort_by(|a, b| {
            b.saving_ns
                .cmp(&a.saving_ns)
                .then_with(|| (&a.parent, &a.operations).cmp(&(&b.parent, &b.operations)))
        });
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::TreeBuilder;

    /// A parent (id 1) with 100 runs of two sequential children, each run's first child
    /// starting while the previous run's second one runs (and ending after it): run `i`
    /// saves `100 - i / 2` ns. Fed to a builder holding at most `budget` spans, the
    /// opportunities found with every threshold at its lowest.
    fn runs(budget: usize) -> (Opportunity, usize) {
        let t = Thresholds {
            parallel_min_ns: 1,
            parallel_min_share: 0.0,
            ..crate::Options::default().thresholds
        };
        let mut found = Parallelism::default();
        let mut builder = TreeBuilder::with_budget("mem", budget);
        let mut most_kept = 0;
        let mut id = 1;
        let mut s = 0;
        for i in 0..100u64 {
            let first = 100 - i / 2;
            for (start, end) in [(s, s + first), (s + first, s + first + 100)] {
                id += 1;
                let mut child = Span::example("x", start, end);
                (child.id, child.parent, child.line) = (id, Some(1), id);
                builder.push(child, &mut |tree| found.add_tree(&tree, &t));
                let kept = found.pending.values().map(|p| p.closed.len()).max();
                most_kept = most_kept.max(kept.unwrap_or(0));
            }
            // The next run starts while this one's second child runs, and ends after it.
            s += first + 50;
        }
        let mut parent = Span::example("parent", 0, s + 1_000);
        parent.line = id + 1;
        builder.push(parent, &mut |tree| found.add_tree(&tree, &t));
        assert!(found.pending.is_empty());
        // Every run left out is counted, to be warned about.
        assert_eq!(found.runs_dropped(), if budget == 1 { 35 } else { 0 });
        (found.opportunities().remove(0), most_kept)
    }

    #[test]
    fn past_the_cap_a_parent_s_pieces_keep_the_runs_that_save_most() {
        let (whole, _) = runs(usize::MAX);
        assert_eq!((whole.occurrences, whole.spans), (100, 200));
        let (early, most_kept) = runs(1);
        assert_eq!(most_kept, MAX_PENDING_RUNS);
        // The 64 closed runs kept are runs 0 to 63 (saving 100 to 69); then the last,
        // still open when the parent came.
        assert_eq!((early.occurrences, early.spans), (65, 130));
        let saving: u64 = (0..64).map(|i| 100 - i / 2).sum::<u64>() + (100 - 99 / 2);
        assert_eq!(early.saving_ns, saving);
    }
}
