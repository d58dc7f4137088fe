//! Every validation error and warning, with its line: each file under
//! `tests/data/invalid/` and `tests/data/warn/` lists what loading it must
//! report, in `# expect: LINE: KEY: MESSAGE` / `# warn: LINE: KEY: MESSAGE`
//! comments, and nothing else may be reported.

use std::path::{Path, PathBuf};

use had::config::{ConfigError, LoadOptions, load_with};

fn data(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("data dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no data in {}", dir.display());
    files
}

/// The `# TAG: ...` lines of a file, rendered as `FILE:...`.
fn expected(path: &Path, tag: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("read");
    let prefix = format!("# {tag}: ");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|rest| format!("{}:{rest}", path.display()))
        .collect()
}

fn no_env() -> LoadOptions {
    LoadOptions { env: false }
}

#[test]
fn invalid_files_report_exactly_their_errors_with_lines() {
    for path in data("invalid") {
        let want = expected(&path, "expect");
        assert!(
            !want.is_empty(),
            "{} has no # expect: lines",
            path.display()
        );
        match load_with(&path, &no_env()) {
            Ok(_) => panic!("{} loaded but should be invalid", path.display()),
            Err(e @ ConfigError::Read { .. }) => panic!("{e}"),
            Err(e) => {
                let got = e.errors();
                assert_eq!(got, want, "errors of {}", path.display());
            }
        }
    }
}

#[test]
fn risky_files_load_with_exactly_their_warnings() {
    for path in data("warn") {
        let want = expected(&path, "warn");
        let loaded = load_with(&path, &no_env())
            .unwrap_or_else(|e| panic!("{} should load: {e}", path.display()));
        let mut got: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
        got.sort_by_key(|w| line_of(w));
        // `FILE:LINE: KEY: MESSAGE` → `FILE:LINE: warning: KEY: MESSAGE`.
        let want: Vec<String> = want
            .iter()
            .map(|w| {
                let (at, rest) = w
                    .rsplit_once(".toml:")
                    .map(|(f, r)| (format!("{f}.toml"), r))
                    .expect("path");
                let (line, msg) = rest.split_once(": ").expect("line");
                format!("{at}:{line}: warning: {msg}")
            })
            .collect();
        assert_eq!(got, want, "warnings of {}", path.display());
    }
}

fn line_of(diagnostic: &str) -> usize {
    diagnostic
        .split(':')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn error_display_matches_the_documented_shape() {
    let err = had::config::parse_str(
        "[vrrp_instance.VI_1]\ninterface = \"eth0\"\nvirtual_router_id = 300\nvirtual_ipaddress = [\"198.18.0.1\"]\n",
        "had.toml",
    )
    .expect_err("invalid");
    assert_eq!(
        err.to_string(),
        "had.toml:3: vrrp_instance.VI_1.virtual_router_id: 300 is out of range (allowed 1-255)"
    );
}

#[test]
fn unreadable_file_is_a_read_error() {
    let err = load_with("/nonexistent/had.toml", &no_env()).expect_err("missing");
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("/nonexistent/had.toml: cannot read"),
        "{err}"
    );
}
