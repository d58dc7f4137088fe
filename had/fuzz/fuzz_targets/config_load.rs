//! Fuzz the had.toml loader (`had::config::parse_str`: TOML parsing, the
//! schema, validation with line numbers) and, for what it accepts, the plan
//! the daemon builds from it and the failover arithmetic: none may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(loaded) = had::config::parse_str(text, "fuzz.toml") else {
        return;
    };
    let _ = had::plan::from_config(&loaded);
    // What the loader accepted serializes back to TOML that loads again.
    if let Ok(again) = toml::to_string(&loaded.config) {
        let _ = had::config::parse_str(&again, "fuzz-again.toml");
    }
});
