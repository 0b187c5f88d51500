//! Fixtures for the export tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use perf_analyze::export::Session;

/// The directory of the export fixtures.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export")
}

/// Reads a fixture with the analyzer's loader; it must read without warnings.
pub fn load(name: &str) -> Session {
    let (session, report) =
        Session::read_path(&fixtures().join(name), &Default::default()).unwrap();
    assert!(
        report.warnings.list().is_empty(),
        "{name}: {:?}",
        report.warnings.list()
    );
    session
}

/// Compares `actual` with the golden file, or rewrites it when `BLESS` is set.
pub fn golden(path: &Path, actual: &str) {
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with BLESS=1 to record it)", path.display()));
    assert!(
        expected == actual,
        "{} differs from the output (run with BLESS=1 to re-record):\n{}",
        path.display(),
        first_difference(&expected, actual)
    );
}

fn first_difference(expected: &str, actual: &str) -> String {
    let at = expected
        .bytes()
        .zip(actual.bytes())
        .position(|(e, a)| e != a)
        .unwrap_or(expected.len().min(actual.len()));
    let line = expected[..at].lines().count().max(1);
    let context = |text: &str| {
        let mut from = at.saturating_sub(60).min(text.len());
        while !text.is_char_boundary(from) {
            from -= 1;
        }
        let mut to = (at + 60).min(text.len());
        while !text.is_char_boundary(to) {
            to += 1;
        }
        text[from..to].to_owned()
    };
    format!(
        "first difference at byte {at} (line {line}):\n- {}\n+ {}",
        context(expected),
        context(actual)
    )
}

/// Checks that each speedscope profile's events are in time order and balanced;
/// returns how many spans were opened.
pub fn checked_profiles(file: &[u8]) -> usize {
    let file: serde_json::Value = serde_json::from_slice(file).expect("JSON");
    let frames = file["shared"]["frames"].as_array().unwrap().len();
    let mut opened = 0;
    for profile in file["profiles"].as_array().unwrap() {
        let end = profile["endValue"].as_u64().unwrap();
        let (mut stack, mut last) = (Vec::new(), 0);
        for event in profile["events"].as_array().unwrap() {
            let (at, frame) = (
                event["at"].as_u64().unwrap(),
                event["frame"].as_u64().unwrap(),
            );
            assert!(last <= at && at <= end, "`at` out of order or range");
            assert!((frame as usize) < frames);
            last = at;
            match event["type"].as_str().unwrap() {
                "O" => {
                    stack.push(frame);
                    opened += 1;
                }
                "C" => assert_eq!(stack.pop(), Some(frame), "unbalanced close"),
                other => panic!("unknown event type {other}"),
            }
        }
        assert!(stack.is_empty(), "frames left open");
    }
    opened
}
