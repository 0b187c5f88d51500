//! The conversation history, `history.jsonl`: every entry, in order.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{store, MemoryError};

/// Who said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The person at the prompt.
    User,
    /// The agent.
    Agent,
}

impl Role {
    /// `User` or `Agent`, as written in prompts.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Role::User => "User",
            Role::Agent => "Agent",
        }
    }
}

/// One entry of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the history, from 0.
    pub id: u64,
    /// Who said it.
    pub role: Role,
    /// What was said.
    pub content: String,
    /// When, RFC 3339 UTC.
    pub timestamp: String,
}

/// The history and its file.
#[derive(Debug)]
pub struct History {
    path: PathBuf,
    entries: Vec<Entry>,
}

impl History {
    /// Loads `path` (missing = empty).
    pub fn load(path: &Path) -> Result<Self, MemoryError> {
        Ok(History {
            path: path.to_path_buf(),
            entries: store::read_jsonl(path)?,
        })
    }

    /// Appends an entry and persists it.
    pub fn push(&mut self, role: Role, content: &str) -> Result<Entry, MemoryError> {
        let entry = Entry {
            id: self.entries.last().map_or(0, |e| e.id + 1),
            role,
            content: content.to_string(),
            timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        store::append_jsonl(&self.path, [&entry])?;
        self.entries.push(entry.clone());
        Ok(entry)
    }

    /// Every entry.
    #[must_use]
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The last `n` entries before entry `before` (all of them if `before` is `None`).
    #[must_use]
    pub fn recent(&self, n: usize, before: Option<u64>) -> &[Entry] {
        let end = before.map_or(self.entries.len(), |id| {
            self.entries.partition_point(|e| e.id < id)
        });
        &self.entries[end.saturating_sub(n)..end]
    }
}
