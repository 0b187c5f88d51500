//! Configuration of a [`PerfLayer`](crate::PerfLayer).

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::echo::EchoSink;
use crate::handle::FlushGuard;
use crate::record::DATA_FILE;
use crate::session;
use crate::shared::{Shared, SharedParts};
use crate::timings::Clock;
use crate::writer::{Msg, Writer};
use crate::{Error, PerfLayer};

/// What the layer does when the writer falls behind and its buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backpressure {
    /// Wait for room: nothing is lost (the default). A close never waits more than one
    /// second: if the writer is stuck that long, records are dropped (and counted)
    /// until it catches up.
    #[default]
    Block,
    /// Drop the record and count it in the `end` line's `dropped`.
    Lossy,
}

/// The default channel capacity, in span records.
pub const DEFAULT_CAPACITY: usize = 64 * 1024;

/// The default flush interval.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// Builds a [`PerfLayer`] and its [`FlushGuard`]. See [`PerfLayer::builder`].
///
/// ```
/// use std::time::Duration;
/// use perf_layer::{Backpressure, PerfLayer};
///
/// # let dir = tempfile::tempdir()?;
/// let (layer, guard) = PerfLayer::builder()
///     .session_id("nightly-run.42")
///     .logs_dir(dir.path())
///     .program("my-tool")
///     .capacity(4096)
///     .backpressure(Backpressure::Lossy)
///     .flush_interval(Duration::from_millis(50))
///     .build()?;
/// assert!(guard.handle().data_path().ends_with("nightly-run.42/performance_data.jsonl"));
/// # drop((layer, guard));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    session_id: Option<String>,
    logs_dir: PathBuf,
    echo: bool,
    echo_sink: Option<EchoSink>,
    capacity: usize,
    backpressure: Backpressure,
    flush_interval: Duration,
    program: Option<String>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            session_id: None,
            logs_dir: PathBuf::from("logs"),
            echo: false,
            echo_sink: None,
            capacity: DEFAULT_CAPACITY,
            backpressure: Backpressure::Block,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            program: None,
        }
    }
}

impl Builder {
    /// The session id: files go to `<logs_dir>/<session_id>/`. 1 to 128 ASCII letters,
    /// digits, `.`, `_`, `-` (not `.` or `..`); anything else fails [`Builder::build`].
    /// Default: a timestamp-based id such as `session_20261124_100000_123`.
    pub fn session_id(mut self, id: impl Into<String>) -> Self {
        self.session_id = Some(id.into());
        self
    }

    /// The logs directory. Default `logs` (relative to the working directory);
    /// `PERF_LOGS_DIR` overrides it in [`Builder::from_env`].
    pub fn logs_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.logs_dir = dir.into();
        self
    }

    /// Echo live `PERF_START: {indent}{name} ({id})` and
    /// `PERF_END: {indent}{name} ({id}) - 0.023s` lines to stderr (or the writer given to
    /// [`Builder::echo_to`]). Default off; `DEV_MODE=true` turns it on in [`Builder::from_env`].
    /// Echo writes on the program's threads: it is for watching, not for measuring.
    pub fn echo(mut self, on: bool) -> Self {
        self.echo = on;
        self
    }

    /// Echo to `writer` instead of stderr, and turn echo on.
    pub fn echo_to(mut self, writer: impl Write + Send + 'static) -> Self {
        self.echo = true;
        self.echo_sink = Some(EchoSink::writer(writer));
        self
    }

    /// How many closed spans may wait for the writer. Default [`DEFAULT_CAPACITY`]
    /// (65,536 records of 120 bytes: 7.5 MiB, plus the text of their fields). This
    /// bounds the layer's memory whatever the span rate.
    pub fn capacity(mut self, records: usize) -> Self {
        self.capacity = records.max(1);
        self
    }

    /// What to do when the buffer is full. Default [`Backpressure::Block`].
    pub fn backpressure(mut self, backpressure: Backpressure) -> Self {
        self.backpressure = backpressure;
        self
    }

    /// The longest a closed span waits before it is in the file. Default
    /// [`DEFAULT_FLUSH_INTERVAL`] (100 ms).
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The program name written in the `session` line. Default: the executable's name.
    pub fn program(mut self, name: impl Into<String>) -> Self {
        self.program = Some(name.into());
        self
    }

    /// Reads the environment: `PERF_LOGS_DIR` sets the logs directory, `DEV_MODE=true`
    /// (or `1`) turns echo on. It applies when called: call it last for the environment
    /// to override the program's own settings, first for the program to override it.
    pub fn from_env(mut self) -> Self {
        if let Some(dir) = std::env::var_os("PERF_LOGS_DIR").filter(|d| !d.is_empty()) {
            self.logs_dir = dir.into();
        }
        if std::env::var("DEV_MODE")
            .is_ok_and(|v| v.eq_ignore_ascii_case("true") || v.trim() == "1")
        {
            self.echo = true;
        }
        self
    }

    /// Validates the session id, creates the session directory, appends the segment's
    /// `session` line to the data file and starts the writer thread.
    ///
    /// # Errors
    /// [`Error::InvalidSessionId`] for a bad id; [`Error::Io`] naming the path when the
    /// directory or file cannot be created or written; [`Error::WriterThread`] when the
    /// thread cannot be started.
    pub fn build(self) -> Result<(PerfLayer, FlushGuard), Error> {
        // The clock first: its one-time calibration must not fall between the two reads
        // that anchor the segment's ticks to the wall clock.
        let clock = Clock::start();
        let started_at = SystemTime::now();
        let id = match self.session_id {
            Some(id) => {
                session::validate_session_id(&id)?;
                id
            }
            None => session::default_id(started_at.into()),
        };
        let session_dir = self.logs_dir.join(&id);
        let program = self.program.unwrap_or_else(session::default_program);
        let data = session::open(
            &session_dir,
            session::session_record(&id, &program, started_at),
        )?;

        let (tx, rx) = crossbeam_channel::bounded::<Msg>(self.capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        let writer = Writer::new(
            rx,
            data,
            Arc::clone(&dropped),
            clock.clone(),
            self.flush_interval,
        );
        let thread = std::thread::Builder::new()
            .name("perf-layer-writer".into())
            .spawn(move || writer.run())
            .map_err(Error::WriterThread)?;

        let shared = Arc::new(Shared::new(SharedParts {
            clock,
            echo: self
                .echo
                .then(|| self.echo_sink.unwrap_or(EchoSink::Stderr)),
            tx,
            writer: thread.thread().clone(),
            backpressure: self.backpressure,
            dropped,
            data_path: session_dir.join(DATA_FILE),
            session_dir,
        }));
        let layer = PerfLayer {
            shared: Arc::clone(&shared),
        };
        let guard = FlushGuard {
            shared,
            writer: Some(thread),
        };
        Ok((layer, guard))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_buffer_stays_under_16_mib() {
        // crossbeam's array channel keeps one stamp word beside each message.
        let slot = std::mem::size_of::<Msg>() + std::mem::size_of::<usize>();
        let bytes = DEFAULT_CAPACITY * slot;
        assert!(bytes <= 8 << 20, "{bytes} bytes");
    }
}
