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
use crate::input::{visit, visit_path, Segment, SegmentEnd, Tree, VisitReport, Visitor};
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
///
/// Pieces (closed subtrees handed over while their parent is still open) are folded
/// into a second trie, under a placeholder frame for that parent, with their stacks
/// relative to it; when the parent comes, in a tree or a piece, its pending stacks are
/// grafted on top of its own frame. Memory follows the distinct stacks and the open
/// spans, not a long-lived root's subtree.
#[derive(Debug, Default)]
pub(crate) struct Folder {
    trie: Trie,
    /// The stacks of pieces whose parent has not come yet, relative to it.
    loose: Trie,
    /// (segment, open parent id) -> its placeholder frame in `loose`.
    pending: HashMap<(u32, u64), usize>,
    /// The size of `loose` at which it is rebuilt without the frames already grafted.
    compact_at: usize,
    merged_spans: u64,
    spans: u64,
    session: String,
    /// The trie frame of each node of the tree being folded.
    frame_of: Vec<usize>,
}

/// The smallest size of the pending stacks' trie worth rebuilding.
const MIN_COMPACT: usize = 1 << 12;

impl Folder {
    pub(crate) fn fold(&mut self, tree: &Tree) {
        // Nodes come in pre-order: a parent's frame is known before its children need it.
        self.frame_of.clear();
        for (i, node) in tree.nodes().iter().enumerate() {
            let parent = node.parent.map_or(ROOT, |p| self.frame_of[p as usize]);
            let depth = node.depth as usize;
            let frame = self.main_frame(parent, &node.span.name, depth, 1);
            let own = &mut self.trie.frames[frame].self_ns;
            *own = own.saturating_add(tree.self_ns(i));
            self.frame_of.push(frame);
            if !self.pending.is_empty() {
                if let Some(early) = self.pending.remove(&(node.span.segment, node.span.id)) {
                    self.graft_main(early, frame, depth + 1);
                }
            }
        }
        self.spans += tree.len() as u64;
    }

    /// The frame of a span `depth` deep named `name` over frame `parent` (`spans` of
    /// them): past [`MAX_DEPTH`], the merged frame.
    fn main_frame(&mut self, parent: usize, name: &Arc<str>, depth: usize, spans: u64) -> usize {
        if depth < MAX_DEPTH {
            self.trie.frame(parent, name)
        } else {
            self.merged_spans += spans;
            if depth == MAX_DEPTH {
                self.trie.frame(parent, &Arc::from(MERGED_FRAME))
            } else {
                parent
            }
        }
    }

    /// Puts the pending stacks over `placeholder` on top of frame `target`, their first
    /// frames `depth` deep.
    fn graft_main(&mut self, placeholder: usize, target: usize, depth: usize) {
        let sources = self.loose.subtree(placeholder);
        let mut mapped: Vec<usize> = Vec::with_capacity(sources.len());
        for (from, parent_at, level) in sources {
            let parent = parent_at.map_or(target, |at| mapped[at]);
            let frame = &self.loose.frames[from];
            let (name, self_ns, spans) = (frame.name.clone(), frame.self_ns, frame.spans);
            let to = self.main_frame(parent, &name, depth + level, spans);
            let own = &mut self.trie.frames[to].self_ns;
            *own = own.saturating_add(self_ns);
            mapped.push(to);
        }
    }

    /// Folds a piece into the pending stacks of its open parent.
    pub(crate) fn fold_piece(&mut self, tree: &Tree) {
        let segment = tree.root().segment;
        let key = (segment, tree.open_parent().unwrap_or_default());
        let loose = &mut self.loose;
        let placeholder = *self
            .pending
            .entry(key)
            .or_insert_with(|| loose.placeholder());
        self.frame_of.clear();
        for (i, node) in tree.nodes().iter().enumerate() {
            let parent = node
                .parent
                .map_or(placeholder, |p| self.frame_of[p as usize]);
            let frame = self.loose.frame(parent, &node.span.name);
            let f = &mut self.loose.frames[frame];
            f.self_ns = f.self_ns.saturating_add(tree.self_ns(i));
            f.spans += 1;
            self.frame_of.push(frame);
            if let Some(early) = self.pending.remove(&(segment, node.span.id)) {
                Self::graft_loose(&mut self.loose, early, frame);
            }
        }
        self.spans += tree.len() as u64;
        if self.loose.frames.len() > self.compact_at.max(MIN_COMPACT) {
            self.compact();
        }
    }

    /// Puts the stacks over `placeholder` on top of `target`, both in `loose`.
    fn graft_loose(loose: &mut Trie, placeholder: usize, target: usize) {
        let sources = loose.subtree(placeholder);
        let mut mapped: Vec<usize> = Vec::with_capacity(sources.len());
        for (from, parent_at, _) in sources {
            let parent = parent_at.map_or(target, |at| mapped[at]);
            let (name, self_ns, spans) = {
                let f = &loose.frames[from];
                (f.name.clone(), f.self_ns, f.spans)
            };
            let to = loose.frame(parent, &name);
            let f = &mut loose.frames[to];
            f.self_ns = f.self_ns.saturating_add(self_ns);
            f.spans += spans;
            mapped.push(to);
        }
    }

    /// Rebuilds the pending stacks without the frames already grafted.
    fn compact(&mut self) {
        let mut fresh = Trie::default();
        let mut keys: Vec<(u32, u64)> = self.pending.keys().copied().collect();
        keys.sort_unstable();
        for key in keys {
            let old = self.pending[&key];
            let new = fresh.placeholder();
            let sources = self.loose.subtree(old);
            let mut mapped: Vec<usize> = Vec::with_capacity(sources.len());
            for (from, parent_at, _) in sources {
                let parent = parent_at.map_or(new, |at| mapped[at]);
                let f = &self.loose.frames[from];
                let to = fresh.frame(parent, &f.name);
                fresh.frames[to].self_ns = f.self_ns;
                fresh.frames[to].spans = f.spans;
                mapped.push(to);
            }
            self.pending.insert(key, new);
        }
        self.loose = fresh;
        self.compact_at = self.loose.frames.len().saturating_mul(2);
    }

    /// Pieces whose parent never came (lost, or still running at the end of the file)
    /// are folded as roots, like the fragments a whole tree would give.
    fn finish_segment(&mut self) {
        let mut pending: Vec<((u32, u64), usize)> = self.pending.drain().collect();
        pending.sort_unstable();
        for (_, placeholder) in pending {
            self.graft_main(placeholder, ROOT, 0);
        }
        self.loose = Trie::default();
        self.compact_at = 0;
    }

    pub(crate) fn finish(mut self) -> Stacks {
        self.finish_segment();
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

    fn takes_pieces(&self) -> bool {
        true
    }

    fn piece(&mut self, piece: Tree) {
        self.fold_piece(&piece);
    }

    fn segment_end(&mut self, _: &SegmentEnd) {
        self.finish_segment();
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
    /// Spans folded into it (kept for pending stacks, whose depth is known later).
    spans: u64,
    /// Frames on top of it (kept for pending stacks, which are grafted).
    children: Vec<usize>,
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
                spans: 0,
                children: Vec::new(),
            });
            let frame = frames.len() - 1;
            if let Some(parent) = frames.get_mut(parent) {
                parent.children.push(frame);
            }
            frame
        })
    }

    /// A frame that stands for a parent not seen yet: never written itself.
    fn placeholder(&mut self) -> usize {
        self.frames.push(Frame {
            parent: ROOT,
            name: Arc::from(""),
            self_ns: 0,
            spans: 0,
            children: Vec::new(),
        });
        self.frames.len() - 1
    }

    /// The frames over `top` in pre-order, `top` left out: each with the position of
    /// its parent in the list (`None` for `top`'s children) and its level above `top`
    /// (0 for its children). Listed first, so that grafting into the same trie is safe.
    fn subtree(&self, top: usize) -> Vec<(usize, Option<usize>, usize)> {
        let mut out = Vec::new();
        let mut stack: Vec<(usize, Option<usize>, usize)> = self.frames[top]
            .children
            .iter()
            .rev()
            .map(|&c| (c, None, 0))
            .collect();
        while let Some((frame, parent_at, level)) = stack.pop() {
            let at = out.len();
            out.push((frame, parent_at, level));
            stack.extend(
                self.frames[frame]
                    .children
                    .iter()
                    .rev()
                    .map(|&c| (c, Some(at), level + 1)),
            );
        }
        out
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
