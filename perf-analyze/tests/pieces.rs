//! Closed subtrees handed over before their root closes (pieces) change memory, never
//! results: on random forests, with roots that stay open, lost parents and nesting past
//! the folded stacks' depth cap, the folded stacks, the per-name statistics and the
//! batching candidates are the same with a budget of one held span as with no budget at
//! all; and a server's connections are long-lived either way.

use perf_analyze::analysis::background::{Background, BatchRow};
use perf_analyze::analysis::causes::Causes;
use perf_analyze::analysis::stats::Stats;
use perf_analyze::export::folded::{Stacks, MAX_DEPTH};
use perf_analyze::{Options, SegmentEnd, Tree, Visitor};
use proptest::prelude::*;

mod forest_common;

use forest_common::{Overlap, Raw, Shape};

/// A random forest: roots one after another or overlapping, each node's children inside
/// it (overlapping each other or not), names from a small set so that stacks repeat; some
/// parents are lost, so that their children become fragments.
fn forest(seeds: &[u64]) -> Vec<Raw> {
    forest_common::with_lost_parents(seeds)
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

fn jsonl(spans: Vec<Raw>) -> String {
    forest_common::jsonl(spans, false)
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

/// Per-name statistics and the batching candidates, fed trees and, if `pieces`, pieces.
struct Aggregators {
    stats: Stats,
    background: Background,
    options: Options,
    pieces: bool,
}

impl Visitor for Aggregators {
    fn tree(&mut self, tree: Tree) {
        self.stats.add_tree(&tree);
        // As the analyzer does: a long-lived root's requests are not calls to batch. A
        // piece's root is no root.
        let long_lived = tree.open_parent().is_none()
            && tree.root().follows_from.is_empty()
            && Causes::is_long_lived(&tree, true);
        self.background
            .add_spans(&tree, &self.options.thresholds, long_lived);
    }
    fn takes_pieces(&self) -> bool {
        self.pieces
    }
    fn piece(&mut self, piece: Tree) {
        self.tree(piece);
    }
    fn segment_end(&mut self, _: &SegmentEnd) {
        self.stats.finish_segment();
        self.background.finish_segment();
    }
}

/// The aggregators after a read with `budget` (`None`: no pieces).
fn aggregate(data: &str, budget: Option<usize>) -> Aggregators {
    let options = Options {
        hold_budget: budget,
        ..Options::default()
    };
    let mut visitor = Aggregators {
        stats: Stats::default(),
        background: Background::default(),
        options: options.clone(),
        pieces: budget.is_some(),
    };
    perf_analyze::visit(data.as_bytes(), "p", &options, &mut visitor).expect("a read");
    visitor
}

/// Each complete root tree's root id, whether it had children handed over early, and
/// whether it is long-lived.
#[derive(Default)]
struct LongLived {
    roots: Vec<(u64, bool, bool)>,
    pieces: bool,
}

impl Visitor for LongLived {
    fn tree(&mut self, tree: Tree) {
        let early = tree.early_children(0).is_some();
        let long_lived = Causes::is_long_lived(&tree, true);
        self.roots.push((tree.root().id, early, long_lived));
    }
    fn takes_pieces(&self) -> bool {
        self.pieces
    }
}

fn long_lived(data: &[u8], budget: Option<usize>) -> LongLived {
    let options = Options {
        hold_budget: budget,
        ..Options::default()
    };
    let mut visitor = LongLived {
        pieces: budget.is_some(),
        ..LongLived::default()
    };
    perf_analyze::visit(data, "p", &options, &mut visitor).expect("a read");
    visitor.roots.sort_unstable();
    visitor
}

#[test]
fn a_connection_whose_requests_came_early_is_still_long_lived() {
    let mut data = Vec::new();
    perf_analyze::generate::write_server_session(&mut data, 20_000, 2, 7).unwrap();
    let whole = long_lived(&data, None).roots;
    let is_long = |roots: &[(u64, bool, bool)]| -> Vec<(u64, bool)> {
        roots.iter().map(|&(id, _, long)| (id, long)).collect()
    };
    assert_eq!(whole.iter().filter(|r| r.2).count(), 2, "two connections");
    for budget in [1, 64, 4096] {
        let early = long_lived(&data, Some(budget)).roots;
        assert!(
            early.iter().filter(|r| r.1 && r.2).count() == 2,
            "the connections' requests came early with a budget of {budget}"
        );
        assert_eq!(is_long(&early), is_long(&whole), "budget {budget}");
    }
}

#[test]
fn a_server_s_statistics_and_batching_are_the_same_when_requests_come_early() {
    // Two connections open the whole session, each skipped by the batching as
    // long-lived, whether its requests came whole or early.
    let mut data = Vec::new();
    perf_analyze::generate::write_server_session(&mut data, 20_000, 2, 7).unwrap();
    let data = String::from_utf8(data).unwrap();
    let (whole_stats, whole_batching) = (stats(&data, None), batching(&data, None));
    assert!(
        whole_batching.iter().all(|b| b.parent != "connection"),
        "{whole_batching:?}"
    );
    // The generator writes the `accept` spans last: they reach back into the runs a
    // connection's 2,000 early requests were folded into (warned about), so its self
    // time may differ, by at most their durations; every other figure is exact.
    let accept_ns = whole_stats.iter().find(|s| s.0 == "accept").unwrap().1[1];
    let self_of = |stats: &mut Vec<(String, [u64; 8])>| {
        let connection = stats.iter_mut().find(|s| s.0 == "connection").unwrap();
        std::mem::take(&mut connection.1[2])
    };
    let mut whole_stats = whole_stats;
    let whole_self = self_of(&mut whole_stats);
    for budget in [1, 64, 4096] {
        let mut early = stats(&data, Some(budget));
        let early_self = self_of(&mut early);
        assert!(
            early_self.abs_diff(whole_self) <= accept_ns,
            "budget {budget}: {early_self} against {whole_self}"
        );
        assert_eq!(early, whole_stats, "budget {budget}");
        assert_eq!(
            batching(&data, Some(budget)),
            whole_batching,
            "budget {budget}"
        );
    }
}

/// The batching candidates: many short calls of one name under one parent.
fn batching(data: &str, budget: Option<usize>) -> Vec<BatchRow> {
    aggregate(data, budget).background.finish().batching
}

/// Each name's statistics, by self time: (name, count, total, self, busy, sum, max, p50, p99).
fn stats(data: &str, budget: Option<usize>) -> Vec<(String, [u64; 8])> {
    let visitor = aggregate(data, budget);
    let rows = visitor.stats.by_self_time();
    rows.into_iter()
        .map(|s| {
            let numbers = [
                s.count,
                s.total_ns,
                s.self_ns,
                s.busy_ns,
                s.sum_ns,
                s.max_ns,
                s.p50_ns(),
                s.p99_ns(),
            ];
            (s.name.to_string(), numbers)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn folded_stacks_and_name_statistics_are_the_same_whether_subtrees_come_early_or_whole(
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
        let whole = stats(&data, None);
        prop_assert_eq!(stats(&data, Some(budget)), whole);
    }

    #[test]
    fn batching_candidates_are_the_same_whether_subtrees_come_early_or_whole(
        seeds in proptest::collection::vec(any::<u64>(), 1..64),
        budget in 1usize..6,
    ) {
        // Up to 11 children a node, from two names: enough calls of one name to batch.
        let shape = Shape {
            names: 2,
            roots: 3,
            min_len: 10_000,
            overlapping_roots: true,
            max_depth: 3,
            kids: 12,
            overlap: Overlap::Never,
        };
        let data = jsonl(forest_common::forest(&seeds, shape));
        let whole = batching(&data, None);
        prop_assert_eq!(batching(&data, Some(budget)), whole);
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

#[test]
fn a_chain_nested_in_its_own_names_counts_once_when_handed_over_early() {
    let data = jsonl(deep_chain(60));
    let whole = stats(&data, None);
    assert_eq!(stats(&data, Some(1)), whole);
    assert_eq!(stats(&data, Some(7)), whole);
}
