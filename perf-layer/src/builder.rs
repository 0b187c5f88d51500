//! Configuration of a [`PerfLayer`](crate::PerfLayer).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::buffers::Buffers;
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
    /// Wait for room: nothing is lost while the writer makes progress (the default).
    /// Only a writer that has written nothing for a whole second makes closes drop
    /// their records (counted), until it moves again.
    #[default]
    Block,
    /// Drop the record and count it in the `end` line's `dropped`.
    Lossy,
}

/// The default bound on closed spans waiting for the writer, in bytes: 8 MiB.
pub const DEFAULT_BUFFER_BYTES: usize = 8 << 20;

/// The default cap on a field value's text, in bytes: 256 B. Formatting a `Debug` value
/// stops there, so a large value costs no more than the cap to record.
pub const DEFAULT_MAX_FIELD_LEN: usize = 256;

/// The smallest buffer [`Builder::buffer_bytes`] accepts.
const MIN_BUFFER_BYTES: usize = 4096;

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
///     .buffer_bytes(1 << 20)
///     .max_field_len(256)
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
    buffer_bytes: usize,
    max_field_len: usize,
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
            buffer_bytes: DEFAULT_BUFFER_BYTES,
            max_field_len: DEFAULT_MAX_FIELD_LEN,
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

    /// How many bytes of closed spans (about 90 bytes each plus their fields' text) may
    /// wait for the writer, over all threads. Default [`DEFAULT_BUFFER_BYTES`] (8 MiB),
    /// at least 4 KiB. This bounds the layer's memory whatever the span rate, the number
    /// of threads and the size of field values; when it is full, [`Backpressure`] says
    /// what happens. Emptied buffers are kept for reuse: at most 512 KiB for one thread
    /// and 4 MiB in all.
    pub fn buffer_bytes(mut self, bytes: usize) -> Self {
        self.buffer_bytes = bytes.max(MIN_BUFFER_BYTES);
        self
    }

    /// The longest text a field value keeps, in bytes (of the text before JSON
    /// escaping). Longer strings and `Debug` values are cut at a character boundary and
    /// end with `…[truncated]`; numbers and booleans are never cut. Default
    /// [`DEFAULT_MAX_FIELD_LEN`] (256 B).
    pub fn max_field_len(mut self, bytes: usize) -> Self {
        self.max_field_len = bytes;
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
    /// directory or file cannot be created or opened; [`Error::Symlink`] when either is
    /// a symbolic link; [`Error::SessionInUse`] when another program is writing the same
    /// session now; [`Error::WriterThread`] when the thread cannot be started.
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

        let (control, requests) = crossbeam_channel::unbounded::<Msg>();
        let buffers = Arc::new(Buffers::new(
            self.buffer_bytes,
            self.backpressure == Backpressure::Lossy,
        ));
        let writer = Writer::new(requests, Arc::clone(&buffers), data, clock.clone());
        let flush_interval = self.flush_interval;
        let thread = std::thread::Builder::new()
            .name("perf-layer-writer".into())
            .spawn(move || writer.run(flush_interval))
            .map_err(Error::WriterThread)?;
        let _ = buffers.writer.set(thread.thread().clone());

        let shared = Arc::new(Shared::new(SharedParts {
            clock,
            echo: self
                .echo
                .then(|| self.echo_sink.unwrap_or(EchoSink::Stderr)),
            buffers,
            max_field_len: self.max_field_len,
            control,
            writer: thread.thread().clone(),
            data_path: session_dir.join(DATA_FILE),
            session_dir,
        }));
        let layer = PerfLayer::new(Arc::clone(&shared));
        let guard = FlushGuard {
            shared,
            writer: Some(thread),
        };
        Ok((layer, guard))
    }
}
