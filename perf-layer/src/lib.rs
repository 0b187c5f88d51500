#![doc = include_str!("../README.md")]

pub mod record;

mod builder;
mod echo;
mod error;
mod fields;
mod handle;
mod layer;
mod local;
mod session;
mod shared;
mod table;
mod timings;
mod writer;

pub use builder::{Backpressure, Builder, DEFAULT_CAPACITY, DEFAULT_FLUSH_INTERVAL};
pub use error::Error;
pub use handle::{FlushGuard, PerfHandle};
pub use layer::PerfLayer;
pub use session::validate_session_id;
