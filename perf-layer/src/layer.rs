//! The `tracing_subscriber::Layer` itself.

use crate::Builder;

/// A `tracing_subscriber::Layer` that records span timings into a session file.
#[derive(Debug)]
pub struct PerfLayer {}

impl PerfLayer {
    /// Starts configuring a layer.
    pub fn builder() -> Builder {
        Builder::default()
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for PerfLayer {}

/// Flushes the session file and writes its `end` line when dropped.
#[derive(Debug)]
#[must_use = "dropping the guard ends the session: keep it alive until the program ends"]
pub struct FlushGuard {}

/// A cloneable handle to a running session: flush it, read its counters.
#[derive(Debug, Clone)]
pub struct PerfHandle {}

impl FlushGuard {
    /// A handle to flush the session and read its counters while it runs.
    pub fn handle(&self) -> PerfHandle {
        PerfHandle {}
    }
}

impl PerfHandle {
    /// Writes every span closed so far to disk (blocks until done, bounded by a timeout).
    pub fn flush(&self) {}

    /// How many spans are open now.
    pub fn open_spans(&self) -> usize {
        0
    }

    /// The session directory, `<logs_dir>/<session_id>`.
    pub fn session_dir(&self) -> &std::path::Path {
        std::path::Path::new("")
    }

    /// The data file, `<session_dir>/performance_data.jsonl`.
    pub fn data_path(&self) -> std::path::PathBuf {
        self.session_dir().join(crate::record::DATA_FILE)
    }
}
