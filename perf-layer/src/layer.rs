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
