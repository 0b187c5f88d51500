//! Brendan Gregg's folded stacks: `root;child;leaf <self time in µs>`.
//!
//! One line per distinct stack of span names, weighted by the self time of
//! the spans on it (their duration minus their children's), summed, in whole
//! microseconds; stacks that round to zero are left out. The lines are sorted,
//! as `flamegraph.pl` and `inferno-flamegraph` expect.
//!
//! ```
//! use perf_analyze::export::{folded, Session};
//!
//! let data = concat!(
//!     r#"{"type":"session","format":1,"session":"s","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#, "\n",
//!     r#"{"type":"span","id":2,"parent":1,"name":"llm","target":"t","start_ns":2000,"end_ns":9000,"busy_ns":7000,"enters":1,"thread":"main","status":"ok","fields":{}}"#, "\n",
//!     r#"{"type":"span","id":1,"parent":null,"name":"turn","target":"t","start_ns":0,"end_ns":10000,"busy_ns":10000,"enters":1,"thread":"main","status":"ok","fields":{}}"#, "\n",
//! );
//! let (session, _) = Session::read(data.as_bytes(), "mem", &Default::default())?;
//! assert_eq!(folded::to_string(&session), "turn 3\nturn;llm 7\n");
//! # Ok::<(), perf_analyze::Error>(())
//! ```

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::Session;
use crate::intervals::union_len_sorted;
use crate::Tree;

/// The folded stacks with their self time in whole microseconds, sorted by stack.
#[must_use]
pub fn stacks(session: &Session) -> Vec<(String, u64)> {
    let mut self_ns: BTreeMap<String, u64> = BTreeMap::new();
    let mut path = String::new();
    // Where each node's frame ends in `path`; nodes come in pre-order, so a
    // parent's entry is there before its children need it.
    let mut ends: Vec<usize> = Vec::new();
    for tree in session.trees() {
        ends.clear();
        for (i, node) in tree.nodes().iter().enumerate() {
            match node.parent {
                Some(p) => {
                    path.truncate(ends[p as usize]);
                    path.push(';');
                }
                None => path.clear(),
            }
            push_frame(&mut path, &node.span.name);
            ends.push(path.len());
            let own = self_time(tree, i);
            match self_ns.get_mut(path.as_str()) {
                Some(sum) => *sum += own,
                None => {
                    self_ns.insert(path.clone(), own);
                }
            }
        }
    }
    self_ns
        .into_iter()
        .map(|(stack, ns)| (stack, (ns + 500) / 1000))
        .filter(|&(_, us)| us > 0)
        .collect()
}

/// A node's duration minus the union of its children's intervals.
fn self_time(tree: &Tree, node: usize) -> u64 {
    let span = tree.span(node);
    let children = tree.children(node).iter().map(|&c| {
        let child = tree.span(c as usize);
        (child.start_ns, child.end_ns)
    });
    span.duration_ns().saturating_sub(union_len_sorted(
        children,
        span.start_ns,
        span.end_ns.max(span.start_ns),
    ))
}

/// Writes the folded stacks, one `stack weight` line each.
///
/// # Errors
/// When writing to `out` fails.
pub fn write<W: Write>(session: &Session, out: W) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    for (stack, us) in stacks(session) {
        writeln!(out, "{stack} {us}")?;
    }
    out.flush()
}

/// The folded stacks as one string.
#[must_use]
pub fn to_string(session: &Session) -> String {
    stacks(session)
        .into_iter()
        .map(|(stack, us)| format!("{stack} {us}\n"))
        .collect()
}

/// Appends a span name as one frame: `;` separates frames and a line break
/// ends a record, so both become something harmless.
fn push_frame(path: &mut String, name: &str) {
    if name.is_empty() {
        path.push('?');
        return;
    }
    path.extend(name.chars().map(|c| match c {
        ';' => ':',
        c if c.is_control() => ' ',
        c => c,
    }));
}
