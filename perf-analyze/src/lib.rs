#![doc = include_str!("../README.md")]

pub mod analysis;
pub mod duration;
#[cfg(feature = "test-util")]
pub mod generate;
pub mod input;
pub mod output;

mod error;
mod options;
mod warning;

pub use analysis::{
    analyze_path, analyze_reader, Analysis, NameRow, SegmentInfo, Summary, SUMMARY_FILE,
};
pub use error::Error;
pub use input::{
    data_file, list_sessions, resolve, session_origin_ns, validate_session_name, visit, visit_path,
    Fields, Input, Node, Segment, SegmentEnd, SourceFormat, Span, Status, Tree, VisitReport,
    Visitor,
};
pub use options::{Options, Thresholds};
pub use output::{export, Format, RenderOptions};
pub use warning::{Warning, WarningKind, Warnings};
