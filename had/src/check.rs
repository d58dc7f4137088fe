//! The `had --check` / `hactl check` use case: load each file as the
//! daemon would, and when two or more are valid (one per node), work out the
//! failover arithmetic between them. It sits above [`crate::config`] and
//! [`crate::failover`], which do not know about each other.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::config::{ConfigError, LoadOptions, Loaded, load_with};
use crate::failover::{self, FailoverReport, Node};

/// The outcome of checking one file.
#[derive(Debug)]
pub struct FileCheck {
    /// The file.
    pub path: PathBuf,
    /// The loaded configuration or why it is invalid.
    pub result: Result<Loaded, ConfigError>,
}

/// What `had --check` and `hactl check` report.
#[derive(Debug)]
pub struct CheckReport {
    /// One entry per file, in the order given.
    pub files: Vec<FileCheck>,
    /// The failover arithmetic, when two or more files are valid.
    pub failover: Option<FailoverReport>,
}

impl CheckReport {
    /// True when every file is valid.
    pub fn is_valid(&self) -> bool {
        self.files.iter().all(|f| f.result.is_ok())
    }

    /// 0 when valid, 1 when any file is invalid (the binaries' exit code).
    pub fn exit_code(&self) -> i32 {
        if self.is_valid() { 0 } else { 1 }
    }

    /// The report for a person: errors and warnings per file, then the failover arithmetic.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.files {
            match &f.result {
                Ok(loaded) => {
                    for w in &loaded.warnings {
                        let _ = writeln!(out, "{w}");
                    }
                    let _ = writeln!(out, "{}: valid", f.path.display());
                }
                Err(e) => {
                    for w in e.warnings() {
                        let _ = writeln!(out, "{w}");
                    }
                    for line in e.errors() {
                        let _ = writeln!(out, "{line}");
                    }
                    let _ = writeln!(out, "{}: invalid", f.path.display());
                }
            }
        }
        if let Some(report) = &self.failover {
            let _ = write!(out, "\n{report}");
        }
        out
    }
}

/// Validates each file (with environment overrides, as the daemon would
/// load it) and, when two or more are valid, works out the failover
/// arithmetic between them (one file per node).
pub fn check_files(paths: &[PathBuf]) -> CheckReport {
    check_files_with(paths, &LoadOptions::default())
}

/// [`check_files`] with explicit options.
pub fn check_files_with(paths: &[PathBuf], options: &LoadOptions) -> CheckReport {
    let files: Vec<FileCheck> = paths
        .iter()
        .map(|p| FileCheck {
            path: p.clone(),
            result: load_with(p, options),
        })
        .collect();
    let mut valid: Vec<(String, &Loaded)> = files
        .iter()
        .filter_map(|f| f.result.as_ref().ok())
        .map(|l| (node_name(l), l))
        .collect();
    // Two nodes with one name (the same router_id, or ha1/had.toml and
    // ha2/had.toml) are told apart by their paths.
    let names: Vec<String> = valid.iter().map(|(n, _)| n.clone()).collect();
    for (name, loaded) in &mut valid {
        if names.iter().filter(|n| *n == name).count() > 1 {
            *name = format!("{name} ({})", loaded.path.display());
        }
    }
    let nodes: Vec<Node<'_>> = valid
        .iter()
        .map(|(name, l)| Node::new(name, &l.config))
        .collect();
    let failover = (nodes.len() >= 2).then(|| failover::analyze(&nodes));
    CheckReport { files, failover }
}

/// A node's name for reports: `router_id`, else the file's stem.
pub fn node_name(loaded: &Loaded) -> String {
    loaded.config.global.router_id.clone().unwrap_or_else(|| {
        loaded.path.file_stem().map_or_else(
            || loaded.path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        )
    })
}
