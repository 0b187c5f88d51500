//! Two threads closing spans as fast as they can, each span with a 1 MiB field value:
//! the process grows by at most 16 MiB with the defaults (values are cut at 256 B, with
//! a visible marker), and stays bounded by the buffer's bytes even with no cap on
//! values (each record then holds the whole 1 MiB). Measured in a child process of its
//! own (peak resident memory, `VmHWM`, against the resident memory before the burst).

#![cfg(target_os = "linux")]

mod support;

use std::path::PathBuf;

use perf_layer::{Builder, DEFAULT_MAX_FIELD_LEN};

const NAME: &str = "memory_stays_bounded_with_1_mib_fields";
const MIB: u64 = 1 << 20;

#[test]
fn memory_stays_bounded_with_1_mib_fields() {
    if let Some(dir) = std::env::var_os(support::CHILD) {
        return child(dir.into());
    }
    let dir = tempfile::tempdir().unwrap();
    let out = support::rerun_as_child(NAME, dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let growth = |case: &str| -> u64 {
        stdout
            .lines()
            .find_map(|l| l.split(&format!("{case} growth ")).nth(1))
            .and_then(|kib| kib.trim_end_matches(" kB").parse().ok())
            .unwrap_or_else(|| panic!("no {case} line in {stdout}"))
    };
    assert!(growth("capped") * 1024 <= 16 * MIB, "{stdout}");
    assert!(growth("uncapped") * 1024 <= 48 * MIB, "{stdout}");
    let warned = support::warnings(&out);
    assert_eq!(warned.len(), 1, "one warning about the cut: {warned:?}");
    assert!(
        warned[0].contains(&format!("{DEFAULT_MAX_FIELD_LEN} bytes")),
        "{}",
        warned[0]
    );
}

fn child(dir: PathBuf) {
    let value = "x".repeat(MIB as usize);
    let capped = burst(&dir.join("capped"), &value, 2000, |b| b);
    println!("capped growth {capped} kB");
    let records = support::read(&dir.join("capped/test_session/performance_data.jsonl"));
    let span = records.spans()[0].clone();
    let kept = span.fields["value"].as_str().unwrap();
    assert!(
        kept.ends_with("…[truncated]"),
        "{}",
        &kept[kept.len() - 20..]
    );
    assert_eq!(kept.len(), DEFAULT_MAX_FIELD_LEN + "…[truncated]".len());
    let uncapped = burst(&dir.join("uncapped"), &value, 60, |b| {
        b.max_field_len(usize::MAX)
    });
    println!("uncapped growth {uncapped} kB");
}

/// Two threads each close `per_thread` spans carrying `value`; returns the growth in kB.
fn burst(
    logs: &std::path::Path,
    value: &str,
    per_thread: u64,
    configure: fn(Builder) -> Builder,
) -> u64 {
    let (layer, guard) = configure(support::builder(logs)).build().expect("build");
    let dispatch = tracing::Dispatch::new(tracing_subscriber::layer::SubscriberExt::with(
        tracing_subscriber::registry(),
        layer,
    ));
    let before = kib("VmRSS:");
    reset_peak();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            let dispatch = &dispatch;
            scope.spawn(move || {
                tracing::dispatcher::with_default(dispatch, || {
                    for i in 0..per_thread {
                        tracing::info_span!("big", i, value).in_scope(|| {});
                    }
                });
            });
        }
    });
    drop(guard);
    kib("VmHWM:").saturating_sub(before)
}

/// Resets the peak resident memory the kernel reports (`VmHWM`).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
}

fn kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}
