//! Exports of a session for other tools: Chrome's trace format (Perfetto),
//! folded stacks and SVG flamegraphs, speedscope, OTLP JSON.
//!
//! The trace formats (Chrome, speedscope) draw the spans on one timeline, laid out
//! on tracks where they nest ([`Timeline`]); read from a file they lay the spans out
//! as they come, in memory bounded by a budget of spans and the number of tracks
//! ([`stream`]). Folded stacks and flamegraphs stream too, tree by tree
//! ([`folded::Stacks::read`]), as the report does, and OTLP sends each trace's spans
//! once its root is known, holding at most a budget of spans ([`otlp`]).

pub mod chrome;
pub mod flamegraph;
pub mod folded;
pub mod otlp;
mod session;
pub mod speedscope;
pub mod stream;
mod timeline;

use std::io::{BufRead, Write};
use std::path::Path;

use crate::input::VisitReport;
use crate::{Error, Options};

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
    pub fn write<W: Write>(self, session: &Session, out: W) -> std::io::Result<()> {
        match self {
            ExportFormat::Chrome => chrome::write(session, out),
            ExportFormat::Folded => folded::write(session, out),
            ExportFormat::Speedscope => speedscope::write(session, out),
            ExportFormat::Otlp => otlp::write(session, out),
        }
    }
}

impl ExportFormat {
    /// Reads a session from `input` (named `source` in messages) and writes it in this
    /// format as it is read, in memory bounded by open work, distinct stacks and the
    /// budgets of [`stream`] and [`otlp`], not by the file's size.
    ///
    /// # Errors
    /// As [`Session::read`]; a failure to write to `out` is [`Error::Write`] on the path
    /// `output`.
    pub fn write_read<R: BufRead + Send, W: Write>(
        self,
        input: R,
        source: &str,
        options: &Options,
        out: W,
    ) -> Result<VisitReport, Error> {
        match self {
            ExportFormat::Chrome => chrome::write_read(input, source, options, out),
            ExportFormat::Speedscope => speedscope::write_read(input, source, options, out),
            ExportFormat::Otlp => otlp::write_read(input, source, options, out),
            ExportFormat::Folded => {
                let (stacks, report) = folded::Stacks::read(input, source, options)?;
                folded::write_stacks(&stacks, out).map_err(write_error)?;
                Ok(report)
            }
        }
    }

    /// As [`ExportFormat::write_read`], from a data file or a session directory.
    ///
    /// # Errors
    /// As [`ExportFormat::write_read`].
    pub fn write_path<W: Write>(
        self,
        path: &Path,
        options: &Options,
        out: W,
    ) -> Result<VisitReport, Error> {
        match self {
            ExportFormat::Chrome => chrome::write_path(path, options, out),
            ExportFormat::Speedscope => speedscope::write_path(path, options, out),
            ExportFormat::Otlp => otlp::write_path(path, options, out),
            ExportFormat::Folded => {
                let (stacks, report) = folded::Stacks::read_path(path, options)?;
                folded::write_stacks(&stacks, out).map_err(write_error)?;
                Ok(report)
            }
        }
    }
}

/// A failure to write an export's output.
fn write_error(source: std::io::Error) -> Error {
    Error::Write {
        path: "output".into(),
        source,
    }
}
