//! Causes: what makes user-facing work slow, each with its evidence and the time a fix
//! would save.
//!
//! Work is **user-facing** if a user (or a client) waits for it: a root that does not
//! follow from another span, or, under a *long-lived* root (a connection, a
//! subscriber, a REPL session: a root much longer than its many children, or idle
//! nearly all its own time), each of its children, one request each. Roots that follow
//! from another span are background work, and so are roots of a name started beside
//! another name's foreground work (unless roots of their name run side by side: then
//! they are requests): fixing them saves no user-facing time, unless user-facing work
//! waits for them (see [`Cause::LlmQueueing`]). A closed subtree whose parent is still
//! running (or lost) is background work if its root's operation was only ever seen in
//! background work.
//!
//! Trees can also come in pieces, closed subtrees handed over before their root closes
//! (so that a server's connections, open the whole session, are not held): what their
//! spans contribute waits for their root's kind, in memory that grows with the open
//! parents and the distinct names under them (see [`Causes::add_tree`]).
//!
//! Every finding's saving is at most the time of the spans its fix changes, and never
//! more than the session's wall time.
//!
//! ```
//! use perf_analyze::analysis::causes::Cause;
//!
//! assert_eq!(Cause::LlmQueueing.as_str(), "llm_queueing");
//! assert_eq!(serde_json::to_string(&Cause::SequentialSiblings).unwrap(), r#""sequential_siblings""#);
//! ```

use rustc_hash::FxHashMap as HashMap;
use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::latency::{LatencyOverTime, LatencySummary};
use super::llm::LlmCall;
use super::parallelism::Opportunity;
use super::stats::label;
use crate::duration::{human, percent};
use crate::input::{EarlyChildren, Tree};
use crate::Thresholds;

/// Why an operation is slow: the `cause` of a recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// A small fan-out of distinct children run one after another, the same way under
    /// many instances of a parent: they could run concurrently.
    SequentialSiblings,
    /// Many short calls of one operation one after another under one parent (N+1).
    RepeatedCalls,
    /// LLM calls whose client wall time far exceeds the server's own time: they queued
    /// behind other calls to the same model.
    LlmQueueing,
    /// Loading the model is a material share of the LLM calls.
    LlmModelLoad,
    /// Prompt tokens and prompt evaluation grow over the calls of one step.
    LlmPromptGrowth,
    /// Generating the output dominates the LLM calls.
    LlmGeneration,
    /// Busy (on-CPU) nearly all its own time, and a large share of user-facing time.
    HotOperation,
    /// Idle far longer than busy in its own time, with no child span that explains it.
    Waiting,
}

impl Cause {
    /// Every cause.
    pub const ALL: [Cause; 8] = [
        Cause::SequentialSiblings,
        Cause::RepeatedCalls,
        Cause::LlmQueueing,
        Cause::LlmModelLoad,
        Cause::LlmPromptGrowth,
        Cause::LlmGeneration,
        Cause::HotOperation,
        Cause::Waiting,
    ];

    /// The name used in the summary.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::SequentialSiblings => "sequential_siblings",
            Cause::RepeatedCalls => "repeated_calls",
            Cause::LlmQueueing => "llm_queueing",
            Cause::LlmModelLoad => "llm_model_load",
            Cause::LlmPromptGrowth => "llm_prompt_growth",
            Cause::LlmGeneration => "llm_generation",
            Cause::HotOperation => "hot_operation",
            Cause::Waiting => "waiting",
        }
    }

    /// What to try.
    #[must_use]
    pub fn suggestions(self) -> &'static [&'static str] {
        match self {
            Cause::SequentialSiblings => &[
                "If they do not depend on each other, start them together (tokio::join!, rayon::join, or spawned tasks)",
            ],
            Cause::RepeatedCalls => &[
                "Send one request for many items instead of one per item",
                "Or cache the results of repeated calls",
            ],
            Cause::LlmQueueing => &[
                "Serve the user's call first: run background LLM calls when no user-facing call is waiting",
                "Or give background work its own server or model instance (Ollama: OLLAMA_NUM_PARALLEL)",
            ],
            Cause::LlmModelLoad => &[
                "Keep the model loaded between calls (Ollama keep_alive)",
                "Use one model for nearby steps so that they do not evict each other",
            ],
            Cause::LlmPromptGrowth => &[
                "Trim or summarise the history instead of sending all of it every call",
                "Keep the constant prefix first so that the server can reuse its cache",
            ],
            Cause::LlmGeneration => &[
                "Ask for shorter answers (a token limit, a tighter instruction)",
                "Use a smaller or quantized model for this step",
                "Stream the response so output starts earlier",
            ],
            Cause::HotOperation => &[
                "Profile its own code (perf record -g, cargo flamegraph): it computes, it does not wait",
                "Cache its result, or do the work once instead of per request",
            ],
            Cause::Waiting => &[
                "Find what it waits for (a lock, a channel, I/O) and add a span around that wait",
                "Shorten the critical section, or avoid waiting on the user's path",
            ],
        }
    }
}

/// One finding: a cause at an operation, with the numbers that show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The cause.
    pub cause: Cause,
    /// The operation that carries it.
    pub operation: String,
    /// One line saying what and why.
    pub title: String,
    /// The numbers that show it.
    pub evidence: Vec<String>,
    /// User-facing time a fix would save, at most the time of the spans it changes and
    /// the session's wall time.
    pub estimated_saving_ns: u64,
}

/// A root lasting at least this long may be long-lived.
const LONG_LIVED_MIN_NS: u64 = 1_000_000_000;
/// A long-lived root with children has at least this many.
const LONG_LIVED_MIN_CHILDREN: usize = 16;
/// ... and lasts at least this many times its children's mean.
const LONG_LIVED_RATIO: u64 = 50;
/// A root idle this share of its own time (or more) is waiting for work: long-lived.
const LONG_LIVED_IDLE_SHARE: f64 = 0.9;
/// A fan-out has at most this many distinct children.
const FAN_OUT_MAX: usize = 8;
/// Repeated calls fill at least this share of their parent.
const REPEATED_MIN_COVER: f64 = 0.5;
/// An LLM call queued if its client wall is this many times the server's total ...
const QUEUED_RATIO: f64 = 1.5;
/// ... and the difference at least this long.
const QUEUED_MIN_NS: u64 = 50_000_000;
/// LLM calls kept to find the calls one waited behind.
const LLM_WINDOW: usize = 64;
/// Model loading matters from this share of the LLM calls' wall time ...
const LOAD_MIN_SHARE: f64 = 0.1;
/// ... and this long in user-facing calls.
const LOAD_MIN_NS: u64 = 100_000_000;
/// Prompt growth: at least this many calls of one step ...
const GROWTH_MIN_CALLS: u64 = 4;
/// ... whose fitted prompt tokens grow by this factor from the first call to the last.
const GROWTH_MIN_FACTOR: f64 = 1.5;
/// Generation dominates at this share of the calls' wall time.
const GENERATION_MIN_SHARE: f64 = 0.5;
/// A fix of generation saves about this share of it (shorter answers, a smaller model).
const GENERATION_SAVING: f64 = 0.3;
/// A hot operation is busy at least this share of its own time ...
const HOT_MIN_BUSY: f64 = 0.8;
/// ... and takes at least this share of user-facing time.
const HOT_MIN_SHARE: f64 = 0.4;
/// Optimising a hot operation's code saves about this share of it.
const HOT_SAVING: f64 = 0.5;
/// Distinct names (and name pairs) tracked.
const NAME_LIMIT: usize = 10_000;

/// Per span name.
#[derive(Debug, Clone, Default)]
struct Op {
    /// Spans, in user-facing work, and in background work.
    count: u64,
    fg_count: u64,
    bg_count: u64,
    /// Durations, and in user-facing work.
    all_ns: u64,
    fg_ns: u64,
    /// Self time in user-facing work, and its busy part (where busy time is known).
    fg_self_ns: u64,
    fg_self_busy_ns: u64,
    fg_self_known_ns: u64,
    /// User-facing spans whose busy time is known.
    fg_known: u64,
    /// Times it was a user-facing root (a client's call, a turn).
    fg_roots: u64,
    /// Times it was a request of a long-lived root (a server's), and their durations.
    requests: u64,
    request_ns: u64,
    /// Waiting spans in user-facing work: how many, their own idle and busy time.
    waits: u64,
    wait_idle_ns: u64,
    wait_busy_ns: u64,
    wait_longest_ns: u64,
}

impl Op {
    /// Seen, and only in background work.
    fn only_background(&self) -> bool {
        self.count > 0 && self.bg_count == self.count
    }
}

/// Repeated calls of one operation under one parent name.
#[derive(Debug, Clone, Default)]
struct Repeat {
    parents: u64,
    calls: u64,
    total_ns: u64,
    parent_ns: u64,
    fg_total_ns: u64,
    fg_calls: u64,
    fg_parents: u64,
}

/// LLM calls of one step (the call span's name).
#[derive(Debug, Clone, Default)]
struct Step {
    calls: u64,
    fg_calls: u64,
    fg_wall_ns: u64,
    wall_ns: u64,
    load_ns: u64,
    fg_load_ns: u64,
    loads: u64,
    fg_eval_ns: u64,
    fg_output_tokens: u64,
    fg_eval_known_ns: u64,
    queued: u64,
    fg_queued: u64,
    queue_ns: u64,
    fg_queue_ns: u64,
    fg_server_ns: u64,
    /// The server and model of the latest queued user-facing call.
    queue: (Option<Arc<str>>, Option<Arc<str>>),
    /// Waited behind, per step: overlaps, overlapped time, and whether it was background.
    behind: HashMap<u32, (u64, u64, bool)>,
    fg_behind_bg: u64,
    /// Prompt tokens and prompt evaluation over the calls with both: a line fit.
    growth: Fit,
    fg_prompt_eval_ns: u64,
    min_prompt_eval_ns: u64,
}

/// A least-squares line through (call index, value) pairs, for two values at once.
#[derive(Debug, Clone, Default)]
struct Fit {
    n: f64,
    sx: f64,
    sxx: f64,
    sy: [f64; 2],
    sxy: [f64; 2],
    first: [u64; 2],
    last: [u64; 2],
}

impl Fit {
    fn add(&mut self, y: [u64; 2]) {
        let x = self.n;
        if self.n == 0.0 {
            self.first = y;
        }
        self.last = y;
        self.n += 1.0;
        self.sx += x;
        self.sxx += x * x;
        for (i, &y) in y.iter().enumerate() {
            self.sy[i] += y as f64;
            self.sxy[i] += x * y as f64;
        }
    }

    /// The fitted values at the first and the last call.
    fn ends(&self, i: usize) -> Option<(f64, f64)> {
        let d = self.n * self.sxx - self.sx * self.sx;
        if self.n < 2.0 || d <= 0.0 {
            return None;
        }
        let slope = (self.n * self.sxy[i] - self.sx * self.sy[i]) / d;
        let intercept = (self.sy[i] - slope * self.sx) / self.n;
        Some((intercept, intercept + slope * (self.n - 1.0)))
    }
}

impl Fit {
    /// Appends the calls of another fit, as if added after these.
    fn append(&mut self, other: &Fit) {
        if other.n == 0.0 {
            return;
        }
        let a = self.n;
        if a == 0.0 {
            self.first = other.first;
        }
        self.last = other.last;
        // The other's call indices shift by `a`.
        self.sxx += other.sxx + 2.0 * a * other.sx + a * a * other.n;
        self.sx += other.sx + a * other.n;
        for i in 0..2 {
            self.sxy[i] += other.sxy[i] + a * other.sy[i];
            self.sy[i] += other.sy[i];
        }
        self.n += other.n;
    }
}

impl Op {
    /// Adds what spans counted as if user-facing contribute: as `background` work, or
    /// user-facing.
    fn append(&mut self, d: &Op, background: bool) {
        self.count += d.count;
        self.all_ns += d.all_ns;
        if background {
            self.bg_count += d.count;
            return;
        }
        self.bg_count += d.bg_count;
        self.fg_count += d.fg_count;
        self.fg_ns += d.fg_ns;
        self.fg_self_ns += d.fg_self_ns;
        self.fg_self_busy_ns += d.fg_self_busy_ns;
        self.fg_self_known_ns += d.fg_self_known_ns;
        self.fg_known += d.fg_known;
        self.waits += d.waits;
        self.wait_idle_ns += d.wait_idle_ns;
        self.wait_busy_ns += d.wait_busy_ns;
        self.wait_longest_ns = self.wait_longest_ns.max(d.wait_longest_ns);
    }
}

impl Step {
    /// Adds the user-facing part of later calls of the step.
    fn append_fg(&mut self, d: &Step) {
        self.fg_calls += d.fg_calls;
        self.fg_wall_ns += d.fg_wall_ns;
        self.fg_load_ns += d.fg_load_ns;
        self.fg_server_ns += d.fg_server_ns;
        self.fg_eval_ns += d.fg_eval_ns;
        self.fg_eval_known_ns += d.fg_eval_known_ns;
        self.fg_output_tokens += d.fg_output_tokens;
        if d.fg_queued > 0 {
            self.queue.clone_from(&d.queue);
        }
        self.fg_queued += d.fg_queued;
        self.fg_queue_ns += d.fg_queue_ns;
        if d.growth.n > 0.0 {
            self.min_prompt_eval_ns = if self.growth.n == 0.0 {
                d.min_prompt_eval_ns
            } else {
                self.min_prompt_eval_ns.min(d.min_prompt_eval_ns)
            };
        }
        self.growth.append(&d.growth);
        self.fg_prompt_eval_ns += d.fg_prompt_eval_ns;
    }
}

/// Starts of requests (pieces' roots that may be requests of a long-lived root) kept
/// exactly while they wait for their parent, in all; past it, each parent's further
/// ones are kept in latency buckets, which merge exactly ([`LatencyOverTime::merge`]).
pub const PENDING_STARTS_LIMIT: usize = 65_536;

/// Calls of one operation among a parent's children, in the order they are added.
#[derive(Debug, Clone, Copy, Default)]
struct EarlyCalls {
    n: u64,
    total: u64,
    last_end: u64,
    /// Each started at or after the previous one's end.
    sequential: bool,
}

impl EarlyCalls {
    fn add(&mut self, start: u64, end: u64) {
        self.sequential = self.n == 0 || (self.sequential && start >= self.last_end);
        self.n += 1;
        self.total += end.saturating_sub(start);
        self.last_end = end;
    }

    /// These calls, then `later` (whose first starts at `later_start`).
    fn then(self, later_start: u64, later: EarlyCalls) -> EarlyCalls {
        EarlyCalls {
            n: self.n + later.n,
            total: self.total + later.total,
            last_end: later.last_end,
            sequential: self.sequential && later.sequential && later_start >= self.last_end,
        }
    }
}

/// Pieces' roots that are units if their parent turns out to be a long-lived root (its
/// requests) or never comes (user-facing fragments).
#[derive(Debug, Clone, Default)]
struct Units {
    count: u64,
    ns: u64,
    /// The earliest and the latest start.
    first: Option<u64>,
    last: u64,
    /// Per operation: how many, and their summed durations.
    per_op: HashMap<u32, (u64, u64)>,
    /// Starts and durations, while [`PENDING_STARTS_LIMIT`] allows.
    starts: Vec<(u64, u64)>,
    /// The others.
    folded: Option<LatencyOverTime>,
}

impl Units {
    /// Adds one; `kept` counts the starts kept exactly, in all, up to `limit`; `origin` is
    /// where latency over time starts, if known.
    fn add(
        &mut self,
        op: Option<u32>,
        (start, duration): (u64, u64),
        (kept, limit): (&mut usize, usize),
        origin: Option<u64>,
    ) {
        self.count += 1;
        self.ns += duration;
        self.first = Some(self.first.map_or(start, |f| f.min(start)));
        self.last = self.last.max(start);
        if let Some(op) = op {
            let e = self.per_op.entry(op).or_default();
            e.0 += 1;
            e.1 += duration;
        }
        if *kept < limit {
            *kept += 1;
            self.starts.push((start, duration));
        } else {
            // At the same origin, the buckets merge exactly (see LatencyOverTime::merge).
            let folded = self.folded.get_or_insert_with(|| {
                let mut l = LatencyOverTime::default();
                if let Some(origin) = origin {
                    l.start_at(origin);
                }
                l
            });
            folded.add(start, duration);
        }
    }

    fn append(&mut self, other: Units) {
        self.count += other.count;
        self.ns += other.ns;
        self.first = match (self.first, other.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = self.last.max(other.last);
        for (op, (n, ns)) in other.per_op {
            let e = self.per_op.entry(op).or_default();
            e.0 += n;
            e.1 += ns;
        }
        self.starts.extend(other.starts);
        match (&mut self.folded, other.folded) {
            (Some(mine), Some(theirs)) => mine.merge(&theirs),
            (mine, theirs) => {
                if mine.is_none() {
                    *mine = theirs;
                }
            }
        }
    }
}

/// What the spans of pieces contribute while the kind of their root is not known: as if
/// user-facing.
#[derive(Debug, Clone, Default)]
struct Deferred {
    /// Per operation.
    ops: HashMap<u32, Op>,
    /// Per (parent, child) operation: the user-facing part of repeated calls (parents,
    /// calls, their time).
    repeats: HashMap<(u32, u32), (u64, u64, u64)>,
    /// Per step: the user-facing part of its LLM calls.
    steps: HashMap<u32, Step>,
    /// The pieces' roots.
    units: Units,
    /// For roots that are long-lived by themselves (counted so if their parent never
    /// comes): their own spans' contributions (in `ops` for the others), their repeated
    /// calls (parents, calls, time, parent time), and their children, the requests.
    head: HashMap<u32, Op>,
    head_repeats: HashMap<(u32, u32), Repeat>,
    requests: Units,
}

impl Deferred {
    /// Adds what `other` contributes, its roots too.
    fn append(&mut self, other: Deferred) {
        self.units.append(other.units);
        self.requests.append(other.requests);
        for (op, d) in other.head {
            self.head.entry(op).or_default().append(&d, false);
        }
        for (key, r) in other.head_repeats {
            let e = self.head_repeats.entry(key).or_default();
            e.parents += r.parents;
            e.calls += r.calls;
            e.total_ns += r.total_ns;
            e.parent_ns += r.parent_ns;
        }
        self.append_work(other.ops, other.repeats, other.steps);
    }

    /// Adds what the spans of `other` contribute, its roots as any other span (they are
    /// deeper than this piece's root, so no unit).
    fn append_work(
        &mut self,
        ops: HashMap<u32, Op>,
        repeats: HashMap<(u32, u32), (u64, u64, u64)>,
        steps: HashMap<u32, Step>,
    ) {
        for (op, d) in ops {
            self.ops.entry(op).or_default().append(&d, false);
        }
        for (key, (p, c, t)) in repeats {
            let e = self.repeats.entry(key).or_default();
            e.0 += p;
            e.1 += c;
            e.2 += t;
        }
        for (step, d) in steps {
            let s = self.steps.entry(step).or_default();
            s.append_fg(&d);
            // The kind-independent part was counted when the calls came.
        }
    }
}

/// Where repeated calls count: now (user-facing or not), for a piece when its kind is
/// known, or, under a piece's root long-lived by itself, only if it is no root.
enum Sink<'a> {
    Now(bool),
    Piece(&'a mut Deferred),
    Head(&'a mut Deferred),
}

/// What waits for one open parent.
#[derive(Debug, Clone, Default)]
struct Pending {
    /// Its children handed over in pieces, per operation, for its repeated calls.
    children: HashMap<u32, EarlyCalls>,
    /// Its pieces' contributions, per root operation, whether the root is background
    /// work by itself (follows from a span; or the file records no busy time), and
    /// whether it is long-lived by itself.
    groups: HashMap<(Option<u32>, bool, bool), Deferred>,
}

/// A recent LLM call, to find the calls another waited behind.
#[derive(Debug, Clone)]
struct Recent {
    start: u64,
    end: u64,
    step: u32,
    model: Option<Arc<str>>,
    server: Option<Arc<str>>,
    foreground: bool,
    queued: bool,
}

impl Recent {
    /// True if two calls wait in one queue: the same server where both name theirs
    /// (whatever the model: a server answering one request at a time queues them all),
    /// else the same model (or one unknown).
    fn shares_queue_with(&self, other: &Recent) -> bool {
        match (&self.server, &other.server) {
            (Some(a), Some(b)) => a == b,
            _ => match (&self.model, &other.model) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            },
        }
    }
}

/// Collects what the causes are found from, tree by tree, in memory bounded by the
/// distinct names (and a window of recent LLM calls).
#[derive(Debug, Clone, Default)]
pub struct Causes {
    index: HashMap<(Arc<str>, Arc<str>), u32>,
    /// Operations by the addresses of their name's and target's text.
    by_address: HashMap<(usize, usize), Interned>,
    /// A name's first operation, for the common case of one target per name.
    by_name: HashMap<Arc<str>, u32>,
    /// Span names and targets: one operation each.
    keys: Vec<(Arc<str>, Arc<str>)>,
    /// How each operation is named in findings (see [`Causes::labels`]).
    names: Vec<Arc<str>>,
    ops: Vec<Op>,
    steps: HashMap<u32, Step>,
    repeats: HashMap<(u32, u32), Repeat>,
    recent: VecDeque<Recent>,
    /// User-facing units (requests, turns) and their summed durations.
    units: u64,
    unit_ns: u64,
    /// Of the units, the children of long-lived roots, and their summed durations.
    long_lived_units: (u64, u64),
    /// Recent roots (neither following from a span nor long-lived): start, end, name.
    recent_roots: VecDeque<(u64, u64, u32)>,
    /// Root names seen started while another root of their name ran: requests.
    request_names: rustc_hash::FxHashSet<u32>,
    /// Root names seen started beside another name's foreground root.
    beside_names: rustc_hash::FxHashSet<u32>,
    /// Long-lived roots recognised.
    long_lived: u64,
    long_lived_names: HashMap<u32, u64>,
    /// User-facing units' latency over the session.
    latency: LatencyOverTime,
    /// The waiting thresholds of the latest tree: idle this many times busy, and this
    /// long (see [`Thresholds`]).
    idle_ratio: f64,
    idle_min_ns: u64,
    /// Many short waits of one name count together from this many spans.
    waits_min: u64,
    /// Scratch for grouping children by name.
    scratch: Vec<(u32, u64, u64)>,
    /// What pieces contribute, per open parent they wait for: (segment, parent id).
    pending: HashMap<(u32, u64), Pending>,
    /// Requests' starts kept exactly in `pending`.
    pending_starts: usize,
    /// At most this many kept ([`PENDING_STARTS_LIMIT`] if `None`).
    starts_limit: Option<usize>,
}

/// An operation, and the name and target whose addresses find it (held so that the
/// addresses are not reused for other text).
type Interned = (u32, Arc<str>, Arc<str>);

/// What a tree is, for the causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Background,
    LongLived,
    Foreground,
}

impl Causes {
    fn name(&mut self, span: &crate::input::Span) -> Option<u32> {
        // Names and targets come interned: their addresses find them without hashing text.
        let at = (
            Arc::as_ptr(&span.name).cast::<u8>() as usize,
            Arc::as_ptr(&span.target).cast::<u8>() as usize,
        );
        if let Some(&(i, _, _)) = self.by_address.get(&at) {
            return Some(i);
        }
        let i = self.name_slow(span)?;
        if self.by_address.len() < 4 * NAME_LIMIT {
            // The clones keep the addresses from being reused for other text.
            self.by_address
                .insert(at, (i, span.name.clone(), span.target.clone()));
        }
        Some(i)
    }

    fn name_slow(&mut self, span: &crate::input::Span) -> Option<u32> {
        if let Some(&i) = self.by_name.get(&span.name) {
            let target = &self.keys[i as usize].1;
            if Arc::ptr_eq(target, &span.target) || *target == span.target {
                return Some(i);
            }
        }
        let key = (span.name.clone(), span.target.clone());
        if let Some(&i) = self.index.get(&key) {
            return Some(i);
        }
        if self.keys.len() >= NAME_LIMIT {
            return None;
        }
        let i = self.keys.len() as u32;
        self.keys.push(key.clone());
        self.names.push(span.name.clone());
        self.ops.push(Op::default());
        self.by_name.entry(span.name.clone()).or_insert(i);
        self.index.insert(key, i);
        Some(i)
    }

    /// Names operations in findings: by span name, and where one name has several
    /// targets (`Get::apply` and `Set::apply` are both `apply`), as `name [target]`.
    fn labels(&mut self) {
        let mut targets: HashMap<&str, u32> = HashMap::default();
        for (name, _) in &self.keys {
            *targets.entry(name).or_default() += 1;
        }
        let labels: Vec<Arc<str>> = self
            .keys
            .iter()
            .map(|(name, target)| Arc::from(label(name, target, targets[&**name] > 1)))
            .collect();
        self.names = labels;
    }

    /// Learns from a root (not following from a span, not long-lived) and the recent
    /// roots which names are requests (a root started while another of its name ran)
    /// and which started beside another name's foreground work; true if this root's
    /// name is background work by what is known so far. Roots come as they close, so a
    /// short task that ends before the turn that started it is known only when the turn
    /// closes: a name's first root may be counted before its name is known.
    fn started_beside(&mut self, root: &crate::input::Span) -> bool {
        let Some(name) = self.name(root) else {
            return false;
        };
        for &(start, end, other) in &self.recent_roots {
            if start >= root.end_ns || root.start_ns >= end {
                continue;
            }
            if other == name {
                self.request_names.insert(name);
            } else if start <= root.start_ns {
                if !self.is_beside(other) {
                    self.beside_names.insert(name);
                }
            } else if !self.is_beside(name) {
                self.beside_names.insert(other);
            }
        }
        if self.recent_roots.len() == LLM_WINDOW {
            self.recent_roots.pop_front();
        }
        self.recent_roots
            .push_back((root.start_ns, root.end_ns, name));
        self.is_beside(name)
    }

    /// True for a tree whose parent is missing (its operation still running, or lost)
    /// whose root's operation was only ever seen in background work: a closed child of a
    /// background task still running is background work too. Fragments come at the end
    /// of their segment, after every complete tree of it.
    fn fragment_of_background(&mut self, tree: &Tree) -> bool {
        if tree.missing_parent().is_none() {
            return false;
        }
        let Some(op) = self.name(tree.root()) else {
            return false;
        };
        self.ops[op as usize].only_background()
    }

    /// True if the spans of a name and target were all in background work (none
    /// user-facing, none a long-lived root's own). False for one not known: past the
    /// limit of distinct names, or never seen.
    #[must_use]
    pub fn background_only(&self, name: &Arc<str>, target: &Arc<str>) -> bool {
        self.op(name, target)
            .is_some_and(|(_, op)| op.only_background())
    }

    /// The operation of a name and target, and its index, if known.
    fn op(&self, name: &Arc<str>, target: &Arc<str>) -> Option<(u32, &Op)> {
        let &i = self.index.get(&(name.clone(), target.clone()))?;
        Some((i, &self.ops[i as usize]))
    }

    fn is_beside(&self, name: u32) -> bool {
        self.beside_names.contains(&name) && !self.request_names.contains(&name)
    }

    /// True if a root is long-lived: a connection or a session whose children are the
    /// requests, or a task idle nearly all its own time. Children handed over in pieces
    /// before the root closed count too ([`Tree::early_children`]).
    #[must_use]
    pub fn is_long_lived(tree: &Tree, busy_known: bool) -> bool {
        let root = tree.root();
        let duration = root.duration_ns();
        if duration < LONG_LIVED_MIN_NS {
            return false;
        }
        let children = tree.children(0);
        let early = tree.early_children(0);
        let count = children.len() as u64 + early.map_or(0, EarlyChildren::count);
        // Saturating: a hostile file's durations may sum past u64.
        let child_sum = children
            .iter()
            .map(|&c| tree.span(c as usize).duration_ns())
            .fold(
                early.map_or(0, EarlyChildren::duration_ns),
                u64::saturating_add,
            );
        if count >= LONG_LIVED_MIN_CHILDREN as u64
            && (child_sum / count).saturating_mul(LONG_LIVED_RATIO) <= duration
        {
            return true;
        }
        if !busy_known {
            return false;
        }
        let own = duration - tree.covered_ns(0);
        let child_busy = children
            .iter()
            .map(|&c| tree.span(c as usize).busy_ns)
            .fold(early.map_or(0, EarlyChildren::busy_ns), u64::saturating_add);
        let own_busy = root.busy_ns.saturating_sub(child_busy).min(own);
        (own - own_busy) as f64 >= LONG_LIVED_IDLE_SHARE * duration as f64
    }

    /// Adds a complete tree and its LLM calls (by node index, in pre-order). `busy_known`
    /// is false where the file does not record busy time (the Python tracker's).
    ///
    /// `long_lived` says that the tree's root is long-lived ([`Causes::is_long_lived`],
    /// found once by the caller, which needs it too); `background_name` that roots of
    /// its name are background work (started beside another name's foreground work, see
    /// [`Background`](super::background::Background)), even without `follows_from`.
    ///
    /// A piece ([`Tree::waits_for`]: a closed subtree whose parent was still open) is
    /// work of a root not seen yet, whose kind (user-facing, background, long-lived) it
    /// cannot know: `long_lived` and `background_name` are ignored for it, and what its
    /// spans contribute waits, per open parent and operation, for the parent's node
    /// ([`Tree::awaited_at`]). Where that node comes in another piece, it waits on for
    /// that piece's parent; where it comes in a root tree, it counts with the root's kind,
    /// and a piece's root whose parent is a long-lived root is one of its requests. What
    /// its parent never brings counts at [`Causes::finish_segment`]. With pieces in the
    /// order [`TreeBuilder`](crate::input::TreeBuilder) hands them over, everything is
    /// counted as for whole trees, except:
    ///
    /// - an LLM call in a piece is judged for queueing when it arrives (in the window of
    ///   recent calls, in arrival order rather than with its root's tree), and counts
    ///   there as user-facing: a call that waited behind it is said to wait behind
    ///   user-facing work even if its root turns out background; its step's user-facing
    ///   sums wait for the kind as the rest (the prompt-growth fit is appended, so its
    ///   sums may round differently in the last bits);
    /// - a parent's children handed over early are taken as one after another only if
    ///   each started after the previous one ended in the order they were written, which
    ///   is start order where they do not overlap, unless the file writes them out of
    ///   their end order;
    /// - a name's index among operations follows the order names are first seen, so
    ///   findings and names that tie can come in another order;
    /// - what waits for a parent that never comes: see [`Causes::finish_segment`];
    ///
    /// What waits is kept per open parent ([`Causes::pending_len`]) and, under it, per
    /// piece root's operation: sums per operation, per pair of operations for repeated
    /// calls (both within the distinct-name limit) and per LLM step, the requests' starts
    /// up to [`PENDING_STARTS_LIMIT`] in all, past it at most 120 latency buckets. A
    /// piece whose root is long-lived by itself also keeps its root's own sums and
    /// repeated calls apart, and its children as requests, for the case that its parent
    /// never comes.
    pub fn add_tree(
        &mut self,
        tree: &Tree,
        t: &Thresholds,
        busy_known: bool,
        long_lived: bool,
        background_name: bool,
        calls: &[(usize, LlmCall)],
    ) {
        let mut calls = calls.iter().peekable();
        (self.idle_ratio, self.idle_min_ns, self.waits_min) =
            (t.idle_ratio, t.idle_min_ns, t.batch_min_calls);
        let root = tree.root();
        let waits_for = tree.waits_for();
        // A piece's contributions, as if user-facing, until its root's kind is known.
        let mut piece = waits_for.map(|_| Deferred::default());
        let kind = if waits_for.is_some() {
            None
        } else if !root.follows_from.is_empty() {
            Some(Kind::Background)
        } else if long_lived {
            Some(Kind::LongLived)
        } else if self.fragment_of_background(tree) || self.started_beside(root) || background_name
        {
            Some(Kind::Background)
        } else {
            Some(Kind::Foreground)
        };
        if kind == Some(Kind::LongLived) {
            self.long_lived += 1;
            if let Some(i) = self.name(root) {
                *self.long_lived_names.entry(i).or_default() += 1;
            }
            self.start_latency_at_earliest_request(tree);
        }
        // A piece whose root is long-lived by itself: if its parent never comes, it is a
        // long-lived root of its own, its children the requests (as whole fragments are).
        let shaped = waits_for.is_some()
            && root.follows_from.is_empty()
            && busy_known
            && Causes::is_long_lived(tree, busy_known);
        let mut piece_root_op = None;
        for (index, node) in tree.nodes().iter().enumerate() {
            let span = &node.span;
            let waiting = tree
                .awaited_at(index)
                .and_then(|key| self.pending.remove(&key));
            let fg = match kind {
                Some(Kind::Background) => false,
                Some(Kind::LongLived) => index != 0,
                Some(Kind::Foreground) | None => true,
            };
            let unit = kind.is_some()
                && fg
                && (index == 0 || (kind == Some(Kind::LongLived) && node.depth == 1));
            let duration = span.duration_ns();
            if unit {
                self.units += 1;
                self.unit_ns += duration;
                if kind == Some(Kind::LongLived) {
                    self.long_lived_units.0 += 1;
                    self.long_lived_units.1 += duration;
                }
                self.latency.add(span.start_ns, duration);
            }
            let op = self.name(span);
            if let (Some(piece), 0) = (&mut piece, index) {
                // A child of the open parent: one of its requests if that is a long-lived root.
                piece_root_op = op;
                let origin = self.latency.origin();
                let unit = (span.start_ns, duration);
                let limit = self.starts_limit.unwrap_or(PENDING_STARTS_LIMIT);
                let kept = (&mut self.pending_starts, limit);
                piece.units.add(op, unit, kept, origin);
            }
            if let (Some(piece), true, Some(0)) = (&mut piece, shaped, node.parent) {
                let origin = self.latency.origin();
                let unit = (span.start_ns, duration);
                let limit = self.starts_limit.unwrap_or(PENDING_STARTS_LIMIT);
                let kept = (&mut self.pending_starts, limit);
                piece.requests.add(op, unit, kept, origin);
            }
            let head = shaped && index == 0;
            if let Some(op) = op {
                let long_lived_root = kind == Some(Kind::LongLived) && index == 0;
                let target = piece
                    .as_mut()
                    .map(|p| if head { &mut p.head } else { &mut p.ops });
                self.add_node(
                    tree,
                    index,
                    op,
                    (fg, kind == Some(Kind::Background)),
                    busy_known,
                    target,
                    t,
                );
                if unit && kind == Some(Kind::LongLived) {
                    let o = &mut self.ops[op as usize];
                    o.requests += 1;
                    o.request_ns += duration;
                } else if unit {
                    self.ops[op as usize].fg_roots += 1;
                }
                if !long_lived_root {
                    let early = tree.early_children(index).map_or(0, EarlyChildren::count);
                    if tree.children(index).len() as u64 + early >= t.batch_min_calls {
                        let early = waiting.as_ref().map(|w| &w.children);
                        let sink = match piece.as_mut() {
                            Some(p) if head => Sink::Head(p),
                            Some(p) => Sink::Piece(p),
                            None => Sink::Now(fg),
                        };
                        self.add_repeats(tree, index, op, t, early, sink);
                    }
                    if let Some((_, call)) = calls.next_if(|(i, _)| *i == index) {
                        self.add_call(call, op, fg, piece.as_mut());
                    }
                }
            }
            if let Some(waiting) = waiting {
                match (&mut piece, kind) {
                    (Some(piece), _) => {
                        for (_, mut group) in waiting.groups {
                            if head {
                                // Its children: requests if it turns out a root.
                                piece.requests.append(std::mem::take(&mut group.units));
                            }
                            self.refile(piece, group);
                        }
                    }
                    (None, Some(kind)) => {
                        let requests = index == 0 && kind == Kind::LongLived;
                        for (_, group) in waiting.groups {
                            self.apply(group, kind == Kind::Background, requests.then_some(true));
                        }
                    }
                    (None, None) => {}
                }
            }
        }
        if let (Some(key), Some(piece)) = (waits_for, piece) {
            let pending = self.pending.entry(key).or_default();
            if let Some(op) = piece_root_op {
                let root = tree.root();
                pending
                    .children
                    .entry(op)
                    .or_default()
                    .add(root.start_ns, root.end_ns);
            }
            let by_itself = !tree.root().follows_from.is_empty() || !busy_known;
            match pending.groups.entry((piece_root_op, by_itself, shaped)) {
                std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().append(piece),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(piece);
                }
            }
        }
    }

    /// For a long-lived root whose requests came early, while no request was placed in
    /// latency over time: its buckets start at its earliest request, as they would if
    /// its requests were added in start order.
    fn start_latency_at_earliest_request(&mut self, tree: &Tree) {
        if self.latency.origin().is_some() {
            return;
        }
        let Some(pending) = tree.awaited_at(0).and_then(|key| self.pending.get(&key)) else {
            return;
        };
        let early = pending.groups.values().filter_map(|g| g.units.first);
        let late = tree
            .children(0)
            .first()
            .map(|&c| tree.span(c as usize).start_ns);
        if let Some(first) = early.chain(late).min() {
            self.latency.start_at(first);
        }
    }

    /// Adds one span's own contribution to its operation: to `self.ops`, or for a piece
    /// to `piece`'s as if user-facing. `(fg, bg)`: user-facing, background.
    #[allow(clippy::too_many_arguments)]
    fn add_node(
        &mut self,
        tree: &Tree,
        index: usize,
        op: u32,
        (fg, bg): (bool, bool),
        busy_known: bool,
        piece: Option<&mut HashMap<u32, Op>>,
        t: &Thresholds,
    ) {
        let span = tree.span(index);
        let duration = span.duration_ns();
        let children = tree.children(index);
        // Children handed over early count too.
        let own = duration - tree.covered_ns(index);
        let o = match piece {
            Some(ops) => ops.entry(op).or_default(),
            None => &mut self.ops[op as usize],
        };
        o.count += 1;
        o.bg_count += u64::from(bg);
        o.all_ns += duration;
        if fg {
            o.fg_count += 1;
            o.fg_ns += duration;
            o.fg_self_ns += own;
            if busy_known {
                let child_busy: u64 = children
                    .iter()
                    .map(|&c| tree.span(c as usize).busy_ns)
                    .sum();
                let early = tree.early_children(index).map_or(0, EarlyChildren::busy_ns);
                let child_busy = child_busy.saturating_add(early);
                let own_busy = span.busy_ns.saturating_sub(child_busy).min(own);
                let own_idle = own - own_busy;
                o.fg_self_busy_ns += own_busy;
                o.fg_self_known_ns += own;
                o.fg_known += 1;
                if own_idle >= t.idle_min_ns && own_idle as f64 >= t.idle_ratio * own_busy as f64 {
                    o.waits += 1;
                    o.wait_idle_ns += own_idle;
                    o.wait_busy_ns += own_busy;
                    o.wait_longest_ns = o.wait_longest_ns.max(own_idle);
                }
            }
        }
    }

    /// Counts what waited for a parent, now that its kind is known: `background`, and
    /// its pieces' roots as units if `requests` is set (`Some(true)`: a long-lived
    /// root's requests, `Some(false)`: user-facing roots of their own).
    fn apply(&mut self, group: Deferred, background: bool, requests: Option<bool>) {
        for (op, d) in group.ops.iter().chain(&group.head) {
            self.ops[*op as usize].append(d, background);
        }
        for (&key, r) in &group.head_repeats {
            self.count_repeat(key, r, !background, None);
        }
        self.pending_starts -= group.requests.starts.len();
        if !background {
            for (key, &(parents, calls, total)) in &group.repeats {
                if let Some(r) = self.repeats.get_mut(key) {
                    r.fg_parents += parents;
                    r.fg_calls += calls;
                    r.fg_total_ns += total;
                }
            }
            for (step, d) in &group.steps {
                self.steps.entry(*step).or_default().append_fg(d);
            }
        }
        let units = group.units;
        match requests.filter(|_| !background) {
            Some(long_lived) => self.add_units(units, long_lived),
            None => self.pending_starts -= units.starts.len(),
        }
    }

    /// Counts pieces' roots as units: requests of a long-lived root, or user-facing roots.
    fn add_units(&mut self, units: Units, long_lived: bool) {
        self.pending_starts -= units.starts.len();
        self.units += units.count;
        self.unit_ns += units.ns;
        if long_lived {
            self.long_lived_units.0 += units.count;
            self.long_lived_units.1 += units.ns;
        }
        for (op, (n, ns)) in units.per_op {
            let o = &mut self.ops[op as usize];
            if long_lived {
                o.requests += n;
                o.request_ns += ns;
            } else {
                o.fg_roots += n;
            }
        }
        for (start, duration) in units.starts {
            self.latency.add(start, duration);
        }
        if let Some(folded) = units.folded {
            self.latency.cover(units.last);
            self.latency.merge(&folded);
        }
    }

    /// Ends a segment: pieces whose parent never came (it is still running, or was lost)
    /// count as the trees of such a parent's children do (fragments, see
    /// [`Causes::add_tree`]), one group per parent and root operation: background work if
    /// their root follows from another span (or the file records no busy time) or its
    /// operation was only ever seen in background work, else user-facing work whose
    /// roots are units; and a root long-lived by itself is a long-lived root, its
    /// children its requests. Unlike whole fragments, they are not compared with the
    /// roots started beside them, and latency over time, if it has not started yet,
    /// starts at the earliest of their units rather than at the first by start.
    pub fn finish_segment(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        let mut groups: Vec<(Option<Kind>, Option<u32>, Deferred)> = Vec::new();
        for (_, waiting) in pending {
            for ((op, by_itself, shaped), group) in waiting.groups {
                let kind = if by_itself {
                    Kind::Background
                } else if shaped {
                    Kind::LongLived
                } else if op.is_some_and(|op| self.ops[op as usize].only_background()) {
                    Kind::Background
                } else {
                    Kind::Foreground
                };
                groups.push((Some(kind), op, group));
            }
        }
        if self.latency.origin().is_none() {
            let first = groups
                .iter()
                .filter_map(|(kind, _, g)| match kind {
                    Some(Kind::Foreground) => g.units.first,
                    Some(Kind::LongLived) => g.requests.first,
                    _ => None,
                })
                .min();
            if let Some(first) = first {
                self.latency.start_at(first);
            }
        }
        for (kind, op, group) in groups {
            match kind {
                Some(Kind::LongLived) => self.apply_long_lived(op, group),
                kind => self.apply(group, kind == Some(Kind::Background), Some(false)),
            }
        }
        self.pending_starts = 0;
    }

    /// Counts pieces whose roots are long-lived by themselves as long-lived roots (of
    /// operation `op`): their own spans neither user-facing nor background, nor their
    /// repeated calls counted; their children requests; the rest user-facing.
    fn apply_long_lived(&mut self, op: Option<u32>, group: Deferred) {
        self.long_lived += group.units.count;
        if let Some(op) = op {
            *self.long_lived_names.entry(op).or_default() += group.units.count;
        }
        for (op, d) in &group.head {
            let o = &mut self.ops[*op as usize];
            o.count += d.count;
            o.all_ns += d.all_ns;
        }
        self.pending_starts -= group.units.starts.len();
        let body = Deferred {
            ops: group.ops,
            repeats: group.repeats,
            steps: group.steps,
            ..Deferred::default()
        };
        self.apply(body, false, None);
        self.add_units(group.requests, true);
    }

    /// A piece's work, now known to lie deeper in another piece (`piece`): its roots are
    /// no units, and the repeated calls under roots long-lived by themselves count.
    fn refile(&mut self, piece: &mut Deferred, group: Deferred) {
        self.pending_starts -= group.units.starts.len() + group.requests.starts.len();
        for (&key, r) in &group.head_repeats {
            self.count_repeat(key, r, true, Some(piece));
        }
        let mut ops = group.ops;
        for (op, d) in group.head {
            ops.entry(op).or_default().append(&d, false);
        }
        piece.append_work(ops, group.repeats, group.steps);
    }

    /// Counts repeated calls under a parent (`r`: one parent's, or several): if `fg`, as
    /// user-facing, now or, for a piece, when its kind is known.
    fn count_repeat(
        &mut self,
        key: (u32, u32),
        r: &Repeat,
        fg: bool,
        piece: Option<&mut Deferred>,
    ) {
        if self.repeats.len() >= NAME_LIMIT && !self.repeats.contains_key(&key) {
            return;
        }
        let e = self.repeats.entry(key).or_default();
        e.parents += r.parents;
        e.calls += r.calls;
        e.total_ns += r.total_ns;
        e.parent_ns += r.parent_ns;
        if let Some(piece) = piece {
            let d = piece.repeats.entry(key).or_default();
            d.0 += r.parents;
            d.1 += r.calls;
            d.2 += r.total_ns;
        } else if fg {
            e.fg_parents += r.parents;
            e.fg_calls += r.calls;
            e.fg_total_ns += r.total_ns;
        }
    }

    /// Open parents whose pieces wait for them (see [`Causes::add_tree`]): what is kept
    /// for pieces grows with these and the distinct names under them.
    #[must_use]
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Repeated calls under node `index`: one name called many times, one call after
    /// another, filling most of the parent. `early`: the node's children handed over in
    /// pieces, per operation. `sink`: where they count.
    fn add_repeats(
        &mut self,
        tree: &Tree,
        index: usize,
        parent: u32,
        t: &Thresholds,
        early: Option<&HashMap<u32, EarlyCalls>>,
        mut sink: Sink<'_>,
    ) {
        let mut calls = std::mem::take(&mut self.scratch);
        calls.clear();
        for &c in tree.children(index) {
            let child = tree.span(c as usize);
            if let Some(i) = self.name(child) {
                calls.push((i, child.start_ns, child.end_ns));
            }
        }
        // By operation, each one's calls in start order (children come sorted by start).
        calls.sort_by_key(|&(op, start, _)| (op, start));
        let parent_ns = tree.span(index).duration_ns();
        let no_early = HashMap::default();
        let early = early.unwrap_or(&no_early);
        let late = calls.chunk_by(|a, b| a.0 == b.0).map(|group| {
            let total: u64 = group.iter().map(|(_, s, e)| e.saturating_sub(*s)).sum();
            let sequential = group.windows(2).all(|w| w[1].1 >= w[0].2);
            let here = EarlyCalls {
                n: group.len() as u64,
                total,
                last_end: group[group.len() - 1].2,
                sequential,
            };
            // The children handed over early closed before these (in start order where
            // they do not overlap).
            let all = match early.get(&group[0].0) {
                Some(e) => e.then(group[0].1, here),
                None => here,
            };
            (group[0].0, all)
        });
        let only_early = early
            .iter()
            .filter(|(op, _)| calls.binary_search_by_key(op, |c| &c.0).is_err())
            .map(|(&op, &e)| (op, e));
        let groups: Vec<(u32, EarlyCalls)> = late.chain(only_early).collect();
        self.scratch = calls;
        for (child, g) in groups {
            let n = g.n;
            if n < t.batch_min_calls {
                continue;
            }
            let total = g.total;
            if total / n > t.batch_max_mean_ns
                || !g.sequential
                || (total as f64) < REPEATED_MIN_COVER * parent_ns as f64
            {
                continue;
            }
            let r = Repeat {
                parents: 1,
                calls: n,
                total_ns: total,
                parent_ns,
                ..Repeat::default()
            };
            let key = (parent, child);
            match &mut sink {
                Sink::Now(fg) => self.count_repeat(key, &r, *fg, None),
                Sink::Piece(piece) => self.count_repeat(key, &r, true, Some(piece)),
                Sink::Head(piece) => {
                    let e = piece.head_repeats.entry(key).or_default();
                    e.parents += 1;
                    e.calls += n;
                    e.total_ns += total;
                    e.parent_ns += parent_ns;
                }
            }
        }
    }

    /// Adds an LLM call. In a piece, its step's user-facing part waits in `piece`, and
    /// the call counts as user-facing among the recent calls.
    fn add_call(&mut self, call: &LlmCall, step: u32, fg: bool, piece: Option<&mut Deferred>) {
        let server = call.overhead_ns.map(|o| call.wall_ns - o);
        let queue = call.overhead_ns.unwrap_or(0);
        let queued = server.is_some_and(|server| {
            queue >= QUEUED_MIN_NS && call.wall_ns as f64 >= QUEUED_RATIO * server as f64
        });
        let s = self.steps.entry(step).or_default();
        s.calls += 1;
        s.wall_ns += call.wall_ns;
        let load = call.load_ns.unwrap_or(0);
        s.load_ns += load;
        if load > 0 {
            s.loads += 1;
        }
        if queued {
            s.queued += 1;
            s.queue_ns += queue;
        }
        if fg {
            let s = match piece {
                Some(piece) => piece.steps.entry(step).or_default(),
                None => s,
            };
            s.fg_calls += 1;
            s.fg_wall_ns += call.wall_ns;
            s.fg_load_ns += load;
            s.fg_server_ns += server.unwrap_or(call.wall_ns);
            if let Some(eval) = call.eval_ns {
                s.fg_eval_ns += eval;
                s.fg_eval_known_ns += call.wall_ns;
                s.fg_output_tokens += call.output_tokens.unwrap_or(0);
            }
            if queued {
                s.fg_queued += 1;
                s.fg_queue_ns += queue;
                s.queue = (
                    call.server.as_deref().map(Arc::from),
                    call.model.as_deref().map(Arc::from),
                );
            }
            if let (Some(tokens), Some(eval)) = (call.input_tokens, call.prompt_eval_ns) {
                s.growth.add([tokens, eval]);
                s.fg_prompt_eval_ns += eval;
                s.min_prompt_eval_ns = if s.growth.n == 1.0 {
                    eval
                } else {
                    s.min_prompt_eval_ns.min(eval)
                };
            }
        }
        let me = Recent {
            start: call.start_ns,
            end: call.start_ns + call.wall_ns,
            step,
            model: call.model.as_deref().map(Arc::from),
            server: call.server.as_deref().map(Arc::from),
            foreground: fg,
            queued,
        };
        let mut behind: Vec<(u32, u32, u64, bool, bool)> = Vec::new();
        for other in &self.recent {
            let overlap = me
                .end
                .min(other.end)
                .saturating_sub(me.start.max(other.start));
            if overlap == 0 || !(me.queued || other.queued) {
                continue;
            }
            if !me.shares_queue_with(other) {
                continue;
            }
            if me.queued && other.start <= me.start {
                behind.push((
                    me.step,
                    other.step,
                    overlap,
                    !other.foreground,
                    me.foreground,
                ));
            }
            if other.queued && me.start <= other.start {
                behind.push((
                    other.step,
                    me.step,
                    overlap,
                    !me.foreground,
                    other.foreground,
                ));
            }
        }
        for (waiter, ahead, overlap, ahead_bg, waiter_fg) in behind {
            let s = self.steps.entry(waiter).or_default();
            let e = s.behind.entry(ahead).or_insert((0, 0, ahead_bg));
            e.0 += 1;
            e.1 += overlap;
            if ahead_bg && waiter_fg {
                s.fg_behind_bg += 1;
            }
        }
        if self.recent.len() == LLM_WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(me);
    }

    /// User-facing units (requests, turns) seen.
    #[must_use]
    pub fn units(&self) -> u64 {
        self.units
    }

    /// Their summed durations.
    #[must_use]
    pub fn unit_ns(&self) -> u64 {
        self.unit_ns
    }

    /// Of the units, the requests of long-lived roots, and their summed durations.
    #[must_use]
    pub fn long_lived_units(&self) -> (u64, u64) {
        self.long_lived_units
    }

    /// Spans of a name and target in user-facing work.
    #[must_use]
    pub fn user_facing_spans(&self, name: &Arc<str>, target: &Arc<str>) -> u64 {
        self.op(name, target).map_or(0, |(_, op)| op.fg_count)
    }

    /// True if roots of a name and target were recognised as long-lived.
    #[must_use]
    pub fn is_long_lived_op(&self, name: &Arc<str>, target: &Arc<str>) -> bool {
        self.op(name, target)
            .is_some_and(|(i, _)| self.long_lived_names.contains_key(&i))
    }

    /// User-facing units' latency over time.
    #[must_use]
    pub fn latency(&self) -> LatencySummary {
        self.latency.summary()
    }

    /// Long-lived roots recognised, and the names of the most frequent (up to 5).
    #[must_use]
    pub fn long_lived(&self) -> (u64, Vec<String>) {
        let mut names: Vec<(&u32, &u64)> = self.long_lived_names.iter().collect();
        names.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        (
            self.long_lived,
            names
                .into_iter()
                .take(5)
                .map(|(&i, _)| self.names[i as usize].to_string())
                .collect(),
        )
    }

    /// The user-facing share of a span name's time (0 to 1).
    fn fg_share(&self, name: &str) -> f64 {
        let (mut fg, mut all) = (0u64, 0u64);
        for (i, (n, _)) in self.keys.iter().enumerate() {
            if &**n == name {
                fg += self.ops[i].fg_ns;
                all += self.ops[i].all_ns;
            }
        }
        if all == 0 {
            0.0
        } else {
            fg as f64 / all as f64
        }
    }

    /// Every finding, largest saving first. `parallelism` is the sequential-siblings
    /// analysis, `wall_ns` the session's wall time.
    #[must_use]
    pub fn findings(&self, parallelism: &[Opportunity], wall_ns: u64) -> Vec<Finding> {
        let mut labelled = self.clone();
        labelled.labels();
        labelled.find(parallelism, wall_ns)
    }

    /// A saving as user-facing time: requests that ran concurrently (a server's
    /// connections) save wall time together, so a saving summed over them is divided by
    /// their mean concurrency; never more than the time of the spans changed, nor the
    /// wall time.
    fn cap(&self, saving: f64, changed: u64, wall_ns: u64) -> u64 {
        let concurrency = (self.unit_ns as f64 / wall_ns.max(1) as f64).max(1.0);
        ((saving.max(0.0) / concurrency) as u64)
            .min(changed)
            .min(wall_ns)
    }

    fn find(&self, parallelism: &[Opportunity], wall_ns: u64) -> Vec<Finding> {
        let mut found = Vec::new();
        let cap = |saving: f64, changed: u64| self.cap(saving, changed, wall_ns);
        let user = self.unit_ns.max(1);
        for p in parallelism {
            if p.occurrences < 2
                || p.operations.len() > FAN_OUT_MAX
                || p.spans != p.occurrences * p.operations.len() as u64
            {
                continue;
            }
            let share = self.fg_share(&p.parent);
            let saving = cap(p.saving_ns as f64 * share, p.sequential_ns);
            if saving == 0 {
                continue;
            }
            found.push(Finding {
                cause: Cause::SequentialSiblings,
                operation: p.parent.clone(),
                title: format!(
                    "{} runs {} one after another: side by side they would take the longest one's time",
                    p.parent,
                    p.operations.join(", ")
                ),
                evidence: vec![
                    format!(
                        "{} of its runs each ran {} in sequence: {} in a row, {} if run concurrently",
                        p.occurrences,
                        p.operations.join(", "),
                        human(p.sequential_ns),
                        human(p.parallel_ns)
                    ),
                    format!(
                        "{:.0}% of {}'s time is user-facing",
                        share * 100.0,
                        p.parent
                    ),
                ],
                estimated_saving_ns: saving,
            });
        }
        for (&(parent, child), r) in &self.repeats {
            if r.fg_calls == 0 {
                continue;
            }
            // Batched, each parent's calls would cost about one call.
            let one_each = r.fg_total_ns / r.fg_calls * r.fg_parents;
            let saving = cap((r.fg_total_ns - one_each) as f64, r.fg_total_ns);
            let (parent, child) = (&self.names[parent as usize], &self.names[child as usize]);
            found.push(Finding {
                cause: Cause::RepeatedCalls,
                operation: child.to_string(),
                title: format!(
                    "{child} is called {:.0} times in a row per {parent}: batch the calls",
                    r.calls as f64 / r.parents as f64
                ),
                evidence: vec![
                    format!(
                        "{} calls under {} {parent} spans, mean {}, one after another",
                        r.calls,
                        r.parents,
                        human(r.total_ns / r.calls.max(1))
                    ),
                    format!(
                        "they fill {:.0}% of {parent}'s time ({} of {})",
                        percent(r.total_ns, r.parent_ns),
                        human(r.total_ns),
                        human(r.parent_ns)
                    ),
                ],
                estimated_saving_ns: saving,
            });
        }
        let llm_wall: u64 = self.steps.values().map(|s| s.wall_ns).sum();
        let llm_load: u64 = self.steps.values().map(|s| s.load_ns).sum();
        for (&step, s) in &self.steps {
            let name = self.names[step as usize].to_string();
            if s.fg_queued > 0 {
                found.push(self.queueing(&name, s, cap(s.fg_queue_ns as f64, s.fg_wall_ns)));
            }
            if s.fg_load_ns >= LOAD_MIN_NS && llm_load as f64 >= LOAD_MIN_SHARE * llm_wall as f64 {
                found.push(Finding {
                    cause: Cause::LlmModelLoad,
                    operation: name.clone(),
                    title: format!(
                        "{name} waits for the model to load: {} of loading in {} calls",
                        human(s.load_ns),
                        s.loads
                    ),
                    evidence: vec![
                        format!(
                            "model loads took {} of {} in all LLM calls ({:.0}%)",
                            human(llm_load),
                            human(llm_wall),
                            percent(llm_load, llm_wall)
                        ),
                        format!(
                            "{} in user-facing {name} calls ({} of {} calls loaded the model)",
                            human(s.fg_load_ns),
                            s.loads,
                            s.calls
                        ),
                    ],
                    estimated_saving_ns: cap(s.fg_load_ns as f64, s.fg_wall_ns),
                });
            }
            if let (Some(tokens), Some(eval)) = (s.growth.ends(0), s.growth.ends(1)) {
                let grows = s.growth.n as u64 >= GROWTH_MIN_CALLS
                    && tokens.0 > 0.0
                    && tokens.1 >= GROWTH_MIN_FACTOR * tokens.0
                    && eval.1 > eval.0;
                let saving = s
                    .fg_prompt_eval_ns
                    .saturating_sub(s.min_prompt_eval_ns * s.growth.n as u64);
                if grows && saving > 0 {
                    found.push(Finding {
                        cause: Cause::LlmPromptGrowth,
                        operation: name.clone(),
                        title: format!(
                            "{name}'s prompt grows call after call: the history is not trimmed"
                        ),
                        evidence: vec![
                            format!(
                                "prompt tokens {} at the first of {} calls, {} at the last",
                                s.growth.first[0], s.growth.n, s.growth.last[0]
                            ),
                            format!(
                                "prompt evaluation {} at the first, {} at the last ({} in all)",
                                human(s.growth.first[1]),
                                human(s.growth.last[1]),
                                human(s.fg_prompt_eval_ns)
                            ),
                        ],
                        estimated_saving_ns: cap(saving as f64, s.fg_prompt_eval_ns),
                    });
                }
            }
            if s.fg_eval_known_ns > 0
                && s.fg_eval_ns as f64 >= GENERATION_MIN_SHARE * s.fg_eval_known_ns as f64
            {
                let rate = s.fg_output_tokens as f64 * 1e9 / s.fg_eval_ns.max(1) as f64;
                found.push(Finding {
                    cause: Cause::LlmGeneration,
                    operation: name.clone(),
                    title: format!(
                        "{name} spends most of its time generating: {} tokens at {rate:.1} tokens/s",
                        s.fg_output_tokens
                    ),
                    evidence: vec![
                        format!(
                            "generation {} of {} in {} user-facing calls ({:.0}%)",
                            human(s.fg_eval_ns),
                            human(s.fg_eval_known_ns),
                            s.fg_calls,
                            percent(s.fg_eval_ns, s.fg_eval_known_ns)
                        ),
                        format!(
                            "{} output tokens, {:.0} per call, {rate:.1} tokens/s",
                            s.fg_output_tokens,
                            s.fg_output_tokens as f64 / s.fg_calls.max(1) as f64
                        ),
                    ],
                    estimated_saving_ns: cap(
                        s.fg_eval_ns as f64 * GENERATION_SAVING,
                        s.fg_eval_ns,
                    ),
                });
            }
        }
        for (i, o) in self.ops.iter().enumerate() {
            let name = &self.names[i];
            if self.steps.contains_key(&(i as u32)) {
                continue;
            }
            let busy_share = o.fg_self_busy_ns as f64 / o.fg_self_known_ns.max(1) as f64;
            if o.fg_self_known_ns > 0
                && busy_share >= HOT_MIN_BUSY
                && o.fg_self_ns as f64 >= HOT_MIN_SHARE * user as f64
            {
                found.push(Finding {
                    cause: Cause::HotOperation,
                    operation: name.to_string(),
                    title: format!(
                        "{name} computes: busy {:.0}% of its own time, {:.0}% of user-facing time",
                        busy_share * 100.0,
                        percent(o.fg_self_ns, user)
                    ),
                    evidence: vec![
                        format!(
                            "in its own code {} busy of {} ({} spans in user-facing work)",
                            human(o.fg_self_busy_ns),
                            human(o.fg_self_known_ns),
                            o.fg_count
                        ),
                        format!(
                            "user-facing work: {} in {} requests or turns",
                            human(self.unit_ns),
                            self.units
                        ),
                    ],
                    estimated_saving_ns: cap(
                        o.fg_self_busy_ns as f64 * HOT_SAVING,
                        o.fg_self_busy_ns,
                    ),
                });
            }
            if let Some(finding) = self.many_short_waits(name, o, wall_ns) {
                found.push(finding);
            } else if o.waits > 0 {
                found.push(Finding {
                    cause: Cause::Waiting,
                    operation: name.to_string(),
                    title: format!(
                        "{name} waits: idle {} of its own time, busy {}, and no child span explains it",
                        human(o.wait_idle_ns),
                        human(o.wait_busy_ns)
                    ),
                    evidence: vec![
                        format!(
                            "{} of {} user-facing spans idle far longer than busy in their own time",
                            o.waits, o.fg_count
                        ),
                        format!(
                            "idle {} in all, the longest {}",
                            human(o.wait_idle_ns),
                            human(o.wait_longest_ns)
                        ),
                    ]
                    .into_iter()
                    .chain(self.served_by(name, o))
                    .collect(),
                    estimated_saving_ns: cap(o.wait_idle_ns as f64, o.fg_ns),
                });
            }
        }
        found.sort_by(|a, b| {
            b.estimated_saving_ns
                .cmp(&a.estimated_saving_ns)
                .then_with(|| (a.cause, &a.operation).cmp(&(b.cause, &b.operation)))
        });
        found
    }

    /// Waiting as many short waits of one operation: each span too short to count on
    /// its own, together idle far longer than busy in their own time.
    fn many_short_waits(&self, name: &str, o: &Op, wall_ns: u64) -> Option<Finding> {
        let idle = o.fg_self_known_ns - o.fg_self_busy_ns;
        let busy = o.fg_self_busy_ns;
        // Where single spans already wait long enough, they say it better; and the wait
        // must be most of the spans' time, not gaps between children that explain it.
        let short = o.wait_idle_ns < idle / 2;
        if !short
            || idle < o.fg_ns / 2
            || o.fg_known < self.waits_min.max(2)
            || idle < self.idle_min_ns
            || (idle as f64) < self.idle_ratio * busy as f64
        {
            return None;
        }
        Some(Finding {
            cause: Cause::Waiting,
            operation: name.to_owned(),
            title: format!(
                "{name} waits: {} short waits idle {} in all, busy {}, and no child span explains it",
                o.fg_known,
                human(idle),
                human(busy)
            ),
            evidence: vec![
                format!(
                    "{} user-facing spans, each idle {} on average in its own time and busy {}",
                    o.fg_known,
                    human(idle / o.fg_known),
                    human(busy / o.fg_known)
                ),
                format!(
                    "together idle {} ({:.0}% of their own time)",
                    human(idle),
                    percent(idle, o.fg_self_known_ns)
                ),
            ]
            .into_iter()
            .chain(self.served_by(name, o))
            .collect(),
            estimated_saving_ns: self.cap(idle as f64, o.fg_ns, wall_ns),
        })
    }

    /// For a waiting client call (a user-facing root) in a session that also holds a
    /// server (long-lived roots and their requests): what the server's requests took
    /// meanwhile, those named like the call (`get` for `apply [mini_redis::cmd::get]`)
    /// or else the most frequent, so that the wait is seen to lie outside them.
    fn served_by(&self, name: &str, o: &Op) -> Option<String> {
        if o.fg_roots * 2 < o.fg_count.max(1) || self.long_lived_units.0 == 0 {
            return None;
        }
        let call = self.keys[self.names.iter().position(|n| **n == *name)?]
            .0
            .clone();
        let suffix = format!("::{call}");
        let mut requests: Vec<(usize, &Op)> = self
            .ops
            .iter()
            .enumerate()
            .filter(|(_, r)| r.requests > 0)
            .collect();
        let named: Vec<(usize, &Op)> = requests
            .iter()
            .copied()
            .filter(|&(i, _)| {
                let (n, target) = &self.keys[i];
                **n == *call || target.ends_with(&suffix)
            })
            .collect();
        if !named.is_empty() {
            requests = named;
        }
        requests.sort_by(|a, b| b.1.requests.cmp(&a.1.requests).then(a.0.cmp(&b.0)));
        let list: Vec<String> = requests
            .iter()
            .take(3)
            .map(|&(i, r)| {
                format!(
                    "{} {} mean ({} requests)",
                    self.names[i],
                    human(r.request_ns / r.requests),
                    r.requests
                )
            })
            .collect();
        (!list.is_empty()).then(|| {
            format!(
                "meanwhile the server's requests (children of long-lived roots) took {} against {} mean for {name}: the rest of the wait lies outside them (network, queueing, scheduling, unrecorded work)",
                list.join(", "),
                human(o.fg_ns / o.fg_count.max(1))
            )
        })
    }

    fn queueing(&self, name: &str, s: &Step, saving: u64) -> Finding {
        let mut behind: Vec<(&u32, &(u64, u64, bool))> = s.behind.iter().collect();
        behind.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then_with(|| a.0.cmp(b.0)));
        let mut evidence = vec![format!(
            "{} of {} user-facing calls queued: client wall {} against the server's {} ({} waiting)",
            s.fg_queued,
            s.fg_calls,
            human(s.fg_wall_ns),
            human(s.fg_server_ns),
            human(s.fg_queue_ns)
        )];
        if behind.is_empty() {
            evidence.push(
                "no overlapping call to the same server or model in the file: the server is busy with work from elsewhere, or the network is slow".to_owned(),
            );
        } else {
            let list: Vec<String> = behind
                .iter()
                .take(5)
                .map(|(&step, &(n, overlap, bg))| {
                    format!(
                        "{} ({}: {n} overlaps, {} summed over them)",
                        self.names[step as usize],
                        if bg { "background" } else { "user-facing" },
                        human(overlap)
                    )
                })
                .collect();
            let queue = match &s.queue {
                (Some(server), Some(model)) => format!("server {server} (model {model})"),
                (Some(server), None) => format!("server {server}"),
                (None, Some(model)) => format!("model {model}"),
                (None, None) => "server".to_owned(),
            };
            evidence.push(format!(
                "waited behind calls to the same {queue}: {}",
                list.join(", ")
            ));
        }
        if s.fg_behind_bg > 0 {
            evidence.push(format!(
                "user-facing calls waited behind background calls {} times (one call can wait behind several)",
                s.fg_behind_bg
            ));
        }
        let behind_names: Vec<&str> = behind
            .iter()
            .take(3)
            .map(|(&step, _)| &*self.names[step as usize])
            .collect();
        Finding {
            cause: Cause::LlmQueueing,
            operation: name.to_owned(),
            title: if behind_names.is_empty() {
                format!("{name} queues: the server's own time is a fraction of the call")
            } else {
                format!("{name} queues behind {}", behind_names.join(", "))
            },
            evidence,
            estimated_saving_ns: saving,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{SegmentEnd, Visitor};
    use crate::Options;

    /// The causes fed as the analyzer feeds them, keeping at most `limit` requests' starts.
    struct Feed(Causes);

    impl Visitor for Feed {
        fn tree(&mut self, tree: Tree) {
            let long_lived =
                tree.root().follows_from.is_empty() && Causes::is_long_lived(&tree, true);
            self.0
                .add_tree(&tree, &Thresholds::default(), true, long_lived, false, &[]);
        }
        fn takes_pieces(&self) -> bool {
            true
        }
        fn piece(&mut self, piece: Tree) {
            self.0
                .add_tree(&piece, &Thresholds::default(), true, false, false, &[]);
        }
        fn segment_end(&mut self, _: &SegmentEnd) {
            self.0.finish_segment();
        }
    }

    fn latency(data: &str, budget: usize, limit: usize) -> (u64, u64, LatencySummary) {
        let options = Options {
            hold_budget: Some(budget),
            ..Options::default()
        };
        let mut feed = Feed(Causes {
            starts_limit: Some(limit),
            ..Causes::default()
        });
        crate::visit(data.as_bytes(), "p", &options, &mut feed).unwrap();
        (feed.0.units(), feed.0.unit_ns(), feed.0.latency())
    }

    #[test]
    fn requests_past_the_starts_kept_are_placed_exactly() {
        let mut data = Vec::new();
        crate::generate::write_server_session(&mut data, 20_000, 2, 7).unwrap();
        let data = String::from_utf8(data).unwrap();
        let whole = latency(&data, usize::MAX, 0);
        assert!(whole.0 > 3_000);
        // Before any request was placed: the requests past the limit are kept in buckets
        // of their own, on the same grid, so they merge exactly; none is lost.
        let (units, unit_ns, early) = latency(&data, 1, 100);
        assert_eq!((units, unit_ns), (whole.0, whole.1));
        assert_eq!(early, whole.2);
        assert_eq!(latency(&data, 64, 0).2, whole.2);
    }
}
