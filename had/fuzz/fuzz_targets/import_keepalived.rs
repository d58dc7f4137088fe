//! Fuzz the keepalived.conf importer (`had::import::keepalived::import_text`)
//! and feed what it produces to the had.toml loader: neither may panic.
//!
//! The input is several files separated by NUL bytes, held in memory: the
//! first is `/fuzz/keepalived.conf`, the others `/fuzz/inc/1.conf`, ... so
//! `include` (globs, nesting, loops) is fuzzed too, without the real
//! filesystem.
#![no_main]

use had::import::files::InMemory;
use had::import::keepalived::{Options, import_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.split('\0');
    let main = parts.next().unwrap_or_default();
    let mut files = InMemory::new().with("/fuzz/keepalived.conf", main);
    for (i, part) in parts.enumerate().take(16) {
        files = files.with(format!("/fuzz/inc/{}.conf", i + 1), part);
    }
    let main_path = std::path::Path::new("/fuzz/keepalived.conf");
    if let Ok(imported) = import_text(main, main_path, &Options::default(), &files) {
        let _ = had::config::parse_str(&imported.toml(), "imported.toml");
    }
});
