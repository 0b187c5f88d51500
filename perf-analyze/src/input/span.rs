//! The in-memory span, the same for every input format, and the segments it belongs to.

use std::sync::Arc;

pub use perf_layer::record::{Fields, Status};

/// One span as the analyzer sees it, whatever the file format it came from.
///
/// Times are nanoseconds on one timeline shared by all segments of a session:
/// nanoseconds since the Unix epoch when the segment's start time is known
/// (a format-1 `started_at`, or the Python tracker's float seconds), so segments
/// of one file line up by their wall-clock start. Subtract [`session_origin_ns`]
/// for times relative to the session start.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// The segment (one run of the program) this span was recorded in, from 0.
    pub segment: u32,
    /// The span's id, unique within its segment (a hash of the operation id for Python files).
    pub id: u64,
    /// The parent span's id, `None` for a root.
    pub parent: Option<u64>,
    /// Spans this one follows from (e.g. the turn that spawned a background task).
    pub follows_from: Vec<u64>,
    /// The span's name.
    pub name: Arc<str>,
    /// The span's target (module path); empty for Python files.
    pub target: Arc<str>,
    /// Start on the session timeline, in ns.
    pub start_ns: u64,
    /// End on the session timeline, in ns (the flush time for an open span).
    pub end_ns: u64,
    /// Time the span was entered.
    pub busy_ns: u64,
    /// Time the span existed without being entered, if the file says.
    pub idle_ns: Option<u64>,
    /// How many times the span was entered.
    pub enters: u64,
    /// The thread that created the span.
    pub thread: Arc<str>,
    /// How the span ended.
    pub status: Status,
    /// The span's fields as raw JSON text (`None` when empty); see [`Span::fields`].
    pub raw_fields: Option<Box<str>>,
    /// The 1-based line of the source file this span was read from.
    pub line: u64,
}

impl Span {
    /// Wall duration, `end_ns - start_ns` (zero if the file says end < start).
    #[must_use]
    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }

    /// Time the span existed but was not entered: `idle_ns` if recorded, else duration minus busy.
    #[must_use]
    pub fn idle(&self) -> u64 {
        self.idle_ns
            .unwrap_or_else(|| self.duration_ns().saturating_sub(self.busy_ns))
    }

    /// The span's fields, parsed from [`Span::raw_fields`] (empty if absent or not an object).
    ///
    /// ```
    /// # use perf_analyze::Span;
    /// # let mut span = perf_analyze::Span::example("llm", 0, 10);
    /// span.raw_fields = Some(r#"{"prompt_chars":1547}"#.into());
    /// assert_eq!(span.fields()["prompt_chars"], 1547);
    /// ```
    #[must_use]
    pub fn fields(&self) -> Fields {
        self.raw_fields
            .as_deref()
            .and_then(|raw| serde_json::from_str(raw).ok())
            .unwrap_or_default()
    }

    /// True if the raw fields mention `needle` (a cheap pre-check before parsing).
    #[must_use]
    pub fn fields_mention(&self, needle: &str) -> bool {
        self.raw_fields
            .as_deref()
            .is_some_and(|raw| raw.contains(needle))
    }

    /// A span with the given name and times, for examples and tests.
    #[cfg(any(test, feature = "test-util"))]
    #[must_use]
    pub fn example(name: &str, start_ns: u64, end_ns: u64) -> Span {
        Span {
            segment: 0,
            id: 1,
            parent: None,
            follows_from: Vec::new(),
            name: name.into(),
            target: "".into(),
            start_ns,
            end_ns,
            busy_ns: end_ns.saturating_sub(start_ns),
            idle_ns: None,
            enters: 1,
            thread: "main".into(),
            status: Status::Ok,
            raw_fields: None,
            line: 0,
        }
    }
}

/// Which writer produced a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceFormat {
    /// perf-layer's format 1.
    PerfLayer,
    /// The older Python tracker's JSONL.
    Python,
    /// OTLP JSON lines (OpenTelemetry Collector and SDK file exporters).
    Otlp,
    /// Jaeger's JSON (its UI's download, its query API).
    Jaeger,
}

/// One run of a program: a `session` line and the records after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// The segment's index in the file, from 0.
    pub index: u32,
    /// The session id written in the file.
    pub session: String,
    /// The segment's wall-clock start as written (RFC 3339 for format 1).
    pub started_at: Option<String>,
    /// The segment's start on the session timeline, in ns (the Unix epoch when known).
    pub origin_ns: u64,
    /// The recording process id, if known.
    pub pid: Option<u32>,
    /// The recording program, if known.
    pub program: Option<String>,
    /// The file format.
    pub format: SourceFormat,
    /// The 1-based line the segment starts at.
    pub line: u64,
}

/// The end of a segment: its `end` line, or nothing if the file ended first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentEnd {
    /// The segment's index.
    pub index: u32,
    /// The `end` line, `None` if the segment has none (still running, or ended abruptly).
    pub end: Option<perf_layer::record::EndRecord>,
    /// The segment's end on the session timeline, from the `end` line, in ns.
    pub end_ns: Option<u64>,
}

/// What a format's reader finds, in file order: what every reader produces
/// and the pipeline ([`visit`](super::visit)) consumes.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A segment starts (a `session` line, or the first line of a Python file).
    Segment(Segment),
    /// A span (in the order written: children before their parents).
    Span(Span),
    /// A segment ends (its `end` line, the next `session` line, or the end of the file).
    SegmentEnd(SegmentEnd),
}

/// The start of a session on its shared timeline: the earliest of its segments'
/// origins and its spans' starts. Times since the session start are span times
/// minus this.
///
/// ```
/// assert_eq!(perf_analyze::session_origin_ns([5_000, 9_000], [5_200, 4_800]), 4_800);
/// assert_eq!(perf_analyze::session_origin_ns([], []), 0);
/// ```
#[must_use]
pub fn session_origin_ns(
    segment_origins: impl IntoIterator<Item = u64>,
    span_starts: impl IntoIterator<Item = u64>,
) -> u64 {
    segment_origins
        .into_iter()
        .chain(span_starts)
        .min()
        .unwrap_or(0)
}
