//! Property tests of the time arithmetic on random span trees.

use perf_analyze::{analyze_reader, Options};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Raw {
    id: u64,
    parent: Option<u64>,
    name: &'static str,
    start: u64,
    end: u64,
    depth: u32,
}

/// Random trees on one thread: roots one after another, each node's children inside it.
/// With `overlap`, siblings may overlap (as concurrent children do); otherwise they never do.
fn trees(seeds: &[u64], overlap: bool) -> Vec<Raw> {
    const NAMES: [&str; 3] = ["a", "b", "c"];
    let mut rng = seeds.iter().copied().cycle();
    let mut next = move || rng.next().unwrap_or(7);
    let mut spans = Vec::new();
    let mut id = 0u64;
    let mut t = 0u64;
    for _ in 0..1 + next() % 3 {
        let len = 1_000 + next() % 1_000_000;
        id += 1;
        let mut todo = vec![(id, t, t + len, 0u32)];
        spans.push(Raw {
            id,
            parent: None,
            name: NAMES[(next() % 3) as usize],
            start: t,
            end: t + len,
            depth: 0,
        });
        t += len + next() % 10_000;
        while let Some((pid, start, end, depth)) = todo.pop() {
            if depth >= 4 || end - start < 8 {
                continue;
            }
            let kids = next() % 4;
            let mut cursor = start;
            for _ in 0..kids {
                let room = end - cursor;
                if room < 2 {
                    break;
                }
                let s = cursor + next() % (room / 2).max(1);
                let e = (s + 1 + next() % (end - s)).min(end);
                id += 1;
                spans.push(Raw {
                    id,
                    parent: Some(pid),
                    name: NAMES[(next() % 3) as usize],
                    start: s,
                    end: e,
                    depth: depth + 1,
                });
                todo.push((id, s, e, depth + 1));
                cursor = if overlap {
                    start + (next() % (end - start))
                } else {
                    e
                };
            }
        }
    }
    spans
}

/// Writes spans in close order: by end, deeper first on ties (children close before parents).
fn jsonl(mut spans: Vec<Raw>) -> String {
    spans.sort_by_key(|s| (s.end, std::cmp::Reverse(s.depth)));
    let mut out = String::from(
        "{\"type\":\"session\",\"format\":1,\"session\":\"p\",\"started_at\":\"2026-01-01T00:00:00Z\",\"pid\":1,\"program\":\"p\"}\n",
    );
    for s in &spans {
        let parent = s.parent.map_or("null".to_owned(), |p| p.to_string());
        out.push_str(&format!(
            "{{\"type\":\"span\",\"id\":{},\"parent\":{parent},\"name\":\"{}\",\"target\":\"t\",\"start_ns\":{},\"end_ns\":{},\"busy_ns\":{},\"enters\":1,\"thread\":\"main\",\"status\":\"ok\",\"fields\":{{}}}}\n",
            s.id, s.name, s.start, s.end, s.end - s.start
        ));
    }
    out.push_str("{\"type\":\"end\",\"end_ns\":1,\"spans\":0,\"open\":0,\"dropped\":0}\n");
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn self_never_exceeds_total(seeds in proptest::collection::vec(any::<u64>(), 1..64), overlap in any::<bool>()) {
        let spans = trees(&seeds, overlap);
        let durations: u64 = spans.iter().map(|s| s.end - s.start).sum();
        let a = analyze_reader(jsonl(spans).as_bytes(), "p", &Options::default()).unwrap();
        prop_assert!(a.warnings().is_empty(), "{:?}", a.warnings());
        let mut self_sum = 0;
        for row in &a.summary.by_name {
            // Same-name spans running concurrently inside a span of that name each keep
            // their self time, while total is wall time: only one thread bounds self by total.
            if !overlap {
                prop_assert!(row.self_ns <= row.total_ns, "{:?}", row);
            }
            prop_assert!(row.self_ns <= row.count * row.max_ns);
            prop_assert!(row.total_ns <= row.count * row.max_ns);
            prop_assert!(row.max_ns <= row.total_ns);
            self_sum += row.self_ns;
        }
        prop_assert!(self_sum <= durations);
    }

    #[test]
    fn self_times_of_non_overlapping_children_add_up_to_the_roots(seeds in proptest::collection::vec(any::<u64>(), 1..64)) {
        let spans = trees(&seeds, false);
        let roots: u64 = spans.iter().filter(|s| s.parent.is_none()).map(|s| s.end - s.start).sum();
        let a = analyze_reader(jsonl(spans).as_bytes(), "p", &Options::default()).unwrap();
        let self_sum: u64 = a.summary.by_name.iter().map(|r| r.self_ns).sum();
        prop_assert_eq!(self_sum, roots);
        prop_assert_eq!(a.summary.active_ns, roots);
        let pct: f64 = a.summary.by_name.iter().map(|r| r.pct_of_wall).sum();
        prop_assert!(pct <= 100.0 + 1e-9, "{}", pct);
    }
}
