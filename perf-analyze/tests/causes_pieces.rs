//! The causes take pieces (closed subtrees handed over while their parent is open): on
//! random sessions of long-lived connections with requests, user-facing roots and
//! background roots (following from another span), the findings, units, latency over
//! time, long-lived roots and each name's user-facing and background-only standing are
//! the same with a budget of one held span or more as with no budget at all; and what
//! waits for open parents stays within the open parents.

use std::collections::HashSet;
use std::sync::Arc;

use perf_analyze::analysis::causes::Causes;
use perf_analyze::analysis::latency::LatencySummary;
use perf_analyze::analysis::llm::LlmCall;
use perf_analyze::{Options, SegmentEnd, Thresholds, Tree, Visitor};
use proptest::prelude::*;

/// A span of a generated session.
#[derive(Debug, Clone)]
struct S {
    id: u64,
    parent: Option<u64>,
    name: String,
    start: u64,
    end: u64,
    busy: u64,
    follows: Option<u64>,
    depth: u32,
    fields: String,
}

const NAMES: [&str; 4] = ["a", "b", "c", "d"];

/// Random numbers drawn from the seeds, over and over.
struct Rng<'a> {
    seeds: &'a [u64],
    at: usize,
}

impl Rng<'_> {
    fn next(&mut self) -> u64 {
        let v = self.seeds[self.at % self.seeds.len()];
        self.at += 1;
        // Mixed with the position, so that a short seed list still varies.
        v ^ (self.at as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 7
    }
}

struct Gen<'a> {
    rng: Rng<'a>,
    spans: Vec<S>,
    id: u64,
}

impl Gen<'_> {
    #[allow(clippy::too_many_arguments)]
    fn span(
        &mut self,
        parent: Option<u64>,
        name: &str,
        start: u64,
        end: u64,
        follows: Option<u64>,
        depth: u32,
    ) -> u64 {
        self.id += 1;
        let share = self.rng.next() % 101;
        self.spans.push(S {
            id: self.id,
            parent,
            name: name.to_owned(),
            start,
            end,
            busy: (end - start) * share / 100,
            follows,
            depth,
            fields: String::new(),
        });
        self.id
    }

    fn name(&mut self) -> &'static str {
        NAMES[(self.rng.next() % 4) as usize]
    }

    /// Children of `parent` within `[start, end)`: none, a batch of one name back to
    /// back, or a few of random names one after another or overlapping; and theirs.
    fn subtree(&mut self, parent: u64, start: u64, end: u64, depth: u32) {
        if depth >= 4 || end - start < 200 {
            return;
        }
        match self.rng.next() % 4 {
            0 => {}
            1 => {
                let n = 5 + self.rng.next() % 8;
                let name = self.name();
                let slot = (end - start) / n;
                for k in 0..n {
                    let s = start + k * slot;
                    let e = s + slot * (8 + self.rng.next() % 3) / 10;
                    let child = self.span(Some(parent), name, s, e.max(s + 1), None, depth + 1);
                    self.subtree(child, s, e.max(s + 1), depth + 1);
                }
            }
            _ => {
                let overlap = self.rng.next() % 2 == 0;
                let mut cursor = start;
                for _ in 0..self.rng.next() % 5 {
                    let room = end - cursor;
                    if room < 2 {
                        break;
                    }
                    let s = cursor + self.rng.next() % (room / 2).max(1);
                    let e = (s + 1 + self.rng.next() % (end - s)).min(end);
                    let name = self.name();
                    let child = self.span(Some(parent), name, s, e, None, depth + 1);
                    self.subtree(child, s, e, depth + 1);
                    cursor = if overlap {
                        start + self.rng.next() % (end - start)
                    } else {
                        e
                    };
                }
            }
        }
    }

    /// A long-lived connection from `start`: 16 or more requests one after another,
    /// each with its own work.
    fn connection(&mut self, start: u64) -> u64 {
        let conn = self.span(None, "conn", start, start + 1, None, 0);
        let mut t = start + 1_000;
        for _ in 0..16 + self.rng.next() % 20 {
            let len = 10_000 + self.rng.next() % 3_000_000;
            let name = self.name();
            let request = self.span(Some(conn), name, t, t + len, None, 1);
            self.subtree(request, t, t + len, 1);
            t += len + self.rng.next() % 100_000;
        }
        let end = (t + 1_000).max(start + 1_200_000_000);
        let c = self.spans.iter_mut().find(|s| s.id == conn).unwrap();
        (c.end, c.busy) = (end, 1_000);
        end
    }
}

/// A random session: long-lived connections, user-facing roots and background roots
/// (following from the root before), one after another or overlapping.
fn session(seeds: &[u64]) -> Vec<S> {
    let mut g = Gen {
        rng: Rng { seeds, at: 0 },
        spans: Vec::new(),
        id: 0,
    };
    let mut t = 0;
    let mut previous = None;
    for _ in 0..1 + g.rng.next() % 5 {
        let end = match g.rng.next() % 3 {
            0 => g.connection(t),
            kind => {
                let len = 10_000 + g.rng.next() % 20_000_000;
                let follows = if kind == 2 {
                    previous.or(Some(999_999))
                } else {
                    None
                };
                let name = g.name();
                let root = g.span(None, name, t, t + len, follows, 0);
                g.subtree(root, t, t + len, 0);
                previous = Some(root);
                t + len
            }
        };
        t += if g.rng.next() % 2 == 0 {
            end - t + g.rng.next() % 10_000
        } else {
            g.rng.next() % (end - t).max(1)
        };
    }
    g.spans
}

/// The spans as a format-1 session file, in close order (by end, deeper first on ties).
fn jsonl(mut spans: Vec<S>) -> String {
    spans.sort_by_key(|s| (s.end, std::cmp::Reverse(s.depth), s.id));
    let mut out = String::from(
        "{\"type\":\"session\",\"format\":1,\"session\":\"p\",\"started_at\":\"2026-01-01T00:00:00Z\",\"pid\":1,\"program\":\"p\"}\n",
    );
    for s in &spans {
        let parent = s.parent.map_or("null".to_owned(), |p| p.to_string());
        let follows = s
            .follows
            .map_or(String::new(), |f| format!(",\"follows_from\":[{f}]"));
        out.push_str(&format!(
            "{{\"type\":\"span\",\"id\":{},\"parent\":{parent},\"name\":\"{}\",\"target\":\"t\",\"start_ns\":{},\"end_ns\":{},\"busy_ns\":{},\"enters\":1,\"thread\":\"main\",\"status\":\"ok\",\"fields\":{{{}}}{follows}}}\n",
            s.id, s.name, s.start, s.end, s.busy, s.fields
        ));
    }
    out
}

/// The causes fed trees and, with a budget, pieces, as the analyzer feeds them.
struct Feed {
    causes: Causes,
    t: Thresholds,
    pieces: bool,
    /// Open parents that pieces wait for, and the most the causes kept beyond them.
    open: HashSet<(u32, u64)>,
    most_pending: usize,
    most_open: usize,
    over: usize,
}

impl Feed {
    fn add(&mut self, tree: &Tree, long_lived: bool) {
        let calls: Vec<(usize, LlmCall)> = tree
            .nodes()
            .iter()
            .enumerate()
            .filter_map(|(i, n)| LlmCall::from_span(&n.span).map(|c| (i, c)))
            .collect();
        self.causes
            .add_tree(tree, &self.t, true, long_lived, false, &calls);
        for index in 0..tree.len() {
            if let Some(key) = tree.awaited_at(index) {
                self.open.remove(&key);
            }
        }
        if let Some(key) = tree.waits_for() {
            self.open.insert(key);
        }
        let pending = self.causes.pending_len();
        self.most_pending = self.most_pending.max(pending);
        self.most_open = self.most_open.max(self.open.len());
        self.over = self.over.max(pending.saturating_sub(self.open.len()));
    }
}

impl Visitor for Feed {
    fn tree(&mut self, tree: Tree) {
        let long_lived = tree.root().follows_from.is_empty() && Causes::is_long_lived(&tree, true);
        self.add(&tree, long_lived);
    }
    fn takes_pieces(&self) -> bool {
        self.pieces
    }
    fn piece(&mut self, piece: Tree) {
        self.add(&piece, false);
    }
    fn segment_end(&mut self, _: &SegmentEnd) {
        self.causes.finish_segment();
        self.open.clear();
        assert_eq!(self.causes.pending_len(), 0);
    }
}

fn feed(data: &str, budget: Option<usize>) -> Feed {
    let options = Options {
        hold_budget: budget,
        ..Options::default()
    };
    // Short enough for the generated spans to wait.
    let t = Thresholds {
        idle_min_ns: 10_000,
        ..Thresholds::default()
    };
    let mut feed = Feed {
        causes: Causes::default(),
        t,
        pieces: budget.is_some(),
        open: HashSet::new(),
        most_pending: 0,
        most_open: 0,
        over: 0,
    };
    perf_analyze::visit(data.as_bytes(), "p", &options, &mut feed).expect("a read");
    feed
}

/// What the summary and the findings take from the causes.
#[derive(Debug, PartialEq)]
struct Outcome {
    units: u64,
    unit_ns: u64,
    long_lived_units: (u64, u64),
    long_lived: (u64, Vec<String>),
    latency: LatencySummary,
    /// Per name and target: user-facing spans, background only.
    names: Vec<(String, u64, bool)>,
    /// The findings, with a wall time that caps no saving and one that caps many (in
    /// an order of their own: ties may come in another order).
    findings: Vec<String>,
    capped: Vec<String>,
}

fn outcome(causes: &Causes, names: &[(&str, &str)]) -> Outcome {
    let findings = |wall: u64| {
        let mut f: Vec<String> = causes
            .findings(&[], wall)
            .iter()
            .map(|f| format!("{f:?}"))
            .collect();
        f.sort();
        f
    };
    let (roots, mut long_names) = causes.long_lived();
    long_names.sort();
    Outcome {
        units: causes.units(),
        unit_ns: causes.unit_ns(),
        long_lived_units: causes.long_lived_units(),
        long_lived: (roots, long_names),
        latency: causes.latency(),
        names: names
            .iter()
            .map(|&(name, target)| {
                let (name, target): (Arc<str>, Arc<str>) = (name.into(), target.into());
                (
                    name.to_string(),
                    causes.user_facing_spans(&name, &target),
                    causes.background_only(&name, &target),
                )
            })
            .collect(),
        findings: findings(1 << 50),
        capped: findings(2_000_000),
    }
}

const FOREST_NAMES: [(&str, &str); 5] = [
    ("a", "t"),
    ("b", "t"),
    ("c", "t"),
    ("d", "t"),
    ("conn", "t"),
];

fn causes(data: &str, budget: Option<usize>) -> Outcome {
    outcome(&feed(data, budget).causes, &FOREST_NAMES)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_causes_are_the_same_whether_subtrees_come_early_or_whole(
        seeds in proptest::collection::vec(any::<u64>(), 1..64),
        budget in 1usize..6,
    ) {
        let data = jsonl(session(&seeds));
        let whole = causes(&data, None);
        prop_assert_eq!(causes(&data, Some(budget)), whole);
    }
}

#[test]
fn generated_sessions_have_every_kind_of_root_and_finding() {
    // The property above sees connections, user-facing and background roots, pieces of
    // each, and findings of repeated calls and waiting.
    let (mut long, mut fg, mut bg, mut repeated, mut waiting, mut early) = (0, 0, 0, 0, 0, 0);
    for seed in 0..64u64 {
        let seeds: Vec<u64> = (0..8)
            .map(|k| seed.wrapping_mul(7919) ^ (k << 13))
            .collect();
        let spans = session(&seeds);
        bg += spans
            .iter()
            .filter(|s| s.follows.is_some() && spans.iter().any(|c| c.parent == Some(s.id)))
            .count();
        let data = jsonl(spans);
        let whole = feed(&data, None);
        let (roots, _) = whole.causes.long_lived();
        long += roots;
        fg += whole.causes.units() - whole.causes.long_lived_units().0;
        let findings = format!("{:?}", whole.causes.findings(&[], 1 << 50));
        repeated += findings.matches("RepeatedCalls").count();
        waiting += findings.matches("Waiting").count();
        early += feed(&data, Some(1)).most_open;
    }
    assert!(long > 10 && fg > 10 && bg > 10, "{long} {fg} {bg}");
    assert!(repeated > 5 && waiting > 5, "{repeated} {waiting}");
    assert!(early > 64, "{early}");
}

/// A server session: two connections open the whole session, 20,000 spans.
fn server() -> String {
    let mut data = Vec::new();
    perf_analyze::generate::write_server_session(&mut data, 20_000, 2, 7).unwrap();
    String::from_utf8(data).unwrap()
}

const SERVER_NAMES: [(&str, &str); 6] = [
    ("connection", "server::connection"),
    ("request", "server::connection"),
    ("parse", "server::connection"),
    ("handle", "server::connection"),
    ("write_response", "server::connection"),
    ("db_query", "server::db"),
];

#[test]
fn a_server_s_causes_are_the_same_when_requests_come_early() {
    let data = server();
    let whole = outcome(&feed(&data, None).causes, &SERVER_NAMES);
    assert_eq!(whole.long_lived.0, 2, "{whole:?}");
    assert!(whole.long_lived_units.0 > 3_000, "{whole:?}");
    for budget in [1, 64, 4096] {
        let early = feed(&data, Some(budget));
        assert!(early.most_open > 0, "pieces with a budget of {budget}");
        assert_eq!(
            outcome(&early.causes, &SERVER_NAMES),
            whole,
            "budget {budget}"
        );
    }
}

#[test]
fn what_waits_for_open_parents_is_no_more_than_them() {
    // With a budget of one span nearly every closed span is handed over at once: the
    // causes keep one entry per open parent with pieces, none once the segment ended.
    let early = feed(&server(), Some(1));
    assert!(early.most_pending >= 2, "{}", early.most_pending);
    assert_eq!(early.over, 0, "entries beyond the open parents");
    assert!(early.most_pending <= early.most_open);
    assert!(early.most_open <= 8, "{}", early.most_open);
    assert_eq!(early.causes.pending_len(), 0);
}

fn span(id: u64, parent: Option<u64>, name: &str, start: u64, end: u64) -> S {
    S {
        id,
        parent,
        name: name.to_owned(),
        start,
        end,
        busy: (end - start) / 2,
        follows: None,
        depth: u32::from(parent.is_some()),
        fields: String::new(),
    }
}

const MS: u64 = 1_000_000;

/// A root (id 100) whose children (`load`, each with six short `fetch` calls one after
/// another, and a `think` that waits) close long before it does: pieces with a small
/// budget. `follows`: it follows from another span (background work).
fn root_with_early_children(name: &str, follows: Option<u64>, at: u64) -> Vec<S> {
    let mut root = span(100, None, name, at, at + 100 * MS);
    root.follows = follows;
    let mut spans = vec![root];
    let mut id = 100;
    for k in 0..4 {
        let start = at + k * 20 * MS;
        id += 1;
        let load = id;
        spans.push(span(load, Some(100), "load", start, start + 7 * MS));
        for f in 0..6 {
            id += 1;
            let s = start + f * MS;
            let mut fetch = span(id, Some(load), "fetch", s, s + MS);
            fetch.depth = 2;
            spans.push(fetch);
        }
        id += 1;
        let mut think = span(id, Some(100), "think", start + 8 * MS, start + 18 * MS);
        think.busy = 0;
        spans.push(think);
    }
    spans
}

const SCENARIO_NAMES: [(&str, &str); 5] = [
    ("turn", "t"),
    ("task", "t"),
    ("load", "t"),
    ("fetch", "t"),
    ("think", "t"),
];

/// The causes with no budget, after checking that budgets of 1 to 4 spans (the
/// children then come in pieces) change nothing.
fn same_with_pieces(spans: Vec<S>) -> Outcome {
    let data = jsonl(spans);
    let whole = outcome(&feed(&data, None).causes, &SCENARIO_NAMES);
    for budget in 1..5 {
        let early = feed(&data, Some(budget));
        assert!(early.most_open > 0, "pieces with a budget of {budget}");
        let early = outcome(&early.causes, &SCENARIO_NAMES);
        assert_eq!(early, whole, "budget {budget}");
    }
    whole
}

#[test]
fn pieces_of_a_user_facing_root_are_user_facing_work() {
    let whole = same_with_pieces(root_with_early_children("turn", None, 0));
    assert_eq!((whole.units, whole.unit_ns), (1, 100 * MS));
    let fetch = &whole.names[3];
    assert_eq!(fetch, &("fetch".to_owned(), 24, false));
    let found = whole.findings.join("\n");
    assert!(
        found.contains("RepeatedCalls") && found.contains("fetch"),
        "{found}"
    );
    assert!(
        found.contains("Waiting") && found.contains("think"),
        "{found}"
    );
}

#[test]
fn pieces_of_a_background_root_are_background_work() {
    // A turn, then a task that follows from it, whose children come in pieces.
    let mut spans = vec![span(1, None, "turn", 0, 10 * MS)];
    spans.extend(root_with_early_children("task", Some(1), 20 * MS));
    let whole = same_with_pieces(spans);
    assert_eq!((whole.units, whole.unit_ns), (1, 10 * MS), "the turn only");
    for (name, user_facing, background_only) in &whole.names[1..] {
        assert_eq!((*user_facing, *background_only), (0, true), "{name}");
    }
    assert!(whole.findings.is_empty(), "{:?}", whole.findings);
}

#[test]
fn pieces_of_a_long_lived_root_are_its_requests() {
    // A connection open 10 s with 20 requests, each with the work above under it.
    let mut spans = vec![span(1, None, "connection", 0, 10_000 * MS)];
    spans[0].busy = MS;
    for r in 0..20u64 {
        let mut request = root_with_early_children("request", None, r * 400 * MS);
        for s in &mut request {
            s.id += 1_000 * r;
            s.parent = Some(s.parent.map_or(1, |p| p + 1_000 * r));
            s.depth += 1;
        }
        spans.extend(request);
    }
    let whole = same_with_pieces(spans);
    assert_eq!(whole.long_lived, (1, vec!["connection".to_owned()]));
    assert_eq!(whole.long_lived_units, (20, 20 * 100 * MS));
    assert_eq!(whole.units, 20);
    assert_eq!(
        whole.latency.buckets.iter().map(|b| b.count).sum::<u64>(),
        20
    );
    assert_eq!(whole.names[3], ("fetch".to_owned(), 20 * 24, false));
}

/// A root (id `root`) from `at` with eight steps of a second, each making one LLM call
/// named `call` whose prompt grows; every other call queued (its server's time a third of
/// its wall time).
fn llm_root(root: u64, name: &str, call: &str, at: u64, follows: Option<u64>) -> Vec<S> {
    let mut spans = vec![span(root, None, name, at, at + 9_000 * MS)];
    spans[0].follows = follows;
    for k in 0..8u64 {
        let (step, llm) = (root + 2 * k + 1, root + 2 * k + 2);
        let start = at + k * 1_000 * MS;
        spans.push(span(step, Some(root), "step", start, start + 1_000 * MS));
        let mut c = span(llm, Some(step), call, start + 100 * MS, start + 900 * MS);
        c.depth = 2;
        let total = if k % 2 == 0 { 800 * MS } else { 800 * MS / 3 };
        c.fields = format!(
            r#""model":"m","total_duration":{total},"eval_duration":{},"eval_count":300,"prompt_eval_count":{},"prompt_eval_duration":{}"#,
            600 * MS,
            100 * (k + 1),
            50 * MS * (k + 1)
        );
        spans.push(c);
    }
    spans
}

#[test]
fn llm_calls_in_pieces_count_with_their_root_s_kind() {
    // A turn's calls, then a background task's (following from the turn), none
    // overlapping: the step's user-facing sums wait for the root's kind.
    let mut spans = llm_root(1, "turn", "chat", 0, None);
    spans.extend(llm_root(100, "task", "summarize", 10_000 * MS, Some(1)));
    let whole = same_with_pieces(spans);
    let found = whole.findings.join("\n");
    for cause in ["LlmGeneration", "LlmPromptGrowth", "LlmQueueing"] {
        assert!(found.contains(cause), "{cause}: {found}");
    }
    assert!(
        found.contains("chat") && !found.contains("summarize"),
        "{found}"
    );
}

/// A turn (1) and a task following from it (2, with a `digest`); then a task (50) still
/// running, never written, whose closed children are a `digest`, a `graph` (with a child)
/// and a `spawned` span following from the turn; and `late`, under that task too, which
/// starts while another turn (60) runs; then a third turn (61), whose children make
/// `late` a piece with a budget of up to 2 spans.
fn running_task() -> Vec<S> {
    let mut task = span(2, None, "task", 10 * MS, 30 * MS);
    task.follows = Some(1);
    let mut spawned = span(53, Some(50), "spawned", 41 * MS, 44 * MS);
    spawned.follows = Some(1);
    let mut prepare = span(54, Some(52), "prepare", 51 * MS, 52 * MS);
    prepare.depth = 2;
    vec![
        span(1, None, "turn", 0, 10 * MS),
        task,
        span(3, Some(2), "digest", 15 * MS, 25 * MS),
        span(51, Some(50), "digest", 40 * MS, 45 * MS),
        spawned,
        span(52, Some(50), "graph", 50 * MS, 60 * MS),
        prepare,
        span(60, None, "turn", 70 * MS, 90 * MS),
        span(55, Some(50), "late", 80 * MS, 85 * MS),
        span(62, Some(61), "answer", 100 * MS, 101 * MS),
        span(63, Some(61), "answer", 102 * MS, 103 * MS),
        span(64, Some(61), "answer", 104 * MS, 105 * MS),
        span(61, None, "turn", 100 * MS, 110 * MS),
    ]
}

const RUNNING_NAMES: [(&str, &str); 5] = [
    ("digest", "t"),
    ("spawned", "t"),
    ("graph", "t"),
    ("prepare", "t"),
    ("late", "t"),
];

#[test]
fn pieces_whose_parent_never_comes_count_as_its_children_would() {
    // Whole, the children of the running task are fragments: background if their root
    // follows from a span or their operation was only seen in background work, else
    // user-facing, their root a unit, unless (`late`) they started beside another name's
    // user-facing root. In pieces, they count at the segment's end the same way, except
    // that they are not compared with the roots started beside them.
    let data = jsonl(running_task());
    let whole = outcome(&feed(&data, None).causes, &RUNNING_NAMES);
    let names = |bg_late: bool| {
        vec![
            ("digest".to_owned(), 0, true),
            ("spawned".to_owned(), 0, true),
            ("graph".to_owned(), 1, false),
            ("prepare".to_owned(), 1, false),
            ("late".to_owned(), u64::from(!bg_late), bg_late),
        ]
    };
    assert_eq!(whole.names, names(true));
    assert_eq!((whole.units, whole.unit_ns), (4, 50 * MS));
    for budget in [1, 2] {
        let early = feed(&data, Some(budget));
        assert!(early.most_open > 0);
        assert_eq!(early.causes.pending_len(), 0);
        let early = outcome(&early.causes, &RUNNING_NAMES);
        assert_eq!(early.names, names(false), "budget {budget}");
        assert_eq!(
            (early.units, early.unit_ns),
            (5, 55 * MS),
            "budget {budget}"
        );
    }
}

#[test]
fn connections_under_a_server_span_that_never_comes_are_each_long_lived() {
    // The server session's connections under a `server` span still open, never written:
    // whole, each connection is a fragment, long-lived, its children the requests; in
    // pieces too. Only latency over time may start elsewhere (at the earliest request of
    // the connections whose parent never came, not at the first connection's), with the
    // same requests.
    let data = server()
        .replace(r#""id":1,"parent":null"#, r#""id":1,"parent":999999999"#)
        .replace(r#""id":2,"parent":null"#, r#""id":2,"parent":999999999"#);
    let without_latency = |mut o: Outcome| {
        let latency = std::mem::take(&mut o.latency);
        let requests: u64 = latency.buckets.iter().map(|b| b.count).sum();
        let longest = latency.buckets.iter().map(|b| b.max_ns).max();
        (o, latency.bucket_ns, requests, longest)
    };
    let whole = without_latency(outcome(&feed(&data, None).causes, &SERVER_NAMES));
    assert_eq!(whole.0.long_lived, (2, vec!["connection".to_owned()]));
    assert!(whole.0.long_lived_units.0 > 3_000, "{whole:?}");
    assert_eq!(whole.2, whole.0.units);
    for budget in [1, 64, 4096] {
        let early = feed(&data, Some(budget));
        assert_eq!(early.causes.pending_len(), 0);
        let early = without_latency(outcome(&early.causes, &SERVER_NAMES));
        assert_eq!(early, whole, "budget {budget}");
    }
}

#[test]
fn connections_under_a_server_span_that_comes_last_are_its_requests() {
    // The server span comes last, long-lived (idle nearly all its time): whole, its two
    // connections are its requests; in pieces, the connections first wait as roots
    // long-lived by themselves, then count as the server's requests all the same.
    let data = server()
        .replace(r#""id":1,"parent":null"#, r#""id":1,"parent":999999999"#)
        .replace(r#""id":2,"parent":null"#, r#""id":2,"parent":999999999"#);
    let (spans, end) = data.trim_end().rsplit_once('\n').unwrap();
    let server = r#"{"type":"span","id":999999999,"parent":null,"name":"server","target":"server::connection","start_ns":0,"end_ns":100000000000,"busy_ns":1000,"enters":1,"thread":"main","status":"ok","fields":{}}"#;
    let data = format!("{spans}\n{server}\n{end}\n");
    // The generator writes the `accept` spans last: they reach back into the runs a
    // connection's 2,000 early requests were folded into (warned about by the tree
    // builder), so the connections' self time, and their waiting, may differ a little.
    let connection_waits = |mut o: Outcome| {
        let waits = |f: &mut Vec<String>| {
            let n = f.len();
            f.retain(|f| !f.contains(r#"Waiting, operation: "connection""#));
            n - f.len()
        };
        let n = (waits(&mut o.findings), waits(&mut o.capped));
        (o, n)
    };
    let whole = connection_waits(outcome(&feed(&data, None).causes, &SERVER_NAMES));
    assert_eq!(whole.1, (1, 1));
    let whole = whole.0;
    assert_eq!(whole.long_lived, (1, vec!["server".to_owned()]));
    assert_eq!(whole.long_lived_units.0, 2, "{whole:?}");
    assert_eq!(whole.names[0], ("connection".to_owned(), 2, false));
    for budget in [1, 64, 4096] {
        let early = feed(&data, Some(budget));
        assert!(early.most_open > 0);
        let (early, waits) = connection_waits(outcome(&early.causes, &SERVER_NAMES));
        assert_eq!(waits, (1, 1), "budget {budget}");
        assert_eq!(early, whole, "budget {budget}");
    }
}
