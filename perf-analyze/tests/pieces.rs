//! Closed subtrees handed over before their root closes (pieces) change memory, never
//! results: on random forests, with roots that stay open, lost parents and nesting past
//! the folded stacks' depth cap, the output is the same with a budget of one held span
//! as with no budget at all.

use perf_analyze::export::folded::{Stacks, MAX_DEPTH};
use perf_analyze::Options;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Raw {
    id: u64,
    parent: Option<u64>,
    name: String,
    start: u64,
    end: u64,
    depth: u32,
}

/// A random forest: roots one after another or overlapping, each node's children inside
/// it (overlapping each other or not), names from a small set so that stacks repeat.
fn forest(seeds: &[u64]) -> Vec<Raw> {
    const NAMES: [&str; 4] = ["a", "b", "c", "d"];
    let mut rng = seeds.iter().copied().cycle();
    let mut next = move || rng.next().unwrap_or(7);
    let mut spans = Vec::new();
    let mut id = 0u64;
    let mut t = 0u64;
    for _ in 0..1 + next() % 4 {
        let len = 10_000 + next() % 1_000_000;
        id += 1;
        let mut todo = vec![(id, t, t + len, 0u32)];
        spans.push(Raw {
            id,
            parent: None,
            name: NAMES[(next() % 4) as usize].to_owned(),
            start: t,
            end: t + len,
            depth: 0,
        });
        t += next() % (2 * len);
        while let Some((pid, start, end, depth)) = todo.pop() {
            if depth >= 6 || end - start < 8 {
                continue;
            }
            let overlap = next() % 2 == 0;
            let mut cursor = start;
            for _ in 0..next() % 5 {
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
                    name: NAMES[(next() % 4) as usize].to_owned(),
                    start: s,
                    end: e,
                    depth: depth + 1,
                });
                todo.push((id, s, e, depth + 1));
                cursor = if overlap {
                    start + next() % (end - start)
                } else {
                    e
                };
            }
        }
    }
    // Some parents are lost: their children become fragments.
    let lost = next() % 3;
    if lost > 0 {
        spans.retain(|s| s.parent.is_none() || s.id % 11 != lost);
    }
    spans
}

/// A chain nested deeper than the folded stacks keep, under a root that stays open
/// while the chain closes, its spans named by depth.
fn deep_chain(depth: u64) -> Vec<Raw> {
    let mut spans = vec![Raw {
        id: 1,
        parent: None,
        name: "server".to_owned(),
        start: 0,
        end: 100_000,
        depth: 0,
    }];
    for k in 1..=depth {
        spans.push(Raw {
            id: k + 1,
            parent: Some(k),
            name: format!("f{}", k % 7),
            start: k * 10,
            end: 50_000 - k * 10,
            depth: k as u32,
        });
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
    out
}

fn stacks(data: &str, budget: usize) -> Stacks {
    let options = Options {
        hold_budget: Some(budget),
        ..Options::default()
    };
    Stacks::read(data.as_bytes(), "p", &options)
        .expect("a read")
        .0
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn folded_stacks_are_the_same_whether_subtrees_come_early_or_whole(
        seeds in proptest::collection::vec(any::<u64>(), 1..64),
        budget in 1usize..6,
        segments in 1usize..3,
    ) {
        let one = jsonl(forest(&seeds));
        let data = one.repeat(segments);
        let whole = stacks(&data, usize::MAX);
        let early = stacks(&data, budget);
        prop_assert!(whole.spans > 0);
        prop_assert_eq!(&early, &whole);
    }
}

#[test]
fn a_chain_deeper_than_the_cap_folds_the_same_when_handed_over_early() {
    let data = jsonl(deep_chain(MAX_DEPTH as u64 + 40));
    let whole = stacks(&data, usize::MAX);
    assert_eq!(whole.merged_spans, 41); // depths 128 to 168
    assert_eq!(stacks(&data, 1), whole);
    assert_eq!(stacks(&data, 7), whole);
}
