//! The `tracing_subscriber::Layer` itself: the hot path.
//!
//! A span's state lives in a shard of the [`SpanTable`](crate::table::SpanTable), with
//! its fields already encoded as JSON text; a close moves it into the thread's own
//! buffer. Each callback takes one shard lock and reads the clock at most once; no I/O,
//! no heap allocation for spans whose fields fit the inline buffer, no lock or counter
//! shared by all threads.

use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::buffers::Pushed;
use crate::fields::{Encoder, Fields};
use crate::local;
use crate::record::Status;
use crate::shared::{warn_once, Shared};
use crate::table::{Key, SpanState, MAX_FOLLOWS};
use crate::Builder;

/// A `tracing_subscriber::Layer` that records span timings into a session file.
///
/// Built with [`PerfLayer::builder`], together with the [`FlushGuard`](crate::FlushGuard)
/// that ends the session. A clone added to a second subscriber records that
/// subscriber's spans into the same session: each subscriber's spans are kept apart.
#[derive(Debug, Clone)]
pub struct PerfLayer {
    pub(crate) shared: Arc<Shared>,
    /// Which subscriber this instance was added to (registries reuse each other's ids).
    tag: u64,
    #[cfg(feature = "opentelemetry")]
    otel: crate::otel::Subscriber,
}

/// A fresh tag for a layer instance.
fn next_tag() -> u64 {
    static TAGS: AtomicU64 = AtomicU64::new(1);
    TAGS.fetch_add(1, Ordering::Relaxed)
}

impl PerfLayer {
    /// Starts configuring a layer.
    pub fn builder() -> Builder {
        Builder::default()
    }

    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        PerfLayer {
            shared,
            tag: next_tag(),
            #[cfg(feature = "opentelemetry")]
            otel: Default::default(),
        }
    }

    #[inline]
    fn key(&self, id: &Id) -> Key {
        Key {
            tag: self.tag,
            id: id.into_u64(),
        }
    }

    /// Encodes a span's field values, cut at the configured length.
    #[inline]
    fn encode(&self, record: impl FnOnce(&mut Encoder<'_>)) -> Fields {
        let mut fields = Fields::default();
        self.encode_into(&mut fields, record);
        fields
    }

    /// Encodes field values into `fields`, where they stay (no move of the text).
    #[inline]
    fn encode_into(&self, fields: &mut Fields, record: impl FnOnce(&mut Encoder<'_>)) {
        let mut encoder = Encoder {
            fields,
            max_len: self.shared.max_field_len,
            cut: false,
        };
        record(&mut encoder);
        if encoder.cut {
            warn_once(
                &self.shared.warned_field_cut,
                format_args!(
                    "a field value is longer than {} bytes: it is cut and ends with `{}` \
                     (see Builder::max_field_len)",
                    self.shared.max_field_len,
                    crate::fields::TRUNCATED
                ),
            );
        }
    }

    /// The parent's layer id and depth. Fast path: the explicit parent, or the
    /// registry's current span; if this layer does not know that span (a per-layer
    /// filter disabled it), walk the registry's ancestry to the nearest known one.
    #[inline]
    fn parent<S>(
        &self,
        attrs: &Attributes<'_>,
        id: &Id,
        ctx: &Context<'_, S>,
    ) -> Option<(NonZeroU64, u32)>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let table = &self.shared.table;
        let known = |span: &Id| table.with(self.key(span), |p| (NonZeroU64::new(p.id), p.depth));
        let direct = if attrs.is_root() {
            return None;
        } else if let Some(parent) = attrs.parent() {
            parent.clone()
        } else {
            ctx.current_span().id()?.clone()
        };
        if let Some((Some(parent), depth)) = known(&direct) {
            return Some((parent, depth));
        }
        ctx.span(id)?
            .scope()
            .skip(1)
            .find_map(|ancestor| match known(&ancestor.id()) {
                Some((Some(parent), depth)) => Some((parent, depth)),
                _ => None,
            })
    }
}

impl<S> Layer<S> for PerfLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_layer(&mut self, _subscriber: &mut S) {
        self.tag = next_tag();
    }

    #[cfg(feature = "opentelemetry")]
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.otel.register(subscriber);
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let shared = &*self.shared;
        if shared.stopped.load(Ordering::Relaxed) {
            return;
        }
        let start = shared.clock.now();
        let parent = self.parent(attrs, id, &ctx);
        let mut state = SpanState::new(
            shared.ids.next(),
            parent,
            attrs.metadata(),
            local::thread_name(),
            start,
            Fields::default(),
        );
        self.encode_into(&mut state.fields, |encoder| attrs.record(encoder));
        if let Some(echo) = &shared.echo {
            echo.start(state.depth, state.meta.name(), state.id);
        }
        shared.table.insert(self.key(id), state, || {
            shared.stopped.load(Ordering::Relaxed)
        });
    }

    fn on_enter(&self, id: &Id, _ctx: Context<'_, S>) {
        let shared = &*self.shared;
        shared
            .table
            .with(self.key(id), |s| s.timings.enter(&shared.clock));
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        let shared = &*self.shared;
        shared
            .table
            .with(self.key(id), |s| s.timings.exit(&shared.clock));
    }

    fn on_close(&self, id: Id, _ctx: Context<'_, S>) {
        let shared = &*self.shared;
        let end = shared.clock.now();
        #[cfg(feature = "opentelemetry")]
        let otel = self.otel.ids(&id);
        // Buffered under the shard lock: the guard's drain of open spans cannot miss it.
        let Some((pushed, echo)) = shared.table.remove_with(self.key(&id), |state| {
            #[cfg(feature = "opentelemetry")]
            if let Some(ids) = &otel {
                state.fields.merge(ids);
            }
            let status = if state.error {
                Status::Error
            } else {
                Status::Ok
            };
            let pushed = shared.buffers.push(state, end, status);
            let start = state.timings.start;
            (pushed, (state.depth, state.meta.name(), state.id, start))
        }) else {
            return;
        };
        match pushed {
            Pushed::Kept => {}
            Pushed::KeptWake | Pushed::Dropped => shared.buffers.wake_writer(),
            Pushed::KeptOverBudget => shared.buffers.wait_for_room(),
        }
        if let Some(sink) = &shared.echo {
            let (depth, name, id, start) = echo;
            let duration = shared.clock.nanos(end.saturating_sub(start));
            sink.end(depth, name, id, duration);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        // Encode outside the shard lock: a field's Debug impl may itself use tracing.
        let later = self.encode(|encoder| values.record(encoder));
        if !later.is_empty() {
            self.shared
                .table
                .with(self.key(id), |s| s.fields.merge(&later));
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, _ctx: Context<'_, S>) {
        let table = &self.shared.table;
        let Some(cause) = table.with(self.key(follows), |s| s.id) else {
            return;
        };
        if table.with(self.key(id), |s| s.follow(cause)) == Some(false) {
            warn_once(
                &self.shared.warned_follows_cut,
                format_args!(
                    "a span follows from more than {MAX_FOLLOWS} spans: later links are not recorded"
                ),
            );
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() != Level::ERROR {
            return;
        }
        if let Some(span) = ctx.event_span(event) {
            self.shared
                .table
                .with(self.key(&span.id()), |s| s.error = true);
        }
    }
}
