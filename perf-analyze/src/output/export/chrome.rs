//! Chrome's Trace Event format, for Perfetto's UI and `chrome://tracing`.
//!
//! Every span becomes a complete event (`"ph":"X"`) with its fields as `args`
//! and its identity under `args.span`; `ts` and `dur` are microseconds (with
//! nanosecond decimals). Each [track](super::Timeline) is a thread of one
//! process, named by metadata events, so spans on one thread always nest;
//! background tracks carry the category `background`. A second run of the
//! session appears as a global instant event at its start.
//!
//! [`write_read`] and [`write_path`] write the trace as the session is read, in
//! bounded memory (see [`stream`]).
//!
//! ```
//! use perf_analyze::export::{chrome, Session};
//!
//! let data = concat!(
//!     r#"{"type":"session","format":1,"session":"s","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#, "\n",
//!     r#"{"type":"span","id":1,"parent":null,"name":"turn","target":"t","start_ns":1500,"end_ns":2000000,"busy_ns":1998500,"enters":1,"thread":"main","status":"ok","fields":{"k":1}}"#, "\n",
//! );
//! let (session, _) = Session::read(data.as_bytes(), "mem", &Default::default())?;
//! let mut out = Vec::new();
//! chrome::write(&session, &mut out)?;
//! let trace: serde_json::Value = serde_json::from_slice(&out)?;
//! let turn = trace["traceEvents"].as_array().unwrap().iter().find(|e| e["ph"] == "X").unwrap();
//! assert_eq!(turn["ts"], 1.5);
//! assert_eq!(turn["dur"], 1998.5);
//! assert_eq!(turn["args"]["k"], 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, BufRead, Write};
use std::path::Path;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::json;

use super::stream::{self, Finished, Released, Sink};
use super::{Session, TrackKind};
use crate::input::{Fields, Segment, VisitReport};
use crate::{Error, Options};

/// The process id used for the session in the trace.
const PID: u32 = 1;

/// Writes a session held in memory as a Chrome trace (`{"traceEvents":[...]}`), laid
/// out as its [`Timeline`](super::Timeline).
///
/// Events are not sorted by `ts` across tracks (Perfetto and `chrome://tracing` sort
/// on import): the process name first, then each top-level span of a track with the
/// spans nested in it, each before the spans nested in it; on one track, events come
/// in start order. The tracks' names and order, and the run markers, come last.
///
/// # Errors
/// When writing to `out` fails.
pub fn write<W: Write>(session: &Session, out: W) -> io::Result<()> {
    let done = stream::from_session(Trace::new(out), session);
    finish(done)
}

/// Reads a session from `input` (named `source` in messages) and writes it as a Chrome
/// trace as it is read ([`stream`]): memory follows the reorder budget
/// and the tracks, not the file's size. The same trace as [`write()`] when the session
/// fits in the budget.
///
/// # Errors
/// As [`Session::read`](super::Session::read); a failure to write to `out` is
/// [`Error::Write`] on the path `output`.
pub fn write_read<R: BufRead + Send, W: Write>(
    input: R,
    source: &str,
    options: &Options,
    out: W,
) -> Result<VisitReport, Error> {
    let (done, report) = stream::from_reader(Trace::new(out), input, source, options)?;
    finish(done).map_err(super::write_error)?;
    Ok(report)
}

/// As [`write_read`], from a data file or a session directory.
///
/// # Errors
/// As [`write_read`].
pub fn write_path<W: Write>(path: &Path, options: &Options, out: W) -> Result<VisitReport, Error> {
    let (done, report) = stream::from_path(Trace::new(out), path, options)?;
    finish(done).map_err(super::write_error)?;
    Ok(report)
}

/// Writes the complete events as their tops are placed.
struct Trace<W: Write> {
    out: Events<W>,
    error: Option<io::Error>,
}

impl<W: Write> Trace<W> {
    fn new(out: W) -> Self {
        Trace {
            out: Events {
                out: io::BufWriter::new(out),
                first: true,
            },
            error: None,
        }
    }

    fn keep(&mut self, result: io::Result<()>) {
        if let Err(e) = result {
            self.error.get_or_insert(e);
        }
    }
}

impl<W: Write> Sink for Trace<W> {
    fn start(&mut self, segments: &[Segment], _origin_ns: u64) {
        let name = segments.first().map_or("", |s| s.session.as_str());
        let result = self
            .out
            .out
            .write_all(b"{\"traceEvents\":[\n")
            .and_then(|()| {
                self.out.event(
                    &json!({"name":"process_name","ph":"M","ts":0,"pid":PID,"tid":0,
                            "args":{"name":format!("session {name}")}}),
                )
            });
        self.keep(result);
    }

    fn top(&mut self, top: Released<'_>) {
        if self.error.is_some() {
            return;
        }
        let cat = match top.kind {
            TrackKind::Foreground => "foreground",
            TrackKind::Background => "background",
        };
        for item in top.items {
            let span = &item.span;
            let result = self.out.event(&Complete {
                name: &span.name,
                cat,
                ph: "X",
                ts: micros(item.start_ns),
                dur: micros(item.end_ns - item.start_ns),
                pid: PID,
                tid: tid(top.track),
                args: Args {
                    span: SpanMeta {
                        id: span.id,
                        segment: span.segment as usize,
                        target: &span.target,
                        thread: &span.thread,
                        status: span.status.as_str(),
                        busy_us: micros(span.busy_ns),
                        enters: span.enters,
                        follows_from: &span.follows_from,
                    },
                    fields: span.fields(),
                },
            });
            if let Err(e) = result {
                self.error = Some(e);
                return;
            }
        }
    }
}

/// Writes the tracks' metadata and the run markers, and closes the trace.
fn finish<W: Write>(done: Finished<Trace<W>>) -> io::Result<()> {
    let Finished {
        sink: mut trace,
        segments: runs,
        origin_ns: origin,
        tracks,
        ..
    } = done;
    if let Some(e) = trace.error {
        return Err(e);
    }
    let out = &mut trace.out;
    for (t, track) in tracks.iter().enumerate() {
        let tid = tid(t);
        out.event(
            &json!({"name":"thread_name","ph":"M","ts":0,"pid":PID,"tid":tid,
                    "args":{"name":track.name}}),
        )?;
        out.event(
            &json!({"name":"thread_sort_index","ph":"M","ts":0,"pid":PID,"tid":tid,
                    "args":{"sort_index":t}}),
        )?;
    }
    if runs.len() > 1 {
        for (i, run) in runs.iter().enumerate() {
            out.event(&json!({"name":format!("run {} of {}", i + 1, runs.len()),"cat":"session",
                        "ph":"i","s":"g","ts":micros(run.origin_ns.saturating_sub(origin)),"pid":PID,"tid":0,
                        "args":{"started_at":run.started_at,"pid":run.pid,"program":run.program}}),
            )?;
        }
    }
    out.out.write_all(b"\n]}\n")?;
    out.out.flush()
}

/// Writes events separated by commas.
struct Events<W: Write> {
    out: io::BufWriter<W>,
    first: bool,
}

impl<W: Write> Events<W> {
    fn event<T: Serialize>(&mut self, event: &T) -> io::Result<()> {
        if !self.first {
            self.out.write_all(b",\n")?;
        }
        self.first = false;
        serde_json::to_writer(&mut self.out, event).map_err(io::Error::from)
    }
}

/// The thread id of a track (0 is kept for session-wide markers).
fn tid(track: usize) -> usize {
    track + 1
}

/// Nanoseconds as microseconds, exact to the nanosecond in the decimal text.
#[allow(clippy::cast_precision_loss)]
fn micros(ns: u64) -> f64 {
    // Exact for ns < 2^53, about 104 days.
    ns as f64 / 1000.0
}

#[derive(Serialize)]
struct Complete<'a> {
    name: &'a str,
    cat: &'static str,
    ph: &'static str,
    ts: f64,
    dur: f64,
    pid: u32,
    tid: usize,
    args: Args<'a>,
}

/// The span's fields, then its identity under the key `span`.
struct Args<'a> {
    span: SpanMeta<'a>,
    fields: Fields,
}

#[derive(Serialize)]
struct SpanMeta<'a> {
    id: u64,
    segment: usize,
    target: &'a str,
    thread: &'a str,
    status: &'static str,
    busy_us: f64,
    enters: u64,
    #[serde(skip_serializing_if = "<[u64]>::is_empty")]
    follows_from: &'a [u64],
}

impl Serialize for Args<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.fields.len() + 1))?;
        for (key, value) in &self.fields {
            // A field called `span` would collide with the identity key.
            if key == "span" {
                map.serialize_entry("field.span", value)?;
            } else {
                map.serialize_entry(key, value)?;
            }
        }
        map.serialize_entry("span", &self.span)?;
        map.end()
    }
}
