#![doc = include_str!("../README.md")]

pub mod advice;
pub mod background;
pub mod bottleneck;
pub mod compare;
pub mod critical;
pub mod duration;
pub mod export;
pub mod generate;
pub mod intervals;
pub mod jaeger;
pub mod llm;
pub mod load;
pub mod otlp;
pub mod parallelism;
pub mod pick;
pub mod report;
pub mod sketch;
pub mod stats;
pub mod tree;
pub mod trend;

mod analysis;
mod error;
mod options;
mod otel;
mod pipeline;
mod session;
mod span;
mod warning;

pub use analysis::{analyze_path, analyze_reader, Analysis, SegmentInfo};
pub use error::Error;
pub use options::{Options, Thresholds};
pub use pipeline::{data_file, visit, visit_path, VisitReport, Visitor};
pub use report::{Format, RenderOptions, Summary, SUMMARY_FILE};
pub use session::{list_sessions, resolve, validate_session_name, Input};
pub use span::{Fields, Segment, SegmentEnd, SourceFormat, Span, Status};
pub use tree::{Node, Tree};
pub use warning::{Warning, WarningKind, Warnings};
