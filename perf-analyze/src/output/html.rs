//! The report as one self-contained HTML page.
//!
//! The page holds what the text report holds (header, tables, the latest
//! operation tree: the same document model rendered as HTML),
//! plus a timeline of the latest turn with the background work beside it
//! (inline SVG) and the flamegraph. It fetches nothing: styles are inline,
//! the timeline needs no script, and the flamegraph (inferno's interactive
//! SVG) is embedded as a `data:` URL in a sandboxed frame, where its script can
//! zoom and search without reaching the page. Every name and field is escaped.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::document::Block;
use super::export::folded::{Stacks, MAX_DEPTH, MERGED_FRAME};
use super::export::{flamegraph, Timeline, TrackKind};
use super::latency_chart::latency_chart;
use super::{report, PageData, RenderOptions};
use crate::analysis::Analysis;
use crate::input::Tree;

impl Analysis {
    /// Renders the report as one self-contained HTML page. `page` holds the stacks and
    /// the recent roots for the flamegraph and the timeline, read with the analysis
    /// ([`PageData::read`]).
    #[must_use]
    pub fn render_html(&self, options: &RenderOptions, page: &PageData) -> String {
        self.html_report(options, page).page
    }

    /// As [`Analysis::render_html`], with the caps the page applied (spans not drawn,
    /// frames merged), each a sentence also written on the page.
    #[must_use]
    pub fn html_report(&self, options: &RenderOptions, page: &PageData) -> HtmlReport {
        render(&report::build(self, options), self, page)
    }
}

/// The HTML report page and the caps it applied.
#[derive(Debug, Clone)]
pub struct HtmlReport {
    /// The page.
    pub page: String,
    /// One sentence per cap that applied (see [`MAX_DRAWN`], [`MAX_ROWS`] and
    /// [`MAX_DEPTH`]); the page says them too.
    pub notes: Vec<String>,
}

/// Escapes text for HTML content and attribute values.
#[must_use]
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

const STYLE: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
td,th{padding:2px 10px;border-bottom:1px solid #eee;text-align:left}
.num{text-align:right}
pre{background:#f6f8fa;padding:8px;overflow-x:auto}
svg.timeline text{font:11px sans-serif;fill:#fff;pointer-events:none}svg.timeline text.axis,svg.timeline text.lane{fill:#444}
iframe.flamegraph{width:100%;border:0}
";

/// Renders the report's blocks, then the timeline and the flamegraph.
fn render(blocks: &[Block], analysis: &Analysis, page: &PageData) -> HtmlReport {
    let name = &analysis.summary.session;
    let mut html = String::with_capacity(64 * 1024);
    let title = escape(name);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Performance report: {title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    );
    let mut in_list = false;
    for block in blocks {
        let bullet = matches!(block, Block::Bullet(..));
        if in_list && !bullet {
            html.push_str("</ul>\n");
        } else if !in_list && bullet {
            html.push_str("<ul>\n");
        }
        in_list = bullet;
        match block {
            Block::Title(title) => {
                let _ = writeln!(html, "<h1>{}</h1>", escape(title));
            }
            Block::Heading(heading) => {
                let _ = writeln!(html, "<h2>{}</h2>", escape(heading));
            }
            Block::Line(line) => {
                let _ = writeln!(html, "<p>{}</p>", escape(line));
            }
            Block::Bullet(level, line) => {
                let _ = writeln!(
                    html,
                    "<li style=\"margin-left:{}em\">{}</li>",
                    u32::from(*level) * 2,
                    escape(line)
                );
            }
            Block::Table {
                header,
                rows,
                right,
            } => table(&mut html, header, rows, right),
            Block::Framed {
                header,
                rows,
                right,
                ..
            } => table(&mut html, header, rows, right),
            Block::Pre(lines) => {
                html.push_str("<pre>");
                for line in lines {
                    let _ = writeln!(html, "{}", escape(line));
                }
                html.push_str("</pre>\n");
            }
            Block::End => {}
        }
    }
    if in_list {
        html.push_str("</ul>\n");
    }
    latency_chart(&mut html, &analysis.summary.latency_over_time);
    let mut notes = Vec::new();
    turn_timeline(&mut html, analysis, page, &mut notes);
    flamegraph_frame(&mut html, &page.stacks, &mut notes);
    html.push_str("</body>\n</html>\n");
    HtmlReport { page: html, notes }
}

fn table<H: AsRef<str>>(html: &mut String, header: &[H], rows: &[Vec<String>], right: &[usize]) {
    html.push_str("<table>\n<thead><tr>");
    for (i, column) in header.iter().enumerate() {
        let _ = write!(
            html,
            "<th{}>{}</th>",
            align(right, i),
            escape(column.as_ref())
        );
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        html.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let _ = write!(html, "<td{}>{}</td>", align(right, i), escape(cell));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table>\n");
}

fn align(right: &[usize], column: usize) -> &'static str {
    if right.contains(&column) {
        " class=\"num\""
    } else {
        ""
    }
}

#[allow(clippy::cast_precision_loss)]
fn seconds(ns: u64) -> String {
    format!("{:.3}s", ns as f64 / 1e9)
}

/// The deepest nesting the timeline draws (rows per lane).
pub const MAX_ROWS: usize = 100;

/// The most spans the timeline of the latest turn draws: past it, the outermost and
/// longest are drawn, and the page says how many were left out.
pub const MAX_DRAWN: usize = 2_000;

/// The latest operation (the report's breakdown: [`Analysis::latest`]) and the
/// background work it started or overlapped among the roots that closed last
/// ([`PageData::recent_roots`]), as bars on lanes (one lane per track, one row per
/// nesting depth).
#[allow(clippy::cast_precision_loss)]
fn turn_timeline(html: &mut String, analysis: &Analysis, page: &PageData, notes: &mut Vec<String>) {
    html.push_str("<h2>TIMELINE OF THE LATEST TURN</h2>\n");
    let Some(latest) = &analysis.latest else {
        html.push_str("<p>no operations</p>\n");
        return;
    };
    let root = latest.root();
    let ids_in_turn: std::collections::HashSet<(u32, u64)> = latest
        .nodes()
        .iter()
        .map(|n| (n.span.segment, n.span.id))
        .collect();
    // Roots beside it: those that follow from a span in it or start while it runs.
    let mut trees: Vec<Tree> = vec![latest.clone()];
    // Spans the recent roots beside it lost to their cut: not drawn either.
    let mut cut = 0;
    for (tree, lost) in page.recent_roots() {
        let span = tree.root();
        let same = (span.segment, span.id, span.start_ns) == (root.segment, root.id, root.start_ns);
        let follows = span
            .follows_from
            .iter()
            .any(|id| ids_in_turn.contains(&(span.segment, *id)));
        let overlaps = span.start_ns >= root.start_ns && span.start_ns < root.end_ns;
        if !same && (follows || overlaps) {
            trees.push(tree.clone());
            cut += lost;
        }
    }
    let timeline = Timeline::new(&trees, analysis.origin_ns());
    // The latest operation is the first tree: its root is span 0.
    let turn = 0;
    let turn_span = timeline.span(turn);
    let mut shown = Vec::new();
    let mut stack = vec![turn];
    while let Some(i) = stack.pop() {
        shown.push(i);
        stack.extend(timeline.span(i).children.iter().copied());
    }
    for &r in timeline.roots() {
        if r != turn && timeline.span(r).background {
            let mut stack = vec![r];
            while let Some(i) = stack.pop() {
                shown.push(i);
                stack.extend(timeline.span(i).children.iter().copied());
            }
        }
    }
    // The window holds every shown span, even a child that (in a bad file)
    // starts before its root or a background root that began earlier.
    let start = shown
        .iter()
        .map(|&i| timeline.span(i).start_ns)
        .min()
        .unwrap_or(turn_span.start_ns);
    let end = shown
        .iter()
        .map(|&i| timeline.span(i).end_ns)
        .max()
        .unwrap_or(start);
    let window = end.saturating_sub(start).max(1);

    // Depth of each shown span within its track: a parent is always shown
    // before its children, so one pass finds them all.
    let mut depth = vec![0usize; timeline.spans().len()];
    let mut placed = Vec::with_capacity(shown.len());
    let mut too_deep = 0usize;
    for &i in &shown {
        let track = timeline.span(i).track;
        let d = match timeline.span(i).parent {
            Some(p) if timeline.span(p).track == track => depth[p] + 1,
            _ => 0,
        };
        depth[i] = d;
        if d >= MAX_ROWS {
            too_deep += 1;
            continue;
        }
        placed.push((i, d));
    }
    // Past the cap, the outermost and then the longest spans are drawn.
    let over = placed.len().saturating_sub(MAX_DRAWN);
    if over > 0 {
        placed.sort_unstable_by_key(|&(i, d)| {
            (d, std::cmp::Reverse(timeline.span(i).duration_ns()), i)
        });
        placed.truncate(MAX_DRAWN);
    }
    let mut lanes: Vec<(usize, usize)> = Vec::new(); // (track, rows)
    let mut lane_of = vec![usize::MAX; timeline.tracks().len()];
    for &(i, d) in &placed {
        let track = timeline.span(i).track;
        match lane_of[track] {
            usize::MAX => {
                lane_of[track] = lanes.len();
                lanes.push((track, d + 1));
            }
            lane => lanes[lane].1 = lanes[lane].1.max(d + 1),
        }
    }
    lanes.sort_by_key(|&(t, _)| (timeline.tracks()[t].kind == TrackKind::Background, t));
    for (l, &(track, _)) in lanes.iter().enumerate() {
        lane_of[track] = l;
    }

    const WIDTH: f64 = 1100.0;
    const LABEL: f64 = 110.0;
    const ROW: usize = 18;
    const AXIS: usize = 20;
    let scale = (WIDTH - LABEL) / window as f64;
    let mut lane_top = Vec::with_capacity(lanes.len());
    let mut y = AXIS;
    for &(_, rows) in &lanes {
        lane_top.push(y);
        y += rows * ROW + 6;
    }
    let _ = writeln!(
        html,
        "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{y}\" \
         viewBox=\"0 0 {WIDTH} {y}\" role=\"img\" aria-label=\"timeline of the latest turn\">"
    );
    // Time axis: ticks at about every tenth of the window.
    for k in 0..=10u32 {
        let x = LABEL + (WIDTH - LABEL) * f64::from(k) / 10.0;
        let at = window as f64 * f64::from(k) / 10.0;
        let _ = writeln!(
            html,
            "<line x1=\"{x:.1}\" y1=\"14\" x2=\"{x:.1}\" y2=\"{y}\" stroke=\"#eee\"/>\
             <text class=\"axis\" x=\"{x:.1}\" y=\"11\" text-anchor=\"{}\">{:.2}s</text>",
            if k == 10 { "end" } else { "middle" },
            at / 1e9
        );
    }
    for (l, &(track, _)) in lanes.iter().enumerate() {
        let _ = writeln!(
            html,
            "<text class=\"lane\" x=\"2\" y=\"{}\">{}</text>",
            lane_top[l] + 13,
            escape(&timeline.tracks()[track].name)
        );
    }
    for (i, d) in placed {
        let span = timeline.span(i);
        let lane = lane_of[span.track];
        let offset = span.start_ns.saturating_sub(start);
        let x = LABEL + offset as f64 * scale;
        let w = (span.duration_ns() as f64 * scale).max(1.0);
        let top = lane_top[lane] + d * ROW;
        let fill = match (span.background, span.record.status) {
            (_, perf_layer::record::Status::Error) => "#c0392b",
            (false, _) => "#2e6da4",
            (true, _) => "#d98c1f",
        };
        let name = escape(&span.record.name);
        let _ = write!(
            html,
            "<g><title>{name} {} (from {:.3}s)</title>\
             <rect x=\"{x:.1}\" y=\"{top}\" width=\"{w:.1}\" height=\"{}\" rx=\"2\" fill=\"{fill}\"/>",
            seconds(span.duration_ns()),
            offset as f64 / 1e9,
            ROW - 2,
        );
        // A label only where it fits (about 6.5 px per character).
        let chars = ((w - 6.0) / 6.5).floor();
        if chars >= 4.0 {
            let label: String = span.record.name.chars().take(chars as usize).collect();
            let _ = write!(
                html,
                "<text x=\"{:.1}\" y=\"{}\">{}</text>",
                x + 3.0,
                top + 12,
                escape(&label)
            );
        }
        html.push_str("</g>\n");
    }
    html.push_str("</svg>\n");
    if too_deep > 0 {
        note(
            html,
            notes,
            format!(
                "timeline: {too_deep} spans nested deeper than {MAX_ROWS} levels are not drawn"
            ),
        );
    }
    let not_drawn = over + cut;
    if not_drawn > 0 {
        note(
            html,
            notes,
            format!(
                "timeline: {not_drawn} spans of the latest turn are not drawn: at most \
                 {MAX_DRAWN} are, the outermost and longest first"
            ),
        );
    }
}

/// Says on the page, and in `notes`, that a cap applied.
fn note(html: &mut String, notes: &mut Vec<String>, text: String) {
    let _ = writeln!(html, "<p>{}.</p>", escape(&text));
    notes.push(text);
}

/// The flamegraph in a sandboxed frame: its script runs in an opaque origin.
fn flamegraph_frame(html: &mut String, stacks: &Stacks, notes: &mut Vec<String>) {
    html.push_str("<h2>FLAMEGRAPH (self time)</h2>\n");
    if stacks.merged_spans > 0 {
        note(
            html,
            notes,
            format!(
                "flamegraph: {} spans nested deeper than {MAX_DEPTH} levels are merged into the frame \"{MERGED_FRAME}\"",
                stacks.merged_spans
            ),
        );
    }
    let mut svg = Vec::new();
    if let Err(error) = flamegraph::write_stacks(stacks, &stacks.session, &mut svg) {
        let _ = writeln!(html, "<p>{}</p>", escape(&error.to_string()));
        return;
    }
    let svg = String::from_utf8_lossy(&svg);
    let height = svg_height(&svg).unwrap_or(400);
    let _ = writeln!(
        html,
        "<iframe class=\"flamegraph\" title=\"flamegraph\" sandbox=\"allow-scripts\" height=\"{}\" \
         src=\"data:image/svg+xml;charset=utf-8,{}\"></iframe>",
        height + 8,
        percent_encode(&svg)
    );
}

/// The `height` of an SVG's root element.
fn svg_height(svg: &str) -> Option<u32> {
    let root = &svg[svg.find("<svg")?..];
    let root = &root[..root.find('>')?];
    let value = root.split("height=\"").nth(1)?;
    value[..value.find('"')?].parse().ok()
}

/// Percent-encodes everything but unreserved characters, so the text is safe
/// in a `data:` URL inside a double-quoted attribute.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_' | b'.' | b'~' | b' ' | b'/' | b':' | b'=' | b';' | b','
            )
        {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_leaves_plain_text_alone_and_escapes_markup() {
        assert!(matches!(escape("llm_generation"), Cow::Borrowed(_)));
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn percent_encoding_keeps_no_quote_or_line_break() {
        let encoded = percent_encode("a\"b\n<c>#%&'");
        assert_eq!(encoded, "a%22b%0A%3Cc%3E%23%25%26%27");
    }

    #[test]
    fn svg_height_reads_the_root_element() {
        assert_eq!(
            svg_height(r#"<?xml?><svg version="1.1" width="1200" height="342" x="1">"#),
            Some(342)
        );
        assert_eq!(svg_height("<svg>"), None);
    }
}
