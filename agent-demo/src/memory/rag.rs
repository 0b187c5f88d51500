//! Retrieval: the stored texts most similar to a query, by cosine similarity.
//!
//! ```
//! use agent_demo::memory::embeddings::{hash_embedding, EmbeddedText, Source};
//! use agent_demo::memory::rag::top_k;
//!
//! let item = |text: &str| EmbeddedText {
//!     source: Source::Static, text: text.into(), importance: 3,
//!     model: "m".into(), vector: hash_embedding(text),
//! };
//! let items = [item("Elena is the mayor of Haven."), item("Goblins raid farms.")];
//! let hits = top_k(&hash_embedding("who is the mayor"), &items, 1, None);
//! assert_eq!(hits[0].1.text, "Elena is the mayor of Haven.");
//! ```

use super::embeddings::{EmbeddedText, Source};

/// Cosine similarity; 0 when either vector is zero or their lengths differ.
#[must_use]
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// The `k` items most similar to `query` with a positive score, best first, skipping
/// texts of entry `exclude` (the message being answered) and vectors of another size
/// (made by another embedding model).
#[must_use]
pub fn top_k<'a>(
    query: &[f32],
    items: &'a [EmbeddedText],
    k: usize,
    exclude: Option<u64>,
) -> Vec<(f32, &'a EmbeddedText)> {
    let mut scored: Vec<(f32, &EmbeddedText)> = items
        .iter()
        .filter(|i| !matches!((i.source, exclude), (Source::Entry(a), Some(b)) if a == b))
        .map(|i| (cosine(query, &i.vector), i))
        .filter(|(s, _)| *s > 0.0)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.truncate(k);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_edge_cases() {
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        assert_eq!(cosine(&[1.0], &[1.0, 0.0]), 0.0);
        assert!((cosine(&[1.0, 1.0], &[2.0, 2.0]) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn excludes_the_current_entry_and_other_dimensions() {
        let item = |source, vector: Vec<f32>| EmbeddedText {
            source,
            text: String::new(),
            importance: 3,
            model: "m".into(),
            vector,
        };
        let items = [
            item(Source::Entry(1), vec![1.0, 0.0]),
            item(Source::Entry(2), vec![1.0, 0.1]),
            item(Source::Static, vec![1.0, 0.0, 0.0]),
        ];
        let hits = top_k(&[1.0, 0.0], &items, 5, Some(1));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].1.source, Source::Entry(2));
    }
}
