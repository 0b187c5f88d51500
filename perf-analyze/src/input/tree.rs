//! Assembles spans into complete root trees: see [`TreeBuilder`].

use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::span::Span;
use crate::warning::{Warning, WarningKind, Warnings};

/// A node of a [`Tree`]: a span, its parent's index and its depth.
#[derive(Debug, Clone)]
pub struct Node {
    /// The span.
    pub span: Span,
    /// The index of the parent node, `None` for the root.
    pub parent: Option<u32>,
    /// 0 for the root.
    pub depth: u32,
    children_at: u32,
    children_len: u32,
}

/// The most separate runs of time [`EarlyChildren`] keeps for one span: past it, the
/// earliest run is folded into a length (exact unless a child handed over later reaches
/// back into it, which spans that close in start order never do).
pub const MAX_EARLY_RUNS: usize = 1024;

/// The intervals of a span's children that were handed over before the span closed:
/// what its self time needs of them. Kept as the disjoint runs of their union.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EarlyChildren {
    /// Disjoint runs of the union: start -> end.
    runs: BTreeMap<u64, u64>,
    /// The length of runs folded away past [`MAX_EARLY_RUNS`].
    folded_ns: u64,
    /// The end of the latest run folded away.
    folded_end: u64,
    /// Set once a child reached back into the runs folded away (warned about once).
    reached_back: bool,
    /// How many children were handed over early.
    count: u64,
    /// Their summed durations and busy times.
    duration_ns: u64,
    busy_ns: u64,
}

impl EarlyChildren {
    /// Adds a child's interval `[start, end)` and busy time; true the first time one
    /// reaches back into the runs folded away (the union is approximate from then on).
    pub(crate) fn add(&mut self, start: u64, end: u64, busy_ns: u64) -> bool {
        self.count += 1;
        self.duration_ns = self.duration_ns.saturating_add(end.saturating_sub(start));
        self.busy_ns = self.busy_ns.saturating_add(busy_ns);
        if start >= end {
            return false;
        }
        let reaches_back = self.folded_ns > 0 && start < self.folded_end && !self.reached_back;
        self.reached_back |= reaches_back;
        let (mut lo, mut hi) = (start, end);
        // Runs that touch [lo, hi): the one starting at or before lo, then those after.
        if let Some((&s, &e)) = self.runs.range(..=lo).next_back() {
            if e >= lo {
                lo = s;
                hi = hi.max(e);
                self.runs.remove(&s);
            }
        }
        while let Some((&s, &e)) = self.runs.range(lo..).next() {
            if s > hi {
                break;
            }
            hi = hi.max(e);
            self.runs.remove(&s);
        }
        self.runs.insert(lo, hi);
        if self.runs.len() > MAX_EARLY_RUNS {
            if let Some((s, e)) = self.runs.pop_first() {
                self.folded_ns += e - s;
                self.folded_end = self.folded_end.max(e);
            }
        }
        reaches_back
    }

    /// The disjoint runs of time the early children cover, by start (those folded past
    /// [`MAX_EARLY_RUNS`] are not among them).
    pub fn runs(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.runs.iter().map(|(&s, &e)| (s, e))
    }

    /// How many children were handed over early.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Their summed durations (each `end - start`, 0 if the file says end < start).
    #[must_use]
    pub fn duration_ns(&self) -> u64 {
        self.duration_ns
    }

    /// Their summed busy times.
    #[must_use]
    pub fn busy_ns(&self) -> u64 {
        self.busy_ns
    }
}

/// A complete root tree: nodes in pre-order (node 0 is the root), children sorted by start.
#[derive(Debug, Clone)]
pub struct Tree {
    nodes: Vec<Node>,
    children: Vec<u32>,
    missing_parent: Option<u64>,
    open_parent: Option<u64>,
    /// The nodes whose children were handed over in pieces before they closed (see
    /// [`Tree::open_parent`]), by node index, sorted.
    early: Vec<(u32, Box<EarlyChildren>)>,
}

impl Tree {
    /// For a piece, the id of its root's parent, still open when the piece was handed
    /// over: a [`TreeBuilder`] with a budget ([`TreeBuilder::with_budget`]) hands over
    /// closed subtrees before their root closes. The parent's own tree (or piece) comes
    /// later, and its node says how many children came early
    /// ([`Tree::early_children`]). `None` for a complete tree.
    #[must_use]
    pub fn open_parent(&self) -> Option<u64> {
        self.open_parent
    }

    /// For a piece, what it waits for: its root's segment and open parent id
    /// ([`Tree::open_parent`]), the key [`Tree::awaited_at`] gives the parent's node.
    #[must_use]
    pub fn waits_for(&self) -> Option<(u32, u64)> {
        self.open_parent.map(|p| (self.root().segment, p))
    }

    /// If node `index` had children handed over in pieces before it closed, the key
    /// those pieces wait under ([`Tree::waits_for`]): its segment and id.
    #[must_use]
    pub fn awaited_at(&self, index: usize) -> Option<(u32, u64)> {
        self.early_children(index).map(|_| {
            let span = self.span(index);
            (span.segment, span.id)
        })
    }

    /// The children of node `index` handed over in pieces before it closed, if any.
    #[must_use]
    pub fn early_children(&self, index: usize) -> Option<&EarlyChildren> {
        if self.early.is_empty() {
            return None;
        }
        let at = self
            .early
            .binary_search_by_key(&(index as u32), |(i, _)| *i)
            .ok()?;
        Some(&self.early[at].1)
    }

    /// How many children, over all nodes, were handed over in pieces before their
    /// parent closed ([`Tree::early_children`]): they are not in this tree.
    #[must_use]
    pub fn early_count(&self) -> u64 {
        self.early.iter().map(|(_, e)| e.count()).sum()
    }

    /// The time of node `index` its children cover: the length of the union of their
    /// intervals within the node's, counting children handed over early.
    #[must_use]
    pub fn covered_ns(&self, index: usize) -> u64 {
        let span = self.span(index);
        let (lo, hi) = (span.start_ns, span.end_ns.max(span.start_ns));
        let children = self.children(index).iter().map(|&c| {
            let child = self.span(c as usize);
            (child.start_ns, child.end_ns)
        });
        let Some(early) = self.early_children(index) else {
            return union_len_sorted(children, lo, hi);
        };
        // Both are sorted by start: merge them.
        let mut runs = early.runs.iter().map(|(&s, &e)| (s, e)).peekable();
        let mut children = children.peekable();
        let merged = std::iter::from_fn(move || match (runs.peek(), children.peek()) {
            (Some(r), Some(c)) if r.0 <= c.0 => runs.next(),
            (Some(_), None) => runs.next(),
            _ => children.next(),
        });
        early
            .folded_ns
            .saturating_add(union_len_sorted(merged, lo, hi))
            .min(hi - lo)
    }

    /// The self time of node `index`: its duration minus the time its children cover
    /// ([`Tree::covered_ns`]).
    #[must_use]
    pub fn self_ns(&self, index: usize) -> u64 {
        self.span(index)
            .duration_ns()
            .saturating_sub(self.covered_ns(index))
    }

    /// The parent id the root names if that parent never came in its segment: the tree
    /// is then a fragment of an operation that was lost, or is still running.
    #[must_use]
    pub fn missing_parent(&self) -> Option<u64> {
        self.missing_parent
    }

    /// The root span.
    #[must_use]
    pub fn root(&self) -> &Span {
        &self.nodes[0].span
    }

    /// Links a fragment to its missing parent as work that follows from it: for files
    /// whose writer puts a child that outlived its parent after the parent (the Python
    /// tracker's). The tree is then complete.
    pub fn attach_to_missing_parent(&mut self) {
        if let Some(parent) = self.missing_parent.take() {
            self.nodes[0].span.follows_from.push(parent);
        }
    }

    /// All nodes in pre-order.
    #[must_use]
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// All nodes in pre-order, taken out of the tree.
    #[must_use]
    pub fn into_nodes(self) -> Vec<Node> {
        self.nodes
    }

    /// The span of node `index`.
    #[must_use]
    pub fn span(&self, index: usize) -> &Span {
        &self.nodes[index].span
    }

    /// The indices of node `index`'s children, sorted by start.
    #[must_use]
    pub fn children(&self, index: usize) -> &[u32] {
        let node = &self.nodes[index];
        &self.children[node.children_at as usize..(node.children_at + node.children_len) as usize]
    }

    /// The number of spans.
    #[must_use]
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false: a tree has a root.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The subtree of node `index` as a tree of its own (node `index` its root).
    #[must_use]
    pub fn subtree(&self, index: usize) -> Tree {
        let base = &self.nodes[index];
        let nodes: Vec<Node> = std::iter::once(base)
            .chain(
                self.nodes[index + 1..]
                    .iter()
                    .take_while(|n| n.depth > base.depth),
            )
            .enumerate()
            .map(|(i, n)| {
                let parent = if i == 0 {
                    None
                } else {
                    n.parent.map(|p| p - index as u32)
                };
                Node::new(n.span.clone(), parent, n.depth - base.depth)
            })
            .collect();
        let range = index as u32..(index + nodes.len()) as u32;
        let mut tree = Tree::from_preorder(nodes);
        tree.early = self
            .early
            .iter()
            .filter(|(i, _)| range.contains(i))
            .map(|(i, early)| (i - range.start, early.clone()))
            .collect();
        tree
    }

    /// The tree cut to at most `max` spans (the root always): the outermost, and of the
    /// deepest level kept in part, the longest. Every kept span's parent is kept. The
    /// tree itself if it is no larger; early children's summaries stay with their nodes.
    ///
    /// ```
    /// use perf_analyze::{input::TreeBuilder, Span};
    ///
    /// let mut builder = TreeBuilder::new("mem");
    /// let mut trees = Vec::new();
    /// for (id, parent, end) in [(3, Some(2), 5), (2, Some(1), 5), (4, Some(1), 9), (1, None, 10)] {
    ///     let mut s = Span::example("s", 0, end);
    ///     (s.id, s.parent) = (id, parent);
    ///     builder.push(s, &mut |t| trees.push(t));
    /// }
    /// let cut = trees[0].outermost(2);
    /// assert_eq!(cut.len(), 2);
    /// assert_eq!(cut.span(cut.children(0)[0] as usize).id, 4); // the longer child
    /// assert_eq!(trees[0].outermost(4).len(), 4);
    /// ```
    #[must_use]
    pub fn outermost(&self, max: usize) -> Tree {
        if self.len() <= max {
            return self.clone();
        }
        let mut order: Vec<usize> = (0..self.nodes.len()).collect();
        let key = |&i: &usize| {
            let n = &self.nodes[i];
            (n.depth, std::cmp::Reverse(n.span.duration_ns()), i)
        };
        let keep = max.max(1);
        order.select_nth_unstable_by_key(keep - 1, key);
        let mut kept = vec![false; self.nodes.len()];
        for &i in &order[..keep] {
            kept[i] = true;
        }
        // Pre-order restricted to the kept nodes is still pre-order: renumber parents.
        let mut index = vec![u32::MAX; self.nodes.len()];
        let mut nodes = Vec::with_capacity(keep);
        let mut early = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            if !kept[i] {
                continue;
            }
            index[i] = nodes.len() as u32;
            if let Some(e) = self.early_children(i) {
                early.push((index[i], Box::new(e.clone())));
            }
            let parent = node.parent.map(|p| index[p as usize]);
            nodes.push(Node::new(node.span.clone(), parent, node.depth));
        }
        let mut tree = Tree::from_preorder(nodes);
        tree.missing_parent = self.missing_parent;
        tree.open_parent = self.open_parent;
        tree.early = early;
        tree
    }

    /// A tree of nodes in pre-order, their children not yet linked.
    fn from_preorder(mut nodes: Vec<Node>) -> Tree {
        if nodes.len() == 1 {
            return Tree {
                nodes,
                children: Vec::new(),
                missing_parent: None,
                open_parent: None,
                early: Vec::new(),
            };
        }
        for i in 1..nodes.len() {
            if let Some(p) = nodes[i].parent {
                nodes[p as usize].children_len += 1;
            }
        }
        let mut next = 0u32;
        for node in &mut nodes {
            node.children_at = next;
            next += node.children_len;
            // Counts again while the children are filled in below.
            node.children_len = 0;
        }
        // Pre-order visits each node's children in start order: appending keeps it.
        let mut children = vec![0u32; next as usize];
        for i in 1..nodes.len() {
            if let Some(p) = nodes[i].parent {
                let parent = &mut nodes[p as usize];
                children[(parent.children_at + parent.children_len) as usize] = i as u32;
                parent.children_len += 1;
            }
        }
        Tree {
            nodes,
            children,
            missing_parent: None,
            open_parent: None,
            early: Vec::new(),
        }
    }
}

impl Node {
    fn new(span: Span, parent: Option<u32>, depth: u32) -> Node {
        Node {
            span,
            parent,
            depth,
            children_at: 0,
            children_len: 0,
        }
    }
}

/// The length of the union of `intervals` sorted by start, clipped to `[lo, hi)`.
#[must_use]
pub fn union_len_sorted(intervals: impl IntoIterator<Item = (u64, u64)>, lo: u64, hi: u64) -> u64 {
    let mut total = 0;
    let mut current: Option<(u64, u64)> = None;
    for (s, e) in intervals {
        let (s, e) = (s.max(lo), e.min(hi));
        if s >= e {
            continue;
        }
        match &mut current {
            Some((_, ce)) if s <= *ce => *ce = (*ce).max(e),
            _ => {
                if let Some((cs, ce)) = current {
                    total += ce - cs;
                }
                current = Some((s, e));
            }
        }
    }
    total + current.map_or(0, |(s, e)| e - s)
}

/// No slot: the end of a sibling list.
const NONE: u32 = u32::MAX;

/// A closed span waiting for its root, in a slot of [`TreeBuilder::slots`].
struct Held {
    /// Its key in [`TreeBuilder::held`]: the span id, `None` for a duplicate of a held id
    /// (no one can name it as parent apart from the first).
    key: Option<u64>,
    span: Span,
    /// The slot of its latest child, then the siblings of that child: a list through
    /// [`Held::next_sibling`].
    first_child: u32,
    next_sibling: u32,
    /// Set once the span is placed in the tree being built (a cycle cannot place it twice).
    placed: bool,
}

/// How many closed spans a [`TreeBuilder`] made with [`TreeBuilder::with_budget`] holds
/// under roots still open before it hands the closed subtrees over as pieces: 65,536
/// spans, about 16 MB. Consumers that take pieces (folded stacks, flamegraphs) then hold
/// memory in proportion to open work and distinct names, not to the size of a
/// long-lived root's subtree.
pub const HOLD_BUDGET: usize = 1 << 16;

/// Holds closed spans until their root closes.
///
/// Spans arrive when they close, children before their parents. A builder
/// holds them until their root closes, then hands over the complete [`Tree`].
/// At the end of a segment, spans whose parent never came are handed over as trees
/// of their own, marked with [`Tree::missing_parent`]: whether that parent was lost
/// (the segment has an `end` line) or is still running (it has none yet) is for the
/// receiver to say, as the builder does not see `end` lines. Parent cycles are broken,
/// with a warning. Nothing here recurses, so nesting 100,000 deep is fine.
///
/// ```
/// use perf_analyze::input::{Span, TreeBuilder};
///
/// let mut builder = TreeBuilder::new("mem");
/// let mut child = Span::example("child", 2, 5);
/// child.id = 2;
/// child.parent = Some(1);
/// let root = Span::example("root", 0, 10);
/// let mut trees = Vec::new();
/// builder.push(child, &mut |tree| trees.push(tree));
/// assert!(trees.is_empty()); // the root is still open
/// builder.push(root, &mut |tree| trees.push(tree));
/// assert_eq!(trees[0].len(), 2);
/// assert_eq!(&*trees[0].span(trees[0].children(0)[0] as usize).name, "child");
/// ```
///
/// A span is moved once into a slot when it arrives and once into its tree when its
/// root closes; the scratch lists for building are kept between trees.
pub struct TreeBuilder {
    source: Arc<str>,
    /// Held spans; `None` is a free slot, listed in `free`.
    slots: Vec<Option<Held>>,
    free: Vec<u32>,
    /// Span key -> its slot.
    held: HashMap<u64, u32>,
    /// Parent id -> the slot of its latest child, for parents not closed yet.
    first_child: HashMap<u64, u32>,
    /// The tree being built, in pre-order: (slot, parent's node index, depth).
    order: Vec<(u32, u32, u32)>,
    /// Slots still to visit, with their parent's node index and depth.
    stack: Vec<(u32, u32, u32)>,
    /// The children of one node, while they are sorted.
    siblings: Vec<u32>,
    /// Held spans past which closed subtrees are handed over as pieces.
    budget: usize,
    /// Held spans at which to look for pieces next (the budget, or more if what is held
    /// is in parent cycles and cannot be handed over).
    next_hand_over: usize,
    /// Open span id -> its children handed over in pieces so far.
    early: HashMap<u64, Box<EarlyChildren>>,
    warnings: Warnings,
}

impl std::fmt::Debug for TreeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeBuilder")
            .field("source", &self.source)
            .field("held", &self.held.len())
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

impl TreeBuilder {
    /// A builder that holds every span until its root closes; `source` names the
    /// input in warnings.
    #[must_use]
    pub fn new(source: &str) -> TreeBuilder {
        TreeBuilder::with_budget(source, usize::MAX)
    }

    /// A builder that holds at most about `budget` closed spans under roots still open
    /// (see [`HOLD_BUDGET`]): past it, each closed subtree whose parent is still open is
    /// handed over as a piece, a [`Tree`] whose [`Tree::open_parent`] is set, in the
    /// order of its root's start. The parent's node, when it comes, has the intervals
    /// of those children ([`Tree::early_children`], [`Tree::self_ns`]). A child that
    /// closes after its parent was handed over comes as a piece whose parent never
    /// comes.
    #[must_use]
    pub fn with_budget(source: &str, budget: usize) -> TreeBuilder {
        TreeBuilder {
            budget,
            next_hand_over: budget,
            early: HashMap::default(),
            source: source.into(),
            slots: Vec::new(),
            free: Vec::new(),
            held: HashMap::default(),
            first_child: HashMap::default(),
            order: Vec::new(),
            stack: Vec::new(),
            siblings: Vec::new(),
            warnings: Warnings::default(),
        }
    }

    /// The warnings found so far (cycles, duplicate ids).
    #[must_use]
    pub fn into_warnings(self) -> Warnings {
        self.warnings
    }

    fn warn(&mut self, span: &Span, kind: WarningKind, message: String) {
        self.warnings.push(Warning {
            source: self.source.clone(),
            line: Some(span.line),
            kind,
            message,
        });
    }

    /// Adds a closed span; calls `emit` with the tree if it completes one.
    pub fn push(&mut self, span: Span, emit: &mut impl FnMut(Tree)) {
        let original_id = span.id;
        let mut key = Some(original_id);
        if self.held.contains_key(&original_id) {
            let message = format!(
                "span id {original_id} ({}) appears twice while its tree is open: kept as a separate span",
                span.name
            );
            self.warn(&span, WarningKind::DuplicateId, message);
            key = None;
        }
        let first_child = self.first_child.remove(&original_id).unwrap_or(NONE);
        let parent = match span.parent {
            Some(p) if p == original_id => {
                let message = format!(
                    "span {p} ({}) names itself as parent: treated as a root",
                    span.name
                );
                self.warn(&span, WarningKind::ParentCycle, message);
                None
            }
            other => other,
        };
        let Some(parent) = parent else {
            self.collect(first_child);
            let tree = self.assemble(span);
            emit(tree);
            return;
        };
        let slot = self.hold(Held {
            key,
            span,
            first_child,
            next_sibling: NONE,
            placed: false,
        });
        let next_sibling = match self.held.get(&parent) {
            // The parent closed before this child (e.g. both flushed open): link directly.
            Some(&p) => match &mut self.slots[p as usize] {
                Some(parent) => std::mem::replace(&mut parent.first_child, slot),
                None => NONE,
            },
            None => self.first_child.insert(parent, slot).unwrap_or(NONE),
        };
        if let Some(held) = &mut self.slots[slot as usize] {
            held.next_sibling = next_sibling;
        }
        if let Some(key) = key {
            self.held.insert(key, slot);
        }
        if self.slots.len() - self.free.len() > self.next_hand_over {
            self.hand_over(emit);
        }
    }

    /// Hands over every closed subtree whose parent is still open, as pieces.
    fn hand_over(&mut self, emit: &mut impl FnMut(Tree)) {
        let mut roots: Vec<(u64, u64, u32, u64)> = Vec::new();
        for (&parent, &first) in &self.first_child {
            let mut cursor = first;
            while let Some(held) = self.slots.get(cursor as usize).and_then(Option::as_ref) {
                roots.push((held.span.start_ns, held.span.line, cursor, parent));
                cursor = held.next_sibling;
            }
        }
        self.first_child.clear();
        roots.sort_unstable();
        for (start, _, slot, parent) in roots {
            let Some((end, busy)) = self.slots[slot as usize]
                .as_ref()
                .map(|h| (h.span.end_ns, h.span.busy_ns))
            else {
                continue;
            };
            if self.early.entry(parent).or_default().add(start, end, busy) {
                if let Some(span) = self.slots[slot as usize].as_ref().map(|h| h.span.clone()) {
                    let message = format!(
                        "span {parent} had children handed over in more than {MAX_EARLY_RUNS} separate runs of time before it closed, and span {} ({}) reached back into the earliest: its self time is approximate",
                        span.id, span.name
                    );
                    self.warn(&span, WarningKind::EarlyChildrenFolded, message);
                }
            }
            if let Some(mut tree) = self.build_held(slot) {
                tree.open_parent = Some(parent);
                emit(tree);
            }
        }
        // What is still held is in parent cycles: look again once as much more is held.
        let held = self.slots.len() - self.free.len();
        self.next_hand_over = self.budget.max(held.saturating_mul(2));
    }

    fn hold(&mut self, held: Held) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(held);
                slot
            }
            None => {
                self.slots.push(Some(held));
                (self.slots.len() - 1) as u32
            }
        }
    }

    /// Takes a held span out of its slot.
    fn release(&mut self, slot: u32) -> Option<Held> {
        let held = self.slots.get_mut(slot as usize)?.take()?;
        if let Some(key) = held.key {
            self.held.remove(&key);
        }
        self.free.push(slot);
        Some(held)
    }

    /// Ends a segment: spans still held are handed over as trees of their own. Those whose
    /// parent never came are marked with [`Tree::missing_parent`] (no warning: see
    /// [`TreeBuilder`]); parent cycles are broken with a warning.
    pub fn finish_segment(&mut self, emit: &mut impl FnMut(Tree)) {
        let mut orphans: Vec<(u64, u64, u32)> = Vec::new();
        let mut rest: Vec<(u64, u32)> = Vec::new();
        for (slot, held) in self.slots.iter().enumerate() {
            let Some(held) = held else { continue };
            let slot = slot as u32;
            match held.span.parent {
                Some(parent) if self.held.contains_key(&parent) => {
                    rest.push((held.span.line, slot));
                }
                _ => orphans.push((held.span.start_ns, held.span.line, slot)),
            }
        }
        orphans.sort_unstable();
        for (_, _, slot) in orphans {
            if let Some(mut tree) = self.build_held(slot) {
                tree.missing_parent = tree.root().parent;
                emit(tree);
            }
        }
        // What is left is in parent cycles, or hangs off one: each cycle is broken at its
        // earliest line, the spans hanging off it come with it.
        rest.sort_unstable();
        for (_, slot) in rest {
            if self.slots[slot as usize].is_none() {
                continue;
            }
            let (root, in_cycle) = self.cycle_root(slot);
            let Some(span) = self.slots[root as usize].as_ref().map(|h| h.span.clone()) else {
                continue;
            };
            if in_cycle {
                let message = format!(
                    "span {} ({}) is in a parent cycle: treated as a root",
                    span.id, span.name
                );
                self.warn(&span, WarningKind::ParentCycle, message);
            }
            if let Some(mut tree) = self.build_held(root) {
                if !in_cycle {
                    tree.missing_parent = tree.root().parent;
                }
                emit(tree);
            }
        }
        self.first_child.clear();
        self.held.clear();
        self.slots.clear();
        self.free.clear();
        self.early.clear();
        self.next_hand_over = self.budget;
    }

    /// Follows parents from a held span to the cycle they run into: the cycle's span with
    /// the earliest line, and true. If they run out instead (nothing left to close the
    /// chain), the last span reached, and false.
    fn cycle_root(&self, from: u32) -> (u32, bool) {
        let mut path: HashMap<u32, usize> = HashMap::default();
        let mut order = Vec::new();
        let mut slot = from;
        loop {
            if let Some(&at) = path.get(&slot) {
                let line = |s: &u32| self.slots[*s as usize].as_ref().map(|h| h.span.line);
                let root = order[at..].iter().copied().min_by_key(line).unwrap_or(slot);
                return (root, true);
            }
            path.insert(slot, order.len());
            order.push(slot);
            let parent = self.slots[slot as usize]
                .as_ref()
                .and_then(|h| h.span.parent)
                .and_then(|p| self.held.get(&p).copied())
                .filter(|&p| self.slots[p as usize].is_some());
            match parent {
                Some(parent) => slot = parent,
                None => return (slot, false),
            }
        }
    }

    /// Builds the tree of a span still held (its parent is missing, or it is in a cycle).
    fn build_held(&mut self, slot: u32) -> Option<Tree> {
        let held = self.slots.get_mut(slot as usize)?.as_mut()?;
        held.placed = true;
        let first_child = held.first_child;
        self.collect(first_child);
        let root = self.release(slot)?;
        Some(self.assemble(root.span))
    }

    /// Lists the held descendants of a root whose first child is `first_child` in
    /// [`Self::order`], in pre-order with children by start, without recursion.
    fn collect(&mut self, first_child: u32) {
        self.order.clear();
        self.stack.clear();
        self.push_children(first_child, 0, 1);
        while let Some((slot, parent, depth)) = self.stack.pop() {
            let index = self.order.len() as u32 + 1;
            self.order.push((slot, parent, depth));
            let first = self.slots[slot as usize]
                .as_ref()
                .map_or(NONE, |h| h.first_child);
            self.push_children(first, index, depth + 1);
        }
    }

    /// Pushes the children in the list starting at `first` on the stack, latest first so
    /// that they pop in start order; a child already placed (a cycle) is passed over.
    fn push_children(&mut self, first: u32, parent: u32, depth: u32) {
        let Self {
            slots,
            stack,
            siblings,
            ..
        } = self;
        siblings.clear();
        let mut cursor = first;
        while let Some(held) = slots.get_mut(cursor as usize).and_then(Option::as_mut) {
            if !held.placed {
                held.placed = true;
                siblings.push(cursor);
            }
            cursor = held.next_sibling;
        }
        let key = |slot: &u32| {
            slots[*slot as usize]
                .as_ref()
                .map(|h| (h.span.start_ns, h.span.line))
        };
        siblings.sort_unstable_by_key(|slot| std::cmp::Reverse(key(slot)));
        stack.extend(siblings.iter().map(|&slot| (slot, parent, depth)));
    }

    /// Moves the spans listed in [`Self::order`] out of their slots into `root`'s tree.
    /// The nodes that had children handed over early get their intervals.
    fn assemble(&mut self, root: Span) -> Tree {
        let mut nodes = Vec::with_capacity(self.order.len() + 1);
        nodes.push(Node::new(root, None, 0));
        for i in 0..self.order.len() {
            let (slot, parent, depth) = self.order[i];
            if let Some(held) = self.release(slot) {
                nodes.push(Node::new(held.span, Some(parent), depth));
            }
        }
        let mut tree = Tree::from_preorder(nodes);
        if !self.early.is_empty() {
            for (i, node) in tree.nodes.iter().enumerate() {
                if let Some(early) = self.early.remove(&node.span.id) {
                    tree.early.push((i as u32, early));
                }
            }
        }
        tree
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: u64, parent: Option<u64>, start: u64, end: u64) -> Span {
        let mut s = Span::example(&format!("s{id}"), start, end);
        s.id = id;
        s.parent = parent;
        s.line = id;
        s
    }

    fn run(spans: Vec<Span>) -> (Vec<Tree>, Warnings) {
        let mut builder = TreeBuilder::new("t");
        let mut trees = Vec::new();
        for s in spans {
            builder.push(s, &mut |t| trees.push(t));
        }
        builder.finish_segment(&mut |t| trees.push(t));
        (trees, builder.into_warnings())
    }

    #[test]
    fn children_are_sorted_by_start_and_preorder() {
        let (trees, warnings) = run(vec![
            span(3, Some(1), 5, 6),
            span(4, Some(2), 1, 2),
            span(2, Some(1), 0, 3),
            span(1, None, 0, 10),
        ]);
        assert!(warnings.list().is_empty());
        let t = &trees[0];
        let ids: Vec<u64> = t.nodes().iter().map(|n| n.span.id).collect();
        assert_eq!(ids, [1, 2, 4, 3]);
        assert_eq!(t.children(0), &[1, 3]);
        assert_eq!(t.nodes()[2].depth, 2);
    }

    #[test]
    fn a_missing_parent_is_marked_on_the_tree_for_the_receiver_to_judge() {
        let (trees, warnings) = run(vec![span(2, Some(99), 0, 1), span(3, Some(2), 0, 1)]);
        assert_eq!(trees.len(), 1);
        assert_eq!(trees[0].len(), 2);
        assert_eq!(trees[0].missing_parent(), Some(99));
        assert!(warnings.list().is_empty());
    }

    #[test]
    fn cycles_are_broken_once() {
        let (trees, warnings) = run(vec![
            span(1, Some(2), 0, 1),
            span(2, Some(1), 0, 1),
            span(3, Some(3), 0, 1),
        ]);
        let total: usize = trees.iter().map(Tree::len).sum();
        assert_eq!(total, 3);
        assert_eq!(
            warnings
                .list()
                .iter()
                .filter(|w| w.kind == WarningKind::ParentCycle)
                .count(),
            2
        );
    }

    #[test]
    fn a_duplicate_id_takes_no_other_span_s_place() {
        // The second span 5 once got u64::MAX as its key and stole span MAX's child.
        let (trees, warnings) = run(vec![
            span(u64::MAX, Some(1), 0, 4),
            span(5, Some(1), 0, 1),
            span(5, Some(1), 1, 2),
            span(6, Some(u64::MAX), 2, 3),
            span(1, None, 0, 5),
        ]);
        assert_eq!(trees.len(), 1);
        let t = &trees[0];
        assert_eq!(t.len(), 5);
        let six = t.nodes().iter().find(|n| n.span.id == 6).unwrap();
        assert_eq!(t.span(six.parent.unwrap() as usize).id, u64::MAX);
        let duplicates = warnings
            .list()
            .iter()
            .filter(|w| w.kind == WarningKind::DuplicateId);
        assert_eq!(duplicates.count(), 1);
    }

    #[test]
    fn a_cycle_is_broken_inside_it_not_at_a_span_hanging_off_it() {
        let mut tail = span(10, Some(1), 0, 1);
        tail.line = 1;
        let (mut one, mut two) = (span(1, Some(2), 0, 1), span(2, Some(1), 0, 1));
        (one.line, two.line) = (2, 3);
        let (trees, warnings) = run(vec![tail, one, two]);
        assert_eq!(trees.len(), 1);
        assert_eq!(trees[0].len(), 3);
        assert_eq!(trees[0].root().id, 1);
        let cycles: Vec<_> = warnings
            .list()
            .iter()
            .filter(|w| w.kind == WarningKind::ParentCycle)
            .collect();
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].line, Some(2));
    }

    #[test]
    fn duplicate_ids_keep_both_spans() {
        let (trees, warnings) = run(vec![
            span(2, Some(1), 0, 1),
            span(2, Some(1), 2, 3),
            span(1, None, 0, 5),
        ]);
        assert_eq!(trees[0].len(), 3);
        assert_eq!(warnings.list()[0].kind, WarningKind::DuplicateId);
    }

    #[test]
    fn parent_written_before_child_still_links() {
        let (trees, _) = run(vec![span(1, Some(9), 0, 10), span(2, Some(1), 1, 2)]);
        assert_eq!(trees.len(), 1);
        assert_eq!(trees[0].len(), 2);
        assert_eq!(trees[0].missing_parent(), Some(9));
    }

    #[test]
    fn past_the_budget_closed_subtrees_come_early_and_their_parent_knows_their_time() {
        let mut builder = TreeBuilder::with_budget("t", 2);
        let (mut trees, mut pieces) = (Vec::new(), Vec::new());
        // A connection (1) open while requests (10, 20, 30, 40) with a child each close.
        for (k, start) in [(1u64, 10u64), (2, 30), (3, 50), (4, 70)] {
            let request = 10 * k;
            for s in [
                span(request + 1, Some(request), start + 1, start + 5),
                span(request, Some(1), start, start + 10),
            ] {
                builder.push(s, &mut |t: Tree| {
                    if t.open_parent().is_some() {
                        pieces.push(t)
                    } else {
                        trees.push(t)
                    }
                });
            }
        }
        builder.push(span(1, None, 0, 100), &mut |t: Tree| trees.push(t));
        builder.finish_segment(&mut |t: Tree| trees.push(t));
        let under_root = pieces.iter().filter(|p| p.open_parent() == Some(1)).count();
        assert!(under_root >= 2, "{pieces:?}");
        assert_eq!(trees.len(), 1);
        let root = &trees[0];
        let early = root.early_children(0).map_or(0, EarlyChildren::count);
        assert_eq!(early as usize, under_root);
        assert_eq!(early as usize + root.children(0).len(), 4);
        assert_eq!(root.covered_ns(0), 40);
        assert_eq!(root.self_ns(0), 60);
        assert_eq!(pieces.iter().map(Tree::len).sum::<usize>() + root.len(), 9);
    }

    #[test]
    fn early_children_keep_the_union_of_their_times() {
        let mut early = EarlyChildren::default();
        for (s, e) in [
            (10, 20),
            (30, 40),
            (15, 32),
            (50, 60),
            (5, 6),
            (6, 7),
            (60, 60),
        ] {
            early.add(s, e, 1);
        }
        let runs: Vec<(u64, u64)> = early.runs.iter().map(|(&s, &e)| (s, e)).collect();
        assert_eq!(runs, [(5, 7), (10, 40), (50, 60)]);
        assert_eq!(early.count(), 7);
        assert_eq!(
            (early.duration_ns(), early.busy_ns()),
            (10 + 10 + 17 + 10 + 1 + 1, 7)
        );
        let mut many = EarlyChildren::default();
        for k in 0..(MAX_EARLY_RUNS as u64 + 10) {
            many.add(3 * k, 3 * k + 2, 0);
        }
        assert_eq!(many.runs.len(), MAX_EARLY_RUNS);
        assert_eq!(many.folded_ns, 20);
        assert!(!many.add(
            3 * MAX_EARLY_RUNS as u64 + 100,
            3 * MAX_EARLY_RUNS as u64 + 101,
            0
        ));
        assert!(many.add(1, 2, 0), "reaches back into the folded runs");
        assert!(!many.add(1, 2, 0), "said once");
    }

    #[test]
    fn nesting_100_000_deep_does_not_overflow() {
        let n = 100_000u64;
        let spans: Vec<Span> = (1..=n)
            .rev()
            .map(|i| span(i, (i > 1).then(|| i - 1), i, 2 * n - i))
            .collect();
        let (trees, warnings) = run(spans);
        assert!(warnings.list().is_empty());
        assert_eq!(trees.len(), 1);
        assert_eq!(trees[0].nodes().last().unwrap().depth, (n - 1) as u32);
        drop(trees); // dropping a deep tree must not recurse either
    }
}
