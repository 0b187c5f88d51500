//! Per-thread state that keeps the hot path off shared counters: blocks of span ids
//! and the interned thread name.

use std::cell::Cell;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

/// How many ids a thread takes from its layer's counter at a time.
const ID_BLOCK: u64 = 1024;

/// A layer's id counter. Threads take blocks of [`ID_BLOCK`] ids from it, so ids are
/// unique within the layer and increase on each thread, with gaps between threads.
#[derive(Debug)]
pub(crate) struct Ids {
    /// Tells this layer's blocks from another layer's in the thread-local cache.
    owner: u64,
    next_block: AtomicU64,
}

struct Block {
    owner: Cell<u64>,
    next: Cell<u64>,
    end: Cell<u64>,
    thread: Cell<Option<&'static str>>,
}

thread_local! {
    static LOCAL: Block = const {
        Block {
            owner: Cell::new(0),
            next: Cell::new(0),
            end: Cell::new(0),
            thread: Cell::new(None),
        }
    };
}

impl Ids {
    pub(crate) fn new() -> Self {
        static OWNERS: AtomicU64 = AtomicU64::new(1);
        Ids {
            owner: OWNERS.fetch_add(1, Ordering::Relaxed),
            next_block: AtomicU64::new(1),
        }
    }

    /// The next id for a span created on this thread.
    #[inline]
    pub(crate) fn next(&self) -> u64 {
        LOCAL
            .try_with(|local| {
                let mut id = local.next.get();
                if local.owner.get() != self.owner || id == local.end.get() {
                    id = self.next_block.fetch_add(ID_BLOCK, Ordering::Relaxed);
                    local.owner.set(self.owner);
                    local.end.set(id + ID_BLOCK);
                }
                local.next.set(id + 1);
                id
            })
            // During thread-local destruction: take a single id.
            .unwrap_or_else(|_| self.next_block.fetch_add(1, Ordering::Relaxed))
    }
}

/// This thread's name as a JSON string (quoted and escaped, as the writer puts it in a
/// line), interned once per thread. Unnamed threads are `<unnamed>`, as in std's panic
/// messages.
#[inline]
pub(crate) fn thread_name() -> &'static str {
    LOCAL
        .try_with(|local| match local.thread.get() {
            Some(name) => name,
            None => {
                let mut json = Vec::new();
                crate::fields::string(
                    &mut json,
                    std::thread::current().name().unwrap_or("<unnamed>"),
                );
                let name = intern(&String::from_utf8_lossy(&json));
                local.thread.set(Some(name));
                name
            }
        })
        .unwrap_or(UNNAMED)
}

const UNNAMED: &str = "\"<unnamed>\"";

/// One `&'static str` per distinct thread name, leaked once: memory grows with the
/// number of distinct names, not with threads or spans.
fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_across_threads_and_layers() {
        let a = Ids::new();
        let b = Ids::new();
        let mut seen = HashSet::new();
        for _ in 0..3000 {
            assert!(seen.insert(a.next()));
            b.next();
        }
        let from_thread: Vec<u64> =
            std::thread::spawn(move || (0..3000).map(|_| a.next()).collect())
                .join()
                .unwrap();
        for id in from_thread {
            assert!(seen.insert(id), "id {id} given twice");
        }
        let c = Ids::new();
        assert_eq!(c.next(), 1, "each layer counts from 1");
        assert_eq!(c.next(), 2);
    }

    #[test]
    fn thread_names_are_interned() {
        let name = std::thread::Builder::new()
            .name("worker-7".into())
            .spawn(|| (thread_name(), thread_name()))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(name.0, "\"worker-7\"");
        assert!(std::ptr::eq(name.0, name.1));
        assert!(std::ptr::eq(intern("\"worker-7\""), name.0));
    }
}
