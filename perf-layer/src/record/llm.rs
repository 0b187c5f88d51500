//! The names of the fields an LLM call's span records: OpenTelemetry's GenAI
//! conventions (`gen_ai.*`) and Ollama's timings (`ollama.*`, in nanoseconds).
//!
//! An instrumented program records them and `perf-analyze` reads them, both
//! through these constants. `#[instrument(fields(...))]` needs the names as
//! literals: a program that writes them there should test that they match.
//!
//! ```
//! use perf_layer::record::llm;
//!
//! let span = tracing::info_span!("llm_generation", gen_ai.request.model = "gemma3");
//! span.record(llm::OUTPUT_TOKENS, 96);
//! assert!(llm::OUTPUT_TOKENS.starts_with(llm::GEN_AI_PREFIX));
//! ```

/// What every GenAI field name starts with.
pub const GEN_AI_PREFIX: &str = "gen_ai.";
/// What every Ollama timing field name starts with.
pub const OLLAMA_PREFIX: &str = "ollama.";

/// The provider: `ollama`, `openai`, ...
pub const SYSTEM: &str = "gen_ai.system";
/// The kind of call: `chat`, `generate`, `embeddings`, ...
pub const OPERATION_NAME: &str = "gen_ai.operation.name";
/// The [`OPERATION_NAME`] of an embedding call.
pub const EMBEDDINGS: &str = "embeddings";
/// The model asked for.
pub const REQUEST_MODEL: &str = "gen_ai.request.model";
/// The model that answered.
pub const RESPONSE_MODEL: &str = "gen_ai.response.model";
/// The server that answered, as OpenTelemetry's `server.address` (a host name or an
/// address): calls to one server and model share its queue.
pub const SERVER_ADDRESS: &str = "server.address";
/// Tokens in the prompt.
pub const INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// Tokens generated.
pub const OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";

/// The whole call as the server timed it.
pub const TOTAL_DURATION_NS: &str = "ollama.total_duration_ns";
/// Loading the model.
pub const LOAD_DURATION_NS: &str = "ollama.load_duration_ns";
/// Evaluating the prompt.
pub const PROMPT_EVAL_DURATION_NS: &str = "ollama.prompt_eval_duration_ns";
/// Generating the output tokens.
pub const EVAL_DURATION_NS: &str = "ollama.eval_duration_ns";
