//! A known workload recorded by perf-layer comes out of perf-analyze as it went in:
//! nesting, re-entry, late fields, an error, a span still open at the guard, background
//! work that follows from a turn, and two runs appended to one session.

use std::collections::HashMap;
use std::path::Path;
use std::thread;
use std::time::Duration;

use perf_analyze::{analyze_path, visit_path, Options, Span};
use perf_layer::record::{EndRecord, Record, SpanRecord, Status};
use perf_layer::PerfLayer;
use perf_tests::{read_records, spans, CollectSpans};
use serde_json::Value;
use tracing::field::Empty;
use tracing_subscriber::prelude::*;

const SESSION: &str = "round_trip";

/// The first run: 7 spans, one of them still open when the guard drops.
fn first_run(logs: &Path) {
    let (layer, guard) = PerfLayer::builder()
        .session_id(SESSION)
        .logs_dir(logs)
        .program("round-trip")
        .build()
        .expect("build the layer");
    let subscriber = tracing_subscriber::registry().with(layer);
    let left_open = tracing::subscriber::with_default(subscriber, || {
        let turn = tracing::info_span!("turn", prompt_chars = 1547_u64, tokens = Empty);
        {
            let _entered = turn.enter();
            tracing::info_span!("retrieve").in_scope(|| {
                tracing::info_span!("embed", model = "nomic").in_scope(|| sleep_ms(2));
                sleep_ms(1);
            });
            turn.record("tokens", 42_i64);
        }
        let poll = tracing::info_span!(parent: &turn, "poll");
        for _ in 0..3 {
            let _entered = poll.enter();
            sleep_ms(1);
        }
        drop(poll);
        tracing::info_span!(parent: &turn, "tool_call").in_scope(|| {
            tracing::error!(tool = "search", "the tool failed");
        });
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let cause = turn.id();
        thread::Builder::new()
            .name("bg".into())
            .spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    let digest = tracing::info_span!(parent: None, "background_digest");
                    digest.follows_from(cause);
                    digest.in_scope(|| sleep_ms(1));
                });
            })
            .expect("spawn")
            .join()
            .expect("the background thread");
        drop(turn);
        tracing::info_span!("left_open")
    });
    drop(guard);
    drop(left_open);
}

/// The second run, appended to the same session: 2 spans.
fn second_run(logs: &Path) {
    let (layer, guard) = PerfLayer::builder()
        .session_id(SESSION)
        .logs_dir(logs)
        .build()
        .expect("build the layer again");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info_span!("turn", prompt_chars = 10_u64).in_scope(|| {
            tracing::info_span!("retrieve").in_scope(|| sleep_ms(1));
        });
    });
    drop(guard);
}

fn sleep_ms(ms: u64) {
    thread::sleep(Duration::from_millis(ms));
}

fn by_name(segment: &[&SpanRecord<'static>]) -> HashMap<String, SpanRecord<'static>> {
    let mut map = HashMap::new();
    for span in segment {
        let old = map.insert(span.name.to_string(), (*span).clone());
        assert!(old.is_none(), "{} twice in one run", span.name);
    }
    map
}

/// The file's lines, split into runs: (session line's id, spans, end line).
fn runs(records: &[Record]) -> Vec<(String, Vec<&SpanRecord<'static>>, Option<EndRecord>)> {
    let mut runs: Vec<(String, Vec<&SpanRecord<'static>>, Option<EndRecord>)> = Vec::new();
    for record in records {
        match record {
            Record::Session(s) => {
                assert_eq!(s.format, 1);
                runs.push((s.session.clone(), Vec::new(), None));
            }
            Record::Span(span) => {
                let run = runs.last_mut().expect("a span before any session line");
                assert!(run.2.is_none(), "a span after the end line");
                run.1.push(span);
            }
            Record::End(end) => {
                let run = runs
                    .last_mut()
                    .expect("an end line before any session line");
                assert!(run.2.replace(end.clone()).is_none(), "two end lines");
            }
        }
    }
    runs
}

#[test]
fn the_file_holds_what_the_program_did() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    first_run(&logs);
    second_run(&logs);

    let records = read_records(&logs.join(SESSION).join("performance_data.jsonl"));
    let runs = runs(&records);
    assert_eq!(runs.len(), 2, "two runs, two segments");
    let (session, first, end) = &runs[0];
    assert_eq!(session, SESSION);
    let end = end.as_ref().expect("the first run's end line");
    assert_eq!((end.spans, end.open, end.dropped), (7, 1, 0));
    let s = by_name(first);
    assert_eq!(s.len(), 7);

    let (turn, retrieve, embed) = (&s["turn"], &s["retrieve"], &s["embed"]);
    assert_eq!(turn.parent, None);
    assert_eq!(retrieve.parent, Some(turn.id));
    assert_eq!(embed.parent, Some(retrieve.id));
    assert_eq!(s["poll"].parent, Some(turn.id));
    assert_eq!(s["tool_call"].parent, Some(turn.id));
    assert!(embed.start_ns >= retrieve.start_ns && embed.end_ns <= retrieve.end_ns);
    assert!(retrieve.start_ns >= turn.start_ns && retrieve.end_ns <= turn.end_ns);

    assert_eq!(turn.fields["prompt_chars"], 1547, "numbers stay numbers");
    assert_eq!(turn.fields["tokens"], 42, "a field recorded later");
    assert_eq!(embed.fields["model"], "nomic");

    let poll = &s["poll"];
    assert_eq!(poll.enters, 3, "a re-entered span counts each enter");
    assert!(poll.busy_ns >= 3_000_000, "busy {} < 3 ms", poll.busy_ns);
    assert!(poll.busy_ns <= poll.duration_ns());

    assert_eq!(s["tool_call"].status, Status::Error);
    assert_eq!(s["left_open"].status, Status::Open);
    assert!(s["left_open"].end_ns <= end.end_ns);
    for name in ["turn", "retrieve", "embed", "poll", "background_digest"] {
        assert_eq!(s[name].status, Status::Ok, "{name}");
    }

    let digest = &s["background_digest"];
    assert_eq!(digest.parent, None);
    assert_eq!(digest.follows_from, vec![turn.id]);
    assert_eq!(digest.thread, "bg");

    let ids: std::collections::HashSet<u64> = first.iter().map(|s| s.id).collect();
    assert_eq!(ids.len(), first.len(), "ids are unique within a run");
    for span in spans(&records) {
        assert!(span.start_ns <= span.end_ns, "{span:?}");
        assert!(span.busy_ns <= span.duration_ns(), "{span:?}");
    }

    let (_, second, end) = &runs[1];
    let end = end.as_ref().expect("the second run's end line");
    assert_eq!((end.spans, end.open, end.dropped), (2, 0, 0));
    let s2 = by_name(second);
    assert_eq!(s2["retrieve"].parent, Some(s2["turn"].id));
}

#[test]
fn the_analysis_reads_every_span_with_its_links() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    first_run(&logs);
    second_run(&logs);
    let data = logs.join(SESSION).join("performance_data.jsonl");
    let written: Vec<SpanRecord<'static>> = spans(&read_records(&data)).cloned().collect();

    let analysis = analyze_path(&logs.join(SESSION), &Options::default()).expect("analyze");
    assert!(analysis.warnings().is_empty(), "{:?}", analysis.warnings());
    let summary = &analysis.summary;
    assert_eq!(summary.session, SESSION);
    assert_eq!(summary.operations, 9);
    assert_eq!(summary.open, 1);
    assert_eq!(summary.errors, 1);
    assert_eq!(summary.dropped, 0);
    assert_eq!(summary.segments, 2);
    assert!(!summary.ended_abruptly);

    assert_eq!(analysis.segments.len(), 2);
    let ends: Vec<_> = analysis
        .segments
        .iter()
        .map(|s| s.end.as_ref().map(|e| (e.spans, e.open)))
        .collect();
    assert_eq!(ends, [Some((7, 1)), Some((2, 0))]);
    assert!(analysis.segments[1].segment.origin_ns >= analysis.segments[0].segment.origin_ns);
    let wall: u64 = analysis
        .segments
        .iter()
        .map(perf_analyze::SegmentInfo::wall_ns)
        .sum();
    assert_eq!(summary.wall_ns, wall, "wall time is summed per run");
    assert!(summary.active_ns > 0 && summary.active_ns <= summary.wall_ns);

    let count = |name: &str| {
        summary
            .by_name
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.count)
    };
    assert_eq!(count("turn"), Some(2));
    assert_eq!(count("retrieve"), Some(2));
    assert_eq!(count("poll"), Some(1));
    assert_eq!(count("left_open"), Some(1));
    for row in &summary.by_name {
        assert!(row.self_ns <= row.total_ns, "{row:?}");
        assert!(
            row.p50_ns <= row.p95_ns && row.p95_ns <= row.max_ns,
            "{row:?}"
        );
        assert!(row.max_ns <= row.total_ns, "{row:?}");
    }
    let tool = summary
        .by_name
        .iter()
        .find(|r| r.name == "tool_call")
        .unwrap();
    assert_eq!(tool.errors, 1);

    // Span by span, the analyzer saw exactly what was written.
    let mut seen = CollectSpans::default();
    visit_path(&data, &Options::default(), &mut seen).expect("visit");
    assert_eq!(seen.spans.len(), written.len());
    let key = |segment: u32, id: u64| (segment, id);
    let read: HashMap<(u32, u64), &Span> = seen
        .spans
        .iter()
        .map(|s| (key(s.segment, s.id), s))
        .collect();
    let mut segment = 0;
    for record in read_records(&data) {
        match record {
            Record::Session(_) => {}
            Record::End(_) => segment += 1,
            Record::Span(w) => {
                let r = read[&key(segment, w.id)];
                assert_eq!(r.name.as_ref(), w.name.as_ref());
                assert_eq!(r.parent, w.parent);
                assert_eq!(r.follows_from, w.follows_from);
                assert_eq!(r.status, w.status);
                assert_eq!(r.enters, w.enters);
                assert_eq!(r.busy_ns, w.busy_ns);
                assert_eq!(r.duration_ns(), w.duration_ns());
                assert_eq!(r.fields(), w.fields);
            }
        }
    }
    // The latest foreground root is the second run's turn, with its child.
    let latest = analysis.latest.as_ref().expect("a latest tree");
    assert_eq!(latest.root().name.as_ref(), "turn");
    assert_eq!(latest.root().segment, 1);
    assert_eq!(latest.len(), 2);
}

#[test]
fn the_summary_json_keeps_the_promised_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    first_run(&logs);
    second_run(&logs);
    let analysis = analyze_path(&logs.join(SESSION), &Options::default()).expect("analyze");
    let saved = analysis.save_summary(&logs.join(SESSION)).expect("save");
    assert_eq!(saved, logs.join(SESSION).join("performance_summary.json"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();

    let number = |v: &Value, key: &str| {
        v.get(key)
            .and_then(Value::as_f64)
            .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
    };
    let array = |v: &Value, key: &str| -> Vec<Value> {
        v.get(key)
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{key} is not an array in {v}"))
            .clone()
    };
    assert_eq!(doc["format"], 1);
    assert_eq!(doc["session"], SESSION);
    for key in ["wall_ns", "active_ns", "operations", "open", "dropped"] {
        number(&doc, key);
    }
    assert_eq!(doc["operations"], 9);
    assert_eq!(doc["open"], 1);
    assert_eq!(doc["dropped"], 0);
    assert_eq!(doc["wall_ns"], analysis.summary.wall_ns);

    let rows = array(&doc, "by_name");
    assert_eq!(rows.len(), 7, "seven distinct names");
    let mut pct = 0.0;
    for row in &rows {
        assert!(row["name"].is_string());
        for key in [
            "count", "total_ns", "self_ns", "mean_ns", "p50_ns", "p95_ns", "max_ns",
        ] {
            number(row, key);
        }
        assert!(number(row, "self_ns") <= number(row, "total_ns"));
        // Every span but the background one ran on the main thread.
        if row["name"] != "background_digest" {
            pct += number(row, "pct_of_wall");
        }
    }
    assert!(
        pct > 0.0 && pct <= 100.0 + 1e-6,
        "self time on one thread never double counts: {pct}%"
    );
    for b in array(&doc, "bottlenecks") {
        assert!(b["name"].is_string());
        assert!(matches!(
            b["severity"].as_str(),
            Some("high" | "medium" | "low")
        ));
        assert!(b["reasons"].is_array());
    }
    for r in array(&doc, "recommendations") {
        for key in ["operation", "category", "title"] {
            assert!(r[key].is_string(), "{key} in {r}");
        }
        assert!(r["suggestions"].is_array());
        number(&r, "estimated_saving_ns");
    }
    for p in array(&doc, "parallelism") {
        assert!(p["parent"].is_string() && p["operations"].is_array());
        for key in ["sequential_ns", "parallel_ns", "saving_ns"] {
            number(&p, key);
        }
    }
    let path = array(&doc, "critical_path");
    assert_eq!(path.first().and_then(Value::as_str), Some("turn"));
    assert!(array(&doc, "llm_calls").is_empty(), "no LLM spans recorded");

    // The CLI prints the same document.
    let out = perf_tests::perf_analyze()
        .args(["report", SESSION, "--format", "json", "--logs-dir"])
        .arg(&logs)
        .output()
        .expect("run perf-analyze");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(printed, doc);
}
