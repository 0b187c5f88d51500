//! The clock, and re-entry-safe busy time after `tracing-subscriber`'s fmt `Timings`:
//! only the outermost enter and exit of a span read the clock and count.
//!
//! The hot path keeps raw clock ticks (the CPU's time-stamp counter where it is
//! invariant, the OS monotonic clock otherwise, chosen and calibrated by `quanta`); the
//! writer thread turns them into nanoseconds since the segment's start.

/// The segment's clock: raw ticks on the hot path, nanoseconds on the writer.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    source: quanta::Clock,
    /// The tick count at the segment's start (its `started_at`).
    origin: u64,
}

impl Clock {
    /// A clock whose zero is now.
    pub(crate) fn start() -> Self {
        let source = quanta::Clock::new();
        let origin = source.raw();
        Clock { source, origin }
    }

    /// One clock read, in ticks.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        self.source.raw()
    }

    /// Nanoseconds from the segment's start to `ticks`.
    pub(crate) fn since_start(&self, ticks: u64) -> u64 {
        self.source.delta_as_nanos(self.origin, ticks)
    }

    /// A tick count as nanoseconds.
    pub(crate) fn nanos(&self, ticks: u64) -> u64 {
        self.source.delta_as_nanos(0, ticks)
    }
}

/// When a span started and how long it has been entered, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timings {
    /// Creation time.
    pub(crate) start: u64,
    /// Entered time so far, overlapping enters counted once.
    busy: u64,
    /// When the outermost enter now in progress began.
    entered_at: u64,
    /// Enters not yet exited, over all threads.
    depth: u32,
    /// Enter calls.
    pub(crate) enters: u64,
}

impl Timings {
    pub(crate) fn new(start: u64) -> Self {
        Timings {
            start,
            busy: 0,
            entered_at: start,
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
                self.busy += clock.now().saturating_sub(self.entered_at);
            }
            _ => self.depth -= 1,
        }
    }

    /// Busy ticks up to `now`, counting an enter still in progress.
    pub(crate) fn busy_at(&self, now: u64) -> u64 {
        if self.depth == 0 {
            self.busy
        } else {
            self.busy + now.saturating_sub(self.entered_at)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_enters_count_once() {
        let clock = Clock::start();
        let mut t = Timings::new(clock.now());
        t.enter(&clock);
        let outer_entered = t.entered_at;
        t.enter(&clock);
        assert_eq!(t.entered_at, outer_entered, "inner enter must not restart");
        t.exit(&clock);
        assert_eq!(t.busy, 0, "inner exit must not count");
        t.exit(&clock);
        let now = clock.now();
        assert!(t.busy <= now - outer_entered);
        assert_eq!(t.enters, 2);
        t.exit(&clock);
        assert_eq!(t.depth, 0, "an unmatched exit is ignored");
    }

    #[test]
    fn busy_at_counts_the_enter_in_progress() {
        let mut t = Timings::new(0);
        t.depth = 1;
        t.entered_at = 10;
        t.busy = 5;
        assert_eq!(t.busy_at(30), 25);
    }
}
