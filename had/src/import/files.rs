//! Where the importers read configuration files from: the real
//! filesystem, or a map of paths to texts ([`InMemory`]) in tests and fuzz
//! targets. The parsers never touch the filesystem themselves, so an
//! `include` is followed the same way in both.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// Where the importer reads files from: the real filesystem, or a map of
/// paths to texts in tests.
pub trait Files {
    /// The text of `path`.
    ///
    /// # Errors
    /// The file cannot be read.
    fn read(&self, path: &Path) -> io::Result<String>;

    /// The files an `Include` of `pattern` reads, in httpd's order: the
    /// sorted matches of a glob, every file under a directory (sorted,
    /// recursively), or the file itself.
    ///
    /// # Errors
    /// Nothing is there (`NotFound`), or it cannot be listed.
    fn expand(&self, pattern: &Path) -> io::Result<Vec<PathBuf>>;

    /// The paths a plain glob matches, sorted, as glob(3) returns them
    /// (keepalived's `include`): a directory is matched as itself, and a
    /// pattern without wildcards matches the path when it exists. No
    /// match is an empty list.
    ///
    /// # Errors
    /// The pattern is not a valid glob.
    fn glob(&self, pattern: &Path) -> io::Result<Vec<PathBuf>>;
}

/// The real filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filesystem;

/// Whether a path holds a glob wildcard, as httpd's `apr_fnmatch_test`.
fn has_wildcard(path: &Path) -> bool {
    path.to_string_lossy().contains(['*', '?', '['])
}

/// `*` does not match `/`, as httpd's fnmatch.
fn glob_options() -> glob::MatchOptions {
    glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    }
}

fn not_found(pattern: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("no file matches {}", pattern.display()),
    )
}

impl Filesystem {
    fn push_tree(path: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .collect();
            entries.sort();
            for e in entries {
                Self::push_tree(&e, out)?;
            }
        } else {
            std::fs::metadata(path)?;
            out.push(path.to_path_buf());
        }
        Ok(())
    }
}

impl Files for Filesystem {
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn glob(&self, pattern: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out: Vec<PathBuf> = glob::glob(&pattern.to_string_lossy())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?
            .filter_map(Result::ok)
            .collect();
        out.sort();
        Ok(out)
    }

    fn expand(&self, pattern: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        if has_wildcard(pattern) {
            let text = pattern.to_string_lossy();
            let mut matched: Vec<PathBuf> = glob::glob_with(&text, glob_options())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?
                .filter_map(Result::ok)
                .collect();
            matched.sort();
            for m in matched {
                Self::push_tree(&m, &mut out)?;
            }
        } else {
            Self::push_tree(pattern, &mut out)?;
        }
        if out.is_empty() && !has_wildcard(pattern) {
            return Err(not_found(pattern));
        }
        Ok(out)
    }
}

/// Files held in memory, for tests and fuzzing: `Include` globs match
/// their paths as they would match files on disk.
#[derive(Debug, Clone, Default)]
pub struct InMemory {
    files: BTreeMap<PathBuf, String>,
}

impl InMemory {
    /// No files.
    pub fn new() -> Self {
        Self::default()
    }

    /// These files plus `path` holding `text`.
    #[must_use]
    pub fn with(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        self.files.insert(path.into(), text.into());
        self
    }
}

impl Files for InMemory {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.files.get(path).cloned().ok_or_else(|| not_found(path))
    }

    fn glob(&self, pattern: &Path) -> io::Result<Vec<PathBuf>> {
        let glob = glob::Pattern::new(&pattern.to_string_lossy())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        // The map is sorted: so are its matches.
        Ok(self
            .files
            .keys()
            .filter(|k| glob.matches_path(k))
            .cloned()
            .collect())
    }

    fn expand(&self, pattern: &Path) -> io::Result<Vec<PathBuf>> {
        let out: Vec<PathBuf> = if has_wildcard(pattern) {
            let glob = glob::Pattern::new(&pattern.to_string_lossy())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
            // A file matches, or a directory above it does (its whole tree).
            self.files
                .keys()
                .filter(|k| {
                    k.ancestors()
                        .any(|a| glob.matches_path_with(a, glob_options()))
                })
                .cloned()
                .collect()
        } else {
            self.files
                .keys()
                .filter(|k| k.starts_with(pattern))
                .cloned()
                .collect()
        };
        if out.is_empty() && !has_wildcard(pattern) {
            return Err(not_found(pattern));
        }
        Ok(out)
    }
}
