//! What the HTML report draws besides the analysis, read in the same pass as the
//! analysis and held in bounded memory: the flamegraph's folded stacks, and the roots
//! that closed last, for the background work beside the latest operation.

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::Path;

use super::export::folded::{Folder, Stacks};
use super::html::MAX_DRAWN;
use crate::analysis::{Analysis, Analyzer};
use crate::input::{self, visit, visit_path, Segment, SegmentEnd, Tree, Visitor};
use crate::{Error, Options};

/// The most recently closed roots kept for the timeline of the latest operation.
pub const RECENT_ROOTS: usize = 64;

/// The most spans those roots keep in all; each root is cut to its outermost
/// [`MAX_DRAWN`] spans first ([`Tree::outermost`]), as the timeline draws no more.
pub const RECENT_SPANS: usize = 4 * MAX_DRAWN;

/// The HTML report's data besides the [`Analysis`]: memory follows the distinct stacks,
/// the open spans and the caps above, not the file's size.
///
/// ```
/// use perf_analyze::output::PageData;
///
/// let data = concat!(
///     r#"{"type":"session","format":1,"session":"s","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#, "\n",
///     r#"{"type":"span","id":1,"parent":null,"name":"turn","target":"t","start_ns":0,"end_ns":10,"busy_ns":10,"enters":1,"thread":"main","status":"ok","fields":{}}"#, "\n",
/// );
/// let (analysis, page) = PageData::read(data.as_bytes(), "mem", &Default::default())?;
/// assert_eq!(page.stacks.stacks, [("turn".to_owned(), 10)]);
/// assert!(analysis.render_html(&Default::default(), &page).contains("turn"));
/// # Ok::<(), perf_analyze::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct PageData {
    /// The flamegraph's folded stacks.
    pub stacks: Stacks,
    /// The roots that closed last, oldest first (see [`RECENT_ROOTS`], [`RECENT_SPANS`]),
    /// each with the number of spans its cut left out.
    recent: VecDeque<(Tree, usize)>,
    recent_spans: usize,
}

impl PageData {
    /// Reads a session from `input` once for its [`Analysis`] and the page's data,
    /// named `source` in warnings and errors.
    ///
    /// # Errors
    /// When reading fails, the format is unsupported, or (with `strict`) a line is malformed.
    pub fn read<R: BufRead + Send>(
        input: R,
        source: &str,
        options: &Options,
    ) -> Result<(Analysis, PageData), Error> {
        let mut reading = Reading::new(options, source);
        let report = visit(input, source, options, &mut reading)?;
        Ok(reading.finish(|analyzer| analyzer.finish(report, None)))
    }

    /// As [`PageData::read`], from a data file or a session directory.
    ///
    /// # Errors
    /// As [`PageData::read`], and when the file cannot be opened.
    pub fn read_path(path: &Path, options: &Options) -> Result<(Analysis, PageData), Error> {
        let source = input::data_file(path);
        let mut reading = Reading::new(options, &source.to_string_lossy());
        let report = visit_path(path, options, &mut reading)?;
        Ok(reading.finish(|analyzer| analyzer.finish(report, Some(source))))
    }

    /// The roots that closed last, oldest first, each cut to its outermost levels and
    /// with the number of spans the cut left out.
    #[must_use]
    pub fn recent_roots(&self) -> &VecDeque<(Tree, usize)> {
        &self.recent
    }

    fn keep(&mut self, tree: &Tree) {
        if tree.missing_parent().is_some() {
            return;
        }
        let kept = tree.outermost(MAX_DRAWN);
        self.recent_spans += kept.len();
        let lost = tree.len() - kept.len();
        self.recent.push_back((kept, lost));
        while self.recent.len() > RECENT_ROOTS || self.recent_spans > RECENT_SPANS {
            let Some((old, _)) = self.recent.pop_front() else {
                break;
            };
            self.recent_spans -= old.len();
        }
    }
}

/// One reading for the analysis, the stacks and the recent roots.
#[derive(Debug)]
struct Reading<'a> {
    analyzer: Analyzer<'a>,
    folder: Folder,
    page: PageData,
}

impl<'a> Reading<'a> {
    fn new(options: &'a Options, source: &str) -> Reading<'a> {
        Reading {
            analyzer: Analyzer::new(options, source),
            folder: Folder::default(),
            page: PageData::default(),
        }
    }

    fn finish(self, analyze: impl FnOnce(Analyzer<'a>) -> Analysis) -> (Analysis, PageData) {
        let mut page = self.page;
        page.stacks = self.folder.finish();
        (analyze(self.analyzer), page)
    }
}

impl Visitor for Reading<'_> {
    fn segment(&mut self, segment: &Segment) {
        self.analyzer.segment(segment);
        self.folder.segment(segment);
    }

    fn tree(&mut self, tree: Tree) {
        self.folder.fold(&tree);
        self.page.keep(&tree);
        self.analyzer.tree(tree);
    }

    fn takes_pieces(&self) -> bool {
        self.analyzer.takes_pieces()
    }

    fn piece(&mut self, piece: Tree) {
        self.folder.fold_piece(&piece);
        self.analyzer.piece(piece);
    }

    fn segment_end(&mut self, end: &SegmentEnd) {
        self.analyzer.segment_end(end);
        self.folder.segment_end(end);
    }
}
