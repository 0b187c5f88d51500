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

/// Renders the session's folded stacks as an SVG flamegraph (self time in µs).
///
/// The colours are derived from the names, so the same session gives the
/// same picture. A session without any span time gives inferno's "no stack
/// counts" SVG.
///
/// # Errors
/// When writing to `out` fails.
pub fn write<W: Write>(session: &Session, out: W) -> io::Result<()> {
    write_stacks(&Stacks::of(session), session.name(), out)
}

/// Renders stacks already folded (for the session named `session`).
///
/// # Errors
/// As [`write`].
pub fn write_stacks<W: Write>(stacks: &Stacks, session: &str, out: W) -> io::Result<()> {
    let lines: Vec<String> = stacks
        .in_micros()
        .into_iter()
        .map(|(stack, us)| format!("{stack} {us}"))
        .collect();
    render(lines.iter().map(String::as_str), session, out)
}

/// Renders folded-stack lines (`a;b;c 123`) as an SVG flamegraph.
///
/// # Errors
/// When inferno rejects the input or writing to `out` fails.
pub fn render<'a, I, W>(lines: I, session: &str, out: W) -> io::Result<()>
where
    I: IntoIterator<Item = &'a str>,
    W: Write,
{
    let mut options = Options::default();
    options.title = format!("Self time by operation: {session}");
    options.count_name = "µs".to_owned();
    options.name_type = "Operation:".to_owned();
    options.hash = true;
    options.deterministic = true;
    inferno_flamegraph::from_lines(&mut options, lines, out)
}
