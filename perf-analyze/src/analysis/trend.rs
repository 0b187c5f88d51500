//! Performance over time: sessions in time order with their wall time and
//! the self time of the operations that cost the most overall.
//!
//! ```
//! use perf_analyze::analysis::trend::Trend;
//!
//! let data = concat!(
//!     r#"{"type":"session","format":1,"session":"s","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#, "\n",
//!     r#"{"type":"span","id":2,"parent":1,"name":"llm","target":"t","start_ns":0,"end_ns":1500,"busy_ns":1500,"enters":1,"thread":"main","status":"ok","fields":{}}"#, "\n",
//!     r#"{"type":"span","id":1,"parent":null,"name":"turn","target":"t","start_ns":0,"end_ns":2000,"busy_ns":2000,"enters":1,"thread":"main","status":"ok","fields":{}}"#, "\n",
//! );
//! let analysis = perf_analyze::analyze_reader(data.as_bytes(), "mem", &Default::default())?;
//! let trend = Trend::new(vec![analysis.summary], 1);
//! assert_eq!(trend.operations, ["llm"]);
//! assert_eq!(trend.rows[0].wall_ns, 2000);
//! assert_eq!(trend.rows[0].self_ns, [Some(1500)]);
//! # Ok::<(), perf_analyze::Error>(())
//! ```

use std::collections::HashMap;

use serde::Serialize;

use super::Summary;

/// Sessions in time order against the operations with the most self time overall.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    /// The operations shown, most self time over all sessions first.
    pub operations: Vec<String>,
    /// One row per session, oldest first.
    pub rows: Vec<TrendRow>,
}

/// One session in a [`Trend`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendRow {
    /// The session id.
    pub session: String,
    /// When it started (RFC 3339), if known.
    pub started_at: Option<String>,
    /// Its wall time.
    pub wall_ns: u64,
    /// The self time of each of [`Trend::operations`], `None` where the session has none.
    pub self_ns: Vec<Option<u64>>,
}

impl Trend {
    /// Orders the sessions by start (unknown starts first, then by name) and
    /// picks the `top` operations by self time summed over all of them, but long-lived
    /// roots (their own time is waiting for requests).
    #[must_use]
    pub fn new(mut summaries: Vec<Summary>, top: usize) -> Trend {
        summaries.sort_by(|a, b| (&a.started_at, &a.session).cmp(&(&b.started_at, &b.session)));
        let mut totals: HashMap<&str, u64> = HashMap::new();
        for summary in &summaries {
            for row in summary.by_name.iter().filter(|r| !summary.is_long_lived(r)) {
                *totals.entry(row.name.as_str()).or_default() += row.self_ns;
            }
        }
        let mut ranked: Vec<(&str, u64)> = totals.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let operations: Vec<String> = ranked
            .iter()
            .take(top)
            .map(|(n, _)| (*n).to_owned())
            .collect();
        let rows = summaries
            .iter()
            .map(|summary| TrendRow {
                session: summary.session.clone(),
                started_at: summary.started_at.clone(),
                wall_ns: summary.wall_ns,
                self_ns: operations
                    .iter()
                    .map(|op| {
                        summary
                            .by_name
                            .iter()
                            .find(|r| &r.name == op)
                            .map(|r| r.self_ns)
                    })
                    .collect(),
            })
            .collect();
        Trend { operations, rows }
    }
}
