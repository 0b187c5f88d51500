//! The records of a session file, `performance_data.jsonl` (format 1).
//!
//! This module is the one place the file format lives: the layer's writer
//! serializes these types and `perf-analyze` deserializes them. One JSON object
//! per line, tagged by `type`:
//!
//! ```text
//! {"type":"session","format":1,"session":"test_performance","started_at":"2026-11-24T10:00:00.123456Z","pid":4242,"program":"agent-demo"}
//! {"type":"span","id":7,"parent":3,"name":"llm_generation","target":"agent_demo::memory","start_ns":1200000,"end_ns":2456000000,"busy_ns":2455000000,"enters":1,"thread":"main","status":"ok","fields":{"prompt_chars":1547}}
//! {"type":"end","end_ns":8234000000,"spans":15,"open":0,"dropped":0}
//! ```
//!
//! Readers ignore unknown keys; a breaking change bumps [`FORMAT`]. A reader that only
//! needs a span's fields as JSON text reads a line with [`SpanRecord::from_line`],
//! which borrows from the line and is several times faster on the layer's own lines.
//!
//! ```
//! use perf_layer::record::{Record, Status};
//!
//! let line = r#"{"type":"span","id":7,"parent":3,"name":"llm_generation","target":"demo","start_ns":5,"end_ns":9,"busy_ns":4,"enters":1,"thread":"main","status":"ok","fields":{"prompt_chars":1547}}"#;
//! let Record::Span(span) = serde_json::from_str(line)? else { panic!("not a span") };
//! assert_eq!(span.parent, Some(3));
//! assert_eq!(span.status, Status::Ok);
//! assert_eq!(span.duration_ns(), 4);
//! assert_eq!(span.fields["prompt_chars"], 1547);
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub mod llm;
mod scan;

/// The format number written in every `session` line. A reader refuses others.
pub const FORMAT: u32 = 1;

/// The name of the data file inside a session directory.
pub const DATA_FILE: &str = "performance_data.jsonl";

/// A span's recorded fields: names to JSON values (numbers stay numbers).
pub type Fields = serde_json::Map<String, serde_json::Value>;

/// A span's fields left as the JSON text of the line they were read from: an object,
/// or `None` if absent, `null` or empty.
pub type RawFields<'a> = Option<&'a RawValue>;

/// One line of a session file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// Starts a segment: one run of a program.
    Session(SessionRecord),
    /// A span, written when it closed (or at the flush, still open).
    Span(SpanRecord<'static>),
    /// Ends a segment; written by the flush guard.
    End(EndRecord),
}

/// The first line of each segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The file format number, [`FORMAT`].
    pub format: u32,
    /// The session id, also the name of the session directory.
    pub session: String,
    /// Wall-clock time of the segment's start, RFC 3339 UTC with microseconds.
    /// Every `*_ns` in the segment counts monotonic nanoseconds from this instant.
    pub started_at: String,
    /// The recording process id.
    pub pid: u32,
    /// The recording program's name.
    pub program: String,
}

/// A span's timings, written when it closes.
///
/// The strings borrow (`'a`) from a line in the layer's own layout read by
/// [`SpanRecord::from_line`], and are owned otherwise; `F` is how the fields are held:
/// parsed ([`Fields`], the default) or as JSON text ([`RawFields`]).
/// The keys are written in the order declared here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanRecord<'a, F = Fields> {
    /// Assigned by the layer (a counter), unique within the segment.
    pub id: u64,
    /// The id of the parent span, or `None` for a root.
    #[serde(default)]
    pub parent: Option<u64>,
    /// Spans this one follows from, e.g. the turn that spawned a background task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub follows_from: Vec<u64>,
    /// The span's name (for `#[instrument]`, the function name).
    pub name: Cow<'a, str>,
    /// The span's target (usually its module path).
    pub target: Cow<'a, str>,
    /// When the span was created, in ns since the segment's start.
    pub start_ns: u64,
    /// When the span closed (or the flush time for an open span), in ns since the segment's start.
    pub end_ns: u64,
    /// Time the span was entered, counting overlapping enters once.
    pub busy_ns: u64,
    /// Time the span existed but was not entered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_ns: Option<u64>,
    /// How many times the span was entered.
    pub enters: u64,
    /// The name of the thread that created the span.
    pub thread: Cow<'a, str>,
    /// How the span ended.
    pub status: Status,
    /// The span's fields, including those recorded later with `Span::record`.
    #[serde(default)]
    pub fields: F,
}

impl<F> SpanRecord<'_, F> {
    /// The span's wall duration, `end_ns - start_ns` (zero if the file says end < start).
    #[must_use]
    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }
}

impl<'a> SpanRecord<'a, RawFields<'a>> {
    /// Reads a `span` line (trimmed, without its newline), borrowing from it.
    ///
    /// A line in the layer's own layout (its key order, no whitespace, no escapes in
    /// names) is read by a scanner that does not look at each key; any other valid line,
    /// and every invalid one, goes to serde_json, which reads it or says what is wrong.
    ///
    /// ```
    /// use perf_layer::record::SpanRecord;
    ///
    /// let line = r#"{"type":"span","id":7,"parent":null,"name":"turn","target":"demo","start_ns":5,"end_ns":9,"busy_ns":4,"enters":1,"thread":"main","status":"ok","fields":{"tokens":12}}"#;
    /// let span = SpanRecord::from_line(line)?;
    /// assert_eq!((span.id, &*span.name, span.duration_ns()), (7, "turn", 4));
    /// assert_eq!(span.fields.map(|raw| raw.get()), Some(r#"{"tokens":12}"#));
    /// assert!(SpanRecord::from_line(r#"{"type":"span","id":7}"#).is_err());
    /// // Any key order reads the same; fields must be an object, and `{ }` is none.
    /// let other = r#"{"fields":{ },"id":7,"type":"span","name":"turn","target":"demo","start_ns":5,"end_ns":9,"busy_ns":4,"enters":1,"thread":"main","status":"ok"}"#;
    /// assert!(SpanRecord::from_line(other)?.fields.is_none());
    /// assert!(SpanRecord::from_line(&other.replace("{ }", "[1]")).is_err());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn from_line(line: &'a str) -> Result<Self, serde_json::Error> {
        let mut span: Self = match scan::span_line(line) {
            Some(span) => span,
            None => serde_json::from_str(line)?,
        };
        // Fields must be an object, and an empty one is none, whichever path read them.
        if let Some(raw) = span.fields.map(RawValue::get) {
            let Some(inner) = raw.strip_prefix('{').and_then(|r| r.strip_suffix('}')) else {
                return Err(serde::de::Error::custom("\"fields\" is not an object"));
            };
            if inner.trim().is_empty() {
                span.fields = None;
            }
        }
        Ok(span)
    }
}

/// How a span ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Closed normally.
    #[default]
    Ok,
    /// An ERROR-level event happened inside it (including `#[instrument(err)]`).
    Error,
    /// Still open when the session was flushed at shutdown.
    Open,
}

impl Status {
    /// The name used in the file: `ok`, `error` or `open`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Open => "open",
        }
    }
}

/// The last line of a segment, written by the flush guard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndRecord {
    /// When the guard flushed, in ns since the segment's start.
    pub end_ns: u64,
    /// Span lines written in this segment, open ones included.
    pub spans: u64,
    /// How many of those were still open.
    pub open: u64,
    /// Records lost (lossy mode or I/O errors).
    pub dropped: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_line_is_pinned() {
        let mut fields = Fields::new();
        fields.insert("prompt_chars".into(), 1547.into());
        let span = Record::Span(SpanRecord {
            id: 7,
            parent: Some(3),
            follows_from: vec![],
            name: "llm_generation".into(),
            target: "agent_demo::memory".into(),
            start_ns: 1_200_000,
            end_ns: 2_456_000_000,
            busy_ns: 2_455_000_000,
            idle_ns: None,
            enters: 1,
            thread: "main".into(),
            status: Status::Ok,
            fields,
        });
        assert_eq!(
            serde_json::to_string(&span).unwrap(),
            r#"{"type":"span","id":7,"parent":3,"name":"llm_generation","target":"agent_demo::memory","start_ns":1200000,"end_ns":2456000000,"busy_ns":2455000000,"enters":1,"thread":"main","status":"ok","fields":{"prompt_chars":1547}}"#
        );
    }

    #[test]
    fn session_and_end_lines_round_trip() {
        for line in [
            r#"{"type":"session","format":1,"session":"test_performance","started_at":"2026-11-24T10:00:00.123456Z","pid":4242,"program":"agent-demo"}"#,
            r#"{"type":"end","end_ns":8234000000,"spans":15,"open":0,"dropped":0}"#,
        ] {
            let record: Record = serde_json::from_str(line).unwrap();
            assert_eq!(serde_json::to_string(&record).unwrap(), line);
        }
    }

    #[test]
    fn readers_ignore_unknown_keys_and_default_optional_ones() {
        let line = r#"{"type":"span","id":1,"name":"a","target":"t","start_ns":0,"end_ns":1,"busy_ns":1,"enters":1,"thread":"main","status":"open","extra":true}"#;
        let Record::Span(span) = serde_json::from_str(line).unwrap() else {
            panic!("not a span")
        };
        assert_eq!(span.parent, None);
        assert!(span.fields.is_empty());
        assert_eq!(span.status, Status::Open);
    }
}
