//! Property tests of the time arithmetic on random span trees.

use perf_analyze::{analyze_reader, Options};
use proptest::prelude::*;

mod forest_common;

use forest_common::{jsonl, Overlap, Raw, Shape};

/// Random trees on one thread: roots one after another, each node's children inside it.
/// With `overlap`, siblings may overlap (as concurrent children do); otherwise they never do.
fn trees(seeds: &[u64], overlap: bool) -> Vec<Raw> {
    let shape = Shape {
        names: 3,
        roots: 3,
        min_len: 1_000,
        overlapping_roots: false,
        max_depth: 4,
        kids: 4,
        overlap: if overlap {
            Overlap::Always
        } else {
            Overlap::Never
        },
    };
    forest_common::forest(seeds, shape)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn self_never_exceeds_total(seeds in proptest::collection::vec(any::<u64>(), 1..64), overlap in any::<bool>()) {
        let spans = trees(&seeds, overlap);
        let durations: u64 = spans.iter().map(|s| s.end - s.start).sum();
        let a = analyze_reader(jsonl(spans, true).as_bytes(), "p", &Options::default()).unwrap();
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
        let a = analyze_reader(jsonl(spans, true).as_bytes(), "p", &Options::default()).unwrap();
        let self_sum: u64 = a.summary.by_name.iter().map(|r| r.self_ns).sum();
        prop_assert_eq!(self_sum, roots);
        prop_assert_eq!(a.summary.active_ns, roots);
        let pct: f64 = a.summary.by_name.iter().map(|r| r.pct_of_wall).sum();
        prop_assert!(pct <= 100.0 + 1e-9, "{}", pct);
    }
}
