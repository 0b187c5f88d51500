//! One layer cloned into two registries used on the same thread (a nested
//! `with_default`): both registries hand out the same span ids, yet every span of each
//! reaches the file with its own parent.

mod support;

use tracing_subscriber::layer::SubscriberExt;

#[test]
fn one_layer_in_two_registries_keeps_both() {
    let dir = tempfile::tempdir().unwrap();
    let (layer, guard) = support::builder(dir.path()).build().unwrap();
    let path = guard.handle().data_path();
    let outer = tracing_subscriber::registry().with(layer.clone());
    let inner = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(outer, || {
        let request = tracing::info_span!("outer_request").entered();
        tracing::subscriber::with_default(inner, || {
            let job = tracing::info_span!("inner_job").entered();
            tracing::info_span!("inner_step").in_scope(|| {});
            drop(job);
        });
        tracing::info_span!("outer_step").in_scope(|| {});
        drop(request);
    });
    drop(guard);
    let records = support::read(&path);
    assert_eq!(records.end().spans, 4, "{records:?}");
    let (request, step) = (records.span("outer_request"), records.span("outer_step"));
    let (job, inner_step) = (records.span("inner_job"), records.span("inner_step"));
    assert_eq!(step.parent, Some(request.id));
    assert_eq!(inner_step.parent, Some(job.id));
    assert_eq!(
        job.parent, None,
        "the inner registry knows nothing of the outer span"
    );
    assert_eq!(request.parent, None);
}
