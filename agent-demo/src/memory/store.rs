//! Reading and writing the memory files: JSON Lines appended one record at a time, and
//! whole JSON documents replaced atomically.

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::MemoryError;

/// Reads every record of a JSON Lines file; a missing file is empty. A bad line is an
/// error naming the file and the line.
pub fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, MemoryError> {
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(MemoryError::io(path, source)),
    };
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| MemoryError::io(path, source))?;
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(&line).map_err(|source| MemoryError::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            source,
        })?;
        out.push(record);
    }
    Ok(out)
}

/// Appends records to a JSON Lines file, one line each, in a single write.
pub fn append_jsonl<'a, T: Serialize + 'a>(
    path: &Path,
    records: impl IntoIterator<Item = &'a T>,
) -> Result<(), MemoryError> {
    let mut buf = Vec::new();
    for r in records {
        serde_json::to_writer(&mut buf, r).map_err(|e| MemoryError::io(path, e.into()))?;
        buf.push(b'\n');
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| MemoryError::io(path, source))?;
    file.write_all(&buf)
        .map_err(|source| MemoryError::io(path, source))
}

/// Reads a JSON document; a missing file is `None`.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, MemoryError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(MemoryError::io(path, source)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|source| MemoryError::Parse {
            path: path.to_path_buf(),
            line: source.line(),
            source,
        })
}

/// Replaces a JSON document atomically (write a temporary file, then rename).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), MemoryError> {
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(value).map_err(|e| MemoryError::io(path, e.into()))?;
    fs::write(&tmp, text).map_err(|source| MemoryError::io(&tmp, source))?;
    fs::rename(&tmp, path).map_err(|source| MemoryError::io(path, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_line_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        fs::write(&path, "1\n\n2\nnope\n").unwrap();
        let err = read_jsonl::<u32>(&path).unwrap_err();
        assert!(matches!(err, MemoryError::Parse { line: 4, .. }), "{err}");
        assert!(err.to_string().contains("x.jsonl:4"), "{err}");
    }

    #[test]
    fn append_then_read_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        append_jsonl(&path, &[1u32, 2]).unwrap();
        append_jsonl(&path, &[3u32]).unwrap();
        assert_eq!(read_jsonl::<u32>(&path).unwrap(), vec![1, 2, 3]);
        assert!(read_jsonl::<u32>(&dir.path().join("missing"))
            .unwrap()
            .is_empty());
    }
}
