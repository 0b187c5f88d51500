//! speedscope's JSON file format (<https://www.speedscope.app/file-format-schema.json>).
//!
//! One evented profile per [track](super::Timeline), in nanoseconds on the
//! session timeline, so the "time order" view shows the session as it ran and
//! "left heavy" sums it by stack. Frames (span name and target) are shared.
//!
//! ```
//! use perf_analyze::export::{speedscope, Session};
//!
//! let data = concat!(
//!     r#"{"type":"session","format":1,"session":"s","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#, "\n",
//!     r#"{"type":"span","id":1,"parent":null,"name":"turn","target":"t","start_ns":5,"end_ns":9,"busy_ns":4,"enters":1,"thread":"main","status":"ok","fields":{}}"#, "\n",
//! );
//! let (session, _) = Session::read(data.as_bytes(), "mem", &Default::default())?;
//! let mut out = Vec::new();
//! speedscope::write(&session, &mut out)?;
//! let file: serde_json::Value = serde_json::from_slice(&out)?;
//! assert_eq!(file["shared"]["frames"][0]["name"], "turn");
//! assert_eq!(file["profiles"][0]["events"][1]["at"], 9);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::io::{self, Write};

use serde::Serialize;

use super::Session;

/// The schema URL speedscope recognises its files by.
pub const SCHEMA: &str = "https://www.speedscope.app/file-format-schema.json";

/// Writes the session as a speedscope file.
///
/// # Errors
/// When writing to `out` fails.
pub fn write<W: Write>(session: &Session, out: W) -> io::Result<()> {
    let timeline = session.timeline();
    let mut frames: Vec<Frame<'_>> = Vec::new();
    let mut frame_of: HashMap<(&str, &str), usize> = HashMap::new();
    let mut profiles = Vec::with_capacity(timeline.tracks().len());
    for track in timeline.tracks() {
        let mut events = Vec::new();
        // (span, whether its children were opened already)
        let mut stack: Vec<(usize, bool)> = track.top.iter().rev().map(|&s| (s, false)).collect();
        while let Some((s, opened)) = stack.pop() {
            let span = timeline.span(s);
            let key = (&*span.record.name, &*span.record.target);
            let frame = *frame_of.entry(key).or_insert_with(|| {
                frames.push(Frame {
                    name: key.0,
                    file: key.1,
                });
                frames.len() - 1
            });
            if opened {
                events.push(Event {
                    kind: "C",
                    at: span.end_ns,
                    frame,
                });
            } else {
                events.push(Event {
                    kind: "O",
                    at: span.start_ns,
                    frame,
                });
                stack.push((s, true));
                stack.extend(span.track_children.iter().rev().map(|&c| (c, false)));
            }
        }
        profiles.push(Profile {
            kind: "evented",
            name: &track.name,
            unit: "nanoseconds",
            start_value: 0,
            end_value: timeline.end_ns(),
            events,
        });
    }
    let file = File {
        schema: SCHEMA,
        shared: Shared { frames },
        profiles,
        name: session.name(),
        active_profile_index: 0,
        exporter: concat!("perf-analyze ", env!("CARGO_PKG_VERSION")),
    };
    let mut out = io::BufWriter::new(out);
    serde_json::to_writer(&mut out, &file)?;
    out.write_all(b"\n")?;
    out.flush()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct File<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    shared: Shared<'a>,
    profiles: Vec<Profile<'a>>,
    name: &'a str,
    active_profile_index: usize,
    exporter: &'static str,
}

#[derive(Serialize)]
struct Shared<'a> {
    frames: Vec<Frame<'a>>,
}

#[derive(Serialize)]
struct Frame<'a> {
    name: &'a str,
    file: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Profile<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
    unit: &'static str,
    start_value: u64,
    end_value: u64,
    events: Vec<Event>,
}

#[derive(Serialize)]
struct Event {
    #[serde(rename = "type")]
    kind: &'static str,
    at: u64,
    frame: usize,
}
