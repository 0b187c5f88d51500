//! What the layer, the guard and the handles share: the open spans, the channel to
//! the writer, the counters.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::Thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};

use crate::builder::Backpressure;
use crate::echo::EchoSink;
use crate::local::Ids;
use crate::record::Status;
use crate::table::SpanTable;
use crate::timings::Clock;
use crate::writer::{Closed, Msg};

/// How long [`PerfHandle::flush`](crate::PerfHandle::flush) waits for the writer.
pub(crate) const FLUSH_TIMEOUT: Duration = Duration::from_secs(1);
/// How long dropping the guard waits for the writer.
pub(crate) const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a span close waits for room in blocking mode before the record is dropped
/// (after which the layer stops waiting until the writer catches up).
pub(crate) const BLOCK_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) table: SpanTable,
    pub(crate) ids: Ids,
    pub(crate) clock: Clock,
    pub(crate) echo: Option<EchoSink>,
    tx: Sender<Msg>,
    writer: Thread,
    backpressure: Backpressure,
    /// Records lost: lossy drops, send timeouts, and (written by the writer) I/O errors.
    pub(crate) dropped: Arc<AtomicU64>,
    /// Set once a blocking send timed out; cleared by the next send that finds room.
    stalled: AtomicBool,
    /// Set when the guard ends the session: new spans are no longer tracked.
    pub(crate) stopped: AtomicBool,
    pub(crate) session_dir: PathBuf,
    pub(crate) data_path: PathBuf,
}

pub(crate) struct SharedParts {
    pub(crate) clock: Clock,
    pub(crate) echo: Option<EchoSink>,
    pub(crate) tx: Sender<Msg>,
    pub(crate) writer: Thread,
    pub(crate) backpressure: Backpressure,
    pub(crate) dropped: Arc<AtomicU64>,
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
            tx: parts.tx,
            writer: parts.writer,
            backpressure: parts.backpressure,
            dropped: parts.dropped,
            stalled: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            session_dir: parts.session_dir,
            data_path: parts.data_path,
        }
    }

    /// Hands a closed span to the writer: lock-free when there is room.
    #[inline]
    pub(crate) fn send(&self, closed: Closed) {
        match self.tx.try_send(Msg::Span(closed)) {
            Ok(()) => {
                if self.stalled.load(Ordering::Relaxed) {
                    self.stalled.store(false, Ordering::Relaxed);
                }
            }
            Err(TrySendError::Full(msg)) => self.send_when_full(msg),
            Err(TrySendError::Disconnected(_)) => self.drop_one(),
        }
    }

    #[cold]
    fn send_when_full(&self, msg: Msg) {
        if self.backpressure == Backpressure::Lossy || self.stalled.load(Ordering::Relaxed) {
            return self.drop_one();
        }
        self.writer.unpark();
        if self.tx.send_timeout(msg, BLOCK_TIMEOUT).is_err() {
            self.stalled.store(true, Ordering::Relaxed);
            self.drop_one();
        }
    }

    fn drop_one(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Waits until every span closed so far is written, at most [`FLUSH_TIMEOUT`].
    /// False if the writer did not answer in time (or the session has ended).
    pub(crate) fn flush(&self) -> bool {
        let deadline = Instant::now() + FLUSH_TIMEOUT;
        let (done, answer) = crossbeam_channel::bounded(1);
        self.writer.unpark();
        if self.tx.send_deadline(Msg::Flush(done), deadline).is_err() {
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
        let open = self
            .table
            .drain()
            .into_iter()
            .map(|state| Closed {
                state,
                end,
                status: Status::Open,
            })
            .collect();
        let (done, answer) = crossbeam_channel::bounded(1);
        self.writer.unpark();
        let sent = self
            .tx
            .send_deadline(Msg::Shutdown { open, end, done }, deadline)
            .is_ok();
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
