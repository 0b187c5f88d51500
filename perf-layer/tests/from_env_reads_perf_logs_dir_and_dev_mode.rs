//! `Builder::from_env` takes the logs dir from `PERF_LOGS_DIR` and turns echo on with
//! `DEV_MODE=true`. (One test in this binary: it sets process environment variables.)

#[test]
fn from_env_reads_perf_logs_dir_and_dev_mode() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("PERF_LOGS_DIR", dir.path());
    std::env::set_var("DEV_MODE", "true");
    let (_layer, guard) = perf_layer::PerfLayer::builder()
        .logs_dir("ignored")
        .session_id("env")
        .from_env()
        .build()
        .unwrap();
    assert_eq!(guard.handle().session_dir(), dir.path().join("env"));
    // The builder's Debug shows its configuration.
    let builder = perf_layer::PerfLayer::builder().from_env();
    let debug = format!("{builder:?}");
    assert!(debug.contains("echo: true"), "{debug}");

    std::env::set_var("DEV_MODE", "false");
    let debug = format!("{:?}", perf_layer::PerfLayer::builder().from_env());
    assert!(debug.contains("echo: false"), "{debug}");
    std::env::remove_var("PERF_LOGS_DIR");
    std::env::remove_var("DEV_MODE");
}
