//! OTLP JSON: the session as OpenTelemetry traces, one `ExportTraceServiceRequest` per
//! line (whole trees, up to [`BATCH_SPANS`] spans unless one tree is larger), as the Collector's `otlpjsonfile` receiver
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
//! # Ok::<(), perf_analyze::Error>(())
//! ```

use std::collections::BTreeMap;
use std::io::Write;

use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;
use serde_json::Value;

use super::Session;
use crate::{Segment, Span, Status};

/// A request (a line) takes no further tree once it holds this many spans.
pub const BATCH_SPANS: usize = 1_000;

/// Writes the session as OTLP JSON lines.
///
/// # Errors
/// When writing to `out` fails.
pub fn write<W: Write>(session: &Session, mut out: W) -> std::io::Result<()> {
    for request in requests(session) {
        out.write_all(request.body.as_bytes())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// One `ExportTraceServiceRequest`: a line of [`write()`], the body of one OTLP/HTTP POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The request as OTLP JSON, on one line.
    pub body: String,
    /// The spans in it.
    pub spans: usize,
}

/// The session as OTLP JSON requests, one per line of [`write()`].
#[must_use]
pub fn requests(session: &Session) -> Vec<Request> {
    let ids = Ids::new(session);
    let mut lines = Vec::new();
    let mut batch: Vec<(&Span, u64)> = Vec::new();
    let mut segment = None;
    for tree in session.trees() {
        let root = tree.root();
        if segment.is_some_and(|s| s != root.segment) || batch.len() >= BATCH_SPANS {
            lines.extend(request(session, &ids, &batch));
            batch.clear();
        }
        segment = Some(root.segment);
        batch.extend(tree.nodes().iter().map(|node| (&node.span, root.id)));
    }
    lines.extend(request(session, &ids, &batch));
    lines
}

/// Ids derived from the session name, segments and span ids.
struct Ids {
    seed: u64,
    /// (segment, span id) -> the id of its tree's root, for links across trees.
    roots: HashMap<(u32, u64), u64>,
}

impl Ids {
    fn new(session: &Session) -> Ids {
        // FNV-1a: stable across Rust versions, unlike the std hasher.
        let seed = session.name().bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let roots = session
            .trees()
            .iter()
            .flat_map(|t| {
                let root = t.root().id;
                t.nodes()
                    .iter()
                    .map(move |n| ((n.span.segment, n.span.id), root))
            })
            .collect();
        Ids { seed, roots }
    }

    fn mix(&self, segment: u32, id: u64, salt: u64) -> u64 {
        // SplitMix64's finalizer over the inputs: distinct inputs give distinct-looking ids.
        let mut z = self.seed ^ id ^ (u64::from(segment) << 48).rotate_left(7) ^ salt;
        for _ in 0..2 {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
        }
        z.max(1)
    }

    fn span(&self, segment: u32, id: u64) -> String {
        format!("{:016x}", self.mix(segment, id, 0))
    }

    fn trace(&self, segment: u32, root: u64) -> String {
        format!(
            "{:016x}{:016x}",
            self.mix(segment, root, 0x5452_4143_4531),
            self.mix(segment, root, 0x5452_4143_4532)
        )
    }
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

fn resource(session: &Session, segment: Option<&Segment>) -> Attributes {
    let program = segment
        .and_then(|s| s.program.as_deref())
        .filter(|p| !p.is_empty())
        .unwrap_or("unknown_service");
    let mut attributes = vec![
        text("service.name", program),
        text("perf.session", session.name()),
    ];
    if let Some(pid) = segment.and_then(|s| s.pid) {
        attributes.push(int("process.pid", pid.into()));
    }
    Attributes { attributes }
}

/// One request of `batch` (spans with their tree's root id, all of one segment).
fn request(session: &Session, ids: &Ids, batch: &[(&Span, u64)]) -> Option<Request> {
    let (first, _) = batch.first()?;
    let segment = session.segments().iter().find(|s| s.index == first.segment);
    let mut scopes: BTreeMap<&str, Vec<OtlpSpan<'_>>> = BTreeMap::new();
    for &(span, root) in batch {
        scopes
            .entry(&span.target)
            .or_default()
            .push(otlp_span(ids, span, root));
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
    let body = serde_json::to_string(&request).ok()?;
    Some(Request {
        body,
        spans: batch.len(),
    })
}

fn otlp_span<'a>(ids: &Ids, span: &'a Span, root: u64) -> OtlpSpan<'a> {
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
    let links = span
        .follows_from
        .iter()
        .filter_map(|&from| {
            let root = ids.roots.get(&(segment, from))?;
            Some(Link {
                trace_id: ids.trace(segment, *root),
                span_id: ids.span(segment, from),
            })
        })
        .collect();
    let parent_span_id = match span.parent {
        Some(parent) if span.id != root => ids.span(segment, parent),
        _ => String::new(),
    };
    OtlpSpan {
        trace_id: ids.trace(segment, root),
        span_id: ids.span(segment, span.id),
        parent_span_id,
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
