//! The worst shapes a session can take, generated: every export and the HTML report
//! finish on them with bounded output, and say which caps they applied.

use std::sync::mpsc;
use std::time::Duration;

use perf_analyze::export::folded::MAX_DEPTH;
use perf_analyze::export::{chrome, speedscope, Session, Timeline};
use perf_analyze::output::PageData;
use perf_analyze::output::MAX_DRAWN;
use perf_analyze::Options;

mod worst_common;

use worst_common::{deep_chains, file_of, session_of, span};

/// Runs `work` on another thread and fails if it has not finished after `limit`: a
/// guard against a hang (or a quadratic blow-up), far above the time the work needs.
fn finishes<T: Send + 'static>(limit: Duration, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("did not finish within {limit:?}"))
}

/// On each track, any two spans nest or do not overlap at all.
fn assert_tracks_nest(timeline: &Timeline<'_>) {
    for (t, _) in timeline.tracks().iter().enumerate() {
        let mut open: Vec<u64> = Vec::new(); // ends of the spans enclosing the current one
        for i in timeline.track_order(t) {
            let span = timeline.span(i);
            while open.last().is_some_and(|&end| end <= span.start_ns) {
                open.pop();
            }
            if let Some(&end) = open.last() {
                assert!(
                    span.end_ns <= end,
                    "span {i} overlaps its track's enclosing span"
                );
            }
            open.push(span.end_ns);
        }
    }
}

/// Lays out `n` spans that all overlap, as roots or as children of one root, and
/// exports them: each needs a track of its own.
fn overlapping(n: u64, as_children: bool) -> (usize, usize, usize) {
    let session = session_of(
        (1..=n)
            .map(|i| {
                let parent = as_children.then_some(n + 1);
                span(i, parent, "overlap", i, 10 * n + i)
            })
            .chain(as_children.then(|| span(n + 1, None, "root", 0, 20 * n))),
    );
    let timeline = session.timeline();
    assert_tracks_nest(&timeline);
    let (mut trace, mut profile) = (Vec::new(), Vec::new());
    chrome::write(&session, &mut trace).expect("a trace");
    speedscope::write(&session, &mut profile).expect("a profile");
    (timeline.tracks().len(), trace.len(), profile.len())
}

#[test]
fn a_hundred_thousand_overlapping_roots_are_laid_out_on_as_many_tracks() {
    let n = 100_000;
    let (tracks, trace, profile) =
        finishes(Duration::from_secs(120), move || overlapping(n, false));
    // The first root is foreground; every later one starts while it runs: background.
    assert_eq!(tracks, n as usize);
    assert!(trace > 0 && profile > 0);
}

#[test]
fn a_hundred_thousand_concurrent_children_are_laid_out_on_as_many_tracks() {
    let n = 100_000;
    let (tracks, _, _) = finishes(Duration::from_secs(120), move || overlapping(n, true));
    // The root's track holds the first child; each other child needs its own.
    assert_eq!(tracks, n as usize);
}

#[test]
fn children_that_outlive_their_parents_down_a_long_chain_are_laid_out() {
    // Each span starts inside its parent and ends after it: none can nest.
    let n = 50_000u64;
    let timeline_tracks = finishes(Duration::from_secs(120), move || {
        let session = session_of((1..=n).rev().map(|i| {
            let parent = (i > 1).then(|| i - 1);
            span(i, parent, "outlives", i, 10 * n + 2 * i)
        }));
        let timeline = session.timeline();
        assert_tracks_nest(&timeline);
        timeline.tracks().len()
    });
    assert_eq!(timeline_tracks, n as usize);
}

#[test]
fn spans_that_end_before_the_next_starts_share_one_track() {
    // The lowest free track is reused: a thousand spans one after another, each with
    // a concurrent child, need two tracks, not a thousand.
    let session = session_of((0..1000u64).flat_map(|k| {
        let (root, child) = (2 * k + 1, 2 * k + 2);
        [
            span(child, Some(root), "late", 100 * k + 50, 100 * k + 95),
            span(root, None, "turn", 100 * k, 100 * k + 90),
        ]
    }));
    let timeline = session.timeline();
    assert_tracks_nest(&timeline);
    assert_eq!(timeline.tracks().len(), 2);
}

/// Analyzes and renders the HTML report of a session given as lines.
fn html_of(lines: impl IntoIterator<Item = String>) -> perf_analyze::output::HtmlReport {
    let data = file_of(lines);
    let (analysis, page) =
        PageData::read(data.as_bytes(), "worst.jsonl", &Options::default()).expect("a session");
    analysis.html_report(&perf_analyze::RenderOptions::default(), &page)
}

#[test]
fn the_html_report_draws_a_bounded_number_of_spans_of_a_huge_turn_and_says_so() {
    let children = 50_000u64;
    let (page, notes) = finishes(Duration::from_secs(120), move || {
        let report = html_of(
            (2..=children + 1)
                .map(|i| span(i, Some(1), "step", 1_000 * i, 1_000 * i + 500))
                .chain([span(1, None, "turn", 0, 1_000 * (children + 2))]),
        );
        (report.page, report.notes)
    });
    // The timeline's bars only: the latency chart above it draws bars of its own.
    let timeline = &page[page.find("<svg class=\"timeline\"").expect("a timeline")..];
    let timeline = &timeline[..timeline.find("</svg>").expect("the timeline ends")];
    let bars = timeline.matches("<rect ").count();
    assert_eq!(bars, MAX_DRAWN, "bars drawn");
    let left_out = children as usize + 1 - MAX_DRAWN;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with(&format!(
            "timeline: {left_out} spans of the latest turn are not drawn"
        )),
        "{notes:?}"
    );
    assert!(page.contains(&format!("<p>timeline: {left_out} spans")));
    // Bounded: a fixed cost per drawn bar, not per span.
    assert!(page.len() < 2_000_000, "{} bytes", page.len());
}

#[test]
fn deep_chains_are_folded_and_drawn_to_a_bounded_depth_and_say_so() {
    // 20 chains 2,000 deep, names distinct per chain: the stacks would hold
    // 20 * 2000^2 / 2 frames without the depth cap.
    let (chains, depth) = (20u64, 2_000u64);
    let lines = deep_chains(chains, depth);
    let report = finishes(Duration::from_secs(120), move || html_of(lines));
    let merged = chains * (depth - MAX_DEPTH as u64);
    assert!(
        report.notes.iter().any(|n| n.starts_with(&format!(
            "flamegraph: {merged} spans nested deeper than {MAX_DEPTH} levels are merged"
        ))),
        "{:?}",
        report.notes
    );
    // One flamegraph frame per span up to the cap, one merged frame per chain.
    let frames = report.page.matches("%3Cg%3E%3Ctitle%3E").count();
    assert_eq!(frames as u64, chains * (MAX_DEPTH as u64 + 1) + 1);
    assert!(
        report.page.len() < 30_000_000,
        "{} bytes",
        report.page.len()
    );
}

#[test]
fn a_long_parent_cycle_whose_spans_outlive_their_parents_is_exported() {
    // 20,000 spans, each naming the next as parent and the last naming the first; each
    // starts inside its parent and ends after it.
    let n = 20_000u64;
    let (trace, warnings) = finishes(Duration::from_secs(120), move || {
        let data = file_of((1..=n).map(|i| {
            let parent = if i == n { 1 } else { i + 1 };
            span(i, Some(parent), "cycle", n - i, 3 * n - i + 5)
        }));
        let (session, _) =
            Session::read(data.as_bytes(), "cycle.jsonl", &Options::default()).expect("a session");
        let (analysis, page) =
            PageData::read(data.as_bytes(), "cycle.jsonl", &Options::default()).expect("a session");
        assert_eq!(
            session.trees().iter().map(|t| t.len()).sum::<usize>(),
            n as usize
        );
        assert_tracks_nest(&session.timeline());
        let mut trace = Vec::new();
        chrome::write(&session, &mut trace).expect("a trace");
        speedscope::write(&session, &mut Vec::new()).expect("a profile");
        let _ = analysis.html_report(&perf_analyze::RenderOptions::default(), &page);
        let warnings: Vec<String> = analysis
            .warnings()
            .iter()
            .map(ToString::to_string)
            .collect();
        (trace, warnings)
    });
    let trace: serde_json::Value = serde_json::from_slice(&trace).expect("JSON");
    let spans = trace["traceEvents"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["ph"] == "X")
        .count();
    assert_eq!(spans, n as usize);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("is in a parent cycle: treated as a root")),
        "{warnings:?}"
    );
}
