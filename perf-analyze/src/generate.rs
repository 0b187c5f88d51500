//! Realistic synthetic sessions, for tests and benchmarks.
//!
//! An agent's turns (`memory_query_total` with retrieval, graph context, prompt
//! formatting and an LLM call carrying GenAI and Ollama fields) and the background
//! work each turn spawns (digest, embeddings in small repeated calls, graph update),
//! written as format-1 lines in close order, children before parents.
//!
//! ```
//! let mut out = Vec::new();
//! perf_analyze::generate::write_session(&mut out, 1_000, 42)?;
//! let analysis = perf_analyze::analyze_reader(&out[..], "gen", &Default::default())?;
//! assert_eq!(analysis.summary.operations, 1_000);
//! assert!(analysis.warnings().is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod scenario;

use std::io::{self, Write};

use perf_layer::record::{
    llm, EndRecord, Fields, Record, SessionRecord, SpanRecord, Status, FORMAT,
};

/// A small deterministic xorshift generator: the same seed, the same session.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Around `mean` ns, +-50%.
    fn around(&mut self, mean: u64) -> u64 {
        mean / 2 + self.next() % mean.max(1)
    }
}

struct Writer<'w, W: Write> {
    out: &'w mut W,
    next_id: u64,
    written: u64,
    limit: u64,
}

impl<W: Write> Writer<'_, W> {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    #[allow(clippy::too_many_arguments)]
    fn span(
        &mut self,
        id: u64,
        parent: Option<u64>,
        follows: Option<u64>,
        name: &'static str,
        target: &'static str,
        start: u64,
        end: u64,
        busy: u64,
        fields: Fields,
    ) -> io::Result<()> {
        if self.written >= self.limit {
            return Ok(());
        }
        let record = Record::Span(SpanRecord {
            id,
            parent,
            follows_from: follows.into_iter().collect(),
            name: name.into(),
            target: target.into(),
            start_ns: start,
            end_ns: end,
            busy_ns: busy.min(end - start),
            idle_ns: None,
            enters: 1,
            thread: if follows.is_some() {
                "tokio-runtime-worker".into()
            } else {
                "main".into()
            },
            status: Status::Ok,
            fields,
        });
        serde_json::to_writer(&mut *self.out, &record)?;
        self.out.write_all(b"\n")?;
        self.written += 1;
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
fn step<W: Write>(
    w: &mut Writer<'_, W>,
    rng: &mut Rng,
    t: &mut u64,
    parent: u64,
    name: &'static str,
    target: &'static str,
    mean: u64,
    f: Fields,
) -> io::Result<()> {
    let id = w.id();
    let d = rng.around(mean);
    w.span(id, Some(parent), None, name, target, *t, *t + d, d, f)?;
    *t += d + 2_000;
    Ok(())
}

fn fields(pairs: &[(&str, serde_json::Value)]) -> Fields {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// Writes a `session` line of a generated session.
fn session_line(out: &mut impl Write, session: &str) -> io::Result<()> {
    let session = Record::Session(SessionRecord {
        format: FORMAT,
        session: session.into(),
        started_at: "2026-11-24T10:00:00.000000Z".into(),
        pid: 4242,
        program: "gen-session".into(),
    });
    serde_json::to_writer(&mut *out, &session)?;
    out.write_all(b"\n")
}

/// Writes the `end` line of a session that lost and left open nothing.
fn end_line(out: &mut impl Write, end_ns: u64, spans: u64) -> io::Result<()> {
    let end = Record::End(EndRecord {
        end_ns,
        spans,
        open: 0,
        dropped: 0,
    });
    serde_json::to_writer(&mut *out, &end)?;
    out.write_all(b"\n")
}

/// Writes a session of exactly `spans` span lines (plus its `session` and `end` lines).
pub fn write_session(out: &mut impl Write, spans: u64, seed: u64) -> io::Result<()> {
    session_line(out, "generated")?;
    let mut rng = Rng(seed.max(1));
    let mut w = Writer {
        out,
        next_id: 0,
        written: 0,
        limit: spans,
    };
    let mut now = 1_000_000u64;
    const MEM: &str = "agent_demo::memory";
    // Small startup spans so that whole turns make up the rest exactly.
    const SPANS_PER_TURN: u64 = 24;
    for _ in 0..spans % SPANS_PER_TURN {
        let id = w.id();
        let d = rng.around(2_000_000);
        w.span(
            id,
            None,
            None,
            "load_config",
            "agent_demo::setup",
            now,
            now + d,
            d,
            Fields::new(),
        )?;
        now += d + 1_000_000;
    }
    while w.written + SPANS_PER_TURN <= spans {
        // The turn's spans close children first; ids are taken in creation order.
        let turn = w.id();
        let start = now;
        let mut t = start;
        step(
            &mut w,
            &mut rng,
            &mut t,
            turn,
            "add_user_entry",
            MEM,
            20_000_000,
            Fields::new(),
        )?;
        step(
            &mut w,
            &mut rng,
            &mut t,
            turn,
            "format_memory_components",
            MEM,
            3_000_000,
            Fields::new(),
        )?;
        // rag_enhancement with a nested embedding call
        let rag = w.id();
        let embed = w.id();
        let rs = t;
        let ed = rng.around(40_000_000);
        w.span(
            embed,
            Some(rag),
            None,
            "embed_query",
            "agent_demo::embeddings",
            rs + 1_000_000,
            rs + 1_000_000 + ed,
            ed,
            fields(&[
                (llm::OPERATION_NAME, llm::EMBEDDINGS.into()),
                (llm::REQUEST_MODEL, "mxbai-embed-large".into()),
            ]),
        )?;
        let rd = ed + rng.around(100_000_000);
        w.span(
            rag,
            Some(turn),
            None,
            "rag_enhancement",
            MEM,
            rs,
            rs + rd,
            rd,
            Fields::new(),
        )?;
        t = rs + rd + 2_000;
        step(
            &mut w,
            &mut rng,
            &mut t,
            turn,
            "graph_context",
            "agent_demo::graph",
            80_000_000,
            Fields::new(),
        )?;
        let prompt_chars = 1000 + rng.next() % 3000;
        step(
            &mut w,
            &mut rng,
            &mut t,
            turn,
            "format_prompt",
            MEM,
            1_000_000,
            fields(&[("prompt_chars", prompt_chars.into())]),
        )?;
        // llm_generation around the client call
        let gen = w.id();
        let call = w.id();
        let gs = t;
        let load = if rng.next() % 10 == 0 {
            rng.around(800_000_000)
        } else {
            0
        };
        let prompt_eval = prompt_chars * 100_000;
        let out_tokens = 50 + rng.next() % 300;
        let eval = out_tokens * 25_000_000;
        let total = load + prompt_eval + eval;
        let overhead = rng.around(30_000_000);
        let cd = total + overhead;
        w.span(
            call,
            Some(gen),
            None,
            "ollama_generate",
            "agent_demo::ollama",
            gs + 500_000,
            gs + 500_000 + cd,
            cd,
            fields(&[
                (llm::OPERATION_NAME, "chat".into()),
                (llm::REQUEST_MODEL, "gemma3".into()),
                (llm::INPUT_TOKENS, (prompt_chars / 4).into()),
                (llm::OUTPUT_TOKENS, out_tokens.into()),
                (llm::TOTAL_DURATION_NS, total.into()),
                (llm::LOAD_DURATION_NS, load.into()),
                (llm::PROMPT_EVAL_DURATION_NS, prompt_eval.into()),
                (llm::EVAL_DURATION_NS, eval.into()),
            ]),
        )?;
        let gd = cd + 1_000_000;
        w.span(
            gen,
            Some(turn),
            None,
            "llm_generation",
            MEM,
            gs,
            gs + gd,
            gd,
            fields(&[("prompt_chars", prompt_chars.into())]),
        )?;
        t = gs + gd + 2_000;
        step(
            &mut w,
            &mut rng,
            &mut t,
            turn,
            "add_agent_entry",
            MEM,
            15_000_000,
            Fields::new(),
        )?;
        step(
            &mut w,
            &mut rng,
            &mut t,
            turn,
            "start_async_operations",
            MEM,
            500_000,
            Fields::new(),
        )?;
        let end = t;
        w.span(
            turn,
            None,
            None,
            "memory_query_total",
            MEM,
            start,
            end,
            end - start,
            Fields::new(),
        )?;

        // Background work spawned by the turn, overlapping the user's think time.
        let bg = end + 1_000_000;
        let digest = w.id();
        let dcall = w.id();
        let dd = rng.around(1_200_000_000);
        w.span(
            dcall,
            Some(digest),
            None,
            "ollama_generate",
            "agent_demo::ollama",
            bg + 100_000,
            bg + 100_000 + dd,
            dd,
            fields(&[
                (llm::OPERATION_NAME, "chat".into()),
                (llm::REQUEST_MODEL, "gemma3".into()),
                (llm::OUTPUT_TOKENS, 120.into()),
                (llm::TOTAL_DURATION_NS, (dd - 20_000_000).into()),
                (llm::EVAL_DURATION_NS, (dd - 100_000_000).into()),
            ]),
        )?;
        w.span(
            digest,
            None,
            Some(turn),
            "async_digest_generation",
            MEM,
            bg,
            bg + dd + 200_000,
            5_000_000,
            Fields::new(),
        )?;
        let emb = w.id();
        let mut et = bg;
        for _ in 0..8 {
            let id = w.id();
            let d = rng.around(15_000_000);
            w.span(
                id,
                Some(emb),
                None,
                "embed_text",
                "agent_demo::embeddings",
                et,
                et + d,
                d,
                Fields::new(),
            )?;
            et += d + 100_000;
        }
        w.span(
            emb,
            None,
            Some(turn),
            "async_embeddings_update",
            MEM,
            bg,
            et,
            et - bg,
            Fields::new(),
        )?;
        let graph = w.id();
        let resolver = w.id();
        let gd = rng.around(1_800_000_000);
        w.span(
            resolver,
            Some(graph),
            None,
            "graph_entity_resolver",
            "agent_demo::graph",
            bg + 50_000_000,
            bg + 50_000_000 + gd,
            gd,
            Fields::new(),
        )?;
        w.span(
            graph,
            None,
            Some(turn),
            "async_graph_memory_update",
            "agent_demo::graph",
            bg,
            bg + gd + 60_000_000,
            gd,
            Fields::new(),
        )?;
        // The user thinks before the next turn.
        now = end + rng.around(3_000_000_000);
    }

    end_line(w.out, now, w.written)
}

/// Writes a server's session of exactly `spans` span lines: `connections` long-lived
/// `connection` roots that stay open for the whole session, each serving requests
/// one after another (`request` with `parse`, `handle` > `db_query`, `write_response`:
/// five spans), the connections' requests interleaved in time; the roots close last.
///
/// ```
/// let mut out = Vec::new();
/// perf_analyze::generate::write_server_session(&mut out, 1_000, 4, 42)?;
/// let analysis = perf_analyze::analyze_reader(&out[..], "gen", &Default::default())?;
/// assert_eq!(analysis.summary.operations, 1_000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_server_session(
    out: &mut impl Write,
    spans: u64,
    connections: u64,
    seed: u64,
) -> io::Result<()> {
    const NET: &str = "server::connection";
    const DB: &str = "server::db";
    const SPANS_PER_REQUEST: u64 = 5;
    let connections = connections.clamp(1, spans.max(1));
    session_line(out, "server")?;
    let mut rng = Rng(seed.max(1));
    let mut w = Writer {
        out,
        next_id: connections,
        written: 0,
        limit: spans,
    };
    // Connection c has id c + 1 and opens at c µs; each request starts where its
    // connection's previous one ended, plus a pause.
    let mut free_at: Vec<u64> = (0..connections).map(|c| 1_000 * (c + 1)).collect();
    let mut c = 0;
    while w.written + connections + SPANS_PER_REQUEST <= spans {
        let (conn, start) = (c + 1, free_at[c as usize] + rng.around(200_000));
        let (request, handle) = (w.id(), w.id());
        let mut t = start + 5_000;
        step(
            &mut w,
            &mut rng,
            &mut t,
            request,
            "parse",
            NET,
            20_000,
            Fields::new(),
        )?;
        let db = w.id();
        let (handle_start, query) = (t, rng.around(300_000));
        w.span(
            db,
            Some(handle),
            None,
            "db_query",
            DB,
            t + 10_000,
            t + 10_000 + query,
            20_000,
            Fields::new(),
        )?;
        t += query + 30_000;
        w.span(
            handle,
            Some(request),
            None,
            "handle",
            NET,
            handle_start,
            t,
            40_000,
            Fields::new(),
        )?;
        t += 2_000;
        step(
            &mut w,
            &mut rng,
            &mut t,
            request,
            "write_response",
            NET,
            30_000,
            Fields::new(),
        )?;
        w.span(
            request,
            Some(conn),
            None,
            "request",
            NET,
            start,
            t,
            20_000,
            Fields::new(),
        )?;
        free_at[c as usize] = t;
        c = (c + 1) % connections;
    }
    let end_ns = free_at.iter().copied().max().unwrap_or(0) + 1_000_000;
    // Startup spans on the last connection make up the rest exactly.
    while w.written + connections < spans {
        let id = w.id();
        let at = 100 + w.written;
        w.span(
            id,
            Some(connections),
            None,
            "accept",
            NET,
            at,
            at + 10,
            10,
            Fields::new(),
        )?;
    }
    for conn in 1..=connections {
        w.span(
            conn,
            None,
            None,
            "connection",
            NET,
            1_000 * conn,
            end_ns - conn,
            1_000_000,
            Fields::new(),
        )?;
    }
    end_line(w.out, end_ns, w.written)
}

/// The worst shapes a session's trees can take, for [`write_worst_case`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// 40 chains, each span the only child of the one before, names distinct per chain.
    Deep,
    /// Roots that all overlap: each starts before the previous one ends.
    Overlapping,
    /// One root whose children all run at once.
    Wide,
    /// One chain in which every span ends after its parent.
    Outliving,
}

/// Writes a session of `spans` span lines in the given worst-case [`Shape`], each span
/// with microseconds of self time, children before their parents.
///
/// ```
/// use perf_analyze::generate::{write_worst_case, Shape};
///
/// let mut out = Vec::new();
/// write_worst_case(&mut out, Shape::Deep, 4_000)?;
/// let analysis = perf_analyze::analyze_reader(&out[..], "deep", &Default::default())?;
/// assert_eq!(analysis.summary.operations, 4_000); // 40 chains 100 deep
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_worst_case(out: &mut impl Write, shape: Shape, spans: u64) -> io::Result<()> {
    const US: u64 = 1_000;
    session_line(out, "worst")?;
    let n = spans.max(1);
    let mut line = |id: u64, parent: Option<u64>, name: String, start: u64, end: u64| {
        let record = Record::Span(SpanRecord {
            id,
            parent,
            follows_from: Vec::new(),
            name: name.into(),
            target: "worst".into(),
            start_ns: start * US,
            end_ns: end * US,
            busy_ns: US,
            idle_ns: None,
            enters: 1,
            thread: "main".into(),
            status: Status::Ok,
            fields: Fields::new(),
        });
        serde_json::to_writer(&mut *out, &record)?;
        out.write_all(b"\n")
    };
    match shape {
        Shape::Deep => {
            let (chains, depth) = (40, (n / 40).max(1));
            for c in 0..chains {
                let (base, at) = (c * depth, c * 10 * depth);
                for d in (0..depth).rev() {
                    let parent = (d > 0).then_some(base + d);
                    line(
                        base + d + 1,
                        parent,
                        format!("c{c}_f{d}"),
                        at + d,
                        at + 2 * depth - d,
                    )?;
                }
            }
        }
        Shape::Overlapping => {
            for i in 1..=n {
                line(i, None, "overlapping".into(), i, 10 * n + i)?;
            }
        }
        Shape::Wide => {
            for i in 2..=n {
                line(i, Some(1), "concurrent".into(), i, 10 * n + i)?;
            }
            line(1, None, "root".into(), 0, 20 * n)?;
        }
        Shape::Outliving => {
            for i in (1..=n).rev() {
                line(
                    i,
                    (i > 1).then(|| i - 1),
                    "outlives".into(),
                    i,
                    10 * n + 2 * i,
                )?;
            }
        }
    }
    end_line(out, 30 * n * US, spans)
}
