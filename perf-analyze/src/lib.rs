#![doc = include_str!("../README.md")]

use std::path::{Path, PathBuf};

/// How to analyze a session (stub: the analyzer issue fills this in).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Make a malformed line an error instead of a warning.
    pub strict: bool,
}

/// Output formats of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A human-readable table.
    Table,
    /// The `performance_summary.json` document.
    Json,
    /// Markdown tables.
    Markdown,
}

/// How to render a report.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Add bottlenecks, recommendations, parallelism, critical path, async analysis.
    pub detailed: bool,
    /// Table width in columns.
    pub width: u16,
}

/// Errors of the analyzer library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The analysis of one session.
#[derive(Debug)]
pub struct Analysis {}

/// Reads and analyzes a session file or directory.
pub fn analyze_path(path: &Path, options: &Options) -> Result<Analysis, Error> {
    let _ = (path, options);
    Ok(Analysis {})
}

impl Analysis {
    /// Renders the report.
    pub fn render(&self, format: Format, options: &RenderOptions) -> String {
        let _ = (format, options);
        String::new()
    }

    /// Writes `performance_summary.json` into `dir` and returns its path.
    pub fn save_summary(&self, dir: &Path) -> Result<PathBuf, Error> {
        Ok(dir.join("performance_summary.json"))
    }
}
