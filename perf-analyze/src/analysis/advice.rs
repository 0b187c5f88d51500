//! Recommendations: one per root cause, categorised, with an estimated saving.
//!
//! An operation is categorised by its span's fields first (`gen_ai.*`, `ollama.*`
//! mean an LLM call, `gen_ai.operation.name = "embeddings"` an embedding call),
//! then by words of its target, then of its name.
//!
//! ```
//! use perf_analyze::analysis::advice::{categorize, Category};
//!
//! assert_eq!(categorize("call", "agent_demo::ollama", None), Category::Llm);
//! assert_eq!(categorize("async_digest_generation", "agent_demo::memory", None), Category::Digest);
//! assert_eq!(categorize("step", "app", Some(r#"{"gen_ai.operation.name":"embeddings"}"#)), Category::Embeddings);
//! assert_eq!(categorize("add_user_entry", "agent_demo::memory", None), Category::General);
//! ```

use perf_layer::record::llm;
use serde::{Deserialize, Serialize};

use super::causes::{Cause, Causes};
use super::parallelism::Opportunity;
use super::stats::{NameStats, Stats};
use crate::duration::percent;

/// The kind of work an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Calls to a language model.
    Llm,
    /// Searching memory or documents (RAG).
    Retrieval,
    /// Knowledge-graph work.
    Graph,
    /// Computing embeddings.
    Embeddings,
    /// Summarising (digests).
    Digest,
    /// Files, databases, network.
    Io,
    /// Anything else.
    General,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 7] = [
        Category::Llm,
        Category::Retrieval,
        Category::Graph,
        Category::Embeddings,
        Category::Digest,
        Category::Io,
        Category::General,
    ];

    /// The lowercase name used in the summary.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Llm => "llm",
            Category::Retrieval => "retrieval",
            Category::Graph => "graph",
            Category::Embeddings => "embeddings",
            Category::Digest => "digest",
            Category::Io => "io",
            Category::General => "general",
        }
    }

    /// What typically helps this kind of work.
    fn suggestions(self) -> &'static [&'static str] {
        match self {
            Category::Llm => &[
                "Use a smaller or quantized model for this step",
                "Shorten the prompt: prompt evaluation grows with its length",
                "Cache responses to repeated prompts",
                "Stream the response so output starts earlier",
            ],
            Category::Retrieval => &[
                "Cache results of repeated queries",
                "Retrieve fewer candidates (lower top-k) or pre-filter them",
                "Use an approximate nearest-neighbour index",
            ],
            Category::Graph => &[
                "Update the graph in the background, off the user's path",
                "Update incrementally instead of re-resolving every entity",
                "Add a fast mode that skips entity resolution for short inputs",
            ],
            Category::Embeddings => &[
                "Batch texts into one embedding request",
                "Cache embeddings of unchanged text",
                "Use a smaller embedding model",
            ],
            Category::Digest => &[
                "Generate digests in the background",
                "Digest only new entries",
                "Use a smaller model for digests",
            ],
            Category::Io => &[
                "Buffer or batch writes",
                "Move the I/O off the hot path (async, or a writer thread)",
                "Avoid re-reading unchanged data",
            ],
            Category::General => &[
                "Add spans inside it to see where its own time goes",
                "Look for repeated work that can be cached",
            ],
        }
    }
}

fn from_fields(raw: &str) -> Option<Category> {
    let fields: serde_json::Map<String, serde_json::Value> = serde_json::from_str(raw).ok()?;
    if fields.get(llm::OPERATION_NAME).and_then(|v| v.as_str()) == Some(llm::EMBEDDINGS) {
        return Some(Category::Embeddings);
    }
    fields
        .keys()
        .any(|k| k.starts_with(llm::GEN_AI_PREFIX) || k.starts_with(llm::OLLAMA_PREFIX))
        .then_some(Category::Llm)
}

fn from_words(text: &str) -> Option<Category> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let any = |test: &dyn Fn(&str) -> bool| words.iter().any(|w| test(w));
    if any(&|w| w.starts_with("embed")) {
        Some(Category::Embeddings)
    } else if any(&|w| w.starts_with("graph")) {
        Some(Category::Graph)
    } else if any(&|w| w.starts_with("digest")) {
        Some(Category::Digest)
    } else if any(&|w| {
        matches!(w, "rag" | "semantic" | "recall" | "knn")
            || w.starts_with("retriev")
            || w.starts_with("search")
            || w.starts_with("vector")
    }) {
        Some(Category::Retrieval)
    } else if any(&|w| {
        matches!(
            w,
            "llm" | "ollama" | "openai" | "chat" | "completion" | "inference"
        ) || w.starts_with("generat")
    }) {
        Some(Category::Llm)
    } else if any(&|w| {
        matches!(
            w,
            "io" | "fs"
                | "db"
                | "sql"
                | "sqlite"
                | "http"
                | "net"
                | "network"
                | "disk"
                | "save"
                | "load"
                | "write"
                | "read"
        ) || w.starts_with("file")
            || w.starts_with("persist")
    }) {
        Some(Category::Io)
    } else {
        None
    }
}

/// Categorises an operation: by `raw_fields` first, then its target, then its name.
#[must_use]
pub fn categorize(name: &str, target: &str, raw_fields: Option<&str>) -> Category {
    raw_fields
        .and_then(from_fields)
        .or_else(|| from_words(target))
        .or_else(|| from_words(name))
        .unwrap_or(Category::General)
}

/// One recommendation, as in the summary's `recommendations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The operation to change.
    pub operation: String,
    /// Why it is slow.
    pub cause: Cause,
    /// Its category (`llm`, `retrieval`, `graph`, `embeddings`, `digest`, `io`, `general`).
    pub category: Category,
    /// One line saying what and why.
    pub title: String,
    /// The numbers that show the cause.
    pub evidence: Vec<String>,
    /// What to try.
    pub suggestions: Vec<String>,
    /// User-facing time a fix would save: at most the time of the spans it changes,
    /// never more than the wall time.
    pub estimated_saving_ns: u64,
}

/// Everything the recommendations are drawn from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// Per-name statistics.
    pub stats: &'a Stats,
    /// Wall time of the session.
    pub wall_ns: u64,
    /// The parallelization opportunities found.
    pub parallelism: &'a [Opportunity],
    /// The causes' aggregates.
    pub causes: &'a Causes,
}

fn category_of(stats: &Stats, name: &str) -> Category {
    stats.get(name).map_or(Category::General, |s| {
        categorize(&s.name, &s.target, s.fields_hint.as_deref())
    })
}

/// Recommendations, one per operation (its cause with the largest saving), largest
/// estimated saving first: the first is the thing to fix first.
#[must_use]
pub fn recommend(inputs: Inputs<'_>) -> Vec<Recommendation> {
    let mut seen = std::collections::BTreeSet::new();
    inputs
        .causes
        .findings(inputs.parallelism, inputs.wall_ns)
        .into_iter()
        .filter(|f| seen.insert(f.operation.clone()))
        .map(|f| {
            let category = category_of(inputs.stats, &f.operation);
            let mut suggestions: Vec<String> = f
                .cause
                .suggestions()
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
            if matches!(f.cause, Cause::HotOperation | Cause::Waiting)
                && category != Category::General
            {
                suggestions.extend(category.suggestions().iter().map(|s| (*s).to_owned()));
            }
            Recommendation {
                category,
                suggestions,
                operation: f.operation,
                cause: f.cause,
                title: f.title,
                evidence: f.evidence,
                estimated_saving_ns: f.estimated_saving_ns,
            }
        })
        .collect()
}

/// Self time per category, as in the summary's `resources`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceRow {
    /// The category.
    pub category: Category,
    /// Self time of its operations.
    pub self_ns: u64,
    /// Its spans.
    pub count: u64,
    /// Self time as a percentage of active time.
    pub pct_of_active: f64,
}

/// Self time by category, largest first; categories without spans are left out, and so
/// are long-lived roots (`long_lived`: a connection waits for its requests).
#[must_use]
pub fn resources(
    stats: &Stats,
    active_ns: u64,
    long_lived: impl Fn(&NameStats) -> bool,
) -> Vec<ResourceRow> {
    let mut rows: Vec<ResourceRow> = Category::ALL
        .iter()
        .map(|&category| ResourceRow {
            category,
            self_ns: 0,
            count: 0,
            pct_of_active: 0.0,
        })
        .collect();
    for s in stats.names().iter().filter(|s| !long_lived(s)) {
        let c = categorize(&s.name, &s.target, s.fields_hint.as_deref());
        let row = &mut rows[Category::ALL.iter().position(|&x| x == c).unwrap_or(6)];
        row.self_ns += s.self_ns;
        row.count += s.count;
    }
    rows.retain(|r| r.count > 0);
    for r in &mut rows {
        r.pct_of_active = percent(r.self_ns, active_ns);
    }
    rows.sort_by(|a, b| {
        b.self_ns
            .cmp(&a.self_ns)
            .then_with(|| a.category.cmp(&b.category))
    });
    rows
}
