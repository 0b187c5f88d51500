//! The memory manager: answers a message with the help of everything remembered, then
//! digests, embeds and graphs the new entries in the background.
//!
//! One turn is the span `memory_query_total` with the children `add_user_entry`,
//! `format_memory_components`, `rag_enhancement`, `graph_context`, `format_prompt`,
//! `llm_generation`, `add_agent_entry` and `start_async_operations`. Each new entry is
//! then processed by a spawned task whose root span, `async_process_entry_user` or
//! `async_process_entry_agent`, has no parent and follows from the turn.
//!
//! Files in the session directory: [`HISTORY_FILE`], [`DIGESTS_FILE`],
//! [`EMBEDDINGS_FILE`], [`GRAPH_FILE`]. They are loaded again when the session resumes.

pub mod digest;
pub mod embeddings;
pub mod graph;
pub mod history;
pub mod rag;
mod store;
mod tasks;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tracing::field::Empty;
use tracing::{instrument, span::Id, Instrument, Span};

use crate::config::DomainConfig;
use crate::llm::{GenerateRequest, Generation, Llm, LlmError, Purpose};
use digest::Digest;
use embeddings::{EmbeddedText, EmbeddingStore, Source};
use graph::{Extraction, Graph, MergeStats};
use history::{Entry, History, Role};
pub use tasks::BackgroundTasks;

/// The conversation history file.
pub const HISTORY_FILE: &str = "history.jsonl";
/// The digests file.
pub const DIGESTS_FILE: &str = "digests.jsonl";
/// The embeddings file.
pub const EMBEDDINGS_FILE: &str = "embeddings.jsonl";
/// The graph file.
pub const GRAPH_FILE: &str = "graph.json";

/// Entries of recent conversation placed in the prompt.
const RECENT_ENTRIES: usize = 6;
/// Remembered texts retrieved per message.
const RAG_TOP_K: usize = 3;
/// Entities described per message.
const GRAPH_ENTITIES: usize = 5;

/// Why a memory operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryError {
    /// A memory file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A memory file holds something else than expected.
    #[error("{path}:{line}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What was wrong.
        source: serde_json::Error,
    },
    /// The model call failed.
    #[error(transparent)]
    Llm(#[from] LlmError),
}

impl MemoryError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        MemoryError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The answer to one message.
#[derive(Debug, Clone)]
pub struct Turn {
    /// The agent's answer.
    pub answer: String,
    /// The generation with its metrics.
    pub generation: Generation,
    /// Things that went wrong without stopping the turn (e.g. retrieval failed).
    pub notes: Vec<String>,
}

/// How much is remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryStats {
    /// History entries.
    pub entries: usize,
    /// Digested entries.
    pub digests: usize,
    /// Embedded texts.
    pub embedded: usize,
    /// Graph entities.
    pub entities: usize,
    /// Graph relationships.
    pub relationships: usize,
}

/// The memory manager. Cloning shares it.
#[derive(Debug, Clone)]
pub struct MemoryManager {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    domain: DomainConfig,
    llm: Arc<Llm>,
    dir: PathBuf,
    history: Mutex<History>,
    digests: Mutex<Vec<Digest>>,
    embeddings: Mutex<EmbeddingStore>,
    graph: Mutex<Graph>,
    tasks: BackgroundTasks,
    notes: Mutex<Vec<String>>,
}

/// Locks a mutex, recovering the data if a task panicked while holding it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MemoryManager {
    /// Opens (or resumes) the memory in `dir`; a new memory starts from the domain's
    /// static memory.
    #[instrument(name = "load_memory", skip_all, err(Display), fields(dir = %dir.display(), entries = Empty))]
    pub async fn open(
        dir: &Path,
        domain: DomainConfig,
        llm: Arc<Llm>,
    ) -> Result<Self, MemoryError> {
        std::fs::create_dir_all(dir).map_err(|e| MemoryError::io(dir, e))?;
        let history = History::load(&dir.join(HISTORY_FILE))?;
        Span::current().record("entries", history.entries().len());
        let memory = MemoryManager {
            inner: Arc::new(Inner {
                domain,
                llm,
                dir: dir.to_path_buf(),
                history: Mutex::new(history),
                digests: Mutex::new(store::read_jsonl(&dir.join(DIGESTS_FILE))?),
                embeddings: Mutex::new(EmbeddingStore::load(&dir.join(EMBEDDINGS_FILE))?),
                graph: Mutex::new(store::read_json(&dir.join(GRAPH_FILE))?.unwrap_or_default()),
                tasks: BackgroundTasks::default(),
                notes: Mutex::new(Vec::new()),
            }),
        };
        memory.initialize_static_memory().await;
        Ok(memory)
    }

    /// Puts the domain's static memory into the graph and the embeddings, once.
    #[instrument(skip_all)]
    async fn initialize_static_memory(&self) {
        let text = self.inner.domain.static_memory;
        if lock(&self.inner.graph).entities().is_empty() {
            let result = self.graph_entity_resolver(&graph::heuristic_extract(text));
            if let Err(e) = result {
                self.note(format!("could not save the static memory graph: {e}"));
            }
        }
        let has_static = lock(&self.inner.embeddings)
            .items()
            .iter()
            .any(|i| i.source == Source::Static);
        if !has_static {
            let texts: Vec<String> = text.lines().map(str::to_string).collect();
            if let Err(e) = self.embed_and_store(Source::Static, texts, 4).await {
                self.note(format!(
                    "static memory not embedded (retrieval will miss it): {e}"
                ));
            }
        }
    }

    /// The session directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The background tasks (count, wait).
    #[must_use]
    pub fn background(&self) -> &BackgroundTasks {
        &self.inner.tasks
    }

    /// How much is remembered.
    #[must_use]
    pub fn stats(&self) -> MemoryStats {
        let graph = lock(&self.inner.graph);
        MemoryStats {
            entries: lock(&self.inner.history).entries().len(),
            digests: lock(&self.inner.digests).len(),
            embedded: lock(&self.inner.embeddings).items().len(),
            entities: graph.entities().len(),
            relationships: graph.relationships().len(),
        }
    }

    /// Messages about failures that did not stop anything (background errors), since the
    /// last call.
    #[must_use]
    pub fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.inner.notes))
    }

    fn note(&self, message: String) {
        lock(&self.inner.notes).push(message);
    }

    /// Answers `message`: one turn.
    #[instrument(
        name = "memory_query_total",
        skip_all,
        err(Display),
        fields(message_chars = message.chars().count(), entry_id = Empty)
    )]
    pub async fn query(&self, message: &str) -> Result<Turn, MemoryError> {
        let turn = Span::current();
        let user = self.add_user_entry(message)?;
        turn.record("entry_id", user.id);
        let mut notes = Vec::new();
        let components = self.format_memory_components(user.id);
        let rag = match self.rag_enhancement(message, user.id).await {
            Ok(r) => r,
            Err(e) => {
                notes.push(format!("retrieval skipped: {e}"));
                String::new()
            }
        };
        let graph = self.graph_context(message);
        let prompt = self.format_prompt(&components, &rag, &graph, message);
        let generation = self
            .inner
            .llm
            .generate(&GenerateRequest::chat(prompt))
            .await?;
        let answer = generation.text.trim().to_string();
        let agent = self.add_agent_entry(&answer)?;
        self.start_async_operations(turn.id(), vec![user, agent]);
        Ok(Turn {
            answer,
            generation,
            notes,
        })
    }

    #[instrument(skip_all, err(Display))]
    fn add_user_entry(&self, message: &str) -> Result<Entry, MemoryError> {
        lock(&self.inner.history).push(Role::User, message)
    }

    #[instrument(skip_all, err(Display))]
    fn add_agent_entry(&self, answer: &str) -> Result<Entry, MemoryError> {
        lock(&self.inner.history).push(Role::Agent, answer)
    }

    /// The static memory and the recent conversation before entry `before`.
    #[instrument(skip_all, fields(chars = Empty))]
    fn format_memory_components(&self, before: u64) -> String {
        let mut out = format!("World knowledge:\n{}\n", self.inner.domain.static_memory);
        let history = lock(&self.inner.history);
        let recent = history.recent(RECENT_ENTRIES, Some(before));
        if !recent.is_empty() {
            out.push_str("\nRecent conversation:\n");
            for e in recent {
                out.push_str(&format!("{}: {}\n", e.role.label(), e.content));
            }
        }
        Span::current().record("chars", out.len());
        out
    }

    /// The remembered texts most similar to the message.
    #[instrument(skip_all, err(Display), fields(hits = Empty))]
    async fn rag_enhancement(&self, message: &str, exclude: u64) -> Result<String, MemoryError> {
        let query = self.inner.llm.embed(&[message.to_string()]).await?;
        let Some(vector) = query.vectors.first() else {
            return Ok(String::new());
        };
        let store = lock(&self.inner.embeddings);
        let hits = rag::top_k(vector, store.items(), RAG_TOP_K, Some(exclude));
        Span::current().record("hits", hits.len());
        if hits.is_empty() {
            return Ok(String::new());
        }
        let mut out = String::from("Relevant memories:\n");
        for (_, item) in hits {
            out.push_str(&format!("- {}\n", item.text));
        }
        Ok(out)
    }

    /// What the graph knows about the entities the message mentions.
    #[instrument(skip_all, fields(entities = Empty))]
    fn graph_context(&self, message: &str) -> String {
        let graph = lock(&self.inner.graph);
        let entities = graph.mentioned_in(message);
        Span::current().record("entities", entities.len());
        if entities.is_empty() {
            return String::new();
        }
        let mut out = String::from("Known entities:\n");
        for e in entities.into_iter().take(GRAPH_ENTITIES) {
            out.push_str(&format!("- {}\n", graph.describe(e)));
        }
        out
    }

    #[instrument(skip_all, fields(prompt_chars = Empty))]
    fn format_prompt(&self, components: &str, rag: &str, graph: &str, message: &str) -> String {
        let mut prompt = format!("{}\n\n{components}", self.inner.domain.system_prompt);
        for part in [graph, rag] {
            if !part.is_empty() {
                prompt.push('\n');
                prompt.push_str(part);
            }
        }
        prompt.push_str(&format!("\nUser: {message}\nAgent:"));
        Span::current().record("prompt_chars", prompt.chars().count());
        prompt
    }

    /// Spawns the background processing of the turn's entries; returns at once.
    ///
    /// Each task's root span is created here, while the turn is still open, so that
    /// its `follows_from` link names a live span; it has no parent.
    #[instrument(skip_all, fields(operations = entries.len()))]
    fn start_async_operations(&self, turn: Option<Id>, entries: Vec<Entry>) {
        for entry in entries {
            let span = match entry.role {
                Role::User => {
                    tracing::info_span!(parent: None, "async_process_entry_user", entry_id = entry.id)
                }
                Role::Agent => {
                    tracing::info_span!(parent: None, "async_process_entry_agent", entry_id = entry.id)
                }
            };
            span.follows_from(turn.clone());
            let this = self.clone();
            let task = async move {
                let id = entry.id;
                let result = this.process_entry(entry).await;
                if let Err(e) = &result {
                    // An ERROR event inside the root span marks it as failed.
                    tracing::error!(error = %e, "background processing failed");
                    this.note(format!("background processing of entry {id} failed: {e}"));
                }
                result
            };
            self.inner.tasks.spawn(task.instrument(span));
        }
    }

    /// Digest first; then embeddings and graph, concurrently (both read the digest).
    async fn process_entry(&self, entry: Entry) -> Result<(), MemoryError> {
        let digest = self.async_digest_generation(&entry).await?;
        let (embedded, graphed) = tokio::join!(
            self.async_embeddings_update(&digest),
            self.async_graph_memory_update(&entry, &digest)
        );
        embedded.and(graphed)
    }

    #[instrument(skip_all, err(Display), fields(entry_id = entry.id, segments = Empty))]
    async fn async_digest_generation(&self, entry: &Entry) -> Result<Digest, MemoryError> {
        let heuristic = digest::heuristic(&entry.content);
        let request = GenerateRequest {
            prompt: digest::prompt(entry.role, &entry.content),
            json: true,
            purpose: Purpose::Digest,
            simulated_answer: Some(digest::to_answer_json(&heuristic)),
        };
        let generation = self.inner.llm.generate(&request).await?;
        let segments = match digest::parse(&generation.text) {
            Ok(s) if !s.is_empty() => s,
            Ok(_) => heuristic,
            Err(e) => {
                tracing::warn!(error = %e, "the model's digest is not the JSON asked for; using the heuristic digest");
                heuristic
            }
        };
        Span::current().record("segments", segments.len());
        let digest = Digest {
            entry_id: entry.id,
            role: entry.role,
            segments,
        };
        store::append_jsonl(&self.inner.dir.join(DIGESTS_FILE), [&digest])?;
        lock(&self.inner.digests).push(digest.clone());
        Ok(digest)
    }

    #[instrument(skip_all, err(Display), fields(entry_id = digest.entry_id, texts = Empty))]
    async fn async_embeddings_update(&self, digest: &Digest) -> Result<(), MemoryError> {
        let texts: Vec<String> = digest
            .segments
            .iter()
            .filter(|s| s.importance >= 2)
            .map(|s| s.text.clone())
            .collect();
        Span::current().record("texts", texts.len());
        let importance = digest
            .segments
            .iter()
            .map(|s| s.importance)
            .max()
            .unwrap_or(1);
        self.embed_and_store(Source::Entry(digest.entry_id), texts, importance)
            .await
    }

    async fn embed_and_store(
        &self,
        source: Source,
        texts: Vec<String>,
        importance: u8,
    ) -> Result<(), MemoryError> {
        if texts.is_empty() {
            return Ok(());
        }
        let embeddings = self.inner.llm.embed(&texts).await?;
        let items = texts
            .into_iter()
            .zip(embeddings.vectors)
            .map(|(text, vector)| EmbeddedText {
                source,
                text,
                importance,
                model: embeddings.model.clone(),
                vector,
            })
            .collect();
        lock(&self.inner.embeddings).extend(items)
    }

    #[instrument(skip_all, err(Display), fields(entry_id = entry.id))]
    async fn async_graph_memory_update(
        &self,
        entry: &Entry,
        digest: &Digest,
    ) -> Result<(), MemoryError> {
        self.graph_conversation_level_processing(entry, digest)
            .await
    }

    #[instrument(skip_all, err(Display), fields(entry_id = entry.id, input_chars = Empty))]
    async fn graph_conversation_level_processing(
        &self,
        entry: &Entry,
        digest: &Digest,
    ) -> Result<(), MemoryError> {
        let (input, context) = self.prepare_graph_input(entry, digest);
        Span::current().record("input_chars", input.len());
        if input.is_empty() {
            return Ok(());
        }
        let heuristic = graph::heuristic_extract(&input);
        let request = GenerateRequest {
            prompt: graph::prompt(&format!("{context}{input}")),
            json: true,
            purpose: Purpose::Graph,
            simulated_answer: Some(serde_json::to_string(&heuristic).unwrap_or_default()),
        };
        let generation = self.inner.llm.generate(&request).await?;
        let extraction = graph::parse(&generation.text).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the model's graph extraction is not the JSON asked for; using the heuristic one");
            heuristic
        });
        self.graph_entity_resolver(&extraction)?;
        Ok(())
    }

    /// The entry's important segments, and the entry before it as context.
    #[instrument(skip_all, fields(entry_id = entry.id))]
    fn prepare_graph_input(&self, entry: &Entry, digest: &Digest) -> (String, String) {
        let input = digest
            .segments
            .iter()
            .filter(|s| s.importance >= 3)
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let context = entry
            .id
            .checked_sub(1)
            .and_then(|prev| {
                lock(&self.inner.history)
                    .entries()
                    .iter()
                    .find(|e| e.id == prev)
                    .map(|e| format!("(context) {}: {}\n", e.role.label(), e.content))
            })
            .unwrap_or_default();
        (input, context)
    }

    /// Resolves the extracted names against the graph, merges, and saves the graph.
    #[instrument(skip_all, err(Display), fields(added = Empty, resolved = Empty, relationships = Empty))]
    fn graph_entity_resolver(&self, extraction: &Extraction) -> Result<MergeStats, MemoryError> {
        let mut graph = lock(&self.inner.graph);
        let stats = graph.merge(extraction);
        let span = Span::current();
        span.record("added", stats.added);
        span.record("resolved", stats.resolved);
        span.record("relationships", stats.relationships);
        store::write_json(&self.inner.dir.join(GRAPH_FILE), &*graph)?;
        Ok(stats)
    }
}
