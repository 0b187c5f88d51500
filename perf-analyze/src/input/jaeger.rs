//! The Jaeger JSON reader: what Jaeger's UI downloads and its query API returns,
//! `{"data":[{"traceID","spans":[...],"processes":{...}}]}`.
//!
//! The document is one JSON value, read as a stream: each trace's spans are held until
//! the trace ends (its `processes` usually come after them), then handed on, so memory is
//! bounded by the largest trace, not the document. A span maps to the analyzer's [`Span`]
//! as an OTLP one does (see [`otlp`](super::otlp)): `operationName` is the name, the
//! first `CHILD_OF` reference (or `parentSpanID`) the parent, `FOLLOWS_FROM` references
//! `follows_from`, `startTime` and `duration` are microseconds, the process's
//! `serviceName` is the thread column, tags are fields (an `int64` tag written as a string
//! becomes a number), an `error` tag that is true makes the span an error, and the
//! `busy_ns`, `idle_ns` and `target` tags are busy time, idle time and target.
//!
//! A malformed span is skipped with a warning naming the file, the line it ends on, its
//! trace and index (an error with `strict`). A document cut off is read up to the cut
//! with a warning; other broken JSON stops the reading with a warning (an error with
//! `strict`): what came before it is kept.
//!
//! ```
//! use perf_analyze::input::{read, Event};
//!
//! let doc = r#"{"data":[{"traceID":"a1","spans":[
//!   {"traceID":"a1","spanID":"02","operationName":"query","references":[{"refType":"CHILD_OF","traceID":"a1","spanID":"01"}],
//!    "startTime":1700000000100000,"duration":200000,"tags":[{"key":"rows","type":"int64","value":3}],"processID":"p1"},
//!   {"traceID":"a1","spanID":"01","operationName":"GET /","references":[],"startTime":1700000000000000,
//!    "duration":500000,"tags":[{"key":"error","type":"bool","value":true}],"processID":"p1"}],
//!   "processes":{"p1":{"serviceName":"api","tags":[]}}}]}"#;
//! let mut spans = Vec::new();
//! read(doc.as_bytes(), "trace.json", true, |event| {
//!     if let Event::Span(span) = event { spans.push(span) }
//! })?;
//! assert_eq!(spans.len(), 2);
//! assert_eq!(spans[0].parent, Some(spans[1].id));
//! assert_eq!(spans[0].duration_ns(), 200_000_000);
//! assert_eq!(&*spans[1].thread, "api");
//! assert_eq!(spans[1].status, perf_analyze::Status::Error);
//! # Ok::<(), perf_analyze::Error>(())
//! ```

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, Read};
use std::path::PathBuf;
use std::rc::Rc;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::otel::{emit_batch, hex_id, lenient_u64, raw_fields, span_key, Special};
use super::scan::{LoadSummary, Scanner};
use super::span::{Event, SourceFormat, Span, Status};
use crate::warning::WarningKind;
use crate::Error;

/// Reads a Jaeger JSON document, calling `emit` for every event (see the [module docs](self)).
pub fn read<R: BufRead>(
    input: R,
    source: &str,
    strict: bool,
    mut emit: impl FnMut(Event),
) -> Result<LoadSummary, Error> {
    let newlines = Rc::new(Cell::new(0));
    let counting = Counting {
        inner: input,
        newlines: newlines.clone(),
    };
    let mut state = State {
        s: Scanner::new(source),
        strict,
        error: None,
        emit: &mut emit,
        newlines,
        traces: 0,
        spans: Vec::new(),
        services: HashMap::new(),
    };
    let mut de = serde_json::Deserializer::from_reader(counting);
    let result = Document(&mut state)
        .deserialize(&mut de)
        .and_then(|()| de.end());
    if let Some(error) = state.error.take() {
        return Err(error);
    }
    if let Err(error) = result {
        // What was read of the trace being read is kept.
        state.flush_trace();
        state.document_error(error)?;
    }
    let lines = state.line();
    state.s.close_segment(None, &mut state.emit);
    Ok(LoadSummary {
        lines,
        format: Some(SourceFormat::Jaeger),
        warnings: std::mem::take(&mut state.s.warnings),
    })
}

/// Counts the newlines read through it, for positions in messages.
struct Counting<R> {
    inner: R,
    newlines: Rc<Cell<u64>>,
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // serde_json reads a byte at a time: take it straight from the buffer.
        if let ([byte], Some(&next)) = (&mut *buf, self.inner.fill_buf()?.first()) {
            *byte = next;
            self.inner.consume(1);
            if next == b'\n' {
                self.newlines.set(self.newlines.get() + 1);
            }
            return Ok(1);
        }
        let n = self.inner.read(buf)?;
        let lines = memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        self.newlines.set(self.newlines.get() + lines);
        Ok(n)
    }
}

struct State<'e> {
    /// Segments, interning and warnings, shared with the line formats.
    s: Scanner,
    strict: bool,
    /// The first malformed span when `strict`.
    error: Option<Error>,
    emit: &'e mut dyn FnMut(Event),
    newlines: Rc<Cell<u64>>,
    traces: u64,
    /// The spans of the trace being read, with their `processID` or inline process's service.
    spans: Vec<(Span, Option<String>, Option<String>)>,
    /// The trace's `processes`: id -> service name.
    services: HashMap<String, String>,
}

impl State<'_> {
    /// The 1-based line being read.
    fn line(&self) -> u64 {
        self.newlines.get() + 1
    }

    /// Hands on the spans of the trace just read, with their services.
    fn flush_trace(&mut self) {
        if self.spans.is_empty() {
            self.services.clear();
            return;
        }
        let mut program = None;
        let spans = std::mem::take(&mut self.spans)
            .into_iter()
            .map(|(mut span, process, inline)| {
                let service = inline
                    .or_else(|| process.and_then(|p| self.services.get(&p).cloned()))
                    .unwrap_or_else(|| "unknown_service".to_owned());
                span.thread = self.s.intern(&service);
                program.get_or_insert(service);
                span
            })
            .collect();
        self.services.clear();
        self.s.line = self.line();
        let format = SourceFormat::Jaeger;
        emit_batch(
            &mut self.s,
            spans,
            format,
            program.as_deref(),
            None,
            &mut self.emit,
        );
    }

    /// A malformed part at `line`: a warning, or with `strict` an error.
    fn malformed(&mut self, line: u64, reason: String) -> Result<(), Error> {
        if self.strict {
            return Err(Error::Malformed {
                path: PathBuf::from(&*self.s.source),
                line,
                reason,
            });
        }
        self.s.line = line;
        self.s
            .warn(WarningKind::Malformed, format!("skipped: {reason}"));
        Ok(())
    }

    /// A malformed span or process list, read past: a warning, or with `strict` the
    /// error [`read`] returns.
    fn malformed_span(&mut self, reason: String) {
        let line = self.line();
        if let Err(error) = self.malformed(line, reason) {
            self.error.get_or_insert(error);
        }
    }

    fn document_error(&mut self, error: serde_json::Error) -> Result<(), Error> {
        let at = format!("line {} column {}", error.line(), error.column());
        match error.classify() {
            serde_json::error::Category::Io => Err(Error::Io {
                path: PathBuf::from(&*self.s.source),
                source: error.into(),
            }),
            serde_json::error::Category::Eof => {
                self.s.line = error.line() as u64;
                self.s.warn(
                    WarningKind::TruncatedLastLine,
                    format!("the document ends early (still being written, or cut off) at {at}: what came before is read"),
                );
                Ok(())
            }
            _ => {
                let reason =
                    format!("not a Jaeger JSON document at {at}: {error}; reading stopped there");
                self.malformed(error.line() as u64, reason)
            }
        }
    }

    fn span(&mut self, raw: &RawValue, index: u64) {
        self.s.line = self.line();
        match to_span(raw.get(), &mut self.s) {
            Ok(span) => self.spans.push(span),
            Err(reason) => {
                let reason = format!("trace {} span {index}: {reason}", self.traces);
                self.malformed_span(reason);
            }
        }
    }
}

/// The whole document: only `data` is read.
struct Document<'s, 'e>(&'s mut State<'e>);

impl<'de> DeserializeSeed<'de> for Document<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Document<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"a Jaeger JSON object {"data":[...]}"#)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "data" {
                map.next_value_seed(Traces(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// `data`: the traces (`null` is none).
struct Traces<'s, 'e>(&'s mut State<'e>);

impl<'de> DeserializeSeed<'de> for Traces<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Traces<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of traces")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Trace(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// One trace: its spans, held until its processes are known.
struct Trace<'s, 'e>(&'s mut State<'e>);

impl<'de> DeserializeSeed<'de> for Trace<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Trace<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a trace object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.0;
        state.traces += 1;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                "spans" => map.next_value_seed(Spans(&mut *state))?,
                "processes" => {
                    let raw: Box<RawValue> = map.next_value()?;
                    match serde_json::from_str::<HashMap<String, Process>>(raw.get()) {
                        Ok(processes) => state
                            .services
                            .extend(processes.into_iter().map(|(id, p)| (id, p.service_name))),
                        Err(e) => {
                            let trace = state.traces;
                            let reason = format!(
                                "trace {trace}: processes: {e}: its spans' services are unknown"
                            );
                            state.malformed_span(reason);
                        }
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        state.flush_trace();
        Ok(())
    }
}

/// A trace's `spans`, each kept as its raw text only until it is converted.
struct Spans<'s, 'e>(&'s mut State<'e>);

impl<'de> DeserializeSeed<'de> for Spans<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Spans<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of spans")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
            self.0.span(&raw, index);
            index += 1;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct Process {
    #[serde(rename = "serviceName", default)]
    service_name: String,
}

#[derive(Deserialize)]
struct JaegerSpan<'a> {
    #[serde(rename = "traceID", borrow, default)]
    trace_id: Cow<'a, str>,
    #[serde(rename = "spanID", borrow)]
    span_id: Cow<'a, str>,
    #[serde(rename = "parentSpanID", borrow, default)]
    parent_span_id: Cow<'a, str>,
    #[serde(rename = "operationName", borrow)]
    operation_name: Cow<'a, str>,
    #[serde(borrow, default)]
    references: Vec<Reference<'a>>,
    #[serde(rename = "startTime", deserialize_with = "lenient_u64")]
    start_time: u64,
    #[serde(deserialize_with = "lenient_u64")]
    duration: u64,
    #[serde(borrow, default)]
    tags: Vec<Tag<'a>>,
    #[serde(rename = "processID", borrow, default)]
    process_id: Option<Cow<'a, str>>,
    #[serde(default)]
    process: Option<Process>,
}

#[derive(Deserialize)]
struct Reference<'a> {
    #[serde(rename = "refType", borrow, default)]
    ref_type: Cow<'a, str>,
    #[serde(rename = "traceID", borrow, default)]
    trace_id: Cow<'a, str>,
    #[serde(rename = "spanID", borrow)]
    span_id: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Tag<'a> {
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(rename = "type", borrow, default)]
    kind: Cow<'a, str>,
    #[serde(default)]
    value: Value,
}

type Pending = (Span, Option<String>, Option<String>);

fn to_span(raw: &str, s: &mut Scanner) -> Result<Pending, String> {
    let span: JaegerSpan<'_> = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    let trace = hex_id(&span.trace_id)?;
    let id = hex_id(&span.span_id)?.ok_or("empty spanID")?;
    let mut parent = hex_id(&span.parent_span_id)?.map(|p| span_key(trace, p));
    let mut follows_from = Vec::new();
    for reference in &span.references {
        let Some(to) = hex_id(&reference.span_id)? else {
            continue;
        };
        let key = span_key(hex_id(&reference.trace_id)?.or(trace), to);
        match &*reference.ref_type {
            "FOLLOWS_FROM" => follows_from.push(key),
            "CHILD_OF" | "" => {
                parent.get_or_insert(key);
            }
            other => {
                return Err(format!(
                    "refType {other:?} is neither CHILD_OF nor FOLLOWS_FROM"
                ))
            }
        }
    }
    let mut special = Special::default();
    let mut fields = Map::new();
    for tag in &span.tags {
        let value = tag_value(tag).map_err(|e| format!("tag {:?}: {e}", tag.key))?;
        special.take(&tag.key, value, &mut fields);
    }
    let micros = |us: u64, what: &str| {
        us.checked_mul(1_000)
            .ok_or_else(|| format!("{what} {us} µs is out of range"))
    };
    let start_ns = micros(span.start_time, "startTime")?;
    let duration_ns = micros(span.duration, "duration")?;
    let end_ns = start_ns
        .checked_add(duration_ns)
        .ok_or("startTime + duration is out of range")?;
    let span_out = Span {
        segment: 0,
        id: span_key(trace, id),
        parent,
        follows_from,
        name: s.intern(&span.operation_name),
        target: s.intern(special.target.as_deref().unwrap_or("")),
        start_ns,
        end_ns,
        busy_ns: special.busy_ns.unwrap_or(duration_ns).min(duration_ns),
        idle_ns: special.idle_ns,
        enters: 1,
        thread: s.intern(""),
        status: if special.error {
            Status::Error
        } else {
            Status::Ok
        },
        raw_fields: raw_fields(&fields),
        line: s.line,
    };
    Ok((
        span_out,
        span.process_id.map(Cow::into_owned),
        span.process.map(|p| p.service_name),
    ))
}

/// A tag's value as JSON: numbers written as strings become numbers.
fn tag_value(tag: &Tag<'_>) -> Result<Value, String> {
    Ok(match (&*tag.kind, &tag.value) {
        ("int64", Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("{s:?} is not an int64"))?
            .into(),
        ("float64", Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
            .unwrap_or_else(|| Value::String(s.clone())),
        ("bool", Value::String(s)) => match s.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(format!("{s:?} is not a bool")),
        },
        (_, value) => value.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warning::WarningKind;
    use crate::Error;

    fn read_str(data: &str, strict: bool) -> Result<(Vec<Span>, crate::input::LoadSummary), Error> {
        super::super::otel::read_spans(data, "trace.json", strict)
    }

    fn span(id: &str, refs: &str, start: u64, extra: &str) -> String {
        format!(
            r#"{{"traceID":"a1","spanID":"{id}","operationName":"op{id}","references":[{refs}],"startTime":{start},"duration":"10","processID":"p1","logs":[]{extra}}}"#
        )
    }

    #[test]
    fn follows_from_inline_processes_and_string_numbers() {
        let doc = format!(
            r#"{{"total":0,"data":[{{"traceID":"a1","processes":{{"p1":{{"serviceName":"api"}}}},"spans":[{},{}],"warnings":null}}],"errors":null}}"#,
            span(
                "01",
                "",
                5,
                r#","tags":[{"key":"n","type":"int64","value":"7"},{"key":"error","type":"string","value":"true"}]"#
            ),
            span(
                "02",
                r#"{"refType":"FOLLOWS_FROM","traceID":"a1","spanID":"01"}"#,
                20,
                r#","process":{"serviceName":"worker"}"#
            ),
        );
        let (spans, summary) = read_str(&doc, true).unwrap();
        assert!(summary.warnings.list().is_empty(), "{:?}", summary.warnings);
        let (first, second) = (&spans[0], &spans[1]);
        assert_eq!(first.fields()["n"], 7);
        assert_eq!(first.status, Status::Error);
        assert_eq!(&*first.thread, "api");
        assert_eq!(second.follows_from, vec![first.id]);
        assert_eq!(second.parent, None);
        assert_eq!(&*second.thread, "worker");
        assert_eq!((second.start_ns, second.end_ns), (20_000, 30_000));
    }

    #[test]
    fn a_malformed_span_is_skipped_with_its_line_and_trace() {
        let doc = format!(
            "{{\"data\":[{{\"spans\":[\n{},\n{}\n]}}]}}",
            span("01", "", 5, ""),
            span("02", "", 5, "").replace(r#""startTime":5"#, r#""startTime":"soon""#)
        );
        let (spans, summary) = read_str(&doc, false).unwrap();
        assert_eq!(spans.len(), 1);
        let warning = summary.warnings.list()[0].to_string();
        assert!(
            warning.starts_with(
                "trace.json:3: skipped: trace 1 span 1: \"soon\" is not an unsigned integer"
            ),
            "{warning}"
        );
        match read_str(&doc, true) {
            Err(Error::Malformed { line: 3, .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cut_off_document_keeps_what_came_before() {
        let doc = format!(
            r#"{{"data":[{{"spans":[{}]}},{{"spans":[{},"#,
            span("01", "", 5, ""),
            span("02", "", 5, "")
        );
        let (spans, summary) = read_str(&doc, true).unwrap();
        assert_eq!(spans.len(), 2);
        assert!(summary.warnings.has(WarningKind::TruncatedLastLine));
        let broken = doc.replace("[{\"traceID", "[{\"traceID\" oops");
        let (spans, summary) = read_str(&broken, false).unwrap();
        assert!(spans.is_empty());
        assert!(
            summary.warnings.has(WarningKind::Malformed),
            "{:?}",
            summary.warnings
        );
        assert!(matches!(
            read_str(&broken, true),
            Err(Error::Malformed { .. })
        ));
    }
}
