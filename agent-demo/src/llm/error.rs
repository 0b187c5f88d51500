//! Why a model call failed, worded for the person at the prompt.

use std::time::Duration;

/// A failed model call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// No connection could be made (after the retries).
    #[error(
        "cannot reach Ollama at {url}: {detail}; start 'ollama serve', or leave OLLAMA_BASE_URL unset to use the simulated model"
    )]
    Unreachable {
        /// The server's base URL.
        url: String,
        /// What the connection attempt said.
        detail: String,
    },
    /// The server does not have the model.
    #[error("Ollama has no model '{model}' ({message}); run 'ollama pull {model}'")]
    UnknownModel {
        /// The model asked for.
        model: String,
        /// Ollama's `error` text.
        message: String,
    },
    /// Any other HTTP error status.
    #[error("Ollama answered {url} with HTTP {status}: {message}")]
    Http {
        /// The endpoint.
        url: String,
        /// The status code.
        status: u16,
        /// Ollama's `error` text, or the body.
        message: String,
    },
    /// The server went quiet for longer than the read timeout.
    #[error("Ollama at {url} sent nothing for {timeout:?} (read timeout)")]
    Timeout {
        /// The endpoint.
        url: String,
        /// The read timeout.
        timeout: Duration,
    },
    /// The server reported an error in its answer (for example mid-stream).
    #[error("Ollama reported an error: {message}")]
    Server {
        /// Ollama's `error` text.
        message: String,
    },
    /// An answer line that is not the JSON Ollama sends.
    #[error("malformed line {line} from {url}: {source} in {text:?}")]
    Malformed {
        /// The endpoint.
        url: String,
        /// 1-based line number in the answer.
        line: usize,
        /// The line, shortened.
        text: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// The answer did not follow the protocol (no `done` line, wrong vector count, ...).
    #[error("unexpected answer from Ollama: {message}")]
    Protocol {
        /// What was wrong.
        message: String,
    },
    /// Another transport error while talking to the server.
    #[error("request to {url} failed: {detail}")]
    Transport {
        /// The endpoint.
        url: String,
        /// The cause, with its chain.
        detail: String,
    },
}
