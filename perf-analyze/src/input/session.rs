//! Finding sessions in a logs directory, with names checked so they cannot escape it.

use std::path::{Path, PathBuf};

use perf_layer::record::DATA_FILE;

use crate::Error;

/// Checks a session name the way the layer does: 1 to 128 ASCII letters, digits,
/// `.`, `_` or `-`, and not `.` or `..`; so `<logs>/<name>` stays inside the logs directory.
///
/// ```
/// use perf_analyze::validate_session_name;
///
/// assert!(validate_session_name("test_performance-2.1").is_ok());
/// assert!(validate_session_name("../etc").is_err());
/// assert!(validate_session_name("..").is_err());
/// ```
pub fn validate_session_name(name: &str) -> Result<(), Error> {
    perf_layer::validate_session_id(name).map_err(|error| Error::InvalidSessionName {
        name: name.to_owned(),
        reason: match error {
            perf_layer::Error::InvalidSessionId { reason, .. } => reason,
            _ => "not a session id",
        },
    })
}

/// Where a report reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input (`-`).
    Stdin,
    /// A data file (for a session or directory, its `performance_data.jsonl`).
    File(PathBuf),
}

/// Resolves a report argument: `-` is stdin; a valid session name whose directory exists
/// in `logs_dir` is that session; otherwise an existing file or directory path.
pub fn resolve(arg: &str, logs_dir: &Path) -> Result<Input, Error> {
    if arg == "-" {
        return Ok(Input::Stdin);
    }
    let named = validate_session_name(arg);
    if named.is_ok() {
        let dir = logs_dir.join(arg);
        if dir.is_dir() {
            return Ok(Input::File(dir.join(DATA_FILE)));
        }
    }
    let path = Path::new(arg);
    match (std::fs::metadata(path), named) {
        (Ok(meta), _) if meta.is_dir() => return Ok(Input::File(path.join(DATA_FILE))),
        (Ok(_), _) => return Ok(Input::File(path.to_owned())),
        (Err(source), _) if source.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::Io {
                path: path.to_owned(),
                source,
            })
        }
        (Err(source), Err(Error::InvalidSessionName { reason, .. })) => {
            return Err(Error::PathNotFound {
                path: path.to_owned(),
                source,
                reason,
            })
        }
        (Err(_), _) => {}
    }
    Err(Error::SessionNotFound {
        name: arg.to_owned(),
        logs_dir: logs_dir.to_owned(),
        looked_for: logs_dir.join(arg).join(DATA_FILE),
    })
}

/// The session directories in `logs_dir` that hold a data file, sorted by name.
pub fn list_sessions(logs_dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = std::fs::read_dir(logs_dir).map_err(|source| Error::Io {
        path: logs_dir.to_owned(),
        source,
    })?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join(DATA_FILE).is_file())
        .collect();
    found.sort();
    Ok(found)
}
