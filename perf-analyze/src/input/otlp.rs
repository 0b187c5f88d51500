//! The OTLP JSON reader: files of the OpenTelemetry Collector's `file` exporter and the
//! SDKs' OTLP JSON file exporters, one `TracesData` (or `ExportTraceServiceRequest`)
//! object per line: `resourceSpans[].scopeSpans[].spans[]`.
//!
//! The JSON encoding's rules are followed: ids are hex strings, 64-bit integers decimal
//! strings or numbers, `kind` and `status.code` integers (or their enum names), unknown
//! keys are ignored. A span maps to the analyzer's [`Span`] so:
//! - its resource's `service.name` is the thread column, and the first one the segment's
//!   program; the `target` attribute (as tracing-opentelemetry writes it), else the
//!   scope's name, is the target;
//! - `parentSpanId` is the parent, links are `follows_from`;
//! - `status.code` 2 (or an `otel.status_code` of `ERROR`) is an error;
//! - the `busy_ns` and `idle_ns` attributes (tracing-opentelemetry's) are busy and idle
//!   time, without them the whole duration is busy;
//! - other attributes are fields, numbers staying numbers, so `gen_ai.*` attributes feed
//!   the LLM analysis; a kind other than internal is the field `otel.kind`, an error's
//!   message `otel.status_description`.
//!
//! A line is a record of the scanner, told by its `resourceSpans` key, and read whole
//! (as for format 1, memory is bounded by the longest line and the open work). Its spans
//! are handed on together, children first. A line with malformed spans gives its other
//! spans and one warning naming the file, the line and the first malformed span (an
//! error with `strict`); a malformed line is skipped as in every format. Spans are
//! expected in the order producers write them: a span in a line after its parent's line
//! is read as a tree of its own (SDKs and the Collector write a batch when its spans end,
//! so children come in the same line as their parents or before).
//!
//! Times are absolute (Unix epoch nanoseconds), so a file is one timeline: one segment
//! whose origin is the earliest start in the first line, known without reading ahead so
//! the reader streams; a later span that started earlier is still placed right, as every
//! consumer takes the earliest of the segment's origin and its spans' starts.
//!
//! ```
//! use perf_analyze::input::{read, Event};
//!
//! let line = concat!(
//!     r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},"#,
//!     r#""scopeSpans":[{"scope":{"name":"app"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","#,
//!     r#""spanId":"eee19b7ec3c1b174","name":"GET /","kind":2,"startTimeUnixNano":"1700000000000000000","#,
//!     r#""endTimeUnixNano":1700000000250000000,"status":{"code":2}}]}]}]}"#,
//! );
//! let mut spans = Vec::new();
//! let summary = read(format!("{line}\n").as_bytes(), "traces.jsonl", true, |event| {
//!     if let Event::Span(span) = event { spans.push(span) }
//! })?;
//! assert_eq!(summary.format, Some(perf_analyze::SourceFormat::Otlp));
//! assert_eq!(spans[0].duration_ns(), 250_000_000);
//! assert_eq!(&*spans[0].thread, "api");
//! assert_eq!(spans[0].status, perf_analyze::Status::Error);
//! # Ok::<(), perf_analyze::Error>(())
//! ```

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use std::sync::Arc;

use super::otel::{emit_batch, hex_id, lenient_u64, raw_fields, span_key, Special};
use super::scan::{LineError, Scanner};
use super::span::{Event, SourceFormat, Span, Status};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TracesData<'a> {
    #[serde(borrow, default)]
    resource_spans: Vec<ResourceSpans<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceSpans<'a> {
    #[serde(borrow, default)]
    resource: Option<Resource<'a>>,
    #[serde(borrow, default)]
    scope_spans: Vec<ScopeSpans<'a>>,
}

#[derive(Deserialize)]
struct Resource<'a> {
    #[serde(borrow, default)]
    attributes: Vec<KeyValue<'a>>,
}

#[derive(Deserialize)]
struct ScopeSpans<'a> {
    #[serde(borrow, default)]
    scope: Option<Scope<'a>>,
    /// Each span is parsed on its own, so a malformed one is skipped alone.
    #[serde(borrow, default)]
    spans: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Scope<'a> {
    #[serde(borrow, default)]
    name: Cow<'a, str>,
}

#[derive(Deserialize)]
struct KeyValue<'a> {
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(default)]
    value: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OtlpSpan<'a> {
    #[serde(borrow, default)]
    trace_id: Cow<'a, str>,
    #[serde(borrow)]
    span_id: Cow<'a, str>,
    #[serde(borrow, default)]
    parent_span_id: Cow<'a, str>,
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default)]
    kind: Value,
    #[serde(deserialize_with = "lenient_u64")]
    start_time_unix_nano: u64,
    #[serde(deserialize_with = "lenient_u64")]
    end_time_unix_nano: u64,
    #[serde(borrow, default)]
    attributes: Vec<KeyValue<'a>>,
    #[serde(borrow, default)]
    links: Vec<Link<'a>>,
    #[serde(borrow, default)]
    status: Option<OtlpStatus<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Link<'a> {
    #[serde(borrow, default)]
    trace_id: Cow<'a, str>,
    #[serde(borrow, default)]
    span_id: Cow<'a, str>,
}

#[derive(Deserialize)]
struct OtlpStatus<'a> {
    #[serde(default)]
    code: Value,
    #[serde(borrow, default)]
    message: Cow<'a, str>,
}

/// Reads one OTLP JSON line (see the [module docs](self)). Its spans are handed on
/// together, children first; malformed spans are left out, and the line then reported
/// as malformed (a warning naming the first of them, an error with `strict`).
pub(super) fn line(
    s: &mut Scanner,
    line: &str,
    emit: &mut impl FnMut(Event),
) -> Result<(), LineError> {
    let data: TracesData<'_> = serde_json::from_str(line)?;
    let mut batch = Vec::new();
    let mut program = None;
    let mut pid = None;
    let (mut first_bad, mut bad) = (None, 0);
    for (r, resource) in data.resource_spans.iter().enumerate() {
        let mut service = None;
        for attribute in resource.resource.iter().flat_map(|r| &r.attributes) {
            match (&*attribute.key, any_value(&attribute.value)) {
                ("service.name", Ok(Value::String(name))) => service = Some(name),
                ("process.pid", Ok(v)) if pid.is_none() => {
                    pid = v.as_u64().and_then(|p| u32::try_from(p).ok());
                }
                _ => {}
            }
        }
        let thread = s.intern(service.as_deref().unwrap_or("unknown_service"));
        program = program.or(service);
        for (c, scope) in resource.scope_spans.iter().enumerate() {
            let scope_name = scope.scope.as_ref().map_or("", |scope| &*scope.name);
            for (i, raw) in scope.spans.iter().enumerate() {
                match to_span(raw.get(), scope_name, &thread, s) {
                    Ok(span) => batch.push(span),
                    Err(reason) => {
                        bad += 1;
                        first_bad.get_or_insert_with(|| {
                            format!("span resourceSpans[{r}].scopeSpans[{c}].spans[{i}]: {reason}")
                        });
                    }
                }
            }
        }
    }
    emit_batch(s, batch, SourceFormat::Otlp, program.as_deref(), pid, emit);
    match first_bad {
        None => Ok(()),
        Some(first) if bad == 1 => Err(LineError::Malformed(first)),
        Some(first) => Err(LineError::Malformed(format!(
            "{first}; and {} more malformed spans",
            bad - 1
        ))),
    }
}

fn to_span(raw: &str, scope: &str, thread: &Arc<str>, s: &mut Scanner) -> Result<Span, String> {
    let span: OtlpSpan<'_> = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    let trace = hex_id(&span.trace_id)?;
    let id = hex_id(&span.span_id)?.ok_or("empty spanId")?;
    let parent = hex_id(&span.parent_span_id)?;
    let mut follows_from = Vec::new();
    for link in &span.links {
        if let Some(linked) = hex_id(&link.span_id)? {
            follows_from.push(span_key(hex_id(&link.trace_id)?.or(trace), linked));
        }
    }
    let mut special = Special::default();
    let mut fields = Map::new();
    for attribute in &span.attributes {
        let value = any_value(&attribute.value)
            .map_err(|e| format!("attribute {:?}: {e}", attribute.key))?;
        special.take(&attribute.key, value, &mut fields);
    }
    if let Some(kind) = kind_name(&span.kind)? {
        fields.insert("otel.kind".to_owned(), kind.into());
    }
    let code = span.status.as_ref().map(|s| &s.code);
    let error = special.error || matches!(code, Some(c) if status_is_error(c));
    if let Some(status) = span
        .status
        .as_ref()
        .filter(|s| error && !s.message.is_empty())
    {
        fields.insert(
            "otel.status_description".to_owned(),
            status.message.clone().into(),
        );
    }
    if span.end_time_unix_nano < span.start_time_unix_nano {
        return Err(format!(
            "endTimeUnixNano {} is before startTimeUnixNano {}",
            span.end_time_unix_nano, span.start_time_unix_nano
        ));
    }
    let duration = span.end_time_unix_nano - span.start_time_unix_nano;
    Ok(Span {
        segment: 0,
        id: span_key(trace, id),
        parent: parent.map(|p| span_key(trace, p)),
        follows_from,
        name: s.intern(&span.name),
        target: s.intern(special.target.as_deref().unwrap_or(scope)),
        start_ns: span.start_time_unix_nano,
        end_ns: span.end_time_unix_nano,
        busy_ns: special.busy_ns.unwrap_or(duration).min(duration),
        idle_ns: special.idle_ns,
        enters: 1,
        thread: thread.clone(),
        status: if error { Status::Error } else { Status::Ok },
        raw_fields: raw_fields(&fields),
        line: s.line,
    })
}

/// An OTLP `AnyValue` as plain JSON: `{"intValue":"3"}` is `3`, arrays and key-value
/// lists are arrays and objects, bytes stay their base64 text.
fn any_value(value: &Value) -> Result<Value, String> {
    let Value::Object(map) = value else {
        return Err(format!("{value} is not an AnyValue object"));
    };
    let Some((kind, inner)) = map.iter().next() else {
        return Ok(Value::Null);
    };
    Ok(match (kind.as_str(), inner) {
        ("stringValue" | "bytesValue", Value::String(_)) | ("boolValue", Value::Bool(_)) => {
            inner.clone()
        }
        ("intValue", Value::Number(n)) if n.is_i64() || n.is_u64() => inner.clone(),
        ("intValue", Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("intValue {s:?} is not a 64-bit integer"))?
            .into(),
        ("doubleValue", Value::Number(_)) => inner.clone(),
        // Proto JSON writes non-finite doubles as strings.
        ("doubleValue", Value::String(s)) => Value::String(s.clone()),
        ("arrayValue", Value::Object(array)) => match array.get("values") {
            Some(Value::Array(values)) => {
                Value::Array(values.iter().map(any_value).collect::<Result<_, _>>()?)
            }
            _ => Value::Array(Vec::new()),
        },
        ("kvlistValue", Value::Object(list)) => {
            let mut out = Map::new();
            if let Some(Value::Array(values)) = list.get("values") {
                for kv in values {
                    let key = kv.get("key").and_then(Value::as_str).unwrap_or_default();
                    let value = kv.get("value").map_or(Ok(Value::Null), any_value)?;
                    out.insert(key.to_owned(), value);
                }
            }
            Value::Object(out)
        }
        (kind, inner) => return Err(format!("{kind} {inner} is not a valid AnyValue")),
    })
}

/// A span kind other than unspecified or internal, as the lowercase name tracing-opentelemetry
/// uses in `otel.kind`.
fn kind_name(kind: &Value) -> Result<Option<&'static str>, String> {
    let name = match kind {
        Value::Null => return Ok(None),
        Value::Number(n) => match n.as_u64() {
            Some(0 | 1) => None,
            Some(2) => Some("server"),
            Some(3) => Some("client"),
            Some(4) => Some("producer"),
            Some(5) => Some("consumer"),
            _ => return Err(format!("kind {n} is not a span kind")),
        },
        Value::String(s) => match s.as_str() {
            "SPAN_KIND_UNSPECIFIED" | "SPAN_KIND_INTERNAL" => None,
            "SPAN_KIND_SERVER" => Some("server"),
            "SPAN_KIND_CLIENT" => Some("client"),
            "SPAN_KIND_PRODUCER" => Some("producer"),
            "SPAN_KIND_CONSUMER" => Some("consumer"),
            _ => return Err(format!("kind {s:?} is not a span kind")),
        },
        other => return Err(format!("kind {other} is not a span kind")),
    };
    Ok(name)
}

fn status_is_error(code: &Value) -> bool {
    code.as_u64() == Some(2) || code.as_str() == Some("STATUS_CODE_ERROR")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warning::WarningKind;
    use crate::Error;

    fn read_str(data: &str, strict: bool) -> Result<(Vec<Span>, crate::input::LoadSummary), Error> {
        super::super::otel::read_spans(data, "dir/traces.jsonl", strict)
    }

    const TRACE: &str = "5b8efff798038103d269b633813fc60c";

    fn span_json(id: &str, parent: &str, name: &str, start: u64, end: u64, extra: &str) -> String {
        format!(
            r#"{{"traceId":"{TRACE}","spanId":"{id}","parentSpanId":"{parent}","name":"{name}","startTimeUnixNano":"{start}","endTimeUnixNano":{end}{extra}}}"#
        )
    }

    fn line(spans: &[String]) -> String {
        format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"svc"}}}},{{"key":"process.pid","value":{{"intValue":"42"}}}}]}},"scopeSpans":[{{"scope":{{"name":"my.scope"}},"spans":[{}]}}],"unknownKey":1}}]}}"#,
            spans.join(",")
        )
    }

    #[test]
    fn maps_parents_links_status_busy_time_and_attributes() {
        let root = span_json(
            "00000000000000a1",
            "",
            "root",
            1_000,
            9_000,
            r#","kind":"SPAN_KIND_SERVER","attributes":[{"key":"busy_ns","value":{"intValue":"500"}},{"key":"idle_ns","value":{"intValue":7500}},{"key":"target","value":{"stringValue":"app::mod"}},{"key":"gen_ai.usage.output_tokens","value":{"intValue":"12"}},{"key":"ratio","value":{"doubleValue":0.5}},{"key":"tags","value":{"arrayValue":{"values":[{"stringValue":"a"}]}}},{"key":"kv","value":{"kvlistValue":{"values":[{"key":"k","value":{"boolValue":true}}]}}}],"status":{"code":2,"message":"boom"},"events":[{"name":"e"}]"#,
        );
        let child = span_json(
            "00000000000000b2",
            "00000000000000a1",
            "child",
            2_000,
            3_000,
            &format!(r#","kind":3,"links":[{{"traceId":"{TRACE}","spanId":"00000000000000a1"}}]"#),
        );
        // Parent first in the line: handed on children first all the same.
        let data = format!("{}\n", line(&[root, child]));
        let (spans, summary) = read_str(&data, true).unwrap();
        assert!(summary.warnings.list().is_empty(), "{:?}", summary.warnings);
        assert_eq!(summary.format, Some(SourceFormat::Otlp));
        let (child, root) = (&spans[0], &spans[1]);
        assert_eq!(&*child.name, "child");
        assert_eq!(child.parent, Some(root.id));
        assert_eq!(child.follows_from, vec![root.id]);
        assert_eq!(child.busy_ns, 1_000);
        assert_eq!(&*child.target, "my.scope");
        assert_eq!(child.fields()["otel.kind"], "client");
        assert_eq!((root.busy_ns, root.idle_ns), (500, Some(7_500)));
        assert_eq!(&*root.target, "app::mod");
        assert_eq!(&*root.thread, "svc");
        assert_eq!(root.status, Status::Error);
        let fields = root.fields();
        assert_eq!(fields["gen_ai.usage.output_tokens"], 12);
        assert_eq!(fields["ratio"], 0.5);
        assert_eq!(fields["tags"], serde_json::json!(["a"]));
        assert_eq!(fields["kv"], serde_json::json!({"k": true}));
        assert_eq!(fields["otel.kind"], "server");
        assert_eq!(fields["otel.status_description"], "boom");
        assert!(!fields.contains_key("busy_ns"));
    }

    #[test]
    fn a_malformed_span_is_skipped_with_its_place_and_an_error_when_strict() {
        let good = span_json("00000000000000a1", "", "ok", 1, 2, "");
        let bad = span_json("00000000000000a2", "", "bad", 1, 2, r#","kind":"weird""#);
        let data = format!("{}\nnot json\n", line(&[bad, good]));
        let (spans, summary) = read_str(&data, false).unwrap();
        assert_eq!(spans.len(), 1);
        let warnings: Vec<String> = summary
            .warnings
            .list()
            .iter()
            .map(|w| w.to_string())
            .collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].starts_with("dir/traces.jsonl:1: skipped: span resourceSpans[0].scopeSpans[0].spans[0]: kind \"weird\""),
            "{warnings:?}"
        );
        assert!(
            warnings[1].starts_with("dir/traces.jsonl:2: skipped: "),
            "{warnings:?}"
        );
        match read_str(&data, true) {
            Err(Error::Malformed {
                line: 1, reason, ..
            }) => assert!(reason.contains("weird")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_warning_counts_the_malformed_spans_of_a_line() {
        let bad = |id: &str| span_json(id, "", "bad", 9, 2, "");
        let good = span_json("00000000000000a1", "", "ok", 1, 2, "");
        let data = format!(
            "{}\n",
            line(&[bad("0000000000000001"), good, bad("0000000000000002")])
        );
        let (spans, summary) = read_str(&data, false).unwrap();
        assert_eq!(spans.len(), 1);
        let warnings = summary.warnings.list();
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0]
                .message
                .ends_with("is before startTimeUnixNano 9; and 1 more malformed spans"),
            "{}",
            warnings[0]
        );
    }

    #[test]
    fn a_truncated_last_line_is_read_past_even_when_strict() {
        let good = line(&[span_json("00000000000000a1", "", "ok", 1, 2, "")]);
        let data = format!("{good}\n{}", &good[..good.len() / 2]);
        let (spans, summary) = read_str(&data, true).unwrap();
        assert_eq!(spans.len(), 1);
        assert!(summary.warnings.has(WarningKind::TruncatedLastLine));
    }

    #[test]
    fn spans_of_traces_reusing_span_ids_stay_apart() {
        let a = span_json("0000000000000001", "", "a", 1, 2, "");
        let b = a
            .replace(TRACE, "00000000000000000000000000000001")
            .replace("\"a\"", "\"b\"");
        let (spans, _) = read_str(&format!("{}\n", line(&[a, b])), true).unwrap();
        assert_ne!(spans[0].id, spans[1].id);
    }
}
