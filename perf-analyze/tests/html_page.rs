//! The HTML report's timeline and what it keeps to draw it: the report's latest
//! operation with the background work beside it, from a bounded set of recent roots.

use perf_analyze::output::{PageData, MAX_DRAWN, RECENT_ROOTS, RECENT_SPANS};
use perf_analyze::{Options, RenderOptions};

const SESSION: &str = r#"{"type":"session","format":1,"session":"s","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#;

fn span(id: u64, parent: Option<u64>, name: &str, start: u64, end: u64) -> String {
    let parent = parent.map_or("null".to_owned(), |p| p.to_string());
    format!(
        r#"{{"type":"span","id":{id},"parent":{parent},"name":"{name}","target":"t","start_ns":{start},"end_ns":{end},"busy_ns":{},"enters":1,"thread":"main","status":"ok","fields":{{}}}}"#,
        end.saturating_sub(start)
    )
}

fn read(lines: &[String]) -> (perf_analyze::Analysis, PageData) {
    let data = format!("{SESSION}\n{}\n", lines.join("\n"));
    PageData::read(data.as_bytes(), "s.jsonl", &Options::default()).expect("a session")
}

/// The timeline's SVG.
fn timeline(page: &str) -> &str {
    let svg = &page[page.find("<svg class=\"timeline\"").expect("a timeline")..];
    &svg[..svg.find("</svg>").unwrap()]
}

#[test]
fn the_timeline_shows_the_report_s_latest_operation_with_the_work_that_started_beside_it() {
    // Two turns; a root that starts while the second runs and ends after it is
    // background work beside it, not the latest turn.
    let (analysis, page) = read(&[
        span(1, None, "first_turn", 0, 1_000),
        span(2, None, "second_turn", 2_000, 3_000),
        span(3, None, "beside", 2_500, 5_000),
    ]);
    let latest = analysis.latest.as_ref().expect("a latest operation");
    assert_eq!(&*latest.root().name, "second_turn");
    let html = analysis.render_html(&RenderOptions::default(), &page);
    let svg = timeline(&html);
    assert!(svg.contains(">second_turn<"), "{svg}");
    assert!(svg.contains(">beside<"), "{svg}");
    assert!(!svg.contains(">first_turn<"), "{svg}");
    assert_eq!(svg.matches("<rect").count(), 2, "{svg}");
}

#[test]
fn the_recent_roots_are_bounded_in_number_and_in_spans() {
    // Many small roots: only the latest RECENT_ROOTS are kept.
    let mut lines = Vec::new();
    let roots = RECENT_ROOTS as u64 * 3;
    for r in 0..roots {
        let id = 10 * r + 1;
        lines.push(span(id + 1, Some(id), "child", 100 * r, 100 * r + 5));
        lines.push(span(id, None, "root", 100 * r, 100 * r + 10));
    }
    let (_, page) = read(&lines);
    let recent = page.recent_roots();
    assert_eq!(recent.len(), RECENT_ROOTS);
    assert_eq!(recent.back().unwrap().0.root().id, 10 * (roots - 1) + 1);

    // A few huge roots: each is cut to MAX_DRAWN spans, and all to RECENT_SPANS.
    let mut lines = Vec::new();
    let children = 3 * MAX_DRAWN as u64;
    for r in 0..6u64 {
        let root = 1_000_000 * (r + 1);
        for c in 1..=children {
            lines.push(span(
                root + c,
                Some(root),
                "c",
                r * 1_000_000 + c,
                r * 1_000_000 + c + c % 7 + 1,
            ));
        }
        lines.push(span(
            root,
            None,
            "big",
            r * 1_000_000,
            r * 1_000_000 + children + 10,
        ));
    }
    let (_, page) = read(&lines);
    let recent = page.recent_roots();
    let kept: usize = recent.iter().map(|(t, _)| t.len()).sum();
    assert!(kept <= RECENT_SPANS, "{kept} spans kept");
    for (tree, lost) in recent {
        assert_eq!(tree.len(), MAX_DRAWN);
        assert_eq!(tree.len() + lost, children as usize + 1);
        // The longest children are kept: of 6,000 children about 857 last each of 1 to
        // 7 ns, so the 1,999 kept are those of 7 and 6 ns and some of 5.
        let durations = tree
            .children(0)
            .iter()
            .map(|&c| tree.span(c as usize).duration_ns());
        assert_eq!(durations.clone().min(), Some(5));
        assert_eq!(durations.filter(|&d| d == 7).count(), 857);
    }
}

#[test]
fn spans_of_a_background_root_cut_before_drawing_are_counted_as_not_drawn() {
    // A turn and a background root beside it with 5,000 children one after another:
    // 5,002 spans to draw, 2,000 drawn, whether the root was cut when kept or not.
    let mut lines = vec![span(1, None, "turn", 0, 100_000)];
    for c in 0..5_000u64 {
        lines.push(span(100 + c, Some(99), "step", 10 + 10 * c, 15 + 10 * c));
    }
    lines.push(span(99, None, "beside", 5, 60_000));
    let (analysis, page) = read(&lines);
    let report = analysis.html_report(&RenderOptions::default(), &page);
    assert_eq!(
        report.notes,
        [format!(
            "timeline: 3002 spans of the latest turn are not drawn: at most {MAX_DRAWN} are, the outermost and longest first"
        )]
    );
    assert_eq!(timeline(&report.page).matches("<rect").count(), MAX_DRAWN);
}
