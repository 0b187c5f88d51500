//! What both models share: the shape of Ollama's `/api/generate` lines, and the
//! accumulator that turns a stream of them into a [`Generation`] with its metrics.
//!
//! The Ollama client parses lines from the wire into [`Chunk`]s; the simulated model
//! produces the same [`Chunk`]s. Both feed one [`Accumulator`], so time to first token,
//! the `done` metrics and the mid-stream `error` line are handled in one place.
//!
//! ```
//! use agent_demo::llm::{Accumulator, Chunk};
//!
//! let mut acc = Accumulator::new("gemma3");
//! for line in [
//!     r#"{"response":"Hello","done":false}"#,
//!     r#"{"response":" there","done":true,"eval_count":2,"eval_duration":40000000}"#,
//! ] {
//!     acc.push(serde_json::from_str::<Chunk>(line)?)?;
//! }
//! let generation = acc.finish()?;
//! assert_eq!(generation.text, "Hello there");
//! assert_eq!(generation.metrics.eval_count, Some(2));
//! assert_eq!(generation.metrics.prompt_eval_count, None); // Ollama omits zeros
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::LlmError;

/// One line of Ollama's `/api/generate` answer (streamed, or the whole non-streamed body).
///
/// Every metric is optional: Ollama leaves out fields whose value is zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// The next piece of text.
    #[serde(default)]
    pub response: String,
    /// True on the last line, which carries the metrics.
    #[serde(default)]
    pub done: bool,
    /// Why generation stopped (`stop`, `length`, ...), on the last line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_reason: Option<String>,
    /// An error reported by the server, possibly mid-stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Server time for the whole request, in ns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_duration: Option<u64>,
    /// Time spent loading the model, in ns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_duration: Option<u64>,
    /// Prompt tokens evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_eval_count: Option<u64>,
    /// Time spent evaluating the prompt, in ns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_eval_duration: Option<u64>,
    /// Tokens generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_count: Option<u64>,
    /// Time spent generating, in ns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_duration: Option<u64>,
}

/// The server-side metrics of one generation, from the `done` line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerationMetrics {
    /// Server time for the whole request, in ns.
    pub total_duration_ns: Option<u64>,
    /// Model load time, in ns.
    pub load_duration_ns: Option<u64>,
    /// Prompt tokens evaluated.
    pub prompt_eval_count: Option<u64>,
    /// Prompt evaluation time, in ns.
    pub prompt_eval_duration_ns: Option<u64>,
    /// Tokens generated.
    pub eval_count: Option<u64>,
    /// Generation time, in ns.
    pub eval_duration_ns: Option<u64>,
    /// Why generation stopped.
    pub done_reason: Option<String>,
}

impl GenerationMetrics {
    /// Generated tokens per second of generation time, when both are known.
    #[must_use]
    pub fn tokens_per_second(&self) -> Option<f64> {
        match (self.eval_count, self.eval_duration_ns) {
            (Some(n), Some(ns)) if ns > 0 => Some(n as f64 * 1e9 / ns as f64),
            _ => None,
        }
    }
}

/// A finished generation: its text, server metrics and client-side timings.
#[derive(Debug, Clone)]
pub struct Generation {
    /// The model that answered.
    pub model: String,
    /// The whole answer.
    pub text: String,
    /// Metrics from the `done` line.
    pub metrics: GenerationMetrics,
    /// From the request being sent to the first non-empty piece of text.
    pub time_to_first_token: Option<Duration>,
    /// The client's wall time for the call.
    pub wall: Duration,
}

/// Collects [`Chunk`]s into a [`Generation`], whichever model produced them.
#[derive(Debug)]
pub struct Accumulator {
    model: String,
    started: Instant,
    first_token: Option<Duration>,
    text: String,
    metrics: Option<GenerationMetrics>,
}

impl Accumulator {
    /// Starts timing a call to `model` now.
    #[must_use]
    pub fn new(model: impl Into<String>) -> Self {
        Accumulator {
            model: model.into(),
            started: Instant::now(),
            first_token: None,
            text: String::new(),
            metrics: None,
        }
    }

    /// Takes the next line. An `error` line ends the call with [`LlmError::Server`].
    pub fn push(&mut self, chunk: Chunk) -> Result<(), LlmError> {
        if let Some(message) = chunk.error {
            return Err(LlmError::Server { message });
        }
        if self.metrics.is_some() {
            return Err(LlmError::Protocol {
                message: "a line arrived after the done line".into(),
            });
        }
        if !chunk.response.is_empty() {
            if self.first_token.is_none() {
                self.first_token = Some(self.started.elapsed());
            }
            self.text.push_str(&chunk.response);
        }
        if chunk.done {
            self.metrics = Some(GenerationMetrics {
                total_duration_ns: chunk.total_duration,
                load_duration_ns: chunk.load_duration,
                prompt_eval_count: chunk.prompt_eval_count,
                prompt_eval_duration_ns: chunk.prompt_eval_duration,
                eval_count: chunk.eval_count,
                eval_duration_ns: chunk.eval_duration,
                done_reason: chunk.done_reason,
            });
        }
        Ok(())
    }

    /// True once the `done` line has been seen.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.metrics.is_some()
    }

    /// The generation, or [`LlmError::Protocol`] if the stream ended before its `done` line.
    pub fn finish(self) -> Result<Generation, LlmError> {
        let metrics = self.metrics.ok_or_else(|| LlmError::Protocol {
            message: "the stream ended before its done line".into(),
        })?;
        Ok(Generation {
            model: self.model,
            text: self.text,
            metrics,
            time_to_first_token: self.first_token,
            wall: self.started.elapsed(),
        })
    }
}

/// What kind of work a generation does: it names the generation's span, and the
/// simulated model answers by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Answer the user.
    Chat,
    /// Summarise and rate a conversation entry.
    Digest,
    /// Extract entities and relationships as JSON.
    Graph,
}

impl Purpose {
    /// The name recorded in the span's `purpose` field.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Chat => "chat",
            Purpose::Digest => "digest",
            Purpose::Graph => "graph",
        }
    }

    /// The name of the generation's span: only a turn's answer is `llm_generation`.
    #[must_use]
    pub const fn span_name(self) -> &'static str {
        match self {
            Purpose::Chat => "llm_generation",
            Purpose::Digest => "llm_digest",
            Purpose::Graph => "llm_graph_extraction",
        }
    }
}

/// A request to generate text.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    /// The whole prompt.
    pub prompt: String,
    /// Ask for a JSON answer (Ollama's `format: "json"`).
    pub json: bool,
    /// What the generation is for.
    pub purpose: Purpose,
    /// For structured work, the answer the simulated model gives (computed by a local
    /// heuristic); the simulated model still charges the latency of producing it.
    /// Ollama ignores it.
    pub simulated_answer: Option<String>,
}

impl GenerateRequest {
    /// A chat request.
    #[must_use]
    pub fn chat(prompt: impl Into<String>) -> Self {
        GenerateRequest {
            prompt: prompt.into(),
            json: false,
            purpose: Purpose::Chat,
            simulated_answer: None,
        }
    }
}

/// A rough token count for text the models did not count (about four characters a token).
#[must_use]
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_line_ends_the_call() {
        let mut acc = Accumulator::new("m");
        acc.push(Chunk {
            response: "partial".into(),
            ..Chunk::default()
        })
        .unwrap();
        let err = acc
            .push(serde_json::from_str(r#"{"error":"out of memory"}"#).unwrap())
            .unwrap_err();
        assert!(matches!(err, LlmError::Server { ref message } if message == "out of memory"));
    }

    #[test]
    fn missing_done_line_is_an_error() {
        let mut acc = Accumulator::new("m");
        acc.push(Chunk {
            response: "x".into(),
            ..Chunk::default()
        })
        .unwrap();
        assert!(matches!(acc.finish(), Err(LlmError::Protocol { .. })));
    }

    #[test]
    fn first_token_ignores_empty_pieces_and_metrics_come_from_done() {
        let mut acc = Accumulator::new("m");
        acc.push(Chunk::default()).unwrap();
        assert!(acc.first_token.is_none());
        acc.push(
            serde_json::from_str(
                r#"{"response":"a","done":true,"total_duration":10,"prompt_eval_count":3,"eval_count":1,"eval_duration":1000000000}"#,
            )
            .unwrap(),
        )
        .unwrap();
        let g = acc.finish().unwrap();
        assert!(g.time_to_first_token.is_some());
        assert_eq!(g.metrics.total_duration_ns, Some(10));
        assert_eq!(g.metrics.load_duration_ns, None);
        assert_eq!(g.metrics.tokens_per_second(), Some(1.0));
    }

    #[test]
    fn token_estimate_rounds_up() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcde"), 2);
    }
}
