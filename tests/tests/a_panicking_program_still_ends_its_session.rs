//! A program that panics with the guard alive still ends its session: the guard flushes
//! while unwinding, so the `end` line is there, with the span left open by another thread.

use std::time::Duration;

use perf_analyze::{analyze_path, Options};
use perf_layer::record::{Record, Status};
use perf_tests::{perf_child, read_records, run_with_deadline, spans};

#[test]
fn the_guard_writes_the_end_line_while_unwinding() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let out = run_with_deadline(
        perf_child!().arg("panic").arg(&logs).arg("panicked"),
        Duration::from_secs(20),
    );
    assert_eq!(
        out.code(),
        Some(101),
        "a panic exits with 101: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("the request failed with 2 spans open"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("[perf-layer]"),
        "the writer finished in time: {}",
        out.stderr
    );

    let data = logs.join("panicked").join("performance_data.jsonl");
    let records = read_records(&data);
    let Some(Record::End(end)) = records.last() else {
        panic!("the last line is not the end line: {:?}", records.last());
    };
    let all: Vec<_> = spans(&records).collect();
    assert_eq!(end.spans, all.len() as u64);
    assert_eq!((end.spans, end.open, end.dropped), (12, 1, 0));

    let named = |name: &str| all.iter().filter(|s| s.name == name).collect::<Vec<_>>();
    assert_eq!(named("step").len(), 10);
    let request = named("request");
    assert_eq!(request.len(), 1);
    assert_eq!(
        request[0].status,
        Status::Ok,
        "closed while unwinding, before the guard"
    );
    assert_eq!(request[0].fields["id"], 7);
    let waiting = named("background_wait");
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].status, Status::Open);
    assert_eq!(waiting[0].thread, "background");
    assert!(waiting[0].end_ns <= end.end_ns);

    let analysis = analyze_path(&data, &Options::default()).expect("analyze");
    assert!(!analysis.ended_abruptly());
    assert!(analysis.warnings().is_empty(), "{:?}", analysis.warnings());
    assert_eq!(analysis.summary.operations, 12);
    assert_eq!(analysis.summary.open, 1);
}
