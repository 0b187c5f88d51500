//! The analyzer's typed errors.

use std::path::PathBuf;

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
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A `session` line names a format this analyzer does not read.
    #[error("{path}:{line}: unsupported format {format} (this analyzer reads format {supported})")]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// The format number found.
        format: u64,
        /// The format number this analyzer reads.
        supported: u32,
    },
    /// A malformed line, an error only with [`Options::strict`](crate::Options::strict).
    #[error("{path}:{line}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// What was wrong.
        reason: String,
    },
    /// A session name that could escape the logs directory or is not a name the layer writes.
    #[error("invalid session name {name:?}: {reason}")]
    InvalidSessionName {
        /// The name given.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// No file or directory at that path, and it is not a session name either.
    #[error("cannot read {path}: {source}; not a session name either: {reason}")]
    PathNotFound {
        /// The path given.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
        /// Why it is not a session name.
        reason: &'static str,
    },
    /// Neither a session of that name nor a file or directory at that path exists.
    #[error("no session {name:?} in {logs_dir} (looked for {looked_for}), and no such file or directory")]
    SessionNotFound {
        /// The name given.
        name: String,
        /// The logs directory searched.
        logs_dir: PathBuf,
        /// The data file looked for.
        looked_for: PathBuf,
    },
}
