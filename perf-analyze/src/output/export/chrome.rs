//! Chrome's Trace Event format, for Perfetto's UI and `chrome://tracing`.
//!
//! Every span becomes a complete event (`"ph":"X"`) with its fields as `args`
//! and its identity under `args.span`; `ts` and `dur` are microseconds (with
//! nanosecond decimals). Each [track](super::Timeline) is a thread of one
//! process, named by metadata events, so spans on one thread always nest;
//! background tracks carry the category `background`. A second run of the
//! session appears as a global instant event at its start.
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

use std::io::{self, Write};

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::json;

use super::{Session, TrackKind};
use crate::input::Fields;

/// The process id used for the session in the trace.
const PID: u32 = 1;

/// Writes the session as a Chrome trace (`{"traceEvents":[...]}`).
///
/// Events come sorted by `ts`: metadata first, then complete events, each
/// span before the spans nested in it.
///
/// # Errors
/// When writing to `out` fails.
pub fn write<W: Write>(session: &Session, out: W) -> io::Result<()> {
    let timeline = session.timeline();
    let origin = session.origin_ns();
    let runs = session.segments();
    let mut out = Events {
        out: io::BufWriter::new(out),
        first: true,
    };
    out.out.write_all(b"{\"traceEvents\":[\n")?;

    out.event(
        &json!({"name":"process_name","ph":"M","ts":0,"pid":PID,"tid":0,
                "args":{"name":format!("session {}", session.name())}}),
    )?;
    for (t, track) in timeline.tracks().iter().enumerate() {
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

    // Every track is already in start order; merge them (stable, so a span
    // stays ahead of the spans nested in it at the same `ts`), then add the
    // run markers.
    let mut order: Vec<(u64, u8, usize)> = Vec::with_capacity(timeline.spans().len() + runs.len());
    for t in 0..timeline.tracks().len() {
        order.extend(
            timeline
                .track_order(t)
                .map(|i| (timeline.span(i).start_ns, 1, i)),
        );
    }
    if runs.len() > 1 {
        order.extend(
            runs.iter()
                .enumerate()
                .map(|(r, run)| (run.origin_ns.saturating_sub(origin), 0, r)),
        );
    }
    order.sort_by_key(|&(ts, kind, _)| (ts, kind));

    for (_, kind, i) in order {
        if kind == 0 {
            let run = &runs[i];
            out.event(&json!({"name":format!("run {} of {}", i + 1, runs.len()),"cat":"session",
                        "ph":"i","s":"g","ts":micros(run.origin_ns.saturating_sub(origin)),"pid":PID,"tid":0,
                        "args":{"started_at":run.started_at,"pid":run.pid,"program":run.program}}),
            )?;
            continue;
        }
        let span = timeline.span(i);
        let track = &timeline.tracks()[span.track];
        out.event(&Complete {
            name: &span.record.name,
            cat: match track.kind {
                TrackKind::Foreground => "foreground",
                TrackKind::Background => "background",
            },
            ph: "X",
            ts: micros(span.start_ns),
            dur: micros(span.duration_ns()),
            pid: PID,
            tid: tid(span.track),
            args: Args {
                span: SpanMeta {
                    id: span.record.id,
                    segment: span.segment,
                    target: &span.record.target,
                    thread: &span.record.thread,
                    status: span.record.status.as_str(),
                    busy_us: micros(span.record.busy_ns),
                    enters: span.record.enters,
                    follows_from: &span.record.follows_from,
                },
                fields: span.record.fields(),
            },
        })?;
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
