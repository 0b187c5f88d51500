//! The exports parsed back and checked against the session they came from.

mod export_common;

use std::collections::{BTreeMap, HashMap};

use perf_analyze::export::{chrome, flamegraph, folded, speedscope, Session, TrackKind};
use serde_json::Value;

fn sessions() -> Vec<Session> {
    ["agent_session.jsonl", "hostile_names.jsonl"]
        .iter()
        .map(|name| export_common::load(name))
        .collect()
}

fn chrome_events(session: &Session) -> Vec<Value> {
    let mut out = Vec::new();
    chrome::write(session, &mut out).unwrap();
    let trace: Value = serde_json::from_slice(&out).unwrap();
    trace["traceEvents"].as_array().unwrap().clone()
}

/// Nanoseconds from a microsecond value written with nanosecond decimals.
fn ns(micros: &Value) -> u64 {
    let text = micros.to_string();
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    assert!(frac.len() <= 3, "more than ns precision in {text}");
    whole.parse::<u64>().unwrap() * 1000 + format!("{frac:0<3}").parse::<u64>().unwrap()
}

#[test]
fn chrome_trace_is_sorted_nested_per_track_and_in_microseconds() {
    for session in sessions() {
        let timeline = session.timeline();
        let events = chrome_events(&session);

        // Sorted by ts on each track (Perfetto sorts across tracks on import).
        let mut last_ts: HashMap<u64, u64> = HashMap::new();
        for event in events.iter().filter(|e| e["ph"] == "X") {
            let last = last_ts.entry(event["tid"].as_u64().unwrap()).or_default();
            assert!(
                *last <= ns(&event["ts"]),
                "a track's events not sorted by ts"
            );
            *last = ns(&event["ts"]);
        }

        // Every span exactly once, at its time on the session timeline, in µs.
        let complete: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X").collect();
        assert_eq!(complete.len(), timeline.spans().len());
        let mut by_key = HashMap::new();
        for span in timeline.spans() {
            by_key.insert((span.segment as u64, span.record.id), span);
        }
        for event in &complete {
            let key = (
                event["args"]["span"]["segment"].as_u64().unwrap(),
                event["args"]["span"]["id"].as_u64().unwrap(),
            );
            let span = by_key.remove(&key).expect("an event for each span, once");
            assert_eq!(event["name"], *span.record.name);
            assert_eq!(ns(&event["ts"]), span.start_ns);
            assert_eq!(ns(&event["dur"]), span.end_ns - span.start_ns);
            for (field, value) in &span.record.fields() {
                assert_eq!(&event["args"][field], value, "field {field} as an arg");
            }
        }

        // On one track (tid) events nest or are disjoint: a stack of open ends.
        let mut open: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for event in &complete {
            let (start, end) = (ns(&event["ts"]), ns(&event["ts"]) + ns(&event["dur"]));
            let stack = open.entry(event["tid"].as_u64().unwrap()).or_default();
            while stack.last().is_some_and(|&top| top <= start) {
                stack.pop();
            }
            if let Some(&top) = stack.last() {
                assert!(
                    end <= top,
                    "{} overlaps its track's open span",
                    event["name"]
                );
            }
            stack.push(end);
        }
    }
}

#[test]
fn chrome_trace_names_background_tracks_and_marks_their_events() {
    let session = export_common::load("agent_session.jsonl");
    let timeline = session.timeline();
    let events = chrome_events(&session);
    let thread_names: HashMap<u64, String> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| {
            (
                e["tid"].as_u64().unwrap(),
                e["args"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut background = Vec::new();
    for event in events.iter().filter(|e| e["ph"] == "X") {
        let track = &thread_names[&event["tid"].as_u64().unwrap()];
        if event["cat"] == "background" {
            assert!(track.starts_with("background "), "{track}");
            background.push(event["name"].as_str().unwrap());
        } else {
            assert!(track.starts_with("foreground"), "{track}");
        }
    }
    background.sort_unstable();
    assert_eq!(
        background,
        [
            "async_digest_generation",
            "async_embeddings_update",
            "async_graph_memory_update",
            "graph_entity_resolver",
            "llm_generation"
        ]
    );
    // Three tasks ran at once: three background tracks.
    assert_eq!(
        timeline
            .tracks()
            .iter()
            .filter(|t| t.kind == TrackKind::Background)
            .count(),
        3
    );
    // The second run of the session is on the same timeline, 5 minutes later.
    let run_2 = events.iter().find(|e| e["name"] == "run 2 of 2").unwrap();
    assert_eq!(ns(&run_2["ts"]), 300_000_000_000);
    assert_eq!(run_2["args"]["pid"], 4300);
}

#[test]
fn speedscope_profiles_are_balanced_and_in_time_order() {
    for session in sessions() {
        let timeline = session.timeline();
        let mut out = Vec::new();
        speedscope::write(&session, &mut out).unwrap();
        let file: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(file["$schema"], speedscope::SCHEMA);
        for profile in file["profiles"].as_array().unwrap() {
            assert_eq!(profile["type"], "evented");
            assert_eq!(profile["unit"], "nanoseconds");
        }
        let opened = export_common::checked_profiles(&out);
        assert_eq!(opened, timeline.spans().len());
    }
}

#[test]
fn folded_stacks_weigh_self_time_and_render_with_inferno() {
    for session in sessions() {
        let timeline = session.timeline();
        let stacks = folded::stacks(&session);
        let total_self_us: u64 = stacks.iter().map(|(_, us)| us).sum();
        let self_ns: u64 = (0..timeline.spans().len())
            .map(|i| timeline.self_ns(i))
            .sum();
        // Each line rounds to the nearest µs.
        assert!(total_self_us.abs_diff(self_ns / 1000) <= stacks.len() as u64);
        for (stack, _) in &stacks {
            assert!(!stack.contains('\n') && !stack.contains(";;"), "{stack:?}");
        }

        let text = folded::to_string(&session);
        let mut svg = Vec::new();
        flamegraph::render(text.lines(), session.name(), &mut svg).unwrap();
        let svg = String::from_utf8(svg).unwrap();
        assert!(svg.starts_with("<?xml"));
        // Each top frame of the folded stacks is drawn.
        for (stack, _) in &stacks {
            let root = stack.split(';').next().unwrap();
            let escaped = root
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            assert!(svg.contains(&escaped), "{root} missing from the flamegraph");
        }
    }
}

#[test]
fn folded_stacks_of_the_agent_session() {
    let session = export_common::load("agent_session.jsonl");
    let stacks: HashMap<String, u64> = folded::stacks(&session).into_iter().collect();
    // rag_enhancement: 156.3 ms, minus its child embed_query's 65.7 ms.
    assert_eq!(stacks["memory_query_total;rag_enhancement"], 90_600);
    // The turn's self time counts the concurrent rag/graph phase once.
    // Two turns of the first run and the one of the second run share the stack.
    assert_eq!(
        stacks["memory_query_total;llm_generation"],
        2_456_000 + 1_300_000 + 1_390_000
    );
    assert_eq!(
        stacks["async_graph_memory_update;graph_entity_resolver"],
        1_789_000
    );
}
