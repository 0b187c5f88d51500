//! The background writer: a named thread that drains the bounded channel, serializes
//! span records into a buffer and writes the buffer to the data file.
//!
//! The writer never blocks producers to wake itself: when the channel is empty it parks
//! with a growing timeout (so a producer's send is a plain lock-free push, never a
//! futex wake), and [`PerfHandle::flush`](crate::PerfHandle::flush) or the guard unpark
//! it. A dirty buffer is written at most `flush_interval / 10` after it was last written
//! and the writer sleeps at most `flush_interval / 4`, so a closed span reaches the file
//! within the flush interval.

use std::collections::HashMap;
use std::fs::File;
use std::hash::BuildHasherDefault;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::fields::FieldValue;
use crate::record::{EndRecord, Record, Status};
use crate::session::DataFile;
use crate::table::{IdHasher, SpanState};
use crate::timings::Clock;

/// A span leaving the layer: closed, or still open at shutdown.
#[derive(Debug)]
pub(crate) struct Closed {
    pub(crate) state: SpanState,
    /// The close (or shutdown) time, in clock ticks.
    pub(crate) end: u64,
    pub(crate) status: Status,
}

/// What travels from the layer to the writer.
#[derive(Debug)]
pub(crate) enum Msg {
    Span(Closed),
    /// Write everything received so far, then answer.
    Flush(Sender<()>),
    /// Write the open spans and the `end` line, answer, and stop.
    Shutdown {
        open: Vec<Closed>,
        /// In clock ticks.
        end: u64,
        done: Sender<()>,
    },
}

/// The buffer is written out when it holds this much.
const BUF_CAPACITY: usize = 64 * 1024;
/// The first idle park; it doubles while the channel stays empty.
const MIN_PARK: Duration = Duration::from_micros(50);

#[derive(Debug)]
pub(crate) struct Writer {
    rx: Receiver<Msg>,
    file: File,
    path: PathBuf,
    buf: Vec<u8>,
    /// Span lines in `buf`.
    pending: u64,
    /// Span lines written to the file in this segment.
    written: u64,
    /// Open-span lines in `buf` and written.
    open: u64,
    dropped: Arc<AtomicU64>,
    /// A failed write may have left half a line in the file.
    broken_line: bool,
    reported: bool,
    /// `,"name":…,"target":…` per callsite, escaped once.
    callsites: HashMap<usize, Box<[u8]>, BuildHasherDefault<IdHasher>>,
    clock: Clock,
    flush_interval: Duration,
    last_write: Instant,
}

impl Writer {
    pub(crate) fn new(
        rx: Receiver<Msg>,
        data: DataFile,
        dropped: Arc<AtomicU64>,
        clock: Clock,
        flush_interval: Duration,
    ) -> Self {
        let mut buf = Vec::with_capacity(BUF_CAPACITY + 4096);
        buf.extend_from_slice(&data.header);
        Writer {
            rx,
            file: data.file,
            path: data.path,
            buf,
            pending: 0,
            written: 0,
            open: 0,
            dropped,
            broken_line: false,
            reported: false,
            callsites: HashMap::default(),
            clock,
            flush_interval,
            last_write: Instant::now(),
        }
    }

    /// The writer thread's body.
    pub(crate) fn run(mut self) {
        let max_park = (self.flush_interval / 4).max(MIN_PARK);
        let write_gap = self.flush_interval / 10;
        let mut park = MIN_PARK;
        // The session line, at once: the file shows the segment before any span closes.
        self.write_out();
        loop {
            let mut received = 0u32;
            loop {
                match self.rx.try_recv() {
                    Ok(msg) => {
                        received = received.wrapping_add(1);
                        if self.handle(msg) {
                            return;
                        }
                        if received % 4096 == 0 && self.last_write.elapsed() >= write_gap {
                            self.write_out();
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.write_out();
                        return;
                    }
                }
            }
            park = if received > 0 {
                MIN_PARK
            } else {
                (park * 2).min(max_park)
            };
            let mut timeout = park;
            if !self.buf.is_empty() {
                let since = self.last_write.elapsed();
                if since >= write_gap {
                    self.write_out();
                } else {
                    timeout = timeout.min(write_gap - since);
                }
            }
            thread::park_timeout(timeout);
        }
    }

    /// Handles one message; true when the writer must stop.
    fn handle(&mut self, msg: Msg) -> bool {
        match msg {
            Msg::Span(closed) => {
                self.span_line(&closed);
                if self.buf.len() >= BUF_CAPACITY {
                    self.write_out();
                }
                false
            }
            Msg::Flush(done) => {
                self.write_out();
                let _ = done.send(());
                false
            }
            Msg::Shutdown { open, end, done } => {
                for closed in &open {
                    self.span_line(closed);
                    self.open += 1;
                }
                self.write_out();
                let end = Record::End(EndRecord {
                    end_ns: self.clock.since_start(end),
                    spans: self.written,
                    open: self.open,
                    dropped: self.dropped.load(Ordering::Relaxed),
                });
                if serde_json::to_writer(&mut self.buf, &end).is_ok() {
                    self.buf.push(b'\n');
                }
                self.write_out();
                let _ = self.file.flush();
                let _ = done.send(());
                true
            }
        }
    }

    /// Writes the buffer to the file. On failure its span lines count as dropped and
    /// the first failure is reported on stderr.
    fn write_out(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        if self.broken_line {
            self.buf.insert(0, b'\n');
        }
        match self.file.write_all(&self.buf) {
            Ok(()) => {
                self.written += self.pending;
                self.broken_line = false;
            }
            Err(error) => {
                self.dropped.fetch_add(self.pending, Ordering::Relaxed);
                self.broken_line = true;
                if !self.reported {
                    self.reported = true;
                    let _ = writeln!(
                        io::stderr(),
                        "[perf-layer] cannot write {}: {error}; span records are dropped and counted",
                        self.path.display()
                    );
                }
            }
        }
        self.buf.clear();
        self.pending = 0;
        self.last_write = Instant::now();
    }

    /// Appends one `span` line (format 1, the field order of `record::SpanRecord`).
    fn span_line(&mut self, closed: &Closed) {
        let s = &closed.state;
        let buf = &mut self.buf;
        buf.extend_from_slice(b"{\"type\":\"span\",\"id\":");
        int(buf, s.id);
        buf.extend_from_slice(b",\"parent\":");
        match s.parent {
            Some(parent) => int(buf, parent.get()),
            None => buf.extend_from_slice(b"null"),
        }
        if !s.follows_from().is_empty() {
            buf.extend_from_slice(b",\"follows_from\":[");
            for (i, id) in s.follows_from().iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                int(buf, *id);
            }
            buf.push(b']');
        }
        let meta = s.meta;
        let callsite = self
            .callsites
            .entry(std::ptr::from_ref(meta) as usize)
            .or_insert_with(|| {
                let mut bytes = b",\"name\":".to_vec();
                string(&mut bytes, meta.name());
                bytes.extend_from_slice(b",\"target\":");
                string(&mut bytes, meta.target());
                bytes.into_boxed_slice()
            });
        buf.extend_from_slice(callsite);
        let clock = &self.clock;
        let start = clock.since_start(s.timings.start);
        let end = clock.since_start(closed.end).max(start);
        let busy = clock.nanos(s.timings.busy_at(closed.end)).min(end - start);
        buf.extend_from_slice(b",\"start_ns\":");
        int(buf, start);
        buf.extend_from_slice(b",\"end_ns\":");
        int(buf, end);
        buf.extend_from_slice(b",\"busy_ns\":");
        int(buf, busy);
        buf.extend_from_slice(b",\"enters\":");
        int(buf, s.timings.enters);
        buf.extend_from_slice(b",\"thread\":");
        string(buf, s.thread);
        buf.extend_from_slice(b",\"status\":\"");
        buf.extend_from_slice(closed.status.as_str().as_bytes());
        buf.extend_from_slice(b"\",\"fields\":{");
        for (i, (name, value)) in s.fields().0.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            string(buf, name);
            buf.push(b':');
            match value {
                FieldValue::I64(v) => {
                    buf.extend_from_slice(itoa::Buffer::new().format(*v).as_bytes());
                }
                FieldValue::U64(v) => int(buf, *v),
                // serde_json writes non-finite floats as null, as `Value::from(f64)` does.
                FieldValue::F64(v) => {
                    let _ = serde_json::to_writer(&mut *buf, v);
                }
                FieldValue::Bool(v) => buf.extend_from_slice(if *v { b"true" } else { b"false" }),
                FieldValue::Str(v) => string(buf, v),
            }
        }
        buf.extend_from_slice(b"}}\n");
        self.pending += 1;
    }
}

#[inline]
fn int(buf: &mut Vec<u8>, n: u64) {
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// A JSON string, escaped by serde_json.
#[inline]
fn string(buf: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::FieldValues;
    use crate::record::SpanRecord;
    use std::num::NonZeroU64;
    use tracing::Metadata;

    /// A span callsite's metadata (a span is only built while a subscriber is set).
    fn metadata() -> &'static Metadata<'static> {
        tracing::subscriber::with_default(tracing_subscriber::registry(), || {
            tracing::info_span!(target: "demo::mod", "we\"ird\\name é")
                .metadata()
                .expect("enabled span")
        })
    }

    fn writer_into(dir: &std::path::Path, clock: &Clock) -> Writer {
        let path = dir.join("out.jsonl");
        let file = File::create(&path).unwrap();
        let (_tx, rx) = crossbeam_channel::bounded(1);
        Writer::new(
            rx,
            DataFile {
                file,
                path,
                header: Vec::new(),
            },
            Arc::default(),
            clock.clone(),
            Duration::from_millis(100),
        )
    }

    #[test]
    fn span_lines_parse_back_into_the_record_schema() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::start();
        let mut writer = writer_into(dir.path(), &clock);
        let fields = FieldValues(vec![
            ("count", FieldValue::I64(-3)),
            ("big", FieldValue::U64(u64::MAX)),
            ("ratio", FieldValue::F64(0.25)),
            ("nan", FieldValue::F64(f64::NAN)),
            ("ok", FieldValue::Bool(true)),
            ("text", FieldValue::Str("line\n\"quoted\" \u{1F600}".into())),
        ]);
        let start = clock.now();
        let mut state = SpanState::new(
            7,
            NonZeroU64::new(3).map(|p| (p, 0)),
            metadata(),
            "main",
            start,
            fields.clone(),
        );
        state.timings.enter(&clock);
        state.timings.exit(&clock);
        state.follow(1);
        state.follow(2);
        state.follow(1);
        let timings = state.timings;
        let end = clock.now() + 1_000_000;
        let closed = Closed {
            state,
            end,
            status: Status::Error,
        };
        writer.span_line(&closed);
        let parsed: Record = serde_json::from_slice(&writer.buf).unwrap();
        let (start_ns, end_ns) = (clock.since_start(start), clock.since_start(end));
        let busy_ns = clock.nanos(timings.busy_at(end));
        assert!(busy_ns < end_ns - start_ns);
        let expected = Record::Span(SpanRecord {
            id: 7,
            parent: Some(3),
            follows_from: vec![1, 2],
            name: "we\"ird\\name é".into(),
            target: "demo::mod".into(),
            start_ns,
            end_ns,
            busy_ns,
            idle_ns: None,
            enters: 1,
            thread: "main".into(),
            status: Status::Error,
            fields: fields.to_json(),
        });
        assert_eq!(parsed, expected);
        assert!(writer.buf.ends_with(b"}\n"));
        assert_eq!(writer.pending, 1);
    }

    #[test]
    fn a_root_without_fields_writes_null_parent_and_empty_fields() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::start();
        let mut writer = writer_into(dir.path(), &clock);
        let start = clock.now();
        let closed = Closed {
            state: SpanState::new(1, None, metadata(), "main", start, FieldValues::default()),
            end: start + 10,
            status: Status::Ok,
        };
        writer.span_line(&closed);
        let line = std::str::from_utf8(&writer.buf).unwrap();
        assert!(line.contains(r#""parent":null"#), "{line}");
        assert!(line.contains(r#""fields":{}"#), "{line}");
        assert!(!line.contains("follows_from"), "{line}");
    }
}
