//! The Chrome and speedscope exports laid out as the session is read, with a budget of
//! held spans far below the session's: the same spans at the same times as the
//! timeline of the whole session, on tracks where they nest; and the same bytes as the
//! whole session's export when it fits in the budget.

use std::collections::BTreeMap;

use perf_analyze::export::{chrome, speedscope, ExportFormat, Session};
use perf_analyze::Options;
use proptest::prelude::*;
use serde_json::Value;

mod export_common;
mod forest_common;

/// A random forest with overlapping roots and children, some parents lost.
fn forest(seeds: &[u64]) -> String {
    forest_common::jsonl(forest_common::with_lost_parents(seeds), false)
}

fn budget(budget: Option<usize>) -> Options {
    Options {
        hold_budget: budget,
        ..Options::default()
    }
}

/// An export of the whole session held in memory.
fn whole(format: ExportFormat, data: &str) -> Vec<u8> {
    let (session, _) = Session::read(data.as_bytes(), "p", &Options::default()).expect("a read");
    let mut out = Vec::new();
    format.write(&session, &mut out).expect("an export");
    out
}

/// An export laid out as the session is read, with a budget of held spans.
fn streamed(format: ExportFormat, data: &str, held: Option<usize>) -> Vec<u8> {
    let mut out = Vec::new();
    format
        .write_read(data.as_bytes(), "p", &budget(held), &mut out)
        .expect("an export");
    out
}

/// Nanoseconds from a microsecond value written with nanosecond decimals.
fn ns(micros: &Value) -> u64 {
    let text = micros.to_string();
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    whole.parse::<u64>().unwrap() * 1000 + format!("{frac:0<3}").parse::<u64>().unwrap()
}

/// A Chrome trace's complete events as (name, ts, dur, segment, id), sorted; checks
/// that on each track they come in start order and nest or are disjoint.
fn complete_events(trace: &[u8]) -> Vec<(String, u64, u64, u64, u64)> {
    let trace: Value = serde_json::from_slice(trace).expect("JSON");
    let mut open: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    let mut events = Vec::new();
    for event in trace["traceEvents"].as_array().unwrap() {
        if event["ph"] != "X" {
            continue;
        }
        let (start, dur) = (ns(&event["ts"]), ns(&event["dur"]));
        let stack = open.entry(event["tid"].as_u64().unwrap()).or_default();
        while stack.last().is_some_and(|&(_, end)| end <= start) {
            stack.pop();
        }
        if let Some(&(top_start, top_end)) = stack.last() {
            assert!(
                top_start <= start && start + dur <= top_end,
                "{event} overlaps its track's open span [{top_start}, {top_end})"
            );
        }
        stack.push((start, start + dur));
        events.push((
            event["name"].as_str().unwrap().to_owned(),
            start,
            dur,
            event["args"]["span"]["segment"].as_u64().unwrap(),
            event["args"]["span"]["id"].as_u64().unwrap(),
        ));
    }
    events.sort();
    events
}

/// The streamed exports with `held` spans against the whole session's.
fn same_spans_as_whole(data: &str, held: usize) {
    let expected = complete_events(&whole(ExportFormat::Chrome, data));
    assert!(!expected.is_empty());
    let actual = complete_events(&streamed(ExportFormat::Chrome, data, Some(held)));
    assert_eq!(actual, expected, "budget {held}");
    let opened =
        export_common::checked_profiles(&streamed(ExportFormat::Speedscope, data, Some(held)));
    assert_eq!(opened, expected.len(), "budget {held}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn a_small_budget_exports_the_same_spans_on_tracks_where_they_nest(
        seeds in proptest::collection::vec(any::<u64>(), 1..64),
        held in 1usize..6,
        segments in 1usize..3,
    ) {
        let data = forest(&seeds).repeat(segments);
        same_spans_as_whole(&data, held);
    }

    #[test]
    fn a_session_within_the_budget_exports_the_same_bytes_as_held_whole(
        seeds in proptest::collection::vec(any::<u64>(), 1..64),
        segments in 1usize..3,
    ) {
        let data = forest(&seeds).repeat(segments);
        for format in [ExportFormat::Chrome, ExportFormat::Speedscope] {
            let (streamed, whole) = (streamed(format, &data, None), whole(format, &data));
            let differs = streamed.iter().zip(&whole).position(|(a, b)| a != b);
            prop_assert!(streamed == whole, "{format:?} differs at byte {differs:?}");
        }
    }
}

#[test]
fn a_server_whose_connections_stay_open_exports_the_same_spans_with_a_small_budget() {
    let mut data = Vec::new();
    perf_analyze::generate::write_server_session(&mut data, 20_000, 2, 7).unwrap();
    let data = String::from_utf8(data).unwrap();
    for held in [1, 5, 64] {
        same_spans_as_whole(&data, held);
    }
}

#[test]
fn the_module_functions_read_as_the_format_does() {
    let data = forest(&[3, 9, 27, 81]);
    let mut trace = Vec::new();
    chrome::write_read(data.as_bytes(), "p", &budget(Some(2)), &mut trace).unwrap();
    assert_eq!(trace, streamed(ExportFormat::Chrome, &data, Some(2)));
    let mut file = Vec::new();
    speedscope::write_read(data.as_bytes(), "p", &budget(Some(2)), &mut file).unwrap();
    assert_eq!(file, streamed(ExportFormat::Speedscope, &data, Some(2)));
}
