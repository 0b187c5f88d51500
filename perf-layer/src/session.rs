//! A session on disk: the id rules, the data file, the segment's `session` line.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use rustix::fs::{FlockOperation, Mode, OFlags};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::record::{Record, SessionRecord, DATA_FILE, FORMAT};
use crate::Error;

/// The longest session id accepted.
pub(crate) const MAX_ID_LEN: usize = 128;

/// Checks a session id: 1 to 128 of ASCII letters, digits, `.`, `_`, `-`, and not `.` or `..`,
/// so that `<logs_dir>/<id>` is always one directory inside the logs directory.
///
/// The one rule for session ids: the layer applies it when it is built, and programs
/// and tools that take a session id from their users check it here first.
///
/// ```
/// use perf_layer::{validate_session_id, Error};
///
/// assert!(validate_session_id("test_performance-2.1").is_ok());
/// for bad in ["", ".", "..", "../etc", "a/b", "a b", "é"] {
///     assert!(matches!(validate_session_id(bad), Err(Error::InvalidSessionId { .. })), "{bad:?}");
/// }
/// assert!(validate_session_id(&"x".repeat(128)).is_ok());
/// assert!(validate_session_id(&"x".repeat(129)).is_err());
/// ```
pub fn validate_session_id(id: &str) -> Result<(), Error> {
    let reason = if id.is_empty() {
        "it is empty"
    } else if id.len() > MAX_ID_LEN {
        "it is longer than 128 characters"
    } else if id == "." || id == ".." {
        "`.` and `..` are not session names"
    } else if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        "only ASCII letters, digits, `.`, `_` and `-` are allowed"
    } else {
        return Ok(());
    };
    Err(Error::InvalidSessionId {
        id: id.to_owned(),
        reason,
    })
}

/// A fresh session id from the wall clock and the process id, e.g.
/// `session_20261124_100000_123_4242`: programs started in the same millisecond get
/// different ids, and a second default id in one process gets a `-2`, `-3`... suffix.
pub(crate) fn default_id(now: DateTime<Utc>) -> String {
    static MADE: AtomicU64 = AtomicU64::new(0);
    let nth = MADE.fetch_add(1, Ordering::Relaxed);
    let mut id = now.format("session_%Y%m%d_%H%M%S_%3f_").to_string();
    id.push_str(itoa::Buffer::new().format(std::process::id()));
    if nth > 0 {
        id.push('-');
        id.push_str(itoa::Buffer::new().format(nth + 1));
    }
    id
}

/// The name of the running program, from its executable path.
pub(crate) fn default_program() -> String {
    std::env::args_os()
        .next()
        .as_deref()
        .map(Path::new)
        .and_then(Path::file_stem)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// An opened data file, where it is, and the bytes that start the segment.
#[derive(Debug)]
pub(crate) struct DataFile {
    /// Open for appending, and locked (`flock`) against a second writer.
    pub(crate) file: File,
    pub(crate) path: PathBuf,
    /// The file's length when it was opened.
    pub(crate) len: u64,
    /// The `session` line (after a newline if the file ended mid-line), written by the
    /// writer thread first, under the same error policy as every other line.
    pub(crate) header: Vec<u8>,
}

/// Creates `<logs_dir>/<id>/` and opens its data file for appending (a second run adds a
/// segment). The session directory and the data file are opened without following
/// symbolic links, and the file is locked: a second program writing the same session
/// at the same time is refused with [`Error::SessionInUse`].
pub(crate) fn open(session_dir: &Path, session: SessionRecord) -> Result<DataFile, Error> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    fs::create_dir_all(session_dir).map_err(io_err(session_dir))?;
    refuse_symlink(session_dir)?;
    let path = session_dir.join(DATA_FILE);
    let dir = rustix::fs::open(
        session_dir,
        OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDONLY,
        Mode::empty(),
    )
    .map_err(|e| io_err(session_dir)(e.into()))?;
    refuse_symlink(&path)?;
    let fd = rustix::fs::openat(
        &dir,
        DATA_FILE,
        OFlags::RDWR | OFlags::APPEND | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )
    .map_err(|e| io_err(&path)(e.into()))?;
    match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => return Err(Error::SessionInUse { path }),
        Err(e) => return Err(io_err(&path)(e.into())),
    }
    let mut file = File::from(fd);
    let len = file.seek(SeekFrom::End(0)).map_err(io_err(&path))?;
    let mut line = Vec::with_capacity(160);
    if ends_mid_line(&mut file, len).map_err(io_err(&path))? {
        // A previous run stopped in the middle of a line: finish it so the new segment
        // starts on a line of its own.
        line.push(b'\n');
    }
    serde_json::to_writer(&mut line, &Record::Session(session))
        .map_err(|e| io_err(&path)(e.into()))?;
    line.push(b'\n');
    Ok(DataFile {
        file,
        path,
        len,
        header: line,
    })
}

/// A clear error for a path that is a symbolic link (opening with `O_NOFOLLOW` refuses
/// it anyway, with a less telling message, if one is planted after this check).
fn refuse_symlink(path: &Path) -> Result<(), Error> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(Error::Symlink {
            path: path.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// Whether a non-empty regular file's last byte is not a newline.
fn ends_mid_line(file: &mut File, len: u64) -> std::io::Result<bool> {
    if !file.metadata()?.is_file() {
        return Ok(false);
    }
    if len == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// The `session` record of a segment starting at `started_at`.
pub(crate) fn session_record(id: &str, program: &str, started_at: SystemTime) -> SessionRecord {
    SessionRecord {
        format: FORMAT,
        session: id.to_owned(),
        started_at: DateTime::<Utc>::from(started_at).to_rfc3339_opts(SecondsFormat::Micros, true),
        pid: std::process::id(),
        program: program.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_rules() {
        for ok in ["test_performance", "a", "v1.2-rc_3", &"x".repeat(128)] {
            assert!(validate_session_id(ok).is_ok(), "{ok:?} should be accepted");
        }
        for bad in [
            "",
            ".",
            "..",
            "../etc",
            "a/b",
            "a\\b",
            "a b",
            "é",
            &"x".repeat(129),
        ] {
            assert!(
                matches!(
                    validate_session_id(bad),
                    Err(Error::InvalidSessionId { .. })
                ),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn default_ids_are_valid() {
        let now = Utc::now();
        let (a, b) = (default_id(now), default_id(now));
        validate_session_id(&a).unwrap();
        validate_session_id(&b).unwrap();
        assert!(a.starts_with("session_"));
        assert!(a.contains(&std::process::id().to_string()), "{a}");
        assert_ne!(a, b, "two ids in the same millisecond differ");
    }

    #[test]
    fn started_at_is_rfc3339_utc_with_microseconds() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(1_795_996_800_123_456);
        let record = session_record("s", "p", t);
        assert_eq!(record.started_at, "2026-11-30T00:00:00.123456Z");
    }
}
