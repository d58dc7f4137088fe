//! Fuzz the keepalived.conf importer (`had::import::keepalived::import_str`)
//! and feed what it produces to the had.toml loader: neither may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `include` reads files (globs) from the real filesystem: not what is
    // fuzzed here, and it would make runs depend on the machine.
    if text.contains("include") {
        return;
    }
    if let Ok(imported) = had::import::keepalived::import_str(text, "/nonexistent/keepalived.conf")
    {
        let _ = had::config::parse_str(&imported.toml(), "imported.toml");
    }
});
