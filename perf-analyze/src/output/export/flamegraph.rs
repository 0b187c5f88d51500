//! An SVG flamegraph of the folded stacks, drawn by `inferno`.
//!
//! ```
//! use perf_analyze::export::{flamegraph, Session};
//!
//! let data = concat!(
//!     r#"{"type":"session","format":1,"session":"s","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#, "\n",
//!     r#"{"type":"span","id":1,"parent":null,"name":"turn","target":"t","start_ns":0,"end_ns":2000000,"busy_ns":2000000,"enters":1,"thread":"main","status":"ok","fields":{}}"#, "\n",
//! );
//! let (session, _) = Session::read(data.as_bytes(), "mem", &Default::default())?;
//! let mut svg = Vec::new();
//! flamegraph::write(&session, &mut svg)?;
//! assert!(String::from_utf8(svg)?.contains("turn"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, Write};

use inferno::flamegraph::{self as inferno_flamegraph, Options};

use super::folded::Stacks;
use super::Session;

/// Why a flamegraph was not drawn.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No span has any self time: there is nothing to draw.
    #[error("no spans with measurable self time: nothing to draw")]
    NothingToDraw,
    /// Rendering or writing the SVG failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Renders the session's folded stacks as an SVG flamegraph of self time.
///
/// The colours are derived from the names, so the same session gives the
/// same picture. Counts are in µs, or in ns for a session whose self time
/// is under a millisecond or would lose more than 0.1% to rounding, so even a
/// tiny session renders.
///
/// # Errors
/// [`Error::NothingToDraw`] when no span has self time (nothing is written
/// then), [`Error::Io`] when writing to `out` fails.
pub fn write<W: Write>(session: &Session, out: W) -> Result<(), Error> {
    write_stacks(&Stacks::of(session), session.name(), out)
}

/// Renders stacks already folded (for the session named `session`).
///
/// # Errors
/// As [`write`](fn@write).
pub fn write_stacks<W: Write>(stacks: &Stacks, session: &str, out: W) -> Result<(), Error> {
    if stacks.stacks.is_empty() {
        return Err(Error::NothingToDraw);
    }
    let total = stacks
        .stacks
        .iter()
        .fold(0u64, |sum, &(_, ns)| sum.saturating_add(ns));
    let lost = stacks
        .stacks
        .iter()
        .filter(|&&(_, ns)| ns < 500)
        .fold(0u64, |sum, &(_, ns)| sum.saturating_add(ns));
    let (counts, unit) = if total >= 1_000_000 && lost <= total / 1000 {
        (stacks.in_micros(), "µs")
    } else {
        (stacks.stacks.clone(), "ns")
    };
    let lines: Vec<String> = counts
        .into_iter()
        .map(|(stack, count)| format!("{stack} {count}"))
        .collect();
    render_in(lines.iter().map(String::as_str), session, unit, out)?;
    Ok(())
}

/// Renders folded-stack lines (`a;b;c 123`, counts in µs) as an SVG flamegraph.
///
/// # Errors
/// When inferno rejects the input or writing to `out` fails.
pub fn render<'a, I, W>(lines: I, session: &str, out: W) -> io::Result<()>
where
    I: IntoIterator<Item = &'a str>,
    W: Write,
{
    render_in(lines, session, "µs", out)
}

/// Renders folded-stack lines whose counts are in `unit`.
fn render_in<'a, I, W>(lines: I, session: &str, unit: &str, out: W) -> io::Result<()>
where
    I: IntoIterator<Item = &'a str>,
    W: Write,
{
    let mut options = Options::default();
    options.title = format!("Self time by operation: {session}");
    options.count_name = unit.to_owned();
    options.name_type = "Operation:".to_owned();
    options.hash = true;
    options.deterministic = true;
    inferno_flamegraph::from_lines(&mut options, lines, out)
}
