//! Brendan Gregg's folded stacks: `root;child;leaf <self time in µs>`.
//!
//! One line per distinct stack of span names, weighted by the self time of
//! the spans on it (their duration minus their children's), summed, in whole
//! microseconds; stacks that round to zero are left out. The lines are sorted,
//! as `flamegraph.pl` and `inferno-flamegraph` expect. Spans nested deeper than
//! [`MAX_DEPTH`] frames are merged into one [`MERGED_FRAME`].
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

use std::io::{self, BufRead, Write};
use std::path::Path;
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use super::Session;
use crate::analysis::intervals::union_len_sorted;
use crate::input::{visit, visit_path, Segment, Tree, VisitReport, Visitor};
use crate::{Error, Options};

/// The deepest stack written: spans nested deeper than this many frames are
/// merged into one [`MERGED_FRAME`] on top of it, so a runaway recursion gives
/// bounded lines instead of output quadratic in its depth.
pub const MAX_DEPTH: usize = 128;

/// The frame that stands for the spans nested deeper than [`MAX_DEPTH`].
pub const MERGED_FRAME: &str = "(deeper frames merged)";

/// The folded stacks of a session with their self time in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stacks {
    /// Each distinct stack (`root;child;leaf`) with its self time in ns,
    /// sorted by stack; stacks without self time are left out.
    pub stacks: Vec<(String, u64)>,
    /// How many spans lay deeper than [`MAX_DEPTH`] and were merged.
    pub merged_spans: u64,
    /// How many spans were folded.
    pub spans: u64,
    /// The session id written in the file (empty if it names none).
    pub session: String,
}

impl Stacks {
    /// Folds the session's trees into stacks of span names.
    ///
    /// ```
    /// use perf_analyze::export::{folded::Stacks, Session};
    ///
    /// let data = concat!(
    ///     r#"{"type":"session","format":1,"session":"s","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#, "\n",
    ///     r#"{"type":"span","id":1,"parent":null,"name":"turn","target":"t","start_ns":0,"end_ns":10,"busy_ns":10,"enters":1,"thread":"main","status":"ok","fields":{}}"#, "\n",
    /// );
    /// let (session, _) = Session::read(data.as_bytes(), "mem", &Default::default())?;
    /// assert_eq!(Stacks::of(&session).stacks, [("turn".to_owned(), 10)]);
    /// # Ok::<(), perf_analyze::Error>(())
    /// ```
    #[must_use]
    pub fn of(session: &Session) -> Stacks {
        let mut folder = Folder {
            session: session.name().to_owned(),
            ..Folder::default()
        };
        for tree in session.trees() {
            folder.fold(tree);
        }
        folder.finish()
    }

    /// Reads and folds a session tree by tree, as each completes: memory follows the
    /// distinct stacks and the open trees, not the file's size (no [`Session`] is held).
    ///
    /// ```
    /// use perf_analyze::export::folded::Stacks;
    ///
    /// let data = concat!(
    ///     r#"{"type":"session","format":1,"session":"s","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#, "\n",
    ///     r#"{"type":"span","id":1,"parent":null,"name":"turn","target":"t","start_ns":0,"end_ns":10,"busy_ns":10,"enters":1,"thread":"main","status":"ok","fields":{}}"#, "\n",
    /// );
    /// let (stacks, _report) = Stacks::read(data.as_bytes(), "mem", &Default::default())?;
    /// assert_eq!((stacks.session.as_str(), stacks.spans), ("s", 1));
    /// assert_eq!(stacks.stacks, [("turn".to_owned(), 10)]);
    /// # Ok::<(), perf_analyze::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Session::read`].
    pub fn read<R: BufRead + Send>(
        input: R,
        source: &str,
        options: &Options,
    ) -> Result<(Stacks, VisitReport), Error> {
        let mut folder = Folder::default();
        let report = visit(input, source, options, &mut folder)?;
        Ok((folder.finish(), report))
    }

    /// As [`Stacks::read`], from a data file or a session directory.
    ///
    /// # Errors
    /// As [`Session::read_path`].
    pub fn read_path(path: &Path, options: &Options) -> Result<(Stacks, VisitReport), Error> {
        let mut folder = Folder::default();
        let report = visit_path(path, options, &mut folder)?;
        Ok((folder.finish(), report))
    }

    /// The stacks in whole microseconds (rounded; those that round to zero left out).
    #[must_use]
    pub fn in_micros(&self) -> Vec<(String, u64)> {
        self.stacks
            .iter()
            .map(|(stack, ns)| (stack.clone(), ns.saturating_add(500) / 1000))
            .filter(|&(_, us)| us > 0)
            .collect()
    }
}

/// Folds trees one at a time into a [`Trie`] of distinct stacks.
#[derive(Debug, Default)]
struct Folder {
    trie: Trie,
    merged_spans: u64,
    spans: u64,
    session: String,
    /// The trie frame of each node of the tree being folded.
    frame_of: Vec<usize>,
}

impl Folder {
    fn fold(&mut self, tree: &Tree) {
        // Nodes come in pre-order: a parent's frame is known before its children need it.
        self.frame_of.clear();
        for (i, node) in tree.nodes().iter().enumerate() {
            let parent = node.parent.map_or(ROOT, |p| self.frame_of[p as usize]);
            let depth = node.depth as usize;
            let frame = if depth < MAX_DEPTH {
                self.trie.frame(parent, &node.span.name)
            } else {
                self.merged_spans += 1;
                if depth == MAX_DEPTH {
                    self.trie.frame(parent, &Arc::from(MERGED_FRAME))
                } else {
                    parent
                }
            };
            let own = &mut self.trie.frames[frame].self_ns;
            *own = own.saturating_add(self_time(tree, i));
            self.frame_of.push(frame);
        }
        self.spans += tree.len() as u64;
    }

    fn finish(self) -> Stacks {
        Stacks {
            stacks: self.trie.stacks(),
            merged_spans: self.merged_spans,
            spans: self.spans,
            session: self.session,
        }
    }
}

impl Visitor for Folder {
    fn segment(&mut self, segment: &Segment) {
        if segment.index == 0 {
            self.session.clone_from(&segment.session);
        }
    }

    fn tree(&mut self, tree: Tree) {
        self.fold(&tree);
    }
}

/// The parent of a root frame.
const ROOT: usize = usize::MAX;

/// Distinct stacks as a tree of frames: each frame knows its parent, so a
/// span's stack is found in constant time whatever its depth.
#[derive(Debug, Default)]
struct Trie {
    frames: Vec<Frame>,
    index: HashMap<(usize, Arc<str>), usize>,
}

#[derive(Debug)]
struct Frame {
    parent: usize,
    name: Arc<str>,
    self_ns: u64,
}

impl Trie {
    /// The frame `name` on top of `parent`, made on first use.
    fn frame(&mut self, parent: usize, name: &Arc<str>) -> usize {
        let frames = &mut self.frames;
        *self.index.entry((parent, name.clone())).or_insert_with(|| {
            frames.push(Frame {
                parent,
                name: name.clone(),
                self_ns: 0,
            });
            frames.len() - 1
        })
    }

    /// Every frame with self time as a folded line, sorted, names made safe
    /// (stacks that become equal then are summed).
    fn stacks(&self) -> Vec<(String, u64)> {
        let mut lines = Vec::new();
        let mut path: Vec<&str> = Vec::new();
        for frame in self.frames.iter().filter(|f| f.self_ns > 0) {
            path.clear();
            let mut at = frame;
            loop {
                path.push(&at.name);
                match at.parent {
                    ROOT => break,
                    p => at = &self.frames[p],
                }
            }
            let mut line = String::new();
            for (k, name) in path.iter().rev().enumerate() {
                if k > 0 {
                    line.push(';');
                }
                push_frame(&mut line, name);
            }
            lines.push((line, frame.self_ns));
        }
        lines.sort_unstable();
        lines.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 = kept.1.saturating_add(later.1);
            }
            same
        });
        lines
    }
}

/// The folded stacks with their self time in whole microseconds, sorted by stack.
#[must_use]
pub fn stacks(session: &Session) -> Vec<(String, u64)> {
    Stacks::of(session).in_micros()
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
    write_stacks(&Stacks::of(session), out)
}

/// Writes stacks already folded, one `stack weight` line each (µs).
///
/// # Errors
/// When writing to `out` fails.
pub fn write_stacks<W: Write>(stacks: &Stacks, out: W) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    for (stack, us) in stacks.in_micros() {
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
