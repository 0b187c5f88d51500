//! The session loop: reads lines (interactively with line editing and history, or piped),
//! runs commands and turns, and ends with the final report.

mod commands;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;
use tokio::io::{AsyncBufReadExt, BufReader, Lines, Stdin};
use tokio::sync::watch;

pub use commands::{Command, HELP};

use crate::memory::{MemoryManager, Turn};
use crate::perf::{FinalReport, Perf};

/// Where lines come from.
#[derive(Debug)]
pub enum Input {
    /// A terminal: line editing, history saved to the given file.
    Interactive(PathBuf),
    /// Standard input is a pipe or file: one line at a time, echoed.
    Piped,
}

impl Input {
    /// Interactive if standard input is a terminal.
    #[must_use]
    pub fn detect(history_file: PathBuf) -> Input {
        if std::io::stdin().is_terminal() {
            Input::Interactive(history_file)
        } else {
            Input::Piped
        }
    }
}

enum Source {
    Editor(Option<Box<DefaultEditor>>, PathBuf),
    Piped(Lines<BufReader<Stdin>>),
}

impl Source {
    fn open(input: Input) -> Source {
        match input {
            Input::Interactive(history) => match DefaultEditor::new() {
                Ok(mut editor) => {
                    let _ = editor.load_history(&history);
                    Source::Editor(Some(Box::new(editor)), history)
                }
                Err(e) => {
                    eprintln!("note: no line editing ({e}); reading plain lines");
                    Source::Piped(BufReader::new(tokio::io::stdin()).lines())
                }
            },
            Input::Piped => Source::Piped(BufReader::new(tokio::io::stdin()).lines()),
        }
    }

    /// The next line; `None` at end of input, Ctrl-D or Ctrl-C.
    async fn next(&mut self) -> Option<String> {
        match self {
            Source::Editor(slot, _) => {
                let mut editor = slot.take()?;
                let (editor, result) = tokio::task::spawn_blocking(move || {
                    let result = editor.readline("> ");
                    (editor, result)
                })
                .await
                .ok()?;
                let mut editor = editor;
                let line = match result {
                    Ok(line) => {
                        if !line.trim().is_empty() {
                            let _ = editor.add_history_entry(line.as_str());
                        }
                        Some(line)
                    }
                    Err(ReadlineError::Interrupted | ReadlineError::Eof) => None,
                    Err(e) => {
                        eprintln!("error: cannot read the terminal: {e}");
                        None
                    }
                };
                *slot = Some(editor);
                line
            }
            Source::Piped(lines) => match lines.next_line().await {
                Ok(line) => line,
                Err(e) => {
                    eprintln!("error: cannot read standard input: {e}");
                    None
                }
            },
        }
    }

    fn is_piped(&self) -> bool {
        matches!(self, Source::Piped(_))
    }

    fn save_history(&mut self) {
        if let Source::Editor(Some(editor), path) = self {
            let _ = editor.save_history(path);
        }
    }
}

/// A running session.
#[derive(Debug)]
pub struct Session {
    memory: MemoryManager,
    perf: Perf,
    interrupts: watch::Receiver<u64>,
}

enum Flow {
    Continue,
    Quit,
}

impl Session {
    /// A session over `memory`, recorded by `perf`. Ctrl-C ends it from now on.
    #[must_use]
    pub fn new(memory: MemoryManager, perf: Perf) -> Session {
        let (tx, interrupts) = watch::channel(0u64);
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                tx.send_modify(|n| *n += 1);
            }
        });
        Session {
            memory,
            perf,
            interrupts,
        }
    }

    /// Reads and handles lines until the end of the session, then prints the final
    /// report; returns it (`None` with `--no-perf`).
    pub async fn run(mut self, input: Input) -> Option<FinalReport> {
        let mut source = Source::open(input);
        loop {
            self.print_notes();
            let line = tokio::select! {
                line = source.next() => line,
                _ = self.interrupts.changed() => None,
            };
            let Some(line) = line else { break };
            if source.is_piped() && !line.trim().is_empty() {
                println!("> {}", line.trim());
            }
            if let Flow::Quit = self.handle(&line).await {
                break;
            }
        }
        source.save_history();
        self.finish().await
    }

    async fn handle(&mut self, line: &str) -> Flow {
        match Command::parse(line) {
            Command::Empty => {}
            Command::Help => println!("{HELP}"),
            Command::Quit => return Flow::Quit,
            Command::Perf | Command::PerfDetail => {
                let detailed = matches!(Command::parse(line), Command::PerfDetail);
                let running = self.memory.background().running();
                print!("{}", self.perf.report(detailed, running));
            }
            Command::Memory => {
                let s = self.memory.stats();
                println!(
                    "{} entries, {} digests, {} embedded texts, {} entities, {} relationships ({} background operations running)",
                    s.entries, s.digests, s.embedded, s.entities, s.relationships,
                    self.memory.background().running()
                );
            }
            Command::Message(message) => {
                let result = tokio::select! {
                    r = self.memory.query(&message) => r,
                    _ = self.interrupts.changed() => return Flow::Quit,
                };
                match result {
                    Ok(turn) => print_turn(&turn),
                    Err(e) => eprintln!("error: {e}"),
                }
            }
        }
        let _ = std::io::stdout().flush();
        Flow::Continue
    }

    fn print_notes(&self) {
        for note in self.memory.take_notes() {
            eprintln!("note: {note}");
        }
    }

    /// Waits for the background operations (a Ctrl-C stops waiting), then ends the
    /// recording and prints the SESSION PERFORMANCE REPORT.
    async fn finish(mut self) -> Option<FinalReport> {
        let tasks = self.memory.background().clone();
        let running = tasks.running();
        if running > 0 {
            println!(
                "Waiting for {running} background operations to finish (Ctrl-C to stop waiting)..."
            );
            tokio::select! {
                () = tasks.wait_idle() => {}
                _ = self.interrupts.changed() => {
                    println!("Stopped waiting: {} background operations still running.", tasks.running());
                }
            }
        }
        self.print_notes();
        let dir = self.memory.dir().to_path_buf();
        let report = self.perf.finish();
        match &report {
            Some(report) => {
                let rule = "=".repeat(80);
                println!("\n{rule}\nSESSION PERFORMANCE REPORT");
                print!("{}", report.text);
                if let Err(e) = &report.summary {
                    eprintln!("error: the summary could not be saved: {e}");
                }
                println!("Detailed performance data saved to: {}/", dir.display());
            }
            None => println!("Session saved to: {}/", dir.display()),
        }
        let _ = std::io::stdout().flush();
        report
    }
}

fn print_turn(turn: &Turn) {
    println!("Agent: {}", turn.answer);
    let g = &turn.generation;
    let mut facts = vec![format!("llm {:.2} s", g.wall.as_secs_f64())];
    if let Some(t) = g.time_to_first_token {
        facts.push(format!("first token {:.2} s", t.as_secs_f64()));
    }
    if let Some(n) = g.metrics.eval_count {
        match g.metrics.tokens_per_second() {
            Some(rate) => facts.push(format!("{n} tokens at {rate:.0} tok/s")),
            None => facts.push(format!("{n} tokens")),
        }
    }
    println!("  ({})", facts.join(" · "));
    for note in &turn.notes {
        eprintln!("note: {note}");
    }
}
