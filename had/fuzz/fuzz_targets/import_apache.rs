//! Fuzz the Apache vhost importer (`had::import::apache::import_str`) and
//! feed what it produces to the had.toml loader: neither may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `Include` reads files from the real filesystem: not fuzzed here.
    if text.to_ascii_lowercase().contains("include") {
        return;
    }
    if let Ok(imported) = had::import::apache::import_str(text, "/nonexistent/000-default.conf") {
        let _ = had::config::parse_str(&imported.toml(), "imported.toml");
    }
});
