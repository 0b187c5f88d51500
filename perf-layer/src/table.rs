//! The open spans: a map from registry span id to the span's state, split into
//! cache-padded shards chosen by hashing the id.
//!
//! Why a sharded map and not span extensions plus a separate open set: the guard must
//! find every open span at shutdown, and a span's state has to live somewhere the
//! guard can reach. Keeping the state itself in the shards makes that free: each
//! transition takes one uncontended shard lock (two threads meet only when they touch
//! spans that hash to the same shard, or the same span), there is no per-span
//! allocation (the shard's table keeps its capacity), and no lock is shared by all
//! threads.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tracing::span;
use tracing::Metadata;

use crate::fields::FieldValues;
use crate::timings::Timings;

/// Everything the layer knows about an open span.
#[derive(Debug)]
pub(crate) struct SpanState {
    pub(crate) id: u64,
    pub(crate) parent: Option<u64>,
    /// Nesting depth, for the echo's indent.
    pub(crate) depth: u32,
    pub(crate) follows_from: Vec<u64>,
    pub(crate) meta: &'static Metadata<'static>,
    pub(crate) thread: &'static str,
    pub(crate) timings: Timings,
    pub(crate) error: bool,
    pub(crate) fields: FieldValues,
}

const SHARDS: usize = 64;
const SHARD_BITS: u32 = SHARDS.trailing_zeros();

#[repr(align(128))]
#[derive(Debug, Default)]
struct Shard(Mutex<HashMap<u64, SpanState, BuildHasherDefault<IdHasher>>>);

/// The open spans, keyed by registry id (reused by the registry only after close,
/// when the span has left this table).
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

    #[inline]
    fn shard(
        &self,
        id: &span::Id,
    ) -> MutexGuard<'_, HashMap<u64, SpanState, BuildHasherDefault<IdHasher>>> {
        let index =
            (id.into_u64().wrapping_mul(0xD6E8_FEB8_6659_FD93) >> (64 - SHARD_BITS)) as usize;
        self.shards[index]
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    #[inline]
    pub(crate) fn insert(&self, id: &span::Id, state: SpanState) {
        self.shard(id).insert(id.into_u64(), state);
    }

    /// Runs `f` on the span's state under its shard lock. `f` must not call back into tracing.
    #[inline]
    pub(crate) fn with<R>(&self, id: &span::Id, f: impl FnOnce(&mut SpanState) -> R) -> Option<R> {
        self.shard(id).get_mut(&id.into_u64()).map(f)
    }

    #[inline]
    pub(crate) fn remove(&self, id: &span::Id) -> Option<SpanState> {
        self.shard(id).remove(&id.into_u64())
    }

    /// How many spans are open.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.0.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    /// Removes and returns every open span.
    pub(crate) fn drain(&self) -> Vec<SpanState> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let mut map = shard.0.lock().unwrap_or_else(PoisonError::into_inner);
            all.extend(map.drain().map(|(_, state)| state));
        }
        all.sort_unstable_by_key(|s| s.id);
        all
    }
}

/// A multiplicative hash for registry ids (already unique integers).
#[derive(Debug, Default, Clone, Copy)]
struct IdHasher(u64);

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
    fn write_u64(&mut self, n: u64) {
        let h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }
}
