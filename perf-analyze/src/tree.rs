//! Assembles spans into complete root trees.
//!
//! Spans arrive when they close, children before their parents. A [`TreeBuilder`]
//! holds them until their root closes, then hands over the complete [`Tree`].
//! At the end of a segment, spans whose parent never came are handed over as trees
//! of their own, marked with [`Tree::missing_parent`]: whether that parent was lost
//! (the segment has an `end` line) or is still running (it has none yet) is for the
//! receiver to say, as the builder does not see `end` lines. Parent cycles are broken,
//! with a warning. Nothing here recurses, so nesting 100,000 deep is fine.
//!
//! ```
//! use perf_analyze::{Span, tree::TreeBuilder};
//!
//! let mut builder = TreeBuilder::new("mem");
//! let mut child = Span::example("child", 2, 5);
//! child.id = 2;
//! child.parent = Some(1);
//! let root = Span::example("root", 0, 10);
//! let mut trees = Vec::new();
//! builder.push(child, &mut |tree| trees.push(tree));
//! assert!(trees.is_empty()); // the root is still open
//! builder.push(root, &mut |tree| trees.push(tree));
//! assert_eq!(trees[0].len(), 2);
//! assert_eq!(&*trees[0].span(trees[0].children(0)[0] as usize).name, "child");
//! ```

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use crate::span::Span;
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

/// A complete root tree: nodes in pre-order (node 0 is the root), children sorted by start.
#[derive(Debug, Clone)]
pub struct Tree {
    nodes: Vec<Node>,
    children: Vec<u32>,
    missing_parent: Option<u64>,
}

impl Tree {
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

    /// All nodes in pre-order.
    #[must_use]
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
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

    /// Builds a tree from nodes in pre-order given as (span, parent index).
    fn from_preorder(nodes: Vec<(Span, Option<u32>, u32)>) -> Tree {
        let mut counts = vec![0u32; nodes.len()];
        for (_, parent, _) in &nodes {
            if let Some(p) = parent {
                counts[*p as usize] += 1;
            }
        }
        let mut at = Vec::with_capacity(nodes.len());
        let mut next = 0u32;
        for count in &counts {
            at.push(next);
            next += count;
        }
        let mut fill = at.clone();
        let mut children = vec![0u32; next as usize];
        for (index, (_, parent, _)) in nodes.iter().enumerate() {
            if let Some(p) = parent {
                let slot = &mut fill[*p as usize];
                children[*slot as usize] = index as u32;
                *slot += 1;
            }
        }
        let nodes = nodes
            .into_iter()
            .zip(at.into_iter().zip(counts))
            .map(
                |((span, parent, depth), (children_at, children_len))| Node {
                    span,
                    parent,
                    depth,
                    children_at,
                    children_len,
                },
            )
            .collect();
        Tree {
            nodes,
            children,
            missing_parent: None,
        }
    }
}

struct Pending {
    span: Span,
    first_child: Option<u64>,
    next_sibling: Option<u64>,
}

/// Holds closed spans until their root closes. See the [module docs](self).
#[derive(Debug)]
pub struct TreeBuilder {
    source: Arc<str>,
    pending: HashMap<u64, Pending>,
    /// Parent id -> its first child, for parents not closed yet.
    first_child: HashMap<u64, u64>,
    next_synthetic: u64,
    warnings: Warnings,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("id", &self.span.id)
            .finish_non_exhaustive()
    }
}

impl TreeBuilder {
    /// A builder; `source` names the input in warnings.
    #[must_use]
    pub fn new(source: &str) -> TreeBuilder {
        TreeBuilder {
            source: source.into(),
            pending: HashMap::default(),
            first_child: HashMap::default(),
            next_synthetic: u64::MAX,
            warnings: Warnings::default(),
        }
    }

    /// Spans held while their trees are open.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.pending.len()
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
        let mut key = original_id;
        if self.pending.contains_key(&key) {
            let message = format!(
                "span id {key} ({}) appears twice while its tree is open: kept as a separate span",
                span.name
            );
            self.warn(&span, WarningKind::DuplicateId, message);
            key = self.next_synthetic;
            self.next_synthetic -= 1;
        }
        let first_child = self.first_child.remove(&original_id);
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
            let tree = self.build(span, first_child, None);
            emit(tree);
            return;
        };
        let next_sibling = match self.pending.get_mut(&parent) {
            // The parent closed before this child (e.g. both flushed open): link directly.
            Some(p) => p.first_child.replace(key),
            None => self.first_child.insert(parent, key),
        };
        self.pending.insert(
            key,
            Pending {
                span,
                first_child,
                next_sibling,
            },
        );
    }

    /// Ends a segment: spans still held are handed over as trees of their own. Those whose
    /// parent never came are marked with [`Tree::missing_parent`] (no warning: see the
    /// [module docs](self)); parent cycles are broken with a warning.
    pub fn finish_segment(&mut self, emit: &mut impl FnMut(Tree)) {
        let mut orphans: Vec<(u64, u64, u64)> = self
            .pending
            .iter()
            .filter(|(_, p)| {
                p.span
                    .parent
                    .map_or(true, |parent| !self.pending.contains_key(&parent))
            })
            .map(|(key, p)| (p.span.start_ns, p.span.line, *key))
            .collect();
        orphans.sort_unstable();
        for (_, _, key) in orphans {
            let Some(parent) = self.pending.get(&key).map(|p| p.span.parent) else {
                continue;
            };
            let mut tree = self.build_from_pending(key);
            tree.missing_parent = parent;
            emit(tree);
        }
        while let Some(key) = self
            .pending
            .iter()
            .min_by_key(|(_, p)| p.span.line)
            .map(|(k, _)| *k)
        {
            let span = self.pending[&key].span.clone();
            let message = format!(
                "span {} ({}) is in a parent cycle: treated as a root",
                span.id, span.name
            );
            self.warn(&span, WarningKind::ParentCycle, message);
            let tree = self.build_from_pending(key);
            emit(tree);
        }
        self.first_child.clear();
    }

    /// Builds the tree of a span still in `pending` (a missing parent or a cycle).
    fn build_from_pending(&mut self, key: u64) -> Tree {
        let first_child = self.pending.get(&key).and_then(|p| p.first_child);
        let span = self.pending[&key].span.clone();
        let tree = self.build(span, first_child, Some(key));
        self.pending.remove(&key);
        tree
    }

    /// Collects a root's descendants from `pending`, depth first without recursion.
    /// `skip` is a root still in `pending`, passed over if a cycle leads back to it.
    fn build(&mut self, root: Span, first_child: Option<u64>, skip: Option<u64>) -> Tree {
        let mut nodes: Vec<(Span, Option<u32>, u32)> = Vec::new();
        let mut stack: Vec<(Span, Option<u64>, Option<u32>, u32)> =
            vec![(root, first_child, None, 0)];
        let mut kids: Vec<Pending> = Vec::new();
        while let Some((span, first, parent, depth)) = stack.pop() {
            let index = nodes.len() as u32;
            nodes.push((span, parent, depth));
            let mut cursor = first;
            while let Some(id) = cursor {
                if Some(id) == skip {
                    cursor = self.pending.get(&id).and_then(|p| p.next_sibling);
                    continue;
                }
                match self.pending.remove(&id) {
                    Some(child) => {
                        cursor = child.next_sibling;
                        kids.push(child);
                    }
                    None => break,
                }
            }
            // Push latest-first so that children pop in start order.
            kids.sort_unstable_by(|a, b| {
                (b.span.start_ns, b.span.line).cmp(&(a.span.start_ns, a.span.line))
            });
            for kid in kids.drain(..) {
                stack.push((kid.span, kid.first_child, Some(index), depth + 1));
            }
        }
        Tree::from_preorder(nodes)
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
