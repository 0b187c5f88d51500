//! The input layer: session files into complete root trees.
//!
//! A record travels from a line to a [`Tree`] in three steps:
//!
//! 1. [`read`] scans the input line by line, detects its format and hands each line
//!    to that format's reader (perf-layer's format 1, or the older Python tracker's
//!    lines), which turns it into [`Event`]s: a segment starts, a span, a segment ends.
//!    OTLP JSON and Jaeger JSON files, told by their first key, are read by their own
//!    streaming readers into the same events.
//! 2. A [`TreeBuilder`] holds each span until its root closes, then hands over the
//!    complete tree; with a budget ([`HOLD_BUDGET`]), closed subtrees under a root
//!    that stays open come earlier, as pieces (see [`Tree::open_parent`]).
//! 3. The pipeline ([`visit`], [`visit_path`]) runs both, reading on one thread and
//!    building trees on the calling one, and gives every tree to a [`Visitor`].
//!
//! A new format is one more module here whose reader turns its records into
//! [`Event`]s; nothing downstream changes. This layer depends on nothing else of
//! the crate but its errors, options and warnings.

mod format1;
mod jaeger;
mod otel;
mod otlp;
pub mod pick;
mod pipeline;
mod python;
mod scan;
mod session;
mod span;
mod tree;

pub use pipeline::{data_file, visit, visit_path, VisitReport, Visitor};
pub use scan::{read, LoadSummary, MAX_LINE_BYTES, MAX_SKIP_BYTES};
pub use session::{list_sessions, resolve, validate_session_name, Input};
pub use span::{session_origin_ns, Event, Fields, Segment, SegmentEnd, SourceFormat, Span, Status};
pub use tree::{
    union_len_sorted, EarlyChildren, Node, Tree, TreeBuilder, HOLD_BUDGET, MAX_EARLY_RUNS,
};
