//! A many-thread workload recorded by perf-layer, whose per-thread buffers reach the
//! file in batches (merged by close time, round by round): a child's line must come
//! before its parent's, also when they closed on different threads, and the analyzer
//! must read such a file exactly: every span in a tree under its own parent, and per
//! name the count, the total and the self time that the file's own records give.

use std::collections::HashMap;
use std::thread;

use perf_analyze::{analyze_path, visit_path, Options};
use perf_layer::record::SpanRecord;
use perf_layer::PerfLayer;
use perf_tests::{read_records, spans, CollectSpans};
use tracing_subscriber::prelude::*;

const WORKERS: u64 = 6;
const TURNS: u64 = 150;

#[test]
fn many_threads_interleaved_by_the_layer_are_analyzed_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let (layer, guard) = PerfLayer::builder()
        .session_id("interleaved")
        .logs_dir(&logs)
        .build()
        .expect("build the layer");
    let data = guard.handle().data_path();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, || {
        for batch in 0..4_u64 {
            // A root on this thread whose children run on other threads and close
            // before it: their lines sit in other threads' buffers.
            let root = tracing::info_span!("request", batch);
            thread::scope(|scope| {
                for worker in 0..WORKERS {
                    let (root, dispatch) = (&root, &dispatch);
                    scope.spawn(move || {
                        tracing::dispatcher::with_default(dispatch, || {
                            for turn in 0..TURNS {
                                tracing::info_span!(parent: root, "turn", worker, turn).in_scope(
                                    || {
                                        for step in 0..3_u64 {
                                            tracing::info_span!("step", step).in_scope(|| {
                                                tracing::info_span!("leaf").in_scope(|| {});
                                            });
                                        }
                                    },
                                );
                            }
                        });
                    });
                }
            });
            drop(root);
        }
    });
    drop(guard);

    let records = read_records(&data);
    let written: Vec<&SpanRecord<'static>> = spans(&records).collect();
    assert_eq!(written.len() as u64, 4 * (1 + WORKERS * TURNS * 7));
    let position: HashMap<u64, usize> =
        written.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
    for s in &written {
        if let Some(p) = s.parent {
            assert!(position[&p] > position[&s.id], "{s:?} after its parent");
        }
    }

    // Per name, from the file: count, total, and self time (duration minus the union of
    // the children's intervals, clipped to the span).
    let mut children: HashMap<u64, Vec<(u64, u64)>> = HashMap::new();
    for s in &written {
        if let Some(p) = s.parent {
            children.entry(p).or_default().push((s.start_ns, s.end_ns));
        }
    }
    let mut expected: HashMap<&str, (u64, u64, u64)> = HashMap::new();
    for s in &written {
        let mut kids = children.remove(&s.id).unwrap_or_default();
        kids.sort_unstable();
        let (mut covered, mut reach) = (0, s.start_ns);
        for (start, end) in kids {
            let (start, end) = (start.max(reach), end.min(s.end_ns));
            if end > start {
                covered += end - start;
                reach = end;
            }
        }
        let row = expected.entry(&s.name).or_default();
        row.0 += 1;
        row.1 += s.duration_ns();
        row.2 += s.duration_ns() - covered;
    }

    let analysis = analyze_path(&logs.join("interleaved"), &Options::default()).expect("analyze");
    assert!(analysis.warnings().is_empty(), "{:?}", analysis.warnings());
    let summary = &analysis.summary;
    assert_eq!(summary.operations, written.len() as u64);
    assert_eq!(summary.by_name.len(), expected.len());
    for row in &summary.by_name {
        let (count, total, self_ns) = expected[row.name.as_str()];
        assert_eq!(
            (row.count, row.total_ns, row.self_ns),
            (count, total, self_ns),
            "{}: count, total and self time as the file gives them",
            row.name
        );
    }

    // Every span delivered once, in a tree under the parent the file names.
    let mut seen = CollectSpans::default();
    visit_path(&data, &Options::default(), &mut seen).expect("visit");
    assert_eq!(seen.spans.len(), written.len());
    assert_eq!(seen.trees, 4, "one tree per request");
    let parents: HashMap<u64, Option<u64>> = seen.spans.iter().map(|s| (s.id, s.parent)).collect();
    for s in &written {
        assert_eq!(parents[&s.id], s.parent, "{s:?}");
    }
}
