//! Configuration of a [`PerfLayer`](crate::PerfLayer).

use std::path::PathBuf;
use std::time::Duration;

use crate::{Error, FlushGuard, PerfLayer};

/// What the layer does when the writer falls behind and its buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backpressure {
    /// Wait for room: nothing is lost (the default).
    #[default]
    Block,
    /// Drop the record and count it in the `end` line's `dropped`.
    Lossy,
}

/// Builds a [`PerfLayer`] and its [`FlushGuard`]. See [`PerfLayer::builder`].
#[derive(Debug, Clone)]
pub struct Builder {
    pub(crate) session_id: Option<String>,
    pub(crate) logs_dir: PathBuf,
    pub(crate) echo: bool,
    pub(crate) capacity: usize,
    pub(crate) backpressure: Backpressure,
    pub(crate) flush_interval: Duration,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            session_id: None,
            logs_dir: PathBuf::from("logs"),
            echo: false,
            capacity: 16 * 1024,
            backpressure: Backpressure::Block,
            flush_interval: Duration::from_millis(100),
        }
    }
}

impl Builder {
    /// Builds the layer and starts its writer thread.
    pub fn build(self) -> Result<(PerfLayer, FlushGuard), Error> {
        let _ = self;
        Err(Error::InvalidSessionId {
            id: String::new(),
            reason: "not implemented yet",
        })
    }
}

impl Builder {
    /// The session id: files go to `<logs_dir>/<session_id>/`. Default: a timestamp-based id.
    pub fn session_id(mut self, id: impl Into<String>) -> Self {
        self.session_id = Some(id.into());
        self
    }

    /// The logs directory. Default `logs`; the env var `PERF_LOGS_DIR` overrides it in [`Builder::from_env`].
    pub fn logs_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.logs_dir = dir.into();
        self
    }

    /// Echo live `PERF_START`/`PERF_END` lines to stderr. Default off.
    pub fn echo(mut self, on: bool) -> Self {
        self.echo = on;
        self
    }

    /// Reads `PERF_LOGS_DIR` and `DEV_MODE=true` from the environment.
    pub fn from_env(self) -> Self {
        self
    }
}
