//! The line scanner: a session file line by line into [`Event`]s, whatever its format.
//!
//! Each file's format is detected from its first record and every line is handed
//! to that format's module ([`format1`](super::format1), [`python`](super::python),
//! [`otlp`](super::otlp)),
//! which reads it through the [`Scanner`]: the shared state of segments, string
//! interning and warnings. Malformed lines become [`Warning`]s naming file and
//! line (errors with `strict`), and a truncated last line is read past. A Jaeger JSON
//! document, one JSON value told by its first key, goes to [`jaeger`](super::jaeger).
//!
//! ```
//! use perf_analyze::input::{read, Event};
//!
//! let data = concat!(
//!     r#"{"type":"session","format":1,"session":"s","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#, "\n",
//!     r#"{"type":"span","id":1,"parent":null,"name":"turn","target":"t","start_ns":0,"end_ns":10,"busy_ns":10,"enters":1,"thread":"main","status":"ok","fields":{}}"#, "\n",
//!     r#"{"type":"span","id":2,"pa"#, // cut off while being written
//! );
//! let mut spans = Vec::new();
//! let summary = read(data.as_bytes(), "mem.jsonl", false, |event| {
//!     if let Event::Span(span) = event { spans.push(span) }
//! })?;
//! assert_eq!(spans.len(), 1);
//! assert_eq!(spans[0].duration_ns(), 10);
//! assert_eq!(summary.warnings.list().len(), 2); // the truncated line, and no `end` line
//! # Ok::<(), perf_analyze::Error>(())
//! ```

use rustc_hash::FxHashSet as HashSet;
use std::borrow::Cow;
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;

use perf_layer::record::EndRecord;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::span::{Event, Segment, SegmentEnd, SourceFormat};
use super::{format1, otlp, python};
use crate::warning::{Warning, WarningKind, Warnings};
use crate::Error;

/// What [`read`] reports besides its events.
#[derive(Debug, Clone, Default)]
pub struct LoadSummary {
    /// Lines read.
    pub lines: u64,
    /// The detected format, `None` for a file without records.
    pub format: Option<SourceFormat>,
    /// Problems read past.
    pub warnings: Warnings,
}

/// Reads a session file line by line, calling `emit` for every event.
///
/// `source` names the input in warnings and errors. With `strict`, a malformed
/// line (other than a truncated last one) is an [`Error::Malformed`].
pub fn read<R: BufRead>(
    mut input: R,
    source: &str,
    strict: bool,
    mut emit: impl FnMut(Event),
) -> Result<LoadSummary, Error> {
    let start = input.fill_buf().map_err(|e| Error::Io {
        path: PathBuf::from(source),
        source: e,
    })?;
    if super::otel::is_jaeger(start) {
        return super::jaeger::read(input, source, strict, emit);
    }
    let mut reader = Scanner::new(source);
    // Only a line that straddles the input's buffer is copied, into `long`.
    let mut long = Vec::new();
    loop {
        let available = match input.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(reader.io_error(source)),
        };
        if available.is_empty() {
            break;
        }
        if let Some(at) = memchr::memchr(b'\n', available) {
            reader.take_line(&available[..=at], strict, &mut emit)?;
            input.consume(at + 1);
            continue;
        }
        long.clear();
        match read_long_line(&mut input, &mut long).map_err(|source| reader.io_error(source))? {
            LongLine::Whole => reader.take_line(&long, strict, &mut emit)?,
            LongLine::Skipped(length) => reader.skip_long_line(length),
            LongLine::Endless => {
                reader.give_up_endless_line();
                break;
            }
        }
    }
    reader.close_segment(None, &mut emit);
    Ok(LoadSummary {
        lines: reader.line,
        format: reader.format,
        warnings: reader.warnings,
    })
}

/// The longest line read, in bytes: a longer one is skipped with a warning, so that
/// a line that never ends (a file's tail of NUL bytes after a power cut) holds at most
/// this much memory. A record of perf-layer or the Python tracker is far shorter.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// How far an over-long line is read in search of its end: past this, the input is taken
/// to have no more lines (`/dev/zero`, a stream of garbage) and reading stops.
pub const MAX_SKIP_BYTES: u64 = 1 << 30;

/// How a line that straddles the input's buffer was read.
enum LongLine {
    /// It is in the buffer, with its newline if it has one.
    Whole,
    /// It was longer than [`MAX_LINE_BYTES`] (this many bytes, newline included) and skipped.
    Skipped(u64),
    /// No line end within [`MAX_SKIP_BYTES`]: the input is not read further.
    Endless,
}

/// Reads one line into `line`, keeping at most [`MAX_LINE_BYTES`] of it: the rest of a
/// longer line is read past without being kept.
fn read_long_line<R: BufRead>(input: &mut R, line: &mut Vec<u8>) -> std::io::Result<LongLine> {
    let mut length = 0u64;
    loop {
        let available = match input.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        let (taken, done) = match memchr::memchr(b'\n', available) {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        length += taken as u64;
        if length <= MAX_LINE_BYTES as u64 {
            // Grow by doubling, but never past the cap.
            if line.capacity() < line.len() + taken {
                let want = (line.capacity() * 2)
                    .min(MAX_LINE_BYTES)
                    .max(line.len() + taken);
                line.reserve_exact(want - line.len());
            }
            line.extend_from_slice(&available[..taken]);
        } else if !line.is_empty() {
            // Over the cap: what was kept goes, and the rest is only counted.
            *line = Vec::new();
        }
        input.consume(taken);
        if done {
            break;
        }
        if length > MAX_SKIP_BYTES {
            return Ok(LongLine::Endless);
        }
    }
    Ok(if length > MAX_LINE_BYTES as u64 {
        LongLine::Skipped(length)
    } else {
        LongLine::Whole
    })
}

fn trim(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let start = line[..end]
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(end);
    &line[start..end]
}

/// Why a line was not read.
pub(super) enum LineError {
    /// The line is not a record: a warning (an error with `strict`).
    Malformed(String),
    /// The file cannot be read on: an error.
    Fatal(Error),
}

impl From<serde_json::Error> for LineError {
    fn from(error: serde_json::Error) -> Self {
        // serde_json says "at line 1 column N" of the one-line input: keep only the column.
        let text = error.to_string();
        let message = match text.rfind(" at line ") {
            Some(at) if error.column() > 0 => {
                format!("{} (column {})", &text[..at], error.column())
            }
            _ => text,
        };
        LineError::Malformed(message)
    }
}

/// The keys that tell the formats and record types apart.
#[derive(Deserialize)]
pub(super) struct Probe<'a> {
    /// A format-1 record's type.
    #[serde(rename = "type", borrow, default)]
    pub(super) kind: Option<Cow<'a, str>>,
    /// A format-1 `session` line's format number.
    #[serde(default)]
    pub(super) format: Option<serde_json::Value>,
    /// Only the Python tracker's lines have it.
    #[serde(borrow, default)]
    operation_name: Option<&'a RawValue>,
    /// Only OTLP JSON lines have it.
    #[serde(rename = "resourceSpans", borrow, default)]
    resource_spans: Option<&'a RawValue>,
}

/// The segment lines are read into.
pub(super) struct OpenSegment {
    pub(super) index: u32,
    /// Where its span times count from, in ns since the Unix epoch.
    pub(super) origin_ns: u64,
    format: SourceFormat,
}

/// What every format's reader shares: the input's name, the line number, the open
/// segment, interned strings and the warnings.
pub(super) struct Scanner {
    pub(super) source: Arc<str>,
    /// The number of the line being read, from 1.
    pub(super) line: u64,
    format: Option<SourceFormat>,
    pub(super) segment: Option<OpenSegment>,
    /// Segments opened so far: the next one's index.
    pub(super) segments: u32,
    /// The latest span end seen, where a segment without a usable start time is placed.
    pub(super) last_end_ns: u64,
    names: HashSet<Arc<str>>,
    /// The latest interned string of each length modulo the array size.
    recent: [Option<Arc<str>>; 16],
    pub(super) warnings: Warnings,
}

/// Above this many distinct strings, new ones are no longer interned.
const INTERN_LIMIT: usize = 100_000;

impl Scanner {
    pub(super) fn new(source: &str) -> Scanner {
        Scanner {
            source: source.into(),
            line: 0,
            format: None,
            segment: None,
            segments: 0,
            last_end_ns: 0,
            names: HashSet::default(),
            recent: Default::default(),
            warnings: Warnings::default(),
        }
    }

    fn io_error(&self, source: std::io::Error) -> Error {
        Error::Io {
            path: PathBuf::from(&*self.source),
            source,
        }
    }

    /// Reads one line, with its newline if it has one (a last line without is incomplete).
    fn take_line(
        &mut self,
        raw: &[u8],
        strict: bool,
        emit: &mut impl FnMut(Event),
    ) -> Result<(), Error> {
        self.line += 1;
        let complete = raw.last() == Some(&b'\n');
        let mut line = trim(raw);
        if self.line == 1 {
            line = line
                .strip_prefix(b"\xEF\xBB\xBF".as_slice())
                .unwrap_or(line);
        }
        if line.is_empty() {
            return Ok(());
        }
        match self.line_event(line, emit) {
            Ok(()) => Ok(()),
            Err(LineError::Fatal(error)) => Err(error),
            Err(LineError::Malformed(reason)) if !complete => {
                let message = format!(
                    "the last line is incomplete (still being written, or cut off): {reason}"
                );
                self.warn(WarningKind::TruncatedLastLine, message);
                Ok(())
            }
            Err(LineError::Malformed(reason)) => {
                if strict {
                    return Err(Error::Malformed {
                        path: PathBuf::from(&*self.source),
                        line: self.line,
                        reason,
                    });
                }
                self.warn(WarningKind::Malformed, format!("skipped: {reason}"));
                Ok(())
            }
        }
    }

    /// Counts and warns about a line longer than [`MAX_LINE_BYTES`], read past unkept.
    fn skip_long_line(&mut self, length: u64) {
        self.line += 1;
        let message = format!(
            "skipped: the line is {length} bytes long, over the limit of {MAX_LINE_BYTES} bytes \
             (a record is far shorter: a damaged file, or not a session file)"
        );
        self.warn(WarningKind::LongLine, message);
    }

    /// Warns that the current line never ended and the rest of the input is not read.
    fn give_up_endless_line(&mut self) {
        self.line += 1;
        let message = format!(
            "reading stopped: no line end in the first {MAX_SKIP_BYTES} bytes of this line \
             (an endless input such as /dev/zero, or not a session file)"
        );
        self.warn(WarningKind::LongLine, message);
    }

    /// Warns about the current line.
    pub(super) fn warn(&mut self, kind: WarningKind, message: String) {
        self.warnings.push(Warning {
            source: self.source.clone(),
            line: Some(self.line),
            kind,
            message,
        });
    }

    /// The one shared copy of a name, thread or target.
    pub(super) fn intern(&mut self, s: &str) -> Arc<str> {
        // Consecutive lines mostly repeat their thread and target: check the last hit first.
        let slot = s.len() % self.recent.len();
        if let Some(recent) = &self.recent[slot] {
            if **recent == *s {
                return recent.clone();
            }
        }
        let found = self.intern_slow(s);
        self.recent[slot] = Some(found.clone());
        found
    }

    fn intern_slow(&mut self, s: &str) -> Arc<str> {
        if let Some(found) = self.names.get(s) {
            return found.clone();
        }
        let arc: Arc<str> = s.into();
        if self.names.len() < INTERN_LIMIT {
            self.names.insert(arc.clone());
        }
        arc
    }

    /// A session name for files that do not say: the directory holding the file, or its stem.
    pub(super) fn default_session(&self) -> String {
        let path = std::path::Path::new(&*self.source);
        let from_dir = path
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned());
        from_dir
            .or_else(|| path.file_stem().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "unknown".to_owned())
    }

    fn line_event(&mut self, line: &[u8], emit: &mut impl FnMut(Event)) -> Result<(), LineError> {
        // Validating the line once is cheaper than serde_json checking each string.
        let line = std::str::from_utf8(line)
            .map_err(|e| LineError::Malformed(format!("not UTF-8: {e}")))?;
        // The common case first: a span line as the layer writes it.
        if self.format != Some(SourceFormat::Python) && format1::fast_span(self, line, emit) {
            self.format = Some(SourceFormat::PerfLayer);
            return Ok(());
        }
        // OTLP lines are long: not parsed twice once the file is known to hold them.
        if self.format == Some(SourceFormat::Otlp) {
            return otlp::line(self, line, emit);
        }
        let probe: Probe<'_> = serde_json::from_str(line)?;
        let format = match (&probe.kind, &probe.operation_name, &probe.resource_spans) {
            (Some(_), _, _) => SourceFormat::PerfLayer,
            (None, Some(_), _) => SourceFormat::Python,
            (None, None, Some(_)) => SourceFormat::Otlp,
            (None, None, None) => {
                return Err(LineError::Malformed(
                    "neither a format-1 record (no \"type\"), a Python tracker record (no \"operation_name\") nor OTLP JSON (no \"resourceSpans\")"
                        .to_owned(),
                ))
            }
        };
        match self.format {
            None => self.format = Some(format),
            Some(known) if known != format => {
                let message = format!(
                    "skipped: a {} line in a {} file",
                    format_name(format),
                    format_name(known)
                );
                self.warn(WarningKind::MixedFormats, message);
                return Ok(());
            }
            Some(_) => {}
        }
        match format {
            SourceFormat::Otlp => otlp::line(self, line, emit),
            // A Jaeger document is read whole by its own module, from `read`.
            SourceFormat::Jaeger => Ok(()),
            SourceFormat::Python => python::line(self, line, emit),
            SourceFormat::PerfLayer => format1::line(self, line, &probe, emit),
        }
    }

    /// Starts a segment.
    pub(super) fn open_segment(&mut self, segment: Segment, emit: &mut impl FnMut(Event)) {
        self.segment = Some(OpenSegment {
            index: segment.index,
            origin_ns: segment.origin_ns,
            format: segment.format,
        });
        self.segments += 1;
        emit(Event::Segment(segment));
    }

    /// Ends the open segment, if any, with its `end` record if it has one.
    pub(super) fn close_segment(&mut self, end: Option<EndRecord>, emit: &mut impl FnMut(Event)) {
        let Some(open) = self.segment.take() else {
            return;
        };
        if end.is_none() && open.format == SourceFormat::PerfLayer {
            self.warnings.push(Warning {
                source: self.source.clone(),
                line: None,
                kind: WarningKind::NoEndLine,
                message: format!(
                    "segment {} has no end line: the session is still running or ended abruptly (every complete line was read)",
                    open.index + 1
                ),
            });
        }
        let end_ns = end
            .as_ref()
            .map(|e| open.origin_ns.saturating_add(e.end_ns));
        emit(Event::SegmentEnd(SegmentEnd {
            index: open.index,
            end,
            end_ns,
        }));
    }
}

fn format_name(format: SourceFormat) -> &'static str {
    match format {
        SourceFormat::PerfLayer => "format-1",
        SourceFormat::Python => "Python tracker",
        SourceFormat::Otlp => "OTLP JSON",
        SourceFormat::Jaeger => "Jaeger JSON",
    }
}

/// Parses an RFC 3339 time into ns since the Unix epoch.
pub(super) fn parse_rfc3339_ns(text: &str) -> Option<u64> {
    let time = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    u64::try_from(time.timestamp_nanos_opt()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Span;
    use perf_layer::record::{Fields, Record, SpanRecord, Status};

    fn events(data: &str, strict: bool) -> Result<(Vec<Event>, LoadSummary), Error> {
        let mut out = Vec::new();
        let summary = read(data.as_bytes(), "t.jsonl", strict, |e| out.push(e))?;
        Ok((out, summary))
    }

    fn spans(events: &[Event]) -> Vec<&Span> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Span(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    const SESSION: &str = r#"{"type":"session","format":1,"session":"s","started_at":"1970-01-01T00:00:01Z","pid":1,"program":"p"}"#;

    #[test]
    fn fast_path_and_span_record_read_the_same_span() {
        let mut fields = Fields::new();
        fields.insert("prompt_chars".into(), 1547.into());
        fields.insert("model".into(), "gemma3".into());
        let record = SpanRecord {
            id: 7,
            parent: Some(3),
            follows_from: vec![1, 2],
            name: "llm \"gen\"".into(),
            target: "agent_demo::memory".into(),
            start_ns: 1_200,
            end_ns: 2_456,
            busy_ns: 1_000,
            idle_ns: Some(256),
            enters: 2,
            thread: "main".into(),
            status: Status::Error,
            fields,
        };
        let fast = serde_json::to_string(&Record::Span(record.clone())).unwrap();
        assert!(fast.starts_with(r#"{"type":"span","#));
        // The same record with its keys in another order takes the SpanRecord path.
        let mut value: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&fast).unwrap();
        let kind = value.remove("type").unwrap();
        value.insert("type".into(), kind);
        let slow = serde_json::to_string(&value).unwrap();
        assert!(!slow.starts_with(r#"{"type""#));
        let data = format!("{SESSION}\n{fast}\n{slow}\n");
        let (events, summary) = events(&data, true).unwrap();
        let spans = spans(&events);
        assert_eq!(spans.len(), 2);
        let (mut a, b) = (spans[0].clone(), spans[1]);
        assert_eq!(a.fields(), b.fields());
        a.raw_fields.clone_from(&b.raw_fields);
        a.line = b.line;
        assert_eq!(&a, b);
        assert_eq!(a.start_ns, 1_000_001_200);
        assert_eq!(a.follows_from, vec![1, 2]);
        assert_eq!(a.status, Status::Error);
        assert_eq!(a.fields()["prompt_chars"], 1547);
        assert!(summary
            .warnings
            .list()
            .iter()
            .all(|w| w.kind == WarningKind::NoEndLine));
    }

    #[test]
    fn malformed_line_is_a_warning_with_its_line_or_an_error_when_strict() {
        let data = format!("{SESSION}\nnot json\n{{\"type\":\"end\",\"end_ns\":5,\"spans\":0,\"open\":0,\"dropped\":0}}\n");
        let (_, summary) = events(&data, false).unwrap();
        let w = &summary.warnings.list()[0];
        assert_eq!((w.kind, w.line), (WarningKind::Malformed, Some(2)));
        assert!(w.to_string().starts_with("t.jsonl:2: skipped:"), "{w}");
        match events(&data, true) {
            Err(Error::Malformed { line: 2, .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncated_last_line_is_read_past_even_when_strict() {
        let data = format!("{SESSION}\n{{\"type\":\"span\",\"id\":1,\"na");
        let (events, summary) = events(&data, true).unwrap();
        assert!(spans(&events).is_empty());
        assert!(summary.warnings.has(WarningKind::TruncatedLastLine));
        assert!(summary.warnings.has(WarningKind::NoEndLine));
    }

    #[test]
    fn unsupported_format_is_an_error() {
        let data = r#"{"type":"session","format":2,"whatever":true}"#;
        match events(data, false) {
            Err(Error::UnsupportedFormat {
                format: 2, line: 1, ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn segments_are_placed_by_started_at() {
        let second = SESSION.replace("00:00:01Z", "00:00:03Z");
        let span = r#"{"type":"span","id":1,"parent":null,"name":"a","target":"t","start_ns":5,"end_ns":9,"busy_ns":4,"enters":1,"thread":"main","status":"ok","fields":{}}"#;
        let end = r#"{"type":"end","end_ns":10,"spans":1,"open":0,"dropped":0}"#;
        let data = format!("{SESSION}\n{span}\n{end}\n{second}\n{span}\n{end}\n");
        let (events, summary) = events(&data, true).unwrap();
        let spans = spans(&events);
        assert_eq!(spans[0].start_ns, 1_000_000_005);
        assert_eq!(spans[1].start_ns, 3_000_000_005);
        assert_eq!(spans[1].segment, 1);
        assert!(summary.warnings.list().is_empty());
        let ends = events
            .iter()
            .filter(|e| matches!(e, Event::SegmentEnd(SegmentEnd { end: Some(_), .. })))
            .count();
        assert_eq!(ends, 2);
    }

    #[test]
    fn python_lines_become_spans() {
        let data = concat!(
            r#"{"operation_name":"rag","operation_id":"rag_2","start_time":1700000000.5,"end_time":1700000000.75,"duration_seconds":0.25,"metadata":{},"parent_operation_id":"q_1","session_id":"old","timestamp":"2023-11-14T22:13:20.500000"}"#,
            "\n",
            r#"{"operation_name":"query","operation_id":"q_1","start_time":1700000000.0,"end_time":1700000001.0,"duration_seconds":1.0,"metadata":{"error":"boom"},"parent_operation_id":null,"session_id":"old","timestamp":"2023-11-14T22:13:20"}"#,
            "\n",
        );
        let (events, summary) = events(data, true).unwrap();
        assert!(summary.warnings.list().is_empty(), "{:?}", summary.warnings);
        assert_eq!(summary.format, Some(SourceFormat::Python));
        let Event::Segment(segment) = &events[0] else {
            panic!()
        };
        assert_eq!(segment.session, "old");
        let spans = spans(&events);
        assert_eq!(spans[0].duration_ns(), 250_000_000);
        assert_eq!(spans[0].parent, Some(spans[1].id));
        assert_eq!(spans[1].parent, None);
        assert_eq!(spans[1].status, Status::Error);
        assert_eq!(spans[1].start_ns, 1_700_000_000_000_000_000);
    }
}
