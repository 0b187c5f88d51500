//! The lock of each table shard and each thread's buffer.
//!
//! Both are held for a few loads and stores, never across a call into the program's
//! code or I/O, and are nearly always uncontended: a span's shard is touched by the
//! threads that use that span, a thread's buffer by that thread and, once a round, the
//! writer. Taking such a lock costs one atomic compare-exchange either way; releasing a
//! std `Mutex` costs another atomic read-modify-write (it must see whether a waiter
//! sleeps), which waits for the core's pending stores, while releasing this lock is a
//! plain store. With four or five locks a span, that was about a tenth of a span's
//! cost on one thread (BENCHMARKS.md, section 1: a span's whole life 237 to 214 ns).
//!
//! A thread that finds the lock taken yields its time slice between tries instead of
//! spinning, so a holder that was preempted gets the CPU back.

/// A lock that waiting threads poll, yielding between tries; see the module doc.
pub(crate) type Lock<T> = spin::mutex::SpinMutex<T, spin::relax::Yield>;
