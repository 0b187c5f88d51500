//! The lock of each table shard and each thread's buffer.
//!
//! Both are held for a span's bookkeeping: a few loads and stores, at times the growth
//! of a vector (the program's allocator) or, on a thread's first close, the
//! registration of its buffer. Never across the program's other code, I/O or a wake-up
//! of the writer. They are nearly always uncontended: a span's shard is touched by the
//! threads that use its spans, a thread's buffer by that thread and, once a round, the
//! writer. Taking such a lock costs one atomic compare-exchange either way; releasing a
//! std `Mutex` costs another atomic read-modify-write (it must see whether a waiter
//! sleeps), which waits for the core's pending stores, while releasing this lock is a
//! plain store. With four or five locks a span, that was about a tenth of a span's
//! cost on one thread (BENCHMARKS.md, section 1: a span's whole life 237 to 214 ns).
//!
//! A thread that finds the lock taken backs off: it spins briefly while the lock looks
//! taken, then yields its time slice a few times, then sleeps between tries
//! ([`CONTENDED_SLEEP`]). Sleeping takes it off the run queue, so a holder that was
//! preempted runs again even when the waiter has a real-time priority above it
//! (yielding alone would keep such a waiter on the CPU) or hundreds of threads wait.

use std::time::Duration;

use spin::mutex::{SpinMutex, SpinMutexGuard};

/// Polls of a taken lock, with a pause hint between them, before the waiter yields.
const SPINS: u32 = 64;
/// Yields of the time slice before the waiter sleeps between tries.
const YIELDS: u32 = 16;
/// How long a waiter sleeps between tries once spinning and yielding have not got it
/// the lock: a holder that is not running is given the CPU.
const CONTENDED_SLEEP: Duration = Duration::from_micros(50);

/// A lock released with a plain store, whose waiters back off to sleeping; see the
/// module doc.
#[derive(Debug, Default)]
pub(crate) struct Lock<T>(SpinMutex<T>);

/// The guard of a [`Lock`]: the lock is released when it drops, also while a panic
/// unwinds (there is no poisoning: what the lock guards stays usable).
pub(crate) type Guard<'a, T> = SpinMutexGuard<'a, T>;

impl<T> Lock<T> {
    #[cfg(test)]
    const fn new(value: T) -> Self {
        Lock(SpinMutex::new(value))
    }

    /// Takes the lock, backing off while another thread holds it.
    #[inline]
    pub(crate) fn lock(&self) -> Guard<'_, T> {
        match self.0.try_lock() {
            Some(guard) => guard,
            None => self.lock_contended(),
        }
    }

    #[cold]
    fn lock_contended(&self) -> Guard<'_, T> {
        let mut tries = 0u32;
        loop {
            // Only a lock that looks free is tried: waiting reads a shared line.
            if !self.0.is_locked() {
                if let Some(guard) = self.0.try_lock() {
                    return guard;
                }
            }
            tries = tries.saturating_add(1);
            if tries <= SPINS {
                std::hint::spin_loop();
            } else if tries <= SPINS + YIELDS {
                std::thread::yield_now();
            } else {
                std::thread::sleep(CONTENDED_SLEEP);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn a_waiter_gets_the_lock_once_its_holder_lets_go() {
        let lock = Lock::new(0u32);
        let released = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let mut held = lock.lock();
            let waiter = scope.spawn(|| {
                let mut value = lock.lock();
                *value += 1;
                assert!(
                    released.load(Ordering::SeqCst),
                    "got the lock while it was held"
                );
            });
            // Long enough for the waiter to spin, yield and sleep.
            std::thread::sleep(Duration::from_millis(20));
            *held += 1;
            released.store(true, Ordering::SeqCst);
            drop(held);
            waiter.join().unwrap();
        });
        assert_eq!(*lock.lock(), 2);
    }

    #[test]
    fn many_threads_on_one_lock_all_get_it() {
        let lock = Lock::new(0u64);
        std::thread::scope(|scope| {
            for _ in 0..64 {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        *lock.lock() += 1;
                    }
                });
            }
        });
        assert_eq!(*lock.lock(), 64_000);
    }
}
