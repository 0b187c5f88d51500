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

use crate::input::Tree;
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

/// Finds and aggregates opportunities, tree by tree.
#[derive(Debug, Clone, Default)]
pub struct Parallelism {
    found: HashMap<(Arc<str>, Vec<Arc<str>>), Opportunity>,
}

impl Parallelism {
    /// Looks at every parent in a complete tree.
    pub fn add_tree(&mut self, tree: &Tree, thresholds: &Thresholds) {
        self.add_tree_from(tree, thresholds, 0);
    }

    /// Looks at the parents in a complete tree from node `first` on: 1 leaves out a
    /// long-lived root (a connection), whose requests run one after another by nature.
    pub fn add_tree_from(&mut self, tree: &Tree, thresholds: &Thresholds, first: usize) {
        for index in first..tree.len() {
            let children = tree.children(index);
            if children.len() < 2 {
                continue;
            }
            let parent = tree.span(index);
            let mut run: Vec<usize> = Vec::new();
            let mut run_end = 0u64;
            for &c in children {
                let child = tree.span(c as usize);
                if !run.is_empty() && child.start_ns < run_end {
                    // Overlaps the previous sibling: they already ran concurrently.
                    self.close_run(tree, parent, &run, thresholds);
                    run.clear();
                }
                run.push(c as usize);
                run_end = run_end.max(child.end_ns);
            }
            self.close_run(tree, parent, &run, thresholds);
        }
    }

    fn close_run(
        &mut self,
        tree: &Tree,
        parent: &crate::input::Span,
        run: &[usize],
        t: &Thresholds,
    ) {
        // A run ends where an overlapping sibling starts; that sibling starts the next one.
        if run.len() < 2 {
            return;
        }
        let durations = run.iter().map(|&i| tree.span(i).duration_ns());
        let sequential: u64 = durations.clone().sum();
        let parallel = durations.max().unwrap_or(0);
        let saving = sequential - parallel;
        let material = saving >= t.parallel_min_ns
            && saving as f64 >= t.parallel_min_share * parent.duration_ns() as f64;
        if !material {
            return;
        }
        let mut names: Vec<Arc<str>> = Vec::new();
        for &i in run {
            let name = &tree.span(i).name;
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        let key = (parent.name.clone(), names);
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
        entry.spans += run.len() as u64;
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
