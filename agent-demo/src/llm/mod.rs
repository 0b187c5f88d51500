//! The language models: a real Ollama client and a simulated model, behind one [`Llm`].
//!
//! Every call is one span carrying the OpenTelemetry GenAI attributes and Ollama's own
//! timings, recorded once known: `llm_generation` for a turn's answer, `llm_digest` and
//! `llm_graph_extraction` for the background work, `llm_embedding` for embeddings.

mod error;
mod metrics;
pub mod ollama;
pub mod sim;

use std::time::Duration;

use perf_layer::record::llm;
use tracing::field::Empty;
use tracing::{instrument, Instrument, Span};

pub use error::LlmError;
pub use metrics::{
    estimate_tokens, Accumulator, Chunk, GenerateRequest, Generation, GenerationMetrics, Purpose,
};
pub use ollama::{OllamaClient, OllamaConfig};
pub use sim::{SimConfig, SimModel};

/// Either model; both go through the same instrumented calls.
#[derive(Debug)]
pub enum Llm {
    /// A real Ollama server.
    Ollama(OllamaClient),
    /// The built-in simulated model.
    Sim(SimModel),
}

/// Embedding vectors with the model that made them.
#[derive(Debug, Clone)]
pub struct Embeddings {
    /// The embedding model.
    pub model: String,
    /// One vector per input, in order.
    pub vectors: Vec<Vec<f32>>,
    /// Input tokens the server counted, if it said.
    pub input_tokens: Option<u64>,
}

impl Llm {
    /// `ollama` or `sim`.
    #[must_use]
    pub fn system(&self) -> &'static str {
        match self {
            Llm::Ollama(_) => "ollama",
            Llm::Sim(_) => "sim",
        }
    }

    /// The server the calls go to, as recorded in [`llm::SERVER_ADDRESS`]: the host (and
    /// port) of Ollama's URL, or `sim` for the simulated model (which, like a default
    /// Ollama server, answers one request at a time).
    #[must_use]
    pub fn server_address(&self) -> &str {
        match self {
            Llm::Ollama(c) => {
                let url = &c.config().base_url;
                let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
                rest.split('/').next().unwrap_or(rest)
            }
            Llm::Sim(_) => "sim",
        }
    }

    /// The generation model's name.
    #[must_use]
    pub fn model(&self) -> &str {
        match self {
            Llm::Ollama(c) => &c.config().model,
            Llm::Sim(s) => s.model(),
        }
    }

    /// The embedding model's name.
    #[must_use]
    pub fn embed_model(&self) -> &str {
        match self {
            Llm::Ollama(c) => &c.config().embed_model,
            Llm::Sim(s) => s.embed_model(),
        }
    }

    /// Generates text, in a span named for the call's purpose (see [`Purpose::span_name`]).
    /// The span records the GenAI usage and Ollama timings when the call ends, and gets
    /// status error if the call fails.
    pub async fn generate(&self, request: &GenerateRequest) -> Result<Generation, LlmError> {
        let call = async {
            let generation = match self {
                Llm::Ollama(c) => c.generate(request).await,
                Llm::Sim(s) => s.generate(request).await,
            };
            match &generation {
                Ok(g) => record_generation(&Span::current(), g),
                // An ERROR event inside the span marks it as failed.
                Err(e) => tracing::error!(error = %e),
            }
            generation
        };
        call.instrument(self.generation_span(request)).await
    }

    /// The span of one generation: a span's name is fixed where it is created, so one
    /// call site per purpose, each with the same fields.
    fn generation_span(&self, request: &GenerateRequest) -> Span {
        macro_rules! generation_span {
            ($name:expr) => {
                tracing::info_span!(
                    $name,
                    purpose = request.purpose.as_str(),
                    prompt_chars = request.prompt.chars().count(),
                    gen_ai.system = self.system(),
                    gen_ai.operation.name = "generate",
                    gen_ai.request.model = self.model(),
                    server.address = self.server_address(),
                    gen_ai.usage.input_tokens = Empty,
                    gen_ai.usage.output_tokens = Empty,
                    ollama.total_duration_ns = Empty,
                    ollama.load_duration_ns = Empty,
                    ollama.prompt_eval_duration_ns = Empty,
                    ollama.eval_duration_ns = Empty,
                    llm.time_to_first_token_ns = Empty,
                    response_chars = Empty,
                )
            };
        }
        match request.purpose {
            Purpose::Chat => generation_span!(Purpose::Chat.span_name()),
            Purpose::Digest => generation_span!(Purpose::Digest.span_name()),
            Purpose::Graph => generation_span!(Purpose::Graph.span_name()),
        }
    }

    /// Embeds texts, one vector each.
    #[instrument(
        name = "llm_embedding",
        skip_all,
        err(Display),
        fields(
            inputs = texts.len(),
            input_chars = texts.iter().map(|t| t.chars().count()).sum::<usize>(),
            gen_ai.system = self.system(),
            gen_ai.operation.name = "embeddings",
            gen_ai.request.model = self.embed_model(),
            server.address = self.server_address(),
            gen_ai.usage.input_tokens = Empty,
            dimensions = Empty,
        )
    )]
    pub async fn embed(&self, texts: &[String]) -> Result<Embeddings, LlmError> {
        let embeddings = match self {
            Llm::Ollama(c) => c.embed(texts).await?,
            Llm::Sim(s) => s.embed(texts).await,
        };
        let span = Span::current();
        if let Some(n) = embeddings.input_tokens {
            span.record(llm::INPUT_TOKENS, n);
        }
        if let Some(first) = embeddings.vectors.first() {
            span.record("dimensions", first.len());
        }
        Ok(embeddings)
    }
}

/// Records a generation's metrics on its span (only the ones the server reported).
fn record_generation(span: &Span, g: &Generation) {
    let m = &g.metrics;
    let fields: [(&str, Option<u64>); 6] = [
        (llm::INPUT_TOKENS, m.prompt_eval_count),
        (llm::OUTPUT_TOKENS, m.eval_count),
        (llm::TOTAL_DURATION_NS, m.total_duration_ns),
        (llm::LOAD_DURATION_NS, m.load_duration_ns),
        (llm::PROMPT_EVAL_DURATION_NS, m.prompt_eval_duration_ns),
        (llm::EVAL_DURATION_NS, m.eval_duration_ns),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            span.record(name, v);
        }
    }
    if let Some(ttft) = g.time_to_first_token {
        span.record("llm.time_to_first_token_ns", duration_ns(ttft));
    }
    span.record("response_chars", g.text.chars().count());
}

/// A duration in whole nanoseconds, saturating.
#[must_use]
pub fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
