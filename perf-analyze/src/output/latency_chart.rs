//! The HTML report's chart of user-facing latency over time: a bar per interval for
//! the mean, a tick for the longest request.

use std::fmt::Write;

use crate::analysis::latency::LatencySummary;
use crate::duration::human;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 160.0;
const LEFT: f64 = 70.0;

/// Appends the chart (a heading and an inline SVG) to `html`.
#[allow(clippy::cast_precision_loss)]
pub(super) fn latency_chart(html: &mut String, latency: &LatencySummary) {
    html.push_str("<h2>LATENCY OVER TIME (USER-FACING REQUESTS)</h2>\n");
    let buckets = &latency.buckets;
    let top = buckets.iter().map(|b| b.max_ns).max().unwrap_or(0);
    if top == 0 {
        html.push_str("<p>no requests</p>\n");
        return;
    }
    let _ = write!(
        html,
        "<p>Each bar: the mean duration of the requests that started in an interval of {}; \
         each tick: the longest of them.</p>\n<svg class=\"latency\" xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{WIDTH}\" height=\"{}\" role=\"img\" aria-label=\"latency over time\">\n",
        human(latency.bucket_ns),
        HEIGHT + 20.0
    );
    let step = (WIDTH - LEFT) / buckets.len() as f64;
    let y = |ns: u64| HEIGHT - ns as f64 / top as f64 * (HEIGHT - 10.0);
    for (i, b) in buckets.iter().enumerate() {
        if b.count == 0 {
            continue;
        }
        let x = LEFT + i as f64 * step;
        let _ = writeln!(
            html,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#4a7ab5\">\
             <title>started: {}, mean {}, max {}</title></rect>\
             <line x1=\"{x:.1}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#c0392b\"/>",
            y(b.mean_ns),
            (step - 1.0).max(1.0),
            HEIGHT - y(b.mean_ns),
            b.count,
            human(b.mean_ns),
            human(b.max_ns),
            x + (step - 1.0).max(1.0),
            y(b.max_ns),
            y(b.max_ns)
        );
    }
    let span = latency.bucket_ns.saturating_mul(buckets.len() as u64);
    let _ = write!(
        html,
        "<text x=\"0\" y=\"12\" font-size=\"11\">{}</text>\
         <text x=\"0\" y=\"{HEIGHT}\" font-size=\"11\">0</text>\
         <text x=\"{LEFT}\" y=\"{}\" font-size=\"11\">0s</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text>\n</svg>\n",
        human(top),
        HEIGHT + 15.0,
        WIDTH,
        HEIGHT + 15.0,
        human(span)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::latency::LatencyOverTime;

    #[test]
    fn draws_a_bar_per_interval_with_requests() {
        let mut l = LatencyOverTime::default();
        for i in 0..10u64 {
            l.add(i * 10_000_000, 1_000_000 * (i + 1));
        }
        let mut html = String::new();
        latency_chart(&mut html, &l.summary());
        assert_eq!(html.matches("<rect").count(), 10, "{html}");
        assert!(
            html.contains("started: 1, mean 10.0ms, max 10.0ms"),
            "{html}"
        );
        let mut empty = String::new();
        latency_chart(&mut empty, &LatencyOverTime::default().summary());
        assert!(empty.contains("no requests"));
    }
}
