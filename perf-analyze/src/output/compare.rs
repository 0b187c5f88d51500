//! A [`Comparison`] rendered: a framed table, Markdown (e.g. for a pull request
//! comment) or JSON.

use super::document::{Block, Frame};
use super::{markdown, text};
use crate::analysis::compare::{Comparison, Delta, OperationDelta, Verdict};

/// How to print a [`Comparison`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareFormat {
    /// A terminal table.
    Table,
    /// JSON (the [`Comparison`] serialized).
    Json,
    /// A Markdown table, e.g. for a pull request comment.
    Markdown,
}

impl Comparison {
    /// Renders the comparison; `width` pins the table width.
    ///
    /// ```
    /// use perf_analyze::analysis::compare::{compare, RunStats};
    /// use perf_analyze::output::CompareFormat;
    ///
    /// let run = RunStats { label: "a_b".into(), wall_ns: 1_000_000, tokens_per_s: None, operations: vec![] };
    /// let text = compare(&[run.clone()], &[run], 10.0).render(CompareFormat::Markdown, 100);
    /// assert!(text.starts_with("## Performance comparison\n\n- base: a\\_b\n"));
    /// ```
    #[must_use]
    pub fn render(&self, format: CompareFormat, width: u16) -> String {
        match format {
            CompareFormat::Json => {
                let mut json = serde_json::to_string_pretty(self).unwrap_or_default();
                json.push('\n');
                json
            }
            CompareFormat::Table => {
                let mut blocks: Vec<Block> =
                    header_lines(self).into_iter().map(Block::Line).collect();
                blocks.push(table(self));
                text::render(&blocks, width)
            }
            CompareFormat::Markdown => {
                let mut blocks = vec![Block::Heading("Performance comparison")];
                blocks.extend(header_lines(self).into_iter().map(|l| Block::Bullet(0, l)));
                blocks.push(table(self));
                markdown::render(&blocks)
            }
        }
    }
}

fn header_lines(c: &Comparison) -> Vec<String> {
    let side = |runs: &[String]| match runs {
        [one] => one.clone(),
        many => format!("{} runs ({})", many.len(), many.join(", ")),
    };
    let mut lines = vec![
        format!("base: {}", side(&c.base)),
        format!("new:  {}", side(&c.new)),
        format!(
            "wall time: {} -> {} ({}){}",
            ms(c.wall_ns.base),
            ms(c.wall_ns.new),
            pct(c.wall_ns.delta_pct),
            mark(c.wall_ns.verdict)
        ),
    ];
    if let Some(rate) = c.tokens_per_s {
        lines.push(format!(
            "LLM tokens/s: {:.1} -> {:.1} ({}){}",
            rate.base,
            rate.new,
            pct(rate.delta_pct),
            mark(rate.verdict)
        ));
    }
    let regressions = c.regressions();
    lines.push(if regressions.is_empty() && !c.has_regression() {
        format!(
            "no regression beyond {}% and the base's noise",
            c.threshold_pct
        )
    } else {
        format!(
            "REGRESSION beyond {}% and the base's noise: {}",
            c.threshold_pct,
            if regressions.is_empty() {
                "session totals".to_owned()
            } else {
                regressions.join(", ")
            }
        )
    });
    lines
}

fn table(c: &Comparison) -> Block {
    Block::Framed {
        frame: Frame::Box,
        header: COLUMNS.map(str::to_owned).to_vec(),
        rows: c.operations.iter().map(|op| cells(op).to_vec()).collect(),
        right: (1..6).collect(),
    }
}

fn cells(op: &OperationDelta) -> [String; 7] {
    let pair = |d: &Delta, f: fn(f64) -> String| {
        format!("{} -> {} ({})", f(d.base), f(d.new), pct(d.delta_pct))
    };
    [
        op.name.clone(),
        pair(&op.count, |v| format!("{v:.0}")),
        pair(&op.p50_ns, ms),
        pair(&op.p95_ns, ms),
        pair(&op.total_ns, ms),
        pair(&op.self_ns, ms),
        verdict_text(op.verdict).to_owned(),
    ]
}

const COLUMNS: [&str; 7] = [
    "operation",
    "count/run",
    "p50",
    "p95",
    "total/run",
    "self/run",
    "verdict",
];

fn verdict_text(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Regression => "REGRESSION",
        Verdict::Improvement => "improved",
        Verdict::Unchanged => "",
        Verdict::Added => "new",
        Verdict::Removed => "gone",
    }
}

fn mark(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Regression => "  REGRESSION",
        Verdict::Improvement => "  improved",
        _ => "",
    }
}

fn ms(ns: f64) -> String {
    format!("{:.1}ms", ns / 1e6)
}

fn pct(delta: Option<f64>) -> String {
    delta.map_or_else(|| "n/a".to_owned(), |d| format!("{d:+.1}%"))
}

#[cfg(test)]
mod tests {
    use crate::analysis::compare::{compare, OperationStats, RunStats};

    use super::*;

    #[test]
    fn markdown_escapes_names() {
        let base = [RunStats {
            label: "r".into(),
            wall_ns: 1_000_000_000,
            tokens_per_s: None,
            operations: vec![OperationStats {
                name: "a|b*c".into(),
                count: 1,
                total_ns: 1_000_000,
                self_ns: 1_000_000,
                p50_ns: 1_000_000,
                p95_ns: 1_000_000,
            }],
        }];
        let text = compare(&base, &base, 10.0).render(CompareFormat::Markdown, 100);
        assert!(text.contains("a\\|b\\*c"), "{text}");
    }
}
