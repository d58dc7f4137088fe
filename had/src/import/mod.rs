//! Importers that turn an existing keepalived.conf or Apache reverse-proxy
//! vhost into an equivalent had.toml, listing on the way every directive had
//! does not carry over (never dropping one silently).
//!
//! ```
//! let conf = "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  \
//!             virtual_ipaddress {\n    198.18.0.200\n  }\n}\n";
//! let out = had::import::keepalived::import_str(conf, "keepalived.conf").expect("imports");
//! assert_eq!(out.config.vrrp_instance["VI_1"].virtual_ipaddress[0].to_string(), "198.18.0.200/32");
//! assert!(out.toml().contains("virtual_router_id = 51"));
//! ```

pub mod apache;
pub mod files;
pub mod keepalived;

use std::fmt;
use std::path::PathBuf;

use crate::config::Config;

/// Where a directive was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file (an included file for keepalived `include`).
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A directive that was not carried over, or carried over with a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Where it is.
    pub at: Location,
    /// The directive as written (first words).
    pub directive: String,
    /// What happened to it.
    pub message: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.at, self.directive, self.message)
    }
}

/// What an import produced.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The equivalent configuration.
    pub config: Config,
    /// Directives not carried over or changed, with their lines.
    pub notes: Vec<Note>,
}

impl Imported {
    /// The configuration as had.toml text.
    pub fn toml(&self) -> String {
        toml::to_string(&self.config).unwrap_or_else(|e| format!("# cannot serialize: {e}\n"))
    }
}

/// Why an input could not be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct ImportProblem {
    /// Where.
    pub at: Location,
    /// What is wrong and what would be right.
    pub message: String,
}

/// An import failure: every problem found, and the notes gathered so far.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Syntax or keyword errors.
    #[error("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// Every problem (at least one).
        problems: Vec<ImportProblem>,
        /// Notes gathered before stopping.
        notes: Vec<Note>,
    },
}
