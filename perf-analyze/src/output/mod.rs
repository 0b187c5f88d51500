//! The output layer: analyses rendered for people and for other tools.
//!
//! Every human-readable output is built as blocks of one presentation model
//! (a title, headings, lines, tables, preformatted trees) and drawn by one of
//! three renderers: plain text (tables by comfy-table), Markdown and HTML. The
//! report of a session, the [comparison](crate::analysis::compare) of runs, the
//! [trend](crate::analysis::trend) and the session list all go through it, so
//! each format says the same, escaped once. JSON is the serialized
//! [`Summary`](crate::Summary) or [`Comparison`](crate::analysis::compare::Comparison).
//!
//! The [`export`]s write whole sessions for other tools (Perfetto, flamegraphs,
//! speedscope).
//!
//! A new output format is a renderer of the blocks; a new view is a function that
//! builds blocks. This layer reads the analysis and input layers; neither reads it.

mod compare;
mod document;
pub mod export;
mod html;
mod latency_chart;
mod list;
mod markdown;
mod page;
mod report;
mod text;
mod trend;

pub use compare::CompareFormat;
pub use document::printable;
pub use html::{HtmlReport, MAX_DRAWN, MAX_ROWS};
pub use list::session_table;
pub use page::{PageData, RECENT_ROOTS, RECENT_SPANS};

use crate::analysis::Analysis;

/// Output formats of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A human-readable table.
    Table,
    /// The `performance_summary.json` document.
    Json,
    /// Markdown tables.
    Markdown,
}

/// How to render a report.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Add bottlenecks, recommendations, parallelism, critical path, async analysis, resources.
    pub detailed: bool,
    /// Table width in columns.
    pub width: u16,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            detailed: false,
            width: 120,
        }
    }
}

impl Analysis {
    /// Renders the report. JSON is always the whole summary, `detailed` or not.
    #[must_use]
    pub fn render(&self, format: Format, options: &RenderOptions) -> String {
        match format {
            Format::Json => self.summary_json(),
            Format::Table => text::render(&report::build(self, options), options.width),
            Format::Markdown => markdown::render(&report::build(self, options)),
        }
    }
}

/// What a session without spans usually means, said by the report and on stderr.
pub const NO_SPANS: &str = "No spans were recorded. Usually a filter hides them (spans are INFO by default: RUST_LOG=warn or an EnvFilter at warn records none), or the flush guard was dropped before the spans closed (keep it alive until the end of main).";
