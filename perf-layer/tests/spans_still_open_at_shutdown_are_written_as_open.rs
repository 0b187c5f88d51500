//! Spans still open when the guard drops are written with status `open`, ending at the
//! flush time, and counted in the end line; an open child's line comes before its open
//! parent's, as for closed spans.

mod support;

use perf_layer::record::Status;

#[test]
fn spans_still_open_at_shutdown_are_written_as_open() {
    let session = support::session();
    let (background, entered, open_child) = session.run(|| {
        let background = tracing::info_span!("background_task");
        let entered = tracing::info_span!("entered_turn", turn = 3_u64).entered();
        tracing::info_span!("done").in_scope(|| {});
        let open_child = tracing::info_span!("open_child");
        (background, entered, open_child)
    });
    assert_eq!(session.handle.open_spans(), 3);

    let records = session.finish();
    let end = records.end();
    assert_eq!((end.spans, end.open, end.dropped), (4, 3, 0));
    let names: Vec<&str> = records.spans().iter().map(|s| &*s.name).collect();
    let at = |name: &str| names.iter().position(|n| *n == name).unwrap();
    assert!(at("open_child") < at("entered_turn"), "{names:?}");
    assert_eq!(
        records.span("open_child").parent,
        Some(records.span("entered_turn").id)
    );

    let background_rec = records.span("background_task");
    let turn = records.span("entered_turn");
    let done = records.span("done");
    assert_eq!(background_rec.status, Status::Open);
    assert_eq!(turn.status, Status::Open);
    assert_eq!(done.status, Status::Ok);
    assert_eq!(done.parent, Some(turn.id));
    assert_eq!(turn.fields["turn"], 3);
    for open in [background_rec, turn] {
        assert_eq!(open.end_ns, end.end_ns, "open spans end at the flush");
    }
    // Still entered at shutdown: busy up to the flush.
    assert_eq!(turn.enters, 1);
    assert!(turn.busy_ns > 0 && turn.busy_ns <= turn.duration_ns());

    // Closing them after the session ended is harmless and writes nothing.
    drop(open_child);
    drop(entered);
    drop(background);
}
