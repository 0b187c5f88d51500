//! The parallelization opportunities, the LLM table (kept calls and their callers) and
//! the latest operation (a long-lived root's representative request) take pieces: fed
//! as the analyzer feeds them (pieces in close order, then whole trees whose nodes had
//! children come early), they find the same as with every tree whole, on random forests
//! with sequential siblings and LLM calls and on a server session. The representative
//! request is then within one percentile-sketch bucket of the exact pick.

use perf_analyze::analysis::causes::Causes;
use perf_analyze::analysis::latest::Latest;
use perf_analyze::analysis::llm::{LlmCall, LlmCalls};
use perf_analyze::analysis::parallelism::{Opportunity, Parallelism};
use perf_analyze::analysis::sketch;
use perf_analyze::{Options, SegmentEnd, Thresholds, Tree, Visitor};
use proptest::prelude::*;

mod forest_common;

use forest_common::Raw;

/// The name of the forests' LLM calls.
const LLM: &str = "b";

/// A random forest whose siblings close in start order: each child starts after the
/// previous one ended, or (one in three) while it runs, and ends after it; with roots
/// that overlap, names from three letters (`b` an LLM call) and some parents lost.
fn forest(seeds: &[u64]) -> Vec<Raw> {
    let mut rng = seeds.iter().copied().cycle();
    let mut next = move || rng.next().unwrap_or(7);
    let name = |n: u64| ((b'a' + (n % 3) as u8) as char).to_string();
    let mut spans = Vec::new();
    let (mut id, mut t) = (0u64, 0u64);
    for _ in 0..1 + next() % 4 {
        let len = 10_000 + next() % 1_000_000;
        id += 1;
        spans.push(Raw {
            id,
            parent: None,
            name: name(next()),
            start: t,
            end: t + len,
            depth: 0,
        });
        let mut todo = vec![(id, t, t + len, 0u32)];
        t += next() % (2 * len);
        while let Some((pid, start, end, depth)) = todo.pop() {
            if depth >= 4 {
                continue;
            }
            // The previous child's interval.
            let mut prev = (start, start);
            for _ in 0..next() % 7 {
                let overlap = prev.1 > prev.0 + 1 && next() % 3 == 0;
                let lo = if overlap { prev.0 + 1 } else { prev.1 };
                let room = if overlap {
                    prev.1 - lo
                } else {
                    end.saturating_sub(lo) / 2
                };
                let s = lo + next() % room.max(1);
                let min_end = (s + 1).max(prev.1 + 1);
                if min_end > end {
                    break;
                }
                let e = min_end + next() % (end - min_end + 1);
                id += 1;
                spans.push(Raw {
                    id,
                    parent: Some(pid),
                    name: name(next()),
                    start: s,
                    end: e,
                    depth: depth + 1,
                });
                todo.push((id, s, e, depth + 1));
                prev = (s, e);
            }
        }
    }
    let lost = seeds[0] % 3;
    if lost > 0 {
        spans.retain(|s| s.parent.is_none() || s.id % 13 != lost);
    }
    spans
}

/// The spans as a session file, spans named `llm` an LLM call.
fn jsonl(spans: Vec<Raw>, llm: &str) -> String {
    let data = forest_common::jsonl(spans, false);
    with_llm_calls(&data, llm)
}

/// Makes the spans named `name` LLM calls.
fn with_llm_calls(data: &str, name: &str) -> String {
    let fields = r#""fields":{"gen_ai.request.model":"m","gen_ai.usage.output_tokens":10}"#;
    data.lines()
        .map(|line| {
            if line.contains(&format!(r#""name":"{name}""#)) {
                line.replace(r#""fields":{}"#, fields)
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Thresholds low enough for the forests' microsecond runs to be material.
fn thresholds() -> Thresholds {
    Thresholds {
        parallel_min_ns: 1_000,
        ..Options::default().thresholds
    }
}

/// A long-lived root's pick: the root's id, and the request's id, duration and parent.
type Pick = (u64, Option<(u64, u64, Option<u64>)>);

/// The three aggregators, fed as the analyzer feeds them.
struct Report {
    parallelism: Parallelism,
    llm: LlmCalls,
    latest: Latest,
    thresholds: Thresholds,
    pieces: bool,
    /// Every root counts as long-lived (to try the representative request on forests);
    /// not a fragment's, whose children come as pieces waiting for a parent that never
    /// comes, and so are never left out as a long-lived root's.
    all_long_lived: bool,
    picks: Vec<Pick>,
    calls: Vec<(usize, LlmCall)>,
}

impl Report {
    /// As `Analyzer::add_spans`: true if the tree's root is long-lived.
    fn add_spans(&mut self, tree: &Tree) -> bool {
        let root = tree.root();
        let long_lived = tree.open_parent().is_none()
            && root.follows_from.is_empty()
            && ((self.all_long_lived && tree.missing_parent().is_none())
                || Causes::is_long_lived(tree, true));
        self.calls.clear();
        self.llm.add_tree(tree, &mut self.calls);
        self.parallelism
            .add_tree_from(tree, &self.thresholds, usize::from(long_lived));
        long_lived
    }
}

impl Visitor for Report {
    fn tree(&mut self, tree: Tree) {
        let long_lived = self.add_spans(&tree);
        if long_lived && tree.missing_parent().is_none() {
            let pick = self.latest.clone().pick_request(&tree).map(|r| {
                let root = r.root();
                (root.id, root.duration_ns(), root.parent)
            });
            self.picks.push((tree.root().id, pick));
        }
        self.latest.offer(tree, long_lived);
    }
    fn takes_pieces(&self) -> bool {
        self.pieces
    }
    fn piece(&mut self, piece: Tree) {
        self.add_spans(&piece);
        self.latest.offer_piece(piece);
    }
    fn segment_end(&mut self, _: &SegmentEnd) {
        self.parallelism.finish_segment();
        self.llm.finish_segment();
        self.latest.finish_segment();
    }
}

/// The aggregators after a read with `budget` (`None`: no pieces).
fn report(data: &str, budget: Option<usize>, all_long_lived: bool) -> Report {
    let options = Options {
        hold_budget: budget,
        ..Options::default()
    };
    let mut visitor = Report {
        parallelism: Parallelism::default(),
        llm: LlmCalls::default(),
        latest: Latest::default(),
        thresholds: thresholds(),
        pieces: budget.is_some(),
        all_long_lived,
        picks: Vec::new(),
        calls: Vec::new(),
    };
    perf_analyze::visit(data.as_bytes(), "p", &options, &mut visitor).expect("a read");
    visitor.picks.sort_unstable();
    visitor
}

/// What a report found that pieces must not change: the opportunities, the kept calls
/// (with their callers) and the count of calls.
fn findings(report: &Report) -> (Vec<Opportunity>, Vec<LlmCall>, u64) {
    (
        report.parallelism.opportunities(),
        report.llm.calls(),
        report.llm.count,
    )
}

/// Checks `early`'s picks against the exact ones of `whole`: the same roots, each a
/// child of its root in the exact pick's sketch bucket.
fn same_picks(early: &[Pick], whole: &[Pick]) -> Result<(), String> {
    if early.len() != whole.len() {
        return Err(format!("{early:?} against {whole:?}"));
    }
    for (e, w) in early.iter().zip(whole) {
        let ok = match (e, w) {
            ((er, Some((_, ed, ep))), (wr, Some((_, wd, wp)))) => {
                er == wr && ep == wp && sketch::bucket(*ed) == sketch::bucket(*wd)
            }
            _ => e == w,
        };
        if !ok {
            return Err(format!("{e:?} against {w:?}"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn opportunities_llm_calls_and_the_latest_request_are_the_same_whether_subtrees_come_early_or_whole(
        seeds in proptest::collection::vec(any::<u64>(), 1..64),
        budget in 1usize..6,
        segments in 1usize..3,
        all_long_lived in any::<bool>(),
    ) {
        let data = jsonl(forest(&seeds), LLM).repeat(segments);
        let whole = report(&data, None, all_long_lived);
        let early = report(&data, Some(budget), all_long_lived);
        let has_calls = data.contains(&format!(r#""name":"{}""#, LLM));
        prop_assert_eq!(whole.llm.count > 0, has_calls);
        let (e, w) = (findings(&early), findings(&whole));
        prop_assert_eq!(e.2, w.2);
        prop_assert_eq!(&e.0, &w.0);
        let callers = |calls: &[LlmCall]| -> Vec<(u64, u64, Option<String>)> {
            calls.iter().map(|c| (c.start_ns, c.wall_ns, c.caller.clone())).collect()
        };
        prop_assert_eq!(callers(&e.1), callers(&w.1));
        prop_assert_eq!(e, w);
        if let Err(e) = same_picks(&early.picks, &whole.picks) {
            return Err(TestCaseError::fail(e));
        }
        // Without pieces, the exact pick: the latest request at the median's duration.
        prop_assert_eq!(&report(&data, Some(usize::MAX), all_long_lived).picks, &whole.picks);
    }
}

/// A server session (two connections open the whole session, about 4,000 requests) whose
/// `db_query` spans are LLM calls: more than [`LlmCalls::KEEP`], arriving in another
/// order with pieces.
fn server() -> String {
    let mut data = Vec::new();
    perf_analyze::generate::write_server_session(&mut data, 20_000, 2, 7).unwrap();
    with_llm_calls(&String::from_utf8(data).unwrap(), "db_query")
}

#[test]
fn a_server_s_opportunities_llm_calls_and_latest_request_are_the_same_when_requests_come_early() {
    let data = server();
    let whole = report(&data, None, false);
    let (_, calls, count) = findings(&whole);
    assert!(count > 3 * LlmCalls::KEEP as u64, "{count} calls");
    assert_eq!(calls.len(), LlmCalls::KEEP);
    assert!(calls.iter().all(|c| c.caller.as_deref() == Some("handle")));
    assert_eq!(whole.picks.len(), 2, "the two connections");
    for budget in [1, 64, 4096] {
        let early = report(&data, Some(budget), false);
        assert_eq!(findings(&early), findings(&whole), "budget {budget}");
        same_picks(&early.picks, &whole.picks).unwrap();
        let best = |r: Report| r.latest.best().map(|t| t.root().parent);
        assert_eq!(
            best(early),
            best(report(&data, None, false)),
            "budget {budget}"
        );
    }
}
