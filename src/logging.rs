//! Logging setup: `tracing` to stderr, text or JSON, verbosity from `-v` or `RUST_LOG`.
//! Never log secret material: key types redact themselves in `Debug`.
//!
//! Owns: that logging never stops the signer. A line stderr does not take (a full disk under
//! a redirect, a closed pipe) is dropped and counted ([`LostLines`], on `/metrics`), never a
//! panic: tracing-subscriber's own fallback (`eprintln!`, which panics on a failed write) is
//! off.

use std::io::{self, IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (colours only on a terminal).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    pub const ALL: [LogFormat; 2] = [LogFormat::Text, LogFormat::Json];

    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// Log lines stderr did not take, since the start.
#[derive(Debug, Clone, Default)]
pub(crate) struct LostLines(Arc<AtomicU64>);

impl LostLines {
    pub(crate) fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// stderr, where a failed write is counted and dropped.
struct Stderr(LostLines);

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf).map(|()| buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        if io::stderr().lock().write_all(buf).is_err() {
            self.0.0.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().flush();
        Ok(())
    }
}

/// Installs the global subscriber. `verbose`: 0 = info, 1 = debug, 2+ = trace (for this crate;
/// dependencies stay at warn unless `RUST_LOG` says otherwise). Returns the count of lines
/// stderr did not take.
pub(crate) fn init(verbose: u8, format: LogFormat) -> LostLines {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,tezos_azure_signer={level}")));
    // Colours only on a terminal: journald and log files get plain text.
    let lost = LostLines::default();
    let counted = lost.clone();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(move || Stderr(counted.clone()))
        .log_internal_errors(false);
    // try_init: tests may call this more than once in one process.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    lost
}
