//! A server whose connection roots stay open for the whole session: the analysis of
//! their requests is pinned, so that a tree builder that hands over a long-lived root's
//! closed subtrees before the root closes must give the same report and summary.
//! `BLESS=1 cargo test -p perf-analyze --test long_lived_roots` re-records the goldens.

use std::collections::HashMap;
use std::path::Path;

use perf_analyze::{analyze_reader, Format, Options, RenderOptions, Summary};

/// Two connections, each open the whole session (1.2 s, 2,000 requests), the roots
/// written last: long-lived by the analyzer's rules.
fn server_session() -> Vec<u8> {
    let mut out = Vec::new();
    perf_analyze::generate::write_server_session(&mut out, 20_000, 2, 7).unwrap();
    out
}

/// The summary of [`server_session`].
fn server_summary() -> Summary {
    let data = server_session();
    analyze_reader(&data[..], "server", &Options::default())
        .unwrap()
        .summary
}

fn check(expected_path: &Path, actual: &str) {
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(expected_path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(expected_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with BLESS=1 to record)",
            expected_path.display()
        )
    });
    assert!(
        expected == actual,
        "{} differs (BLESS=1 re-records):\n--- expected\n{expected}\n--- actual\n{actual}",
        expected_path.display()
    );
}

#[test]
fn a_server_with_connections_open_the_whole_session_keeps_its_report_and_summary() {
    let data = server_session();
    let analysis = analyze_reader(&data[..], "server", &Options::default()).unwrap();
    let render = RenderOptions {
        detailed: true,
        width: 100,
    };
    let dir = Path::new("tests/fixtures/long_lived");
    check(
        &dir.join("server.report.txt"),
        &analysis.render(Format::Table, &render),
    );
    check(
        &dir.join("server.summary.json"),
        &analysis.render(Format::Json, &render),
    );
}

#[test]
fn a_connection_neither_waits_nor_calls_its_requests_in_a_loop_to_batch() {
    let s = server_summary();
    assert_eq!(s.workload.long_lived_names, ["connection"]);
    let async_ = &s.background;
    assert!(
        async_.idle.iter().all(|r| r.name != "connection"),
        "{async_:?}"
    );
    assert!(
        async_.batching.iter().all(|r| r.parent != "connection"),
        "{async_:?}"
    );
    // Its own time (waiting for requests) is no category's either.
    let connection = s.by_name.iter().find(|r| r.name == "connection").unwrap();
    let categorized: u64 = s.resources.iter().map(|r| r.count).sum();
    assert_eq!(categorized, s.operations - connection.count);
    let categorized_ns: u64 = s.resources.iter().map(|r| r.self_ns).sum();
    assert_eq!(categorized_ns, s.work_self_ns());
    assert!(categorized_ns < s.by_name.iter().map(|r| r.self_ns).sum::<u64>());
}

#[test]
fn the_trend_of_sessions_ranks_work_not_connections() {
    let summary = server_summary();
    let connection = summary.by_name.iter().position(|r| r.name == "connection");
    assert!(
        connection < Some(3),
        "a top-3 operation by own time: {connection:?}"
    );
    let trend = perf_analyze::analysis::trend::Trend::new(vec![summary], 3);
    assert_eq!(trend.operations.len(), 3);
    assert!(
        !trend.operations.iter().any(|op| op == "connection"),
        "{:?}",
        trend.operations
    );
}

/// One span line, as the test reads it back.
#[derive(serde::Deserialize)]
struct Line {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: u64,
    #[serde(default)]
    parent: Option<u64>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    start_ns: u64,
    #[serde(default)]
    end_ns: u64,
}

#[test]
fn counts_totals_and_self_times_under_long_lived_roots_agree_with_a_direct_computation() {
    let data = server_session();
    let spans: Vec<Line> = std::str::from_utf8(&data)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|l: &Line| l.kind == "span")
        .collect();
    // Self time: duration minus the union of the children's intervals, clipped to the span.
    let mut children: HashMap<u64, Vec<(u64, u64)>> = HashMap::new();
    for s in &spans {
        if let Some(p) = s.parent {
            children.entry(p).or_default().push((s.start_ns, s.end_ns));
        }
    }
    // (count, total, self) per name; no name nests in itself in this session.
    let mut expected: HashMap<&str, (u64, u64, u64)> = HashMap::new();
    for s in &spans {
        let mut kids = children.get(&s.id).cloned().unwrap_or_default();
        kids.sort_unstable();
        let (mut covered, mut reach) = (0, s.start_ns);
        for (start, end) in kids {
            let (start, end) = (start.max(reach), end.min(s.end_ns));
            if end > start {
                covered += end - start;
                reach = end;
            }
        }
        let duration = s.end_ns - s.start_ns;
        let row = expected.entry(&s.name).or_default();
        row.0 += 1;
        row.1 += duration;
        row.2 += duration - covered;
    }
    let analysis = analyze_reader(&data[..], "server", &Options::default()).unwrap();
    let summary = &analysis.summary;
    assert_eq!(summary.operations, spans.len() as u64);
    let actual: HashMap<&str, (u64, u64, u64)> = summary
        .by_name
        .iter()
        .map(|r| (r.name.as_str(), (r.count, r.total_ns, r.self_ns)))
        .collect();
    assert_eq!(actual, expected);
    // The connections are recognised as long-lived: the latest operation and the
    // critical path are one of their requests, not a whole connection.
    assert_eq!(
        summary.critical_path.first().map(String::as_str),
        Some("request")
    );
    assert_eq!(
        analysis.latest.as_ref().map(|t| &*t.root().name),
        Some("request")
    );
}
