//! Logging to stderr through tracing-subscriber (journald picks stderr up).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Install the global subscriber: one line per event on stderr, filtered by
/// `RUST_LOG`, `info` by default. Calling it twice is harmless. (Not a
/// `HAD_*` variable: those are configuration overrides.)
pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}
