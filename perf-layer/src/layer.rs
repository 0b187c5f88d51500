//! The `tracing_subscriber::Layer` itself: the hot path.
//!
//! Each callback takes one shard lock of the [`SpanTable`] and reads the clock at most
//! once; a close moves the span's state into the bounded channel. No I/O, no
//! allocation for spans without fields, no lock or counter shared by all threads.

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
use crate::timings::Timings;
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
        let parent = ctx
            .span(id)
            .and_then(|span| span.parent())
            .and_then(|parent| shared.table.with(&parent.id(), |p| (p.id, p.depth)));
        let state = SpanState {
            id: shared.ids.next(),
            parent: parent.map(|(id, _)| id),
            depth: parent.map_or(0, |(_, depth)| depth + 1),
            follows_from: Vec::new(),
            meta: attrs.metadata(),
            thread: local::thread_name(),
            timings: Timings::new(start),
            error: false,
            fields,
        };
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
        let end_ns = shared.clock.now();
        if let Some(echo) = &shared.echo {
            let duration = end_ns.saturating_sub(state.timings.start_ns);
            echo.end(state.depth, state.meta.name(), state.id, duration);
        }
        let status = if state.error {
            Status::Error
        } else {
            Status::Ok
        };
        shared.send(Closed {
            state,
            end_ns,
            status,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        // Visit outside the shard lock: a field's Debug impl may itself use tracing.
        let mut later = FieldValues::default();
        values.record(&mut later);
        if !later.is_empty() {
            self.shared.table.with(id, |s| s.fields.merge(later));
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, _ctx: Context<'_, S>) {
        let table = &self.shared.table;
        if let Some(cause) = table.with(follows, |s| s.id) {
            table.with(id, |s| {
                if !s.follows_from.contains(&cause) {
                    s.follows_from.push(cause);
                }
            });
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
