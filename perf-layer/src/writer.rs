//! The background writer: a named thread that takes the threads' batches of closed
//! spans, formats their lines into a buffer and writes the buffer to the data file.
//!
//! The writer never makes producers wait to wake it: it parks with a growing timeout
//! while there is little to write, and a thread that has buffered 256 KiB since it last
//! woke it, a thread that finds the budget spent,
//! [`PerfHandle::flush`](crate::PerfHandle::flush) or the guard unpark it. A dirty
//! buffer is written at most `flush_interval / 10` after it was last written and the
//! writer sleeps at most `flush_interval / 4`, so a closed span reaches the file within
//! the flush interval.
//!
//! Before each write it checks that the data file is still linked: a session directory
//! deleted while the program runs costs one warning and counted drops, not silent loss.
//! A write that fails part-way (a full disk) is cut back to its last whole line, so the
//! `end` line's counts agree with the lines in the file.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::hash::BuildHasherDefault;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::buffers::{Batch, Buffers, Rec, Slot, RETAIN_ALL};
use crate::fields::string;
use crate::record::{EndRecord, Record, Status};
use crate::session::DataFile;
use crate::table::IdHasher;
use crate::timings::Clock;

/// What the guard and the handles ask of the writer.
#[derive(Debug)]
pub(crate) enum Msg {
    /// Write everything buffered so far, then answer.
    Flush(Sender<()>),
    /// Write everything buffered, the open spans and the `end` line, answer, and stop.
    Shutdown {
        open: Batch,
        /// In clock ticks.
        end: u64,
        done: Sender<()>,
    },
}

/// The buffer is written out when it holds this much.
const BUF_CAPACITY: usize = 64 * 1024;
/// The most emptied batches the writer keeps for one thread. A busy thread cycles
/// through three batches: its own, one being written and a spare; when a batch taken
/// holds records of a later round, two written batches may come back in one round,
/// and both are kept for the rounds after.
const SPARES: usize = 2;
/// The shortest park; it doubles after each round that takes few records ([`BUSY_ROUND`]).
const MIN_PARK: Duration = Duration::from_micros(50);
/// A round that takes fewer records than this, and frees less than [`BUSY_BUDGET`] of
/// the budget, doubles the next park (up to a quarter of the flush interval); only a
/// busier one parks [`MIN_PARK`] again. At a modest span rate the writer then wakes
/// some hundreds of times a second instead of thousands, and each wake is a context
/// switch on a core the program uses: a mini-redis round took 1.29 s instead of 1.44
/// (BENCHMARKS.md, section 6). A thread that has buffered 256 KiB since it last woke
/// the writer, or finds the budget spent, still wakes it at once.
const BUSY_ROUND: usize = 1024;
/// The share of the budget (one part in this many) whose release makes a round busy:
/// each thread with a record waiting holds a chunk of the budget (32 KiB by default), so
/// a few records on each of many threads can hold much of it, and the writer must not
/// sleep on them.
const BUSY_BUDGET: usize = 8;

#[derive(Debug)]
pub(crate) struct Writer {
    control: Receiver<Msg>,
    buffers: Arc<Buffers>,
    /// Every thread buffer this writer drains.
    slots: Vec<Entry>,
    /// The current round (see [`Buffers::begin_round`]).
    round: u64,
    /// Bytes held in the entries' spare batches.
    spare_bytes: usize,
    out: Out,
}

/// A thread's buffer as the writer sees it.
#[derive(Debug)]
struct Entry {
    slot: Arc<Slot>,
    /// Emptied batches, the last of which the writer swaps in at the next take: at most
    /// [`SPARES`].
    spares: Vec<Batch>,
    /// Records taken and not yet written (those of a later round wait here).
    taken: Option<Taken>,
    /// The batch taken after `taken`, while `taken` still holds records of a later
    /// round: it waits here instead of being copied into `taken`, which would grow
    /// `taken` past the size it is reused at.
    queued: Option<Taken>,
    /// A batch written to its end this round, to become a spare.
    written: Option<Batch>,
    /// The capacity of the last batch taken: a thread with no spare gets a batch this
    /// big, made here, which it fills without growing it.
    last: (usize, usize),
}

/// A taken batch and how far it is written.
#[derive(Debug)]
struct Taken {
    batch: Batch,
    /// The next record to write, and where its text starts.
    next: usize,
    at: usize,
}

impl Taken {
    fn is_written(&self) -> bool {
        self.next == self.batch.recs.len()
    }

    /// The close time of the next record, if it belongs to a round up to `round`.
    fn next_end(&self, round: u64) -> Option<u64> {
        self.batch
            .recs
            .get(self.next)
            .filter(|r| r.round <= round)
            .map(|r| r.end)
    }
}

/// The formatted lines and the file they go to.
#[derive(Debug)]
struct Out {
    file: File,
    path: PathBuf,
    /// The file's length as this writer left it.
    len: u64,
    buf: Vec<u8>,
    /// Lines at the start of `buf` that are not span lines (the `session` line).
    lead_lines: u64,
    /// Span lines in `buf`.
    pending: u64,
    /// Span lines written to the file in this segment.
    written: u64,
    /// Open-span lines in `buf` and written.
    open: u64,
    dropped: Arc<AtomicU64>,
    /// A failed write left half a line in the file (it could not be cut back).
    broken_line: bool,
    /// The first write failure, or the file's deletion, has been reported.
    reported: bool,
    /// `,"name":…,"target":…,"start_ns":` per callsite, escaped once, and where each
    /// callsite's is in it.
    callsite_parts: Vec<Box<[u8]>>,
    callsites: HashMap<usize, usize, BuildHasherDefault<IdHasher>>,
    /// The last callsite looked up and its part (runs of one callsite are common).
    last_callsite: (usize, usize),
    clock: Clock,
    last_write: Instant,
}

impl Writer {
    pub(crate) fn new(
        control: Receiver<Msg>,
        buffers: Arc<Buffers>,
        data: DataFile,
        clock: Clock,
    ) -> Self {
        let mut buf = Vec::with_capacity(BUF_CAPACITY + 4096);
        buf.extend_from_slice(&data.header);
        let lead_lines = data.header.iter().filter(|&&b| b == b'\n').count() as u64;
        Writer {
            control,
            out: Out {
                file: data.file,
                path: data.path,
                len: data.len,
                buf,
                lead_lines,
                pending: 0,
                written: 0,
                open: 0,
                dropped: Arc::clone(&buffers.dropped),
                broken_line: false,
                reported: false,
                callsite_parts: Vec::new(),
                callsites: HashMap::default(),
                last_callsite: (0, 0),
                clock,
                last_write: Instant::now(),
            },
            buffers,
            slots: Vec::new(),
            round: 0,
            spare_bytes: 0,
        }
    }

    /// The writer thread's body.
    pub(crate) fn run(mut self, flush_interval: Duration) {
        let max_park = (flush_interval / 4).max(MIN_PARK);
        let write_gap = flush_interval / 10;
        let mut park = MIN_PARK;
        // The session line, at once: the file shows the segment before any span closes.
        self.out.write_out();
        loop {
            loop {
                match self.control.try_recv() {
                    Ok(msg) => {
                        if self.handle(msg) {
                            return;
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.drain_everything();
                        self.out.write_out();
                        return;
                    }
                }
            }
            let (records, freed) = self.drain_all();
            park = if records >= BUSY_ROUND || freed >= self.buffers.limit() / BUSY_BUDGET {
                MIN_PARK
            } else {
                (park * 2).min(max_park)
            };
            let mut timeout = park;
            if !self.out.buf.is_empty() {
                let since = self.out.last_write.elapsed();
                if since >= write_gap {
                    self.out.write_out();
                } else {
                    timeout = timeout.min(write_gap - since);
                }
            }
            thread::park_timeout(timeout);
        }
    }

    /// One round: takes every thread's batch and writes the records of this round and
    /// earlier ones, merged by close time, so that a child's line comes before its
    /// parent's; returns how many records were taken and how many bytes of the budget
    /// their buffers held.
    fn drain_all(&mut self) -> (usize, usize) {
        self.round += 1;
        let round = self.round;
        self.buffers.begin_round(round);
        let mut new = Vec::new();
        self.buffers.take_new_slots(&mut new);
        self.slots.extend(new.into_iter().map(|slot| Entry {
            slot,
            spares: Vec::new(),
            taken: None,
            queued: None,
            written: None,
            last: (0, 0),
        }));
        let (mut taken, mut freed) = (0, 0);
        let mut heap = BinaryHeap::new();
        for (i, entry) in self.slots.iter_mut().enumerate() {
            let spare = match entry.spares.pop() {
                Some(spare) => {
                    self.spare_bytes = self.spare_bytes.saturating_sub(spare.capacity_bytes());
                    Some(spare)
                }
                None if entry.last.0 > 0 => Some(Batch::with_capacity(entry.last)),
                None => None,
            };
            match self.buffers.take(&entry.slot, spare) {
                Ok((batch, reserved)) => {
                    taken += batch.recs.len();
                    freed += reserved;
                    entry.last = batch.capacity();
                    let batch = Taken {
                        batch,
                        next: 0,
                        at: 0,
                    };
                    match (&mut entry.taken, &mut entry.queued) {
                        (None, _) => entry.taken = Some(batch),
                        (Some(_), queued @ None) => *queued = Some(batch),
                        // Not reached: `taken` is written to its end in the round after
                        // it was taken, and `queued` then takes its place.
                        (Some(_), Some(queued)) => {
                            queued.batch.recs.extend(batch.batch.recs);
                            queued.batch.text.extend_from_slice(&batch.batch.text);
                        }
                    }
                }
                Err(spare) => {
                    if let Some(spare) = spare {
                        self.spare_bytes += spare.capacity_bytes();
                        entry.spares.push(spare);
                    }
                }
            }
            if let Some(end) = entry.taken.as_ref().and_then(|t| t.next_end(round)) {
                heap.push(Reverse((end, i)));
            }
        }
        while let Some(Reverse((_, i))) = heap.pop() {
            let entry = &mut self.slots[i];
            // A run: this thread's records up to the next thread's earliest close, with
            // no heap operation between them (one thread busy alone is one run).
            let until = heap.peek().map_or(u64::MAX, |Reverse((end, _))| *end);
            while let Some(taken) = entry.taken.as_mut() {
                match taken.next_end(round) {
                    Some(end) if end <= until => self.out.record(taken),
                    Some(end) => {
                        heap.push(Reverse((end, i)));
                        break;
                    }
                    None if taken.is_written() && entry.queued.is_some() => {
                        let written = std::mem::replace(&mut entry.taken, entry.queued.take());
                        entry.written = written.map(|t| t.batch);
                    }
                    None => break,
                }
            }
        }
        // Written batches become their thread's next spares: in steady state a busy
        // thread cycles through the same few batches, and nothing is allocated or freed.
        let retain = self.buffers.retain();
        for entry in &mut self.slots {
            let written = entry.taken.take_if(|t| t.is_written()).map(|t| t.batch);
            if entry.taken.is_none() {
                entry.taken = entry.queued.take();
            }
            for mut batch in entry.written.take().into_iter().chain(written) {
                let bytes = batch.capacity_bytes();
                if bytes <= retain
                    && self.spare_bytes + bytes <= RETAIN_ALL
                    && entry.spares.len() < SPARES
                {
                    batch.clear();
                    self.spare_bytes += bytes;
                    entry.spares.push(batch);
                }
            }
        }
        let (buffers, spare_bytes) = (&self.buffers, &mut self.spare_bytes);
        self.slots.retain(|e| {
            let keep = e.taken.is_some() || !buffers.is_abandoned(&e.slot);
            if !keep {
                let bytes: usize = e.spares.iter().map(Batch::capacity_bytes).sum();
                *spare_bytes = spare_bytes.saturating_sub(bytes);
            }
            keep
        });
        (taken, freed)
    }

    /// Two rounds: everything buffered before this call is written (the first round
    /// may keep back records buffered while it ran).
    fn drain_everything(&mut self) {
        self.drain_all();
        self.drain_all();
    }

    /// Handles one message; true when the writer must stop.
    fn handle(&mut self, msg: Msg) -> bool {
        match msg {
            Msg::Flush(done) => {
                self.drain_everything();
                self.out.write_out();
                let _ = done.send(());
                false
            }
            Msg::Shutdown { open, end, done } => {
                self.drain_everything();
                self.out.batch(&open);
                self.out.open += open.recs.len() as u64;
                self.out.write_out();
                let out = &mut self.out;
                let end = Record::End(EndRecord {
                    end_ns: out.clock.since_start(end),
                    spans: out.written,
                    open: out.open,
                    dropped: out.dropped.load(Ordering::Relaxed),
                });
                if serde_json::to_writer(&mut out.buf, &end).is_ok() {
                    out.buf.push(b'\n');
                    out.lead_lines += 1;
                }
                out.write_out();
                let _ = out.file.flush();
                let _ = done.send(());
                true
            }
        }
    }
}

impl Out {
    /// Formats a taken batch's next record, writing the buffer out when it is full.
    fn record(&mut self, taken: &mut Taken) {
        let rec = &taken.batch.recs[taken.next];
        let follows_end = taken.at + rec.follows_len as usize;
        let fields_end = follows_end + rec.fields_len as usize;
        self.span_line(
            rec,
            &taken.batch.text[taken.at..follows_end],
            &taken.batch.text[follows_end..fields_end],
        );
        taken.next += 1;
        taken.at = fields_end;
        if self.buf.len() >= BUF_CAPACITY {
            self.write_out();
        }
    }

    /// Formats a batch's lines, writing the buffer out whenever it is full.
    fn batch(&mut self, batch: &Batch) {
        let mut at = 0;
        for rec in &batch.recs {
            let follows_end = at + rec.follows_len as usize;
            let fields_end = follows_end + rec.fields_len as usize;
            self.span_line(
                rec,
                &batch.text[at..follows_end],
                &batch.text[follows_end..fields_end],
            );
            at = fields_end;
            if self.buf.len() >= BUF_CAPACITY {
                self.write_out();
            }
        }
    }

    /// Writes the buffer to the file. Span lines that do not reach it count as dropped,
    /// and the first failure is reported on stderr.
    fn write_out(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        if self.file.metadata().is_ok_and(|m| m.nlink() == 0) {
            self.lost("the file or its session directory was deleted");
            return;
        }
        if self.broken_line {
            self.buf.insert(0, b'\n');
            self.lead_lines += 1;
        }
        let mut done = 0;
        let result = loop {
            match self.file.write(&self.buf[done..]) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    done += n;
                    if done == self.buf.len() {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        if let Err(error) = result {
            // Keep the whole lines that made it; cut the partial one off.
            let whole = self.buf[..done]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let lines = self.buf[..whole].iter().filter(|&&b| b == b'\n').count() as u64;
            let spans = lines.saturating_sub(self.lead_lines).min(self.pending);
            self.written += spans;
            self.pending -= spans;
            self.len += whole as u64;
            self.broken_line = if whole < done {
                self.file.set_len(self.len).is_err()
            } else {
                self.broken_line && done == 0
            };
            self.lost(&error.to_string());
            return;
        }
        self.len += done as u64;
        self.written += self.pending;
        self.broken_line = false;
        self.clear();
    }

    /// The buffer's span lines are lost: count them, say why once.
    fn lost(&mut self, why: &str) {
        self.dropped.fetch_add(self.pending, Ordering::Relaxed);
        if !self.reported {
            self.reported = true;
            let _ = writeln!(
                io::stderr(),
                "[perf-layer] cannot write {}: {why}; span records are dropped and counted",
                self.path.display()
            );
        }
        self.clear();
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.pending = 0;
        self.lead_lines = 0;
        self.last_write = Instant::now();
    }

    /// Appends one `span` line (format 1, the field order of `record::SpanRecord`).
    fn span_line(&mut self, rec: &Rec, follows: &[u8], fields: &[u8]) {
        let buf = &mut self.buf;
        buf.extend_from_slice(b"{\"type\":\"span\",\"id\":");
        int(buf, rec.id);
        buf.extend_from_slice(b",\"parent\":");
        if rec.parent == 0 {
            buf.extend_from_slice(b"null");
        } else {
            int(buf, rec.parent);
        }
        if !follows.is_empty() {
            buf.extend_from_slice(b",\"follows_from\":[");
            buf.extend_from_slice(follows);
            buf.push(b']');
        }
        let meta = rec.meta;
        let key = std::ptr::from_ref(meta) as usize;
        let part = if self.last_callsite.0 == key {
            self.last_callsite.1
        } else {
            let parts = &mut self.callsite_parts;
            let part = *self.callsites.entry(key).or_insert_with(|| {
                let mut bytes = b",\"name\":".to_vec();
                string(&mut bytes, meta.name());
                bytes.extend_from_slice(b",\"target\":");
                string(&mut bytes, meta.target());
                bytes.extend_from_slice(b",\"start_ns\":");
                parts.push(bytes.into_boxed_slice());
                parts.len() - 1
            });
            self.last_callsite = (key, part);
            part
        };
        buf.extend_from_slice(&self.callsite_parts[part]);
        let clock = &self.clock;
        let start = clock.since_start(rec.start);
        let end = clock.since_start(rec.end).max(start);
        let busy = clock.nanos(rec.busy).min(end - start);
        int(buf, start);
        buf.extend_from_slice(b",\"end_ns\":");
        int(buf, end);
        buf.extend_from_slice(b",\"busy_ns\":");
        int(buf, busy);
        buf.extend_from_slice(b",\"enters\":");
        int(buf, rec.enters);
        buf.extend_from_slice(b",\"thread\":");
        buf.extend_from_slice(rec.thread.as_bytes());
        buf.extend_from_slice(match rec.status {
            Status::Ok => b",\"status\":\"ok\",\"fields\":{",
            Status::Error => b",\"status\":\"error\",\"fields\":{",
            Status::Open => b",\"status\":\"open\",\"fields\":{",
        });
        buf.extend_from_slice(fields);
        buf.extend_from_slice(b"}}\n");
        self.pending += 1;
    }
}

#[inline]
fn int(buf: &mut Vec<u8>, n: u64) {
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::{Encoder, Fields};
    use crate::record::SpanRecord;
    use crate::table::SpanState;
    use std::num::NonZeroU64;
    use tracing::field::Visit;
    use tracing::Metadata;

    /// A span callsite's metadata (a span is only built while a subscriber is set).
    fn metadata() -> &'static Metadata<'static> {
        tracing::subscriber::with_default(tracing_subscriber::registry(), || {
            tracing::info_span!(
                target: "demo::mod",
                "we\"ird\\name é",
                count = tracing::field::Empty,
                big = tracing::field::Empty,
                ratio = tracing::field::Empty,
                nan = tracing::field::Empty,
                ok = tracing::field::Empty,
                text = tracing::field::Empty
            )
            .metadata()
            .expect("enabled span")
        })
    }

    fn writer_into(dir: &std::path::Path, clock: &Clock) -> Writer {
        let path = dir.join("out.jsonl");
        let file = File::create(&path).unwrap();
        let (_control, requests) = crossbeam_channel::unbounded();
        Writer::new(
            requests,
            Arc::new(Buffers::new(1 << 20, false)),
            DataFile {
                file,
                path,
                len: 0,
                header: Vec::new(),
            },
            clock.clone(),
        )
    }

    #[test]
    fn span_lines_parse_back_into_the_record_schema() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::start();
        let mut writer = writer_into(dir.path(), &clock);
        let meta = metadata();
        let names: Vec<_> = meta.fields().iter().collect();
        let mut fields = Fields::default();
        let mut encoder = Encoder {
            fields: &mut fields,
            max_len: 1024,
            cut: false,
        };
        encoder.record_i64(&names[0], -3);
        encoder.record_u64(&names[1], u64::MAX);
        encoder.record_f64(&names[2], 0.25);
        encoder.record_f64(&names[3], f64::NAN);
        encoder.record_bool(&names[4], true);
        encoder.record_str(&names[5], "line\n\"quoted\" \u{1F600}");
        let start = clock.now();
        let mut state = SpanState::new(
            7,
            NonZeroU64::new(3).map(|p| (p, 0)),
            meta,
            "\"main\"",
            start,
            fields,
        );
        state.timings.enter(&clock);
        state.timings.exit(&clock);
        state.follow(2);
        state.follow(1);
        state.follow(2);
        let timings = state.timings;
        let end = clock.now() + 1_000_000;
        let mut batch = Batch::default();
        batch.push(&mut state, end, Status::Error, 0);
        writer.out.batch(&batch);
        let parsed: Record = serde_json::from_slice(&writer.out.buf).unwrap();
        let (start_ns, end_ns) = (clock.since_start(start), clock.since_start(end));
        let busy_ns = clock.nanos(timings.busy_at(end));
        assert!(busy_ns < end_ns - start_ns);
        let expected_fields = serde_json::json!({
            "count": -3, "big": u64::MAX, "ratio": 0.25, "nan": null, "ok": true,
            "text": "line\n\"quoted\" \u{1F600}",
        });
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
            fields: expected_fields.as_object().unwrap().clone(),
        });
        assert_eq!(parsed, expected);
        assert!(writer.out.buf.ends_with(b"}\n"));
        assert_eq!(writer.out.pending, 1);
    }

    #[test]
    fn a_root_without_fields_writes_null_parent_and_empty_fields() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::start();
        let mut writer = writer_into(dir.path(), &clock);
        let start = clock.now();
        let mut state = SpanState::new(1, None, metadata(), "\"main\"", start, Fields::default());
        let mut batch = Batch::default();
        batch.push(&mut state, start + 10, Status::Ok, 0);
        writer.out.batch(&batch);
        let line = std::str::from_utf8(&writer.out.buf).unwrap();
        assert!(line.contains(r#""parent":null"#), "{line}");
        assert!(line.contains(r#""fields":{}"#), "{line}");
        assert!(!line.contains("follows_from"), "{line}");
    }
}
