//! Generators of worst-case sessions, shared by the tests that need them.
#![allow(dead_code)]

use perf_analyze::export::Session;
use perf_analyze::Options;

pub const SESSION: &str = r#"{"type":"session","format":1,"session":"worst","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#;

/// One span line as the layer writes it.
pub fn span(id: u64, parent: Option<u64>, name: &str, start_ns: u64, end_ns: u64) -> String {
    let parent = parent.map_or("null".to_owned(), |p| p.to_string());
    format!(
        r#"{{"type":"span","id":{id},"parent":{parent},"name":"{name}","target":"t","start_ns":{start_ns},"end_ns":{end_ns},"busy_ns":1,"enters":1,"thread":"main","status":"ok","fields":{{}}}}"#
    )
}

/// A session file of the given span lines.
pub fn file_of(lines: impl IntoIterator<Item = String>) -> String {
    let mut data = format!("{SESSION}\n");
    for line in lines {
        data.push_str(&line);
        data.push('\n');
    }
    data
}

pub fn session_of(lines: impl IntoIterator<Item = String>) -> Session {
    Session::read(
        file_of(lines).as_bytes(),
        "worst.jsonl",
        &Options::default(),
    )
    .expect("a session")
    .0
}

/// `chains` chains of spans `depth` deep, names distinct per chain, each span with
/// 1 µs of self time on either side of its child (deepest written first).
pub fn deep_chains(chains: u64, depth: u64) -> Vec<String> {
    (0..chains)
        .flat_map(|c| {
            let base = c * depth;
            let at = c * 10 * depth * 1_000;
            (0..depth).rev().map(move |d| {
                let parent = (d > 0).then(|| base + d);
                let (start, end) = (at + d * 1_000, at + (2 * depth - d) * 1_000);
                span(base + d + 1, parent, &format!("c{c}_f{d}"), start, end)
            })
        })
        .collect()
}
