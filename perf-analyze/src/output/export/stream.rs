//! The [`Timeline`](super::Timeline)'s track layout, computed while a session is read:
//! memory follows a budget of spans and the number of tracks, not the file's size.
//!
//! Each tree, or piece (a closed subtree handed over while its parent is open: see
//! [`Visitor::piece`]), is split as it arrives into its *tops*: its root, and the
//! children that do not nest on their parent's track (by the rule of the timeline). A
//! top travels with the spans nested on its track. Tops wait in a reorder buffer,
//! ordered by (start, end, arrival), of at most a budget of spans
//! ([`REORDER_BUDGET`] unless [`Options::hold_budget`] says); the earliest top leaves
//! when the buffer is over budget, and all at the end. A top leaving is classified and
//! placed on the lowest free track of its kind, as the timeline does, then handed to
//! the format's writer.
//!
//! When the session fits in the budget (and comes without pieces) the layout is the
//! timeline's exactly. Otherwise it is exact but for:
//! - the session origin: fixed when the first top leaves, as the earliest of the
//!   segments' origins and the roots' starts read by then (later times before it count
//!   as 0);
//! - a piece's root is a top (its parent is not known yet), and a piece's tops are
//!   foreground work (the root they belong to comes later);
//! - a root's class (foreground or background) counts only the roots read before it
//!   is needed;
//! - a top that leaves after a later-starting one goes on a track of its kind that is
//!   free at its start (one whose spans all ended by then), or on a new track: tracks
//!   still never hold overlapping tops.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::io::BufRead;
use std::path::Path;

use rustc_hash::FxHashMap as HashMap;

use super::TrackKind;
use crate::input::{self, Segment, Span, Tree, VisitReport, Visitor};
use crate::{Error, Options};

/// The spans the reorder buffer holds by default before its earliest top leaves.
pub const REORDER_BUDGET: usize = 1 << 16;

/// A span on a top's track, times on the session timeline.
#[derive(Debug)]
pub(crate) struct Item {
    pub span: Span,
    pub start_ns: u64,
    pub end_ns: u64,
    /// Nesting depth below the top (0 for the top).
    pub depth: u32,
}

/// A top placed on its track, with the spans nested on it in depth-first order.
pub(crate) struct Released<'a> {
    pub items: &'a [Item],
    pub track: usize,
    pub kind: TrackKind,
}

/// A track as laid out.
#[derive(Debug, Clone)]
pub(crate) struct TrackInfo {
    /// `foreground`, `foreground 2`, `background 1`, ...
    pub name: String,
}

/// What a format does with the tops as they are placed.
pub(crate) trait Sink {
    /// The first top is about to be placed: the session origin is `origin_ns`.
    fn start(&mut self, segments: &[Segment], origin_ns: u64);
    /// A top placed on its track; tops on one track come in start order, never overlapping.
    fn top(&mut self, top: Released<'_>);
}

/// What the layout hands over at the end.
pub(crate) struct Finished<S> {
    pub sink: S,
    pub segments: Vec<Segment>,
    pub origin_ns: u64,
    pub tracks: Vec<TrackInfo>,
    /// The end of the last span on the timeline.
    pub end_ns: u64,
}

/// A top waiting in the reorder buffer.
struct Top {
    key: (u64, u64, u64),
    /// The arrival number of its tree; `None` for a piece's top.
    tree: Option<u64>,
    items: Vec<Item>,
}

impl PartialEq for Top {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Top {}
impl PartialOrd for Top {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Top {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

/// A tree with tops still in the buffer: its root's class once known.
struct TreeState {
    background: Option<bool>,
    tops_left: usize,
}

/// The free tracks of each kind: busy ones by the time they are free, idle ones by
/// number and by the time they were free.
#[derive(Default)]
struct Free {
    busy: [BTreeSet<(u64, usize)>; 2],
    idle: [BTreeSet<usize>; 2],
    idle_by_end: [BTreeSet<(u64, usize)>; 2],
    opened: [usize; 2],
    /// The latest start placed, per kind.
    last_start: [u64; 2],
    tracks: Vec<(TrackInfo, u64)>,
}

impl Free {
    /// The lowest-numbered track of kind `kind` free at `start`; for a top that starts
    /// before one already placed, any track free at its start.
    fn place(&mut self, start: u64, end: u64, kind: TrackKind) -> usize {
        let k = usize::from(kind == TrackKind::Background);
        let found = if start >= self.last_start[k] {
            self.last_start[k] = start;
            while let Some(&(free_at, track)) = self.busy[k].first() {
                if free_at > start {
                    break;
                }
                self.busy[k].pop_first();
                self.idle[k].insert(track);
                self.idle_by_end[k].insert((free_at, track));
            }
            self.idle[k].pop_first()
        } else {
            self.idle_by_end[k]
                .first()
                .filter(|&&(free_at, _)| free_at <= start)
                .map(|&(_, track)| track)
        };
        let track = match found {
            Some(track) => {
                self.idle[k].remove(&track);
                self.idle_by_end[k].remove(&(self.tracks[track].1, track));
                track
            }
            None => {
                self.opened[k] += 1;
                let name = match (kind, self.opened[k]) {
                    (TrackKind::Foreground, 1) => "foreground".to_owned(),
                    (TrackKind::Foreground, n) => format!("foreground {n}"),
                    (TrackKind::Background, n) => format!("background {n}"),
                };
                self.tracks.push((TrackInfo { name }, 0));
                self.tracks.len() - 1
            }
        };
        let free_at = &mut self.tracks[track].1;
        *free_at = (*free_at).max(end);
        self.busy[k].insert((*free_at, track));
        track
    }
}

/// A root in the order of classification: (start, longer first, arrival), then whether
/// it follows from a span and its tree's arrival number.
type RootKey = (u64, Reverse<u64>, u64, bool, u64);

/// Lays out a session's spans on tracks as they are read, handing placed tops to a
/// [`Sink`].
pub(crate) struct Stream<S> {
    sink: S,
    budget: usize,
    segments: Vec<Segment>,
    /// Trees and pieces read before the origin was fixed.
    early: Vec<Tree>,
    early_spans: usize,
    origin_ns: Option<u64>,
    /// Spans seen, numbering them in arrival order.
    seen: u64,
    trees: u64,
    buffer: BinaryHeap<Reverse<Top>>,
    held: usize,
    states: HashMap<u64, TreeState>,
    /// Roots not classified yet.
    unclassified: BinaryHeap<Reverse<RootKey>>,
    foreground_until: Option<u64>,
    free: Free,
    end_ns: u64,
}

impl<S: Sink> Stream<S> {
    /// A layout holding at most `budget` spans (at least one top) before placing them.
    pub fn new(sink: S, budget: usize) -> Self {
        Stream {
            sink,
            budget,
            segments: Vec::new(),
            early: Vec::new(),
            early_spans: 0,
            origin_ns: None,
            seen: 0,
            trees: 0,
            buffer: BinaryHeap::new(),
            held: 0,
            states: HashMap::default(),
            unclassified: BinaryHeap::new(),
            foreground_until: None,
            free: Free::default(),
            end_ns: 0,
        }
    }

    /// Places every top left and hands over the sink with the tracks.
    pub fn finish(mut self) -> Finished<S> {
        let origin = self.fix_origin();
        while let Some(Reverse(top)) = self.buffer.pop() {
            self.held -= top.items.len();
            self.release(top);
        }
        Finished {
            sink: self.sink,
            segments: self.segments,
            origin_ns: origin,
            tracks: self.free.tracks.into_iter().map(|(t, _)| t).collect(),
            end_ns: self.end_ns,
        }
    }

    fn arrive(&mut self, tree: Tree) {
        if self.origin_ns.is_some() {
            self.split(&tree);
        } else {
            self.early_spans += tree.len();
            self.early.push(tree);
            if self.early_spans <= self.budget {
                return;
            }
            self.fix_origin();
        }
        while self.held > self.budget {
            let Some(Reverse(top)) = self.buffer.pop() else {
                break;
            };
            self.held -= top.items.len();
            self.release(top);
        }
    }

    /// Fixes the origin from what was read so far, and splits the trees held until then.
    fn fix_origin(&mut self) -> u64 {
        if let Some(origin) = self.origin_ns {
            return origin;
        }
        let roots = self.early.iter().filter(|t| t.open_parent().is_none());
        let mut origin = input::session_origin_ns(
            self.segments.iter().map(|s| s.origin_ns),
            roots.map(|t| t.root().start_ns),
        );
        if self.segments.is_empty() && self.early.iter().all(|t| t.open_parent().is_some()) {
            origin = input::session_origin_ns([], self.early.iter().map(|t| t.root().start_ns));
        }
        self.origin_ns = Some(origin);
        self.sink.start(&self.segments, origin);
        for tree in std::mem::take(&mut self.early) {
            self.split(&tree);
        }
        self.early_spans = 0;
        origin
    }

    /// Splits a tree or piece into its tops and puts them in the buffer.
    fn split(&mut self, tree: &Tree) {
        let origin = self.origin_ns.unwrap_or(0);
        let times: Vec<(u64, u64)> = tree
            .nodes()
            .iter()
            .map(|node| {
                let start = node.span.start_ns.saturating_sub(origin);
                (start, node.span.end_ns.saturating_sub(origin).max(start))
            })
            .collect();
        let base = self.seen;
        self.seen += tree.len() as u64;
        // As the timeline: a child nests on its parent's track when it lies within the
        // parent and starts after the siblings nested before it.
        let mut on_parent_track = vec![false; tree.len()];
        let mut tops = vec![0usize];
        for (parent, &(p_start, p_end)) in times.iter().enumerate() {
            let mut siblings_end = p_start;
            for &child in tree.children(parent) {
                let (start, end) = times[child as usize];
                if start >= p_start && end <= p_end && start >= siblings_end {
                    siblings_end = end;
                    on_parent_track[child as usize] = true;
                } else {
                    tops.push(child as usize);
                }
            }
        }
        let piece = tree.open_parent().is_some();
        let id = (!piece).then(|| {
            let id = self.trees;
            self.trees += 1;
            let (start, end) = times[0];
            let follows = !tree.root().follows_from.is_empty();
            self.unclassified
                .push(Reverse((start, Reverse(end), base, follows, id)));
            self.states.insert(
                id,
                TreeState {
                    background: None,
                    tops_left: tops.len(),
                },
            );
            id
        });
        for top in tops {
            let mut items = Vec::new();
            let mut stack = vec![(top, 0u32)];
            while let Some((i, depth)) = stack.pop() {
                let (start_ns, end_ns) = times[i];
                self.end_ns = self.end_ns.max(end_ns);
                items.push(Item {
                    span: tree.span(i).clone(),
                    start_ns,
                    end_ns,
                    depth,
                });
                stack.extend(
                    tree.children(i)
                        .iter()
                        .rev()
                        .filter(|&&c| on_parent_track[c as usize])
                        .map(|&c| (c as usize, depth + 1)),
                );
            }
            self.held += items.len();
            let (start, end) = times[top];
            self.buffer.push(Reverse(Top {
                key: (start, end, base + top as u64),
                tree: id,
                items,
            }));
        }
    }

    /// Classifies roots in their order until `tree`'s root is.
    fn classify_until(&mut self, tree: u64) -> bool {
        loop {
            if let Some(background) = self.states.get(&tree).and_then(|s| s.background) {
                return background;
            }
            let Some(Reverse((start, Reverse(end), _, follows, id))) = self.unclassified.pop()
            else {
                return false;
            };
            let background = follows || self.foreground_until.is_some_and(|until| start < until);
            if !background {
                self.foreground_until = Some(self.foreground_until.unwrap_or(0).max(end));
            }
            if let Some(state) = self.states.get_mut(&id) {
                state.background = Some(background);
            }
        }
    }

    fn release(&mut self, top: Top) {
        let background = match top.tree {
            Some(tree) => {
                let background = self.classify_until(tree);
                if let Some(state) = self.states.get_mut(&tree) {
                    state.tops_left -= 1;
                    if state.tops_left == 0 {
                        self.states.remove(&tree);
                    }
                }
                background
            }
            None => false,
        };
        let kind = if background {
            TrackKind::Background
        } else {
            TrackKind::Foreground
        };
        let (start, end) = (top.key.0, top.key.1);
        let track = self.free.place(start, end, kind);
        self.sink.top(Released {
            items: &top.items,
            track,
            kind,
        });
    }
}

impl<S: Sink> Visitor for Stream<S> {
    fn segment(&mut self, segment: &Segment) {
        self.segments.push(segment.clone());
    }

    fn tree(&mut self, tree: Tree) {
        self.arrive(tree);
    }

    fn takes_pieces(&self) -> bool {
        true
    }

    fn piece(&mut self, piece: Tree) {
        self.arrive(piece);
    }
}

/// Lays out a session already in memory, all of it at once: the timeline's layout.
pub(crate) fn from_session<S: Sink>(sink: S, session: &super::Session) -> Finished<S> {
    let mut stream = Stream::new(sink, usize::MAX);
    stream.segments = session.segments().to_vec();
    let origin = session.origin_ns();
    stream.origin_ns = Some(origin);
    stream.sink.start(&stream.segments, origin);
    for tree in session.trees() {
        stream.split(tree);
    }
    stream.finish()
}

/// The reorder budget of a read with `options`.
fn budget(options: &Options) -> usize {
    options.hold_budget.unwrap_or(REORDER_BUDGET)
}

/// Reads a session from `input` (named `source` in messages), laying it out as it comes.
pub(crate) fn from_reader<S: Sink, R: BufRead + Send>(
    sink: S,
    input: R,
    source: &str,
    options: &Options,
) -> Result<(Finished<S>, VisitReport), Error> {
    let mut stream = Stream::new(sink, budget(options));
    let report = input::visit(input, source, options, &mut stream)?;
    Ok((stream.finish(), report))
}

/// As [`from_reader`], from a data file or a session directory.
pub(crate) fn from_path<S: Sink>(
    sink: S,
    path: &Path,
    options: &Options,
) -> Result<(Finished<S>, VisitReport), Error> {
    let mut stream = Stream::new(sink, budget(options));
    let report = input::visit_path(path, options, &mut stream)?;
    Ok((stream.finish(), report))
}
