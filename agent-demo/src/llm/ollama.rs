//! A client for Ollama's HTTP API: `/api/generate` (streaming NDJSON) and `/api/embed`.

use std::error::Error as _;
use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::{Accumulator, Chunk, Embeddings, GenerateRequest, Generation, LlmError};

/// Where the server is, which models to use, and how patient to be.
#[derive(Debug, Clone)]
pub struct OllamaConfig {
    /// For example `http://localhost:11434`.
    pub base_url: String,
    /// The generation model, e.g. `gemma3`.
    pub model: String,
    /// The embedding model, e.g. `mxbai-embed-large`.
    pub embed_model: String,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// How long the server may stay silent (before the first line, or between lines).
    pub read_timeout: Duration,
    /// Extra attempts after a connection error (never after the request was sent).
    pub retries: u32,
    /// The wait before the first retry; doubled for each next one.
    pub backoff: Duration,
}

impl OllamaConfig {
    /// A configuration with the default timeouts: connect 5 s, read 120 s (a cold model
    /// load sends nothing until it is done), 3 retries from 250 ms.
    #[must_use]
    pub fn new(
        base_url: impl Into<String>,
        model: impl Into<String>,
        embed_model: impl Into<String>,
    ) -> Self {
        OllamaConfig {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            model: model.into(),
            embed_model: embed_model.into(),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(120),
            retries: 3,
            backoff: Duration::from_millis(250),
        }
    }
}

/// An Ollama client (cheap to share behind an `Arc`; it pools connections).
#[derive(Debug)]
pub struct OllamaClient {
    http: reqwest::Client,
    config: OllamaConfig,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

#[derive(Deserialize)]
struct EmbedResponse {
    #[serde(default)]
    embeddings: Vec<Vec<f32>>,
    #[serde(default)]
    prompt_eval_count: Option<u64>,
}

impl OllamaClient {
    /// Builds the HTTP client. Fails only if the TLS-less HTTP stack cannot start.
    pub fn new(config: OllamaConfig) -> Result<Self, LlmError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout);
        if is_loopback(&config.base_url) {
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| LlmError::Transport {
            url: config.base_url.clone(),
            detail: error_chain(&e),
        })?;
        Ok(OllamaClient { http, config })
    }

    /// The configuration in use.
    #[must_use]
    pub fn config(&self) -> &OllamaConfig {
        &self.config
    }

    /// Streams `/api/generate` and collects the answer and its metrics.
    pub async fn generate(&self, request: &GenerateRequest) -> Result<Generation, LlmError> {
        let url = format!("{}/api/generate", self.config.base_url);
        let mut body = json!({
            "model": self.config.model,
            "prompt": request.prompt,
            "stream": true,
        });
        if request.json {
            body["format"] = json!("json");
        }
        let mut acc = Accumulator::new(&self.config.model);
        let response = self.post(&url, &body, &self.config.model).await?;
        let mut stream = response.bytes_stream();
        let mut buf: Vec<u8> = Vec::new();
        let mut line_no = 0;
        while let Some(bytes) = stream.next().await {
            let bytes = bytes.map_err(|e| self.map_error(&url, &e))?;
            buf.extend_from_slice(&bytes);
            while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buf.drain(..=pos).collect();
                line_no += 1;
                feed(&mut acc, &url, line_no, &line)?;
            }
        }
        // A non-streamed answer, or a last line without its newline.
        if !buf.iter().all(u8::is_ascii_whitespace) {
            feed(&mut acc, &url, line_no + 1, &buf)?;
        }
        acc.finish()
    }

    /// Embeds `texts` with one `/api/embed` call.
    pub async fn embed(&self, texts: &[String]) -> Result<Embeddings, LlmError> {
        let url = format!("{}/api/embed", self.config.base_url);
        let body = json!({ "model": self.config.embed_model, "input": texts });
        let response = self.post(&url, &body, &self.config.embed_model).await?;
        let text = response
            .text()
            .await
            .map_err(|e| self.map_error(&url, &e))?;
        let parsed: EmbedResponse =
            serde_json::from_str(&text).map_err(|source| LlmError::Malformed {
                url: url.clone(),
                line: 1,
                text: shorten(&text),
                source,
            })?;
        if parsed.embeddings.len() != texts.len() {
            return Err(LlmError::Protocol {
                message: format!(
                    "{url} returned {} embeddings for {} inputs",
                    parsed.embeddings.len(),
                    texts.len()
                ),
            });
        }
        Ok(Embeddings {
            model: self.config.embed_model.clone(),
            vectors: parsed.embeddings,
            input_tokens: parsed.prompt_eval_count,
        })
    }

    /// Sends a POST, retrying connection errors with backoff, and turns error statuses
    /// into errors carrying Ollama's `error` text.
    async fn post(
        &self,
        url: &str,
        body: &serde_json::Value,
        model: &str,
    ) -> Result<reqwest::Response, LlmError> {
        let mut attempt = 0;
        let response = loop {
            match self.http.post(url).json(body).send().await {
                Ok(r) => break r,
                Err(e) if e.is_connect() && attempt < self.config.retries => {
                    let wait = self.config.backoff.saturating_mul(1 << attempt.min(16));
                    tracing::warn!(attempt = attempt + 1, wait_ms = wait.as_millis() as u64, error = %error_chain(&e), "connection to Ollama failed, retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(self.map_error(url, &e)),
            }
        };
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<ErrorBody>(&text)
            .map(|b| b.error)
            .unwrap_or_else(|_| shorten(text.trim()));
        if status == reqwest::StatusCode::NOT_FOUND
            && message.contains("model")
            && message.contains("not found")
        {
            return Err(LlmError::UnknownModel {
                model: model.to_string(),
                message,
            });
        }
        Err(LlmError::Http {
            url: url.to_string(),
            status: status.as_u16(),
            message,
        })
    }

    fn map_error(&self, url: &str, e: &reqwest::Error) -> LlmError {
        if e.is_connect() {
            LlmError::Unreachable {
                url: self.config.base_url.clone(),
                detail: error_chain(e),
            }
        } else if e.is_timeout() {
            LlmError::Timeout {
                url: url.to_string(),
                timeout: self.config.read_timeout,
            }
        } else {
            LlmError::Transport {
                url: url.to_string(),
                detail: error_chain(e),
            }
        }
    }
}

/// Parses one answer line into the accumulator; blank lines are skipped.
fn feed(acc: &mut Accumulator, url: &str, line_no: usize, line: &[u8]) -> Result<(), LlmError> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    if text.is_empty() {
        return Ok(());
    }
    let chunk: Chunk = serde_json::from_str(text).map_err(|source| LlmError::Malformed {
        url: url.to_string(),
        line: line_no,
        text: shorten(text),
        source,
    })?;
    acc.push(chunk)
}

/// The innermost causes of an error, which say what really happened
/// (`tcp connect error: Connection refused (os error 111)`).
fn error_chain(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

fn shorten(text: &str) -> String {
    const MAX: usize = 120;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(MAX).collect();
        s.push('…');
        s
    }
}

fn is_loopback(url: &str) -> bool {
    let rest = url.split("://").nth(1).unwrap_or(url);
    ["localhost", "127.", "[::1]"]
        .iter()
        .any(|p| rest.starts_with(p))
}
