//! The report is the same whether a session's trees came whole or in pieces (closed
//! subtrees handed over while their root was still open, to bound memory): on the
//! scenario suite, on server-shaped sessions and on random forests, the summary with a
//! budget of 1, 64 or 4,096 held spans is the one without pieces, but for what pieces
//! change by design (said in the docs): the critical path of the latest operation, the
//! warnings, which calls an LLM call in a piece is said to have waited behind (judged
//! when it comes, before its root says whether it was background work), and a
//! connection's self time where later spans reach back into its early children's folded
//! runs. (Parents that never come are left out here: what waits for them counts at the
//! segment's end as fragments do, but without being compared with the roots started
//! beside them, as `Causes::finish_segment` says.)

use perf_analyze::generate::scenario::Scenario;
use perf_analyze::{analyze_reader, Options, Summary};
use proptest::prelude::*;

mod forest_common;

use forest_common::{Overlap, Shape};

/// The summary with a hold budget (`usize::MAX`: no pieces), as JSON without what
/// pieces may change.
fn summary(data: &[u8], budget: usize) -> serde_json::Value {
    let options = Options {
        hold_budget: Some(budget),
        ..Options::default()
    };
    let analysis = analyze_reader(data, "p.jsonl", &options).expect("a session");
    comparable(&analysis.summary)
}

fn comparable(summary: &Summary) -> serde_json::Value {
    let mut json = serde_json::to_value(summary).unwrap();
    let map = json.as_object_mut().unwrap();
    for key in ["critical_path", "warnings"] {
        map.remove(key);
    }
    // Who a queued LLM call waited behind is judged as the call comes.
    for finding in map["recommendations"].as_array_mut().unwrap() {
        if finding["cause"] == "llm_queueing" {
            let finding = finding.as_object_mut().unwrap();
            finding.remove("evidence");
            finding.remove("suggestions");
        }
    }
    json
}

/// Each differing key of two summaries, with both values.
fn differences(a: &serde_json::Value, b: &serde_json::Value) -> Vec<String> {
    let (a, b) = (a.as_object().unwrap(), b.as_object().unwrap());
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, v)| format!("{k}:\n  whole:  {v}\n  pieces: {}", b[k]))
        .collect()
}

fn assert_same_with_pieces(data: &[u8], budgets: &[usize]) {
    let whole = summary(data, usize::MAX);
    for &budget in budgets {
        let pieces = summary(data, budget);
        let diff = differences(&whole, &pieces);
        assert!(diff.is_empty(), "budget {budget}:\n{}", diff.join("\n"));
    }
}

#[test]
fn every_scenario_s_summary_is_the_same_with_pieces() {
    for scenario in Scenario::ALL {
        let mut data = Vec::new();
        scenario.write(&mut data).unwrap();
        assert_same_with_pieces(&data, &[1, 64, 4096]);
    }
}

#[test]
fn a_server_s_summary_is_the_same_with_pieces() {
    let mut data = Vec::new();
    perf_analyze::generate::write_server_session(&mut data, 20_000, 2, 7).unwrap();
    // The generator writes the `accept` spans last, reaching back into the runs a
    // connection's early requests were folded into (warned about): the connection's
    // self time may differ by at most their durations.
    let without_self = |mut json: serde_json::Value| {
        let rows = json["by_name"].as_array_mut().unwrap();
        let accept_ns = rows.iter().find(|r| r["name"] == "accept").unwrap()["total_ns"]
            .as_u64()
            .unwrap();
        let connection = rows.iter_mut().find(|r| r["name"] == "connection").unwrap();
        let self_ns = connection["self_ns"].as_u64().unwrap();
        let row = connection.as_object_mut().unwrap();
        row.remove("self_ns");
        row.remove("pct_of_wall");
        (json, self_ns, accept_ns)
    };
    let (whole, whole_self, accept_ns) = without_self(summary(&data, usize::MAX));
    for budget in [1, 64, 4096] {
        let (pieces, pieces_self, _) = without_self(summary(&data, budget));
        assert!(
            pieces_self.abs_diff(whole_self) <= accept_ns,
            "budget {budget}: {pieces_self} against {whole_self}"
        );
        let diff = differences(&whole, &pieces);
        assert!(diff.is_empty(), "budget {budget}:\n{}", diff.join("\n"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_random_forest_s_summary_is_the_same_with_pieces(
        seeds in proptest::collection::vec(any::<u64>(), 1..48),
        budget in 1usize..6,
    ) {
        let shape = Shape {
            names: 4,
            roots: 4,
            min_len: 10_000,
            overlapping_roots: true,
            max_depth: 5,
            kids: 5,
            overlap: Overlap::Random,
        };
        let data = forest_common::jsonl(forest_common::forest(&seeds, shape), false);
        let whole = summary(data.as_bytes(), usize::MAX);
        let pieces = summary(data.as_bytes(), budget);
        let diff = differences(&whole, &pieces);
        prop_assert!(diff.is_empty(), "budget {}:\n{}", budget, diff.join("\n"));
    }
}
