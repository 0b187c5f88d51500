//! A field whose `Debug` returns `fmt::Error`, and a field longer than the cap: the
//! span is recorded, the first value ends with a visible marker of the failure, the
//! second is cut at the cap with a visible truncation marker. Nothing panics.

mod support;

use std::fmt;

struct Fails;

impl fmt::Debug for Fails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("half")?;
        Err(fmt::Error)
    }
}

#[test]
fn a_failing_debug_field_is_marked_not_a_panic() {
    let session = support::session_with(|b| b.max_field_len(8));
    session.run(|| {
        let long = "0123456789abcdef";
        tracing::info_span!("odd", value = ?Fails, long, n = 12_345_678_901_u64).in_scope(|| {});
    });
    let records = session.finish();
    let span = records.span("odd");
    assert_eq!(span.fields["value"], "half…[fmt error]");
    assert_eq!(span.fields["long"], "01234567…[truncated]");
    assert_eq!(
        span.fields["n"], 12_345_678_901_u64,
        "numbers are never cut"
    );
}
