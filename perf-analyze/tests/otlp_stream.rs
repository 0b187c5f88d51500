//! The OTLP export sent as the session is read, with a budget of held spans far below
//! the session's: every span once, with the same content as the export of the whole
//! session; traces and links that agree with each other; the traces of the whole
//! session wherever no span that was not a root had to be cut (and a warning counting
//! those that were); and the same bytes as the whole session's export when it fits.

use std::collections::{BTreeMap, BTreeSet};

use perf_analyze::export::{otlp, ExportFormat, Session};
use perf_analyze::{Options, VisitReport, Warning, WarningKind};
use proptest::prelude::*;
use serde_json::Value;

mod forest_common;

/// A span as exported: what identifies it in its trace, and the rest.
#[derive(Debug, Clone, PartialEq)]
struct Exported {
    trace: String,
    parent: Option<String>,
    /// (trace id, span id) of each link.
    links: Vec<(String, String)>,
    /// Name, times, kind, status and attributes.
    content: Value,
}

/// The spans of an OTLP JSON export by span id; checks that each line holds at most
/// [`otlp::BATCH_SPANS`] spans and no span comes twice.
fn spans(export: &[u8]) -> BTreeMap<String, Exported> {
    let mut spans = BTreeMap::new();
    for line in std::str::from_utf8(export).unwrap().lines() {
        let request: Value = serde_json::from_str(line).expect("a JSON line");
        let mut in_line = 0;
        for resource in request["resourceSpans"].as_array().unwrap() {
            for scope in resource["scopeSpans"].as_array().unwrap() {
                for span in scope["spans"].as_array().unwrap() {
                    in_line += 1;
                    let text = |key: &str| span[key].as_str().map(str::to_owned);
                    let links = span["links"]
                        .as_array()
                        .map(|links| {
                            links
                                .iter()
                                .map(|l| {
                                    let t = l["traceId"].as_str().unwrap().to_owned();
                                    (t, l["spanId"].as_str().unwrap().to_owned())
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let mut content = span.clone();
                    for key in ["traceId", "spanId", "parentSpanId", "links"] {
                        content.as_object_mut().unwrap().remove(key);
                    }
                    content["scope"] = scope["scope"].clone();
                    content["resource"] = resource["resource"].clone();
                    let exported = Exported {
                        trace: text("traceId").unwrap(),
                        parent: text("parentSpanId"),
                        links,
                        content,
                    };
                    let id = text("spanId").unwrap();
                    assert!(spans.insert(id.clone(), exported).is_none(), "{id} twice");
                }
            }
        }
        assert!(in_line <= otlp::BATCH_SPANS, "{in_line} spans in one line");
    }
    spans
}

/// The export of the whole session held in memory.
fn whole(data: &str) -> Vec<u8> {
    let (session, _) = Session::read(data.as_bytes(), "p", &Options::default()).expect("a read");
    let mut out = Vec::new();
    ExportFormat::Otlp
        .write(&session, &mut out)
        .expect("an export");
    out
}

/// The export sent as the session is read, with a budget of held spans.
fn streamed(data: &str, held: Option<usize>) -> (Vec<u8>, VisitReport) {
    let options = Options {
        hold_budget: held,
        ..Options::default()
    };
    let mut out = Vec::new();
    let report = otlp::write_read(data.as_bytes(), "p", &options, &mut out).expect("an export");
    (out, report)
}

/// The warnings about caps applied.
fn caps(report: &VisitReport) -> Vec<&Warning> {
    report
        .warnings
        .list()
        .iter()
        .filter(|w| w.kind == WarningKind::CapApplied)
        .collect()
}

/// The number a warning containing `what` starts with, 0 if there is none.
fn warned(report: &VisitReport, what: &str) -> usize {
    report
        .warnings
        .list()
        .iter()
        .find(|w| w.message.contains(what))
        .map_or(0, |w| {
            let digits: String = w.message.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().unwrap()
        })
}

const SPLIT: &str = "spans that were not roots held more than the budget";
const NEVER_CAME: &str = "did not come afterwards";
const LINKS_LEFT_OUT: &str = "follows_from links were left out";

/// A random forest whose spans with an id of 2 mod 5 close after their parent (so they
/// are read after it), and whose spans with an id of 1 mod 4 follow from another span
/// (some of them lost, some later, some in other trees).
fn forest(seeds: &[u64]) -> String {
    let mut spans = forest_common::with_lost_parents(seeds);
    let ends: BTreeMap<u64, u64> = spans.iter().map(|s| (s.id, s.end)).collect();
    for span in &mut spans {
        if let (2, Some(parent_end)) = (span.id % 5, span.parent.and_then(|p| ends.get(&p))) {
            span.end = parent_end + 1 + span.id % 7;
        }
    }
    let data = forest_common::jsonl(spans, false);
    let salt = seeds[0] % 97;
    data.lines()
        .map(|line| {
            let id = serde_json::from_str::<Value>(line).unwrap()["id"].as_u64();
            match id {
                Some(id) if id % 4 == 1 => line.replacen(
                    r#""fields":{}"#,
                    &format!(
                        r#""fields":{{}},"follows_from":[{}]"#,
                        (id * 7 + salt) % 40 + 1
                    ),
                    1,
                ),
                _ => line.to_owned(),
            }
        })
        .map(|line| line + "\n")
        .collect()
}

/// The links the input asks for: every span is exported.
fn follows_from_in(data: &str) -> usize {
    data.matches("\"follows_from\":[").count()
}

/// The checks of a streamed export against the whole one.
fn agrees_with_whole(data: &str, held: Option<usize>) {
    let whole = spans(&whole(data));
    let (streamed, report) = streamed(data, held);
    let streamed = spans(&streamed);
    assert_eq!(
        whole.keys().collect::<Vec<_>>(),
        streamed.keys().collect::<Vec<_>>(),
        "the same spans"
    );
    let (split, never_came) = (warned(&report, SPLIT), warned(&report, NEVER_CAME));
    let mut seen_split = 0;
    let mut links_kept = 0;
    let mut dangling = 0;
    for (id, s) in &streamed {
        let w = &whole[id];
        assert_eq!(s.content, w.content, "span {id}");
        // A parent in the export is in the same trace.
        if let Some(parent) = s.parent.as_ref().and_then(|p| streamed.get(p)) {
            assert_eq!(parent.trace, s.trace, "span {id} and its parent");
        }
        // Links name the trace their span is in; one to a span not exported names a
        // span that was cut and never came.
        let mut links: Vec<&(String, String)> = Vec::new();
        for link @ (trace, span) in &s.links {
            match streamed.get(span) {
                Some(linked) => {
                    assert_eq!(&linked.trace, trace, "span {id} links {span}");
                    links.push(link);
                }
                None => {
                    assert!(never_came > 0, "span {id} links {span}, not exported");
                    dangling += 1;
                }
            }
        }
        match (&w.parent, &s.parent) {
            (a, b) if a == b => {}
            // Cut: it roots a trace of its own, linked to its parent.
            (Some(parent), None) => {
                seen_split += 1;
                let link = links.iter().rposition(|(_, span)| span == parent);
                assert!(link.is_some(), "span {id} is not linked to its parent");
                links.remove(link.unwrap());
            }
            // Under a lost parent that was cut: the parent is not in the export.
            (None, Some(parent)) => {
                assert!(
                    never_came > 0,
                    "span {id}: parent {parent} without a warning"
                );
                assert!(!streamed.contains_key(parent), "span {id}");
            }
            (a, b) => panic!("span {id}: parent {a:?} became {b:?}"),
        }
        // The links kept are the whole export's, by span.
        let whole_links: BTreeSet<&String> = w.links.iter().map(|(_, s)| s).collect();
        for (_, span) in &links {
            assert!(whole_links.contains(span), "span {id}: link to {span}");
        }
        links_kept += links.len();
        if split == 0 && never_came == 0 {
            let links_agree = s.links == w.links || warned(&report, LINKS_LEFT_OUT) > 0;
            assert!(
                s.trace == w.trace && s.parent == w.parent && links_agree,
                "span {id} ({}): trace {} parent {:?} links {:?}; whole: {} {:?} {:?}",
                s.content["name"],
                s.trace,
                s.parent,
                s.links,
                w.trace,
                w.parent,
                w.links
            );
        }
    }
    // A span cut under a parent that never came links to it, as its children do.
    assert!(seen_split <= split, "spans cut under a parent, warned");
    if never_came == 0 {
        assert_eq!(seen_split, split, "spans cut under a parent, warned");
    }
    let asked = follows_from_in(data);
    let dropped = warned(&report, LINKS_LEFT_OUT);
    // Each link the input asks for is exported or warned about, and each span cut
    // under a parent adds one.
    assert_eq!(
        links_kept + dangling + seen_split,
        asked - dropped + split,
        "every link kept or counted"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn a_small_budget_exports_every_span_in_traces_that_agree(
        seeds in proptest::collection::vec(any::<u64>(), 1..64),
        held in 1usize..6,
        segments in 1usize..3,
    ) {
        let data = forest(&seeds).repeat(segments);
        agrees_with_whole(&data, Some(held));
    }

    #[test]
    fn a_session_within_the_budget_exports_the_same_bytes_as_held_whole(
        seeds in proptest::collection::vec(any::<u64>(), 1..64),
        segments in 1usize..3,
    ) {
        let data = forest(&seeds).repeat(segments);
        let (streamed, report) = streamed(&data, None);
        prop_assert!(streamed == whole(&data));
        prop_assert_eq!(warned(&report, SPLIT) + warned(&report, NEVER_CAME), 0);
        agrees_with_whole(&data, None);
    }
}

#[test]
fn a_server_whose_connections_are_roots_keeps_every_trace_whole_with_a_small_budget() {
    let mut data = Vec::new();
    perf_analyze::generate::write_server_session(&mut data, 20_000, 2, 7).unwrap();
    let data = String::from_utf8(data).unwrap();
    let whole = spans(&whole(&data));
    // Past a few dozen spans held, only the connections (roots) are cut.
    for held in [64, 500] {
        let (out, report) = streamed(&data, Some(held));
        assert!(caps(&report).is_empty(), "{:?}", caps(&report));
        let differ = spans(&out)
            .into_iter()
            .filter(|(id, s)| whole[id] != *s)
            .count();
        assert_eq!(differ, 0, "spans that differ with a budget of {held}");
    }
}

#[test]
fn a_span_cut_under_an_open_parent_roots_its_own_trace_linked_to_the_parent() {
    // server 1 (open throughout) > connection 2 (open) > 5 requests; a budget of 2.
    let mut spans: Vec<_> = (0..5)
        .map(|i| (10 + i, Some(2), 100 * i + 10, 100 * i + 20))
        .collect();
    spans.extend([(2, Some(1), 5, 600), (1, None, 0, 700)]);
    let data = session(&spans);
    let (out, report) = streamed(&data, Some(2));
    let ids = self::spans(&out);
    let id_of = |name: &str| {
        ids.iter()
            .find(|(_, s)| s.content["name"] == name)
            .unwrap()
            .0
    };
    let by_name = spans_by_name(&out);
    let (server, connection) = (&by_name["s1"], &by_name["s2"]);
    assert_eq!(connection.parent, None, "the cut connection roots a trace");
    assert_eq!(
        connection.links,
        vec![(server.trace.clone(), id_of("s1").clone())]
    );
    assert_ne!(connection.trace, server.trace);
    for request in (10..15).map(|id| &by_name[&format!("s{id}")]) {
        assert_eq!(request.trace, connection.trace);
        assert_eq!(request.parent.as_ref(), Some(id_of("s2")));
    }
    assert_eq!(warned(&report, SPLIT), 1);
    // With room for it all, one trace.
    let (out, report) = streamed(&data, Some(8));
    let traces: BTreeSet<String> = self::spans(&out).into_values().map(|s| s.trace).collect();
    assert_eq!(traces.len(), 1);
    assert!(caps(&report).is_empty(), "{:?}", caps(&report));
}

#[test]
fn children_that_outlive_their_parents_stay_in_their_parents_trace() {
    // A chain of 2,000 spans in which every span closes after its parent: each is read
    // after its parent was exported, and joins its trace.
    let chain: Vec<_> = (1..=2_000u64)
        .map(|i| (i, (i > 1).then(|| i - 1), i, 10_000 + i))
        .collect();
    let data = session(&chain);
    let whole = spans(&whole(&data));
    for held in [Some(4), Some(64), None] {
        let (out, report) = streamed(&data, held);
        assert!(caps(&report).is_empty(), "{:?}", caps(&report));
        let streamed = spans(&out);
        assert!(streamed == whole, "budget {held:?}");
        let traces: BTreeSet<&String> = streamed.values().map(|s| &s.trace).collect();
        assert_eq!(traces.len(), 1, "one trace, as the spans are one chain");
        let roots = streamed.values().filter(|s| s.parent.is_none()).count();
        assert_eq!(roots, 1);
    }
}

/// `span(id, parent, start, end)` lines after a session line.
fn session(spans: &[(u64, Option<u64>, u64, u64)]) -> String {
    let mut lines = vec![forest_common::jsonl(Vec::new(), false)
        .trim_end()
        .to_owned()];
    for &(id, parent, start, end) in spans {
        let parent = parent.map_or("null".to_owned(), |p| p.to_string());
        lines.push(format!(
            r#"{{"type":"span","id":{id},"parent":{parent},"name":"s{id}","target":"t","start_ns":{start},"end_ns":{end},"busy_ns":1,"enters":1,"thread":"main","status":"ok","fields":{{}}}}"#
        ));
    }
    lines.join("\n") + "\n"
}

#[test]
fn a_child_read_after_its_parent_was_held_joins_the_parents_group() {
    // c (2) closes under p (1), still open; enough work under 100 hands c over and
    // holds it; then d (3), c's child, closes after c, and (in the second case) a
    // sibling of d: they wait for c, which is held, not open.
    let filler = |from: u64| (from..from + 8).map(|id| (id, Some(100), 21, 22));
    for sibling in [false, true] {
        let mut spans = vec![(2, Some(1), 10, 20)];
        spans.extend(filler(200));
        spans.push((3, Some(2), 15, 50));
        if sibling {
            spans.push((4, Some(2), 16, 51));
        }
        spans.extend(filler(210));
        spans.push((1, None, 5, 60));
        spans.push((100, None, 0, 70));
        let data = session(&spans);
        let whole = spans_of_whole(&data);
        for held in [Some(2), Some(8), None] {
            let (out, report) = streamed(&data, held);
            assert!(caps(&report).is_empty(), "{:?}", caps(&report));
            let streamed = self::spans(&out);
            assert!(streamed == whole, "budget {held:?}, sibling {sibling}");
        }
        let d = whole.values().find(|s| s.content["name"] == "s3").unwrap();
        let p = whole.values().find(|s| s.content["name"] == "s1").unwrap();
        assert_eq!(d.trace, p.trace, "d is in p's trace");
    }
}

fn spans_of_whole(data: &str) -> BTreeMap<String, Exported> {
    spans(&whole(data))
}

#[test]
fn the_reading_stops_when_sending_fails() {
    /// A reader that counts the bytes read from it.
    struct Counting<'a>(&'a [u8], std::sync::Arc<std::sync::atomic::AtomicUsize>);
    impl std::io::Read for Counting<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.read(buf)?;
            self.1.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            Ok(n)
        }
    }
    let mut data = Vec::new();
    perf_analyze::generate::write_session(&mut data, 200_000, 7).unwrap();
    let read = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let input = std::io::BufReader::new(Counting(&data, read.clone()));
    let mut sent = 0;
    let result = otlp::each_request(input, "p", &Options::default(), |_| {
        sent += 1;
        Err(std::io::Error::other("the receiver is gone"))
    });
    let error = result.expect_err("the failure to send");
    assert!(
        error.to_string().contains("the receiver is gone"),
        "{error}"
    );
    assert_eq!(sent, 1, "nothing sent after the failure");
    let read = read.load(std::sync::atomic::Ordering::Relaxed);
    assert!(read < data.len() / 4, "read {read} of {} bytes", data.len());
}

#[test]
fn children_read_long_after_their_parent_was_exported_root_traces_of_their_own() {
    // 2 closes under root 1; 4,100 other roots; then five children of 2 and a root
    // that follows from 2: 2's trace is no longer known when they come.
    let mut spans = vec![(2, Some(1), 10, 20), (1, None, 5, 30)];
    spans.extend((100..4_200).map(|id| (id, None, 40, 50)));
    spans.extend((3..8).map(|id| (id, Some(2), 15, 60)));
    let mut data = session(&spans);
    data.push_str(
        &session(&[(8, None, 61, 62)])
            .lines()
            .nth(1)
            .unwrap()
            .replacen(r#""fields":{}"#, r#""fields":{},"follows_from":[2]"#, 1),
    );
    data.push('\n');
    let (out, report) = streamed(&data, Some(4));
    let streamed = spans_by_name(&out);
    let two = &streamed["s2"];
    for child in ["s3", "s4", "s5", "s6", "s7"] {
        let child = &streamed[child];
        // Not under 2 in a trace 2 is not in: a root of its own.
        assert!(child.parent.is_none(), "{child:?}");
        assert_ne!(child.trace, two.trace);
    }
    assert!(
        streamed["s8"].links.is_empty(),
        "no link to a trace 2 is not in"
    );
    assert_eq!(warned(&report, "after their parent was exported"), 5);
    assert_eq!(warned(&report, LINKS_LEFT_OUT), 1);
    assert_eq!(warned(&report, SPLIT) + warned(&report, NEVER_CAME), 0);
}

fn spans_by_name(out: &[u8]) -> BTreeMap<String, Exported> {
    spans(out)
        .into_values()
        .map(|s| (s.content["name"].as_str().unwrap().to_owned(), s))
        .collect()
}
