//! Per-thread buffers of closed spans, drained by the writer in batches.
//!
//! A span's close appends a fixed-size record and its fields' JSON text to its thread's
//! own buffer, under that thread's own lock (uncontended but for the moment the writer
//! swaps the buffer out). The writer takes a thread's whole batch at once, writes it,
//! and hands the emptied vectors back to that thread as its next buffer: in steady
//! state nothing is allocated or freed per span, and no allocation made on a program's
//! thread is freed by the writer.
//!
//! Memory is bounded in bytes: a thread reserves room from a shared budget a chunk at a
//! time (one shared atomic per chunk, not per span), and the writer gives the chunk back
//! when it takes the batch. Over the budget, a lossy layer drops (and counts) the
//! record; a blocking one keeps it and waits for the writer, at most until the writer
//! has made no progress for [`BLOCK_TIMEOUT`]; from then on records are dropped and
//! counted until the writer moves again.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::thread::Thread;
use std::time::{Duration, Instant};

use tracing::Metadata;

use crate::lock::{Guard, Lock};
use crate::record::Status;
use crate::table::SpanState;

/// How long a blocking close waits while the writer makes no progress at all.
pub(crate) const BLOCK_TIMEOUT: Duration = Duration::from_secs(1);

/// One thread's buffer holds at most this fraction of the budget before it waits for
/// the writer (or drops): with the default 8 MiB, 512 KiB. The writer hands batches up
/// to twice that (and a chunk) back for reuse ([`Buffers::retain`]), so a thread's
/// buffer in steady state is reused, never regrown.
const PER_THREAD_SHARE: usize = 16;

/// Room a thread reserves from the budget at a time.
const CHUNK: usize = 32 * 1024;
/// A thread wakes the writer when it has reserved this much since it last did (the
/// writer also wakes on its own timer, so most closes never make a system call).
const WAKE: usize = 256 * 1024;

/// The most the writer keeps in emptied batches over all threads; past it, an emptied
/// batch is freed (its thread grows a new one).
pub(crate) const RETAIN_ALL: usize = 4 << 20;

/// A closed span as its thread's buffer holds it; its follows-from list and fields are
/// JSON text in [`Batch::text`], one record after another.
#[derive(Debug)]
pub(crate) struct Rec {
    pub(crate) id: u64,
    /// Zero for a root.
    pub(crate) parent: u64,
    pub(crate) meta: &'static Metadata<'static>,
    /// The thread's name as a JSON string.
    pub(crate) thread: &'static str,
    /// Clock ticks.
    pub(crate) start: u64,
    /// Clock ticks.
    pub(crate) end: u64,
    /// Clock ticks.
    pub(crate) busy: u64,
    pub(crate) enters: u64,
    pub(crate) status: Status,
    /// The writer's round when the record was buffered (see [`Buffers::take`]).
    pub(crate) round: u64,
    /// Bytes of `1,2,3` (the follows-from ids) in the text.
    pub(crate) follows_len: u32,
    /// Bytes of `"a":1,"b":"x"` in the text, right after the follows-from ids.
    pub(crate) fields_len: u32,
}

/// Closed spans waiting for the writer.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) recs: Vec<Rec>,
    pub(crate) text: Vec<u8>,
}

impl Batch {
    /// Appends a span's record; returns the bytes it takes.
    pub(crate) fn push(
        &mut self,
        state: &mut SpanState,
        end: u64,
        status: Status,
        round: u64,
    ) -> usize {
        let before = self.text.len();
        for (i, id) in state.follows_from().iter().enumerate() {
            if i > 0 {
                self.text.push(b',');
            }
            self.text
                .extend_from_slice(itoa::Buffer::new().format(*id).as_bytes());
        }
        let follows_len = self.text.len() - before;
        self.text.extend_from_slice(state.fields.text());
        let fields_len = self.text.len() - before - follows_len;
        self.recs.push(Rec {
            id: state.id,
            parent: state.parent.map_or(0, |p| p.get()),
            meta: state.meta,
            thread: state.thread,
            start: state.timings.start,
            end,
            busy: state.timings.busy_at(end),
            enters: state.timings.enters,
            status,
            round,
            follows_len: follows_len as u32,
            fields_len: fields_len as u32,
        });
        std::mem::size_of::<Rec>() + follows_len + fields_len
    }

    /// An empty batch with room for `recs` records and `text` bytes of text.
    pub(crate) fn with_capacity((recs, text): (usize, usize)) -> Self {
        Batch {
            recs: Vec::with_capacity(recs),
            text: Vec::with_capacity(text),
        }
    }

    /// Room for how many records and bytes of text.
    pub(crate) fn capacity(&self) -> (usize, usize) {
        (self.recs.capacity(), self.text.capacity())
    }

    pub(crate) fn capacity_bytes(&self) -> usize {
        self.recs.capacity() * std::mem::size_of::<Rec>() + self.text.capacity()
    }

    pub(crate) fn clear(&mut self) {
        self.recs.clear();
        self.text.clear();
    }
}

#[derive(Debug, Default)]
struct Pending {
    batch: Batch,
    /// Budget bytes this thread holds, and how many of them its batch uses.
    reserved: usize,
    used: usize,
    /// Budget bytes reserved since the writer was last woken.
    unwoken: usize,
}

/// One thread's buffer.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    pending: Lock<Pending>,
}

impl Slot {
    fn lock(&self) -> Guard<'_, Pending> {
        self.pending.lock()
    }
}

/// What became of a closed span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    Kept,
    /// Kept, and the thread has buffered [`WAKE`] bytes since it last woke the writer:
    /// the caller wakes it.
    KeptWake,
    /// Kept, past the budget: the caller waits for room (outside every lock).
    KeptOverBudget,
    /// Dropped and counted: the caller wakes the writer.
    Dropped,
}

/// The buffers of every thread that closed a span, and the byte budget they share.
#[derive(Debug)]
pub(crate) struct Buffers {
    /// Tells this layer's buffers from another layer's in a thread's list.
    owner: u64,
    /// Buffers of threads that closed their first span since the writer last looked.
    new_slots: Mutex<Vec<Arc<Slot>>>,
    /// For closes that happen while the thread's locals are being destroyed.
    orphan: Arc<Slot>,
    budget: Budget,
    round: Round,
    limit: usize,
    /// The most one thread's buffer holds before it waits for the writer (or drops):
    /// its vectors' capacity stays near this, however long the burst.
    per_thread: usize,
    chunk: usize,
    lossy: bool,
    /// Set once the writer thread has started.
    pub(crate) writer: OnceLock<Thread>,
    pub(crate) dropped: Arc<AtomicU64>,
}

/// The shared counters, on a cache line of their own.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Budget {
    used: AtomicUsize,
    /// Batches the writer has taken.
    progress: AtomicU64,
    /// Set when a blocking close saw no progress for [`BLOCK_TIMEOUT`]; cleared by the
    /// writer's next progress.
    stalled: AtomicBool,
    waiting: AtomicUsize,
    room: Mutex<()>,
    room_changed: Condvar,
}

/// The writer's round number, read by every close (written once a round: the line stays
/// shared in the readers' caches).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Round(AtomicU64);

thread_local! {
    static SLOTS: RefCell<Vec<(u64, Arc<Slot>)>> = const { RefCell::new(Vec::new()) };
}

impl Buffers {
    /// Buffers sharing `limit` bytes; `lossy` drops over the budget instead of waiting.
    pub(crate) fn new(limit: usize, lossy: bool) -> Self {
        static OWNERS: AtomicU64 = AtomicU64::new(1);
        let orphan = Arc::new(Slot::default());
        Buffers {
            owner: OWNERS.fetch_add(1, Ordering::Relaxed),
            new_slots: Mutex::new(vec![Arc::clone(&orphan)]),
            orphan,
            budget: Budget::default(),
            round: Round::default(),
            limit,
            per_thread: (limit / PER_THREAD_SHARE).max(CHUNK.min(limit)),
            chunk: (limit / PER_THREAD_SHARE).clamp(1, CHUNK),
            lossy,
            writer: OnceLock::new(),
            dropped: Arc::default(),
        }
    }

    /// The budget, in bytes.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// The largest emptied batch (its vectors' capacity, in bytes) the writer hands back
    /// to a thread for reuse; bigger ones, left by records past the budget, are freed.
    /// A thread's buffer holds at most `per_thread` and a chunk, and its vectors double
    /// as they grow, so every batch of a thread within its share is reused (with the
    /// default 8 MiB budget, at most 1,088 KiB).
    pub(crate) fn retain(&self) -> usize {
        2 * (self.per_thread + self.chunk)
    }

    /// Wakes the writer (a no-op while it is running).
    #[inline]
    pub(crate) fn wake_writer(&self) {
        if let Some(writer) = self.writer.get() {
            writer.unpark();
        }
    }

    /// Runs `f` on this thread's buffer, registering it on first use.
    #[inline]
    fn with_slot<R>(&self, f: impl FnOnce(&Slot) -> R) -> R {
        let mut f = Some(f);
        let result = SLOTS.try_with(|slots| {
            let Ok(mut slots) = slots.try_borrow_mut() else {
                return None;
            };
            if let Some((_, slot)) = slots.iter().find(|(owner, _)| *owner == self.owner) {
                return f.take().map(|f| f(slot));
            }
            // Forget the buffers of layers that have ended (the writer let go of them).
            slots.retain(|(_, slot)| Arc::strong_count(slot) > 1);
            let slot = Arc::new(Slot::default());
            self.new_slots
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Arc::clone(&slot));
            slots.push((self.owner, Arc::clone(&slot)));
            f.take().map(|f| f(&slot))
        });
        match (result, f) {
            (Ok(Some(r)), _) => r,
            (_, Some(f)) => f(&self.orphan),
            (_, None) => unreachable!("the closure ran but returned nothing"),
        }
    }

    /// Appends a closed span to this thread's buffer, within the byte budget. What to do
    /// next (wake the writer, wait for room) the caller does once it holds no lock.
    #[inline]
    pub(crate) fn push(&self, state: &mut SpanState, end: u64, status: Status) -> Pushed {
        self.with_slot(|slot| {
            let mut p = slot.lock();
            let need = std::mem::size_of::<Rec>() + state.fields.text().len();
            let mut pushed = Pushed::Kept;
            if p.used + need > p.reserved {
                let more = self.chunk.max(need);
                let own_full = p.reserved + more > self.per_thread;
                let total = self.budget.used.fetch_add(more, Ordering::Relaxed) + more;
                if total > self.limit || own_full {
                    if self.lossy || self.budget.stalled.load(Ordering::Relaxed) {
                        self.budget.used.fetch_sub(more, Ordering::Relaxed);
                        drop(p);
                        self.dropped.fetch_add(1, Ordering::Relaxed);
                        return Pushed::Dropped;
                    }
                    pushed = Pushed::KeptOverBudget;
                }
                p.reserved += more;
                p.unwoken += more;
                if p.unwoken >= WAKE || pushed == Pushed::KeptOverBudget {
                    p.unwoken = 0;
                    if pushed == Pushed::Kept {
                        pushed = Pushed::KeptWake;
                    }
                }
            }
            let round = self.round.0.load(Ordering::Relaxed);
            p.used += p.batch.push(state, end, status, round);
            pushed
        })
    }

    /// Waits until the writer has taken this thread's buffer and the buffers are back under budget, or until the writer has
    /// made no progress for [`BLOCK_TIMEOUT`] (then later closes drop their records
    /// until it moves).
    #[cold]
    pub(crate) fn wait_for_room(&self) {
        let budget = &self.budget;
        let taken = || self.with_slot(|slot| slot.lock().reserved == 0);
        budget.waiting.fetch_add(1, Ordering::SeqCst);
        let mut seen = budget.progress.load(Ordering::Acquire);
        let mut since = Instant::now();
        let mut room = budget.room.lock().unwrap_or_else(PoisonError::into_inner);
        while (budget.used.load(Ordering::Acquire) > self.limit || !taken())
            && !budget.stalled.load(Ordering::Relaxed)
        {
            self.wake_writer();
            room = budget
                .room_changed
                .wait_timeout(room, Duration::from_millis(10))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            let progress = budget.progress.load(Ordering::Acquire);
            if progress != seen {
                (seen, since) = (progress, Instant::now());
            } else if since.elapsed() >= BLOCK_TIMEOUT {
                budget.stalled.store(true, Ordering::Relaxed);
            }
        }
        drop(room);
        budget.waiting.fetch_sub(1, Ordering::SeqCst);
    }

    /// Moves the buffers registered since the last call into `slots` (writer side).
    pub(crate) fn take_new_slots(&self, slots: &mut Vec<Arc<Slot>>) {
        slots.append(
            &mut self
                .new_slots
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
    }

    /// Starts the writer's round `round`: closes buffered from now on carry `round + 1`.
    ///
    /// Why rounds: a parent closes after its children (the registry keeps it alive until
    /// they have closed), so a child's record is buffered before its parent's. But the
    /// writer takes the threads' buffers one after another, and may take a child's
    /// buffer just before the child's record lands in it, then the parent's buffer with
    /// the parent's record. Such a child was buffered after the round began, so it
    /// carries the next round, and so does its parent: the writer writes only records
    /// of rounds up to its own, merged by close time, and keeps the rest for the next
    /// round. A child's line thus always comes before its parent's.
    pub(crate) fn begin_round(&self, round: u64) {
        self.round.0.store(round + 1, Ordering::Relaxed);
    }

    /// Takes the slot's batch in exchange for `spare` (an emptied batch), with the bytes
    /// of the budget it held; `None` (and `spare` back) when it is empty. The thread's
    /// lock is held only for the swap; a thread busy closing a span is waited for (it
    /// holds the lock for a few stores).
    pub(crate) fn take(
        &self,
        slot: &Slot,
        spare: Option<Batch>,
    ) -> Result<(Batch, usize), Option<Batch>> {
        let mut p = slot.lock();
        if p.batch.recs.is_empty() {
            return Err(spare);
        }
        let batch = std::mem::replace(&mut p.batch, spare.unwrap_or_default());
        p.used = 0;
        let reserved = std::mem::take(&mut p.reserved);
        drop(p);
        self.release(reserved);
        Ok((batch, reserved))
    }

    /// Whether a thread's buffer is gone with its thread and has nothing left to write.
    pub(crate) fn is_abandoned(&self, slot: &Arc<Slot>) -> bool {
        Arc::strong_count(slot) == 1
            && !Arc::ptr_eq(slot, &self.orphan)
            && slot.lock().batch.recs.is_empty()
    }

    fn release(&self, bytes: usize) {
        let budget = &self.budget;
        budget.used.fetch_sub(bytes, Ordering::Release);
        budget.progress.fetch_add(1, Ordering::Release);
        if budget.stalled.load(Ordering::Relaxed) {
            budget.stalled.store(false, Ordering::Relaxed);
        }
        if budget.waiting.load(Ordering::SeqCst) > 0 {
            let _room = budget.room.lock().unwrap_or_else(PoisonError::into_inner);
            budget.room_changed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::{Encoder, Fields};
    use tracing::field::Visit;

    /// A span state whose one field holds `len` bytes of text.
    fn state(len: usize) -> SpanState {
        let meta = tracing::subscriber::with_default(tracing_subscriber::registry(), || {
            tracing::info_span!("s", v = tracing::field::Empty)
                .metadata()
                .expect("enabled")
        });
        let field = meta.fields().field("v").unwrap();
        let mut fields = Fields::default();
        Encoder {
            fields: &mut fields,
            max_len: usize::MAX,
            cut: false,
        }
        .record_str(&field, &"x".repeat(len));
        SpanState::new(1, None, meta, "\"main\"", 0, fields)
    }

    #[test]
    fn the_buffer_holds_at_most_its_bytes_whatever_the_record_size() {
        for len in [10, 1000, 100_000] {
            let limit = 256 * 1024;
            let tries = 2 * limit / len + 20;
            let mut span = state(len);
            let lossy = Buffers::new(limit, true);
            let (mut kept, mut dropped) = (0usize, 0);
            for _ in 0..tries {
                match lossy.push(&mut span, 1, Status::Ok) {
                    Pushed::Dropped => dropped += 1,
                    _ => kept += std::mem::size_of::<Rec>() + len + 6,
                }
            }
            assert!(kept <= limit, "{len}-byte fields: {kept} bytes kept");
            assert!(dropped > 0, "{len}-byte fields: nothing dropped");
            assert_eq!(lossy.dropped.load(Ordering::Relaxed), dropped);

            // Blocking: the first record past the budget is kept and the caller told to wait.
            let blocking = Buffers::new(limit, false);
            let pushes = (0..tries)
                .map(|_| blocking.push(&mut span, 1, Status::Ok))
                .position(|p| p == Pushed::KeptOverBudget)
                .expect("the budget runs out");
            assert!(
                pushes * (std::mem::size_of::<Rec>() + len) <= limit,
                "{len}: {pushes}"
            );
        }
    }
}
