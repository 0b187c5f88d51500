//! A session directory deleted while the program runs: the layer says so once on
//! stderr and counts every record it can no longer write, instead of writing into a
//! file nobody can see.

#![cfg(target_os = "linux")]

mod support;

use std::path::PathBuf;

const NAME: &str = "a_deleted_session_directory_warns_once_and_counts_drops";
const AFTER: u64 = 40;

#[test]
fn a_deleted_session_directory_warns_once_and_counts_drops() {
    let Some((_dir, out)) = support::in_child(NAME, child) else {
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("dropped {AFTER}")), "{stdout}");
    let warned = support::warnings(&out);
    assert_eq!(warned.len(), 1, "one warning: {stderr}");
    assert!(warned[0].contains("deleted"), "{}", warned[0]);
    assert!(
        warned[0].contains("performance_data.jsonl"),
        "{}",
        warned[0]
    );
}

fn child(dir: PathBuf) {
    let (layer, guard) = support::builder(&dir).build().expect("build");
    let handle = guard.handle();
    let subscriber =
        tracing_subscriber::layer::SubscriberExt::with(tracing_subscriber::registry(), layer);
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("kept").in_scope(|| {});
        handle.flush();
        std::fs::remove_dir_all(handle.session_dir()).unwrap();
        for i in 0..AFTER {
            tracing::info_span!("lost", i).in_scope(|| {});
            if i % 10 == 0 {
                handle.flush();
            }
        }
    });
    handle.flush();
    println!("dropped {}", handle.dropped());
    drop(guard);
}
