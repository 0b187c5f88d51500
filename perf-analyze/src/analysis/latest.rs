//! The latest operation, for the breakdown and its critical path: see [`Latest`].

use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;

use perf_layer::record::Status;

use super::sketch;
use crate::input::{Span, Tree};

/// The most spans the candidates kept for one open parent hold (see
/// [`Latest::offer_piece`]): past it, the candidate farthest (in buckets) from the
/// median of the durations so far is dropped.
pub const MAX_CANDIDATE_SPANS: usize = 4096;

/// The latest operation: the most recently started complete foreground root. A root is
/// background if it follows from another span, or if it started while the foreground
/// root it is compared with ran (as in the async analysis); roots still open at the
/// flush are used only when nothing else is there. A long-lived root (a connection)
/// offers a representative request instead, preferred to all of them: of its children,
/// the latest whose duration is nearest their median.
///
/// A long-lived root's children may come early, in pieces ([`Latest::offer_piece`]):
/// then, per open parent, the children's durations are counted per bucket of the
/// percentile [`Sketch`](super::sketch::Sketch) (64 per power of two) with the latest
/// child of each bucket, and the pick is the latest child in the median's bucket (found
/// exactly from the counts): a request within one bucket (1/64) of the median, not
/// always the exact pick. The candidates of one open parent hold at most
/// [`MAX_CANDIDATE_SPANS`] spans besides the median bucket's own (kept however large),
/// the farthest from the median dropped first. A request that had children handed over early itself
/// comes without them (its node carries their time: [`Tree::early_children`]).
#[derive(Debug, Clone, Default)]
pub struct Latest {
    /// A representative request of the latest long-lived root.
    request: Option<Tree>,
    foreground: Option<Tree>,
    open: Option<Tree>,
    background: Option<Tree>,
    /// The children of parents still open, handed over in pieces: (segment, open parent
    /// id) -> their durations and candidates.
    pending: HashMap<(u32, u64), Requests>,
}

/// A parent's children handed over in pieces: per duration bucket, how many and the
/// latest one (if the cap left it).
#[derive(Debug, Clone, Default)]
struct Requests {
    buckets: BTreeMap<usize, (u64, Option<Tree>)>,
    /// The spans the candidates hold.
    spans: usize,
}

impl Requests {
    fn add(&mut self, request: Tree) {
        let (count, latest) = self
            .buckets
            .entry(sketch::bucket(request.root().duration_ns()))
            .or_default();
        *count += 1;
        if latest
            .as_ref()
            .map_or(true, |t| request.root().start_ns >= t.root().start_ns)
        {
            self.spans += request.len();
            if let Some(old) = latest.replace(request) {
                self.spans -= old.len();
            }
        }
        while self.spans > MAX_CANDIDATE_SPANS {
            let median = median_bucket(self.buckets.iter().map(|(&b, c)| (b, c.0)));
            // The median's own candidate stays, however large.
            let farthest = self
                .buckets
                .iter_mut()
                .filter(|(&b, c)| c.1.is_some() && b != median)
                .max_by_key(|(&b, _)| b.abs_diff(median));
            match farthest.and_then(|(_, c)| c.1.take()) {
                Some(dropped) => self.spans -= dropped.len(),
                None => break,
            }
        }
    }

    /// The pick among these and `tree`'s root's late children: the latest in the
    /// median's bucket (or the nearest bucket with a candidate).
    fn pick(self, tree: &Tree) -> Option<Tree> {
        let children = tree.children(0);
        let mut counts: BTreeMap<usize, u64> =
            self.buckets.iter().map(|(&b, c)| (b, c.0)).collect();
        for &c in children {
            *counts
                .entry(sketch::bucket(tree.span(c as usize).duration_ns()))
                .or_default() += 1;
        }
        let median = median_bucket(counts.into_iter());
        enum Choice {
            Early(Tree),
            Late(usize),
        }
        let mut best: Option<(usize, u64, Choice)> = None;
        let mut consider = |bucket: usize, start: u64, choice: Choice| {
            let distance = bucket.abs_diff(median);
            if best.as_ref().map_or(true, |b| {
                distance < b.0 || (distance == b.0 && start >= b.1)
            }) {
                best = Some((distance, start, choice));
            }
        };
        for (bucket, (_, latest)) in self.buckets {
            if let Some(early) = latest {
                consider(bucket, early.root().start_ns, Choice::Early(early));
            }
        }
        for &c in children {
            let child = tree.span(c as usize);
            consider(
                sketch::bucket(child.duration_ns()),
                child.start_ns,
                Choice::Late(c as usize),
            );
        }
        Some(match best?.2 {
            Choice::Early(tree) => tree,
            Choice::Late(index) => tree.subtree(index),
        })
    }
}

/// The bucket of the median (the value of rank `n / 2` from 0, as [`representative`]
/// takes it) among counts per bucket, in bucket order.
fn median_bucket(counts: impl Iterator<Item = (usize, u64)>) -> usize {
    let counts: Vec<(usize, u64)> = counts.collect();
    let rank = counts.iter().map(|c| c.1).sum::<u64>() / 2;
    let mut seen = 0u64;
    for &(bucket, count) in &counts {
        seen += count;
        if seen > rank {
            return bucket;
        }
    }
    counts.last().map_or(0, |c| c.0)
}

fn replace_if_later(slot: &mut Option<Tree>, tree: Tree) {
    if slot
        .as_ref()
        .map_or(true, |t| tree.root().start_ns >= t.root().start_ns)
    {
        *slot = Some(tree);
    }
}

impl Latest {
    /// Offers a root's tree (complete, or a fragment whose parent is missing, which is
    /// never the latest operation); `long_lived` says it is a long-lived root, which
    /// offers one of its requests instead. Candidates kept for its nodes' early children
    /// are used (node 0 of a long-lived root) or dropped.
    pub fn offer(&mut self, tree: Tree, long_lived: bool) {
        let root_used = long_lived && tree.missing_parent().is_none();
        for index in usize::from(root_used)..tree.len() {
            if let Some(key) = tree.awaited_at(index) {
                self.pending.remove(&key);
            }
        }
        if tree.missing_parent().is_some() {
            return;
        }
        if long_lived {
            if let Some(request) = self.pick_request(&tree) {
                replace_if_later(&mut self.request, request);
            }
            return;
        }
        self.offer_root(tree);
    }

    /// Offers a piece ([`Tree::waits_for`]): its root, a child of a parent still open,
    /// is a candidate for that parent's representative request if the parent turns out
    /// to be a long-lived root. Candidates kept for its own nodes are dropped (a piece's
    /// nodes are no root).
    pub fn offer_piece(&mut self, piece: Tree) {
        for index in 0..piece.len() {
            if let Some(key) = piece.awaited_at(index) {
                self.pending.remove(&key);
            }
        }
        if let Some(key) = piece.waits_for() {
            self.pending.entry(key).or_default().add(piece);
        }
    }

    /// Ends a segment: candidates whose parent never came in it are dropped.
    pub fn finish_segment(&mut self) {
        self.pending.clear();
    }

    fn offer_root(&mut self, tree: Tree) {
        let root = tree.root();
        if !root.follows_from.is_empty() {
            return replace_if_later(&mut self.background, tree);
        }
        if root.status == Status::Open {
            return replace_if_later(&mut self.open, tree);
        }
        let Some(current) = self.foreground.as_ref().map(Tree::root) else {
            self.foreground = Some(tree);
            return;
        };
        let started_while = |a: &Span, b: &Span| {
            (a.start_ns..a.end_ns.max(a.start_ns.saturating_add(1))).contains(&b.start_ns)
        };
        if root.start_ns >= current.start_ns {
            if started_while(current, root) {
                replace_if_later(&mut self.background, tree);
            } else if let Some(old) = self.foreground.replace(tree) {
                replace_if_later(&mut self.background, old);
            }
        } else if started_while(root, current) {
            // The current one started while this earlier root ran: it was background work.
            if let Some(old) = self.foreground.replace(tree) {
                replace_if_later(&mut self.background, old);
            }
        } else {
            replace_if_later(&mut self.background, tree);
        }
    }

    /// A long-lived root's representative request, from its late children and the
    /// candidates kept for its early ones (which it takes).
    pub fn pick_request(&mut self, tree: &Tree) -> Option<Tree> {
        match tree.awaited_at(0).and_then(|key| self.pending.remove(&key)) {
            Some(early) => early.pick(tree),
            None => representative(tree),
        }
    }

    /// The latest operation: a long-lived root's request, else the latest foreground
    /// root, else one still open, else background work.
    #[must_use]
    pub fn best(self) -> Option<Tree> {
        self.request
            .or(self.foreground)
            .or(self.open)
            .or(self.background)
    }
}

/// A long-lived root's representative request: of its children, the latest whose
/// duration is nearest their median.
fn representative(tree: &Tree) -> Option<Tree> {
    let children = tree.children(0);
    let mut durations: Vec<u64> = children
        .iter()
        .map(|&c| tree.span(c as usize).duration_ns())
        .collect();
    durations.sort_unstable();
    let median = *durations.get(durations.len() / 2)?;
    let best = children
        .iter()
        .rev()
        .min_by_key(|&&c| tree.span(c as usize).duration_ns().abs_diff(median))?;
    Some(tree.subtree(*best as usize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::TreeBuilder;

    /// A connection (id 1) with `requests` requests one after another, each of 20
    /// children, durations spread over many buckets; its trees and pieces from a
    /// builder holding at most `budget` spans, offered as the analyzer offers them.
    /// Also returns the most spans candidates held at once.
    fn connection(requests: u64, budget: usize) -> (Latest, usize) {
        connection_of(requests, 20, budget)
    }

    /// As [`connection`], with `children` children per request.
    fn connection_of(requests: u64, children: u64, budget: usize) -> (Latest, usize) {
        let mut builder = TreeBuilder::with_budget("mem", budget);
        let mut latest = Latest::default();
        let mut most_held = 0;
        let mut id = 1;
        let mut t = 0;
        let offer = |latest: &mut Latest, tree: Tree| {
            if tree.open_parent().is_some() {
                latest.offer_piece(tree);
            } else {
                latest.offer(tree, true);
            }
        };
        for r in 0..requests {
            let len = 1_000 + (r * 7_919) % 200_000;
            id += 1;
            let request = id;
            for k in 0..children {
                id += 1;
                let mut child = Span::example("step", t + k, t + k + 1);
                (child.id, child.parent, child.line) = (id, Some(request), id);
                builder.push(child, &mut |tree| offer(&mut latest, tree));
            }
            let len = len.max(children + 1);
            let mut span = Span::example("request", t, t + len);
            (span.id, span.parent, span.line) = (request, Some(1), request);
            builder.push(span, &mut |tree| offer(&mut latest, tree));
            most_held = most_held.max(latest.pending.values().map(|r| r.spans).sum());
            t += len + 10;
        }
        let mut root = Span::example("connection", 0, t.max(1));
        root.line = id + 1;
        builder.push(root, &mut |tree| offer(&mut latest, tree));
        assert!(latest.pending.is_empty());
        (latest, most_held)
    }

    #[test]
    fn a_connection_s_candidates_stay_under_the_cap_and_the_pick_is_in_the_median_s_bucket() {
        let (whole, _) = connection(1_000, usize::MAX);
        let (early, most_held) = connection(1_000, 200);
        assert!(most_held <= MAX_CANDIDATE_SPANS, "{most_held}");
        assert!(
            most_held > MAX_CANDIDATE_SPANS / 2,
            "{most_held}: the cap was reached"
        );
        let duration = |l: &Latest| l.request.as_ref().unwrap().root().duration_ns();
        assert_eq!(
            sketch::bucket(duration(&early)),
            sketch::bucket(duration(&whole))
        );
    }

    #[test]
    fn a_request_larger_than_the_cap_is_still_a_candidate() {
        let mut builder = TreeBuilder::new("mem");
        let mut request = None;
        let n = MAX_CANDIDATE_SPANS as u64 + 10;
        for id in 2..=n + 1 {
            let mut child = Span::example("step", id, id + 1);
            (child.id, child.parent, child.line) = (id, Some(1), id);
            builder.push(child, &mut |_| {});
        }
        let mut root = Span::example("request", 0, n + 10);
        root.line = n + 2;
        builder.push(root, &mut |tree| request = Some(tree));
        let mut candidates = Requests::default();
        candidates.add(request.unwrap());
        let kept = candidates.buckets.values().filter_map(|c| c.1.as_ref());
        assert_eq!(kept.map(Tree::len).collect::<Vec<_>>(), [n as usize + 1]);
    }
}
