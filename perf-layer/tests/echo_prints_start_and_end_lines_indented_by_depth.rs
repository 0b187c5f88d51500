//! Echo prints `PERF_START: {indent}{name} ({id})` when a span opens and
//! `PERF_END: {indent}{name} ({id}) - 0.023s` when it closes, two spaces per depth.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn echo_prints_start_and_end_lines_indented_by_depth() {
    let out = Captured::default();
    let session = support::session_with(|b| b.echo_to(out.clone()));
    session.run(|| {
        tracing::info_span!("query_memory").in_scope(|| {
            tracing::info_span!("llm_generation").in_scope(|| {
                tracing::info_span!("http").in_scope(|| {});
            });
        });
    });
    let records = session.finish();
    let id = |name: &str| records.span(name).id;
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert_eq!(
        lines[0],
        format!("PERF_START: query_memory ({})", id("query_memory"))
    );
    assert_eq!(
        lines[1],
        format!("PERF_START:   llm_generation ({})", id("llm_generation"))
    );
    assert_eq!(lines[2], format!("PERF_START:     http ({})", id("http")));
    for (line, (indent, name)) in lines[3..].iter().zip([
        ("    ", "http"),
        ("  ", "llm_generation"),
        ("", "query_memory"),
    ]) {
        let prefix = format!("PERF_END: {indent}{name} ({}) - ", id(name));
        let secs = line
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{line:?}"));
        let secs = secs.strip_suffix('s').expect("seconds");
        assert_eq!(secs.len(), "0.000".len(), "three decimals: {line}");
        assert!(secs.parse::<f64>().unwrap() < 10.0);
    }
}

#[test]
fn echo_is_off_by_default() {
    let out = Captured::default();
    // echo_to turns echo on; echo(false) after it turns it off again.
    let session = support::session_with(|b| b.echo_to(out.clone()).echo(false));
    session.run(|| tracing::info_span!("quiet").in_scope(|| {}));
    session.finish();
    assert!(out.0.lock().unwrap().is_empty());
}
