//! speedscope's JSON file format (<https://www.speedscope.app/file-format-schema.json>).
//!
//! One evented profile per [track](super::Timeline), in nanoseconds on the
//! session timeline, so the "time order" view shows the session as it ran and
//! "left heavy" sums it by stack. Frames (span name and target) are shared.
//!
//! [`write_read`] and [`write_path`] lay the session out as it is read (see
//! [`stream`]).
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

use std::io::{self, BufRead, Write};
use std::path::Path;
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

use super::stream::{self, Finished, Released, Sink};
use super::Session;
use crate::input::{Segment, VisitReport};
use crate::{Error, Options};

/// The schema URL speedscope recognises its files by.
pub const SCHEMA: &str = "https://www.speedscope.app/file-format-schema.json";

/// Writes a session held in memory as a speedscope file, laid out as its
/// [`Timeline`](super::Timeline).
///
/// # Errors
/// When writing to `out` fails.
pub fn write<W: Write>(session: &Session, out: W) -> io::Result<()> {
    finish(stream::from_session(Profiles::default(), session), out)
}

/// Reads a session from `input` (named `source` in messages) and writes it as a
/// speedscope file, laying it out as it is read ([`stream`]): what is
/// held is the reorder budget's spans and at most [`SPILL_EVENTS`] compact events, the
/// others in a temporary file until the end. The same file as [`write()`] when the session fits in the budget.
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
    let (done, report) = stream::from_reader(Profiles::default(), input, source, options)?;
    finish(done, out).map_err(super::write_error)?;
    Ok(report)
}

/// As [`write_read`], from a data file or a session directory.
///
/// # Errors
/// As [`write_read`].
pub fn write_path<W: Write>(path: &Path, options: &Options, out: W) -> Result<VisitReport, Error> {
    let (done, report) = stream::from_path(Profiles::default(), path, options)?;
    finish(done, out).map_err(super::write_error)?;
    Ok(report)
}

/// An open or close event, compact: its time and its frame, the top bit set for a close.
#[derive(Debug, Clone, Copy)]
struct Compact {
    at: u64,
    frame: u32,
}

const CLOSE: u32 = 1 << 31;

/// The events held in memory, over all tracks, before they are written to a temporary
/// file (12 bytes each there): 4 MB of them.
pub const SPILL_EVENTS: usize = 1 << 18;

/// Each track's events, appended as its tops are placed (in start order, never
/// overlapping: so in time order), and the frames by first use. Past [`SPILL_EVENTS`]
/// events in memory, every track's are appended to a temporary file as a run of its own.
struct Profiles {
    frame_of: HashMap<(Arc<str>, Arc<str>), u32>,
    frames: Vec<(Arc<str>, Arc<str>)>,
    tracks: Vec<Vec<Compact>>,
    /// Open spans while a top is written: (depth, frame, end).
    stack: Vec<(u32, u32, u64)>,
    /// Events in `tracks`, and how many there may be before they are spilled.
    held: usize,
    spill_at: usize,
    spill: Option<io::BufWriter<std::fs::File>>,
    spilled_bytes: u64,
    /// Per track, its runs in the spill file, in order: (offset, events).
    runs: Vec<Vec<(u64, usize)>>,
    error: Option<io::Error>,
}

impl Default for Profiles {
    fn default() -> Self {
        Profiles::spilling_at(SPILL_EVENTS)
    }
}

impl Profiles {
    fn spilling_at(spill_at: usize) -> Self {
        Profiles {
            frame_of: HashMap::default(),
            frames: Vec::new(),
            tracks: Vec::new(),
            stack: Vec::new(),
            held: 0,
            spill_at,
            spill: None,
            spilled_bytes: 0,
            runs: Vec::new(),
            error: None,
        }
    }

    /// Appends every track's events in memory to the spill file.
    fn spill_all(&mut self) -> io::Result<()> {
        let out = match &mut self.spill {
            Some(out) => out,
            None => self
                .spill
                .insert(io::BufWriter::with_capacity(1 << 16, tempfile::tempfile()?)),
        };
        self.runs.resize_with(self.tracks.len(), Vec::new);
        for (t, events) in self.tracks.iter_mut().enumerate() {
            if events.is_empty() {
                continue;
            }
            self.runs[t].push((self.spilled_bytes, events.len()));
            for event in events.iter() {
                out.write_all(&event.at.to_le_bytes())?;
                out.write_all(&event.frame.to_le_bytes())?;
            }
            self.spilled_bytes += (events.len() * SPILLED) as u64;
            *events = Vec::new();
        }
        self.held = 0;
        Ok(())
    }
}

/// The bytes of a spilled event.
const SPILLED: usize = 12;

/// Reads a track's events back: its spilled runs, then those in memory.
struct Reader {
    file: Option<std::cell::RefCell<std::fs::File>>,
    runs: Vec<Vec<(u64, usize)>>,
    tracks: Vec<Vec<Compact>>,
}

impl Reader {
    fn new(profiles: &mut Profiles) -> io::Result<Reader> {
        let file = match profiles.spill.take() {
            Some(out) => Some(std::cell::RefCell::new(
                out.into_inner().map_err(io::IntoInnerError::into_error)?,
            )),
            None => None,
        };
        Ok(Reader {
            file,
            runs: std::mem::take(&mut profiles.runs),
            tracks: std::mem::take(&mut profiles.tracks),
        })
    }

    /// Calls `each` with track `t`'s events in order, a run at a time.
    fn each_run(&self, t: usize, mut each: impl FnMut(&[Compact])) -> io::Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        if let (Some(file), Some(runs)) = (&self.file, self.runs.get(t)) {
            let mut file = file.borrow_mut();
            let mut bytes = Vec::new();
            for &(offset, len) in runs {
                bytes.resize(len * SPILLED, 0);
                file.seek(SeekFrom::Start(offset))?;
                file.read_exact(&mut bytes)?;
                let run: Vec<Compact> = bytes
                    .chunks_exact(SPILLED)
                    .map(|b| Compact {
                        at: u64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
                        frame: u32::from_le_bytes(b[8..].try_into().expect("4 bytes")),
                    })
                    .collect();
                each(&run);
            }
        }
        if let Some(events) = self.tracks.get(t) {
            each(events);
        }
        Ok(())
    }
}

impl Sink for Profiles {
    fn start(&mut self, _segments: &[Segment], _origin_ns: u64) {}

    fn top(&mut self, top: Released<'_>) {
        if self.error.is_some() {
            return;
        }
        if self.tracks.len() <= top.track {
            self.tracks.resize_with(top.track + 1, Vec::new);
        }
        let events = &mut self.tracks[top.track];
        for item in top.items {
            let key = (item.span.name.clone(), item.span.target.clone());
            let frame = match self.frame_of.get(&key) {
                Some(&frame) => frame,
                None => {
                    let frame = u32::try_from(self.frames.len())
                        .unwrap_or(CLOSE - 1)
                        .min(CLOSE - 1);
                    self.frames.push(key.clone());
                    self.frame_of.insert(key, frame);
                    frame
                }
            };
            while let Some(&(depth, open, end)) = self.stack.last() {
                if depth < item.depth {
                    break;
                }
                self.stack.pop();
                events.push(Compact {
                    at: end,
                    frame: open | CLOSE,
                });
            }
            events.push(Compact {
                at: item.start_ns,
                frame,
            });
            self.stack.push((item.depth, frame, item.end_ns));
        }
        while let Some((_, open, end)) = self.stack.pop() {
            events.push(Compact {
                at: end,
                frame: open | CLOSE,
            });
        }
        self.held += 2 * top.items.len();
        if self.held > self.spill_at {
            if let Err(e) = self.spill_all() {
                self.error = Some(e);
            }
        }
    }
}

/// Numbers the frames by first use track by track, and writes the file.
fn finish<W: Write>(done: Finished<Profiles>, out: W) -> io::Result<()> {
    let Finished {
        sink: mut profiles,
        segments,
        tracks,
        end_ns,
        ..
    } = done;
    if let Some(e) = profiles.error.take() {
        return Err(e);
    }
    let reader = Reader::new(&mut profiles)?;
    let mut number = vec![u32::MAX; profiles.frames.len()];
    let mut frames = Vec::with_capacity(profiles.frames.len());
    for t in 0..tracks.len() {
        reader.each_run(t, |run| {
            for event in run {
                let frame = (event.frame & !CLOSE) as usize;
                if number[frame] == u32::MAX {
                    number[frame] = frames.len() as u32;
                    let (name, file) = &profiles.frames[frame];
                    frames.push(Frame { name, file });
                }
            }
        })?;
    }
    let file = File {
        schema: SCHEMA,
        shared: Shared { frames },
        profiles: tracks
            .iter()
            .enumerate()
            .map(|(t, track)| Profile {
                kind: "evented",
                name: &track.name,
                unit: "nanoseconds",
                start_value: 0,
                end_value: end_ns,
                events: Events {
                    track: t,
                    reader: &reader,
                    number: &number,
                },
            })
            .collect(),
        name: segments.first().map_or("", |s| s.session.as_str()),
        active_profile_index: 0,
        exporter: concat!("perf-analyze ", env!("CARGO_PKG_VERSION")),
    };
    let mut out = io::BufWriter::new(out);
    serde_json::to_writer(&mut out, &file)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// A track's events with the frames' final numbers.
struct Events<'a> {
    track: usize,
    reader: &'a Reader,
    number: &'a [u32],
}

impl Serialize for Events<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeSeq};
        let mut seq = serializer.serialize_seq(None)?;
        let mut failed = Ok(());
        self.reader
            .each_run(self.track, |run| {
                for e in run {
                    if failed.is_err() {
                        return;
                    }
                    failed = seq.serialize_element(&Event {
                        kind: if e.frame & CLOSE == 0 { "O" } else { "C" },
                        at: e.at,
                        frame: self.number[(e.frame & !CLOSE) as usize] as usize,
                    });
                }
            })
            .map_err(S::Error::custom)?;
        failed?;
        seq.end()
    }
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
    events: Events<'a>,
}

#[derive(Serialize)]
struct Event {
    #[serde(rename = "type")]
    kind: &'static str,
    at: u64,
    frame: usize,
}

#[cfg(all(test, feature = "test-util"))]
mod tests {
    use super::*;

    /// The file of a server session, its events spilled every `spill_at` events.
    fn file(data: &[u8], spill_at: usize) -> Vec<u8> {
        let options = Options {
            hold_budget: Some(64),
            ..Options::default()
        };
        let sink = Profiles::spilling_at(spill_at);
        let (done, _) = stream::from_reader(sink, data, "s", &options).expect("a read");
        let mut out = Vec::new();
        finish(done, &mut out).expect("a file");
        out
    }

    #[test]
    fn events_spilled_to_a_file_read_back_the_same() {
        let mut data = Vec::new();
        crate::generate::write_server_session(&mut data, 5_000, 3, 7).expect("a session");
        let held = file(&data, usize::MAX);
        for spill_at in [1, 7, 1000] {
            assert!(
                file(&data, spill_at) == held,
                "spilled every {spill_at} events"
            );
        }
    }
}
