//! The HTML report of odd sessions: spans outside their parents, deep nesting.

use perf_analyze::output::PageData;
use perf_analyze::{Options, RenderOptions};

const SESSION: &str = r#"{"type":"session","format":1,"session":"odd","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#;

fn span(id: u64, parent: Option<u64>, name: &str, start: u64, end: u64) -> String {
    let parent = parent.map_or("null".to_owned(), |p| p.to_string());
    format!(
        r#"{{"type":"span","id":{id},"parent":{parent},"name":"{name}","target":"t","start_ns":{start},"end_ns":{end},"busy_ns":{},"enters":1,"thread":"main","status":"ok","fields":{{}}}}"#,
        end.saturating_sub(start)
    )
}

fn html(lines: &[String]) -> String {
    let data = format!("{SESSION}\n{}\n", lines.join("\n"));
    let options = Options::default();
    let (analysis, page) = PageData::read(data.as_bytes(), "odd.jsonl", &options).unwrap();
    analysis.render_html(&RenderOptions::default(), &page)
}

/// The value of attribute `name` in an element's text.
fn attribute(element: &str, name: &str) -> f64 {
    let value = element
        .split(&format!(" {name}=\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no {name} in {element}"));
    value[..value.find('"').unwrap()].parse().unwrap()
}

/// The bars of the timeline: `(x, width)` of each `<rect>` in its SVG.
fn timeline_bars(html: &str) -> Vec<(f64, f64)> {
    let svg = &html[html.find("<svg class=\"timeline\"").expect("a timeline")..];
    let svg = &svg[..svg.find("</svg>").unwrap()];
    svg.split("<rect")
        .skip(1)
        .map(|rect| (attribute(rect, "x"), attribute(rect, "width")))
        .collect()
}

/// Every bar lies inside the drawing area (labels end at 110, the SVG at 1100).
fn assert_bars_inside(bars: &[(f64, f64)]) {
    for &(x, w) in bars {
        assert!(x >= 110.0 && x + w <= 1100.05, "bar at {x} wide {w}");
    }
}

#[test]
fn a_child_that_starts_before_its_root_is_drawn_inside_the_timeline() {
    let page = html(&[
        span(2, Some(1), "child", 0, 9_000),
        span(1, None, "root", 1_000, 2_000),
    ]);
    let bars = timeline_bars(&page);
    assert_eq!(bars.len(), 2);
    assert_bars_inside(&bars);
    // The child spans the whole window; the root is the ninth of it from 1/9.
    assert!((bars[1].0 - 110.0).abs() < 0.1, "{bars:?}");
    assert!((bars[0].0 - (110.0 + 990.0 / 9.0)).abs() < 0.1, "{bars:?}");
}

#[test]
fn background_work_that_began_before_the_turn_is_drawn_inside_the_timeline() {
    // A background root that follows from the turn but starts before it (clocks
    // of a bad file), and a root that ends at u64::MAX.
    let mut follows = span(3, None, "task", 0, 5_000);
    follows = follows.replace(r#""fields":{}"#, r#""fields":{},"follows_from":[1]"#);
    let page = html(&[span(1, None, "turn", 4_000, 6_000), follows]);
    let bars = timeline_bars(&page);
    assert!(!bars.is_empty());
    assert_bars_inside(&bars);

    let page = html(&[span(1, None, "turn", u64::MAX - 1, u64::MAX)]);
    assert_bars_inside(&timeline_bars(&page));
}
