//! LLM calls: the client's wall time against the server's own timings.
//!
//! Read from OpenTelemetry GenAI fields (`gen_ai.request.model`,
//! `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`) and Ollama's timings
//! (`ollama.total_duration_ns`, `ollama.load_duration_ns`,
//! `ollama.prompt_eval_duration_ns`, `ollama.eval_duration_ns`); Ollama's own key
//! names (`total_duration`, `eval_count`, ...) are read too, as older files have them.
//!
//! ```
//! use perf_analyze::{analysis::llm::LlmCall, Span};
//!
//! let mut span = Span::example("ollama_generate", 0, 2_500_000_000);
//! span.raw_fields = Some(r#"{"gen_ai.request.model":"gemma3","gen_ai.usage.output_tokens":100,
//!     "ollama.total_duration_ns":2300000000,"ollama.eval_duration_ns":2000000000}"#.into());
//! let call = LlmCall::from_span(&span).unwrap();
//! assert_eq!(call.model.as_deref(), Some("gemma3"));
//! assert_eq!(call.overhead_ns, Some(200_000_000)); // wall minus the server's total
//! assert_eq!(call.tokens_per_s, Some(50.0));
//! ```

use perf_layer::record::llm::{
    EMBEDDINGS, EVAL_DURATION_NS, GEN_AI_PREFIX, INPUT_TOKENS, LOAD_DURATION_NS, OLLAMA_PREFIX,
    OPERATION_NAME, OUTPUT_TOKENS, PROMPT_EVAL_DURATION_NS, REQUEST_MODEL, RESPONSE_MODEL,
    SERVER_ADDRESS, TOTAL_DURATION_NS,
};
use serde::{Deserialize, Serialize};

use crate::input::pick::{pick, Picked};
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;

use crate::input::{Span, Tree};

/// One LLM call, as promised in the summary's `llm_calls`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmCall {
    /// The span's name.
    pub name: String,
    /// The model requested.
    pub model: Option<String>,
    /// The server that answered (`server.address`), if recorded: calls to one server
    /// share its queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The client's wall time.
    pub wall_ns: u64,
    /// Time the server spent loading the model.
    pub load_ns: Option<u64>,
    /// Time the server spent reading the prompt.
    pub prompt_eval_ns: Option<u64>,
    /// Time the server spent generating.
    pub eval_ns: Option<u64>,
    /// Prompt tokens.
    pub input_tokens: Option<u64>,
    /// Generated tokens.
    pub output_tokens: Option<u64>,
    /// Generated tokens per second of generation (of wall time if generation time is unknown).
    pub tokens_per_s: Option<f64>,
    /// Client wall time minus the server's total: network and queueing.
    pub overhead_ns: Option<u64>,
    /// When the call started, on the session timeline.
    #[serde(default)]
    pub start_ns: u64,
    /// The name of the span that made the call (its parent), if that is in the file:
    /// it tells foreground calls (e.g. `memory_query_total`) from background ones.
    #[serde(default)]
    pub caller: Option<String>,
}

/// Every key an LLM call is read from.
const KEYS: &[&str] = &[
    OPERATION_NAME,
    REQUEST_MODEL,
    RESPONSE_MODEL,
    "model",
    SERVER_ADDRESS,
    TOTAL_DURATION_NS,
    "total_duration",
    LOAD_DURATION_NS,
    "load_duration",
    PROMPT_EVAL_DURATION_NS,
    "prompt_eval_duration",
    EVAL_DURATION_NS,
    "eval_duration",
    INPUT_TOKENS,
    "prompt_eval_count",
    OUTPUT_TOKENS,
    "eval_count",
];

fn number(fields: &Picked<'_, '_>, keys: &[&str]) -> Option<u64> {
    keys.iter().find_map(|k| fields.get(k)?.as_u64())
}

fn text(fields: &Picked<'_, '_>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| fields.get(k)?.as_str().map(str::to_owned))
}

/// True if a span's fields use the GenAI or Ollama names (checked before parsing):
/// they then say what kind of work it is.
pub(crate) fn has_llm_fields(span: &Span) -> bool {
    span.fields_mention(GEN_AI_PREFIX) || span.fields_mention(OLLAMA_PREFIX)
}

/// True if the span's raw fields may describe an LLM call (cheap, before parsing).
#[must_use]
pub fn may_be_llm(span: &Span) -> bool {
    has_llm_fields(span)
        || span.fields_mention("eval_count")
        || span.fields_mention("total_duration")
}

impl LlmCall {
    /// Reads an LLM call from a span's fields; `None` if it has no model, timing or token count.
    #[must_use]
    pub fn from_span(span: &Span) -> Option<LlmCall> {
        if !may_be_llm(span) {
            return None;
        }
        let f = pick(span.raw_fields.as_deref()?, KEYS);
        let op = text(&f, &[OPERATION_NAME]);
        if op.as_deref() == Some(EMBEDDINGS) {
            return None;
        }
        let model = text(&f, &[REQUEST_MODEL, RESPONSE_MODEL, "model"]);
        let server = text(&f, &[SERVER_ADDRESS]);
        let total = number(&f, &[TOTAL_DURATION_NS, "total_duration"]);
        let load_ns = number(&f, &[LOAD_DURATION_NS, "load_duration"]);
        let prompt_eval_ns = number(&f, &[PROMPT_EVAL_DURATION_NS, "prompt_eval_duration"]);
        let eval_ns = number(&f, &[EVAL_DURATION_NS, "eval_duration"]);
        let input_tokens = number(&f, &[INPUT_TOKENS, "prompt_eval_count"]);
        let output_tokens = number(&f, &[OUTPUT_TOKENS, "eval_count"]);
        if model.is_none() && total.is_none() && eval_ns.is_none() && output_tokens.is_none() {
            return None;
        }
        let wall_ns = span.duration_ns();
        let tokens_per_s = output_tokens.and_then(|out| {
            let ns = eval_ns
                .filter(|&n| n > 0)
                .or((wall_ns > 0).then_some(wall_ns))?;
            Some(out as f64 * 1e9 / ns as f64)
        });
        Some(LlmCall {
            name: span.name.to_string(),
            model,
            server,
            wall_ns,
            load_ns,
            prompt_eval_ns,
            eval_ns,
            input_tokens,
            output_tokens,
            tokens_per_s,
            overhead_ns: total.map(|t| wall_ns.saturating_sub(t)),
            start_ns: span.start_ns,
            caller: None,
        })
    }
}

/// Where a kept call sorts among the calls: by segment, start, line and id (then
/// arrival, for spans alike in all four).
type CallKey = (u32, u64, u64, u64, u64);

/// A kept call, and the parent it waits for if it came in a piece (its caller, filled
/// in when that parent comes).
#[derive(Debug, Clone)]
struct Kept {
    call: LlmCall,
    waits: Option<(u32, u64)>,
}

/// All LLM calls of a session: the [`LlmCalls::KEEP`] that started last in full (by
/// segment, then start), totals over all. Which calls are kept, and their callers, do
/// not depend on the order calls arrive in: a call that comes in a piece
/// ([`Tree::waits_for`]) before its parent has its caller filled in when the parent's
/// node comes ([`Tree::awaited_at`]); if the parent never comes it has none, as a
/// fragment's root call has.
#[derive(Debug, Clone, Default)]
pub struct LlmCalls {
    latest: BTreeMap<CallKey, Kept>,
    /// Kept calls waiting for their caller: (segment, open parent id) -> their keys.
    awaiting: HashMap<(u32, u64), Vec<CallKey>>,
    /// The latest call added that was not kept (started before every kept one).
    passed: Option<LlmCall>,
    /// Calls seen.
    pub count: u64,
    /// Their summed wall time.
    pub wall_ns: u64,
    /// Their summed model load time.
    pub load_ns: u64,
    /// Their summed overhead.
    pub overhead_ns: u64,
}

impl LlmCalls {
    /// How many calls are kept in full.
    pub const KEEP: usize = 1000;

    /// Counts a span if it is an LLM call, and returns the call; `caller` is its parent
    /// span, if known.
    pub fn add(&mut self, span: &Span, caller: Option<&Span>) -> Option<&LlmCall> {
        self.add_call(span, caller, None)
    }

    /// Counts the LLM calls of a tree, complete or a piece, and pushes each on `calls`
    /// with its node index; fills in the caller of kept calls that came in pieces
    /// before their parent, if it is in this tree.
    pub fn add_tree(&mut self, tree: &Tree, calls: &mut Vec<(usize, LlmCall)>) {
        for (index, node) in tree.nodes().iter().enumerate() {
            let span = &node.span;
            if let Some(key) = tree.awaited_at(index) {
                self.parent_came(key, &span.name);
            }
            if may_be_llm(span) {
                let caller = node.parent.map(|p| tree.span(p as usize));
                let waits = if index == 0 { tree.waits_for() } else { None };
                if let Some(call) = self.add_call(span, caller, waits) {
                    calls.push((index, call.clone()));
                }
            }
        }
    }

    fn add_call(
        &mut self,
        span: &Span,
        caller: Option<&Span>,
        waits: Option<(u32, u64)>,
    ) -> Option<&LlmCall> {
        let mut call = LlmCall::from_span(span)?;
        call.caller = caller.map(|c| c.name.to_string());
        self.count += 1;
        self.wall_ns += call.wall_ns;
        self.load_ns += call.load_ns.unwrap_or(0);
        self.overhead_ns += call.overhead_ns.unwrap_or(0);
        let key = (span.segment, span.start_ns, span.line, span.id, self.count);
        if self.latest.len() >= Self::KEEP {
            let first = *self.latest.keys().next()?;
            if key < first {
                return Some(self.passed.insert(call));
            }
            if let Some(Kept {
                waits: Some(parent),
                ..
            }) = self.latest.remove(&first)
            {
                if let Some(keys) = self.awaiting.get_mut(&parent) {
                    keys.retain(|k| *k != first);
                    if keys.is_empty() {
                        self.awaiting.remove(&parent);
                    }
                }
            }
        }
        if let Some(parent) = waits {
            self.awaiting.entry(parent).or_default().push(key);
        }
        let kept = self.latest.entry(key).or_insert(Kept { call, waits });
        Some(&kept.call)
    }

    /// The parent awaited under `key` came, named `name`: it is its kept calls' caller.
    fn parent_came(&mut self, key: (u32, u64), name: &str) {
        for call in self.awaiting.remove(&key).into_iter().flatten() {
            if let Some(kept) = self.latest.get_mut(&call) {
                kept.call.caller = Some(name.to_owned());
                kept.waits = None;
            }
        }
    }

    /// Ends a segment: calls whose parent never came in it keep no caller.
    pub fn finish_segment(&mut self) {
        self.awaiting.clear();
    }

    /// The kept calls, sorted by start.
    #[must_use]
    pub fn calls(&self) -> Vec<LlmCall> {
        let mut calls: Vec<LlmCall> = self.latest.values().map(|k| k.call.clone()).collect();
        calls.sort_by_key(|c| c.start_ns);
        calls
    }
}
