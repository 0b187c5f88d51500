//! The flush guard that ends a session, and the handle that flushes and reads it.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::shared::Shared;

/// Ends the session when dropped: writes the spans still open (status `open`) and the
/// `end` line, waiting at most one second for the writer. Dropping it during a panic's
/// unwinding flushes too.
#[derive(Debug)]
#[must_use = "dropping the guard ends the session: keep it alive until the program ends"]
pub struct FlushGuard {
    pub(crate) shared: Arc<Shared>,
    pub(crate) writer: Option<JoinHandle<()>>,
}

impl FlushGuard {
    /// A handle to flush the session and read its counters while it runs.
    pub fn handle(&self) -> PerfHandle {
        PerfHandle {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        if self.shared.shutdown() {
            if let Some(writer) = self.writer.take() {
                // The writer has answered and is returning: joining is immediate.
                let _ = writer.join();
            }
        }
    }
}

/// A cloneable handle to a running session: flush it, read its counters.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let (layer, guard) = perf_layer::PerfLayer::builder()
///     .logs_dir(dir.path())
///     .session_id("handle_doc")
///     .build()?;
/// let handle = guard.handle();
/// let subscriber = tracing_subscriber::layer::SubscriberExt::with(tracing_subscriber::registry(), layer);
/// tracing::subscriber::with_default(subscriber, || {
///     let _turn = tracing::info_span!("turn").entered();
///     tracing::info_span!("step").in_scope(|| {});
///     assert_eq!(handle.open_spans(), 1);
///     handle.flush(); // "step" is in the file now
/// });
/// assert!(std::fs::read_to_string(handle.data_path())?.contains(r#""name":"step""#));
/// # drop(guard);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct PerfHandle {
    pub(crate) shared: Arc<Shared>,
}

impl PerfHandle {
    /// Writes every span closed so far to the data file, without ending the session.
    /// Returns when done, or after at most one second if the writer is stuck; does
    /// nothing once the guard has ended the session.
    pub fn flush(&self) {
        self.shared.flush();
    }

    /// How many spans are open now.
    pub fn open_spans(&self) -> usize {
        self.shared.table.len()
    }

    /// How many span records were lost so far: dropped in lossy mode when the buffer was
    /// full, or while the writer made no progress, or not written because of an I/O
    /// error or a deleted data file.
    pub fn dropped(&self) -> u64 {
        self.shared.buffers.dropped.load(Ordering::Relaxed)
    }

    /// The session directory, `<logs_dir>/<session_id>`.
    pub fn session_dir(&self) -> &Path {
        &self.shared.session_dir
    }

    /// The data file, `<session_dir>/performance_data.jsonl`.
    pub fn data_path(&self) -> PathBuf {
        self.shared.data_path.clone()
    }
}
