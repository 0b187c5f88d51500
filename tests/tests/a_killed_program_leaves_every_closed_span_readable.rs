//! A program killed with SIGKILL mid-session leaves a file the analyzer reads up to the
//! last complete line, with every span that closed at least 200 ms before the kill.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use perf_analyze::{analyze_path, visit_path, Options, WarningKind};
use perf_layer::record::Record;
use perf_layer::PerfLayer;
use perf_tests::{perf_child, CollectSpans};
use tracing_subscriber::prelude::*;

/// How long a closed span may take to reach the file, by the layer's promise (100 ms)
/// with the margin the test allows.
const MARGIN: Duration = Duration::from_millis(200);

#[test]
fn spans_closed_200_ms_before_a_sigkill_are_in_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let mut child = perf_child!()
        .arg("stream")
        .arg(&logs)
        .arg("crash")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start perf-child");

    // Each line announces a closed turn; the time it arrives here is after its close.
    let (tx, announced) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let (worker, seq) = line.split_once(' ').expect("<worker> <seq>");
            let seq: u64 = seq.parse().expect("seq");
            if tx.send((worker.to_owned(), seq, Instant::now())).is_err() {
                break;
            }
        }
    });
    let first = announced
        .recv_timeout(Duration::from_secs(20))
        .expect("the child announces its first turn");
    thread::sleep(Duration::from_millis(1200));
    let killed_at = Instant::now();
    child.kill().expect("SIGKILL");
    let status = child.wait().unwrap();
    reader.join().unwrap();
    assert!(
        status.code().is_none(),
        "killed by a signal, not exited: {status}"
    );

    let mut must_have = HashSet::new();
    let mut announced_total = 1;
    for (worker, seq, at) in std::iter::once(first).chain(announced.try_iter()) {
        announced_total += 1;
        if at + MARGIN <= killed_at {
            must_have.insert((worker, seq));
        }
    }
    assert!(
        must_have.len() > 100,
        "only {} turns to check",
        must_have.len()
    );

    let data = logs.join("crash").join("performance_data.jsonl");
    let bytes = std::fs::read(&data).unwrap();
    let complete = bytes
        .split(|&b| b == b'\n')
        .take(bytes.split(|&b| b == b'\n').count() - 1)
        .filter(|line| matches!(serde_json::from_slice(line), Ok(Record::Span(_))))
        .count();

    let analysis = analyze_path(&data, &Options::default()).expect("analyze");
    assert!(analysis.ended_abruptly(), "no end line after a SIGKILL");
    assert!(analysis.warnings.has(WarningKind::NoEndLine));
    for warning in analysis.warnings() {
        assert!(
            matches!(
                warning.kind,
                WarningKind::NoEndLine
                    | WarningKind::MissingParent
                    | WarningKind::TruncatedLastLine
            ),
            "unexpected warning: {warning}"
        );
    }
    let mut seen = CollectSpans::default();
    visit_path(&data, &Options::default(), &mut seen).expect("visit");
    assert_eq!(
        seen.spans.len(),
        complete,
        "the analyzer reads every complete span line"
    );
    assert_eq!(analysis.summary.operations, complete as u64);

    // Every announced-early turn is there, with both of its steps under it.
    let mut turns = HashMap::new();
    let mut steps: HashMap<u64, usize> = HashMap::new();
    for span in &seen.spans {
        let fields = span.fields();
        match span.name.as_ref() {
            "turn" => {
                let worker = fields["worker"].as_str().unwrap().to_owned();
                let seq = fields["seq"].as_u64().unwrap();
                assert!(turns.insert((worker, seq), span.id).is_none());
            }
            "step" => {
                *steps
                    .entry(span.parent.expect("a step's parent"))
                    .or_default() += 1
            }
            other => panic!("unexpected span {other}"),
        }
    }
    let mut lost: Vec<_> = must_have
        .iter()
        .filter(|k| !turns.contains_key(*k))
        .collect();
    lost.sort();
    assert!(
        lost.is_empty(),
        "{} of {} turns closed >= 200 ms before the kill are missing: {:?}",
        lost.len(),
        must_have.len(),
        &lost[..lost.len().min(10)]
    );
    for key in &must_have {
        assert_eq!(
            steps.get(&turns[key]),
            Some(&2),
            "the steps of turn {key:?}"
        );
    }
    eprintln!(
        "{announced_total} turns announced, {} checked, {} span lines read",
        must_have.len(),
        complete
    );

    // A restart appends a clean segment after the abrupt one.
    let (layer, guard) = PerfLayer::builder()
        .session_id("crash")
        .logs_dir(&logs)
        .build()
        .expect("build after the crash");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info_span!("after_restart").in_scope(|| {});
    });
    drop(guard);
    let again = analyze_path(&data, &Options::default()).expect("analyze again");
    assert_eq!(again.segments.len(), 2);
    assert!(again.segments[0].end.is_none());
    assert_eq!(again.segments[1].end.as_ref().map(|e| e.spans), Some(1));
    assert_eq!(again.summary.operations, complete as u64 + 1);
    // Only a line the kill cut in half, now ended by the restart, may be malformed.
    let ended_mid_line = bytes.last().is_some_and(|&b| b != b'\n');
    let malformed = again
        .warnings()
        .iter()
        .filter(|w| w.kind == WarningKind::Malformed)
        .count();
    assert!(
        malformed <= usize::from(ended_mid_line),
        "{:?}",
        again.warnings()
    );
}
