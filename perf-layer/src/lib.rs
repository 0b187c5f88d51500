#![doc = include_str!("../README.md")]

pub mod record;

mod builder;
mod error;
mod layer;

pub use builder::{Backpressure, Builder};
pub use error::Error;
pub use layer::{FlushGuard, PerfHandle, PerfLayer};
