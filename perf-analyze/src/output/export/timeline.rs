//! A session's spans on one timeline, as trees, and laid out on tracks.
//!
//! A track is a row of a trace viewer: on one track any two spans either nest
//! or do not overlap at all, which is what Chrome's trace format and
//! speedscope's evented profiles require. A span goes on its parent's track
//! when it lies within its parent and overlaps no sibling already there;
//! otherwise (concurrent async work, a task outliving its parent) it starts a
//! row of its own on the first free track of its kind.
//!
//! Roots that follow from another span (`follows_from`), or that start while a
//! foreground root is still running, are background work and get their own
//! tracks, named `background 1`, `background 2`, ...
//!
//! ```
//! use perf_analyze::export::Session;
//!
//! // A turn with two children that ran concurrently.
//! let data = concat!(
//!     r#"{"type":"session","format":1,"session":"s","started_at":"2026-11-24T10:00:00Z","pid":1,"program":"p"}"#, "\n",
//!     r#"{"type":"span","id":2,"parent":1,"name":"a","target":"t","start_ns":10,"end_ns":60,"busy_ns":50,"enters":1,"thread":"main","status":"ok","fields":{}}"#, "\n",
//!     r#"{"type":"span","id":3,"parent":1,"name":"b","target":"t","start_ns":20,"end_ns":90,"busy_ns":70,"enters":1,"thread":"main","status":"ok","fields":{}}"#, "\n",
//!     r#"{"type":"span","id":1,"parent":null,"name":"turn","target":"t","start_ns":0,"end_ns":100,"busy_ns":100,"enters":1,"thread":"main","status":"ok","fields":{}}"#, "\n",
//! );
//! let (session, _) = Session::read(data.as_bytes(), "mem", &Default::default())?;
//! let timeline = session.timeline();
//! assert_eq!(timeline.tracks().len(), 2);
//! let [turn, a, b] = [0, 1, 2].map(|i| timeline.span(i).track);
//! assert_eq!(a, turn);
//! assert_ne!(b, turn);
//! # Ok::<(), perf_analyze::Error>(())
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::analysis::intervals::union_len_sorted;
use crate::input::{Span, Tree};

/// One span placed on the session's timeline.
#[derive(Debug, Clone)]
pub struct Placed<'a> {
    /// The span as read.
    pub record: &'a Span,
    /// Which segment (run) of the session file it came from, from 0.
    pub segment: usize,
    /// Start on the session timeline, ns since the first segment's start.
    pub start_ns: u64,
    /// End on the session timeline (never before `start_ns`).
    pub end_ns: u64,
    /// The parent span's index, `None` for a root.
    pub parent: Option<usize>,
    /// Child spans' indices, sorted by start.
    pub children: Vec<usize>,
    /// Whether the span belongs to background work.
    pub background: bool,
    /// The track it is drawn on (an index into [`Timeline::tracks`]).
    pub track: usize,
    /// Children drawn on the same track, nested inside this span, sorted by start.
    pub track_children: Vec<usize>,
}

impl Placed<'_> {
    /// The span's duration on the timeline.
    #[must_use]
    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }
}

/// Foreground or background work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackKind {
    /// The turns the program waited for, and their concurrent parts.
    Foreground,
    /// Work that ran beside them: spawned tasks, overlapping roots.
    Background,
}

/// A row of the timeline on which spans nest without overlapping.
#[derive(Debug, Clone)]
pub struct Track {
    /// Foreground or background.
    pub kind: TrackKind,
    /// A display name: `foreground`, `foreground 2`, `background 1`, ...
    pub name: String,
    /// The spans at the top of this track, sorted by start.
    pub top: Vec<usize>,
    /// The end of the last top-level span: the track is free from here.
    free_at: u64,
}

/// The tracks of each kind (foreground, background) while spans are placed: those
/// still busy by the time they are free, and those free by number.
#[derive(Default)]
struct Free {
    busy: [BinaryHeap<Reverse<(u64, usize)>>; 2],
    idle: [BinaryHeap<Reverse<usize>>; 2],
    opened: [usize; 2],
}

/// The spans of a session on one timeline, with their trees and tracks.
#[derive(Debug, Clone)]
pub struct Timeline<'a> {
    spans: Vec<Placed<'a>>,
    roots: Vec<usize>,
    tracks: Vec<Track>,
    end_ns: u64,
}

impl<'a> Timeline<'a> {
    /// Places the spans of complete root trees on one timeline that starts at
    /// `origin_ns` (times before it count as 0).
    #[must_use]
    pub fn new(trees: &'a [Tree], origin_ns: u64) -> Self {
        let mut spans = Vec::with_capacity(trees.iter().map(Tree::len).sum());
        let mut roots = Vec::with_capacity(trees.len());
        for tree in trees {
            let base = spans.len();
            roots.push(base);
            for (i, node) in tree.nodes().iter().enumerate() {
                let span = &node.span;
                let start_ns = span.start_ns.saturating_sub(origin_ns);
                let end_ns = span.end_ns.saturating_sub(origin_ns).max(start_ns);
                spans.push(Placed {
                    record: span,
                    segment: span.segment as usize,
                    start_ns,
                    end_ns,
                    parent: node.parent.map(|p| base + p as usize),
                    children: tree
                        .children(i)
                        .iter()
                        .map(|&c| base + c as usize)
                        .collect(),
                    background: false,
                    track: 0,
                    track_children: Vec::new(),
                });
            }
        }
        roots.sort_by_key(|&i| (spans[i].start_ns, spans[i].end_ns, i));
        let mut timeline = Timeline {
            end_ns: spans.iter().map(|s| s.end_ns).max().unwrap_or(0),
            spans,
            roots,
            tracks: Vec::new(),
        };
        timeline.classify();
        timeline.lay_out();
        timeline
    }

    /// Marks background roots and everything under them, by the rule of the
    /// async analysis: roots in start order (the longer first on a tie), a root
    /// is background if it follows from a span or starts while a foreground
    /// root runs.
    fn classify(&mut self) {
        let mut roots = self.roots.clone();
        roots.sort_by_key(|&r| {
            (
                self.spans[r].start_ns,
                std::cmp::Reverse(self.spans[r].end_ns),
            )
        });
        let mut foreground_until = None::<u64>;
        for root in roots {
            let span = &self.spans[root];
            let background = !span.record.follows_from.is_empty()
                || foreground_until.is_some_and(|until| span.start_ns < until);
            if background {
                let mut stack = vec![root];
                while let Some(i) = stack.pop() {
                    self.spans[i].background = true;
                    stack.extend(self.spans[i].children.iter().copied());
                }
            } else {
                foreground_until = Some(foreground_until.unwrap_or(0).max(span.end_ns));
            }
        }
    }

    /// Assigns every span a track, in O(n log n): first which spans nest on their
    /// parent's track, then the others (the tops of tracks) in start order, each on the
    /// lowest-numbered track of its kind free at its start, found with two heaps.
    fn lay_out(&mut self) {
        let mut tops = Vec::with_capacity(self.roots.len());
        let mut on_parent_track = vec![false; self.spans.len()];
        for &root in &self.roots {
            tops.push(root);
            let mut stack = vec![root];
            while let Some(parent) = stack.pop() {
                let p = &self.spans[parent];
                let mut siblings_end = p.start_ns;
                for &child in &p.children {
                    let ch = &self.spans[child];
                    let nests = ch.start_ns >= p.start_ns && ch.end_ns <= p.end_ns;
                    if nests && ch.start_ns >= siblings_end {
                        siblings_end = ch.end_ns;
                        on_parent_track[child] = true;
                    } else {
                        tops.push(child);
                    }
                }
                stack.extend(p.children.iter().rev().copied());
            }
        }
        tops.sort_by_key(|&i| (self.spans[i].start_ns, self.spans[i].end_ns, i));
        let mut free = Free::default();
        for top in tops {
            self.place_on_free_track(top, &mut free);
        }
        // Tracks of the spans nested on their parent's, parents first.
        for r in 0..self.roots.len() {
            let mut stack = vec![self.roots[r]];
            while let Some(parent) = stack.pop() {
                let track = self.spans[parent].track;
                for c in 0..self.spans[parent].children.len() {
                    let child = self.spans[parent].children[c];
                    if on_parent_track[child] {
                        self.spans[child].track = track;
                        self.spans[parent].track_children.push(child);
                    }
                    stack.push(child);
                }
            }
        }
        for t in 0..self.tracks.len() {
            let mut top = std::mem::take(&mut self.tracks[t].top);
            top.sort_by_key(|&i| (self.spans[i].start_ns, self.spans[i].end_ns, i));
            self.tracks[t].top = top;
        }
    }

    /// Puts a span at the top of the lowest-numbered track of its kind that is free at
    /// its start. Spans must come in start order.
    fn place_on_free_track(&mut self, span: usize, free: &mut Free) {
        let (start, end) = (self.spans[span].start_ns, self.spans[span].end_ns);
        let kind = if self.spans[span].background {
            TrackKind::Background
        } else {
            TrackKind::Foreground
        };
        let k = usize::from(kind == TrackKind::Background);
        let (busy, idle) = (&mut free.busy[k], &mut free.idle[k]);
        while let Some(&Reverse((free_at, track))) = busy.peek() {
            if free_at > start {
                break;
            }
            busy.pop();
            idle.push(Reverse(track));
        }
        let track = match idle.pop() {
            Some(Reverse(t)) => t,
            None => {
                free.opened[k] += 1;
                let number = free.opened[k];
                let name = match (kind, number) {
                    (TrackKind::Foreground, 1) => "foreground".to_owned(),
                    (TrackKind::Foreground, n) => format!("foreground {n}"),
                    (TrackKind::Background, n) => format!("background {n}"),
                };
                self.tracks.push(Track {
                    kind,
                    name,
                    top: Vec::new(),
                    free_at: 0,
                });
                self.tracks.len() - 1
            }
        };
        let t = &mut self.tracks[track];
        t.top.push(span);
        t.free_at = t.free_at.max(end);
        busy.push(Reverse((t.free_at, track)));
        self.spans[span].track = track;
    }

    /// Every span, in input order (segment by segment, line by line).
    #[must_use]
    pub fn spans(&self) -> &[Placed<'a>] {
        &self.spans
    }

    /// The span at `index`.
    ///
    /// # Panics
    /// If `index` is out of range.
    #[must_use]
    pub fn span(&self, index: usize) -> &Placed<'a> {
        &self.spans[index]
    }

    /// The roots of the span trees, sorted by start.
    #[must_use]
    pub fn roots(&self) -> &[usize] {
        &self.roots
    }

    /// The tracks, in the order they were opened (foreground ones first in time).
    #[must_use]
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// The end of the last span on the timeline (0 when there is none).
    #[must_use]
    pub fn end_ns(&self) -> u64 {
        self.end_ns
    }

    /// The spans of one track in depth-first order (each span before the
    /// spans nested in it, siblings by start), which is also start order.
    pub fn track_order(&self, track: usize) -> impl Iterator<Item = usize> + '_ {
        let mut stack: Vec<usize> = self.tracks[track].top.iter().rev().copied().collect();
        std::iter::from_fn(move || {
            let next = stack.pop()?;
            stack.extend(self.spans[next].track_children.iter().rev().copied());
            Some(next)
        })
    }

    /// The span's self time: its duration minus the union of its children's
    /// intervals (clipped to the span), so overlapping children are not
    /// subtracted twice.
    #[must_use]
    pub fn self_ns(&self, index: usize) -> u64 {
        let span = &self.spans[index];
        let children = span
            .children
            .iter()
            .map(|&c| (self.spans[c].start_ns, self.spans[c].end_ns));
        span.duration_ns()
            .saturating_sub(union_len_sorted(children, span.start_ns, span.end_ns))
    }
}
