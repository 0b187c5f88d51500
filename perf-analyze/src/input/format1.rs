//! perf-layer's session files, format 1: `session`, `span` and `end` records
//! ([`perf_layer::record`]), several segments (`session` lines) one after another.
//!
//! Span lines as the layer writes them are read by perf-layer's record scanner
//! ([`SpanRecord::from_line`]), several times faster than the general path; a
//! `session` line with an unsupported format number is an error.

use std::path::PathBuf;

use perf_layer::record::{EndRecord, RawFields, SessionRecord, SpanRecord, FORMAT};

use super::scan::{parse_rfc3339_ns, LineError, Probe, Scanner};
use super::span::{Event, Segment, SourceFormat, Span};
use crate::warning::WarningKind;
use crate::Error;

/// How the layer starts a span line.
const SPAN_PREFIX: &str = r#"{"type":"span","#;

/// Reads a span line as the layer writes it; false, having read nothing, if the
/// line is not one (the general path then reads it, or says what is wrong).
pub(super) fn fast_span(s: &mut Scanner, line: &str, emit: &mut impl FnMut(Event)) -> bool {
    if !line.starts_with(SPAN_PREFIX) {
        return false;
    }
    let Ok(record) = SpanRecord::from_line(line) else {
        return false;
    };
    let span = span(s, record, emit);
    emit(Event::Span(span));
    true
}

/// Reads one format-1 record, of the type `probe` found.
pub(super) fn line(
    s: &mut Scanner,
    line: &str,
    probe: &Probe<'_>,
    emit: &mut impl FnMut(Event),
) -> Result<(), LineError> {
    match probe.kind.as_deref().unwrap_or_default() {
        "span" => {
            let record = SpanRecord::from_line(line)?;
            let span = span(s, record, emit);
            emit(Event::Span(span));
            Ok(())
        }
        "session" => session(s, line, probe.format.as_ref(), emit),
        "end" => {
            let record: EndRecord = serde_json::from_str(line)?;
            end(s, record, emit);
            Ok(())
        }
        other => {
            let message = format!("skipped: unknown record type {other:?}");
            s.warn(WarningKind::UnknownRecord, message);
            Ok(())
        }
    }
}

fn session(
    s: &mut Scanner,
    line: &str,
    format: Option<&serde_json::Value>,
    emit: &mut impl FnMut(Event),
) -> Result<(), LineError> {
    match format.map(|f| f.as_u64()) {
        None => {
            return Err(LineError::Malformed(
                "session line without \"format\"".into(),
            ))
        }
        Some(None) => {
            return Err(LineError::Malformed(
                "\"format\" is not a non-negative integer".into(),
            ))
        }
        Some(Some(n)) if n != u64::from(FORMAT) => {
            return Err(LineError::Fatal(Error::UnsupportedFormat {
                path: PathBuf::from(&*s.source),
                line: s.line,
                format: n,
                supported: FORMAT,
            }))
        }
        Some(Some(_)) => {}
    }
    let record: SessionRecord = serde_json::from_str(line)?;
    s.close_segment(None, emit);
    let origin_ns = match parse_rfc3339_ns(&record.started_at) {
        Some(ns) => ns,
        None => {
            let message = format!(
                "started_at {:?} is not an RFC 3339 time; the segment is placed after the previous one",
                record.started_at
            );
            s.warn(WarningKind::BadTimestamp, message);
            s.last_end_ns
        }
    };
    let segment = Segment {
        index: s.segments,
        session: record.session,
        started_at: Some(record.started_at),
        origin_ns,
        pid: Some(record.pid),
        program: Some(record.program),
        format: SourceFormat::PerfLayer,
        line: s.line,
    };
    s.open_segment(segment, emit);
    Ok(())
}

/// The open segment's index and origin, opening an implicit one if spans come first.
fn current_segment(s: &mut Scanner, emit: &mut impl FnMut(Event)) -> (u32, u64) {
    if let Some(open) = &s.segment {
        return (open.index, open.origin_ns);
    }
    s.warn(
        WarningKind::NoSessionLine,
        "span lines before any session line: read as a segment without a start time".into(),
    );
    let segment = Segment {
        index: s.segments,
        session: s.default_session(),
        started_at: None,
        origin_ns: s.last_end_ns,
        pid: None,
        program: None,
        format: SourceFormat::PerfLayer,
        line: s.line,
    };
    let origin = segment.origin_ns;
    let index = segment.index;
    s.open_segment(segment, emit);
    (index, origin)
}

fn end(s: &mut Scanner, record: EndRecord, emit: &mut impl FnMut(Event)) {
    if s.segment.is_none() {
        s.warn(
            WarningKind::NoSessionLine,
            "an end line without a session line before it".into(),
        );
        return;
    }
    s.close_segment(Some(record), emit);
}

/// The one place a [`Span`] is built from a format-1 record: places it in the current
/// segment, shifts its times by the segment's origin and interns its strings.
fn span(
    s: &mut Scanner,
    record: SpanRecord<'_, RawFields<'_>>,
    emit: &mut impl FnMut(Event),
) -> Span {
    let (segment, origin) = current_segment(s, emit);
    let span = Span {
        segment,
        id: record.id,
        parent: record.parent,
        follows_from: record.follows_from,
        name: s.intern(&record.name),
        target: s.intern(&record.target),
        start_ns: origin.saturating_add(record.start_ns),
        end_ns: origin.saturating_add(record.end_ns),
        busy_ns: record.busy_ns,
        idle_ns: record.idle_ns,
        enters: record.enters,
        thread: s.intern(&record.thread),
        status: record.status,
        raw_fields: record.fields.map(|raw| raw.get().into()),
        line: s.line,
    };
    s.last_end_ns = s.last_end_ns.max(span.end_ns);
    span
}
