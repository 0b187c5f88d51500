//! OTLP JSON: the session as OpenTelemetry traces, one `ExportTraceServiceRequest` per
//! line (up to [`BATCH_SPANS`] spans each), as the Collector's `otlpjsonfile` receiver
//! reads them and as an OTLP/HTTP receiver takes them on `/v1/traces`.
//!
//! - Each root tree is one trace. Trace and span ids are derived from the session name,
//!   the segment and the span ids, so exporting a session twice gives the same ids.
//! - Each segment (run) is a resource: `service.name` is the recording program,
//!   `perf.session` the session name, `process.pid` the pid when known.
//! - The target is the instrumentation scope; fields are attributes (numbers stay
//!   numbers), with `thread.name`, `busy_ns` and `idle_ns` as tracing-opentelemetry
//!   writes them; the fields `otel.kind` and `otel.status_description` are the span kind
//!   and the status message.
//! - An error span has status code 2; a span still open when its session was flushed has
//!   the attribute `perf.status` `open`; `follows_from` are links.
//!
//! # Bounded memory
//! [`write_read`], [`write_path`] and [`each_request`] export spans as the session is
//! read. A trace's id comes from its root, which closes last: closed subtrees under a
//! span still open (a server's connection) wait for it, up to a budget of held spans
//! ([`HELD_SPANS`], 16,384, by default; a quarter of [`Options::hold_budget`] if set).
//! Past the budget, the open span holding the most is *cut*: what waits under it, and
//! whatever closes under it later, is exported at once in the trace that span roots.
//! When that span is a root (a connection that is a root, a server's top span), this is
//! its trace: nothing changes but memory. When it has a parent, it is exported as the
//! root of its own trace, linked to its parent, and a warning says how many spans were
//! cut so. A span that follows from one not exported yet waits for it, within the same
//! budget and segment; the traces of the last spans exported (as many as the budget,
//! and at least [`MIN_RECENT`]) are kept for links and children that come later; a link whose span is not found so is left out,
//! with a warning. When the session has fewer spans than the budget, the export is
//! [`write()`]'s.
//!
//! ```
//! use perf_analyze::export::{otlp, Session};
//!
//! let data = concat!(
//!     r#"{"type":"session","format":1,"session":"demo","started_at":"2026-11-24T10:00:00Z","pid":7,"program":"agent"}"#, "\n",
//!     r#"{"type":"span","id":1,"parent":null,"name":"turn","target":"app","start_ns":0,"end_ns":10,"busy_ns":10,"enters":1,"thread":"main","status":"error","fields":{"n":3}}"#, "\n",
//! );
//! let (session, _) = Session::read(data.as_bytes(), "mem", &Default::default())?;
//! let lines = otlp::requests(&session);
//! assert_eq!(lines.len(), 1);
//! assert_eq!(lines[0].spans, 1);
//! let request: serde_json::Value = serde_json::from_str(&lines[0].body).unwrap();
//! let span = &request["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
//! assert_eq!(span["name"], "turn");
//! assert_eq!(span["startTimeUnixNano"], "1795514400000000000");
//! assert_eq!(span["status"]["code"], 2);
//!
//! // Read and exported as it comes: the same line.
//! let mut out = Vec::new();
//! otlp::write_read(data.as_bytes(), "mem", &Default::default(), &mut out)?;
//! assert_eq!(String::from_utf8(out).unwrap(), format!("{}\n", lines[0].body));
//! # Ok::<(), perf_analyze::Error>(())
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{self, BufRead, Write};
use std::path::Path;
use std::sync::Arc;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde::Serialize;
use serde_json::Value;

use super::Session;
use crate::input::{self, Tree, VisitReport, Visitor};
use crate::{Error, Options, Segment, Span, Status, Warning, WarningKind, Warnings};

/// A request (a line) holds at most this many spans.
pub const BATCH_SPANS: usize = 1_000;

/// Writes a session held in memory as OTLP JSON lines: every trace whole.
///
/// # Errors
/// When writing to `out` fails.
pub fn write<W: Write>(session: &Session, out: W) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    from_session(session, |request| write_line(&mut out, &request))?;
    out.flush()
}

/// The session held in memory as OTLP JSON requests, one per line of [`write()`].
#[must_use]
pub fn requests(session: &Session) -> Vec<Request> {
    let mut requests = Vec::new();
    let _ = from_session(session, |request| {
        requests.push(request);
        Ok(())
    });
    requests
}

/// Reads a session from `input` (named `source` in messages) and writes it as OTLP JSON
/// lines as it is read, in memory bounded by a budget of held spans (see
/// [Bounded memory](self#bounded-memory)).
///
/// # Errors
/// As [`Session::read`]; a failure to write to `out` is [`Error::Write`] on the path
/// `output`.
pub fn write_read<R: BufRead + Send, W: Write>(
    input: R,
    source: &str,
    options: &Options,
    out: W,
) -> Result<VisitReport, Error> {
    let mut out = io::BufWriter::new(out);
    let report = each_request(input, source, options, |request| {
        write_line(&mut out, &request)
    })?;
    out.flush().map_err(super::write_error)?;
    Ok(report)
}

/// As [`write_read`], from a data file or a session directory.
///
/// # Errors
/// As [`write_read`].
pub fn write_path<W: Write>(path: &Path, options: &Options, out: W) -> Result<VisitReport, Error> {
    let mut out = io::BufWriter::new(out);
    let report = each_request_path(path, options, |request| write_line(&mut out, &request))?;
    out.flush().map_err(super::write_error)?;
    Ok(report)
}

/// Reads a session from `input` (named `source` in messages) and hands each request to
/// `send` as soon as it is full, as [`write_read`] writes them. After `send` fails, no
/// more requests are made and the reading stops.
///
/// # Errors
/// As [`Session::read`]; the first failure of `send` is [`Error::Write`] on the path
/// `output`.
pub fn each_request<R: BufRead + Send>(
    input: R,
    source: &str,
    options: &Options,
    send: impl FnMut(Request) -> io::Result<()>,
) -> Result<VisitReport, Error> {
    let mut exporter = Exporter::new(source, budget(options), send);
    let mut report = input::visit(input, source, options, &mut exporter)?;
    exporter.finish(&mut report)?;
    Ok(report)
}

/// As [`each_request`], from a data file or a session directory.
///
/// # Errors
/// As [`each_request`], and when the file cannot be opened.
pub fn each_request_path(
    path: &Path,
    options: &Options,
    send: impl FnMut(Request) -> io::Result<()>,
) -> Result<VisitReport, Error> {
    let source = input::data_file(path);
    let mut exporter = Exporter::new(&source.to_string_lossy(), budget(options), send);
    let mut report = input::visit_path(path, options, &mut exporter)?;
    exporter.finish(&mut report)?;
    Ok(report)
}

/// One `ExportTraceServiceRequest`: a line of [`write()`], the body of one OTLP/HTTP POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The request as OTLP JSON, on one line.
    pub body: String,
    /// The spans in it.
    pub spans: usize,
}

fn write_line(out: &mut impl Write, request: &Request) -> io::Result<()> {
    out.write_all(request.body.as_bytes())?;
    out.write_all(b"\n")
}

/// The spans the export holds by default while their trace is not known: a quarter of
/// [`HOLD_BUDGET`](crate::input::HOLD_BUDGET), which the reading holds first.
pub const HELD_SPANS: usize = input::HOLD_BUDGET / 4;

/// The fewest exported spans whose traces are kept for links and late children,
/// whatever the budget.
pub const MIN_RECENT: usize = 4_096;

/// The export's budget: a quarter of the read's.
fn budget(options: &Options) -> usize {
    options.hold_budget.map_or(HELD_SPANS, |b| b / 4).max(1)
}

/// Exports a session in memory, tree by tree, with no budget: every trace whole.
fn from_session(session: &Session, send: impl FnMut(Request) -> io::Result<()>) -> io::Result<()> {
    let mut exporter = Exporter::new("", usize::MAX, send);
    for segment in session.segments() {
        exporter.segment(segment);
    }
    let mut segment = None;
    for tree in session.trees() {
        // As a read ends each segment before the next.
        if segment.is_some_and(|s| s != tree.root().segment) {
            exporter.settle();
        }
        segment = Some(tree.root().segment);
        exporter.arrive(tree.clone());
    }
    exporter.settle();
    exporter.flush();
    match exporter.failed.take() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// A span and the segment it belongs to.
type Key = (u32, u64);

/// A span waiting for its trace to be known.
struct Entry {
    span: Span,
    /// Its parent as the tree builder placed it (a span naming itself is a root).
    parent: Option<u64>,
    /// The id of the span that roots its trace, if known: itself, or a cut ancestor.
    /// `None`: the trace of the open span its group waits for.
    anchor: Option<u64>,
    /// Roots its trace (no parent span id in the export).
    roots: bool,
    /// Roots a trace of its own although it has a parent (cut): the parent is linked.
    cut: bool,
}

/// A span whose trace is known, on its way out.
struct Out {
    span: Span,
    /// The id of the span rooting its trace.
    trace: u64,
    /// Its parent, unless it roots its trace.
    parent: Option<u64>,
    /// The root of each `follows_from` span's trace once known, in `follows_from` order;
    /// for a cut span, its parent's last.
    links: Vec<Option<u64>>,
    /// For a cut span, its parent: linked after the `follows_from` links.
    linked_parent: Option<u64>,
}

impl Out {
    fn targets(&self) -> impl Iterator<Item = u64> + '_ {
        self.span
            .follows_from
            .iter()
            .copied()
            .chain(self.linked_parent)
    }
}

/// The streaming exporter: a [`Visitor`] that sends requests as they fill.
struct Exporter<F> {
    /// Ids are derived from the first segment's session name.
    seed: Option<u64>,
    budget: usize,
    segments: Vec<Segment>,
    /// Spans waiting for an open span (the key), parents before children.
    groups: HashMap<Key, Vec<Entry>>,
    /// The groups by size, to cut the largest.
    by_size: BTreeSet<(usize, Key)>,
    /// Spans in `groups`.
    held: usize,
    /// Each span in `groups`: its group and its place there (a piece that waits for it
    /// joins its group).
    held_in: HashMap<Key, (Key, u32)>,
    /// Open spans that were cut: what closes under them goes out at once.
    cut: HashSet<Key>,
    /// The trace root of recently exported spans, for links and late children (at most
    /// `budget` or [`MIN_RECENT`], whichever is more), and their order.
    recent: HashMap<Key, u64>,
    recent_order: VecDeque<Key>,
    /// Spans waiting for a linked span's trace, by arrival.
    waiting: BTreeMap<u64, Out>,
    /// Linked span -> the spans waiting for it, oldest first.
    waiting_on: HashMap<Key, VecDeque<u64>>,
    next_wait: u64,
    batch: Vec<Out>,
    send: F,
    failed: Option<io::Error>,
    /// Cut spans exported as roots of their own traces, linked to their parent.
    split: u64,
    /// Cut spans that never came before their segment ended.
    never_came: u64,
    /// `follows_from` links left out.
    links_dropped: u64,
    /// Spans exported, beyond `recent`: a child read after its parent left `recent`
    /// must not wait for it as for a span still open. `None` when `recent` keeps all.
    exported: Option<Exported>,
    /// Pieces whose parent was exported before `recent` kept: their tops root traces.
    late_children: u64,
    /// The input, in warnings.
    source: Arc<str>,
}

impl<F: FnMut(Request) -> io::Result<()>> Exporter<F> {
    fn new(source: &str, budget: usize, send: F) -> Self {
        Exporter {
            source: source.into(),
            seed: None,
            budget,
            segments: Vec::new(),
            groups: HashMap::default(),
            by_size: BTreeSet::new(),
            held: 0,
            held_in: HashMap::default(),
            cut: HashSet::default(),
            recent: HashMap::default(),
            recent_order: VecDeque::new(),
            waiting: BTreeMap::new(),
            waiting_on: HashMap::default(),
            next_wait: 0,
            batch: Vec::new(),
            send,
            failed: None,
            split: 0,
            never_came: 0,
            links_dropped: 0,
            exported: (budget != usize::MAX).then(Exported::default),
            late_children: 0,
        }
    }

    /// A tree or a piece arrives: exported if its trace is known, else held.
    fn arrive(&mut self, tree: Tree) {
        let segment = tree.root().segment;
        // The root's parent, outside the tree: still open, or missing.
        let outside = tree.open_parent().or(tree.missing_parent());
        let waits_for = outside.map(|p| (segment, p));
        // The span it waits for may be held here, under an open span of its own (a
        // child that outlived its parent): it joins that group. Else its trace may be
        // known: cut, or exported already.
        let held = waits_for.and_then(|key| self.held_in.get(&key).copied());
        let waited = match held {
            Some(_) => None,
            None => waits_for.and_then(|key| Some((key.1, self.trace_of(key)?))),
        };
        // Is the root its own trace's (a complete tree, or one whose parent never came)?
        let own_trace = tree.open_parent().is_none() && waited.is_none() && held.is_none();
        let mut entries: Vec<Entry> = Vec::with_capacity(tree.len());
        for (index, node) in tree.into_nodes().into_iter().enumerate() {
            let span = node.span;
            let parent = match node.parent {
                Some(parent) => Some(entries[parent as usize].span.id),
                None => outside,
            };
            let cut = !self.cut.is_empty() && self.cut.remove(&(segment, span.id));
            let roots = cut || (index == 0 && own_trace);
            let anchor = match node.parent {
                _ if roots => Some(span.id),
                Some(parent) => entries[parent as usize].anchor,
                None => None,
            };
            entries.push(Entry {
                span,
                parent,
                anchor,
                roots,
                cut: cut && parent.is_some(),
            });
        }
        // Spans that waited under this tree's spans join it, in the trace of the span
        // they waited for.
        if !self.groups.is_empty() {
            let mut joined = Vec::new();
            for entry in &entries {
                let key = (segment, entry.span.id);
                if let Some(group) = self.take_group(key) {
                    joined.extend(group.into_iter().map(|mut e| {
                        e.anchor = e.anchor.or(entry.anchor);
                        e
                    }));
                }
            }
            entries.append(&mut joined);
        }
        if let Some((group, at)) = held {
            let anchor = self
                .groups
                .get(&group)
                .and_then(|g| g.get(at as usize)?.anchor);
            for entry in &mut entries {
                entry.anchor = entry.anchor.or(anchor);
            }
            self.hold(group, entries);
        } else if let (false, None, Some(key)) = (own_trace, waited, waits_for) {
            let new_group = !self.groups.contains_key(&key);
            if new_group && self.exported.as_ref().is_some_and(|e| e.may_contain(key)) {
                // Its parent was exported long ago (its trace forgotten): the piece's top
                // roots a trace of its own, as a tree whose parent is missing does.
                self.late_children += 1;
                self.export(entries, None);
            } else {
                self.hold(key, entries);
            }
        } else {
            self.export(entries, waited);
        }
    }

    fn take_group(&mut self, key: Key) -> Option<Vec<Entry>> {
        let group = self.groups.remove(&key)?;
        self.by_size.remove(&(group.len(), key));
        self.held -= group.len();
        for entry in &group {
            let span = (entry.span.segment, entry.span.id);
            if self.held_in.get(&span).is_some_and(|(g, _)| *g == key) {
                self.held_in.remove(&span);
            }
        }
        Some(group)
    }

    /// Holds `entries` under the open span `key`; past the budget, cuts the largest groups.
    fn hold(&mut self, key: Key, entries: Vec<Entry>) {
        let group = self.groups.entry(key).or_default();
        let before = group.len();
        for (i, entry) in entries.iter().enumerate() {
            let span = (entry.span.segment, entry.span.id);
            self.held_in.insert(span, (key, (before + i) as u32));
        }
        group.extend(entries);
        let after = group.len();
        self.by_size.remove(&(before, key));
        self.by_size.insert((after, key));
        self.held += after - before;
        while self.held > self.budget {
            let Some(&(_, largest)) = self.by_size.last() else {
                break;
            };
            let group = self.take_group(largest).unwrap_or_default();
            self.cut.insert(largest);
            self.export(group, Some((largest.1, largest.1)));
            self.resolve_waiting(largest, largest.1);
        }
    }

    /// Exports `entries`, of one segment: those without an anchor go in the trace of
    /// the span they waited for (`waited`: its id and its trace's root), or (`None`: it
    /// never came) each top roots its own.
    fn export(&mut self, entries: Vec<Entry>, waited: Option<(u64, u64)>) {
        let Some(segment) = entries.first().map(|e| e.span.segment) else {
            return;
        };
        // The trace of each span, for links within these entries (parents come first).
        let mut traces: HashMap<u64, u64> = HashMap::default();
        // (the root of its trace, whether it is that root)
        let resolved: Vec<(u64, bool)> = entries
            .iter()
            .map(|e| {
                let (trace, roots) = match (e.anchor, waited) {
                    (Some(anchor), _) | (None, Some((_, anchor))) => (anchor, e.roots),
                    (None, None) => match e.parent.and_then(|p| traces.get(&p).copied()) {
                        Some(trace) => (trace, false),
                        None => (e.span.id, true),
                    },
                };
                traces.insert(e.span.id, trace);
                (trace, roots)
            })
            .collect();
        for (entry, (trace, _)) in entries.iter().zip(&resolved) {
            self.remember((segment, entry.span.id), *trace);
        }
        let mut ready = Vec::with_capacity(entries.len());
        for (entry, (trace, roots)) in entries.into_iter().zip(resolved) {
            let linked_parent = entry.parent.filter(|_| entry.cut);
            let mut out = Out {
                parent: entry.parent.filter(|_| !roots),
                trace,
                links: Vec::new(),
                linked_parent,
                span: entry.span,
            };
            let links: Vec<Option<u64>> = out
                .targets()
                .map(|target| {
                    traces
                        .get(&target)
                        .copied()
                        .or_else(|| waited.filter(|w| w.0 == target).map(|w| w.1))
                        .or_else(|| self.trace_of((segment, target)))
                })
                .collect();
            out.links = links;
            ready.push(out);
        }
        for out in ready {
            self.send_or_wait(out);
        }
    }

    /// The trace root of an exported or cut span, if known.
    fn trace_of(&self, key: Key) -> Option<u64> {
        self.recent
            .get(&key)
            .copied()
            .or_else(|| self.cut.contains(&key).then_some(key.1))
    }

    /// Remembers an exported span's trace for links, forgetting the oldest past the budget.
    fn remember(&mut self, key: Key, trace: u64) {
        if let Some(exported) = &mut self.exported {
            exported.insert(key);
        }
        if self.recent.insert(key, trace).is_none() {
            self.recent_order.push_back(key);
        }
        if self.recent_order.len() > self.budget.max(MIN_RECENT) {
            if let Some(old) = self.recent_order.pop_front() {
                self.recent.remove(&old);
            }
        }
        self.resolve_waiting(key, trace);
    }

    /// Spans waiting for `key`'s trace get it.
    fn resolve_waiting(&mut self, key: Key, trace: u64) {
        let Some(tokens) = self.waiting_on.remove(&key) else {
            return;
        };
        for token in tokens {
            let complete = match self.waiting.get_mut(&token) {
                Some(out) => {
                    let targets: Vec<u64> = out.targets().collect();
                    for (link, target) in out.links.iter_mut().zip(targets) {
                        if target == key.1 && link.is_none() {
                            *link = Some(trace);
                        }
                    }
                    out.links.iter().all(Option::is_some)
                }
                None => false,
            };
            if complete {
                if let Some(out) = self.waiting.remove(&token) {
                    self.push(out);
                }
            }
        }
    }

    /// Sends `out` on, or holds it until the spans it links to are exported.
    fn send_or_wait(&mut self, out: Out) {
        if out.links.iter().all(Option::is_some) {
            self.push(out);
            return;
        }
        let token = self.next_wait;
        self.next_wait += 1;
        let segment = out.span.segment;
        for (target, link) in out.targets().zip(&out.links) {
            if link.is_none() {
                let tokens = self.waiting_on.entry((segment, target)).or_default();
                if tokens.back() != Some(&token) {
                    tokens.push_back(token);
                }
            }
        }
        self.waiting.insert(token, out);
        while self.waiting.len() > self.budget {
            let Some((token, out)) = self.waiting.pop_first() else {
                break;
            };
            for (target, link) in out.targets().zip(&out.links) {
                let key = (out.span.segment, target);
                // Tokens only grow, and this one is the oldest waiting: first in line.
                if let (None, Some(tokens)) = (link, self.waiting_on.get_mut(&key)) {
                    if tokens.front() == Some(&token) {
                        tokens.pop_front();
                    }
                    if tokens.is_empty() {
                        self.waiting_on.remove(&key);
                    }
                }
            }
            self.push_unlinked(out);
        }
    }

    /// Sends `out` with the links still unknown left out.
    fn push_unlinked(&mut self, out: Out) {
        // A cut span's parent that never came is not a link left out: the span is a
        // root whose parent is missing.
        let follows_from = &out.links[..out.span.follows_from.len()];
        let missing = follows_from.iter().filter(|l| l.is_none()).count();
        self.links_dropped += missing as u64;
        self.push(out);
    }

    /// Adds `out` to the batch, sending the batch when it is full or `out` is of
    /// another segment.
    fn push(&mut self, out: Out) {
        if out.linked_parent.is_some() && out.links.last().is_some_and(Option::is_some) {
            self.split += 1;
        }
        let other_segment = self
            .batch
            .first()
            .is_some_and(|first| first.span.segment != out.span.segment);
        if other_segment || self.batch.len() >= BATCH_SPANS {
            self.flush();
        }
        self.batch.push(out);
    }

    /// Sends the batch as one request.
    fn flush(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        if batch.is_empty() || self.failed.is_some() {
            return;
        }
        let seed = self.seed.unwrap_or_else(|| seed(""));
        let segment = self
            .segments
            .binary_search_by_key(&batch[0].span.segment, |s| s.index)
            .ok()
            .map(|at| &self.segments[at]);
        let request = request(self.session_name(), segment, seed, &batch);
        if let Err(e) = (self.send)(request) {
            self.failed = Some(e);
        }
    }

    fn session_name(&self) -> &str {
        self.segments.first().map_or("", |s| s.session.as_str())
    }

    /// Ends a segment: what still waits goes out. Spans waiting under one that never
    /// came each root their own trace, as a tree whose parent is missing does; links
    /// still unknown are left out.
    fn settle(&mut self) {
        let mut keys: Vec<Key> = self.groups.keys().copied().collect();
        keys.sort_unstable();
        for key in keys {
            if let Some(group) = self.take_group(key) {
                self.export(group, None);
            }
        }
        self.never_came += self.cut.len() as u64;
        self.cut.clear();
        while let Some((_, out)) = self.waiting.pop_first() {
            self.push_unlinked(out);
        }
        self.waiting_on.clear();
        self.recent.clear();
        self.recent_order.clear();
    }

    /// Sends what is left, adds the warnings to `report`, and says if sending failed.
    fn finish(mut self, report: &mut VisitReport) -> Result<(), Error> {
        self.settle();
        self.flush();
        if let Some(e) = self.failed.take() {
            return Err(super::write_error(e));
        }
        report.warnings.extend(self.warnings());
        Ok(())
    }

    fn warnings(&self) -> Warnings {
        let source = &self.source;
        let mut warnings = Warnings::default();
        let mut warn = |message: String| {
            warnings.push(Warning {
                source: source.clone(),
                line: None,
                kind: WarningKind::CapApplied,
                message,
            });
        };
        let budget = self.budget;
        if self.split > 0 {
            warn(format!(
                "{} spans that were not roots held more than the budget of {budget} closed spans under them while open: each was exported as the root of a trace of its own, linked to its parent",
                self.split
            ));
        }
        if self.never_came > 0 {
            warn(format!(
                "{} spans held more than the budget of {budget} closed spans under them and did not come afterwards (lost, still open when their run ended, or exported more than {} spans before their children closed): their children name a parent the export does not have in their trace",
                self.never_came,
                budget.max(MIN_RECENT)
            ));
        }
        if self.late_children > 0 {
            warn(format!(
                "{} spans closed more than {} spans after their parent was exported: the parent's trace was no longer known, so each was exported as the root of a trace of its own",
                self.late_children,
                budget.max(MIN_RECENT)
            ));
        }
        if self.links_dropped > 0 {
            warn(format!(
                "{} follows_from links were left out: the span they name was not exported in the same run, or was exported more than {} spans earlier",
                self.links_dropped,
                budget.max(MIN_RECENT)
            ));
        }
        warnings
    }
}

impl<F: FnMut(Request) -> io::Result<()>> Visitor for Exporter<F> {
    fn segment(&mut self, segment: &Segment) {
        if self.seed.is_none() {
            self.seed = Some(seed(&segment.session));
        }
        self.segments.push(segment.clone());
    }

    fn tree(&mut self, tree: Tree) {
        self.arrive(tree);
    }

    fn takes_pieces(&self) -> bool {
        true
    }

    fn piece(&mut self, piece: Tree) {
        self.arrive(piece);
    }

    fn segment_end(&mut self, _: &input::SegmentEnd) {
        self.settle();
    }

    fn stopped(&self) -> bool {
        self.failed.is_some()
    }
}

/// Which spans were exported, approximately, in bounded memory: two blocked Bloom
/// filters of [`Exported::BITS`] bits each, the older one dropped when the newer one
/// holds [`Exported::GENERATION`] spans. A span exported within the last generation is
/// always found (within the last two, mostly); another is found with a probability of
/// about 1 in 10,000 (one lookup reads one cache line per filter).
struct Exported {
    current: Vec<u64>,
    previous: Vec<u64>,
    inserted: usize,
}

impl Default for Exported {
    fn default() -> Self {
        Exported {
            current: vec![0; Self::BITS / 64],
            previous: Vec::new(),
            inserted: 0,
        }
    }
}

impl Exported {
    /// Bits per filter (4 MiB).
    const BITS: usize = 1 << 25;
    /// Spans per filter before the older one is dropped.
    const GENERATION: usize = 1 << 20;

    /// The six bits of `key`, all in one block of 512 bits (one cache line): their
    /// words' indices and masks.
    fn positions(key: Key) -> [(usize, u64); 6] {
        let block = mix(0x9E37_79B9_7F4A_7C15, key.0, key.1, 0x4558_504F_5254) as usize
            & (Self::BITS / 512 - 1);
        let bits = mix(0x2545_F491_4F6C_DD1D, key.0, key.1, 0x0042_4C4F_4F4D);
        std::array::from_fn(|i| {
            let bit = (bits >> (9 * i)) as usize & 511;
            (block * 8 + bit / 64, 1 << (bit % 64))
        })
    }

    fn insert(&mut self, key: Key) {
        if self.inserted == Self::GENERATION {
            self.previous = std::mem::replace(&mut self.current, vec![0; Self::BITS / 64]);
            self.inserted = 0;
        }
        for (word, mask) in Self::positions(key) {
            self.current[word] |= mask;
        }
        self.inserted += 1;
    }

    fn may_contain(&self, key: Key) -> bool {
        let positions = Self::positions(key);
        [&self.current, &self.previous].iter().any(|filter| {
            positions
                .iter()
                .all(|&(word, mask)| filter.get(word).is_some_and(|w| w & mask != 0))
        })
    }
}

/// The seed of a session's ids: FNV-1a of its name, stable across Rust versions.
fn seed(session: &str) -> u64 {
    session.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Ids derived from the session's seed, the segment and span ids.
fn mix(seed: u64, segment: u32, id: u64, salt: u64) -> u64 {
    // SplitMix64's finalizer over the inputs: distinct inputs give distinct-looking ids.
    let mut z = seed ^ id ^ (u64::from(segment) << 48).rotate_left(7) ^ salt;
    for _ in 0..2 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
    }
    z.max(1)
}

fn span_id(seed: u64, segment: u32, id: u64) -> String {
    format!("{:016x}", mix(seed, segment, id, 0))
}

fn trace_id(seed: u64, segment: u32, root: u64) -> String {
    format!(
        "{:016x}{:016x}",
        mix(seed, segment, root, 0x5452_4143_4531),
        mix(seed, segment, root, 0x5452_4143_4532)
    )
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TracesData<'a> {
    resource_spans: [ResourceSpans<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceSpans<'a> {
    resource: Attributes,
    scope_spans: Vec<ScopeSpans<'a>>,
}

#[derive(Serialize)]
struct Attributes {
    attributes: Vec<KeyValue>,
}

#[derive(Serialize)]
struct ScopeSpans<'a> {
    scope: Scope<'a>,
    spans: Vec<OtlpSpan<'a>>,
}

#[derive(Serialize)]
struct Scope<'a> {
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OtlpSpan<'a> {
    trace_id: String,
    span_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    parent_span_id: String,
    name: &'a str,
    kind: u8,
    start_time_unix_nano: String,
    end_time_unix_nano: String,
    attributes: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    links: Vec<Link>,
    status: OtlpStatus,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Link {
    trace_id: String,
    span_id: String,
}

#[derive(Serialize)]
struct OtlpStatus {
    #[serde(skip_serializing_if = "String::is_empty")]
    message: String,
    #[serde(skip_serializing_if = "is_zero")]
    code: u8,
}

fn is_zero(code: &u8) -> bool {
    *code == 0
}

#[derive(Serialize)]
struct KeyValue {
    key: String,
    value: AnyValue,
}

/// OTLP's `AnyValue`: `{"stringValue":"..."}` and so on; 64-bit integers as strings.
#[derive(Serialize)]
enum AnyValue {
    #[serde(rename = "stringValue")]
    String(String),
    #[serde(rename = "boolValue")]
    Bool(bool),
    #[serde(rename = "intValue")]
    Int(String),
    #[serde(rename = "doubleValue")]
    Double(f64),
    #[serde(rename = "arrayValue")]
    Array { values: Vec<AnyValue> },
    #[serde(rename = "kvlistValue")]
    Kvlist { values: Vec<KeyValue> },
}

impl AnyValue {
    fn of(value: Value) -> Option<AnyValue> {
        Some(match value {
            Value::Null => return None,
            Value::Bool(b) => AnyValue::Bool(b),
            Value::Number(n) if n.is_i64() => AnyValue::Int(n.to_string()),
            // Above i64::MAX an integer does not fit OTLP's intValue: kept as text.
            Value::Number(n) if n.is_u64() => AnyValue::String(n.to_string()),
            Value::Number(n) => AnyValue::Double(n.as_f64().unwrap_or_default()),
            Value::String(s) => AnyValue::String(s),
            Value::Array(values) => AnyValue::Array {
                values: values.into_iter().filter_map(AnyValue::of).collect(),
            },
            Value::Object(map) => AnyValue::Kvlist {
                values: key_values(map),
            },
        })
    }
}

fn key_values(map: serde_json::Map<String, Value>) -> Vec<KeyValue> {
    map.into_iter()
        .filter_map(|(key, value)| {
            Some(KeyValue {
                key,
                value: AnyValue::of(value)?,
            })
        })
        .collect()
}

fn int(key: &str, value: u64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: AnyValue::Int(value.to_string()),
    }
}

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: AnyValue::String(value.to_owned()),
    }
}

fn resource(session: &str, segment: Option<&Segment>) -> Attributes {
    let program = segment
        .and_then(|s| s.program.as_deref())
        .filter(|p| !p.is_empty())
        .unwrap_or("unknown_service");
    let mut attributes = vec![text("service.name", program), text("perf.session", session)];
    if let Some(pid) = segment.and_then(|s| s.pid) {
        attributes.push(int("process.pid", pid.into()));
    }
    Attributes { attributes }
}

/// One request of `batch` (spans of one segment).
fn request(session: &str, segment: Option<&Segment>, seed: u64, batch: &[Out]) -> Request {
    let mut scopes: BTreeMap<&str, Vec<OtlpSpan<'_>>> = BTreeMap::new();
    for out in batch {
        scopes
            .entry(&out.span.target)
            .or_default()
            .push(otlp_span(seed, out));
    }
    let request = TracesData {
        resource_spans: [ResourceSpans {
            resource: resource(session, segment),
            scope_spans: scopes
                .into_iter()
                .map(|(name, spans)| ScopeSpans {
                    scope: Scope { name },
                    spans,
                })
                .collect(),
        }],
    };
    Request {
        // Only maps with string keys and finite numbers: serializing cannot fail.
        body: serde_json::to_string(&request).unwrap_or_default(),
        spans: batch.len(),
    }
}

fn otlp_span(seed: u64, out: &Out) -> OtlpSpan<'_> {
    let span = &out.span;
    let segment = span.segment;
    let mut fields = span.fields();
    let kind = match fields.remove("otel.kind").as_ref().and_then(Value::as_str) {
        Some("server") => 2,
        Some("client") => 3,
        Some("producer") => 4,
        Some("consumer") => 5,
        _ => 1,
    };
    let message = match fields.remove("otel.status_description") {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    let mut attributes = vec![
        text("thread.name", &span.thread),
        int("busy_ns", span.busy_ns),
        int("idle_ns", span.idle()),
    ];
    if span.status == Status::Open {
        attributes.push(text("perf.status", "open"));
    }
    attributes.extend(key_values(fields));
    let links = out
        .targets()
        .zip(&out.links)
        .filter_map(|(target, trace)| {
            Some(Link {
                trace_id: trace_id(seed, segment, (*trace)?),
                span_id: span_id(seed, segment, target),
            })
        })
        .collect();
    OtlpSpan {
        trace_id: trace_id(seed, segment, out.trace),
        span_id: span_id(seed, segment, span.id),
        parent_span_id: out
            .parent
            .map(|parent| span_id(seed, segment, parent))
            .unwrap_or_default(),
        name: &span.name,
        kind,
        start_time_unix_nano: span.start_ns.to_string(),
        end_time_unix_nano: span.end_ns.to_string(),
        attributes,
        links,
        status: OtlpStatus {
            message,
            code: if span.status == Status::Error { 2 } else { 0 },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::Session;

    const SESSION: &str = r#"{"type":"session","format":1,"session":"demo","started_at":"2026-11-24T10:00:00Z","pid":7,"program":"agent"}"#;

    fn span_line(id: u64, parent: &str, name: &str, start: u64, end: u64, extra: &str) -> String {
        format!(
            r#"{{"type":"span","id":{id},"parent":{parent},"name":"{name}","target":"app::m","start_ns":{start},"end_ns":{end},"busy_ns":{},"enters":1,"thread":"main","status":"ok","fields":{{"big":18446744073709551615,"otel.kind":"client"}}{extra}}}"#,
            end - start
        )
    }

    fn read(data: &str) -> Session {
        Session::read(data.as_bytes(), "mem", &Default::default())
            .unwrap()
            .0
    }

    #[test]
    fn trees_are_traces_and_links_cross_them() {
        let data = [
            SESSION.to_owned(),
            span_line(2, "1", "child", 1, 5, ""),
            span_line(1, "null", "root", 0, 10, ""),
            span_line(3, "null", "bg", 20, 30, r#","follows_from":[1]"#),
        ]
        .join("\n");
        let session = read(&data);
        let lines = requests(&session);
        assert_eq!(lines.len(), 1);
        let request: Value = serde_json::from_str(&lines[0].body).unwrap();
        let resource = &request["resourceSpans"][0]["resource"]["attributes"];
        assert_eq!(resource[0]["value"]["stringValue"], "agent");
        assert_eq!(resource[2]["value"]["intValue"], "7");
        let spans = request["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .unwrap();
        let by_name = |n: &str| spans.iter().find(|s| s["name"] == n).unwrap();
        let (root, child, bg) = (by_name("root"), by_name("child"), by_name("bg"));
        assert_eq!(child["traceId"], root["traceId"]);
        assert_eq!(child["parentSpanId"], root["spanId"]);
        assert!(root.get("parentSpanId").is_none());
        assert_ne!(bg["traceId"], root["traceId"]);
        assert_eq!(bg["links"][0]["spanId"], root["spanId"]);
        assert_eq!(bg["links"][0]["traceId"], root["traceId"]);
        assert_eq!(child["kind"], 3);
        assert_eq!(root["spanId"].as_str().unwrap().len(), 16);
        assert_eq!(root["traceId"].as_str().unwrap().len(), 32);
        let big = child["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == "big")
            .unwrap();
        assert_eq!(big["value"]["stringValue"], "18446744073709551615");
        // Deterministic: the same session gives the same ids.
        assert_eq!(requests(&read(&data)), lines);
    }

    #[test]
    fn the_exported_filter_finds_the_last_generation_and_rarely_another_span() {
        let mut exported = Exported::default();
        // One generation and a half: the last generation spans both filters.
        let generation = Exported::GENERATION as u64;
        let inserted = generation + generation / 2;
        for id in 0..inserted {
            exported.insert((0, id));
        }
        assert!((inserted - generation..inserted).all(|id| exported.may_contain((0, id))));
        let others = 1_000_000;
        let found = (0..others)
            .filter(|id| exported.may_contain((1, *id)))
            .count();
        assert!(found < others as usize / 5_000, "{found} of {others} found");
    }

    #[test]
    fn batches_hold_at_most_batch_spans_and_one_segment_each() {
        let mut data = vec![SESSION.to_owned()];
        for i in 0..(BATCH_SPANS as u64 + 5) {
            data.push(span_line(i + 1, "null", "op", i * 10, i * 10 + 5, ""));
        }
        data.push(SESSION.replace("10:00:00Z", "11:00:00Z"));
        data.push(span_line(1, "null", "op", 0, 5, ""));
        let lines = requests(&read(&data.join("\n")));
        let counts: Vec<usize> = lines.iter().map(|l| l.spans).collect();
        assert_eq!(counts, vec![BATCH_SPANS, 5, 1]);
    }
}
