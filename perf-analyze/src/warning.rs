//! Warnings about the input: problems the analyzer read past.

use std::fmt;
use std::sync::Arc;

/// What kind of problem a [`Warning`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// A line that is not a valid record; skipped.
    Malformed,
    /// The last line has no newline and does not parse: still being written, or cut off.
    TruncatedLastLine,
    /// A segment without an `end` line: the session is still running or ended abruptly.
    NoEndLine,
    /// A record type this analyzer does not know; skipped.
    UnknownRecord,
    /// A line of the other file format than the one the file started with; skipped.
    MixedFormats,
    /// Span lines before any `session` line.
    NoSessionLine,
    /// A `started_at` that is not RFC 3339.
    BadTimestamp,
    /// A span whose parent is not in its segment, which has an `end` line: treated as a root.
    /// (Without an `end` line the parent is still running: not a warning.)
    MissingParent,
    /// Spans whose parents form a cycle: the cycle is broken at one span.
    ParentCycle,
    /// A span id seen twice while its tree was still open.
    DuplicateId,
    /// A line longer than the limit ([`MAX_LINE_BYTES`](crate::input::MAX_LINE_BYTES)):
    /// skipped, or, past [`MAX_SKIP_BYTES`](crate::input::MAX_SKIP_BYTES) without a line
    /// end, the end of reading.
    LongLine,
    /// Operations that closed long after many that started later: active time and the
    /// async analysis place them approximately.
    LateOperations,
    /// A span still open had children handed over early in more than
    /// [`MAX_EARLY_RUNS`](crate::input::MAX_EARLY_RUNS) separate runs of time, and a
    /// later one reached back into the earliest runs: its self time is approximate.
    EarlyChildrenFolded,
    /// A cap on what is kept for spans still open applied (the message names it): a
    /// figure of the report is approximate.
    CapApplied,
}

/// A problem in the input that the analyzer read past, with the place it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file (or `<stdin>`).
    pub source: Arc<str>,
    /// The 1-based line, if the warning is about one line.
    pub line: Option<u64>,
    /// What kind of problem.
    pub kind: WarningKind,
    /// A sentence saying what was wrong.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.source, line, self.message),
            None => write!(f, "{}: {}", self.source, self.message),
        }
    }
}

/// Collected warnings, keeping the first [`Warnings::LIMIT`] and counting the rest.
#[derive(Debug, Clone, Default)]
pub struct Warnings {
    kept: Vec<Warning>,
    suppressed: u64,
}

impl Warnings {
    /// How many warnings are kept; later ones are only counted.
    pub const LIMIT: usize = 200;

    /// Adds a warning.
    pub fn push(&mut self, warning: Warning) {
        if self.kept.len() < Self::LIMIT {
            self.kept.push(warning);
        } else {
            self.suppressed += 1;
        }
    }

    /// Appends all of `other`.
    pub fn extend(&mut self, other: Warnings) {
        self.suppressed += other.suppressed;
        for warning in other.kept {
            self.push(warning);
        }
    }

    /// The kept warnings, in the order found.
    #[must_use]
    pub fn list(&self) -> &[Warning] {
        &self.kept
    }

    /// How many warnings were found beyond the kept ones.
    #[must_use]
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }

    /// True if any warning of `kind` was kept.
    #[must_use]
    pub fn has(&self, kind: WarningKind) -> bool {
        self.kept.iter().any(|w| w.kind == kind)
    }
}

impl Warnings {
    /// Orders the kept warnings by line (warnings about no line last), stably.
    pub fn sort_by_line(&mut self) {
        self.kept.sort_by_key(|w| w.line.unwrap_or(u64::MAX));
    }
}
