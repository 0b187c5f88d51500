//! Files the layer will not write: a data file another program (here, another layer) is
//! writing now, which would interleave two segments line by line; and a session
//! directory or data file that is a symbolic link, which could send the data anywhere.
//! Each is a clear error from `build()` naming the path, and the target is untouched.

#![cfg(unix)]

mod support;

use perf_layer::record::DATA_FILE;
use perf_layer::Error;

#[test]
fn a_session_being_written_is_refused_until_its_writer_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (_first, guard) = support::builder(dir.path()).build().unwrap();
    let error = support::builder(dir.path())
        .build()
        .expect_err("the session is being written");
    let path = dir.path().join("test_session").join(DATA_FILE);
    assert!(
        matches!(&error, Error::SessionInUse { path: p } if *p == path),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&*path.to_string_lossy()),
        "{error}"
    );
    drop(guard);
    let (_second, guard) = support::builder(dir.path())
        .build()
        .expect("free once the first writer ended");
    drop(guard);
    assert_eq!(support::read(&path).sessions().len(), 2);
}

#[test]
fn a_planted_symlink_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("elsewhere");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join(DATA_FILE), "precious\n").unwrap();

    // The session directory is a link.
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::os::unix::fs::symlink(&target, logs.join("test_session")).unwrap();
    let error = support::builder(&logs)
        .build()
        .expect_err("a linked directory");
    assert!(
        matches!(&error, Error::Symlink { path } if *path == logs.join("test_session")),
        "{error:?}"
    );
    assert!(error.to_string().contains("symbolic link"), "{error}");

    // The data file is a link.
    let logs = dir.path().join("logs2");
    std::fs::create_dir_all(logs.join("test_session")).unwrap();
    let data = logs.join("test_session").join(DATA_FILE);
    std::os::unix::fs::symlink(target.join(DATA_FILE), &data).unwrap();
    let error = support::builder(&logs).build().expect_err("a linked file");
    assert!(
        matches!(&error, Error::Symlink { path } if *path == data),
        "{error:?}"
    );

    assert_eq!(
        std::fs::read_to_string(target.join(DATA_FILE)).unwrap(),
        "precious\n",
        "the link's target is untouched"
    );
}
