//! A disk that fills in the middle of a write, and has room again later: the lines that
//! could not be written are counted as dropped, the line cut in half is removed, and the
//! `end` line's counts agree with the span lines in the file. One warning, no panic.
//!
//! The full disk is a file size limit (`RLIMIT_FSIZE`) set by the test's own child
//! process, which then lifts it again.

#![cfg(target_os = "linux")]

mod support;

use std::path::PathBuf;

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

const NAME: &str = "a_disk_that_fills_mid_write_leaves_an_end_line_that_agrees_with_the_file";
const BEFORE: u64 = 100;
const WHILE_FULL: u64 = 50;
const AFTER: u64 = 30;

#[test]
fn a_disk_that_fills_mid_write_leaves_an_end_line_that_agrees_with_the_file() {
    let Some((dir, out)) = support::in_child(NAME, child) else {
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    let records = support::read(
        &dir.path()
            .join("test_session")
            .join("performance_data.jsonl"),
    );
    let spans = records.spans();
    let end = records.end();
    assert_eq!(
        end.spans,
        spans.len() as u64,
        "the end line counts the file's span lines"
    );
    assert_eq!(
        end.spans + end.dropped,
        BEFORE + WHILE_FULL + AFTER,
        "every span is in the file or counted as dropped"
    );
    let count = |name: &str| spans.iter().filter(|s| s.name == name).count() as u64;
    assert!(
        count("before") > 0,
        "the lines before the limit were written"
    );
    assert!(count("before") < BEFORE, "the limit cut the first batch");
    assert_eq!(count("while_full"), 0);
    assert_eq!(count("after"), AFTER, "writing resumes once there is room");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("dropped {}", end.dropped)),
        "the handle and the end line agree: {stdout}"
    );
    let warned = support::warnings(&out);
    assert_eq!(warned.len(), 1, "one warning: {stderr}");
    assert!(warned[0].contains("File too large"), "{}", warned[0]);
}

fn child(dir: PathBuf) {
    let (layer, guard) = support::builder(&dir).build().expect("build");
    let handle = guard.handle();
    let path = handle.data_path();
    let subscriber =
        tracing_subscriber::layer::SubscriberExt::with(tracing_subscriber::registry(), layer);
    let unlimited = getrlimit(Resource::Fsize);
    tracing::subscriber::with_default(subscriber, || {
        handle.flush();
        let len = std::fs::metadata(&path).unwrap().len();
        // The disk fills 1,000 bytes further on: the next write stops part-way.
        setrlimit(
            Resource::Fsize,
            Rlimit {
                current: Some(len + 1000),
                maximum: unlimited.maximum,
            },
        )
        .unwrap();
        for i in 0..BEFORE {
            tracing::info_span!("before", i).in_scope(|| {});
        }
        handle.flush();
        for i in 0..WHILE_FULL {
            tracing::info_span!("while_full", i).in_scope(|| {});
        }
        handle.flush();
        setrlimit(Resource::Fsize, unlimited).unwrap();
        for i in 0..AFTER {
            tracing::info_span!("after", i).in_scope(|| {});
        }
    });
    println!("dropped {}", handle.dropped());
    drop(guard);
}
