//! had.toml: schema, loading (TOML through figment with `HAD_` environment
//! overrides), validation with file/line/key errors, and warnings.
//!
//! The tables, named after keepalived's and Apache's directives:
//!
//! | table | what | keepalived / Apache |
//! |---|---|---|
//! | `[global]` | router_id, control_socket, metrics_listen, realtime, script security, vrrp_version and GARP defaults, drain_timeout | `global_defs` |
//! | `[vrrp_script.NAME]` | a command run every `interval`, exit 0 = OK | `vrrp_script` |
//! | `[tcp_check.NAME]` | built-in TCP connect to `connect_ip:connect_port` | `TCP_CHECK` |
//! | `[http_check.NAME]` | built-in `GET url` expecting `status_code` | `HTTP_GET` |
//! | `[track_proxy.NAME]` | OK while `[proxy.X]` has `min_up` healthy members | (had's own) |
//! | `[track_file.NAME]` | the file's integer × weight moves the priority | `vrrp_track_file` |
//! | `[track_process.NAME]` | OK while `quorum..=quorum_max` processes run | `vrrp_track_process` |
//! | `[vrrp_instance.NAME]` | one virtual router | `vrrp_instance` |
//! | `[vrrp_sync_group.NAME]` | instances that change state together | `vrrp_sync_group` |
//! | `[proxy.NAME]` | a reverse proxy over `members` | `<VirtualHost>` + `ProxyPass` + `<Proxy balancer://>` |
//!
//! An instance tracks `vrrp_script`, `tcp_check`, `http_check` and
//! `track_proxy` entries through `track_script` (one namespace: names must be
//! unique across those four tables), and `track_file`, `track_process` and
//! `track_interface` through the lists of the same names. Every entry is a
//! name or `{ name = "...", weight = N }` (the instance's weight wins).
//!
//! ```
//! let loaded = had::config::parse_str(
//!     "[vrrp_instance.VI_1]\ninterface = \"eth0\"\nvirtual_router_id = 51\n\
//!      virtual_ipaddress = [\"198.18.0.200/24\"]\n",
//!     "had.toml",
//! )
//! .expect("valid");
//! assert_eq!(loaded.config.vrrp_instance["VI_1"].vrid(), 51);
//!
//! let err = had::config::parse_str(
//!     "[vrrp_instance.VI_1]\ninterface = \"eth0\"\nvirtual_router_id = 300\n",
//!     "had.toml",
//! )
//! .expect_err("invalid");
//! assert_eq!(
//!     err.to_string(),
//!     "had.toml:3: vrrp_instance.VI_1.virtual_router_id: 300 is out of range (allowed 1-255)"
//! );
//! ```

mod duration;
mod error;
mod lines;
mod schema;
mod validate;

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Serialized};
use figment::value::{Dict, Value};
use serde::de::DeserializeOwned;

pub use duration::parse as parse_duration;
pub use error::{ConfigError, Invalid, Origin, Problem, Risk, Warning};
pub use lines::LineMap;
pub use schema::*;

/// Prefix of environment variables that override the file
/// (`HAD_GLOBAL__ROUTER_ID=ha1`, `HAD_VRRP_INSTANCE__VI_1__PRIORITY=90`):
/// `__` separates keys; table names keep their case, other keys are lowercased.
/// Every setting is inside a table, so only variables with a `__` count:
/// others (`HAD_LOG`, say) are left to whoever uses them.
pub const ENV_PREFIX: &str = "HAD_";

/// A configuration that passed validation, with its warnings.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The file it came from.
    pub path: PathBuf,
    /// The configuration.
    pub config: Config,
    /// Legal but risky settings, to print.
    pub warnings: Vec<Warning>,
}

/// How to load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Apply `HAD_*` environment overrides (default true).
    pub env: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { env: true }
    }
}

/// Loads and validates `path`, with `HAD_*` environment overrides.
pub fn load(path: impl AsRef<Path>) -> Result<Loaded, ConfigError> {
    load_with(path, &LoadOptions::default())
}

/// Loads and validates `path` with explicit options.
pub fn load_with(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Loaded, ConfigError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    load_text(&text, path, options.env)
}

/// Validates TOML text as if read from `name`, without environment overrides.
pub fn parse_str(text: &str, name: impl AsRef<Path>) -> Result<Loaded, ConfigError> {
    load_text(text, name.as_ref(), false)
}

fn env_key(key: &str) -> String {
    let parts: Vec<&str> = key.split("__").collect();
    let first = parts
        .first()
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_default();
    let named = NAMED_SECTIONS.contains(&first.as_str());
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i == 1 && named {
                (*p).to_string()
            } else {
                p.to_ascii_lowercase()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The environment variable that sets `path`.
fn env_var(path: &[String]) -> String {
    let named = path
        .first()
        .is_some_and(|s| NAMED_SECTIONS.contains(&s.as_str()));
    let parts: Vec<String> = path
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i == 1 && named {
                p.clone()
            } else {
                p.to_ascii_uppercase()
            }
        })
        .collect();
    format!("{ENV_PREFIX}{}", parts.join("__"))
}

/// Shared state of one load: where keys are, and which came from the environment.
pub(crate) struct Source<'a> {
    file: &'a Path,
    lines: &'a LineMap,
    figment: &'a Figment,
}

impl Source<'_> {
    /// Whether the value at `path` comes from an environment override.
    fn is_env_override(&self, path: &[String]) -> bool {
        // The provider of the merged value: an environment override wins
        // over the file even where the file writes the key too.
        self.figment
            .find_metadata(&path.join("."))
            .is_some_and(|m| m.name.contains("environment"))
    }

    /// Whether the key at `path` was written (in the file or the
    /// environment), as opposed to taking its default.
    pub(crate) fn written(&self, path: &[String]) -> bool {
        self.is_env_override(path) || self.lines.contains(path)
    }

    /// Where the setting at `path` was written.
    pub(crate) fn origin(&self, path: &[String]) -> Origin {
        if self.is_env_override(path) {
            Origin::Env { var: env_var(path) }
        } else {
            Origin::File {
                path: self.file.to_path_buf(),
                line: self.lines.line(path),
            }
        }
    }

    fn invalid(&self, path: Vec<String>, problem: Problem) -> Invalid {
        Invalid {
            origin: self.origin(&path),
            key: path.join("."),
            problem,
        }
    }
}

fn load_text(text: &str, file: &Path, env: bool) -> Result<Loaded, ConfigError> {
    let lines = match LineMap::parse(text) {
        Ok(lines) => lines,
        Err(e) => {
            return Err(ConfigError::Invalid {
                path: file.to_path_buf(),
                errors: vec![Invalid {
                    origin: Origin::File {
                        path: file.to_path_buf(),
                        line: Some(e.line),
                    },
                    key: String::new(),
                    problem: Problem::Syntax { message: e.message },
                }],
                warnings: Vec::new(),
            });
        }
    };
    // The text is parsed once, by the parser that also records lines, and
    // handed to figment as data, so both always agree on what is valid TOML.
    let table: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            let line = e.span().map_or(1, |s| lines::line_at(text, s.start));
            return Err(ConfigError::Invalid {
                path: file.to_path_buf(),
                errors: vec![Invalid {
                    origin: Origin::File {
                        path: file.to_path_buf(),
                        line: Some(line),
                    },
                    key: String::new(),
                    problem: Problem::Syntax {
                        message: e.message().to_string(),
                    },
                }],
                warnings: Vec::new(),
            });
        }
    };
    let mut figment = Figment::from(Serialized::defaults(table));
    if env {
        // `lowercase(false)` must come last: figment's `map` resets it.
        figment = figment.merge(
            Env::prefixed(ENV_PREFIX)
                .filter(|k| k.as_str().contains("__"))
                .map(|k| env_key(k.as_str()).into())
                .lowercase(false),
        );
    }
    let source = Source {
        file,
        lines: &lines,
        figment: &figment,
    };
    let mut errors = Vec::new();
    let config = extract(&source, &mut errors);
    let mut warnings = Vec::new();
    if errors.is_empty() {
        validate::validate(&source, &config, &mut errors, &mut warnings);
    }
    warnings.sort_by_key(|w| w.origin.line().unwrap_or(usize::MAX));
    if errors.is_empty() {
        Ok(Loaded {
            path: file.to_path_buf(),
            config,
            warnings,
        })
    } else {
        errors.sort_by_key(|e| e.origin.line().unwrap_or(usize::MAX));
        Err(ConfigError::Invalid {
            path: file.to_path_buf(),
            errors,
            warnings,
        })
    }
}

/// The allowed key closest to `key`, if close enough to be a likely typo.
pub(crate) fn nearest<'a>(key: &str, allowed: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let key_lower = key.to_ascii_lowercase().replace([' ', '-'], "_");
    allowed
        .into_iter()
        .map(|a| (strsim::levenshtein(&key_lower, &a.to_ascii_lowercase()), a))
        .filter(|(d, a)| *d <= (a.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a.to_string())
}

fn from_figment(source: &Source<'_>, base: &[String], err: figment::Error, out: &mut Vec<Invalid>) {
    use figment::error::Kind;
    for e in err {
        let mut path: Vec<String> = base.to_vec();
        path.extend(e.path.iter().cloned());
        let problem = match &e.kind {
            Kind::UnknownField(field, expected) => {
                if path.last() != Some(field) {
                    path.push(field.clone());
                }
                // `[table.NAME] key`: a key had knows and refuses says why.
                let refused = match path.as_slice() {
                    [table, _, key] if key == field => refused_key(table, key),
                    _ => None,
                };
                if let Some(r) = refused {
                    out.push(source.invalid(path, Problem::RefusedKey { why: r.why }));
                    continue;
                }
                Problem::UnknownKey {
                    key: field.clone(),
                    suggestion: nearest(field, expected.iter().copied()),
                    allowed: expected.iter().map(|s| (*s).to_string()).collect(),
                }
            }
            Kind::MissingField(field) => {
                let problem = Problem::MissingKey {
                    key: field.to_string(),
                };
                let invalid = source.invalid(path.clone(), problem);
                path.push(field.to_string());
                out.push(Invalid {
                    key: path.join("."),
                    ..invalid
                });
                continue;
            }
            Kind::UnknownVariant(v, expected) => Problem::InvalidValue {
                message: format!(
                    "{v:?} is not allowed (allowed: {}){}",
                    expected
                        .iter()
                        .map(|s| format!("{s:?}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    nearest(v, expected.iter().copied())
                        .map(|s| format!("; did you mean {s:?}?"))
                        .unwrap_or_default()
                ),
            },
            Kind::InvalidType(actual, expected) => Problem::InvalidValue {
                message: format!("expected {expected}, found {actual}"),
            },
            Kind::Message(m) => Problem::InvalidValue { message: m.clone() },
            other => Problem::InvalidValue {
                message: other.to_string(),
            },
        };
        out.push(source.invalid(path, problem));
    }
}

fn extract_at<T: DeserializeOwned>(
    source: &Source<'_>,
    path: &[String],
    out: &mut Vec<Invalid>,
) -> Option<T> {
    source
        .figment
        .focus(&path.join("."))
        .extract::<T>()
        .map_err(|e| from_figment(source, path, e, out))
        .ok()
}

fn extract_named<T: DeserializeOwned>(
    source: &Source<'_>,
    section: &str,
    value: &Value,
    out: &mut Vec<Invalid>,
) -> std::collections::BTreeMap<String, T> {
    let mut map = std::collections::BTreeMap::new();
    let Some(dict) = value.as_dict() else {
        out.push(source.invalid(
            vec![section.to_string()],
            Problem::InvalidValue {
                message: format!("expected tables [{section}.NAME]"),
            },
        ));
        return map;
    };
    for (name, entry) in dict {
        let path = vec![section.to_string(), name.clone()];
        if name.is_empty() || name.contains(['.', ' ', '"', '\'']) {
            out.push(source.invalid(
                path,
                Problem::InvalidValue {
                    message: format!(
                        "{name:?} is not a usable name (letters, digits, `_` and `-`)"
                    ),
                },
            ));
            continue;
        }
        if entry.as_dict().is_none() {
            out.push(source.invalid(
                path,
                Problem::InvalidValue {
                    message: format!("expected a table [{section}.{name}]"),
                },
            ));
            continue;
        }
        if let Some(v) = extract_at(source, &[section.to_string(), name.clone()], out) {
            map.insert(name.clone(), v);
        }
    }
    map
}

fn extract(source: &Source<'_>, out: &mut Vec<Invalid>) -> Config {
    let mut config = Config::default();
    let root: Dict = match source.figment.extract::<Dict>() {
        Ok(d) => d,
        Err(e) => {
            from_figment(source, &[], e, out);
            return config;
        }
    };
    for (key, value) in &root {
        match key.as_str() {
            "global" => {
                if value.as_dict().is_none() {
                    out.push(source.invalid(
                        vec![key.clone()],
                        Problem::InvalidValue {
                            message: "expected a table [global]".into(),
                        },
                    ));
                } else if let Some(g) = extract_at(source, std::slice::from_ref(key), out) {
                    config.global = g;
                }
            }
            "vrrp_script" => config.vrrp_script = extract_named(source, key, value, out),
            "tcp_check" => config.tcp_check = extract_named(source, key, value, out),
            "http_check" => config.http_check = extract_named(source, key, value, out),
            "track_proxy" => config.track_proxy = extract_named(source, key, value, out),
            "track_file" => config.track_file = extract_named(source, key, value, out),
            "track_process" => config.track_process = extract_named(source, key, value, out),
            "vrrp_instance" => config.vrrp_instance = extract_named(source, key, value, out),
            "vrrp_sync_group" => config.vrrp_sync_group = extract_named(source, key, value, out),
            "proxy" => {
                // In file order: on each address the first host is the
                // default one (Apache); figment's map is sorted by name.
                let mut proxies: Vec<(String, Proxy)> =
                    extract_named(source, key, value, out).into_iter().collect();
                proxies.sort_by_key(|(name, _)| {
                    source
                        .lines
                        .line(&[key.as_str(), name.as_str()])
                        .unwrap_or(usize::MAX)
                });
                config.proxy = proxies.into_iter().collect();
            }
            "balancer" => config.balancer = extract_named(source, key, value, out),
            other => out.push(source.invalid(
                vec![other.to_string()],
                Problem::UnknownKey {
                    key: other.to_string(),
                    suggestion: nearest(other, TOP_LEVEL_KEYS.iter().copied()),
                    allowed: TOP_LEVEL_KEYS.iter().map(|s| (*s).to_string()).collect(),
                },
            )),
        }
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_keys_keep_table_names() {
        assert_eq!(env_key("GLOBAL__ROUTER_ID"), "global.router_id");
        assert_eq!(
            env_key("VRRP_INSTANCE__VI_1__PRIORITY"),
            "vrrp_instance.VI_1.priority"
        );
        assert_eq!(
            env_var(&["vrrp_instance".into(), "VI_1".into(), "priority".into()]),
            "HAD_VRRP_INSTANCE__VI_1__PRIORITY"
        );
    }

    #[test]
    fn nearest_finds_typos() {
        let keys = ["virtual_router_id", "priority", "interface"];
        assert_eq!(
            nearest("virtual router id", keys).as_deref(),
            Some("virtual_router_id")
        );
        assert_eq!(nearest("priorty", keys).as_deref(), Some("priority"));
        assert_eq!(nearest("zzz", keys), None);
    }
}
