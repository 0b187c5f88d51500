//! Re-entry-safe busy time, after `tracing-subscriber`'s fmt `Timings`: only the
//! outermost enter and exit of a span read the clock and count.

use std::time::Instant;

/// Monotonic nanoseconds since the segment's start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    origin: Instant,
}

impl Clock {
    pub(crate) fn starting_at(origin: Instant) -> Self {
        Clock { origin }
    }

    /// One clock read.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// When a span started and how long it has been entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timings {
    /// Creation time.
    pub(crate) start_ns: u64,
    /// Entered time so far, overlapping enters counted once.
    busy_ns: u64,
    /// When the outermost enter now in progress began.
    entered_at: u64,
    /// Enters not yet exited, over all threads.
    depth: u32,
    /// Enter calls.
    pub(crate) enters: u64,
}

impl Timings {
    pub(crate) fn new(start_ns: u64) -> Self {
        Timings {
            start_ns,
            busy_ns: 0,
            entered_at: start_ns,
            depth: 0,
            enters: 0,
        }
    }

    /// An enter: reads the clock only when the span was not entered yet.
    #[inline]
    pub(crate) fn enter(&mut self, clock: &Clock) {
        if self.depth == 0 {
            self.entered_at = clock.now();
        }
        self.depth = self.depth.saturating_add(1);
        self.enters += 1;
    }

    /// An exit: reads the clock only when it leaves the outermost enter.
    #[inline]
    pub(crate) fn exit(&mut self, clock: &Clock) {
        match self.depth {
            0 => {}
            1 => {
                self.depth = 0;
                self.busy_ns += clock.now().saturating_sub(self.entered_at);
            }
            _ => self.depth -= 1,
        }
    }

    /// Busy time up to `now`, counting an enter still in progress.
    pub(crate) fn busy_at(&self, now: u64) -> u64 {
        if self.depth == 0 {
            self.busy_ns
        } else {
            self.busy_ns + now.saturating_sub(self.entered_at)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_enters_count_once() {
        let clock = Clock::starting_at(Instant::now());
        let mut t = Timings::new(clock.now());
        t.enter(&clock);
        let outer_entered = t.entered_at;
        t.enter(&clock);
        assert_eq!(t.entered_at, outer_entered, "inner enter must not restart");
        t.exit(&clock);
        assert_eq!(t.busy_ns, 0, "inner exit must not count");
        t.exit(&clock);
        let now = clock.now();
        assert!(t.busy_ns <= now - outer_entered);
        assert_eq!(t.enters, 2);
        t.exit(&clock);
        assert_eq!(t.depth, 0, "an unmatched exit is ignored");
    }

    #[test]
    fn busy_at_counts_the_enter_in_progress() {
        let mut t = Timings::new(0);
        t.depth = 1;
        t.entered_at = 10;
        t.busy_ns = 5;
        assert_eq!(t.busy_at(30), 25);
    }
}
