//! A simulated model: deterministic answers, Ollama-shaped metrics, realistic latency.
//!
//! Like an Ollama server it serves one request at a time, loads its model on the first
//! call, evaluates the prompt at one rate and generates tokens at another. Every delay is
//! multiplied by [`SimConfig::latency_scale`] (0 = instant, for tests). Its answers go
//! through the same [`Accumulator`] as Ollama's lines, so the spans carry the same fields.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::{duration_ns, LlmError};
use super::{estimate_tokens, Accumulator, Chunk, Embeddings, GenerateRequest, Generation};
use crate::memory::embeddings::hash_embedding;

/// The latency model of the simulated server.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Multiplies every delay: 1 is the modelled speed, 0 makes every call instant.
    pub latency_scale: f64,
    /// Model load time on the first call.
    pub load: Duration,
    /// Prompt evaluation speed.
    pub prompt_tokens_per_s: f64,
    /// Generation speed.
    pub output_tokens_per_s: f64,
    /// Fixed cost of one embedding call.
    pub embed_base: Duration,
}

impl SimConfig {
    /// The modelled speed (a small model on a fast GPU: 4,000 prompt tokens/s,
    /// 250 generated tokens/s, 0.6 s model load) scaled by `latency_scale`.
    #[must_use]
    pub fn new(latency_scale: f64) -> Self {
        SimConfig {
            latency_scale: latency_scale.max(0.0),
            load: Duration::from_millis(600),
            prompt_tokens_per_s: 4000.0,
            output_tokens_per_s: 250.0,
            embed_base: Duration::from_millis(15),
        }
    }
}

/// The simulated model. See the [module docs](self).
#[derive(Debug)]
pub struct SimModel {
    config: SimConfig,
    loaded: AtomicBool,
    server: Semaphore,
}

const OPENERS: [&str; 6] = [
    "Good question.",
    "Let me think about that.",
    "Here is what I know.",
    "Interesting.",
    "I can help with that.",
    "Right.",
];

impl SimModel {
    /// A simulated server with the given latency model.
    #[must_use]
    pub fn new(config: SimConfig) -> Self {
        SimModel {
            config,
            loaded: AtomicBool::new(false),
            server: Semaphore::new(1),
        }
    }

    /// The name reported as `gen_ai.request.model`.
    #[must_use]
    pub fn model(&self) -> &str {
        "simulated"
    }

    /// The embedding model's name.
    #[must_use]
    pub fn embed_model(&self) -> &str {
        "simulated-hash-256"
    }

    async fn wait(&self, nominal: Duration) {
        let d = nominal.mul_f64(self.config.latency_scale);
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }

    async fn wait_until(&self, start: Instant, nominal: Duration) {
        let d = nominal.mul_f64(self.config.latency_scale);
        if !d.is_zero() {
            tokio::time::sleep_until((start + d).into()).await;
        }
    }

    /// Generates the deterministic answer, token by token.
    pub async fn generate(&self, request: &GenerateRequest) -> Result<Generation, LlmError> {
        let mut acc = Accumulator::new(self.model());
        // One request at a time, like a default Ollama server: queueing shows up as
        // client wall time outside the server's total_duration.
        let _permit = self.server.acquire().await.map_err(|_| LlmError::Server {
            message: "the simulated server is shut down".into(),
        })?;
        let server_start = Instant::now();
        let load = if self.loaded.swap(true, Ordering::SeqCst) {
            None
        } else {
            let t = Instant::now();
            self.wait(self.config.load).await;
            Some(t.elapsed())
        };
        let prompt_tokens = estimate_tokens(&request.prompt);
        let t = Instant::now();
        self.wait(Duration::from_secs_f64(
            prompt_tokens as f64 / self.config.prompt_tokens_per_s,
        ))
        .await;
        let prompt_eval = t.elapsed();

        let answer = match &request.simulated_answer {
            Some(a) => a.clone(),
            None => compose_answer(&request.prompt),
        };
        let pieces = split_tokens(&answer);
        let per_token = Duration::from_secs_f64(1.0 / self.config.output_tokens_per_s);
        let t = Instant::now();
        let mut tokens = 0;
        for piece in &pieces {
            // Sleep to a deadline, so timer granularity does not add up over many tokens.
            tokens += estimate_tokens(piece).max(1);
            self.wait_until(t, per_token.mul_f64(tokens as f64)).await;
            acc.push(Chunk {
                response: (*piece).to_string(),
                ..Chunk::default()
            })?;
        }
        let eval = t.elapsed();
        acc.push(Chunk {
            done: true,
            done_reason: Some("stop".into()),
            total_duration: nonzero(server_start.elapsed()),
            load_duration: load.and_then(nonzero),
            prompt_eval_count: Some(prompt_tokens).filter(|&n| n > 0),
            prompt_eval_duration: nonzero(prompt_eval),
            eval_count: Some(estimate_tokens(&answer)).filter(|&n| n > 0),
            eval_duration: nonzero(eval),
            ..Chunk::default()
        })?;
        acc.finish()
    }

    /// Embeds locally by feature hashing, after a short simulated delay.
    pub async fn embed(&self, texts: &[String]) -> Embeddings {
        let chars: usize = texts.iter().map(|t| t.len()).sum();
        self.wait(self.config.embed_base + Duration::from_micros(chars as u64 * 20))
            .await;
        Embeddings {
            model: self.embed_model().to_string(),
            vectors: texts.iter().map(|t| hash_embedding(t)).collect(),
            input_tokens: Some(texts.iter().map(|t| estimate_tokens(t)).sum()),
        }
    }
}

fn nonzero(d: Duration) -> Option<u64> {
    Some(duration_ns(d)).filter(|&n| n > 0)
}

/// Splits text into word-sized tokens, each keeping its leading whitespace.
fn split_tokens(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() && in_word {
            pieces.push(&text[start..i]);
            start = i;
            in_word = false;
        } else if !c.is_whitespace() {
            in_word = true;
        }
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

/// Words too common to tell what a message is about.
const STOPWORDS: [&str; 24] = [
    "what", "about", "does", "know", "with", "from", "that", "this", "have", "there", "their",
    "where", "which", "would", "could", "should", "tell", "into", "your", "them", "they", "were",
    "will", "when",
];

/// A deterministic answer: an opener chosen by the prompt's hash, then the (at most two)
/// sentences of the prompt's context that share the most words with the user's message.
fn compose_answer(prompt: &str) -> String {
    let message = prompt
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("User:"))
        .unwrap_or_else(|| prompt.lines().last().unwrap_or(""))
        .trim();
    let mut keywords: Vec<String> = message
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 3)
        .map(str::to_lowercase)
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .collect();
    keywords.dedup();
    // The first paragraph is the system prompt: not a fact.
    let body = prompt.split_once("\n\n").map_or(prompt, |(_, rest)| rest);
    let mut scored: Vec<(usize, &str)> = body
        .lines()
        .map(|l| l.trim().trim_start_matches("- ").trim())
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with("User:")
                && !l.starts_with("Agent:")
                && !l.ends_with(':')
        })
        .flat_map(|l| l.split_inclusive(". "))
        // "Name (kind): fact" lines of the graph context: keep the fact.
        .map(|l| l.split_once("): ").map_or(l, |(_, fact)| fact).trim())
        .filter(|l| !l.starts_with("Relations:"))
        .map(|sentence| {
            let lower = sentence.to_lowercase();
            let hits = keywords
                .iter()
                .filter(|k| lower.contains(k.as_str()))
                .count();
            (hits, sentence)
        })
        .filter(|(hits, _)| *hits > 0)
        .collect();
    // Best first; the earlier sentence wins a tie (stable sort).
    scored.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut facts: Vec<&str> = Vec::new();
    for (_, sentence) in scored {
        if facts.len() == 2 {
            break;
        }
        if !facts.contains(&sentence) {
            facts.push(sentence);
        }
    }
    let opener = OPENERS[(fnv1a(prompt.as_bytes()) % OPENERS.len() as u64) as usize];
    let mut answer = opener.to_string();
    if facts.is_empty() {
        answer.push_str(&format!(
            " I have nothing in memory about \"{}\" yet, so tell me more and I will remember it.",
            shorten(message, 80)
        ));
    } else {
        for fact in facts {
            answer.push(' ');
            answer.push_str(&shorten(fact, 140));
            if !answer.ends_with(['.', '!', '?', '…']) {
                answer.push('.');
            }
        }
        answer.push_str(" What do you do next?");
    }
    answer
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        text.chars().take(max).collect::<String>() + "…"
    }
}

/// FNV-1a, a stable hash (unlike `std`'s, it does not change between runs or versions).
#[must_use]
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_are_deterministic_and_carry_metrics() {
        let sim = SimModel::new(SimConfig::new(0.0));
        let prompt = "You are a test.\n\nKnown facts:\n- Elena is the mayor of Haven.\nUser: Who is the mayor of Haven?";
        let a = sim.generate(&GenerateRequest::chat(prompt)).await.unwrap();
        let b = sim.generate(&GenerateRequest::chat(prompt)).await.unwrap();
        assert_eq!(a.text, b.text);
        assert!(a.text.contains("Elena is the mayor of Haven"), "{}", a.text);
        assert_eq!(a.metrics.prompt_eval_count, Some(estimate_tokens(prompt)));
        assert_eq!(a.metrics.eval_count, Some(estimate_tokens(&a.text)));
        assert_eq!(a.metrics.done_reason.as_deref(), Some("stop"));
    }

    #[tokio::test]
    async fn simulated_answer_is_returned_verbatim() {
        let sim = SimModel::new(SimConfig::new(0.0));
        let mut req = GenerateRequest::chat("extract");
        req.simulated_answer = Some(r#"{"entities": []}"#.into());
        assert_eq!(
            sim.generate(&req).await.unwrap().text,
            r#"{"entities": []}"#
        );
    }

    #[tokio::test]
    async fn latency_model_loads_once() {
        let mut config = SimConfig::new(1.0);
        config.load = Duration::from_millis(30);
        config.output_tokens_per_s = 10_000.0;
        let sim = SimModel::new(config);
        let first = sim
            .generate(&GenerateRequest::chat("User: hi"))
            .await
            .unwrap();
        let second = sim
            .generate(&GenerateRequest::chat("User: hi"))
            .await
            .unwrap();
        assert!(first.metrics.load_duration_ns.unwrap() >= 30_000_000);
        assert_eq!(second.metrics.load_duration_ns, None);
    }

    #[test]
    fn tokens_keep_their_spaces() {
        assert_eq!(split_tokens("a bc  d"), vec!["a", " bc", "  d"]);
        assert_eq!(split_tokens("a bc  d").concat(), "a bc  d");
    }
}
