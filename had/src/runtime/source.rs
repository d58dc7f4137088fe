//! Where the daemon's configuration comes from: a file (re-read on every
//! reload) or a text held in memory (the demo).

use std::path::PathBuf;

use super::{LoadError, Source};
use crate::plan::{self, Plan};

/// A `had.toml` on disk, loaded with `HAD_*` environment overrides.
#[derive(Debug, Clone)]
pub struct FileSource {
    path: PathBuf,
}

impl FileSource {
    /// Read `path` on start and on every reload.
    pub fn new(path: impl Into<PathBuf>) -> FileSource {
        FileSource { path: path.into() }
    }
}

impl Source for FileSource {
    fn load(&self) -> Result<Plan, LoadError> {
        let loaded = crate::config::load(&self.path).map_err(|e| LoadError(error_lines(&e)))?;
        for w in &loaded.warnings {
            tracing::warn!("{w}");
        }
        plan::from_config(&loaded).map_err(|e| LoadError(format!("{}: {e}", self.path.display())))
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// A configuration held in memory (`had --demo`), validated like a file.
#[derive(Debug, Clone)]
pub struct TextSource {
    name: String,
    text: String,
}

impl TextSource {
    /// `text` is TOML; `name` is what errors and status call it.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> TextSource {
        TextSource {
            name: name.into(),
            text: text.into(),
        }
    }
}

impl Source for TextSource {
    fn load(&self) -> Result<Plan, LoadError> {
        let loaded = crate::config::parse_str(&self.text, &self.name)
            .map_err(|e| LoadError(error_lines(&e)))?;
        plan::from_config(&loaded).map_err(|e| LoadError(format!("{}: {e}", self.name)))
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// Every error of a refused configuration, one per line.
fn error_lines(e: &crate::config::ConfigError) -> String {
    let lines: Vec<String> = e.errors().into_iter().map(|l| l.to_string()).collect();
    if lines.is_empty() {
        e.to_string()
    } else {
        lines.join("\n")
    }
}
