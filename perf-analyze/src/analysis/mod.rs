//! The analysis layer: complete root trees into the numbers, findings and advice
//! of an [`Analysis`], whose [`Summary`] is the `performance_summary.json` document.
//!
//! The analyzer is an [input](crate::input) [`Visitor`](crate::input::Visitor):
//! it feeds every tree to each aggregator (per-name [`stats`], [`parallelism`],
//! [`background`] work, [`llm`] calls, active time by [`intervals`], the [`causes`]
//! of slow user-facing work with its [`latency`] over time), keeps the [`latest`]
//! operation for its [`critical`] path, and at the end sums up: the
//! [`bottleneck`]s, then the [`advice`]: the causes' findings, ranked by saving. [`compare`] and
//! [`trend`] work on summaries, across sessions.
//!
//! A new analysis is one more module here, fed from the analyzer's `tree` and
//! summed up in its `finish`; what it finds goes into [`Summary`] if it belongs
//! in the document. This layer reads the input layer's model and knows nothing
//! of how results are rendered.

pub mod advice;
mod analyzer;
pub mod background;
pub mod bottleneck;
pub mod causes;
pub mod compare;
pub mod critical;
pub mod intervals;
pub mod latency;
pub mod latest;
pub mod llm;
pub mod parallelism;
pub mod sketch;
pub mod stats;
mod summary;
pub mod trend;

pub(crate) use analyzer::Analyzer;
pub use analyzer::{analyze_path, analyze_reader, Analysis, SegmentInfo};
pub use summary::{NameRow, Summary, Workload, SUMMARY_FILE};
