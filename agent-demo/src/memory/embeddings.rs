//! Embeddings, `embeddings.jsonl`: a vector for each remembered piece of text.
//!
//! In sim mode vectors come from [`hash_embedding`], a deterministic feature-hashing
//! embedding: words and word pairs are hashed into [`DIMS`] signed buckets, then the vector
//! is normalised, so texts sharing words have a positive cosine similarity.
//!
//! ```
//! use agent_demo::memory::{embeddings::hash_embedding, rag::cosine};
//!
//! let a = hash_embedding("the mayor of Haven");
//! let b = hash_embedding("Who is the mayor of Haven?");
//! let c = hash_embedding("goblins raid farms at night");
//! assert!(cosine(&a, &b) > cosine(&a, &c));
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{store, MemoryError};
use crate::llm::sim::fnv1a;

/// Dimensions of [`hash_embedding`] vectors.
pub const DIMS: usize = 256;

/// Where a remembered text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum Source {
    /// The domain's static memory.
    Static,
    /// A history entry.
    Entry(u64),
}

/// One embedded text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddedText {
    /// Where it came from.
    pub source: Source,
    /// The text.
    pub text: String,
    /// Its digest importance (static memory counts as 4).
    pub importance: u8,
    /// The model that embedded it.
    pub model: String,
    /// The vector.
    pub vector: Vec<f32>,
}

/// Every embedded text and its file.
#[derive(Debug)]
pub struct EmbeddingStore {
    path: PathBuf,
    items: Vec<EmbeddedText>,
}

impl EmbeddingStore {
    /// Loads `path` (missing = empty).
    pub fn load(path: &Path) -> Result<Self, MemoryError> {
        Ok(EmbeddingStore {
            path: path.to_path_buf(),
            items: store::read_jsonl(path)?,
        })
    }

    /// Adds texts and persists them.
    pub fn extend(&mut self, items: Vec<EmbeddedText>) -> Result<(), MemoryError> {
        store::append_jsonl(&self.path, &items)?;
        self.items.extend(items);
        Ok(())
    }

    /// Every embedded text.
    #[must_use]
    pub fn items(&self) -> &[EmbeddedText] {
        &self.items
    }
}

/// A deterministic embedding of `text` by feature hashing. See the [module docs](self).
#[must_use]
pub fn hash_embedding(text: &str) -> Vec<f32> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut v = vec![0f32; DIMS];
    let mut add = |feature: &str, weight: f32| {
        let h = fnv1a(feature.as_bytes());
        let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
        v[(h % DIMS as u64) as usize] += sign * weight;
    };
    for w in &words {
        add(w, 1.0);
    }
    for pair in words.windows(2) {
        add(&format!("{} {}", pair[0], pair[1]), 0.5);
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}
