//! Human-readable durations.

/// Formats nanoseconds the way the report prints them: `2.456s`, `23.4ms`, `15.2us`, `800ns`.
///
/// ```
/// use perf_analyze::duration::human;
///
/// assert_eq!(human(2_456_000_000), "2.456s");
/// assert_eq!(human(23_400_000), "23.4ms");
/// assert_eq!(human(15_200), "15.2us");
/// assert_eq!(human(800), "800ns");
/// ```
#[must_use]
pub fn human(ns: u64) -> String {
    let f = ns as f64;
    if ns >= 1_000_000_000 {
        format!("{:.3}s", f / 1e9)
    } else if ns >= 1_000_000 {
        format!("{:.1}ms", f / 1e6)
    } else if ns >= 1_000 {
        format!("{:.1}us", f / 1e3)
    } else {
        format!("{ns}ns")
    }
}

/// `part` as a percentage of `whole` (0 when `whole` is 0).
#[must_use]
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}
