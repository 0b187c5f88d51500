//! Reading on one thread; tree building and the [`Visitor`] on the calling one: spans
//! cross between them in batches, in file order.

use std::io::BufRead;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use perf_layer::record::DATA_FILE;

use super::scan;
use super::span::{Event, Segment, SegmentEnd, SourceFormat};
use super::tree::{Tree, TreeBuilder};
use crate::warning::Warnings;
use crate::{Error, Options};

/// Receives a session's complete root trees, in the order their roots closed.
///
/// Exports and custom analyses implement this and run with [`visit`] or [`visit_path`].
///
/// ```
/// use perf_analyze::{visit, Options, Tree, Visitor};
///
/// #[derive(Debug, Default)]
/// struct CountSpans(usize);
/// impl Visitor for CountSpans {
///     fn tree(&mut self, tree: Tree) {
///         self.0 += tree.len();
///     }
/// }
/// let data = concat!(
///     r#"{"type":"session","format":1,"session":"s","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#, "\n",
///     r#"{"type":"span","id":2,"parent":1,"name":"child","target":"t","start_ns":1,"end_ns":5,"busy_ns":4,"enters":1,"thread":"main","status":"ok","fields":{}}"#, "\n",
///     r#"{"type":"span","id":1,"parent":null,"name":"root","target":"t","start_ns":0,"end_ns":10,"busy_ns":10,"enters":1,"thread":"main","status":"ok","fields":{}}"#, "\n",
///     r#"{"type":"end","end_ns":10,"spans":2,"open":0,"dropped":0}"#, "\n",
/// );
/// let mut count = CountSpans::default();
/// let report = visit(data.as_bytes(), "mem", &Options::default(), &mut count)?;
/// assert_eq!(count.0, 2);
/// assert!(report.warnings.list().is_empty());
/// # Ok::<(), perf_analyze::Error>(())
/// ```
pub trait Visitor {
    /// A segment starts.
    fn segment(&mut self, segment: &Segment) {
        let _ = segment;
    }
    /// A complete root tree.
    fn tree(&mut self, tree: Tree);
    /// True if the visitor takes pieces ([`Visitor::piece`]): the trees under a root
    /// that stays open are then handed over before it closes, so that memory stays
    /// bounded (see [`HOLD_BUDGET`](super::HOLD_BUDGET)). False by default: every tree
    /// comes whole.
    fn takes_pieces(&self) -> bool {
        false
    }
    /// A closed subtree whose parent ([`Tree::open_parent`]) was still open, handed over
    /// early; called only if [`Visitor::takes_pieces`]. The parent comes later in a tree
    /// or a piece of its own, or never (a fragment whose parent is lost or still running:
    /// known at [`Visitor::segment_end`]).
    fn piece(&mut self, piece: Tree) {
        let _ = piece;
    }
    /// A segment ended (all its trees were delivered).
    fn segment_end(&mut self, end: &SegmentEnd) {
        let _ = end;
    }
    /// True once the visitor wants nothing more (its output failed): the reading then
    /// stops early. False by default.
    fn stopped(&self) -> bool {
        false
    }
}

/// What a visit reports besides what the visitor saw.
#[derive(Debug, Clone, Default)]
pub struct VisitReport {
    /// Lines read.
    pub lines: u64,
    /// The detected file format.
    pub format: Option<SourceFormat>,
    /// Problems read past: from the reader and from tree building, by line.
    pub warnings: Warnings,
}

/// Events per batch: enough that the channel costs nothing per span.
const BATCH: usize = 1024;

/// Reads `input` (named `source` in messages) and hands each complete root tree to `visitor`.
///
/// The reading thread parses lines into spans; this thread assembles them into trees
/// and runs the visitor, so a tree is allocated and freed on the same thread.
pub fn visit<R: BufRead + Send>(
    input: R,
    source: &str,
    options: &Options,
    visitor: &mut impl Visitor,
) -> Result<VisitReport, Error> {
    let strict = options.strict;
    let stop = AtomicBool::new(false);
    let input = Stoppable {
        inner: input,
        stop: &stop,
    };
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<Vec<Event>>(16);
        let reader = scope.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            let result = scan::read(input, source, strict, |event| {
                batch.push(event);
                if batch.len() == BATCH {
                    // The receiver only goes away if the visitor panicked.
                    let _ = tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
                }
            });
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
            result
        });
        let budget = if visitor.takes_pieces() {
            options.hold_budget.unwrap_or(super::HOLD_BUDGET)
        } else {
            usize::MAX
        };
        let mut builder = TreeBuilder::with_budget(source, budget);
        let emit = |visitor: &mut _, tree: Tree| {
            if tree.open_parent().is_some() {
                Visitor::piece(visitor, tree);
            } else {
                Visitor::tree(visitor, tree);
            }
        };
        for batch in rx {
            if visitor.stopped() {
                // The reader sees the end of its input at its next read.
                stop.store(true, Ordering::Relaxed);
                break;
            }
            for event in batch {
                match event {
                    Event::Segment(segment) => visitor.segment(&segment),
                    Event::Span(span) => builder.push(span, &mut |tree| emit(visitor, tree)),
                    Event::SegmentEnd(end) => {
                        builder.finish_segment(&mut |tree| emit(visitor, tree));
                        visitor.segment_end(&end);
                    }
                }
            }
        }
        let summary = match reader.join() {
            Ok(result) => result?,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let mut warnings = summary.warnings;
        warnings.extend(builder.into_warnings());
        warnings.sort_by_line();
        Ok(VisitReport {
            lines: summary.lines,
            format: summary.format,
            warnings,
        })
    })
}

/// An input that ends early once `stop` is set.
struct Stoppable<'a, R> {
    inner: R,
    stop: &'a AtomicBool,
}

impl<R: Read> Read for Stoppable<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.stop.load(Ordering::Relaxed) {
            return Ok(0);
        }
        self.inner.read(buf)
    }
}

impl<R: BufRead> BufRead for Stoppable<'_, R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.stop.load(Ordering::Relaxed) {
            return Ok(&[]);
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
    }
}

/// The data file of a path: the path itself, or `performance_data.jsonl` inside a directory.
#[must_use]
pub fn data_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(DATA_FILE)
    } else {
        path.to_owned()
    }
}

/// [`visit`] on a data file or a session directory.
pub fn visit_path(
    path: &Path,
    options: &Options,
    visitor: &mut impl Visitor,
) -> Result<VisitReport, Error> {
    let file_path = data_file(path);
    let file = std::fs::File::open(&file_path).map_err(|source| Error::Io {
        path: file_path.clone(),
        source,
    })?;
    let reader = std::io::BufReader::with_capacity(1 << 16, file);
    visit(reader, &file_path.to_string_lossy(), options, visitor)
}
