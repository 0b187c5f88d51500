//! The link to perf-layer (recording) and perf-analyze (the `perf` commands and the
//! final report).

use std::path::{Path, PathBuf};

use perf_analyze::{Format, Options, RenderOptions};
use perf_layer::{FlushGuard, PerfHandle, PerfLayer};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::{SubscriberInitExt, TryInitError};
use tracing_subscriber::{EnvFilter, Layer};

/// How to record the session.
#[derive(Debug, Clone)]
pub struct PerfOptions {
    /// The session id (directory name).
    pub session_id: String,
    /// The logs directory.
    pub logs_dir: PathBuf,
    /// Echo live `PERF_START`/`PERF_END` lines; when false, `DEV_MODE` still decides.
    pub echo: bool,
    /// Record at all (`--no-perf` turns it off, to measure the cost of recording).
    pub enabled: bool,
}

/// The recording of this session, if enabled.
#[derive(Debug)]
pub struct Perf {
    active: Option<(FlushGuard, PerfHandle)>,
}

/// What the end of a session printed and saved.
#[derive(Debug, Clone)]
pub struct FinalReport {
    /// The rendered report.
    pub text: String,
    /// Where the summary was saved, if it could be.
    pub summary: Result<PathBuf, String>,
}

const WIDTH: u16 = 100;

/// Why recording could not start.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The perf layer could not be built (session directory, file).
    #[error(transparent)]
    Layer(#[from] perf_layer::Error),
    /// Another global tracing subscriber was installed first.
    #[error("another global tracing subscriber is already installed; this one would see no spans or events")]
    AlreadyInstalled(#[source] Option<TryInitError>),
}

impl Perf {
    /// Installs the global subscriber: the perf layer (unless disabled) and, when
    /// `RUST_LOG` is set, log lines on stderr. Fails, writing nothing, if another global
    /// subscriber is already installed: it would get every span and event instead.
    pub fn install(options: &PerfOptions) -> Result<Perf, InstallError> {
        let log = std::env::var_os("RUST_LOG").map(|_| {
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(EnvFilter::from_default_env())
        });
        if !options.enabled && log.is_none() {
            return Ok(Perf { active: None });
        }
        if tracing::dispatcher::has_been_set() {
            return Err(InstallError::AlreadyInstalled(None));
        }
        if !options.enabled {
            tracing_subscriber::registry()
                .with(log)
                .try_init()
                .map_err(|e| InstallError::AlreadyInstalled(Some(e)))?;
            return Ok(Perf { active: None });
        }
        // The environment first (DEV_MODE, PERF_LOGS_DIR), then what was given explicitly:
        // `logs_dir` already is the flag, else PERF_LOGS_DIR, else the default; `--dev`
        // can only turn the echo on, so DEV_MODE=true is never overridden.
        let mut builder = PerfLayer::builder()
            .from_env()
            .session_id(&options.session_id)
            .logs_dir(&options.logs_dir);
        if options.echo {
            builder = builder.echo(true);
        }
        let (layer, guard) = builder.build()?;
        let handle = guard.handle();
        tracing_subscriber::registry()
            .with(log)
            .with(layer)
            .try_init()
            .map_err(|e| InstallError::AlreadyInstalled(Some(e)))?;
        Ok(Perf {
            active: Some((guard, handle)),
        })
    }

    /// True if the session is being recorded.
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.active.is_some()
    }

    /// The report of the session so far (`perf`, `perfdetail`).
    #[must_use]
    pub fn report(&self, detailed: bool, background_running: usize) -> String {
        let Some((_, handle)) = &self.active else {
            return "Performance tracking is off (started with --no-perf).\n".into();
        };
        handle.flush();
        let mut text = render(&handle.data_path(), detailed)
            .unwrap_or_else(|e| format!("cannot analyze the session: {e}"));
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!(
            "{background_running} background operation{} still running\n",
            if background_running == 1 {
                " is"
            } else {
                "s are"
            }
        ));
        text
    }

    /// Ends the recording (flush, `end` line), then analyzes the complete session and
    /// saves its summary. `None` when recording is off.
    #[must_use]
    pub fn finish(self) -> Option<FinalReport> {
        let (guard, handle) = self.active?;
        let data = handle.data_path();
        let dir = handle.session_dir().to_path_buf();
        drop(guard);
        let analysis = match perf_analyze::analyze_path(&data, &Options::default()) {
            Ok(a) => a,
            Err(e) => {
                return Some(FinalReport {
                    text: format!("cannot analyze the session: {e}\n"),
                    summary: Err(e.to_string()),
                })
            }
        };
        let text = analysis.render(
            Format::Table,
            &RenderOptions {
                detailed: false,
                width: WIDTH,
            },
        );
        let summary = analysis.save_summary(&dir).map_err(|e| e.to_string());
        Some(FinalReport { text, summary })
    }
}

fn render(data: &Path, detailed: bool) -> Result<String, perf_analyze::Error> {
    let analysis = perf_analyze::analyze_path(data, &Options::default())?;
    Ok(analysis.render(
        Format::Table,
        &RenderOptions {
            detailed,
            width: WIDTH,
        },
    ))
}
