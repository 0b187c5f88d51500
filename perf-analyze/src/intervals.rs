//! Interval arithmetic on half-open `[start, end)` nanosecond intervals.

use std::collections::BTreeMap;

/// Merged, disjoint intervals: a union that grows by insertion.
///
/// ```
/// use perf_analyze::intervals::IntervalSet;
///
/// let mut set = IntervalSet::default();
/// set.insert(0, 10);
/// set.insert(5, 15);
/// set.insert(20, 30);
/// assert_eq!(set.len_ns(), 25);
/// assert_eq!(set.pieces(), 2);
/// assert_eq!(set.overlap(8, 22), 9);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntervalSet {
    /// start -> end, disjoint and not touching.
    map: BTreeMap<u64, u64>,
}

impl IntervalSet {
    /// Adds `[start, end)`, merging with what it touches. Empty intervals are ignored.
    pub fn insert(&mut self, mut start: u64, mut end: u64) {
        if start >= end {
            return;
        }
        if let Some((&s, &e)) = self.map.range(..=start).next_back() {
            if e >= end {
                return;
            }
            if e >= start {
                start = s;
            }
        }
        let touching: Vec<u64> = self.map.range(start..=end).map(|(&s, _)| s).collect();
        for s in touching {
            if let Some(e) = self.map.remove(&s) {
                end = end.max(e);
            }
        }
        self.map.insert(start, end);
    }

    /// The total length of the union, in ns.
    #[must_use]
    pub fn len_ns(&self) -> u64 {
        self.map.iter().map(|(s, e)| e - s).sum()
    }

    /// How many disjoint pieces the union has.
    #[must_use]
    pub fn pieces(&self) -> usize {
        self.map.len()
    }

    /// The length of `[start, end)` covered by the union.
    #[must_use]
    pub fn overlap(&self, start: u64, end: u64) -> u64 {
        if start >= end {
            return 0;
        }
        let first = self
            .map
            .range(..=start)
            .next_back()
            .map_or(start, |(&s, _)| s);
        self.map
            .range(first..end)
            .map(|(&s, &e)| e.min(end).saturating_sub(s.max(start)))
            .sum()
    }

    /// The pieces in order, as `(start, end)`.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.map.iter().map(|(&s, &e)| (s, e))
    }
}

/// The length of the union of `intervals` sorted by start, clipped to `[lo, hi)`.
#[must_use]
pub fn union_len_sorted(intervals: impl IntoIterator<Item = (u64, u64)>, lo: u64, hi: u64) -> u64 {
    let mut total = 0;
    let mut current: Option<(u64, u64)> = None;
    for (s, e) in intervals {
        let (s, e) = (s.max(lo), e.min(hi));
        if s >= e {
            continue;
        }
        match &mut current {
            Some((_, ce)) if s <= *ce => *ce = (*ce).max(e),
            _ => {
                if let Some((cs, ce)) = current {
                    total += ce - cs;
                }
                current = Some((s, e));
            }
        }
    }
    total + current.map_or(0, |(s, e)| e - s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn set_matches_a_bitmap(intervals in proptest::collection::vec((0u64..200, 0u64..50), 0..30)) {
            let mut set = IntervalSet::default();
            let mut bits = [false; 250];
            for (s, len) in &intervals {
                set.insert(*s, s + len);
                for b in &mut bits[*s as usize..(*s + *len) as usize] { *b = true; }
            }
            prop_assert_eq!(set.len_ns(), bits.iter().filter(|b| **b).count() as u64);
            prop_assert_eq!(set.overlap(50, 120), bits[50..120].iter().filter(|b| **b).count() as u64);
            let mut sorted: Vec<(u64, u64)> = intervals.iter().map(|(s, l)| (*s, s + l)).collect();
            sorted.sort_unstable();
            prop_assert_eq!(union_len_sorted(sorted, 0, 250), set.len_ns());
            let pieces: Vec<_> = set.iter().collect();
            prop_assert!(pieces.windows(2).all(|w| w[0].1 < w[1].0));
        }
    }
}
