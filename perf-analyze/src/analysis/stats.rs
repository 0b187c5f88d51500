//! Per-name time statistics, aggregated tree by tree.
//!
//! For each span name: how often it ran, its total time (a span nested inside
//! another of the same name is counted once), its self time (duration minus the
//! union of its children's intervals), mean, p50/p95 (from a bounded [`Sketch`])
//! and max. On one thread self never exceeds total; spans of one name running
//! concurrently inside a span of that name each keep their self time, so there
//! the self time (work done) can exceed the total (wall time).
//!
//! ```
//! use perf_analyze::{analysis::stats::Stats, input::TreeBuilder, Span};
//!
//! let mut parent = Span::example("turn", 0, 100);
//! parent.id = 1;
//! let mut child = Span::example("llm", 10, 90);
//! child.id = 2;
//! child.parent = Some(1);
//! let mut stats = Stats::default();
//! let mut builder = TreeBuilder::new("mem");
//! builder.push(child, &mut |t| stats.add_tree(&t));
//! builder.push(parent, &mut |t| stats.add_tree(&t));
//! let turn = stats.get("turn").unwrap();
//! assert_eq!((turn.total_ns, turn.self_ns), (100, 20));
//! assert_eq!(stats.get("llm").unwrap().self_ns, 80);
//! ```

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use perf_layer::record::Status;

use super::sketch::Sketch;
use crate::input::Tree;

/// Statistics of one span name.
#[derive(Debug, Clone)]
pub struct NameStats {
    /// The span name.
    pub name: Arc<str>,
    /// The target of its first span.
    pub target: Arc<str>,
    /// How many spans.
    pub count: u64,
    /// Wall time, with same-name nesting counted once.
    pub total_ns: u64,
    /// Self time: durations minus the union of each span's children.
    pub self_ns: u64,
    /// Summed busy time (entered), children's included where they ran inside it.
    pub busy_ns: u64,
    /// The plain sum of durations (for the mean).
    pub sum_ns: u64,
    /// The longest span.
    pub max_ns: u64,
    /// Spans with status `error`.
    pub errors: u64,
    /// Spans still open at the flush.
    pub open: u64,
    /// The durations' distribution.
    pub sketch: Sketch,
    /// The first span's raw fields that say what kind of work it is, if any.
    pub(crate) fields_hint: Option<Box<str>>,
}

impl NameStats {
    fn new(name: Arc<str>, target: Arc<str>) -> NameStats {
        NameStats {
            name,
            target,
            count: 0,
            total_ns: 0,
            self_ns: 0,
            busy_ns: 0,
            sum_ns: 0,
            max_ns: 0,
            errors: 0,
            open: 0,
            sketch: Sketch::default(),
            fields_hint: None,
        }
    }

    /// The mean duration.
    #[must_use]
    pub fn mean_ns(&self) -> u64 {
        self.sum_ns.checked_div(self.count).unwrap_or(0)
    }

    /// The median duration (within 1%).
    #[must_use]
    pub fn p50_ns(&self) -> u64 {
        self.sketch.quantile(0.5)
    }

    /// The 95th percentile duration (within 1%).
    #[must_use]
    pub fn p95_ns(&self) -> u64 {
        self.sketch.quantile(0.95)
    }

    /// The 99th percentile duration (within 1%).
    #[must_use]
    pub fn p99_ns(&self) -> u64 {
        self.sketch.quantile(0.99)
    }

    /// The 99.9th percentile duration (within 1%).
    #[must_use]
    pub fn p999_ns(&self) -> u64 {
        self.sketch.quantile(0.999)
    }
}

/// Beyond this many distinct names, further names are counted under [`Stats::OTHER`].
const NAME_LIMIT: usize = 50_000;

/// How an operation is named where one span name comes from several targets
/// (`Get::apply` and `Set::apply` are both `apply`): `name [target]`.
///
/// ```
/// use perf_analyze::analysis::stats::label;
///
/// assert_eq!(label("apply", "mini_redis::cmd::get", true), "apply [mini_redis::cmd::get]");
/// assert_eq!(label("apply", "mini_redis::cmd::get", false), "apply");
/// ```
#[must_use]
pub fn label(name: &str, target: &str, collides: bool) -> String {
    if collides {
        format!("{name} [{target}]")
    } else {
        name.to_owned()
    }
}

/// Statistics of every operation (span name, and target where one name has several),
/// fed complete trees.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// A name's slot for its first target.
    index: HashMap<Arc<str>, usize>,
    /// Slots of a name's other targets.
    others: HashMap<(Arc<str>, Arc<str>), usize>,
    names: Vec<NameStats>,
    /// Scratch: how many ancestors on the current path carry each name.
    on_path: Vec<u32>,
    path: Vec<(u32, usize)>,
    /// Total time of pieces (closed subtrees handed over while their parent was open)
    /// that waits for the names of their open ancestors: (segment, open parent id) ->
    /// (name slot, time of the piece spans of that name nested in no span of it).
    pending: HashMap<(u32, u64), HashMap<usize, u64>>,
}

impl Stats {
    /// The name used for spans beyond the distinct-name limit.
    pub const OTHER: &'static str = "(other names)";

    fn slot(&mut self, span: &crate::input::Span) -> usize {
        if let Some(&i) = self.index.get(&span.name) {
            let first = &self.names[i].target;
            if Arc::ptr_eq(first, &span.target) || *first == span.target || self.full() {
                return i;
            }
            let key = (span.name.clone(), span.target.clone());
            if let Some(&j) = self.others.get(&key) {
                return j;
            }
            let j = self.push(span.name.clone(), span.target.clone());
            self.others.insert(key, j);
            return j;
        }
        let name = if self.full() {
            Arc::from(Self::OTHER)
        } else {
            span.name.clone()
        };
        if let Some(&i) = self.index.get(&name) {
            return i;
        }
        let i = self.push(name.clone(), span.target.clone());
        self.index.insert(name, i);
        i
    }

    fn full(&self) -> bool {
        self.names.len() >= NAME_LIMIT
    }

    fn push(&mut self, name: Arc<str>, target: Arc<str>) -> usize {
        self.names.push(NameStats::new(name, target));
        self.on_path.push(0);
        self.names.len() - 1
    }

    /// True if spans of this name came from several targets.
    #[must_use]
    pub fn collides(&self, name: &str) -> bool {
        !self.others.is_empty() && self.others.keys().any(|(n, _)| &**n == name)
    }

    /// How a name's statistics are named in the summary: see [`label`].
    #[must_use]
    pub fn label(&self, stats: &NameStats) -> String {
        label(&stats.name, &stats.target, self.collides(&stats.name))
    }

    /// Adds every span of a complete tree, or of a piece ([`Tree::open_parent`]).
    ///
    /// A span nested in one of its own name counts once in `total_ns`, and a piece's
    /// open ancestors are not known yet: the time of its spans nested in none of their
    /// name within it waits, per name, for the open parent (in a tree or a piece), and
    /// counts when no ancestor there carries the name. What waits for a parent that never
    /// comes counts at [`Stats::finish_segment`], as the spans of a tree whose parent is
    /// missing do. Everything else counts at once, so what waits costs memory per open
    /// parent and distinct name under it, not per span. Names are first seen in the
    /// order spans arrive, so with pieces the order of [`Stats::names`], a name's first
    /// target and the span that gives its fields hint can differ from those of whole
    /// trees (the numbers cannot).
    pub fn add_tree(&mut self, tree: &Tree) {
        let open_parent = tree.waits_for();
        self.path.clear();
        for (index, node) in tree.nodes().iter().enumerate() {
            while let Some(&(depth, slot)) = self.path.last() {
                if depth < node.depth {
                    break;
                }
                self.on_path[slot] -= 1;
                self.path.pop();
            }
            let span = &node.span;
            let slot = self.slot(span);
            let duration = span.duration_ns();
            let covered = tree.covered_ns(index);
            let nested_in_same_name = self.on_path[slot] > 0;
            let stats = &mut self.names[slot];
            stats.count += 1;
            stats.sum_ns += duration;
            stats.busy_ns += span.busy_ns.min(duration);
            stats.self_ns += duration - covered;
            stats.max_ns = stats.max_ns.max(duration);
            stats.sketch.add(duration);
            match span.status {
                Status::Error => stats.errors += 1,
                Status::Open => stats.open += 1,
                Status::Ok => {}
            }
            if stats.fields_hint.is_none() && super::llm::has_llm_fields(span) {
                stats.fields_hint.clone_from(&span.raw_fields);
            }
            if !nested_in_same_name {
                self.add_total(open_parent, slot, duration);
            }
            self.on_path[slot] += 1;
            self.path.push((node.depth, slot));
            if let Some(key) = tree.awaited_at(index) {
                self.graft(open_parent, key);
            }
        }
        for &(_, slot) in &self.path {
            self.on_path[slot] -= 1;
        }
        self.path.clear();
    }

    /// Counts `ns` in a name's total, or, in a piece, keeps it for the open parent.
    fn add_total(&mut self, open_parent: Option<(u32, u64)>, slot: usize, ns: u64) {
        match open_parent {
            None => self.names[slot].total_ns += ns,
            Some(key) => {
                *self
                    .pending
                    .entry(key)
                    .or_default()
                    .entry(slot)
                    .or_default() += ns
            }
        }
    }

    /// The parent `key` came, on the current path: the time its pieces kept counts for
    /// the names no span on the path carries (or waits for this tree's open parent).
    fn graft(&mut self, open_parent: Option<(u32, u64)>, key: (u32, u64)) {
        let Some(waiting) = self.pending.remove(&key) else {
            return;
        };
        for (slot, ns) in waiting {
            if self.on_path[slot] == 0 {
                self.add_total(open_parent, slot, ns);
            }
        }
    }

    /// Ends a segment: the time kept for parents that never came counts, as for the spans
    /// of a tree whose parent is missing.
    pub fn finish_segment(&mut self) {
        for (_, waiting) in self.pending.drain() {
            for (slot, ns) in waiting {
                self.names[slot].total_ns += ns;
            }
        }
    }

    /// The statistics of one name (of its first target, if it has several), or of one
    /// [`label`].
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&NameStats> {
        self.index
            .get(name)
            .map(|&i| &self.names[i])
            .or_else(|| self.names.iter().find(|s| self.label(s) == name))
    }

    /// All names, in first-seen order.
    #[must_use]
    pub fn names(&self) -> &[NameStats] {
        &self.names
    }

    /// All names by self time, largest first (ties by name).
    #[must_use]
    pub fn by_self_time(&self) -> Vec<&NameStats> {
        let mut all: Vec<&NameStats> = self.names.iter().collect();
        all.sort_by(|a, b| b.self_ns.cmp(&a.self_ns).then_with(|| a.name.cmp(&b.name)));
        all
    }
}
