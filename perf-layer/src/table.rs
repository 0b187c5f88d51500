//! The open spans: a map from registry span id to the span's state, split into
//! cache-padded shards.
//!
//! A span's shard is chosen so that the spans of different threads seldom share one:
//! `tracing-subscriber`'s registry keeps each thread's spans in a slab shard of that
//! thread's, and a span's id says which (bits 38 to 50 of the id minus one on 64-bit
//! targets, sharded-slab's default layout). The shards are eight groups of eight: that
//! thread number picks the group, and the id's lowest bits the shard within it. Two
//! threads then touch the same shard's cache lines only when they use each other's
//! spans, or when their numbers differ by a multiple of eight: with two threads closing
//! spans at once, 364 ns a span instead of 455 when the whole id picked the shard
//! (BENCHMARKS.md, section 1). Under a subscriber whose ids lay out otherwise
//! (tracing-subscriber's registry is the one `LookupSpan` in common use), every
//! thread's spans share the same eight shards.
//!
//! Why a sharded map and not span extensions plus a separate open set: the guard must
//! find every open span at shutdown, and a span's state has to live somewhere the
//! guard can reach. Keeping the state itself in the shards makes that free: each
//! transition takes one uncontended shard lock (two threads meet only when they touch
//! spans in the same shard, or the same span), there is no per-span
//! allocation (the shard's table keeps its capacity), and no lock is shared by all
//! threads.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::num::NonZeroU64;

use tracing::Metadata;

use crate::fields::Fields;
use crate::lock::{Guard, Lock};
use crate::timings::Timings;

/// The most `follows_from` links kept for one span; later ones are ignored.
pub(crate) const MAX_FOLLOWS: usize = 1024;

/// Everything the layer knows about an open span: its fields are already JSON text.
#[derive(Debug)]
pub(crate) struct SpanState {
    pub(crate) id: u64,
    pub(crate) parent: Option<NonZeroU64>,
    pub(crate) meta: &'static Metadata<'static>,
    /// The creating thread's name as a JSON string.
    pub(crate) thread: &'static str,
    pub(crate) timings: Timings,
    /// Nesting depth, for the echo's indent.
    pub(crate) depth: u32,
    pub(crate) error: bool,
    follows_full: bool,
    pub(crate) fields: Fields,
    /// Links to spans this one follows from; deduplicated when it grows and at the end.
    follows: Vec<u64>,
}

impl SpanState {
    /// Inlined: the state is built where the caller keeps it, without a copy of the
    /// field text made by a call (whole life: 2,948 instructions a span, 2,882 inlined).
    #[inline(always)]
    pub(crate) fn new(
        id: u64,
        parent: Option<(NonZeroU64, u32)>,
        meta: &'static Metadata<'static>,
        thread: &'static str,
        start: u64,
        fields: Fields,
    ) -> Self {
        SpanState {
            id,
            parent: parent.map(|(id, _)| id),
            meta,
            thread,
            timings: Timings::new(start),
            depth: parent.map_or(0, |(_, depth)| depth.saturating_add(1)),
            error: false,
            follows_full: false,
            fields,
            follows: Vec::new(),
        }
    }

    /// Lets go of what a closed span's state holds on the heap (field text past the
    /// inline buffer, follows-from links) while its place waits for reuse.
    fn release(&mut self) {
        if self.fields.spilled() {
            self.fields = Fields::default();
        }
        if self.follows.capacity() != 0 {
            self.follows = Vec::new();
        }
    }

    /// The follows-from links, each once, in id order.
    #[inline]
    pub(crate) fn follows_from(&mut self) -> &[u64] {
        if self.follows.len() > 1 {
            self.follows.sort_unstable();
            self.follows.dedup();
        }
        &self.follows
    }

    /// Links this span to one it follows from. Duplicates are removed whenever the list
    /// would grow, so a span linked n times costs O(n log n), not O(n²). False when the
    /// link was ignored because the span already has [`MAX_FOLLOWS`] links.
    pub(crate) fn follow(&mut self, cause: u64) -> bool {
        if self.follows_full {
            return false;
        }
        if self.follows.len() == self.follows.capacity() && !self.follows.is_empty() {
            self.follows_from();
            if self.follows.len() >= MAX_FOLLOWS {
                self.follows.truncate(MAX_FOLLOWS);
                self.follows_full = true;
                return false;
            }
        }
        self.follows.push(cause);
        true
    }
}

/// A registry's span id, with the tag of the layer instance that saw it: one layer
/// cloned into two registries keeps their spans apart, though both hand out the same ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) tag: u64,
    pub(crate) id: u64,
}

impl Key {
    /// Tag and id in one word (tags are small counters and ids fit in the low half in
    /// practice; equal words of different keys only share a bucket, never an entry).
    #[inline]
    fn word(self) -> u64 {
        self.id ^ self.tag.rotate_left(32)
    }
}

impl std::hash::Hash for Key {
    /// One round of the hasher per key, not one per part.
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.word());
    }
}

/// Shards in a group, and groups.
const GROUP: u64 = 8;
const SHARDS: usize = 64;
/// Where the registry's slab puts the number of the thread that made a span, above the
/// span's address in that thread's slab (sharded-slab's default layout: 32 pages of
/// slots, the first of 32, on 64-bit targets; 16 pages on 32-bit ones).
#[cfg(target_pointer_width = "64")]
const SLAB_THREAD_SHIFT: u32 = 38;
#[cfg(not(target_pointer_width = "64"))]
const SLAB_THREAD_SHIFT: u32 = 22;

#[repr(align(128))]
#[derive(Debug, Default)]
struct Shard(Lock<Slots>);

/// A shard's open spans: the map gives each key the index of its state in `states`,
/// where the state stays from its span's creation to its close (written once, read
/// and updated in place, never moved again). A closed span's place is reused.
#[derive(Debug, Default)]
struct Slots {
    map: HashMap<Key, u32, BuildHasherDefault<IdHasher>>,
    states: Vec<SpanState>,
    /// Places in `states` of closed spans, to reuse.
    free: Vec<u32>,
}

/// The open spans, keyed by layer tag and registry id (an id is reused by its registry
/// only after close, when the span has left this table).
#[derive(Debug)]
pub(crate) struct SpanTable {
    shards: Box<[Shard]>,
}

impl SpanTable {
    pub(crate) fn new() -> Self {
        SpanTable {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }

    /// Where the key's shard is: the group of the thread whose slab holds the span (and
    /// of the layer instance), then the id's lowest bits (see the module doc).
    #[inline]
    fn shard_index(key: Key) -> usize {
        let thread = key.id.wrapping_sub(1) >> SLAB_THREAD_SHIFT;
        let group = thread.wrapping_add(key.tag) % (SHARDS as u64 / GROUP);
        (group * GROUP + key.id % GROUP) as usize
    }

    #[inline]
    fn shard(&self, key: Key) -> Guard<'_, Slots> {
        self.shards[Self::shard_index(key)].0.lock()
    }

    /// Inserts the state made by `make`, unless `stopped()` says the session has ended
    /// (checked under the shard lock, so the guard's drain sees every span inserted).
    #[inline]
    pub(crate) fn insert(&self, key: Key, state: SpanState, stopped: impl FnOnce() -> bool) {
        let mut shard = self.shard(key);
        if stopped() {
            return;
        }
        let shard = &mut *shard;
        let at = match shard.free.pop() {
            Some(at) => {
                shard.states[at as usize] = state;
                at
            }
            None => {
                shard.states.push(state);
                (shard.states.len() - 1) as u32
            }
        };
        // A registry hands an id out again only after its span closed: no old entry.
        if let Some(old) = shard.map.insert(key, at) {
            shard.free.push(old);
        }
    }

    /// Runs `f` on the span's state under its shard lock. `f` must not call back into tracing.
    #[inline]
    pub(crate) fn with<R>(&self, key: Key, f: impl FnOnce(&mut SpanState) -> R) -> Option<R> {
        let mut shard = self.shard(key);
        let at = *shard.map.get(&key)? as usize;
        shard.states.get_mut(at).map(f)
    }

    /// Removes the span and runs `f` on its state where it lies, still under the shard
    /// lock: what `f` does with the state happens before the guard's drain can look at
    /// this shard.
    #[inline]
    pub(crate) fn remove_with<R>(
        &self,
        key: Key,
        f: impl FnOnce(&mut SpanState) -> R,
    ) -> Option<R> {
        let mut shard = self.shard(key);
        let at = shard.map.remove(&key)?;
        let state = shard.states.get_mut(at as usize)?;
        let result = f(state);
        state.release();
        shard.free.push(at);
        Some(result)
    }

    /// How many spans are open.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.0.lock().map.len()).sum()
    }

    /// Removes and returns every open span, the deepest first (a child's line before
    /// its parent's, as for closed spans), then by id.
    pub(crate) fn drain(&self) -> Vec<SpanState> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.0.lock();
            let mut open: Vec<u32> = shard.map.drain().map(|(_, at)| at).collect();
            open.sort_unstable();
            shard.free.clear();
            let states = std::mem::take(&mut shard.states);
            let mut open = open.into_iter().peekable();
            for (at, state) in states.into_iter().enumerate() {
                if open.next_if_eq(&(at as u32)).is_some() {
                    all.push(state);
                }
            }
        }
        all.sort_unstable_by_key(|s| (std::cmp::Reverse(s.depth), s.id));
        all
    }
}

/// A multiplicative hash for keys that are already unique integers (registry ids,
/// callsite addresses).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b) ^ self.0.rotate_left(8));
        }
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        let h = (self.0.rotate_left(23) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn a_threads_spans_share_a_group_and_the_id_says_which_thread_made_them() {
        // Threads alive at once get slab shards of their own from the registry, and a
        // span's id says which. This fails if the registry's ids stop saying so (then
        // the shards no longer follow threads).
        let registry = tracing::Dispatch::new(tracing_subscriber::registry());
        let all_made = std::sync::Barrier::new(8);
        let threads: Vec<(u64, HashSet<usize>)> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        tracing::dispatcher::with_default(&registry, || {
                            let spans: Vec<_> =
                                (0..100).map(|_| tracing::info_span!("s")).collect();
                            let ids: Vec<u64> =
                                spans.iter().map(|s| s.id().unwrap().into_u64()).collect();
                            let groups = ids
                                .iter()
                                .map(|&id| {
                                    SpanTable::shard_index(Key { tag: 0, id }) / GROUP as usize
                                })
                                .collect();
                            // Alive until every thread has made its spans.
                            all_made.wait();
                            ((ids[0] - 1) >> SLAB_THREAD_SHIFT, groups)
                        })
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        for (_, groups) in &threads {
            assert_eq!(groups.len(), 1, "one thread's spans in groups {groups:?}");
        }
        let numbers: HashSet<u64> = threads.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers.len(), 8, "thread numbers in the ids: {numbers:?}");
    }

    #[test]
    fn a_span_state_moves_cheaply() {
        assert!(std::mem::size_of::<SpanState>() <= 256);
    }

    #[test]
    fn follows_from_keeps_each_link_once_and_stays_bounded() {
        let meta = tracing::subscriber::with_default(tracing_subscriber::registry(), || {
            tracing::info_span!("s").metadata().expect("enabled")
        });
        let mut state = SpanState::new(1, None, meta, "\"main\"", 0, Fields::default());
        for round in 0..100 {
            for cause in (0..50).rev() {
                state.follow(cause + round % 2);
            }
        }
        assert_eq!(state.follows_from(), (0..51).collect::<Vec<u64>>());
        assert!(state.follows.capacity() <= 128, "duplicates do not pile up");
        for cause in 0..10 * MAX_FOLLOWS as u64 {
            state.follow(cause);
        }
        assert_eq!(state.follows_from().len(), MAX_FOLLOWS);
    }
}
