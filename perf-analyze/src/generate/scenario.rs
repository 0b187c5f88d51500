//! Sessions with one planted cause each, for testing that the diagnosis names it.
//!
//! Every [`Scenario`] but [`Scenario::Clean`] plants one [cause](crate::analysis::causes::Cause)
//! at one operation ([`Scenario::planted`]); the clean session has requests with
//! nothing wrong in them, and the server-shaped session has long-lived connection
//! roots (and a subscriber) whose requests are two operations both named `apply`,
//! one of which waits.
//!
//! ```
//! use perf_analyze::generate::scenario::Scenario;
//!
//! let mut out = Vec::new();
//! Scenario::RepeatedCalls.write(&mut out)?;
//! let analysis = perf_analyze::analyze_reader(&out[..], "gen", &Default::default())?;
//! let first = &analysis.summary.recommendations[0];
//! assert_eq!(Some((first.cause, first.operation.as_str())), Scenario::RepeatedCalls.planted());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, Write};

use perf_layer::record::{
    llm, EndRecord, Fields, Record, SessionRecord, SpanRecord, Status, FORMAT,
};

use crate::analysis::causes::Cause;

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;

/// A session shape with (at most) one planted cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Requests with nothing wrong: no recommendation of a planted kind.
    Clean,
    /// Requests fetching three things one after another.
    SequentialSiblings,
    /// Requests reading forty rows one at a time.
    RepeatedCalls,
    /// Each turn's answer waits behind a background digest on the same model.
    LlmQueueing,
    /// The model is loaded again for every answer.
    LlmModelLoad,
    /// The prompt grows turn after turn.
    LlmPromptGrowth,
    /// Answers are long: generation dominates.
    LlmGeneration,
    /// Requests spend most of their time computing a report.
    HotOperation,
    /// Requests wait on a cache update with no child span to say why.
    Waiting,
    /// A server: connection roots for the whole session, a subscriber, and requests
    /// `apply` (get, fast) and `apply` (set, waiting on a lock).
    Server,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 10] = [
        Scenario::Clean,
        Scenario::SequentialSiblings,
        Scenario::RepeatedCalls,
        Scenario::LlmQueueing,
        Scenario::LlmModelLoad,
        Scenario::LlmPromptGrowth,
        Scenario::LlmGeneration,
        Scenario::HotOperation,
        Scenario::Waiting,
        Scenario::Server,
    ];

    /// The planted cause and the operation that carries it (as recommendations name it).
    #[must_use]
    pub fn planted(self) -> Option<(Cause, &'static str)> {
        Some(match self {
            Scenario::Clean => return None,
            Scenario::SequentialSiblings => (Cause::SequentialSiblings, "handle_request"),
            Scenario::RepeatedCalls => (Cause::RepeatedCalls, "fetch_row"),
            Scenario::LlmQueueing => (Cause::LlmQueueing, "llm_answer"),
            Scenario::LlmModelLoad => (Cause::LlmModelLoad, "llm_answer"),
            Scenario::LlmPromptGrowth => (Cause::LlmPromptGrowth, "llm_answer"),
            Scenario::LlmGeneration => (Cause::LlmGeneration, "llm_answer"),
            Scenario::HotOperation => (Cause::HotOperation, "compute_report"),
            Scenario::Waiting => (Cause::Waiting, "update_cache"),
            Scenario::Server => (Cause::Waiting, "apply [server::cmd::set]"),
        })
    }

    /// The scenario's name, for session ids and file names: its cause's, or `clean`,
    /// `server`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Clean => "clean",
            Scenario::Server => "server",
            planted => planted.planted().map_or("", |(cause, _)| cause.as_str()),
        }
    }

    /// Writes the session as format-1 lines.
    pub fn write(self, out: &mut impl Write) -> io::Result<()> {
        let mut b = Builder::default();
        match self {
            Scenario::Clean => clean(&mut b),
            Scenario::SequentialSiblings => sequential(&mut b),
            Scenario::RepeatedCalls => repeated(&mut b),
            Scenario::LlmQueueing => queueing(&mut b),
            Scenario::LlmModelLoad | Scenario::LlmPromptGrowth | Scenario::LlmGeneration => {
                llm_turns(&mut b, self);
            }
            Scenario::HotOperation => hot(&mut b),
            Scenario::Waiting => waiting(&mut b),
            Scenario::Server => server(&mut b),
        }
        b.write(out, self.name())
    }
}

/// Spans collected, then written in close order (children before parents).
#[derive(Debug, Default)]
struct Builder {
    spans: Vec<SpanRecord<'static>>,
}

impl Builder {
    /// Adds a span and returns its id. `busy` is clamped to the duration.
    #[allow(clippy::too_many_arguments)]
    fn span(
        &mut self,
        parent: Option<u64>,
        follows: Option<u64>,
        name: &str,
        target: &str,
        start: u64,
        end: u64,
        busy: u64,
        fields: Fields,
    ) -> u64 {
        let id = self.spans.len() as u64 + 1;
        self.spans.push(SpanRecord {
            id,
            parent,
            follows_from: follows.into_iter().collect(),
            name: name.to_owned().into(),
            target: target.to_owned().into(),
            start_ns: start,
            end_ns: end,
            busy_ns: busy.min(end - start),
            idle_ns: None,
            enters: 1,
            thread: "main".into(),
            status: Status::Ok,
            fields,
        });
        id
    }

    /// A span without fields.
    #[allow(clippy::too_many_arguments)]
    fn plain(
        &mut self,
        parent: Option<u64>,
        name: &str,
        target: &str,
        start: u64,
        end: u64,
        busy: u64,
    ) -> u64 {
        self.span(parent, None, name, target, start, end, busy, Fields::new())
    }

    /// Sets a span's end and busy time once its children are known.
    fn close(&mut self, id: u64, end: u64, busy: u64) {
        let s = &mut self.spans[id as usize - 1];
        s.end_ns = end;
        s.busy_ns = busy.min(end - s.start_ns);
    }

    fn write(mut self, out: &mut impl Write, session: &str) -> io::Result<()> {
        let head = Record::Session(SessionRecord {
            format: FORMAT,
            session: session.into(),
            started_at: "2026-11-24T10:00:00.000000Z".into(),
            pid: 4242,
            program: "scenario".into(),
        });
        serde_json::to_writer(&mut *out, &head)?;
        out.write_all(b"\n")?;
        // Close order: by end, a child (a later id) before its parent at the same end.
        self.spans
            .sort_by(|a, b| a.end_ns.cmp(&b.end_ns).then(b.id.cmp(&a.id)));
        let end_ns = self.spans.iter().map(|s| s.end_ns).max().unwrap_or(0);
        let count = self.spans.len() as u64;
        for span in self.spans {
            serde_json::to_writer(&mut *out, &Record::Span(span))?;
            out.write_all(b"\n")?;
        }
        let end = Record::End(EndRecord {
            end_ns,
            spans: count,
            open: 0,
            dropped: 0,
        });
        serde_json::to_writer(&mut *out, &end)?;
        out.write_all(b"\n")
    }
}

const APP: &str = "app::server";
const REQUESTS: u64 = 20;

/// `handle_request` roots every 200 ms, each filled by `body`, which gets the root's id
/// and start and returns its end and its children's busy time.
fn requests(b: &mut Builder, mut body: impl FnMut(&mut Builder, u64, u64) -> (u64, u64)) {
    for i in 0..REQUESTS {
        let start = 10 * MS + i * 200 * MS;
        let root = b.plain(None, "handle_request", APP, start, start + 1, 0);
        let (end, busy) = body(b, root, start);
        // The request's own code: 2 ms of work beside its children.
        b.close(root, end + MS, busy + 2 * MS);
    }
}

fn clean(b: &mut Builder) {
    requests(b, |b, root, t| {
        // A query and a render that overlap: nothing sequential, nothing idle too long.
        b.plain(Some(root), "query_db", APP, t + MS, t + 7 * MS, 2 * MS);
        b.plain(Some(root), "render", APP, t + 5 * MS, t + 9 * MS, 2 * MS);
        (t + 9 * MS, 4 * MS)
    });
}

fn sequential(b: &mut Builder) {
    requests(b, |b, root, t| {
        let mut at = t + MS;
        for (name, ms) in [
            ("fetch_user", 20),
            ("fetch_orders", 20),
            ("fetch_prefs", 15),
        ] {
            b.plain(Some(root), name, APP, at, at + ms * MS, 3 * MS);
            at += ms * MS;
        }
        (at, 9 * MS)
    });
}

fn repeated(b: &mut Builder) {
    requests(b, |b, root, t| {
        let mut at = t + 2 * MS;
        for _ in 0..40 {
            b.plain(Some(root), "fetch_row", APP, at, at + 2 * MS, MS / 2);
            at += 2 * MS;
        }
        (at + 2 * MS, 20 * MS)
    });
}

fn hot(b: &mut Builder) {
    requests(b, |b, root, t| {
        b.plain(
            Some(root),
            "compute_report",
            APP,
            t + MS,
            t + 41 * MS,
            39 * MS,
        );
        (t + 41 * MS, 39 * MS)
    });
}

fn waiting(b: &mut Builder) {
    requests(b, |b, root, t| {
        b.plain(Some(root), "update_cache", APP, t + MS, t + 51 * MS, MS);
        (t + 51 * MS, MS)
    });
}

/// An LLM call's fields: model, tokens and the server's timings.
fn llm_fields(input: u64, output: u64, load: u64, prompt: u64, eval: u64) -> Fields {
    [
        (llm::OPERATION_NAME, serde_json::Value::from("chat")),
        (llm::REQUEST_MODEL, "gemma3".into()),
        (llm::INPUT_TOKENS, input.into()),
        (llm::OUTPUT_TOKENS, output.into()),
        (llm::TOTAL_DURATION_NS, (load + prompt + eval).into()),
        (llm::LOAD_DURATION_NS, load.into()),
        (llm::PROMPT_EVAL_DURATION_NS, prompt.into()),
        (llm::EVAL_DURATION_NS, eval.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

const AGENT: &str = "agent::turn";

/// A turn: `add_entry` (20 ms), then the answer from `at` for `wall`.
fn turn(b: &mut Builder, start: u64, answer_at: u64, wall: u64, fields: Fields) -> u64 {
    let root = b.plain(None, "chat_turn", AGENT, start, start + 1, 0);
    b.plain(
        Some(root),
        "add_entry",
        AGENT,
        start,
        start + 20 * MS,
        5 * MS,
    );
    let end = answer_at + wall;
    b.span(
        Some(root),
        None,
        "llm_answer",
        AGENT,
        answer_at,
        end,
        5 * MS,
        fields,
    );
    b.close(root, end + MS, 12 * MS);
    root
}

fn queueing(b: &mut Builder) {
    for i in 0..10 {
        let start = i * 5 * S;
        // The turn spawns a digest of the previous exchange, which takes the model first.
        let digest_start = start + 20 * MS;
        let digest_end = digest_start + 1_200 * MS;
        let answer_at = start + 25 * MS;
        let server = 400 * MS;
        let root = turn(
            b,
            start,
            answer_at,
            digest_end - answer_at + server,
            llm_fields(500, 60, 0, 100 * MS, 300 * MS),
        );
        let task = b.span(
            None,
            Some(root),
            "digest_task",
            AGENT,
            digest_start,
            digest_end + MS,
            2 * MS,
            Fields::new(),
        );
        b.span(
            Some(task),
            None,
            "llm_digest",
            AGENT,
            digest_start,
            digest_end,
            2 * MS,
            llm_fields(800, 100, 0, 150 * MS, 1_030 * MS),
        );
    }
}

fn llm_turns(b: &mut Builder, scenario: Scenario) {
    for i in 0..12u64 {
        let start = i * 5 * S;
        let fields = match scenario {
            Scenario::LlmModelLoad => llm_fields(500, 100, 1_200 * MS, 100 * MS, 600 * MS),
            Scenario::LlmPromptGrowth => {
                let tokens = 500 * (i + 1);
                llm_fields(tokens, 60, 0, tokens * MS / 5, 300 * MS)
            }
            _ => llm_fields(500, 400, 0, 200 * MS, 2_700 * MS),
        };
        let server: u64 = [
            llm::LOAD_DURATION_NS,
            llm::PROMPT_EVAL_DURATION_NS,
            llm::EVAL_DURATION_NS,
        ]
        .iter()
        .filter_map(|k| fields.get(*k)?.as_u64())
        .sum();
        turn(b, start, start + 21 * MS, server + 20 * MS, fields);
    }
}

fn server(b: &mut Builder) {
    const CONNECTIONS: u64 = 8;
    const PER_CONNECTION: u64 = 200;
    let end = 5 * S;
    for c in 0..CONNECTIONS {
        let start = MS + c * MS;
        let conn = b.plain(None, "connection", "server::conn", start, end - c * MS, MS);
        let mut at = start + 2 * MS;
        let mut busy = MS;
        for r in 0..PER_CONNECTION {
            // Requests arrive every ~24 ms; a set waits 2 ms for a lock.
            let (target, length, work) = if r % 2 == 0 {
                ("server::cmd::get", 100_000, 90_000)
            } else {
                ("server::cmd::set", 2_100_000, 60_000)
            };
            b.plain(Some(conn), "apply", target, at, at + length, work);
            busy += work;
            at += 24 * MS + (c * 37 + r * 11) % 500 * 1_000;
        }
        b.close(conn, end - c * MS, busy + MS);
    }
    // A subscriber: subscribes, then waits for messages for the whole session.
    let sub = b.plain(None, "subscriber", "server::pubsub", 2 * MS, end, 2 * MS);
    b.plain(Some(sub), "subscribe", "server::pubsub", 2 * MS, 3 * MS, MS);
}
