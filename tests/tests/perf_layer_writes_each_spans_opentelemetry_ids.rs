//! With perf-layer's `opentelemetry` feature and tracing-opentelemetry's layer in the same
//! registry, each span's record carries the OpenTelemetry ids the SDK exported for it,
//! so a session joins the distributed trace: `otel.trace_id` and `otel.span_id`, hex.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use perf_layer::otel::{SPAN_ID, TRACE_ID};
use perf_layer::record::SpanRecord;
use perf_layer::PerfLayer;
use perf_tests::{read_records, spans};
use tracing_opentelemetry::{OpenTelemetrySpanExt as _, SetParentError};
use tracing_subscriber::prelude::*;

/// The trace of a caller in another service, that the `handle` span joins.
const REMOTE_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const REMOTE_SPAN: &str = "00f067aa0ba902b7";

/// Nesting, a span never entered, spans on two threads, a span joining a remote trace
/// (its parent set after it was created), and a root of its own.
fn workload() {
    for turn in 0..2 {
        tracing::info_span!("turn", turn).in_scope(|| {
            tracing::info_span!("retrieve").in_scope(|| {
                tracing::info_span!("embed").in_scope(|| {});
            });
            drop(tracing::info_span!("never_entered"));
            std::thread::scope(|s| {
                for worker in 0..2 {
                    let parent = tracing::Span::current();
                    let dispatch = tracing::dispatcher::get_default(Clone::clone);
                    s.spawn(move || {
                        tracing::dispatcher::with_default(&dispatch, || {
                            tracing::info_span!(parent: &parent, "fetch", worker).in_scope(|| {});
                        });
                    });
                }
            });
        });
    }
    let handle = tracing::info_span!(parent: None, "handle");
    let remote = SpanContext::new(
        TraceId::from_hex(REMOTE_TRACE).unwrap(),
        SpanId::from_hex(REMOTE_SPAN).unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    match handle.set_parent(opentelemetry::Context::new().with_remote_span_context(remote)) {
        Ok(()) | Err(SetParentError::LayerNotFound) => {}
        Err(e) => panic!("the OpenTelemetry span is not started before its first enter: {e}"),
    }
    handle.in_scope(|| tracing::info_span!("reply").in_scope(|| {}));
}

/// Records the workload with perf-layer and, if `otel` is `Some(first)`, the OpenTelemetry
/// layer added before (`first`) or after perf-layer. Returns both sides' spans.
fn record(dir: &Path, otel: Option<bool>) -> (Vec<SpanRecord<'static>>, Vec<SpanData>) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let (perf, guard) = PerfLayer::builder()
        .session_id("ids")
        .logs_dir(dir)
        .program("workload")
        .build()
        .expect("build the layer");
    let tracer = provider.tracer("workload");
    match otel {
        None => {
            tracing::subscriber::with_default(tracing_subscriber::registry().with(perf), workload)
        }
        Some(false) => tracing::subscriber::with_default(
            tracing_subscriber::registry()
                .with(perf)
                .with(tracing_opentelemetry::layer().with_tracer(tracer)),
            workload,
        ),
        Some(true) => tracing::subscriber::with_default(
            tracing_subscriber::registry()
                .with(tracing_opentelemetry::layer().with_tracer(tracer))
                .with(perf),
            workload,
        ),
    }
    drop(guard);
    provider.force_flush().expect("flush");
    let records = read_records(&dir.join("ids").join("performance_data.jsonl"));
    let ours = spans(&records).cloned().collect();
    (ours, exporter.get_finished_spans().expect("finished spans"))
}

fn hex_field<'a>(span: &'a SpanRecord<'static>, name: &str) -> &'a str {
    span.fields
        .get(name)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| {
            panic!(
                "{} has no string field {name}: {:?}",
                span.name, span.fields
            )
        })
}

/// A span's identity on both sides: its name and `worker` field (a `fetch` span's
/// thread); spans of one identity ran one after another, so start order pairs them.
fn by_identity<T>(
    items: impl IntoIterator<Item = T>,
    identity: impl Fn(&T) -> (String, String),
    start: impl Fn(&T) -> u128,
) -> BTreeMap<(String, String), Vec<T>> {
    let mut map: BTreeMap<_, Vec<T>> = BTreeMap::new();
    for item in items {
        map.entry(identity(&item)).or_default().push(item);
    }
    for group in map.values_mut() {
        group.sort_by_key(|item| start(item));
    }
    map
}

#[test]
fn each_span_carries_the_ids_the_opentelemetry_sdk_exported_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = record(dir.path(), Some(false));
    assert_eq!(ours.len(), 2 * 6 + 2);
    assert_eq!(ours.len(), theirs.len());

    let ours_by = by_identity(
        ours.iter(),
        |s| {
            let worker = s.fields.get("worker").map(ToString::to_string);
            (s.name.to_string(), worker.unwrap_or_default())
        },
        |s| u128::from(s.start_ns),
    );
    let theirs_by = by_identity(
        theirs.iter(),
        |s| {
            let worker = s.attributes.iter().find(|kv| kv.key.as_str() == "worker");
            let worker = worker.map(|kv| kv.value.to_string());
            (s.name.to_string(), worker.unwrap_or_default())
        },
        |s| {
            s.start_time
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        },
    );
    assert_eq!(
        ours_by.keys().collect::<Vec<_>>(),
        theirs_by.keys().collect::<Vec<_>>()
    );

    let by_id: BTreeMap<u64, &SpanRecord<'static>> = ours.iter().map(|s| (s.id, s)).collect();
    for (identity, group) in &ours_by {
        let exported = &theirs_by[identity];
        assert_eq!(group.len(), exported.len(), "{identity:?}");
        for (span, otel) in group.iter().zip(exported) {
            let ids = &otel.span_context;
            assert_eq!(
                hex_field(span, SPAN_ID),
                ids.span_id().to_string(),
                "{identity:?}"
            );
            assert_eq!(
                hex_field(span, TRACE_ID),
                ids.trace_id().to_string(),
                "{identity:?}"
            );
            if let Some(parent) = span.parent {
                assert_eq!(
                    hex_field(by_id[&parent], SPAN_ID),
                    otel.parent_span_id.to_string(),
                    "{identity:?}: the parent's ids agree too"
                );
            }
        }
    }

    // Every span's ids are its own, and each turn is one trace.
    let span_ids: std::collections::BTreeSet<_> =
        ours.iter().map(|s| hex_field(s, SPAN_ID)).collect();
    assert_eq!(span_ids.len(), ours.len());
    let traces: std::collections::BTreeSet<_> =
        ours.iter().map(|s| hex_field(s, TRACE_ID)).collect();
    assert_eq!(traces.len(), 3, "two turns and the joined trace");
    // The span whose parent was set after its creation joined the remote trace.
    for name in ["handle", "reply"] {
        let span = ours.iter().find(|s| s.name == name).unwrap();
        assert_eq!(hex_field(span, TRACE_ID), REMOTE_TRACE, "{name}");
    }
}

#[test]
fn without_the_opentelemetry_layer_no_ids_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = record(dir.path(), None);
    assert_eq!(ours.len(), 2 * 6 + 2);
    assert!(theirs.is_empty());
    for span in &ours {
        assert!(
            !span.fields.keys().any(|k| k.starts_with("otel.")),
            "{}: {:?}",
            span.name,
            span.fields
        );
    }
}

/// Added before perf-layer, the OpenTelemetry layer has ended its span when perf-layer
/// sees the close: no ids then (the README says to add perf-layer first), never wrong ones,
/// and the OpenTelemetry side is unchanged.
#[test]
fn with_the_opentelemetry_layer_added_first_no_ids_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = record(dir.path(), Some(true));
    assert_eq!(ours.len(), theirs.len());
    for span in &ours {
        assert!(!span.fields.contains_key(SPAN_ID), "{}", span.name);
        assert!(!span.fields.contains_key(TRACE_ID), "{}", span.name);
    }
    let handle = theirs.iter().find(|s| s.name == "handle").unwrap();
    assert_eq!(handle.span_context.trace_id().to_string(), REMOTE_TRACE);
}
