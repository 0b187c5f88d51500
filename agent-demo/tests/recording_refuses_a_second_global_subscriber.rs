//! Recording cannot start under another global subscriber: it would record nothing while
//! saying it records. Its own process, because the global subscriber is set once.

use agent_demo::{InstallError, Perf, PerfOptions};

#[test]
fn recording_refuses_to_start_when_another_subscriber_is_global() {
    tracing::subscriber::set_global_default(tracing_subscriber::registry())
        .expect("the first global subscriber");
    let logs = tempfile::tempdir().unwrap();
    let Err(err) = Perf::install(&PerfOptions {
        session_id: "second".into(),
        logs_dir: logs.path().to_path_buf(),
        echo: false,
        enabled: true,
    }) else {
        panic!("recording started under another global subscriber");
    };
    assert!(matches!(err, InstallError::AlreadyInstalled(_)), "{err:?}");
    assert!(err.to_string().contains("already installed"), "{err}");
    assert!(
        !logs.path().join("second").exists(),
        "nothing is written for a session that cannot record"
    );
}
