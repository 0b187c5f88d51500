//! With the `opentelemetry` feature: each span's OpenTelemetry trace id and span id, as
//! `tracing-opentelemetry`'s layer in the same subscriber assigned them, written as the
//! fields [`TRACE_ID`] and [`SPAN_ID`] (lowercase hex, as OTLP JSON writes them).
//!
//! The ids are read when the span closes, not when it is created: the OpenTelemetry
//! layer starts its span (and draws its ids) lazily, so that a parent set after creation
//! (`OpenTelemetrySpanExt::set_parent`, how a span joins an incoming distributed trace)
//! still counts. Reading them at creation would start the span and make that fail.
//! At close the OpenTelemetry layer must not have closed its span yet: this layer must
//! be added to the registry before (nearer the registry than) the OpenTelemetry layer.

use std::sync::OnceLock;

use opentelemetry::trace::TraceContextExt as _;
use tracing::dispatcher::WeakDispatch;
use tracing::span::Id;
use tracing::Dispatch;

use crate::fields::Fields;

/// The field holding a span's OpenTelemetry trace id (32 hex digits).
pub const TRACE_ID: &str = "otel.trace_id";
/// The field holding a span's OpenTelemetry span id (16 hex digits).
pub const SPAN_ID: &str = "otel.span_id";

/// The subscriber a layer instance was registered with; weak, since the subscriber
/// owns the layer. A clone starts empty: it is added to a subscriber of its own.
#[derive(Debug, Default)]
pub(crate) struct Subscriber(OnceLock<WeakDispatch>);

impl Clone for Subscriber {
    fn clone(&self) -> Self {
        Subscriber::default()
    }
}

impl Subscriber {
    pub(crate) fn register(&self, dispatch: &Dispatch) {
        // The first registration wins: that is the subscriber whose spans we see.
        let _ = self.0.set(dispatch.downgrade());
    }

    /// The span's ids as fields, if an OpenTelemetry layer of this subscriber still
    /// holds the span with valid ids. Call it holding no lock: the OpenTelemetry layer
    /// may start its span here.
    pub(crate) fn ids(&self, id: &Id) -> Option<Fields> {
        let dispatch = self.0.get()?.upgrade()?;
        let cx = tracing_opentelemetry::get_otel_context(id, &dispatch)?;
        let span = cx.span();
        let ids = span.span_context();
        if !ids.is_valid() {
            return None;
        }
        let mut fields = Fields::default();
        fields.set_str(TRACE_ID, &ids.trace_id().to_string());
        fields.set_str(SPAN_ID, &ids.span_id().to_string());
        Some(fields)
    }
}
