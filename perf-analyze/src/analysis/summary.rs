//! The summary model: the `performance_summary.json` document an analysis ends in.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::advice::{Recommendation, ResourceRow};
use super::background::AsyncSummary;
use super::bottleneck::Bottleneck;
use super::latency::LatencySummary;
use super::llm::LlmCall;
use super::parallelism::Opportunity;
use super::Analysis;
use crate::Error;

/// The name of the summary file written next to the data.
pub const SUMMARY_FILE: &str = "performance_summary.json";

/// The `performance_summary.json` document (format 1, described in
/// `docs/summary-format.md`). The keys up to `llm_calls` are the promised core;
/// the ones after are extras. Readers ignore keys they do not know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The summary format, 1.
    pub format: u32,
    /// The session id.
    pub session: String,
    /// Per segment, first span start to last span end, summed over segments.
    pub wall_ns: u64,
    /// The length of the union of all span intervals.
    pub active_ns: u64,
    /// Spans read.
    pub operations: u64,
    /// Spans still open when the session was flushed.
    pub open: u64,
    /// Records the layer lost (from the `end` lines).
    pub dropped: u64,
    /// Per span name, by self time.
    pub by_name: Vec<NameRow>,
    /// Bottlenecks, most severe first.
    pub bottlenecks: Vec<Bottleneck>,
    /// Recommendations, largest estimated saving first.
    pub recommendations: Vec<Recommendation>,
    /// Parallelization opportunities, largest saving first.
    pub parallelism: Vec<Opportunity>,
    /// The critical path of the latest root, names in pre-order.
    pub critical_path: Vec<String>,
    /// LLM calls (the 1,000 that started last), by start.
    pub llm_calls: Vec<LlmCall>,
    /// When the first segment started (RFC 3339), if known.
    pub started_at: Option<String>,
    /// Spans with status `error`.
    pub errors: u64,
    /// Segments (runs) in the file.
    pub segments: u32,
    /// A format-1 segment has no `end` line: the session is still running or ended abruptly.
    pub ended_abruptly: bool,
    /// Spans of operations still running: read, but their parents were not written yet
    /// (a segment without an `end` line). Counted in every total, not as roots.
    #[serde(default)]
    pub in_flight: u64,
    /// LLM calls in the session, including those beyond `llm_calls`.
    pub llm_calls_total: u64,
    /// Background work, waiting spans and batching candidates.
    pub background: AsyncSummary,
    /// Self time per category.
    pub resources: Vec<ResourceRow>,
    /// Problems read past (`file:line: message`), the first 200.
    pub warnings: Vec<String>,
    /// User-facing work against background work and long-lived roots.
    #[serde(default)]
    pub workload: Workload,
    /// User-facing requests (or turns) by start time.
    #[serde(default)]
    pub latency_over_time: LatencySummary,
}

impl Summary {
    /// True if `row` is a long-lived root's (a connection, a subscriber): its own time
    /// is mostly waiting for requests, not work.
    #[must_use]
    pub fn is_long_lived(&self, row: &NameRow) -> bool {
        self.workload.long_lived_names.contains(&row.name)
    }

    /// True if `row`'s operation ran only in background work, in a session that has some
    /// (marked `(bg)` in the report).
    #[must_use]
    pub fn is_background_only(&self, row: &NameRow) -> bool {
        row.user_facing == 0 && self.background.background_roots > 0
    }

    /// The own time of all spans but long-lived roots': what shares of own time are of.
    #[must_use]
    pub fn work_self_ns(&self) -> u64 {
        let work = self.by_name.iter().filter(|r| !self.is_long_lived(r));
        work.map(|r| r.self_ns).sum()
    }
}

/// What the session's work was: user-facing requests or turns, background roots,
/// and long-lived roots (connections, subscribers) whose children are the requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// User-facing units: foreground roots, and the children of long-lived roots.
    pub requests: u64,
    /// Their summed durations.
    pub request_ns: u64,
    /// Requests per second of wall time.
    pub requests_per_s: f64,
    /// Long-lived roots.
    pub long_lived_roots: u64,
    /// The most frequent long-lived roots' names.
    pub long_lived_names: Vec<String>,
    /// Of `requests`, the children of long-lived roots.
    #[serde(default)]
    pub long_lived_requests: u64,
    /// Their summed durations.
    #[serde(default)]
    pub long_lived_request_ns: u64,
}

/// One span name's row in `by_name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NameRow {
    /// The span name.
    pub name: String,
    /// How many spans.
    pub count: u64,
    /// Wall time, a span nested in another of the same name counted once.
    pub total_ns: u64,
    /// Duration minus the union of children's intervals, summed.
    pub self_ns: u64,
    /// Mean duration.
    pub mean_ns: u64,
    /// Median duration (within 1%).
    pub p50_ns: u64,
    /// 95th percentile duration (within 1%).
    pub p95_ns: u64,
    /// 99th percentile duration (within 1%).
    #[serde(default)]
    pub p99_ns: u64,
    /// 99.9th percentile duration (within 1%).
    #[serde(default)]
    pub p999_ns: u64,
    /// Calls per second of wall time.
    #[serde(default)]
    pub calls_per_s: f64,
    /// Summed busy time (entered); a parent's includes its children's on its thread.
    #[serde(default)]
    pub busy_ns: u64,
    /// The target (module path) of its first span.
    #[serde(default)]
    pub target: String,
    /// Longest duration.
    pub max_ns: u64,
    /// Self time as a percentage of wall time.
    pub pct_of_wall: f64,
    /// Spans with status `error`.
    #[serde(default)]
    pub errors: u64,
    /// Spans still open at the flush.
    #[serde(default)]
    pub open: u64,
    /// Spans in user-facing work (under foreground roots, or requests of long-lived
    /// roots); the others ran in background work or are long-lived roots.
    #[serde(default)]
    pub user_facing: u64,
}

impl Analysis {
    /// The summary document as pretty JSON, with a final newline.
    #[must_use]
    pub fn summary_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(&self.summary).unwrap_or_default();
        json.push('\n');
        json
    }

    /// Writes `performance_summary.json` into `dir` and returns its path: atomically, as
    /// a new temporary file of a random name renamed over it, so a symbolic link planted
    /// in `dir` is never written through.
    pub fn save_summary(&self, dir: &Path) -> Result<PathBuf, Error> {
        let path = dir.join(SUMMARY_FILE);
        let write_error = |source| Error::Write {
            path: path.clone(),
            source,
        };
        // A new file of a random name, made only if no file or link is there
        // (a link planted at a fixed temporary name would be written through),
        // then renamed over the summary.
        let mut builder = tempfile::Builder::new();
        builder.prefix(".performance_summary").suffix(".tmp");
        // Readable as a file written plainly would be (the umask applies), not 0600.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let mut tmp = builder.tempfile_in(dir).map_err(write_error)?;
        tmp.write_all(self.summary_json().as_bytes())
            .map_err(write_error)?;
        tmp.persist(&path).map_err(|e| write_error(e.error))?;
        Ok(path)
    }
}
