//! The errors `Builder::build` can return.

use std::path::PathBuf;

/// Why a [`PerfLayer`](crate::PerfLayer) could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The session id is not 1 to 128 of letters, digits, `.`, `_`, `-` (and not `.` or `..`).
    #[error("invalid session id {id:?}: {reason}")]
    InvalidSessionId {
        /// The id as given.
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The session directory or data file could not be created or opened.
    #[error("cannot open {path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The session directory or the data file is a symbolic link, which the layer does
    /// not follow.
    #[error("refusing to open {path}: it is a symbolic link")]
    Symlink {
        /// The path that is a link.
        path: PathBuf,
    },
    /// Another program (or layer) is writing this session's data file now.
    #[error("{path} is being written by another program (it is locked): use another session id")]
    SessionInUse {
        /// The data file.
        path: PathBuf,
    },
    /// The writer thread could not be started.
    #[error("cannot start the perf-layer writer thread: {0}")]
    WriterThread(#[source] std::io::Error),
}
