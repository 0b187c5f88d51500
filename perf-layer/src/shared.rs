//! What the layer, the guard and the handles share: the open spans, the per-thread
//! buffers, the writer's control channel, the counters.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::Thread;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::buffers::{Batch, Buffers};
use crate::echo::EchoSink;
use crate::local::Ids;
use crate::record::Status;
use crate::table::SpanTable;
use crate::timings::Clock;
use crate::writer::Msg;

/// How long [`PerfHandle::flush`](crate::PerfHandle::flush) waits for the writer.
pub(crate) const FLUSH_TIMEOUT: Duration = Duration::from_secs(1);
/// How long dropping the guard waits for the writer.
pub(crate) const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) table: SpanTable,
    pub(crate) ids: Ids,
    pub(crate) clock: Clock,
    pub(crate) echo: Option<EchoSink>,
    pub(crate) buffers: Arc<Buffers>,
    /// The longest text a field value keeps, in bytes.
    pub(crate) max_field_len: usize,
    control: Sender<Msg>,
    writer: Thread,
    /// Set when the guard ends the session: new spans are no longer tracked.
    pub(crate) stopped: AtomicBool,
    pub(crate) session_dir: PathBuf,
    pub(crate) data_path: PathBuf,
    /// Caps already reported on stderr: a field value cut, a span's links ignored.
    pub(crate) warned_field_cut: AtomicBool,
    pub(crate) warned_follows_cut: AtomicBool,
}

/// Prints `[perf-layer] {message}` on stderr the first time `once` is passed.
#[cold]
pub(crate) fn warn_once(once: &AtomicBool, message: std::fmt::Arguments<'_>) {
    if !once.swap(true, Ordering::Relaxed) {
        let _ = writeln!(io::stderr(), "[perf-layer] {message}");
    }
}

pub(crate) struct SharedParts {
    pub(crate) clock: Clock,
    pub(crate) echo: Option<EchoSink>,
    pub(crate) buffers: Arc<Buffers>,
    pub(crate) max_field_len: usize,
    pub(crate) control: Sender<Msg>,
    pub(crate) writer: Thread,
    pub(crate) session_dir: PathBuf,
    pub(crate) data_path: PathBuf,
}

impl Shared {
    pub(crate) fn new(parts: SharedParts) -> Self {
        Shared {
            table: SpanTable::new(),
            ids: Ids::new(),
            clock: parts.clock,
            echo: parts.echo,
            buffers: parts.buffers,
            max_field_len: parts.max_field_len,
            control: parts.control,
            writer: parts.writer,
            stopped: AtomicBool::new(false),
            session_dir: parts.session_dir,
            data_path: parts.data_path,
            warned_field_cut: AtomicBool::new(false),
            warned_follows_cut: AtomicBool::new(false),
        }
    }

    /// Waits until every span closed so far is written, at most [`FLUSH_TIMEOUT`].
    /// False if the writer did not answer in time (or the session has ended).
    pub(crate) fn flush(&self) -> bool {
        let deadline = Instant::now() + FLUSH_TIMEOUT;
        let (done, answer) = crossbeam_channel::bounded(1);
        if self.control.send(Msg::Flush(done)).is_err() {
            return false;
        }
        self.writer.unpark();
        answer.recv_deadline(deadline).is_ok()
    }

    /// Ends the session: writes the open spans with status `open` and the `end` line.
    /// True when the writer finished within [`SHUTDOWN_TIMEOUT`].
    pub(crate) fn shutdown(&self) -> bool {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return true;
        }
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        let end = self.clock.now();
        // Every span closed before this drain reached its shard is in a thread's buffer
        // (a close removes and buffers under the shard lock); the rest are open.
        let mut open = Batch::default();
        for mut state in self.table.drain() {
            open.push(&mut state, end, Status::Open, 0);
        }
        let (done, answer) = crossbeam_channel::bounded(1);
        let sent = self.control.send(Msg::Shutdown { open, end, done }).is_ok();
        self.writer.unpark();
        let finished = sent && answer.recv_deadline(deadline).is_ok();
        if !finished {
            let _ = writeln!(
                io::stderr(),
                "[perf-layer] the writer did not finish within {}s: {} may lack its end line",
                SHUTDOWN_TIMEOUT.as_secs(),
                self.data_path.display()
            );
        }
        finished
    }
}
