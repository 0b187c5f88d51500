//! The full analysis of a session: every aggregator fed tree by tree, then summed up.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use perf_layer::record::{EndRecord, Status};

use super::advice::{self, Inputs};
use super::background::Background;
use super::bottleneck;
use super::causes::Causes;
use super::critical::{critical_path, Step};
use super::intervals::{SortedUnion, StartOrder, REORDER_CAPACITY};
use super::latest::Latest;
use super::llm::{LlmCall, LlmCalls};
use super::parallelism::Parallelism;
use super::stats::Stats;
use super::summary::{NameRow, Summary, Workload};
use crate::input::{
    self, EarlyChildren, Segment, SegmentEnd, SourceFormat, Tree, VisitReport, Visitor,
};
use crate::warning::{Warning, WarningKind, Warnings};
use crate::{Error, Options};

/// A segment with what was seen of it.
#[derive(Debug, Clone)]
pub struct SegmentInfo {
    /// The segment as it started.
    pub segment: Segment,
    /// Its first span start, if it has spans.
    pub first_start_ns: Option<u64>,
    /// Its last span end.
    pub last_end_ns: u64,
    /// Its `end` line, if it has one.
    pub end: Option<EndRecord>,
}

impl SegmentInfo {
    /// First span start to last span end.
    #[must_use]
    pub fn wall_ns(&self) -> u64 {
        self.first_start_ns
            .map_or(0, |first| self.last_end_ns.saturating_sub(first))
    }
}

/// `count` per second of `wall_ns` (0 without wall time), to 0.01.
fn per_second(count: u64, wall_ns: u64) -> f64 {
    if wall_ns == 0 {
        0.0
    } else {
        (count as f64 * 1e9 / wall_ns as f64 * 100.0).round() / 100.0
    }
}

/// Whether the analyzer takes pieces ([`Visitor::piece`]).
const TAKES_PIECES: bool = true;

/// The visitor that runs every analysis.
#[derive(Debug)]
pub(crate) struct Analyzer<'a> {
    options: &'a Options,
    /// The input's name, for warnings.
    source: Arc<str>,
    stats: Stats,
    parallelism: Parallelism,
    background: Background,
    llm: LlmCalls,
    causes: Causes,
    /// Scratch: the current tree's LLM calls, by node index.
    calls: Vec<(usize, LlmCall)>,
    /// Roots' intervals (with the name and link of those to classify) and spans that
    /// stick out of their root, on their way in start order to active time and the
    /// async analysis: see [`place`].
    timeline: StartOrder<Option<(Arc<str>, bool)>>,
    /// Active time of the current segment.
    active: SortedUnion,
    /// Active time of the segments before.
    active_ns: u64,
    /// Of the operations placed out of start order, those whose parent was missing.
    late_fragments: u64,
    segments: Vec<SegmentInfo>,
    operations: u64,
    open: u64,
    errors: u64,
    /// Candidates for the latest operation: see [`Latest`].
    latest: Latest,
    /// Trees whose root names a parent that never came, held from the end of their
    /// segment's spans to its `end` (they arrive together): lost if the segment has an
    /// `end` line, still running if not.
    fragments: Vec<Tree>,
    /// Spans of operations still running (fragments of segments without an `end` line).
    in_flight: u64,
    /// Spans handed over in pieces, per parent they wait for ([`Tree::waits_for`]),
    /// and the time their roots cover, until it comes: if it never does, they belong to
    /// an operation still running or lost, and their time is placed then.
    waiting: HashMap<(u32, u64), (u64, EarlyChildren)>,
    /// Missing parents in segments with an `end` line.
    warnings: Warnings,
}

/// Where an interval goes once it is in start order: into active time and, for a root
/// to classify (its name, and whether it follows from another span), the async analysis.
fn place<'a>(
    active: &'a mut SortedUnion,
    background: &'a mut Background,
) -> impl FnMut(u64, u64, Option<(Arc<str>, bool)>) + 'a {
    move |start, end, root| {
        active.add(start, end);
        if let Some((name, follows)) = root {
            background.add_root(start, end, &name, follows);
        }
    }
}

impl Visitor for Analyzer<'_> {
    fn segment(&mut self, segment: &Segment) {
        self.segments.push(SegmentInfo {
            segment: segment.clone(),
            first_start_ns: None,
            last_end_ns: 0,
            end: None,
        });
    }

    fn tree(&mut self, tree: Tree) {
        if tree.missing_parent().is_some() {
            self.fragments.push(tree);
            return;
        }
        self.take_waiting(&tree);
        let long_lived = self.add_spans(&tree, true);
        self.add_root(tree, long_lived);
    }

    fn takes_pieces(&self) -> bool {
        TAKES_PIECES
    }

    fn piece(&mut self, piece: Tree) {
        let spans = piece.len() as u64 + self.take_waiting(&piece);
        if let Some(key) = piece.waits_for() {
            let (waiting, covered) = self.waiting.entry(key).or_default();
            *waiting += spans;
            let root = piece.root();
            covered.add(root.start_ns, root.end_ns, 0);
        }
        self.add_spans(&piece, false);
        self.latest.offer_piece(piece);
    }

    fn segment_end(&mut self, end: &SegmentEnd) {
        self.judge_fragments(end.end.is_some());
        self.settle_waiting(Some(end.index), end.end.is_some());
        self.close_timeline();
        if let Some(seg) = self.segments.get_mut(end.index as usize) {
            seg.end.clone_from(&end.end);
        }
    }
}

impl Analyzer<'_> {
    /// Operations placed out of start order so far (see [`StartOrder::late`]).
    fn late(&self) -> u64 {
        self.timeline.late()
    }

    /// Ends a segment's timeline: what the reorder buffers hold is placed, and the next
    /// segment (one run of the program after another, or with its clock set back) starts
    /// its own.
    fn close_timeline(&mut self) {
        self.timeline
            .finish(place(&mut self.active, &mut self.background));
        self.active_ns += std::mem::take(&mut self.active).len_ns();
        self.background.finish_segment();
        self.stats.finish_segment();
        self.parallelism.finish_segment();
        self.llm.finish_segment();
        self.latest.finish_segment();
        self.causes.finish_segment();
    }

    /// Says which operations active time and the async analysis place approximately.
    fn late_warnings(&self) -> Warnings {
        let mut warnings = Warnings::default();
        let fragments = self.late_fragments;
        let closed_late = self.late() - fragments;
        let mut warn = |message: String| {
            warnings.push(Warning {
                source: self.source.clone(),
                line: None,
                kind: WarningKind::LateOperations,
                message,
            });
        };
        if closed_late > 0 {
            let (what, them) = if closed_late == 1 {
                ("operation closed", "it")
            } else {
                ("operations closed", "them")
            };
            warn(format!(
                "{closed_late} {what} after {REORDER_CAPACITY} or more operations that started later: active time and the async analysis place {them} approximately"
            ));
        }
        if fragments > 0 {
            let (what, its, them) = if fragments == 1 {
                ("operation whose parent is missing was", "its", "it")
            } else {
                ("operations whose parent is missing were", "their", "them")
            };
            warn(format!(
                "{fragments} {what} only placed when {its} segment ended, after {REORDER_CAPACITY} or more operations that started later: active time and the async analysis place {them} approximately"
            ));
        }
        let dropped = self.parallelism.runs_dropped();
        if dropped > 0 {
            warnings.push(Warning {
                source: self.source.clone(),
                line: None,
                kind: WarningKind::CapApplied,
                message: format!(
                    "{dropped} runs of sequential siblings under parents still open were left out past the {} kept per parent (those saving least): the parallelism opportunities may be understated",
                    super::parallelism::MAX_PENDING_RUNS
                ),
            });
        }
        warnings
    }

    /// Fragments of a segment with an `end` line lost their parent: warned about and
    /// analyzed as roots. Without one, their parents are still running: their spans
    /// count (once, like every span), but they are neither roots nor warnings.
    fn judge_fragments(&mut self, segment_ended: bool) {
        // Known only now, at the end of their segment: placed out of start order.
        let late = self.late();
        self.judge(segment_ended);
        self.late_fragments += self.late() - late;
    }

    fn judge(&mut self, segment_ended: bool) {
        for mut tree in std::mem::take(&mut self.fragments) {
            let waited = self.take_waiting(&tree);
            if !self.busy_known(&tree) {
                // The Python tracker writes an operation when it ends, so a background
                // operation that outlived its parent comes after it: it follows from it.
                tree.attach_to_missing_parent();
                let long_lived = self.add_spans(&tree, true);
                self.add_root(tree, long_lived);
                continue;
            }
            let long_lived = self.add_spans(&tree, segment_ended);
            if segment_ended {
                let root = tree.root();
                self.warnings.push(Warning {
                    source: self.source.clone(),
                    line: Some(root.line),
                    kind: WarningKind::MissingParent,
                    message: format!(
                        "span {} ({}) names parent {}, which is not in this segment (lost, or written before its child): treated as a root",
                        root.id,
                        root.name,
                        tree.missing_parent().unwrap_or_default()
                    ),
                });
                self.add_root(tree, long_lived);
            } else {
                self.in_flight += tree.len() as u64 + waited;
            }
        }
    }

    /// The spans of pieces that waited for a node of `tree`, which has now come: no
    /// longer waiting.
    fn take_waiting(&mut self, tree: &Tree) -> u64 {
        if self.waiting.is_empty() {
            return 0;
        }
        (0..tree.len())
            .filter_map(|i| tree.awaited_at(i))
            .filter_map(|key| self.waiting.remove(&key))
            .map(|(spans, _)| spans)
            .sum()
    }

    /// Pieces whose parent never came in segment `index` (every segment if `None`): in a
    /// segment that ended, their parent was lost (warned about, as for a fragment); in
    /// one that did not, it is still running, and their spans are in flight.
    fn settle_waiting(&mut self, index: Option<u32>, segment_ended: bool) {
        let mut lost: Vec<((u32, u64), u64)> = Vec::new();
        let (timeline, active, background) =
            (&mut self.timeline, &mut self.active, &mut self.background);
        self.waiting.retain(|&key, (spans, covered)| {
            let settle = index.map_or(true, |i| key.0 == i);
            if settle {
                lost.push((key, *spans));
                // Their time, as whole fragments' would be placed.
                for (start, end) in covered.runs() {
                    timeline.push(start, end, None, place(active, background));
                }
            }
            !settle
        });
        lost.sort_unstable();
        for ((_, parent), spans) in lost {
            if segment_ended {
                self.warnings.push(Warning {
                    source: self.source.clone(),
                    line: None,
                    kind: WarningKind::MissingParent,
                    message: format!(
                        "{spans} {} under parent {parent}, which is not in this segment (lost, or written before its children)",
                        if spans == 1 { "span came" } else { "spans came" }
                    ),
                });
            } else {
                self.in_flight += spans;
            }
        }
    }

    /// Counts every span of a tree: totals, statistics, LLM calls, active time, waiting
    /// and batching; and its root, as a root to classify if `is_root`. True if the root
    /// is long-lived (a connection, a subscriber).
    fn add_spans(&mut self, tree: &Tree, is_root: bool) -> bool {
        let root = tree.root();
        let (lo, hi) = (root.start_ns, root.end_ns);
        let (timeline, active, background) =
            (&mut self.timeline, &mut self.active, &mut self.background);
        let classify = is_root.then(|| (root.name.clone(), !root.follows_from.is_empty()));
        // A piece lies within its root, which comes later: only what sticks out of the
        // piece's own root is placed now (its root comes in order with the others).
        if tree.waits_for().is_none() {
            timeline.push(lo, hi, classify, place(active, background));
        }
        self.calls.clear();
        for (index, node) in tree.nodes().iter().enumerate() {
            let span = &node.span;
            self.operations += 1;
            match span.status {
                Status::Open => self.open += 1,
                Status::Error => self.errors += 1,
                Status::Ok => {}
            }
            if span.start_ns < lo || span.end_ns > hi {
                timeline.push(span.start_ns, span.end_ns, None, place(active, background));
            }
            // Children handed over early that stick out of this tree's root.
            if let Some(early) = tree.early_children(index) {
                for (s, e) in early.runs().filter(|&(s, e)| s < lo || e > hi) {
                    timeline.push(s, e, None, place(active, background));
                }
            }
            if let Some(seg) = self.segments.get_mut(span.segment as usize) {
                seg.first_start_ns = Some(
                    seg.first_start_ns
                        .map_or(span.start_ns, |f| f.min(span.start_ns)),
                );
                seg.last_end_ns = seg.last_end_ns.max(span.end_ns);
            }
        }
        self.llm.add_tree(tree, &mut self.calls);
        self.stats.add_tree(tree);
        let busy_known = self.busy_known(tree);
        // A piece's root is not a root: its parent is still open.
        let long_lived = tree.waits_for().is_none()
            && root.follows_from.is_empty()
            && Causes::is_long_lived(tree, busy_known);
        self.parallelism
            .add_tree_from(tree, &self.options.thresholds, usize::from(long_lived));
        self.background
            .add_spans(tree, &self.options.thresholds, long_lived);
        let background_name = is_root && self.background.is_background_name(&root.name);
        self.causes.add_tree(
            tree,
            &self.options.thresholds,
            busy_known,
            long_lived,
            background_name,
            &self.calls,
        );
        long_lived
    }

    /// Offers a root's tree as the latest operation; a long-lived root offers one of its
    /// requests instead.
    fn add_root(&mut self, tree: Tree, long_lived: bool) {
        self.latest.offer(tree, long_lived);
    }

    /// False for the Python tracker's files, which do not record busy time.
    fn busy_known(&self, tree: &Tree) -> bool {
        self.segments
            .get(tree.root().segment as usize)
            .map_or(true, |s| s.segment.format != SourceFormat::Python)
    }
}

/// The analysis of one session: the summary document, the latest root tree and the warnings.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The `performance_summary.json` document.
    pub summary: Summary,
    /// Per-name statistics.
    pub stats: Stats,
    /// The most recently started root tree (foreground roots preferred), for the breakdown.
    pub latest: Option<Tree>,
    /// The critical path of [`Analysis::latest`].
    pub critical_path: Vec<Step>,
    /// The segments, in file order.
    pub segments: Vec<SegmentInfo>,
    /// Problems read past, by line.
    pub warnings: Warnings,
    /// Lines read.
    pub lines: u64,
    /// The detected file format.
    pub format: Option<SourceFormat>,
    /// The data file, if read from a file.
    pub source: Option<PathBuf>,
}

impl Analysis {
    /// The session's start: subtract it from span times for times since the session
    /// start (see [`session_origin_ns`](crate::input::session_origin_ns)).
    #[must_use]
    pub fn origin_ns(&self) -> u64 {
        crate::input::session_origin_ns(
            self.segments.iter().map(|s| s.segment.origin_ns),
            self.segments.iter().filter_map(|s| s.first_start_ns),
        )
    }

    /// True if a format-1 segment has no `end` line (still running, or ended abruptly).
    #[must_use]
    pub fn ended_abruptly(&self) -> bool {
        self.summary.ended_abruptly
    }

    /// The problems read past, to print (`file:line: message`).
    #[must_use]
    pub fn warnings(&self) -> &[Warning] {
        self.warnings.list()
    }
}

/// Reads and analyzes a session file or a session directory (`performance_data.jsonl` inside).
pub fn analyze_path(path: &Path, options: &Options) -> Result<Analysis, Error> {
    let source = input::data_file(path);
    let mut analyzer = Analyzer::new(options, &source.to_string_lossy());
    let report = input::visit_path(path, options, &mut analyzer)?;
    Ok(analyzer.finish(report, Some(input::data_file(path))))
}

/// Reads and analyzes a session from any reader (e.g. stdin); `source` names it in warnings.
pub fn analyze_reader<R: BufRead + Send>(
    input: R,
    source: &str,
    options: &Options,
) -> Result<Analysis, Error> {
    let mut analyzer = Analyzer::new(options, source);
    let report = input::visit(input, source, options, &mut analyzer)?;
    Ok(analyzer.finish(report, None))
}

impl<'a> Analyzer<'a> {
    pub(crate) fn new(options: &'a Options, source: &str) -> Analyzer<'a> {
        Analyzer {
            options,
            source: source.into(),
            stats: Stats::default(),
            parallelism: Parallelism::default(),
            background: Background::default(),
            llm: LlmCalls::default(),
            causes: Causes::default(),
            calls: Vec::new(),
            timeline: StartOrder::new(REORDER_CAPACITY),
            active: SortedUnion::default(),
            active_ns: 0,
            late_fragments: 0,
            segments: Vec::new(),
            operations: 0,
            open: 0,
            errors: 0,
            latest: Latest::default(),
            fragments: Vec::new(),
            in_flight: 0,
            waiting: HashMap::default(),
            warnings: Warnings::default(),
        }
    }

    pub(crate) fn finish(mut self, report: VisitReport, source: Option<PathBuf>) -> Analysis {
        // Only the pipeline's order (fragments, then their segment's end) leaves none here.
        self.judge_fragments(false);
        self.settle_waiting(None, false);
        self.close_timeline();
        // First, so that no number of other warnings pushes these out.
        let late_warnings = self.late_warnings();
        let t = &self.options.thresholds;
        let wall_ns: u64 = self.segments.iter().map(SegmentInfo::wall_ns).sum();
        let active_ns = self.active_ns;
        let by_name: Vec<NameRow> = self
            .stats
            .by_self_time()
            .into_iter()
            .map(|s| NameRow {
                name: self.stats.label(s),
                count: s.count,
                total_ns: s.total_ns,
                self_ns: s.self_ns,
                mean_ns: s.mean_ns(),
                p50_ns: s.p50_ns(),
                p95_ns: s.p95_ns(),
                p99_ns: s.p99_ns(),
                p999_ns: s.p999_ns(),
                calls_per_s: per_second(s.count, wall_ns),
                busy_ns: s.busy_ns,
                target: s.target.to_string(),
                max_ns: s.max_ns,
                pct_of_wall: crate::duration::percent(s.self_ns, wall_ns),
                errors: s.errors,
                open: s.open,
                user_facing: self.causes.user_facing_spans(&s.name, &s.target),
            })
            .collect();
        let (long_lived_roots, long_lived_names) = self.causes.long_lived();
        // A long-lived root's own time is waiting for requests, not a bottleneck.
        let busy_known = report.format != Some(SourceFormat::Python);
        // Where there is user-facing work, background-only operations are capped.
        let has_user_facing = self.causes.units() > 0;
        let mut bottlenecks = bottleneck::find(&self.stats, wall_ns, t, busy_known, |s| {
            has_user_facing && self.causes.background_only(&s.name, &s.target)
        });
        bottlenecks.retain(|b| !long_lived_names.contains(&b.name));
        let parallelism = self.parallelism.opportunities();
        let background = self.background.finish();
        let recommendations = advice::recommend(Inputs {
            stats: &self.stats,
            wall_ns,
            parallelism: &parallelism,
            causes: &self.causes,
        });
        let latest = self.latest.best();
        let critical = latest.as_ref().map(critical_path).unwrap_or_default();
        let first = self
            .segments
            .iter()
            .min_by_key(|s| s.segment.origin_ns)
            .map(|s| &s.segment);
        let ended_abruptly = self
            .segments
            .iter()
            .any(|s| s.segment.format == SourceFormat::PerfLayer && s.end.is_none());
        let mut warnings = late_warnings;
        warnings.extend(report.warnings);
        warnings.extend(std::mem::take(&mut self.warnings));
        warnings.sort_by_line();
        if self.segments.is_empty() {
            warnings.push(Warning {
                source: source
                    .as_ref()
                    .map_or_else(|| "<input>".into(), |p| p.to_string_lossy().into()),
                line: None,
                kind: WarningKind::NoSessionLine,
                message: "no records".to_owned(),
            });
        }
        let summary = Summary {
            format: 1,
            session: first.map(|s| s.session.clone()).unwrap_or_default(),
            wall_ns,
            active_ns,
            operations: self.operations,
            open: self.open,
            dropped: self
                .segments
                .iter()
                .filter_map(|s| s.end.as_ref())
                .map(|e| e.dropped)
                .sum(),
            by_name,
            bottlenecks,
            recommendations,
            parallelism,
            critical_path: critical.iter().map(|s| s.name.clone()).collect(),
            llm_calls: self.llm.calls(),
            started_at: first.and_then(|s| s.started_at.clone()),
            errors: self.errors,
            segments: self.segments.len() as u32,
            ended_abruptly,
            in_flight: self.in_flight,
            llm_calls_total: self.llm.count,
            background,
            resources: advice::resources(&self.stats, active_ns, |s| {
                self.causes.is_long_lived_op(&s.name, &s.target)
            }),
            warnings: warnings.list().iter().map(ToString::to_string).collect(),
            workload: Workload {
                requests: self.causes.units(),
                request_ns: self.causes.unit_ns(),
                requests_per_s: per_second(self.causes.units(), wall_ns),
                long_lived_roots,
                long_lived_names,
                long_lived_requests: self.causes.long_lived_units().0,
                long_lived_request_ns: self.causes.long_lived_units().1,
            },
            latency_over_time: self.causes.latency(),
        };
        Analysis {
            summary,
            stats: self.stats,
            latest,
            critical_path: critical,
            segments: self.segments,
            warnings,
            lines: report.lines,
            format: report.format,
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::bottleneck::Severity;

    const SESSION: &str = r#"{"type":"session","format":1,"session":"s","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#;
    const END: &str = r#"{"type":"end","end_ns":100,"spans":5,"open":0,"dropped":0}"#;

    fn span(id: u64, parent: Option<u64>, name: &str, start: u64, end: u64, extra: &str) -> String {
        let parent = parent.map_or("null".to_owned(), |p| p.to_string());
        format!(
            r#"{{"type":"span","id":{id},"parent":{parent},"name":"{name}","target":"t","start_ns":{start},"end_ns":{end},"busy_ns":{},"enters":1,"thread":"main","status":"ok","fields":{{}}{extra}}}"#,
            end - start
        )
    }

    /// A turn (1, with child 2) that spawned a background task (3, still open, never
    /// written) whose children 4 and 5 closed, and a stray grandchild 6 of 5.
    fn session(with_end: bool) -> Analysis {
        analyze_lines(&session_lines(with_end))
    }

    fn session_lines(with_end: bool) -> Vec<String> {
        let mut lines = vec![
            SESSION.to_owned(),
            span(2, Some(1), "llm", 10, 40, ""),
            span(1, None, "turn", 0, 50, ""),
            span(6, Some(5), "prepare", 60, 61, ""),
            span(4, Some(3), "digest", 45, 70, ""),
            span(5, Some(3), "graph", 55, 90, ""),
        ];
        if with_end {
            lines.push(END.to_owned());
        }
        lines
    }

    fn analyze_lines(lines: &[String]) -> Analysis {
        let data = lines.join("\n") + "\n";
        analyze_reader(data.as_bytes(), "mem", &Options::default()).unwrap()
    }

    fn late_warnings(a: &Analysis) -> Vec<&Warning> {
        let late = a.warnings().iter();
        late.filter(|w| w.kind == WarningKind::LateOperations)
            .collect()
    }

    #[test]
    fn a_root_that_closes_after_the_reorder_buffer_moved_on_is_reported() {
        // Short roots one after another, then one that started first and ran through all.
        let short = 2 * REORDER_CAPACITY as u64 + 10;
        let mut lines = vec![SESSION.to_owned()];
        lines.extend((1..=short).map(|i| span(i, None, "turn", 10 * i, 10 * i + 5, "")));
        lines.push(span(short + 1, None, "session", 1, 10 * short + 20, ""));
        let a = analyze_lines(&lines);
        let late = late_warnings(&a);
        assert_eq!(late.len(), 1, "{:?}", a.warnings());
        assert!(
            late[0].message.starts_with("1 operation closed"),
            "{}",
            late[0]
        );
        // Approximate: at least the turns, never more than the truth (the long root alone).
        assert!((5 * short..=10 * short + 19).contains(&a.summary.active_ns));
        assert_eq!(a.summary.operations, short + 1);
    }

    #[test]
    fn each_segment_has_its_own_timeline_even_with_its_clock_set_back() {
        let turns = 2 * REORDER_CAPACITY as u64 + 10;
        let mut lines = Vec::new();
        for started_at in ["2026-11-24T11:00:00Z", "2026-11-24T10:00:00Z"] {
            lines.push(SESSION.replace("2026-11-24T10:00:00Z", started_at));
            lines.extend((1..=turns).map(|i| span(i, None, "turn", 10 * i, 10 * i + 5, "")));
            lines.push(END.to_owned());
        }
        let a = analyze_lines(&lines);
        assert!(
            !a.warnings.has(WarningKind::LateOperations),
            "{:?}",
            a.warnings()
        );
        assert_eq!(a.summary.active_ns, 2 * 5 * turns);
        assert_eq!(a.summary.background.foreground_roots, 2 * turns);
        assert_eq!(a.summary.background.background_roots, 0);
    }

    #[test]
    fn a_lost_parent_s_child_placed_at_the_segment_end_is_said_to_be_approximate() {
        let turns = 2 * REORDER_CAPACITY as u64 + 10;
        let mut lines = vec![
            SESSION.to_owned(),
            span(1, Some(1 << 40), "orphan", 3, 8, ""),
        ];
        lines.extend((2..=turns).map(|i| span(i, None, "turn", 10 * i, 10 * i + 5, "")));
        lines.push(END.replace(r#""dropped":0"#, r#""dropped":1"#));
        let a = analyze_lines(&lines);
        let late = late_warnings(&a);
        assert_eq!(late.len(), 1, "{:?}", a.warnings());
        assert!(
            late[0].message.contains("whose parent is missing"),
            "{}",
            late[0]
        );
        assert!(a.warnings.has(WarningKind::MissingParent));
        assert_eq!(a.summary.operations, turns);
    }

    #[test]
    fn children_of_a_running_operation_are_in_flight_not_roots_nor_warnings() {
        let a = session(false);
        assert!(
            !a.warnings.has(WarningKind::MissingParent),
            "{:?}",
            a.warnings()
        );
        assert!(a.warnings.has(WarningKind::NoEndLine));
        assert_eq!(a.summary.in_flight, 3);
        assert_eq!(a.summary.operations, 5);
        // Counted once each, and not as roots of their own.
        assert_eq!(a.stats.get("graph").unwrap().count, 1);
        assert_eq!(a.stats.get("graph").unwrap().self_ns, 34);
        assert_eq!(a.stats.get("prepare").unwrap().count, 1);
        assert_eq!(a.summary.background.foreground_roots, 1);
        assert_eq!(a.summary.background.background_roots, 0);
        assert_eq!(&*a.latest.as_ref().unwrap().root().name, "turn");
    }

    #[test]
    fn active_time_counts_a_piece_that_sticks_out_of_its_root_once() {
        // A child that started before its root (another thread's clock), and its own
        // child that ends after the root: handed over as pieces with a budget of one.
        let lines = [
            SESSION.to_owned(),
            span(3, Some(2), "late", 40, 130, ""),
            span(2, Some(1), "early", 0, 50, ""),
            span(5, Some(4), "inner", 150, 160, ""),
            span(4, Some(1), "other", 140, 170, ""),
            span(1, None, "turn", 20, 180, ""),
            END.to_owned(),
        ];
        let data = lines.join("\n") + "\n";
        for budget in [1, usize::MAX] {
            let options = Options {
                hold_budget: Some(budget),
                ..Options::default()
            };
            let a = analyze_reader(data.as_bytes(), "mem", &options).unwrap();
            assert_eq!(a.summary.active_ns, 180, "budget {budget}");
            assert!(late_warnings(&a).is_empty(), "budget {budget}");
        }
    }

    #[test]
    fn pieces_whose_parent_never_comes_are_in_flight_or_warned_about() {
        for with_end in [false, true] {
            let data = session_lines(with_end).join("\n") + "\n";
            let options = Options {
                hold_budget: Some(1),
                ..Options::default()
            };
            let a = analyze_reader(data.as_bytes(), "mem", &options).unwrap();
            assert_eq!(a.summary.operations, 5);
            // 0-50, 45-70 and 55-90, as whole fragments are placed.
            assert_eq!(a.summary.active_ns, 90, "with_end {with_end}");
            assert_eq!(a.summary.in_flight, if with_end { 0 } else { 3 });
            let missing: Vec<&Warning> = a
                .warnings()
                .iter()
                .filter(|w| w.kind == WarningKind::MissingParent)
                .collect();
            if with_end {
                assert!(
                    missing
                        .iter()
                        .any(|w| w.message.starts_with("1 span came under parent 3")),
                    "{missing:?}"
                );
            } else {
                assert!(missing.is_empty(), "{missing:?}");
            }
        }
    }

    #[test]
    fn a_running_background_task_s_closed_child_is_not_a_user_facing_request() {
        // Two turns, each starting a background task; the first task closed, the second
        // still runs, and only its child `digest`, started after the turn ended, is written.
        let follows = |id: u64| format!(r#","follows_from":[{id}]"#);
        let a = analyze_lines(&[
            SESSION.to_owned(),
            span(2, Some(1), "llm", 10, 40, ""),
            span(1, None, "turn", 0, 50, ""),
            span(4, Some(3), "digest", 46, 70, ""),
            span(3, None, "task", 45, 80, &follows(1)),
            span(6, Some(5), "llm", 110, 140, ""),
            span(5, None, "turn", 100, 150, ""),
            span(8, Some(7), "digest", 151, 170, ""),
        ]);
        assert_eq!(a.summary.in_flight, 1);
        assert_eq!(a.summary.workload.requests, 2, "the two turns only");
        assert_eq!(a.summary.workload.request_ns, 100);
        let digest = a
            .summary
            .by_name
            .iter()
            .find(|r| r.name == "digest")
            .unwrap();
        assert_eq!((digest.count, digest.user_facing), (2, 0));
    }

    #[test]
    fn background_work_is_at_most_a_medium_bottleneck() {
        // A 3 s turn and a 3 s background task it started, each with a 2.5 s child.
        const S: u64 = 1_000_000_000;
        let a = analyze_lines(&[
            SESSION.to_owned(),
            span(2, Some(1), "answer", 0, 5 * S / 2, ""),
            span(1, None, "turn", 0, 3 * S, ""),
            span(4, Some(3), "digest", 3 * S, 11 * S / 2, ""),
            span(3, None, "task", 3 * S, 6 * S, r#","follows_from":[1]"#),
            END.replace(r#""spans":5"#, r#""spans":4"#),
        ]);
        let severity = |name: &str| {
            let b = a.summary.bottlenecks.iter().find(|b| b.name == name);
            b.map(|b| (b.severity, b.reasons.last().unwrap().clone()))
        };
        assert_eq!(severity("answer").unwrap().0, Severity::High);
        let (digest, why) = severity("digest").unwrap();
        assert_eq!(digest, Severity::Medium, "{why}");
        assert_eq!(why, "background work only");
        assert_eq!(a.summary.bottlenecks[0].name, "answer");
    }

    #[test]
    fn connections_under_a_server_span_still_open_are_each_long_lived() {
        // Three connections (2 s each, 20 requests of 1 ms) under a `server` span that
        // is still open, so never written: each connection is a fragment.
        const MS: u64 = 1_000_000;
        let mut lines = vec![SESSION.to_owned()];
        let mut id = 10;
        for c in 0..3u64 {
            let conn = id;
            for r in 0..20 {
                id += 1;
                let start = c * 10 * MS + r * 90 * MS;
                lines.push(span(id, Some(conn), "request", start, start + MS, ""));
            }
            id += 1;
            lines.push(span(
                conn,
                Some(1),
                "connection",
                c * 10 * MS,
                2_000 * MS,
                "",
            ));
        }
        let a = analyze_lines(&lines);
        assert_eq!(a.summary.workload.long_lived_roots, 3);
        assert_eq!(a.summary.workload.requests, 60);
    }

    #[test]
    fn an_operation_past_the_causes_name_limit_is_not_called_background() {
        // 10,000 distinct short roots, then a slow one whose name the causes no longer
        // track: nothing says it is background work.
        let mut lines = vec![SESSION.to_owned()];
        lines
            .extend((1..=10_000).map(|i| span(i, None, &format!("op{i}"), 10 * i, 10 * i + 1, "")));
        lines.push(span(10_001, None, "slow", 200_000, 3_000_200_000, ""));
        let a = analyze_lines(&lines);
        let slow = a
            .summary
            .bottlenecks
            .iter()
            .find(|b| b.name == "slow")
            .unwrap();
        assert_eq!(slow.severity, Severity::High, "{slow:?}");
    }

    #[test]
    fn with_an_end_line_a_missing_parent_is_a_warning_and_a_root() {
        let a = session(true);
        let missing: Vec<&Warning> = a
            .warnings()
            .iter()
            .filter(|w| w.kind == WarningKind::MissingParent)
            .collect();
        assert_eq!(missing.len(), 2, "{:?}", a.warnings());
        assert_eq!(missing[0].line, Some(5));
        assert!(missing[0].message.contains("names parent 3"));
        assert_eq!(a.summary.in_flight, 0);
        assert_eq!(a.summary.operations, 5);
        assert_eq!(a.stats.get("graph").unwrap().count, 1);
        // Still the turn: a fragment is never the latest operation.
        assert_eq!(&*a.latest.as_ref().unwrap().root().name, "turn");
    }

    #[test]
    fn a_python_child_written_after_its_parent_follows_from_it() {
        let op = |name: &str, id: &str, parent: &str, start: f64, end: f64| {
            format!(
                r#"{{"operation_name":"{name}","operation_id":"{id}","start_time":{start},"end_time":{end},"duration_seconds":{},"metadata":{{}},"parent_operation_id":{parent},"session_id":"s","timestamp":"t"}}"#,
                end - start
            )
        };
        let a = analyze_lines(&[
            op("turn", "t1", "null", 1.0, 2.0),
            op("digest", "d1", r#""t1""#, 1.9, 3.0),
        ]);
        assert_eq!(a.summary.in_flight, 0);
        assert!(a.warnings().is_empty(), "{:?}", a.warnings());
        assert_eq!(a.summary.background.background_roots, 1);
        assert_eq!(a.summary.background.background[0].name, "digest");
        assert_eq!(&*a.latest.as_ref().unwrap().root().name, "turn");
    }

    #[test]
    fn an_llm_call_names_the_span_that_made_it() {
        let call = |id: u64, parent: &str, start: u64| {
            format!(
                r#"{{"type":"span","id":{id},"parent":{parent},"name":"llm_generation","target":"t","start_ns":{start},"end_ns":{},"busy_ns":5,"enters":1,"thread":"main","status":"ok","fields":{{"gen_ai.request.model":"m"}}}}"#,
                start + 5
            )
        };
        let data = [
            SESSION.to_owned(),
            call(2, "1", 1),
            span(1, None, "memory_query_total", 0, 10, ""),
            call(3, "null", 20),
            END.to_owned(),
        ]
        .join("\n")
            + "\n";
        let a = analyze_reader(data.as_bytes(), "mem", &Options::default()).unwrap();
        let callers: Vec<Option<&str>> = a
            .summary
            .llm_calls
            .iter()
            .map(|c| c.caller.as_deref())
            .collect();
        assert_eq!(callers, [Some("memory_query_total"), None]);
    }

    #[test]
    fn the_latest_operation_is_the_latest_complete_foreground_root() {
        let open = r#"{"type":"span","id":9,"parent":null,"name":"interrupted","target":"t","start_ns":200,"end_ns":210,"busy_ns":10,"enters":1,"thread":"main","status":"open","fields":{}}"#;
        let data = [
            SESSION.to_owned(),
            // A root without follows_from that starts while turn 1 runs, and closes first.
            span(3, None, "side_task", 20, 30, ""),
            span(1, None, "turn", 0, 50, ""),
            span(4, None, "spawned", 60, 150, r#","follows_from":[2]"#),
            span(2, None, "turn2", 55, 100, ""),
            span(5, None, "late_side_task", 90, 95, ""),
            open.to_owned(),
        ]
        .join("\n")
            + "\n";
        let a = analyze_reader(data.as_bytes(), "mem", &Options::default()).unwrap();
        assert_eq!(&*a.latest.as_ref().unwrap().root().name, "turn2");
    }
}
