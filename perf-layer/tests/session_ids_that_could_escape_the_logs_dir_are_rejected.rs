//! Session ids are 1 to 128 ASCII letters, digits, `.`, `_`, `-`, and not `.` or `..`:
//! anything else is `Error::InvalidSessionId` and nothing is created.

mod support;

#[test]
fn session_ids_that_could_escape_the_logs_dir_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let too_long = "a".repeat(129);
    for bad in [
        "",
        ".",
        "..",
        "../escape",
        "a/b",
        "/abs",
        "a\\b",
        "with space",
        "tab\t",
        "nul\0",
        "ünïcode",
        too_long.as_str(),
    ] {
        let result = support::builder(&logs).session_id(bad).build();
        match result {
            Err(perf_layer::Error::InvalidSessionId { id, reason }) => {
                assert_eq!(id, bad);
                assert!(!reason.is_empty());
            }
            other => panic!("{bad:?} was not rejected: {other:?}"),
        }
    }
    assert!(!logs.exists(), "a rejected id creates nothing");
    assert!(!dir.path().join("escape").exists());

    let longest = "a".repeat(128);
    for good in ["test_performance", "v1.2-rc_3", "..a", longest.as_str()] {
        let (_layer, guard) = support::builder(&logs).session_id(good).build().unwrap();
        assert_eq!(guard.handle().session_dir(), logs.join(good));
    }
}

#[test]
fn a_session_without_an_id_gets_a_valid_timestamped_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_layer, guard) = perf_layer::PerfLayer::builder()
        .logs_dir(dir.path())
        .build()
        .unwrap();
    let handle = guard.handle();
    let name = handle
        .session_dir()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(name.starts_with("session_"), "{name}");
    drop(guard);
    let records = support::read(&handle.data_path());
    assert_eq!(records.sessions()[0].session, name);
}
