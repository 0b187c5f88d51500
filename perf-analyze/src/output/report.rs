//! The report of one session, as blocks of the [document model](super::document).

use super::document::{clip, Block, NAME, REASONS, SEQUENTIAL};
use super::RenderOptions;
use crate::analysis::llm::LlmCall;
use crate::analysis::Analysis;
use crate::duration::{human, percent};
use crate::input::{SourceFormat, Span, Tree};
use crate::warning::{Warning, WarningKind};

const TOP_OPERATIONS: usize = 20;
const TREE_LINES: usize = 40;
const TREE_DEPTH: u32 = 12;
const LLM_ROWS: usize = 20;
const LIST_ROWS: usize = 10;
/// Says that children of the latest operation closed early and are not in its tree.
fn early_note(tree: &Tree) -> Option<String> {
    let n = tree.early_count();
    (n > 0).then(|| {
        format!(
            "{n} of its spans' children closed while more spans than the held-span budget ({} by default) were held under operations still running: their time counts, but they are not shown here nor on the critical path.",
            crate::input::HOLD_BUDGET
        )
    })
}

/// Said of the latest operation where long-lived roots hold the requests.
const REQUEST_OF_LONG_LIVED: &str =
    "A request of the latest long-lived root (connection, subscriber), of about median duration.";

fn opt(ns: Option<u64>) -> String {
    ns.map_or_else(|| "-".to_owned(), human)
}

fn more(blocks: &mut Vec<Block>, shown: usize, total: usize, what: &str) {
    if total > shown {
        blocks.push(Block::Line(format!(
            "... and {} more {what} (all in --format json)",
            total - shown
        )));
    }
}

pub(super) fn build(a: &Analysis, options: &RenderOptions) -> Vec<Block> {
    let s = &a.summary;
    let mut b = vec![Block::Title(format!(
        "PERFORMANCE REPORT - Session: {}",
        s.session
    ))];
    if let Some(started) = &s.started_at {
        b.push(Block::Line(format!("Started at: {started}")));
    }
    b.push(Block::Line(format!(
        "Wall time: {} (first start to last end)   Active: {} ({:.1}% of wall)",
        human(s.wall_ns),
        human(s.active_ns),
        percent(s.active_ns, s.wall_ns)
    )));
    b.push(Block::Line(format!(
        "Operations: {}   Open: {}   Dropped: {}   Errors: {}   Segments: {}",
        s.operations, s.open, s.dropped, s.errors, s.segments
    )));
    if s.operations == 0 && !a.segments.is_empty() {
        b.push(Block::Line(super::NO_SPANS.to_owned()));
    }
    b.push(Block::Line(workload_line(a)));
    if s.ended_abruptly {
        // Said here once, so the WARNINGS section leaves these out.
        let unended: Vec<String> = a
            .segments
            .iter()
            .filter(|seg| seg.segment.format == SourceFormat::PerfLayer && seg.end.is_none())
            .map(|seg| (seg.segment.index + 1).to_string())
            .collect();
        let which = match (a.segments.len(), unended.len()) {
            (1, _) => String::new(),
            (_, 1) => format!(" in segment {}", unended[0]),
            _ => format!(" in segments {}", unended.join(", ")),
        };
        b.push(Block::Line(format!(
            "Note: no end line{which}: the session is still running or ended abruptly (every complete line was read)."
        )));
    }
    if s.in_flight > 0 {
        let (spans, belong) = if s.in_flight == 1 {
            ("span", "belongs")
        } else {
            ("spans", "belong")
        };
        b.push(Block::Line(format!(
            "{} {spans} {belong} to operations still running (written when they close): counted in the totals, not as operations of their own.",
            s.in_flight
        )));
    }
    if s.dropped > 0 {
        b.push(Block::Line(format!(
            "Warning: {} records were dropped by the recorder: totals are lower bounds.",
            s.dropped
        )));
    }

    b.push(Block::Heading("TOP OPERATIONS BY TIME"));
    b.push(Block::Line(
        "Self = own time without children (working or waiting); Busy = time entered, children's included; % self = share of the own time of all spans but long-lived roots."
            .to_owned(),
    ));
    // The Python tracker's files record no busy time.
    let busy_known = a.format != Some(SourceFormat::Python);
    let self_sum: u64 = s.by_name.iter().map(|r| r.self_ns).sum();
    // A long-lived root's own time is waiting for requests: shares are of the rest.
    let work_sum = s.work_self_ns();
    // Operations only in background work are marked, where there is any.
    let any_background = s.background.background_roots > 0;
    if any_background {
        b.push(Block::Line(
            "(bg): only in background work, never in a user-facing turn or request.".to_owned(),
        ));
    }
    // Long-lived roots (mostly waiting for requests) after the work itself.
    let (roots, work): (Vec<_>, Vec<_>) = s.by_name.iter().partition(|r| s.is_long_lived(r));
    let rows = work
        .into_iter()
        .chain(roots)
        .take(TOP_OPERATIONS)
        .map(|r| {
            let (name, share) = if s.is_long_lived(r) {
                (format!("{} (long-lived)", r.name), "-".to_owned())
            } else if s.is_background_only(r) {
                (
                    format!("{} (bg)", r.name),
                    format!("{:.1}%", percent(r.self_ns, work_sum)),
                )
            } else {
                (
                    r.name.clone(),
                    format!("{:.1}%", percent(r.self_ns, work_sum)),
                )
            };
            vec![
                name,
                r.count.to_string(),
                human(r.total_ns),
                human(r.self_ns),
                if busy_known {
                    human(r.busy_ns)
                } else {
                    "-".to_owned()
                },
                share,
                human(r.mean_ns),
                human(r.p50_ns),
                human(r.p99_ns),
                human(r.max_ns),
            ]
        })
        .collect();
    b.push(Block::Table {
        header: vec![
            "Operation",
            "Count",
            "Total",
            "Self",
            "Busy",
            "% self",
            "Mean",
            "p50",
            "p99",
            "Max",
        ],
        rows,
        right: (1..10).collect(),
    });
    more(&mut b, TOP_OPERATIONS, s.by_name.len(), "operations");
    if self_sum > s.wall_ns.saturating_add(s.wall_ns / 1000) {
        b.push(Block::Line(format!(
            "Own time sums to {} in {} of wall time: operations ran concurrently (connections, background work, several threads).",
            human(self_sum),
            human(s.wall_ns)
        )));
    }

    if let Some(first) = s.recommendations.first() {
        b.push(Block::Line(format!(
            "Fix first: {} [{}] (saves about {} of user-facing time)",
            first.title,
            first.cause.as_str(),
            human(first.estimated_saving_ns)
        )));
    }

    if let Some(tree) = &a.latest {
        b.push(Block::Heading("LATEST OPERATION BREAKDOWN"));
        if s.workload.long_lived_roots > 0 {
            b.push(Block::Line(REQUEST_OF_LONG_LIVED.into()));
        }
        b.push(Block::Pre(breakdown(tree)));
        if let Some(line) = early_note(tree) {
            b.push(Block::Line(line));
        }
    }

    if !s.llm_calls.is_empty() {
        b.push(Block::Heading("LLM CALLS"));
        let skip = s.llm_calls.len().saturating_sub(LLM_ROWS);
        b.push(Block::Table {
            header: vec![
                "Called from",
                "Model",
                "Wall",
                "Load",
                "Prompt",
                "Gen",
                "Tok in/out",
                "Tok/s",
                "Overhead",
            ],
            rows: s.llm_calls.iter().skip(skip).map(llm_row).collect(),
            right: (2..9).collect(),
        });
        if s.llm_calls_total > LLM_ROWS as u64 {
            b.push(Block::Line(format!(
                "(the latest {} of {} calls)",
                s.llm_calls.len().min(LLM_ROWS),
                s.llm_calls_total
            )));
        }
    }

    if options.detailed {
        detailed(a, &mut b);
    }

    let warnings: Vec<&Warning> = a
        .warnings
        .list()
        .iter()
        .filter(|w| w.kind != WarningKind::NoEndLine)
        .collect();
    if !warnings.is_empty() {
        b.push(Block::Heading("WARNINGS"));
        for w in warnings.iter().take(LIST_ROWS) {
            b.push(Block::Bullet(0, w.to_string()));
        }
        let total = warnings.len() as u64 + a.warnings.suppressed();
        if total > LIST_ROWS as u64 {
            b.push(Block::Line(format!(
                "... and {} more warnings",
                total - LIST_ROWS as u64
            )));
        }
    }
    b.push(Block::End);
    b
}

/// User-facing work against background work, with busy time next to wall time.
fn workload_line(a: &Analysis) -> String {
    let s = &a.summary;
    let w = &s.workload;
    let mut line = format!(
        "User-facing: {} requests or turns, {} in all ({:.2}/s)",
        w.requests,
        human(w.request_ns),
        w.requests_per_s
    );
    if w.long_lived_requests > 0 {
        let roots = w.requests - w.long_lived_requests;
        let others = if roots > 0 {
            format!(
                "; {roots} other roots, {} in all",
                human(w.request_ns - w.long_lived_request_ns)
            )
        } else {
            String::new()
        };
        line = format!(
            "User-facing: {} requests of long-lived roots ({:.2}/s), {} in all{others}",
            w.long_lived_requests,
            w.requests_per_s * w.long_lived_requests as f64 / w.requests.max(1) as f64,
            human(w.long_lived_request_ns),
        );
    }
    let (roots, bg) = s
        .background
        .background
        .iter()
        .filter(|r| !w.long_lived_names.contains(&r.name))
        .fold((0, 0), |(n, t), r| (n + r.count, t + r.total_ns));
    if roots > 0 {
        line.push_str(&format!(
            "   Background: {roots} {}, {} in all",
            if roots == 1 { "root" } else { "roots" },
            human(bg)
        ));
    }
    if w.long_lived_roots > 0 {
        line.push_str(&format!(
            "   Long-lived roots: {} ({})",
            w.long_lived_roots,
            w.long_lived_names.join(", ")
        ));
    }
    line
}

fn llm_row(c: &LlmCall) -> Vec<String> {
    let tokens = match (c.input_tokens, c.output_tokens) {
        (None, None) => "-".to_owned(),
        (i, o) => format!(
            "{}/{}",
            i.map_or("-".into(), |v| v.to_string()),
            o.map_or("-".into(), |v| v.to_string())
        ),
    };
    vec![
        c.caller
            .clone()
            .unwrap_or_else(|| format!("{} (root)", c.name)),
        c.model.clone().unwrap_or_else(|| "-".into()),
        human(c.wall_ns),
        opt(c.load_ns),
        opt(c.prompt_eval_ns),
        opt(c.eval_ns),
        tokens,
        c.tokens_per_s.map_or("-".into(), |t| format!("{t:.1}")),
        opt(c.overhead_ns),
    ]
}

/// The useful fields of a span, for the breakdown: prompt size, tokens, speed, status.
fn annotation(span: &Span) -> String {
    let mut parts = Vec::new();
    if span.raw_fields.is_some() {
        let f = span.fields();
        if let Some(chars) = f.get("prompt_chars").and_then(|v| v.as_u64()) {
            parts.push(format!("prompt: {chars} chars"));
        }
        if let Some(call) = LlmCall::from_span(span) {
            if let (Some(i), Some(o)) = (call.input_tokens, call.output_tokens) {
                parts.push(format!("tokens: {i} in / {o} out"));
            }
            if let Some(t) = call.tokens_per_s {
                parts.push(format!("{t:.1} tokens/s"));
            }
        }
    }
    match span.status {
        perf_layer::record::Status::Ok => {}
        other => parts.push(other.as_str().to_owned()),
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

fn tree_line(depth: u32, name: &str, value: &str, extra: &str) -> String {
    let indent = 2 * depth.min(TREE_DEPTH) as usize;
    let width = 32usize.saturating_sub(indent).max(1);
    let name = clip(name, NAME);
    format!("{:indent$}{name:<width$} {value:>9}{extra}", "")
}

fn breakdown(tree: &Tree) -> Vec<String> {
    let mut lines = Vec::new();
    let mut hidden = 0usize;
    for node in tree.nodes() {
        if lines.len() >= TREE_LINES || node.depth > TREE_DEPTH {
            hidden += 1;
            continue;
        }
        let span = &node.span;
        lines.push(tree_line(
            node.depth,
            &span.name,
            &human(span.duration_ns()),
            &annotation(span),
        ));
    }
    if hidden > 0 {
        lines.push(format!("... {hidden} more spans in this tree"));
    }
    lines
}

fn detailed(a: &Analysis, b: &mut Vec<Block>) {
    let s = &a.summary;
    b.push(Block::Heading("BOTTLENECKS"));
    if s.bottlenecks.is_empty() {
        b.push(Block::Line("None above the thresholds.".into()));
    } else {
        b.push(Block::Table {
            header: vec!["Severity", "Operation", REASONS],
            rows: s
                .bottlenecks
                .iter()
                .take(LIST_ROWS)
                .map(|x| {
                    vec![
                        x.severity.as_str().to_owned(),
                        x.name.clone(),
                        x.reasons.join("; "),
                    ]
                })
                .collect(),
            right: vec![],
        });
        more(b, LIST_ROWS, s.bottlenecks.len(), "bottlenecks");
    }

    b.push(Block::Heading("RECOMMENDATIONS"));
    if s.recommendations.is_empty() {
        b.push(Block::Line("Nothing stands out.".into()));
    }
    for (i, r) in s.recommendations.iter().take(LIST_ROWS).enumerate() {
        b.push(Block::Line(format!(
            "{}. [{}] {} (estimated saving {})",
            i + 1,
            r.cause.as_str(),
            r.title,
            human(r.estimated_saving_ns)
        )));
        for evidence in &r.evidence {
            b.push(Block::Bullet(1, format!("Evidence: {evidence}")));
        }
        for suggestion in &r.suggestions {
            b.push(Block::Bullet(1, suggestion.clone()));
        }
    }
    more(b, LIST_ROWS, s.recommendations.len(), "recommendations");

    b.push(Block::Heading("PARALLELIZATION OPPORTUNITIES"));
    if s.parallelism.is_empty() {
        b.push(Block::Line(
            "No sequential siblings with a material saving.".into(),
        ));
    } else {
        b.push(Block::Table {
            header: vec![
                "Parent",
                SEQUENTIAL,
                "Times",
                "Sequential",
                "Parallel",
                "Saving",
            ],
            rows: s
                .parallelism
                .iter()
                .take(LIST_ROWS)
                .map(|p| {
                    vec![
                        p.parent.clone(),
                        p.operations.join(", "),
                        p.occurrences.to_string(),
                        human(p.sequential_ns),
                        human(p.parallel_ns),
                        human(p.saving_ns),
                    ]
                })
                .collect(),
            right: vec![2, 3, 4, 5],
        });
        more(b, LIST_ROWS, s.parallelism.len(), "opportunities");
    }

    b.push(Block::Heading("CRITICAL PATH (LATEST OPERATION)"));
    if s.workload.long_lived_roots > 0 {
        b.push(Block::Line(REQUEST_OF_LONG_LIVED.into()));
    }
    if let Some(line) = a.latest.as_ref().and_then(early_note) {
        b.push(Block::Line(line));
    }
    let mut lines: Vec<String> = a
        .critical_path
        .iter()
        .take(TREE_LINES)
        .map(|step| {
            tree_line(
                step.depth,
                &step.name,
                &human(step.duration_ns),
                &format!("  self {}", human(step.self_ns)),
            )
        })
        .collect();
    if a.critical_path.len() > TREE_LINES {
        lines.push(format!(
            "... {} more steps",
            a.critical_path.len() - TREE_LINES
        ));
    }
    if lines.is_empty() {
        b.push(Block::Line("No spans.".into()));
    } else {
        b.push(Block::Pre(lines));
    }

    let bg = &s.background;
    b.push(Block::Heading("ASYNC ANALYSIS"));
    b.push(Block::Line(format!(
        "Foreground roots: {}   Background roots: {} (follows_from, or started while foreground work of another name ran)",
        bg.foreground_roots, bg.background_roots
    )));
    if bg.background_roots > 0 {
        b.push(Block::Line(format!(
            "Background time overlapping foreground work: {}   running alone (serialized): {}",
            human(bg.overlapped_ns),
            human(bg.serialized_ns)
        )));
        b.push(Block::Table {
            header: vec![
                "Background operation",
                "Count",
                "Total",
                "Overlapped",
                "Serialized",
            ],
            rows: bg
                .background
                .iter()
                .take(LIST_ROWS)
                .map(|r| {
                    vec![
                        r.name.clone(),
                        r.count.to_string(),
                        human(r.total_ns),
                        human(r.overlapped_ns),
                        human(r.serialized_ns),
                    ]
                })
                .collect(),
            right: vec![1, 2, 3, 4],
        });
    }
    if !bg.idle.is_empty() {
        b.push(Block::Line(
            "Waiting, not working (idle far longer than busy):".into(),
        ));
        b.push(Block::Table {
            header: vec!["Operation", "Count", "Idle", "Busy"],
            rows: bg
                .idle
                .iter()
                .take(LIST_ROWS)
                .map(|r| {
                    vec![
                        r.name.clone(),
                        r.count.to_string(),
                        human(r.idle_ns),
                        human(r.busy_ns),
                    ]
                })
                .collect(),
            right: vec![1, 2, 3],
        });
    }
    if !bg.batching.is_empty() {
        b.push(Block::Line(
            "Many small repeated calls under one parent (batch them):".into(),
        ));
        b.push(Block::Table {
            header: vec!["Parent", "Operation", "Parents", "Calls", "Total", "Mean"],
            rows: bg
                .batching
                .iter()
                .take(LIST_ROWS)
                .map(|r| {
                    vec![
                        r.parent.clone(),
                        r.operation.clone(),
                        r.occurrences.to_string(),
                        r.calls.to_string(),
                        human(r.total_ns),
                        human(r.mean_ns),
                    ]
                })
                .collect(),
            right: vec![2, 3, 4, 5],
        });
    }

    b.push(Block::Heading("RESOURCE USE BY CATEGORY"));
    // Shares of the summed own time: concurrent work can sum to more than active time.
    let self_sum: u64 = s.resources.iter().map(|r| r.self_ns).sum();
    b.push(Block::Table {
        header: vec!["Category", "Spans", "Self", "% self"],
        rows: s
            .resources
            .iter()
            .map(|r| {
                vec![
                    r.category.as_str().to_owned(),
                    r.count.to_string(),
                    human(r.self_ns),
                    format!("{:.1}%", percent(r.self_ns, self_sum)),
                ]
            })
            .collect(),
        right: vec![1, 2, 3],
    });
}
