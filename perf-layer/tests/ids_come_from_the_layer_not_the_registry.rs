//! The registry's span ids are slab keys, reused for later spans once a span closes (with
//! a generation tag); the file's ids are the layer's own counter, 1, 2, 3... per thread
//! block, never repeated within a segment.

mod support;

use std::collections::HashSet;

#[test]
fn ids_come_from_the_layer_not_the_registry() {
    let session = support::session();
    let registry_ids: Vec<u64> = session.run(|| {
        (0..100)
            .map(|_| {
                let span = tracing::info_span!("reused");
                span.id().expect("enabled").into_u64()
            })
            .collect()
    });
    let slots: HashSet<u64> = registry_ids.iter().map(|id| (id - 1) & 0xFFFF).collect();
    assert!(
        slots.len() < 100,
        "the registry reuses its slots: {registry_ids:?}"
    );
    let records = session.finish();
    let ids: Vec<u64> = records.spans().iter().map(|s| s.id).collect();
    assert_eq!(ids.len(), 100);
    assert_eq!(
        ids,
        (1..=100).collect::<Vec<_>>(),
        "one thread counts 1, 2, 3..."
    );
}
