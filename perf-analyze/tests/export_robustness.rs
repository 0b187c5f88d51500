//! The exports of odd sessions: nesting far deeper than any real program's,
//! sessions with nothing or almost nothing to draw.

mod cli_common;

use perf_analyze::export::folded::{self, Stacks, MAX_DEPTH, MERGED_FRAME};
use perf_analyze::export::{flamegraph, Session};
use perf_analyze::output::PageData;
use perf_analyze::{Options, RenderOptions};

const SESSION: &str = r#"{"type":"session","format":1,"session":"odd","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#;

/// A chain of `depth` spans, each with `step_ns` of self time on either side
/// of its child, written as the layer writes it (the deepest span first).
fn chain(depth: u64, step_ns: u64) -> String {
    let mut data = format!("{SESSION}\n");
    for id in (1..=depth).rev() {
        let parent = if id == 1 {
            "null".to_owned()
        } else {
            (id - 1).to_string()
        };
        let (start, end) = (id * step_ns, (2 * depth + 1 - id) * step_ns);
        data.push_str(&format!(
            r#"{{"type":"span","id":{id},"parent":{parent},"name":"level","target":"t","start_ns":{start},"end_ns":{end},"busy_ns":1,"enters":1,"thread":"main","status":"ok","fields":{{}}}}"#
        ));
        data.push('\n');
    }
    data
}

fn session(data: &str) -> Session {
    Session::read(data.as_bytes(), "odd.jsonl", &Options::default())
        .unwrap()
        .0
}

#[test]
fn stacks_deeper_than_the_limit_are_merged_into_one_frame() {
    let depth = 20_000;
    let stacks = Stacks::of(&session(&chain(depth, 1_000)));
    let max = MAX_DEPTH as u64;
    assert_eq!(stacks.merged_spans, depth - max);
    // One line per level above the limit, and one for the merged frame.
    assert_eq!(stacks.stacks.len(), MAX_DEPTH + 1);
    for (stack, ns) in &stacks.stacks {
        let frames: Vec<&str> = stack.split(';').collect();
        assert!(frames.len() <= MAX_DEPTH + 1, "{} frames", frames.len());
        if frames.len() == MAX_DEPTH + 1 {
            assert_eq!(frames.last(), Some(&MERGED_FRAME));
            // Every merged span has 2 µs of self time but the deepest, which has 1.
            assert_eq!(*ns, (depth - max - 1) * 2_000 + 1_000);
        } else {
            assert!(frames.iter().all(|&f| f == "level"));
            assert_eq!(*ns, 2_000);
        }
    }
    // The folded text says the same in µs.
    let text = folded::to_string(&session(&chain(depth, 1_000)));
    let merged = text
        .lines()
        .find(|l| l.contains(MERGED_FRAME))
        .expect("the merged frame");
    assert_eq!(
        merged.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap(),
        (depth - max - 1) * 2 + 1
    );
}

#[test]
fn a_flamegraph_of_a_very_deep_session_is_bounded() {
    let session = session(&chain(20_000, 1_000));
    let mut svg = Vec::new();
    flamegraph::write(&session, &mut svg).unwrap();
    let svg = String::from_utf8(svg).unwrap();
    // One frame per level up to the limit, the merged frame, and the "all" frame.
    assert_eq!(svg.matches("<g><title>").count(), MAX_DEPTH + 2);
    assert!(svg.contains(MERGED_FRAME));
}

#[test]
fn the_html_timeline_draws_deep_nesting_up_to_a_limit_and_says_so() {
    let data = chain(20_000, 1_000);
    let (analysis, page) =
        PageData::read(data.as_bytes(), "odd.jsonl", &Options::default()).unwrap();
    let page = analysis.render_html(&RenderOptions::default(), &page);
    let svg = &page[page.find("<svg class=\"timeline\"").unwrap()..];
    let svg = &svg[..svg.find("</svg>").unwrap()];
    assert_eq!(svg.matches("<rect").count(), 100);
    assert!(
        page.contains("<p>timeline: 19900 spans nested deeper than 100 levels are not drawn.</p>"),
        "no note on the undrawn spans"
    );
}

fn one_span(start_ns: u64, end_ns: u64) -> String {
    format!(
        "{SESSION}\n{}\n",
        format_args!(
            r#"{{"type":"span","id":1,"parent":null,"name":"tiny","target":"t","start_ns":{start_ns},"end_ns":{end_ns},"busy_ns":1,"enters":1,"thread":"main","status":"ok","fields":{{}}}}"#
        )
    )
}

#[test]
fn a_session_under_a_microsecond_still_has_a_flamegraph_in_nanoseconds() {
    let mut svg = Vec::new();
    flamegraph::write(&session(&one_span(0, 10)), &mut svg).unwrap();
    let svg = String::from_utf8(svg).unwrap();
    assert!(svg.contains("tiny (10 ns, 100.00%)"), "{svg}");

    // A real session keeps microseconds.
    let mut svg = Vec::new();
    flamegraph::write(&session(&one_span(0, 2_000_000)), &mut svg).unwrap();
    let svg = String::from_utf8(svg).unwrap();
    assert!(svg.contains("tiny (2,000 µs, 100.00%)"), "{svg}");
}

#[test]
fn a_session_without_self_time_has_no_flamegraph() {
    for data in [SESSION.to_owned(), one_span(5, 5)] {
        let mut svg = Vec::new();
        let error = flamegraph::write(&session(&data), &mut svg).unwrap_err();
        assert!(matches!(error, flamegraph::Error::NothingToDraw), "{error}");
        assert!(svg.is_empty());
    }
}

/// Runs `perf-analyze flamegraph` on `data` saved as `name`, writing
/// `out.svg` in the returned directory.
fn flamegraph_cli(name: &str, data: &str) -> (std::process::Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join(name);
    std::fs::write(&input, data).unwrap();
    let svg = dir.path().join("out.svg");
    let out = cli_common::bin()
        .arg("flamegraph")
        .arg(&input)
        .arg("-o")
        .arg(&svg)
        .output()
        .unwrap();
    (out, dir)
}

#[test]
fn the_flamegraph_command_names_the_input_that_has_nothing_to_draw() {
    for (name, data, says) in [
        ("empty.jsonl", String::new(), "no complete spans"),
        ("blank.jsonl", " \n\n\t\n".to_owned(), "no complete spans"),
        (
            "instant.jsonl",
            one_span(5, 5),
            "none of its 1 spans has measurable self time",
        ),
    ] {
        let (out, dir) = flamegraph_cli(name, &data);
        let svg = dir.path().join("out.svg");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        let error = stderr.lines().find(|l| l.starts_with("error: ")).unwrap();
        assert!(
            error.contains(name) && error.contains(says) && !error.contains("out.svg"),
            "{error}"
        );
        assert!(!svg.exists(), "an empty {} was left behind", svg.display());
    }
    let (out, dir) = flamegraph_cli("tiny.jsonl", &one_span(0, 10));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(dir.path().join("out.svg")).unwrap();
    assert!(svg.contains("tiny (10 ns"));
}
