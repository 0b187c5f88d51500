//! What the OpenTelemetry readers ([`otlp`](super::otlp), [`jaeger`](super::jaeger)) share:
//! telling their files apart from ours, ids, attribute values, the segment they open and the
//! order their spans are handed on in.
//!
//! Their times are absolute (Unix epoch nanoseconds), so one file is one timeline: one
//! segment whose `origin_ns` is the earliest start in the first batch read (an OTLP line,
//! a Jaeger trace). That origin is known without reading ahead, so the readers stream; a
//! span further on that started earlier is still placed right, as every consumer takes the
//! earliest of the segment's origin and its spans' starts.

use perf_layer::record::DATA_FILE;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::scan::Scanner;
use super::span::{Event, Segment, SourceFormat, Span};

/// True if a file starting with `prefix` is a Jaeger JSON document: the first key of its
/// first object is one of Jaeger's `data`, `total`, `limit`, `offset` or `errors`.
/// (OTLP JSON lines are told apart line by line, by their `resourceSpans` key.)
pub(super) fn is_jaeger(prefix: &[u8]) -> bool {
    let rest = prefix
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(prefix);
    let Some(rest) = rest.trim_ascii_start().strip_prefix(b"{") else {
        return false;
    };
    let Some(rest) = rest.trim_ascii_start().strip_prefix(b"\"") else {
        return false;
    };
    let key = memchr::memchr(b'"', rest).map(|end| &rest[..end]);
    matches!(
        key,
        Some(b"data" | b"total" | b"limit" | b"offset" | b"errors")
    )
}

/// A 64-bit integer written as a JSON number or a decimal string (both are valid OTLP JSON).
pub(super) fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
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
pub(super) fn hex_id(text: &str) -> Result<Option<u64>, String> {
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
pub(super) fn span_key(trace: Option<u64>, span: u64) -> u64 {
    span ^ trace.unwrap_or(0).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// What attributes or tags say besides plain fields.
#[derive(Debug, Default)]
pub(super) struct Special {
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
pub(super) fn raw_fields(fields: &Map<String, Value>) -> Option<Box<str>> {
    if fields.is_empty() {
        return None;
    }
    serde_json::to_string(fields)
        .ok()
        .map(String::into_boxed_str)
}

/// Hands on one batch of spans, children before their parents (the order the tree
/// builder needs), opening the file's one segment first if this is the first batch:
/// its origin is the batch's earliest start, and `program` and `pid` describe the producer.
pub(super) fn emit_batch(
    s: &mut Scanner,
    spans: Vec<Span>,
    format: SourceFormat,
    program: Option<&str>,
    pid: Option<u32>,
    emit: &mut impl FnMut(Event),
) {
    if spans.is_empty() {
        return;
    }
    if s.segment.is_none() {
        let origin_ns = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
        let started_at = i64::try_from(origin_ns)
            .ok()
            .map(chrono::DateTime::from_timestamp_nanos)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
        let segment = Segment {
            index: s.segments,
            session: session_name(s),
            started_at,
            origin_ns,
            pid,
            program: program.map(str::to_owned),
            format,
            line: s.line,
        };
        s.open_segment(segment, emit);
    }
    let index = s.segment.as_ref().map_or(0, |open| open.index);
    for mut span in children_first(spans) {
        span.segment = index;
        s.last_end_ns = s.last_end_ns.max(span.end_ns);
        emit(Event::Span(span));
    }
}

/// The session name of a file that names none: its stem (a Collector's file is named by
/// whoever configured it), or its directory for a file in a session directory.
fn session_name(s: &Scanner) -> String {
    let path = std::path::Path::new(&*s.source);
    match path.file_stem() {
        Some(stem) if path.file_name() != Some(DATA_FILE.as_ref()) => {
            stem.to_string_lossy().into_owned()
        }
        _ => s.default_session(),
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

/// Reads `data` (named `source`) with the whole scanner, keeping its spans: for the
/// readers' tests.
#[cfg(test)]
pub(super) fn read_spans(
    data: &str,
    source: &str,
    strict: bool,
) -> Result<(Vec<Span>, super::LoadSummary), crate::Error> {
    let mut spans = Vec::new();
    let summary = super::read(data.as_bytes(), source, strict, |event| {
        if let Event::Span(span) = event {
            spans.push(span);
        }
    })?;
    Ok((spans, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaeger_is_told_by_the_first_key() {
        assert!(is_jaeger(b"\xEF\xBB\xBF {\n  \"data\": ["));
        assert!(is_jaeger(br#"{"total":0,"data":[]}"#));
        assert!(!is_jaeger(br#"{"resourceSpans":[]}"#));
        assert!(!is_jaeger(br#"{"type":"session"}"#));
        assert!(!is_jaeger(b"{\"dat"));
        assert!(!is_jaeger(b""));
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
