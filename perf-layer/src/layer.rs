//! The `tracing_subscriber::Layer` itself: the hot path.
//!
//! Each callback takes one shard lock of the [`SpanTable`] and reads the clock at most
//! once; a close moves the span's state into the bounded channel. No I/O, no
//! allocation for spans without fields, no lock or counter shared by all threads.

use std::num::NonZeroU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::fields::FieldValues;
use crate::local;
use crate::record::Status;
use crate::shared::Shared;
use crate::table::SpanState;
use crate::writer::Closed;
use crate::Builder;

/// A `tracing_subscriber::Layer` that records span timings into a session file.
///
/// Built with [`PerfLayer::builder`], together with the [`FlushGuard`](crate::FlushGuard)
/// that ends the session.
#[derive(Debug, Clone)]
pub struct PerfLayer {
    pub(crate) shared: Arc<Shared>,
}

impl PerfLayer {
    /// Starts configuring a layer.
    pub fn builder() -> Builder {
        Builder::default()
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
        let known = |span: &Id| table.with(span, |p| (NonZeroU64::new(p.id), p.depth));
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
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let shared = &*self.shared;
        if shared.stopped.load(Ordering::Relaxed) {
            return;
        }
        let start = shared.clock.now();
        let mut fields = FieldValues::default();
        attrs.record(&mut fields);
        let parent = self.parent(attrs, id, &ctx);
        let state = SpanState::new(
            shared.ids.next(),
            parent,
            attrs.metadata(),
            local::thread_name(),
            start,
            fields,
        );
        if let Some(echo) = &shared.echo {
            echo.start(state.depth, state.meta.name(), state.id);
        }
        shared.table.insert(id, state);
    }

    fn on_enter(&self, id: &Id, _ctx: Context<'_, S>) {
        let shared = &*self.shared;
        shared.table.with(id, |s| s.timings.enter(&shared.clock));
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        let shared = &*self.shared;
        shared.table.with(id, |s| s.timings.exit(&shared.clock));
    }

    fn on_close(&self, id: Id, _ctx: Context<'_, S>) {
        let shared = &*self.shared;
        let Some(state) = shared.table.remove(&id) else {
            return;
        };
        let end = shared.clock.now();
        if let Some(echo) = &shared.echo {
            let duration = shared.clock.nanos(end.saturating_sub(state.timings.start));
            echo.end(state.depth, state.meta.name(), state.id, duration);
        }
        let status = if state.error {
            Status::Error
        } else {
            Status::Ok
        };
        shared.send(Closed { state, end, status });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        // Visit outside the shard lock: a field's Debug impl may itself use tracing.
        let mut later = FieldValues::default();
        values.record(&mut later);
        if !later.is_empty() {
            self.shared.table.with(id, |s| s.record(later));
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, _ctx: Context<'_, S>) {
        let table = &self.shared.table;
        if let Some(cause) = table.with(follows, |s| s.id) {
            table.with(id, |s| s.follow(cause));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() != Level::ERROR {
            return;
        }
        if let Some(span) = ctx.event_span(event) {
            self.shared.table.with(&span.id(), |s| s.error = true);
        }
    }
}
