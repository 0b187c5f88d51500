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
use std::num::NonZeroU64;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tracing::span;
use tracing::Metadata;

use crate::fields::FieldValues;
use crate::timings::Timings;

/// Everything the layer knows about an open span. Kept under 128 bytes so that moving
/// it (into the table, out of it, into the channel) is a few vector moves.
#[derive(Debug)]
pub(crate) struct SpanState {
    pub(crate) id: u64,
    pub(crate) parent: Option<NonZeroU64>,
    pub(crate) meta: &'static Metadata<'static>,
    pub(crate) thread: &'static str,
    pub(crate) timings: Timings,
    /// Nesting depth, for the echo's indent.
    pub(crate) depth: u32,
    pub(crate) error: bool,
    /// Fields and follows-from links, allocated only for spans that have some.
    extra: Option<Box<Extra>>,
}

#[derive(Debug, Default)]
struct Extra {
    fields: FieldValues,
    follows_from: Vec<u64>,
}

impl SpanState {
    pub(crate) fn new(
        id: u64,
        parent: Option<(NonZeroU64, u32)>,
        meta: &'static Metadata<'static>,
        thread: &'static str,
        start_ns: u64,
        fields: FieldValues,
    ) -> Self {
        SpanState {
            id,
            parent: parent.map(|(id, _)| id),
            meta,
            thread,
            timings: Timings::new(start_ns),
            depth: parent.map_or(0, |(_, depth)| depth.saturating_add(1)),
            error: false,
            extra: (!fields.is_empty()).then(|| {
                Box::new(Extra {
                    fields,
                    follows_from: Vec::new(),
                })
            }),
        }
    }

    pub(crate) fn fields(&self) -> &FieldValues {
        static NONE: FieldValues = FieldValues(Vec::new());
        self.extra.as_ref().map_or(&NONE, |e| &e.fields)
    }

    pub(crate) fn follows_from(&self) -> &[u64] {
        self.extra.as_ref().map_or(&[], |e| &e.follows_from)
    }

    /// Takes later-recorded fields over.
    pub(crate) fn record(&mut self, later: FieldValues) {
        self.extra
            .get_or_insert_with(Box::default)
            .fields
            .merge(later);
    }

    /// Links this span to one it follows from (once).
    pub(crate) fn follow(&mut self, cause: u64) {
        let links = &mut self.extra.get_or_insert_with(Box::default).follows_from;
        if !links.contains(&cause) {
            links.push(cause);
        }
    }
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
        let h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_state_moves_cheaply() {
        assert!(std::mem::size_of::<SpanState>() <= 96);
        assert!(std::mem::size_of::<crate::writer::Msg>() <= 128);
    }
}
