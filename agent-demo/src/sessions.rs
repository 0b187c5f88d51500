//! Saved sessions, for `--list`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use perf_layer::record::{Record, DATA_FILE};

use crate::memory::HISTORY_FILE;

/// One saved session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The guid (directory name).
    pub guid: String,
    /// Its directory.
    pub dir: PathBuf,
    /// History entries.
    pub entries: usize,
    /// Recorded runs (segments of the data file).
    pub runs: usize,
    /// When the last run started, RFC 3339, if recorded.
    pub last_started: Option<String>,
}

/// The sessions under `logs_dir` (directories with a history or a data file), by name.
pub fn list(logs_dir: &Path) -> std::io::Result<Vec<SessionInfo>> {
    let read = match std::fs::read_dir(logs_dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in read {
        let dir = entry?.path();
        let (history, data) = (dir.join(HISTORY_FILE), dir.join(DATA_FILE));
        if !history.is_file() && !data.is_file() {
            continue;
        }
        let entries = count_lines(&history, |_| true);
        let mut runs = 0;
        let mut last_started = None;
        count_lines(&data, |line| {
            // Only session lines are parsed: a data file can be large.
            if line.starts_with(r#"{"type":"session""#) {
                if let Ok(Record::Session(s)) = serde_json::from_str(line) {
                    runs += 1;
                    last_started = Some(s.started_at);
                }
            }
            false
        });
        out.push(SessionInfo {
            guid: dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            dir,
            entries,
            runs,
            last_started,
        });
    }
    out.sort_by(|a, b| a.guid.cmp(&b.guid));
    Ok(out)
}

fn count_lines(path: &Path, mut keep: impl FnMut(&str) -> bool) -> usize {
    let Ok(file) = std::fs::File::open(path) else {
        return 0;
    };
    BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.trim().is_empty() && keep(l))
        .count()
}
