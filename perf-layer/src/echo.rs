//! Live `PERF_START` / `PERF_END` lines, for watching a program while it runs.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

/// Where echo lines go: stderr, or a writer the user gave.
#[derive(Clone)]
pub(crate) enum EchoSink {
    Stderr,
    Writer(Arc<Mutex<Box<dyn Write + Send>>>),
}

impl fmt::Debug for EchoSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EchoSink::Stderr => f.write_str("Stderr"),
            EchoSink::Writer(_) => f.write_str("Writer(..)"),
        }
    }
}

impl EchoSink {
    pub(crate) fn writer(writer: impl Write + Send + 'static) -> Self {
        EchoSink::Writer(Arc::new(Mutex::new(Box::new(writer))))
    }

    /// `PERF_START: {indent}{name} ({id})`
    pub(crate) fn start(&self, depth: u32, name: &str, id: u64) {
        self.line(format_args!("PERF_START: {}{name} ({id})\n", Indent(depth)));
    }

    /// `PERF_END: {indent}{name} ({id}) - 0.023s`
    pub(crate) fn end(&self, depth: u32, name: &str, id: u64, duration_ns: u64) {
        // Lossless enough for display: three decimals of seconds.
        let secs = duration_ns as f64 / 1e9;
        self.line(format_args!(
            "PERF_END: {}{name} ({id}) - {secs:.3}s\n",
            Indent(depth)
        ));
    }

    /// Writes one line in one call; echo failures are ignored (echo is a convenience).
    /// A writer that itself makes spans does not echo those (nor deadlock on itself).
    fn line(&self, args: fmt::Arguments<'_>) {
        thread_local! {
            static ECHOING: Cell<bool> = const { Cell::new(false) };
        }
        if ECHOING.try_with(|e| e.replace(true)).unwrap_or(true) {
            return;
        }
        self.write(args);
        let _ = ECHOING.try_with(|e| e.set(false));
    }

    fn write(&self, args: fmt::Arguments<'_>) {
        let line = args.to_string();
        let _ = match self {
            EchoSink::Stderr => io::stderr().lock().write_all(line.as_bytes()),
            EchoSink::Writer(w) => w
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .write_all(line.as_bytes()),
        };
    }
}

/// Two spaces per nesting depth.
struct Indent(u32);

impl fmt::Display for Indent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for _ in 0..self.0 {
            f.write_str("  ")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_indented_two_spaces_per_level() {
        let out = Shared::default();
        let sink = EchoSink::writer(out.clone());
        sink.start(0, "query_memory", 1);
        sink.start(1, "llm_generation", 2);
        sink.end(1, "llm_generation", 2, 23_400_000);
        sink.end(0, "query_memory", 1, 1_500_000_000);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "PERF_START: query_memory (1)\n\
             PERF_START:   llm_generation (2)\n\
             PERF_END:   llm_generation (2) - 0.023s\n\
             PERF_END: query_memory (1) - 1.500s\n"
        );
    }
}
