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
