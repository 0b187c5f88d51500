//! The older Python tracker's lines: one JSON object per operation, with
//! `operation_name`, float-second times (`start_time`, `end_time`,
//! `duration_seconds`) or an ISO `timestamp`, `metadata` and
//! `parent_operation_id`. A file is one segment; `metadata` becomes the span's
//! fields, and an `error` or `"success": false` in it its status.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use perf_layer::record::Status;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::scan::{parse_rfc3339_ns, LineError, Scanner};
use super::span::{Event, Segment, SourceFormat, Span};

/// A line of the older Python tracker.
#[derive(Deserialize)]
struct PythonLine<'a> {
    #[serde(borrow)]
    operation_name: Cow<'a, str>,
    #[serde(borrow, default)]
    operation_id: Option<&'a RawValue>,
    #[serde(default)]
    start_time: Option<f64>,
    #[serde(default)]
    end_time: Option<f64>,
    #[serde(default)]
    duration_seconds: Option<f64>,
    #[serde(borrow, default)]
    metadata: Option<&'a RawValue>,
    #[serde(borrow, default)]
    parent_operation_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    session_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
}

/// Reads one line of the Python tracker.
pub(super) fn line(
    s: &mut Scanner,
    line: &str,
    emit: &mut impl FnMut(Event),
) -> Result<(), LineError> {
    let op: PythonLine<'_> = serde_json::from_str(line)?;
    let start_ns = match (op.start_time, op.timestamp.as_deref()) {
        (Some(t), _) => seconds_to_ns(t).ok_or_else(|| {
            LineError::Malformed(format!("start_time {t} is not a time in seconds"))
        })?,
        (None, Some(ts)) => parse_python_timestamp_ns(ts).ok_or_else(|| {
            LineError::Malformed(format!("timestamp {ts:?} is not an ISO 8601 time"))
        })?,
        (None, None) => {
            return Err(LineError::Malformed(
                "a Python tracker line without start_time or timestamp".into(),
            ))
        }
    };
    // Durations from differences of seconds: epoch seconds as ns lose precision in an f64.
    let duration = match (op.duration_seconds, op.end_time, op.start_time) {
        (Some(d), _, _) => seconds_to_ns(d),
        (None, Some(end), Some(start)) => seconds_to_ns((end - start).max(0.0)),
        (None, Some(end), None) => seconds_to_ns(end).map(|e| e.saturating_sub(start_ns)),
        (None, None, _) => None,
    };
    let end_ns = duration.map(|d| start_ns.saturating_add(d));
    if s.segment.is_none() {
        let segment = Segment {
            index: s.segments,
            session: op
                .session_id
                .as_deref()
                .map_or_else(|| s.default_session(), str::to_owned),
            started_at: op.timestamp.as_deref().map(str::to_owned),
            origin_ns: 0,
            pid: None,
            program: Some("python".to_owned()),
            format: SourceFormat::Python,
            line: s.line,
        };
        s.open_segment(segment, emit);
    }
    let segment = s.segment.as_ref().map_or(0, |s| s.index);
    let metadata = op.metadata.and_then(|raw| non_empty_object(raw.get()));
    let failed = metadata.as_deref().is_some_and(|m| {
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(m).is_ok_and(|m| {
            m.get("error").is_some_and(|e| !e.is_null()) || m.get("success") == Some(&false.into())
        })
    });
    let status = match end_ns {
        None => Status::Open,
        Some(_) if failed => Status::Error,
        Some(_) => Status::Ok,
    };
    let end_ns = end_ns.unwrap_or(start_ns).max(start_ns);
    let id = match op.operation_id {
        Some(raw) => python_id(raw),
        None => python_id_of_line(s.line),
    };
    let span = Span {
        segment,
        id,
        parent: op
            .parent_operation_id
            .filter(|r| r.get() != "null")
            .map(python_id),
        follows_from: Vec::new(),
        name: s.intern(&op.operation_name),
        target: s.intern(""),
        start_ns,
        end_ns,
        busy_ns: end_ns - start_ns,
        idle_ns: None,
        enters: 1,
        thread: s.intern("python"),
        status,
        raw_fields: metadata,
        line: s.line,
    };
    s.last_end_ns = s.last_end_ns.max(span.end_ns);
    emit(Event::Span(span));
    Ok(())
}

fn non_empty_object(raw: &str) -> Option<Box<str>> {
    let inner = raw.strip_prefix('{')?.strip_suffix('}')?;
    if inner.trim().is_empty() {
        None
    } else {
        Some(raw.into())
    }
}

/// A Python operation id (any JSON value) as a 64-bit span id.
fn python_id(raw: &RawValue) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    raw.get().hash(&mut hasher);
    hasher.finish()
}

fn python_id_of_line(line: u64) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    ("line", line).hash(&mut hasher);
    hasher.finish()
}

fn seconds_to_ns(seconds: f64) -> Option<u64> {
    // u64 nanoseconds reach the year 2554.
    if seconds.is_finite() && (0.0..1.8e10).contains(&seconds) {
        Some((seconds * 1e9).round() as u64)
    } else {
        None
    }
}

/// Parses the Python tracker's ISO time, with or without a time zone (none means UTC).
fn parse_python_timestamp_ns(text: &str) -> Option<u64> {
    parse_rfc3339_ns(text).or_else(|| {
        let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
            .ok()?;
        u64::try_from(naive.and_utc().timestamp_nanos_opt()?).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_timestamp_without_zone_is_utc() {
        assert_eq!(
            parse_python_timestamp_ns("1970-01-01T00:00:02.5"),
            Some(2_500_000_000)
        );
        assert_eq!(
            parse_python_timestamp_ns("1970-01-01T00:00:02+00:00"),
            Some(2_000_000_000)
        );
    }
}
