//! Background operations: spawned, counted, and waited for at the end of a session.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// Tracks spawned background tasks so the session can say how many still run and wait
/// for them before its final report. Cloning shares the same counters.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let tasks = agent_demo::memory::BackgroundTasks::default();
/// tasks.spawn(async { Ok::<(), String>(()) });
/// tasks.spawn(async { Err::<(), String>("no model".into()) });
/// tasks.wait_idle().await;
/// assert_eq!((tasks.running(), tasks.completed(), tasks.failed()), (0, 2, 1));
/// # });
/// ```
#[derive(Debug, Clone, Default)]
pub struct BackgroundTasks {
    inner: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    running: AtomicUsize,
    completed: AtomicUsize,
    failed: AtomicUsize,
    idle: Notify,
}

/// Counts the task out when it ends, even by panic or cancellation (which count as failed).
struct Finish {
    counters: Arc<Counters>,
    ok: bool,
}

impl Drop for Finish {
    fn drop(&mut self) {
        let c = &self.counters;
        if !self.ok {
            c.failed.fetch_add(1, Ordering::SeqCst);
        }
        c.completed.fetch_add(1, Ordering::SeqCst);
        if c.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            c.idle.notify_waiters();
        }
    }
}

impl BackgroundTasks {
    /// Spawns `task` on the runtime; an `Err` counts as a failure.
    pub fn spawn<E, F>(&self, task: F)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        self.inner.running.fetch_add(1, Ordering::SeqCst);
        let finish = Finish {
            counters: Arc::clone(&self.inner),
            ok: false,
        };
        tokio::spawn(async move {
            // Move the whole guard in (not just the field), so it drops when the task ends.
            let mut finish = finish;
            finish.ok = task.await.is_ok();
        });
    }

    /// Tasks still running.
    #[must_use]
    pub fn running(&self) -> usize {
        self.inner.running.load(Ordering::SeqCst)
    }

    /// Tasks finished (successfully or not).
    #[must_use]
    pub fn completed(&self) -> usize {
        self.inner.completed.load(Ordering::SeqCst)
    }

    /// Tasks that returned an error or panicked.
    #[must_use]
    pub fn failed(&self) -> usize {
        self.inner.failed.load(Ordering::SeqCst)
    }

    /// Waits until no task runs.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.inner.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.running() == 0 {
                return;
            }
            notified.await;
        }
    }
}
