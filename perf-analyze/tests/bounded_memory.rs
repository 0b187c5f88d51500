//! Memory stays bounded whatever the input: this test binary counts every byte the
//! process allocates, and each case runs under a limit far below what the input would
//! need if it were held (an allocation past the limit aborts the test binary).

use std::io::{BufReader, Read};
use std::sync::Mutex;

use cap::Cap;
use perf_analyze::export::folded::{Stacks, MAX_DEPTH};
use perf_analyze::export::{chrome, flamegraph, otlp, speedscope};
use perf_analyze::input::{read, Event, MAX_LINE_BYTES};
use perf_analyze::WarningKind;

mod worst_common;

#[global_allocator]
static ALLOCATOR: Cap<std::alloc::System> = Cap::new(std::alloc::System, usize::MAX);

/// The limit is process-wide: one test at a time, inputs made while holding the lock.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `case` with at most `budget` bytes allocated on top of what is allocated now.
fn within<T>(budget: usize, case: impl FnOnce() -> T) -> T {
    ALLOCATOR
        .set_limit(ALLOCATOR.allocated() + budget)
        .expect("a limit above what is allocated");
    let out = case();
    ALLOCATOR.set_limit(usize::MAX).expect("no limit");
    out
}

const SESSION: &str = r#"{"type":"session","format":1,"session":"s","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#;
const SPAN: &str = r#"{"type":"span","id":1,"parent":null,"name":"turn","target":"t","start_ns":0,"end_ns":10,"busy_ns":10,"enters":1,"thread":"main","status":"ok","fields":{}}"#;

/// Reads `input`, returning the spans read and the warnings of kind `LongLine` with their lines.
fn spans_and_long_lines(input: impl Read) -> (usize, Vec<(Option<u64>, String)>) {
    let mut spans = 0;
    let summary = read(BufReader::new(input), "tail.jsonl", false, |event| {
        if let Event::Span(_) = event {
            spans += 1;
        }
    })
    .expect("a read");
    let long = summary
        .warnings
        .list()
        .iter()
        .filter(|w| w.kind == WarningKind::LongLine)
        .map(|w| (w.line, w.to_string()))
        .collect();
    (spans, long)
}

#[test]
fn a_tail_of_nul_bytes_far_longer_than_the_line_cap_is_skipped_in_bounded_memory() {
    let _one = one_at_a_time();
    // A power cut leaves a run of NUL bytes; the program restarted and appended a span.
    let tail = 4 * MAX_LINE_BYTES as u64;
    let (head, after) = (format!("{SESSION}\n{SPAN}\n"), format!("\n{SPAN}\n"));
    let input = head
        .as_bytes()
        .chain(std::io::repeat(0).take(tail))
        .chain(after.as_bytes());
    let (spans, long) = within(MAX_LINE_BYTES + (8 << 20), || spans_and_long_lines(input));
    assert_eq!(spans, 2, "the spans on both sides of the tail are read");
    assert_eq!(long.len(), 1, "{long:?}");
    assert_eq!(long[0].0, Some(3));
    assert!(
        long[0].1.starts_with("tail.jsonl:3: skipped: the line is"),
        "{}",
        long[0].1
    );
}

#[test]
fn a_line_just_under_the_cap_is_still_read() {
    let _one = one_at_a_time();
    // A span whose fields hold one long string, a little under the cap.
    let filler = "x".repeat(MAX_LINE_BYTES - SPAN.len() - 64);
    let span = SPAN.replace(
        r#""fields":{}"#,
        &format!(r#""fields":{{"text":"{filler}"}}"#),
    );
    assert!(span.len() < MAX_LINE_BYTES);
    let input = format!("{SESSION}\n{span}\n");
    let (spans, long) = within(3 * MAX_LINE_BYTES + (8 << 20), || {
        spans_and_long_lines(input.as_bytes())
    });
    assert_eq!((spans, long.len()), (1, 0));
}

#[test]
fn an_input_that_never_ends_its_line_stops_with_a_warning() {
    let _one = one_at_a_time();
    // What `/dev/zero` gives: NUL bytes without end.
    let head = format!("{SESSION}\n{SPAN}\n");
    let input = head.as_bytes().chain(std::io::repeat(0));
    let (spans, long) = within(MAX_LINE_BYTES + (8 << 20), || spans_and_long_lines(input));
    assert_eq!(spans, 1);
    assert_eq!(long.len(), 1, "{long:?}");
    assert!(
        long[0]
            .1
            .starts_with("tail.jsonl:3: reading stopped: no line end"),
        "{}",
        long[0].1
    );
}

#[test]
fn folding_deep_chains_holds_memory_linear_in_the_depth_cap() {
    let _one = one_at_a_time();
    // 20 chains 2,000 deep: their stacks would spell out 40 million frames
    // (hundreds of MB) without the depth cap.
    let session = worst_common::session_of(worst_common::deep_chains(20, 2_000));
    let stacks = within(32 << 20, || Stacks::of(&session));
    assert_eq!(stacks.merged_spans, 20 * (2_000 - MAX_DEPTH as u64));
    let mut svg = Vec::new();
    within(64 << 20, || {
        flamegraph::write_stacks(&stacks, "deep", &mut svg)
    })
    .expect("an svg");
    assert!(svg.len() < 8 << 20, "{} bytes", svg.len());
}

#[test]
fn folded_stacks_are_read_in_memory_that_follows_distinct_stacks_not_the_file() {
    let _one = one_at_a_time();
    // 200,000 spans of agent turns: held as a session they take about 80 MB.
    let mut data = Vec::new();
    perf_analyze::generate::write_session(&mut data, 200_000, 7).expect("a session");
    let (stacks, _) = within(16 << 20, || {
        Stacks::read(data.as_slice(), "turns.jsonl", &Default::default())
    })
    .expect("stacks");
    assert_eq!(stacks.spans, 200_000);
    assert!(stacks.stacks.len() < 100, "{} stacks", stacks.stacks.len());
}

#[test]
fn folding_a_server_whose_connections_stay_open_holds_memory_that_follows_open_work() {
    let _one = one_at_a_time();
    // 400,000 spans under 4 connection roots open the whole session: held until the
    // roots close (what a builder without a budget does), they take about 100 MB.
    let data = server_session();
    let (stacks, _) = within(40 << 20, || {
        Stacks::read(data.as_slice(), "server.jsonl", &Default::default())
    })
    .expect("stacks");
    assert_eq!(stacks.spans, 400_000);
    assert!(stacks.stacks.len() < 100, "{} stacks", stacks.stacks.len());
}

#[test]
fn the_trace_exports_of_a_server_whose_connections_stay_open_hold_memory_that_follows_open_work() {
    let _one = one_at_a_time();
    // 400,000 spans under 4 connection roots open the whole session: held as a session
    // they take about 100 MB; laid out as they are read, the reorder buffer's spans.
    let data = server_session();
    let mut out = Counted(0);
    within(64 << 20, || {
        chrome::write_read(
            data.as_slice(),
            "server.jsonl",
            &Default::default(),
            &mut out,
        )
    })
    .expect("a trace");
    assert!(out.0 > 50 << 20, "{} bytes written", out.0);
    // The speedscope file keeps its events, compact and spilled past 262,144.
    let mut out = Counted(0);
    within(64 << 20, || {
        speedscope::write_read(
            data.as_slice(),
            "server.jsonl",
            &Default::default(),
            &mut out,
        )
    })
    .expect("a profile");
    assert!(out.0 > 10 << 20, "{} bytes written", out.0);
}

#[test]
fn the_otlp_export_of_a_server_whose_connections_stay_open_holds_memory_that_follows_open_work() {
    let _one = one_at_a_time();
    // As above: the connections' closed subtrees are sent in their traces once past the
    // budget, not held until the connections close.
    let data = server_session();
    let mut out = Counted(0);
    let report = within(64 << 20, || {
        otlp::write_read(
            data.as_slice(),
            "server.jsonl",
            &Default::default(),
            &mut out,
        )
    })
    .expect("an export");
    assert!(out.0 > 100 << 20, "{} bytes written", out.0);
    assert!(
        report
            .warnings
            .list()
            .iter()
            .all(|w| w.kind != WarningKind::CapApplied),
        "the connections are roots: every trace whole"
    );
}

/// 400,000 spans under 4 connection roots open the whole session.
fn server_session() -> Vec<u8> {
    let mut data = Vec::new();
    perf_analyze::generate::write_server_session(&mut data, 400_000, 4, 7).expect("a session");
    data
}

/// A writer that counts the bytes and drops them.
struct Counted(usize);

impl std::io::Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
