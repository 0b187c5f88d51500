//! The critical path of a tree: the chain of spans that decided when it ended.
//!
//! From the root, walk back from its end: the child that ended last, then the
//! child that ended last before that one started, and so on; then the same inside
//! each chosen child. Without recursion.
//!
//! ```
//! use perf_analyze::{analysis::critical::critical_path, input::TreeBuilder, Span};
//!
//! let mut root = Span::example("turn", 0, 100);
//! root.id = 1;
//! let mut a = Span::example("rag", 0, 30);
//! (a.id, a.parent) = (2, Some(1));
//! let mut b = Span::example("side", 5, 10);
//! (b.id, b.parent) = (3, Some(1));
//! let mut c = Span::example("llm", 30, 100);
//! (c.id, c.parent) = (4, Some(1));
//! let mut tree = None;
//! let mut builder = TreeBuilder::new("mem");
//! for span in [a, b, c, root] {
//!     builder.push(span, &mut |t| tree = Some(t));
//! }
//! let names: Vec<String> = critical_path(&tree.unwrap()).into_iter().map(|s| s.name).collect();
//! assert_eq!(names, ["turn", "rag", "llm"]);
//! ```

use serde::{Deserialize, Serialize};

use crate::input::Tree;

/// One span on the critical path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The span's name.
    pub name: String,
    /// Its depth in the tree (0 for the root).
    pub depth: u32,
    /// Its duration.
    pub duration_ns: u64,
    /// Its self time (duration minus its children's union).
    pub self_ns: u64,
}

/// The critical path of `tree`, in pre-order (root first, chosen children in time order).
#[must_use]
pub fn critical_path(tree: &Tree) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut stack = vec![0usize];
    let mut chain: Vec<usize> = Vec::new();
    let mut by_end: Vec<usize> = Vec::new();
    while let Some(index) = stack.pop() {
        let node = &tree.nodes()[index];
        let children = tree.children(index);
        let covered = super::intervals::union_len_sorted(
            children
                .iter()
                .map(|&c| (tree.span(c as usize).start_ns, tree.span(c as usize).end_ns)),
            node.span.start_ns,
            node.span.end_ns,
        );
        steps.push(Step {
            name: node.span.name.to_string(),
            depth: node.depth,
            duration_ns: node.span.duration_ns(),
            self_ns: node.span.duration_ns() - covered,
        });
        by_end.clear();
        by_end.extend(children.iter().map(|&c| c as usize));
        by_end.sort_by_key(|&c| std::cmp::Reverse(tree.span(c).end_ns));
        chain.clear();
        let mut cursor = u64::MAX;
        for &c in &by_end {
            let span = tree.span(c);
            if span.end_ns <= cursor {
                chain.push(c);
                cursor = span.start_ns;
            }
        }
        // `chain` runs latest first: pushing it as is pops the earliest first.
        stack.extend(chain.iter().copied());
    }
    steps
}
