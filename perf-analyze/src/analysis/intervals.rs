//! Interval arithmetic on half-open `[start, end)` nanosecond intervals.

use std::cmp::Reverse;

/// How many intervals a [`StartOrder`] keeps back by default: under a MiB.
pub const REORDER_CAPACITY: usize = 1 << 14;

/// A reorder buffer: intervals that arrive as they close come out in start order.
///
/// Spans are written when they close, so an operation that started early but ran long
/// arrives after shorter ones that started later. The buffer collects intervals; when
/// it holds twice `capacity`, it sorts them and releases the earlier half, so that
/// streaming consumers see start order (the longest first among equal starts, then
/// arrival order) with memory bounded by `capacity`. Input that is nearly in order
/// sorts fast; at most twice `capacity` intervals are held. An interval that comes
/// before one already released (it stayed open
/// while at least `capacity` later ones closed) is released at once and counted as
/// [`StartOrder::late`].
///
/// ```
/// use perf_analyze::analysis::intervals::StartOrder;
///
/// let mut order = StartOrder::new(1);
/// let mut out = Vec::new();
/// for (start, end) in [(5, 6), (1, 9), (7, 8), (2, 3)] {
///     order.push(start, end, (), |s, _, ()| out.push(s));
/// }
/// order.finish(|s, _, ()| out.push(s));
/// assert_eq!(out, [1, 5, 2, 7]); // 2 came after 5 was released
/// assert_eq!(order.late(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct StartOrder<T> {
    held: Vec<(u64, u64, T)>,
    capacity: usize,
    /// The order key of the latest interval released.
    released: Option<(u64, Reverse<u64>)>,
    late: u64,
}

fn order_key<T>(held: &(u64, u64, T)) -> (u64, Reverse<u64>) {
    (held.0, Reverse(held.1))
}

impl<T> StartOrder<T> {
    /// A buffer that keeps back at least `capacity` intervals (at least 1).
    #[must_use]
    pub fn new(capacity: usize) -> StartOrder<T> {
        StartOrder {
            held: Vec::new(),
            capacity: capacity.max(1),
            released: None,
            late: 0,
        }
    }

    /// Adds `[start, end)` with its `item`; calls `release` for what leaves the buffer.
    pub fn push(&mut self, start: u64, end: u64, item: T, mut release: impl FnMut(u64, u64, T)) {
        if self.released.is_some_and(|r| (start, Reverse(end)) < r) {
            self.late += 1;
            return release(start, end, item);
        }
        self.held.push((start, end, item));
        if self.held.len() >= self.capacity.saturating_mul(2) {
            self.release(self.capacity, &mut release);
        }
    }

    /// Releases everything still held, in start order, and starts over: what comes next
    /// is not compared with what came before (its count of late intervals stays).
    pub fn finish(&mut self, mut release: impl FnMut(u64, u64, T)) {
        self.release(self.held.len(), &mut release);
        self.released = None;
    }

    /// Releases the `count` earliest intervals.
    fn release(&mut self, count: usize, release: &mut impl FnMut(u64, u64, T)) {
        self.held.sort_by_key(order_key);
        for held in self.held.drain(..count) {
            self.released = Some(order_key(&held));
            release(held.0, held.1, held.2);
        }
    }

    /// Intervals that arrived after a later-starting one had been released.
    #[must_use]
    pub fn late(&self) -> u64 {
        self.late
    }
}

/// The length of a union of intervals given in start order, in constant memory.
///
/// An interval given out of order only counts where it extends the current piece.
///
/// ```
/// use perf_analyze::analysis::intervals::SortedUnion;
///
/// let mut union = SortedUnion::default();
/// for (start, end) in [(0, 10), (5, 15), (20, 30)] {
///     union.add(start, end);
/// }
/// assert_eq!(union.len_ns(), 25);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SortedUnion {
    closed_ns: u64,
    current: Option<(u64, u64)>,
}

impl SortedUnion {
    /// Adds `[start, end)`; empty intervals are ignored.
    pub fn add(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        match &mut self.current {
            // Overlapping, or out of order: only what lies past the piece is known to be new.
            Some((_, current_end)) if start <= *current_end => {
                *current_end = (*current_end).max(end);
            }
            current => {
                if let Some((s, e)) = current.replace((start, end)) {
                    self.closed_ns += e - s;
                }
            }
        }
    }

    /// The length of the union so far.
    #[must_use]
    pub fn len_ns(&self) -> u64 {
        self.closed_ns + self.current.map_or(0, |(s, e)| e - s)
    }
}

pub use crate::input::union_len_sorted;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn unions_match_a_bitmap(
            intervals in proptest::collection::vec((0u64..200, 0u64..50), 0..30),
            capacity in 1usize..8,
        ) {
            let mut bits = [false; 250];
            for (s, len) in &intervals {
                for b in &mut bits[*s as usize..(*s + *len) as usize] { *b = true; }
            }
            let exact = bits.iter().filter(|b| **b).count() as u64;
            let mut sorted: Vec<(u64, u64)> = intervals.iter().map(|(s, l)| (*s, s + l)).collect();
            sorted.sort_unstable();
            prop_assert_eq!(union_len_sorted(sorted.clone(), 0, 250), exact);
            prop_assert_eq!(
                union_len_sorted(sorted, 50, 120),
                bits[50..120].iter().filter(|b| **b).count() as u64
            );
            // Through a reorder buffer: exact unless something came late, and never more.
            let mut order = StartOrder::new(capacity);
            let mut union = SortedUnion::default();
            let mut released = Vec::new();
            for (s, len) in &intervals {
                order.push(*s, s + len, (), |s, e, ()| { released.push(s); union.add(s, e) });
            }
            order.finish(|s, e, ()| { released.push(s); union.add(s, e) });
            prop_assert_eq!(released.len(), intervals.len());
            if order.late() == 0 {
                prop_assert!(released.windows(2).all(|w| w[0] <= w[1]));
                prop_assert_eq!(union.len_ns(), exact);
            } else {
                prop_assert!(union.len_ns() <= exact);
            }
        }
    }
}
