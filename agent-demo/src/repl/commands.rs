//! The commands understood at the prompt.
//!
//! ```
//! use agent_demo::repl::Command;
//!
//! assert_eq!(Command::parse("  PerfDetail "), Command::PerfDetail);
//! assert_eq!(Command::parse("exit"), Command::Quit);
//! assert_eq!(Command::parse("Where is Haven?"), Command::Message("Where is Haven?".into()));
//! assert_eq!(Command::parse("   "), Command::Empty);
//! ```

/// One line of input, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `help`
    Help,
    /// `perf`: the report so far.
    Perf,
    /// `perfdetail`: the detailed report.
    PerfDetail,
    /// `memory`: what is remembered.
    Memory,
    /// `quit` or `exit`.
    Quit,
    /// Anything else: a message for the agent.
    Message(String),
    /// A blank line.
    Empty,
}

/// The text printed by `help`.
pub const HELP: &str = "\
Commands:
  help        this list
  perf        performance report of the session so far
  perfdetail  detailed analysis with bottlenecks and recommendations
  memory      what the agent remembers (entries, digests, embeddings, graph)
  quit, exit  end the session (also Ctrl-D, Ctrl-C) with the final report
Anything else is a message for the agent.";

impl Command {
    /// Reads a line: commands are single words, any case; the rest is a message.
    #[must_use]
    pub fn parse(line: &str) -> Command {
        let line = line.trim();
        match line.to_lowercase().as_str() {
            "" => Command::Empty,
            "help" | "?" => Command::Help,
            "perf" => Command::Perf,
            "perfdetail" => Command::PerfDetail,
            "memory" => Command::Memory,
            "quit" | "exit" => Command::Quit,
            _ => Command::Message(line.to_string()),
        }
    }
}
