//! Fuzz the Apache vhost importer (`had::import::apache::import_text`) and
//! feed what it produces to the had.toml loader: neither may panic.
//!
//! The input is several files separated by NUL bytes, held in memory: the
//! first is `/fuzz/apache2.conf`, the others `/fuzz/sites/1.conf`, ... so
//! `Include`/`IncludeOptional` (globs, directories, nesting, loops) are
//! fuzzed too, without the real filesystem.
#![no_main]

use had::import::apache::{InMemory, Options, import_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.split('\0');
    let main = parts.next().unwrap_or_default();
    let mut files = InMemory::new().with("/fuzz/apache2.conf", main);
    for (i, part) in parts.enumerate().take(16) {
        files = files.with(format!("/fuzz/sites/{}.conf", i + 1), part);
    }
    if let Ok(imported) = import_text(main, "/fuzz/apache2.conf", &Options::default(), &files) {
        let _ = had::config::parse_str(&imported.toml(), "imported.toml");
    }
});
