//! A logs dir that cannot hold the session directory is an `Error::Io` from `build()`
//! naming the path, not a panic.

mod support;

#[test]
fn an_unwritable_logs_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where the logs dir should be: creating a directory inside it fails,
    // even for root.
    let not_a_dir = dir.path().join("logs");
    std::fs::write(&not_a_dir, b"").unwrap();
    let error = support::builder(&not_a_dir).build().unwrap_err();
    match &error {
        perf_layer::Error::Io { path, .. } => assert_eq!(path, &not_a_dir.join("test_session")),
        other => panic!("expected an I/O error, got {other:?}"),
    }
    assert!(error.to_string().contains("test_session"), "{error}");
}
