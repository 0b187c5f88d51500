//! The full analysis of a session: every aggregator fed tree by tree, then summed up.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use perf_layer::record::{EndRecord, Status};

use crate::advice::{self, Inputs};
use crate::background::Background;
use crate::bottleneck;
use crate::critical::{critical_path, Step};
use crate::intervals::IntervalSet;
use crate::llm::LlmCalls;
use crate::parallelism::Parallelism;
use crate::pipeline::{self, VisitReport, Visitor};
use crate::report::{NameRow, Summary};
use crate::span::{Segment, SegmentEnd, SourceFormat};
use crate::stats::Stats;
use crate::tree::Tree;
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
    /// True once the segment is over (its `end` line, the next segment, or the end of the file).
    pub closed: bool,
}

impl SegmentInfo {
    /// First span start to last span end.
    #[must_use]
    pub fn wall_ns(&self) -> u64 {
        self.first_start_ns
            .map_or(0, |first| self.last_end_ns.saturating_sub(first))
    }
}

/// The visitor that runs every analysis.
#[derive(Debug)]
pub(crate) struct Analyzer<'a> {
    options: &'a Options,
    stats: Stats,
    parallelism: Parallelism,
    background: Background,
    llm: LlmCalls,
    active: IntervalSet,
    segments: Vec<SegmentInfo>,
    operations: u64,
    open: u64,
    errors: u64,
    /// The latest-starting root without `follows_from`, and the latest with it.
    latest_foreground: Option<Tree>,
    latest_background: Option<Tree>,
}

fn replace_if_later(slot: &mut Option<Tree>, tree: Tree) {
    if slot
        .as_ref()
        .map_or(true, |t| tree.root().start_ns >= t.root().start_ns)
    {
        *slot = Some(tree);
    }
}

impl Visitor for Analyzer<'_> {
    fn segment(&mut self, segment: &Segment) {
        self.segments.push(SegmentInfo {
            segment: segment.clone(),
            first_start_ns: None,
            last_end_ns: 0,
            end: None,
            closed: false,
        });
    }

    fn tree(&mut self, tree: Tree) {
        let root = tree.root();
        let (lo, hi) = (root.start_ns, root.end_ns);
        self.active.insert(lo, hi);
        for node in tree.nodes() {
            let span = &node.span;
            self.operations += 1;
            match span.status {
                Status::Open => self.open += 1,
                Status::Error => self.errors += 1,
                Status::Ok => {}
            }
            if span.start_ns < lo || span.end_ns > hi {
                self.active.insert(span.start_ns, span.end_ns);
            }
            if let Some(seg) = self.segments.get_mut(span.segment as usize) {
                seg.first_start_ns = Some(
                    seg.first_start_ns
                        .map_or(span.start_ns, |f| f.min(span.start_ns)),
                );
                seg.last_end_ns = seg.last_end_ns.max(span.end_ns);
            }
            if crate::llm::may_be_llm(span) {
                self.llm.add(span);
            }
        }
        let t = &self.options.thresholds;
        self.stats.add_tree(&tree);
        self.parallelism.add_tree(&tree, t);
        self.background.add_tree(&tree, t);
        if tree.root().follows_from.is_empty() {
            replace_if_later(&mut self.latest_foreground, tree);
        } else {
            replace_if_later(&mut self.latest_background, tree);
        }
    }

    fn segment_end(&mut self, end: &SegmentEnd) {
        if let Some(seg) = self.segments.get_mut(end.index as usize) {
            seg.end.clone_from(&end.end);
            seg.closed = true;
        }
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
    /// The earliest segment start: subtract it from span times for times since the session start.
    #[must_use]
    pub fn origin_ns(&self) -> u64 {
        self.segments
            .iter()
            .filter_map(|s| s.first_start_ns.map(|f| f.min(s.segment.origin_ns)))
            .min()
            .unwrap_or(0)
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
    let mut analyzer = Analyzer::new(options);
    let report = pipeline::visit_path(path, options, &mut analyzer)?;
    Ok(analyzer.finish(report, Some(pipeline::data_file(path))))
}

/// Reads and analyzes a session from any reader (e.g. stdin); `source` names it in warnings.
pub fn analyze_reader<R: BufRead + Send>(
    input: R,
    source: &str,
    options: &Options,
) -> Result<Analysis, Error> {
    let mut analyzer = Analyzer::new(options);
    let report = pipeline::visit(input, source, options, &mut analyzer)?;
    Ok(analyzer.finish(report, None))
}

impl<'a> Analyzer<'a> {
    pub(crate) fn new(options: &'a Options) -> Analyzer<'a> {
        Analyzer {
            options,
            stats: Stats::default(),
            parallelism: Parallelism::default(),
            background: Background::default(),
            llm: LlmCalls::default(),
            active: IntervalSet::default(),
            segments: Vec::new(),
            operations: 0,
            open: 0,
            errors: 0,
            latest_foreground: None,
            latest_background: None,
        }
    }

    pub(crate) fn finish(mut self, report: VisitReport, source: Option<PathBuf>) -> Analysis {
        let t = &self.options.thresholds;
        let wall_ns: u64 = self.segments.iter().map(SegmentInfo::wall_ns).sum();
        let active_ns = self.active.len_ns();
        let by_name: Vec<NameRow> = self
            .stats
            .by_self_time()
            .into_iter()
            .map(|s| NameRow {
                name: s.name.to_string(),
                count: s.count,
                total_ns: s.total_ns,
                self_ns: s.self_ns,
                mean_ns: s.mean_ns(),
                p50_ns: s.p50_ns(),
                p95_ns: s.p95_ns(),
                max_ns: s.max_ns,
                pct_of_wall: crate::duration::percent(s.self_ns, wall_ns),
                errors: s.errors,
                open: s.open,
            })
            .collect();
        let bottlenecks = bottleneck::find(&self.stats, wall_ns, t);
        let parallelism = self.parallelism.opportunities();
        let background = self.background.finish();
        let recommendations = advice::recommend(Inputs {
            stats: &self.stats,
            wall_ns,
            bottlenecks: &bottlenecks,
            parallelism: &parallelism,
            background: &background,
            llm: &self.llm,
        });
        let latest = self.latest_foreground.or(self.latest_background);
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
        let mut warnings = report.warnings;
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
            llm_calls_total: self.llm.count,
            background,
            resources: advice::resources(&self.stats, active_ns),
            warnings: warnings.list().iter().map(ToString::to_string).collect(),
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
