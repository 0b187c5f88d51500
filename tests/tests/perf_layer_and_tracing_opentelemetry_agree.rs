//! perf-layer and tracing-opentelemetry in one registry record the same workload; the
//! OpenTelemetry SDK's spans, written as OTLP JSON by the OpenTelemetry project's own
//! encoding (opentelemetry-proto), and perf-layer's file give perf-analyze the same
//! per-name counts, errors and (within clock-reading noise) totals and self times.
//!
//! tracing-opentelemetry ends a span at its last exit, perf-layer when it closes: here
//! every span closes right after its last exit, so the two agree (a span kept alive after
//! its last exit is longer in perf-layer's file by that time).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use perf_analyze::{analyze_path, Options, SourceFormat};
use perf_layer::PerfLayer;
use tracing_subscriber::prelude::*;

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// Nesting, a span entered three times with idle gaps, work on two threads, an error.
fn workload() {
    for turn in 0..3 {
        let root = tracing::info_span!("turn", turn);
        root.in_scope(|| {
            tracing::info_span!("retrieve").in_scope(|| {
                tracing::info_span!("embed", model = "nomic").in_scope(|| sleep_ms(2));
                sleep_ms(1);
            });
            let poll = tracing::info_span!("poll");
            for i in 0..3 {
                if i > 0 {
                    sleep_ms(1); // idle between polls
                }
                poll.in_scope(|| sleep_ms(1));
            }
            drop(poll);
            std::thread::scope(|s| {
                for worker in 0..2 {
                    let parent = tracing::Span::current();
                    let dispatch = tracing::dispatcher::get_default(Clone::clone);
                    s.spawn(move || {
                        tracing::dispatcher::with_default(&dispatch, || {
                            tracing::info_span!(parent: &parent, "fetch", worker)
                                .in_scope(|| sleep_ms(3));
                        });
                    });
                }
            });
            if turn == 1 {
                tracing::info_span!("tool_call").in_scope(|| {
                    tracing::error!(tool = "search", "the tool failed");
                });
            }
        });
    }
}

/// Per name: (count, errors, total_ns, self_ns).
type ByName = BTreeMap<String, (u64, u64, u64, u64)>;

fn by_name(path: &Path, format: SourceFormat) -> ByName {
    let analysis = analyze_path(path, &Options::default()).expect("analyze");
    assert_eq!(analysis.format, Some(format));
    assert!(
        analysis.warnings().is_empty(),
        "{}: {:?}",
        path.display(),
        analysis.warnings()
    );
    analysis
        .summary
        .by_name
        .iter()
        .map(|r| (r.name.clone(), (r.count, r.errors, r.total_ns, r.self_ns)))
        .collect()
}

/// Records the workload once with both layers in one registry and returns perf-analyze's
/// per-name figures from perf-layer's file and from the OTLP file, in that order.
fn record_both(dir: &Path, session: &str) -> (ByName, ByName) {
    let exporter = InMemorySpanExporter::default();
    let resource = Resource::builder().with_service_name("workload").build();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .with_resource(resource.clone())
        .build();
    let (layer, guard) = PerfLayer::builder()
        .session_id(session)
        .logs_dir(dir)
        .program("workload")
        .build()
        .expect("build the layer");
    let subscriber = tracing_subscriber::registry()
        .with(layer)
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("workload")));
    tracing::subscriber::with_default(subscriber, workload);
    drop(guard);
    provider.force_flush().expect("flush");

    let spans = exporter.get_finished_spans().expect("finished spans");
    let request = ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(
            spans,
            &ResourceAttributesWithSchema::from(&resource),
        ),
    };
    let otlp = dir.join(format!("{session}-otlp.jsonl"));
    let line = serde_json::to_string(&request).unwrap();
    std::fs::write(&otlp, format!("{line}\n")).unwrap();

    let ours = by_name(
        &dir.join(session).join("performance_data.jsonl"),
        SourceFormat::PerfLayer,
    );
    (ours, by_name(&otlp, SourceFormat::Otlp))
}

/// The names whose total or self time differ between the two files by more than clock
/// reading explains. The two layers read their clocks one after the other for each span;
/// a thread preempted between the two reads (on a loaded two-core machine, for up to
/// about a millisecond) shifts one span's time in one file only, so each span instance
/// may differ by 1 ms, and any total by 5%. Planted mistakes (a child not subtracted, an
/// idle gap counted) are 2 ms or more per instance.
fn disagreements(ours: &ByName, theirs: &ByName) -> Vec<String> {
    let mut out = Vec::new();
    for (name, &(count, _, total, self_ns)) in ours {
        let (_, _, o_total, o_self) = theirs[name];
        let close = |a: u64, b: u64| a.abs_diff(b) <= (a / 20).max(count * 1_000_000);
        if !close(total, o_total) {
            out.push(format!("{name}: total {total} vs {o_total}"));
        }
        if !close(self_ns, o_self) {
            out.push(format!("{name}: self {self_ns} vs {o_self}"));
        }
    }
    out
}

#[test]
fn counts_errors_and_totals_agree_between_perf_layer_and_opentelemetry() {
    let dir = tempfile::tempdir().unwrap();
    // Counts and errors must agree in every recording; times within clock-reading noise
    // in at least one of three (a loaded machine may preempt a thread between the two
    // layers' clock reads of a span).
    let mut last = Vec::new();
    for attempt in 0..3 {
        let (ours, theirs) = record_both(dir.path(), &format!("alongside-{attempt}"));
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>()
        );
        assert_eq!(ours["fetch"].0, 6);
        assert_eq!(
            ours["tool_call"].1, 1,
            "the error event makes an error span"
        );
        for (name, &(count, errors, _, _)) in &ours {
            let (o_count, o_errors, _, _) = theirs[name];
            assert_eq!(
                (count, errors),
                (o_count, o_errors),
                "{name}: count, errors"
            );
        }
        last = disagreements(&ours, &theirs);
        if last.is_empty() {
            return;
        }
        eprintln!("recording {attempt}: {last:?}");
    }
    panic!("times disagree in three recordings; the last: {last:?}");
}
