//! Exports of a session for other tools: Chrome's trace format (Perfetto),
//! folded stacks and SVG flamegraphs, speedscope, OTLP JSON.
//!
//! The trace formats (Chrome, speedscope) read the whole [`Session`] (every root
//! tree) and draw from its [`Timeline`]: the spans on one timeline, laid out on
//! tracks where they nest. Folded stacks and flamegraphs can stream instead, tree by
//! tree ([`folded::Stacks::read`]), as the report does.

pub mod chrome;
pub mod flamegraph;
pub mod folded;
pub mod otlp;
mod session;
pub mod speedscope;
mod timeline;

pub use session::Session;
pub use timeline::{Placed, Timeline, Track, TrackKind};

/// The formats of `perf-analyze export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Chrome's Trace Event JSON ([`chrome`]).
    Chrome,
    /// Folded stacks ([`folded`]).
    Folded,
    /// speedscope's JSON ([`speedscope`]).
    Speedscope,
    /// OTLP JSON lines ([`otlp`]).
    Otlp,
}

impl ExportFormat {
    /// Writes the session in this format.
    ///
    /// # Errors
    /// When writing to `out` fails.
    pub fn write<W: std::io::Write>(self, session: &Session, out: W) -> std::io::Result<()> {
        match self {
            ExportFormat::Chrome => chrome::write(session, out),
            ExportFormat::Folded => folded::write(session, out),
            ExportFormat::Speedscope => speedscope::write(session, out),
            ExportFormat::Otlp => otlp::write(session, out),
        }
    }
}
