//! What the OpenTelemetry readers ([`otlp`](super::otlp), [`jaeger`](super::jaeger)) share:
//! telling their files apart from ours, ids, attribute values, the segment they open and the
//! order their spans are handed on in.
//!
//! Their times are absolute (Unix epoch nanoseconds), so one file is one timeline: one
//! segment whose `origin_ns` is the earliest start in the first batch read (an OTLP line,
//! a Jaeger trace). That origin is known without reading ahead, so the readers stream; a
//! span further on that started earlier is still placed right, as every consumer takes the
//! earliest of the segment's origin and its spans' starts.

use std::path::PathBuf;
use std::sync::Arc;

use rustc_hash::FxHashSet as HashSet;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::span::Event;
use super::span::{Segment, SegmentEnd, SourceFormat, Span};
use crate::warning::{Warning, WarningKind, Warnings};
use crate::Error;

/// The format of a file starting with `prefix`, if it is an OpenTelemetry one: told by the
/// first key of its first object (`resourceSpans` for OTLP JSON; Jaeger's `data`, `total`,
/// `limit`, `offset` or `errors`).
pub(crate) fn detect(prefix: &[u8]) -> Option<SourceFormat> {
    let rest = prefix
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(prefix);
    let rest = rest.trim_ascii_start().strip_prefix(b"{")?;
    let rest = rest.trim_ascii_start().strip_prefix(b"\"")?;
    let key = &rest[..memchr::memchr(b'"', rest)?];
    match key {
        b"resourceSpans" => Some(SourceFormat::Otlp),
        b"data" | b"total" | b"limit" | b"offset" | b"errors" => Some(SourceFormat::Jaeger),
        _ => None,
    }
}

/// A 64-bit integer written as a JSON number or a decimal string (both are valid OTLP JSON).
pub(crate) fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int<'a> {
        Number(u64),
        #[serde(borrow)]
        Text(std::borrow::Cow<'a, str>),
    }
    match Int::deserialize(d)? {
        Int::Number(n) => Ok(n),
        Int::Text(text) => text
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not an unsigned integer"))),
    }
}

/// A span or trace id in hex as a 64-bit key (a 128-bit trace id folded), `None` if empty.
pub(crate) fn hex_id(text: &str) -> Result<Option<u64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let bad = || format!("id {text:?} is not 1 to 32 hex digits");
    if text.len() > 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let value = u128::from_str_radix(text, 16).map_err(|_| bad())?;
    Ok(Some((value >> 64) as u64 ^ value as u64))
}

/// A span's key in the analyzer: its span id mixed with its trace id, so that spans of
/// different traces that reuse span ids stay apart (and the same pair always meets).
pub(crate) fn span_key(trace: Option<u64>, span: u64) -> u64 {
    span ^ trace.unwrap_or(0).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Interns the names, targets and services of spans (up to [`Names::LIMIT`] distinct ones).
#[derive(Default)]
pub(crate) struct Names(HashSet<Arc<str>>);

impl Names {
    /// Above this many distinct strings, new ones are no longer interned.
    const LIMIT: usize = 100_000;

    pub(crate) fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(found) = self.0.get(s) {
            return found.clone();
        }
        let arc: Arc<str> = s.into();
        if self.0.len() < Self::LIMIT {
            self.0.insert(arc.clone());
        }
        arc
    }
}

/// What attributes or tags say besides plain fields.
#[derive(Debug, Default)]
pub(crate) struct Special {
    /// `busy_ns` (tracing-opentelemetry's time entered).
    pub busy_ns: Option<u64>,
    /// `idle_ns`.
    pub idle_ns: Option<u64>,
    /// `target` (tracing-opentelemetry's module path).
    pub target: Option<String>,
    /// An `error` tag that is true, or `otel.status_code` `ERROR`.
    pub error: bool,
}

impl Special {
    /// Takes `key` if it is special; otherwise inserts it into `fields`.
    pub(crate) fn take(&mut self, key: &str, value: Value, fields: &mut Map<String, Value>) {
        match (key, &value) {
            ("busy_ns", v) if v.as_u64().is_some() => self.busy_ns = v.as_u64(),
            ("idle_ns", v) if v.as_u64().is_some() => self.idle_ns = v.as_u64(),
            ("target", Value::String(s)) => self.target = Some(s.clone()),
            ("error", Value::Bool(b)) => self.error |= *b,
            ("error", Value::String(s)) => self.error |= s == "true",
            ("otel.status_code", Value::String(s)) => {
                self.error |= s.eq_ignore_ascii_case("error");
                fields.insert(key.to_owned(), value);
            }
            _ => {
                fields.insert(key.to_owned(), value);
            }
        }
    }
}

/// The raw JSON text of fields (`None` when empty), as [`Span::raw_fields`] holds them.
pub(crate) fn raw_fields(fields: &Map<String, Value>) -> Option<Box<str>> {
    if fields.is_empty() {
        return None;
    }
    serde_json::to_string(fields)
        .ok()
        .map(String::into_boxed_str)
}

/// A source file's name for messages, and the session name taken from it (its stem).
pub(crate) fn session_name(source: &str) -> String {
    std::path::Path::new(source)
        .file_stem()
        .map(|s| s.to_string_lossy().trim_matches(['<', '>']).to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "otel".to_owned())
}

/// The state both readers keep: the one segment, names, warnings, and `strict`.
pub(crate) struct Sink<'e> {
    pub source: Arc<str>,
    pub strict: bool,
    pub format: SourceFormat,
    pub names: Names,
    pub warnings: Warnings,
    pub spans: u64,
    segment_open: bool,
    /// The first malformed span when `strict`, until [`Sink::take_error`].
    error: Option<Error>,
    emit: &'e mut dyn FnMut(Event),
}

impl<'e> Sink<'e> {
    pub(crate) fn new(
        source: &str,
        strict: bool,
        format: SourceFormat,
        emit: &'e mut dyn FnMut(Event),
    ) -> Sink<'e> {
        Sink {
            source: source.into(),
            strict,
            format,
            names: Names::default(),
            warnings: Warnings::default(),
            spans: 0,
            segment_open: false,
            error: None,
            emit,
        }
    }

    /// A malformed part at `line`: a warning, or with `strict` an error.
    pub(crate) fn malformed(&mut self, line: u64, reason: String) -> Result<(), Error> {
        if self.strict {
            return Err(Error::Malformed {
                path: PathBuf::from(&*self.source),
                line,
                reason,
            });
        }
        self.warn(line, WarningKind::Malformed, format!("skipped: {reason}"));
        Ok(())
    }

    /// A malformed span at `line`, read past: a warning, or with `strict` the error
    /// [`Sink::take_error`] returns.
    pub(crate) fn malformed_span(&mut self, line: u64, reason: String) {
        if let Err(error) = self.malformed(line, reason) {
            self.error.get_or_insert(error);
        }
    }

    /// The error of the first malformed span, when `strict`.
    pub(crate) fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    pub(crate) fn warn(&mut self, line: u64, kind: WarningKind, message: String) {
        self.warnings.push(Warning {
            source: self.source.clone(),
            line: Some(line),
            kind,
            message,
        });
    }

    pub(crate) fn io_error(&self, source: std::io::Error) -> Error {
        Error::Io {
            path: PathBuf::from(&*self.source),
            source,
        }
    }

    /// Hands on one batch of spans, children before their parents (the order the tree
    /// builder needs), opening the segment first if this is the first batch.
    /// `program` and `pid` describe the producer, for the segment.
    pub(crate) fn batch(
        &mut self,
        spans: Vec<Span>,
        program: Option<&str>,
        pid: Option<u32>,
        line: u64,
    ) {
        if spans.is_empty() {
            return;
        }
        if !self.segment_open {
            self.segment_open = true;
            let origin_ns = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
            let started_at = i64::try_from(origin_ns)
                .ok()
                .map(chrono::DateTime::from_timestamp_nanos)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
            (self.emit)(Event::Segment(Segment {
                index: 0,
                session: session_name(&self.source),
                started_at,
                origin_ns,
                pid,
                program: program.map(str::to_owned),
                format: self.format,
                line,
            }));
        }
        let spans = children_first(spans);
        self.spans += spans.len() as u64;
        for span in spans {
            (self.emit)(Event::Span(span));
        }
    }

    /// Ends the segment, if one was opened.
    pub(crate) fn finish(&mut self) {
        if self.segment_open {
            self.segment_open = false;
            (self.emit)(Event::SegmentEnd(SegmentEnd {
                index: 0,
                end: None,
                end_ns: None,
            }));
        }
    }
}

/// Orders a batch so that every span comes after its descendants in the batch (deepest
/// first, then by end): files from SDKs and the Collector hold spans in any order within a
/// batch, and the tree builder wants a span's children before the span.
fn children_first(spans: Vec<Span>) -> Vec<Span> {
    let index: rustc_hash::FxHashMap<u64, usize> =
        spans.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
    let mut depth = vec![u32::MAX; spans.len()];
    let mut chain = Vec::new();
    for start in 0..spans.len() {
        // Walk up to a span of known depth (or out of the batch), then fill in on the way back;
        // a parent cycle stops the walk when it comes back to a span on the chain.
        let mut at = start;
        let mut base = 0;
        while depth[at] == u32::MAX {
            depth[at] = u32::MAX - 1; // on the chain
            chain.push(at);
            match spans[at].parent.and_then(|p| index.get(&p)) {
                Some(&parent) if depth[parent] == u32::MAX - 1 => break,
                Some(&parent) if depth[parent] != u32::MAX => {
                    base = depth[parent] + 1;
                    break;
                }
                Some(&parent) => at = parent,
                None => break,
            }
        }
        while let Some(i) = chain.pop() {
            depth[i] = base;
            base += 1;
        }
    }
    let mut keyed: Vec<(u32, u64, usize)> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (depth[i], s.end_ns, i))
        .collect();
    keyed.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut taken: Vec<Option<Span>> = spans.into_iter().map(Some).collect();
    keyed
        .into_iter()
        .filter_map(|(_, _, i)| taken[i].take())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_the_first_key() {
        assert_eq!(
            detect(b"\xEF\xBB\xBF {\"resourceSpans\":[]}"),
            Some(SourceFormat::Otlp)
        );
        assert_eq!(detect(b"{\n  \"data\": ["), Some(SourceFormat::Jaeger));
        assert_eq!(detect(br#"{"type":"session"}"#), None);
        assert_eq!(detect(br#"{"operation_name":"x"}"#), None);
        assert_eq!(detect(b"{\"resourceSp"), None);
        assert_eq!(detect(b""), None);
    }

    #[test]
    fn hex_ids() {
        assert_eq!(hex_id("00000000000000ff"), Ok(Some(255)));
        assert_eq!(hex_id(""), Ok(None));
        assert_eq!(hex_id("0000000000000001000000000000000f"), Ok(Some(1 ^ 15)));
        assert!(hex_id("xyz").is_err());
        assert!(hex_id(&"f".repeat(33)).is_err());
    }

    fn span(id: u64, parent: Option<u64>, end: u64) -> Span {
        let mut s = Span::example("s", 0, end);
        s.id = id;
        s.parent = parent;
        s
    }

    #[test]
    fn children_come_before_parents_and_cycles_end() {
        // 1 <- 2 <- 3 given parent first; 4 is outside the batch's reach; 5 <-> 6 a cycle.
        let spans = vec![
            span(1, None, 10),
            span(2, Some(1), 10),
            span(3, Some(2), 10),
            span(4, Some(99), 5),
            span(5, Some(6), 1),
            span(6, Some(5), 1),
        ];
        let spans = children_first(spans);
        let ids: Vec<u64> = spans.iter().map(|s| s.id).collect();
        let pos = |id| ids.iter().position(|&i| i == id).unwrap();
        assert!(pos(3) < pos(2) && pos(2) < pos(1), "{ids:?}");
        assert_eq!(ids.len(), 6);
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![1, 2, 3, 4, 5, 6]);
    }
}
