#![doc = include_str!("../README.md")]

pub mod config;
pub mod llm;
pub mod memory;
pub mod perf;
pub mod repl;
pub mod sessions;

pub use config::DomainConfig;
pub use llm::{Llm, LlmError};
pub use memory::{MemoryError, MemoryManager, Turn};
pub use perf::{InstallError, Perf, PerfOptions};
pub use repl::{Input, Session};
