//! A whole session held in memory: its segments and every root tree.

use std::io::BufRead;
use std::path::Path;

use super::Timeline;
use crate::input::{self, visit, visit_path, Segment, Tree, VisitReport, Visitor};
use crate::{Error, Options};

/// A session's segments and complete root trees, as the exports need them
/// (the report itself streams and keeps only aggregates).
///
/// ```
/// use perf_analyze::export::Session;
///
/// let data = concat!(
///     r#"{"type":"session","format":1,"session":"demo","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#, "\n",
///     r#"{"type":"span","id":1,"parent":null,"name":"turn","target":"t","start_ns":0,"end_ns":10,"busy_ns":10,"enters":1,"thread":"main","status":"ok","fields":{}}"#, "\n",
/// );
/// let (session, _report) = Session::read(data.as_bytes(), "demo.jsonl", &Default::default())?;
/// assert_eq!(session.name(), "demo");
/// assert_eq!(session.trees().len(), 1);
/// # Ok::<(), perf_analyze::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct Session {
    segments: Vec<Segment>,
    trees: Vec<Tree>,
}

impl Visitor for Session {
    fn segment(&mut self, segment: &Segment) {
        self.segments.push(segment.clone());
    }

    fn tree(&mut self, tree: Tree) {
        self.trees.push(tree);
    }
}

impl Session {
    /// Reads a session from `input`, named `source` in warnings and errors.
    ///
    /// # Errors
    /// When reading fails, the format is unsupported, or (with `strict`) a line is malformed.
    pub fn read<R: BufRead + Send>(
        input: R,
        source: &str,
        options: &Options,
    ) -> Result<(Session, VisitReport), Error> {
        let mut session = Session::default();
        let report = visit(input, source, options, &mut session)?;
        Ok((session, report))
    }

    /// Reads a session from a data file or a session directory.
    ///
    /// # Errors
    /// As [`Session::read`], and when the file cannot be opened.
    pub fn read_path(path: &Path, options: &Options) -> Result<(Session, VisitReport), Error> {
        let mut session = Session::default();
        let report = visit_path(path, options, &mut session)?;
        Ok((session, report))
    }

    /// The session id written in the file (empty if it names none).
    #[must_use]
    pub fn name(&self) -> &str {
        self.segments.first().map_or("", |s| s.session.as_str())
    }

    /// The segments (runs), in file order.
    #[must_use]
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The complete root trees, in the order their roots closed.
    #[must_use]
    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }

    /// The session's start on the shared timeline
    /// ([`session_origin_ns`](crate::input::session_origin_ns)). Exports count time from here.
    #[must_use]
    pub fn origin_ns(&self) -> u64 {
        input::session_origin_ns(
            self.segments.iter().map(|s| s.origin_ns),
            self.trees.iter().map(|t| t.root().start_ns),
        )
    }

    /// The spans on one timeline, laid out on tracks.
    #[must_use]
    pub fn timeline(&self) -> Timeline<'_> {
        Timeline::new(&self.trees, self.origin_ns())
    }
}
