#![doc = include_str!("../README.md")]

pub mod record;

mod buffers;
mod builder;
mod echo;
mod error;
mod fields;
mod handle;
mod layer;
mod local;
mod lock;
#[cfg(feature = "opentelemetry")]
pub mod otel;
mod session;
mod shared;
mod table;
mod timings;
mod writer;

pub use builder::{
    Backpressure, Builder, DEFAULT_BUFFER_BYTES, DEFAULT_FLUSH_INTERVAL, DEFAULT_MAX_FIELD_LEN,
};
pub use error::Error;
pub use handle::{FlushGuard, PerfHandle};
pub use layer::PerfLayer;
pub use session::validate_session_id;
