//! Apache reverse-proxy configurations → had's `[proxy.NAME]` virtual hosts
//! and `[balancer.NAME]` balancers.
//!
//! What is read, as httpd 2.4 reads it:
//! - the files: continuation lines, both quote styles, `Define` and
//!   `${NAME}`, `Include`/`IncludeOptional` with globs, `<IfModule>` (every
//!   module taken as loaded), `<IfDefine>`, `<IfVersion>` ([`source`]);
//! - `Listen`, and each `<VirtualHost>` in file order with `ServerName` and
//!   `ServerAlias`: name-based hosts on one address become `[proxy]`
//!   sections in Apache's order, so the first is the address's default;
//! - `ProxyPass` (`PATH URL [key=value...]` and `PATH !`), `<Location>` with
//!   the one-argument `ProxyPass`, `ProxyPassMatch`, `ProxyPassReverse`,
//!   `RewriteRule ^/PREFIX(.*)$ URL$1 [P]`, `Redirect`, `RedirectMatch`,
//!   `Alias` and `DocumentRoot` → routes in the order httpd tries them
//!   ([`convert`]), the target's path joined with the rest of the request
//!   path exactly as Apache joins it;
//! - `<Proxy balancer://NAME>` with `BalancerMember` and `ProxySet` (or
//!   `BalancerMember balancer://NAME URL`), and the sticky-route `Header
//!   add Set-Cookie "ROUTEID=.%{BALANCER_WORKER_ROUTE}e; path=/"`;
//! - `ProxyPreserveHost`, `ProxyTimeout` (`Timeout` its default),
//!   `LimitRequestLine/FieldSize/Fields`, `RequestReadTimeout`, `CustomLog`;
//! - mod_ssl as it merges a virtual host with the main server: `SSLEngine
//!   on` with `SSLCertificateFile`, `SSLCertificateKeyFile` (else the key
//!   is in the certificate's file) and `SSLCertificateChainFile`, under
//!   `ServerRoot` when relative → `tls = { cert, key, chain }`;
//!   `SSLProtocol` evaluated as mod_ssl does (had serves TLS 1.2 and 1.3);
//!   `RequestReadTimeout handshake=` → `tls.handshake_timeout`;
//!   `SSLProxyCACertificateFile` → `member_ca_file`, `SSLProxyVerify none`
//!   → `member_verify = false`; `Protocols` against what had offers (h2 and
//!   http/1.1 with TLS, HTTP/1.1 without);
//! - the http→https `RewriteRule ^ https://%{HTTP_HOST}%{REQUEST_URI}
//!   [R=301,L]` (and its usual forms), as a redirect route where it sends
//!   every request of its host to one fixed `https://` target, as had's
//!   redirect does.
//!
//! Every directive that is not carried over is listed with its file, line
//! and reason ([`Imported::notes`]); what had cannot do without changing
//! what the site does (client certificates, TLS protocols older than 1.2,
//! a member TLS check turned off alone, AJP or FastCGI members, a
//! conditional rewrite, a connection setting that differs between hosts
//! sharing an address, TLS on one host of an address and not another,
//! access control on a path had would serve) is an error naming its line.
//! Directive and section names are case-insensitive, as in Apache.
//!
//! ```
//! use had::import::apache::{import_text, InMemory, Options};
//!
//! let site = "Define BACKEND 198.18.0.21\n\
//!             <VirtualHost *:80>\n\
//!             ServerName www.example.com\n\
//!             ProxyPass /app/ 'http://${BACKEND}:8080/app/'\n\
//!             </VirtualHost>\n";
//! let files = InMemory::new().with("/etc/apache2/sites-enabled/www.conf", site);
//! let main = "Listen 80\nIncludeOptional sites-enabled/*.conf\n";
//! let out = import_text(main, "/etc/apache2/apache2.conf", &Options::default(), &files)
//!     .expect("imports");
//! let www = &out.config.proxy["www_example_com"];
//! assert_eq!(www.server_name.as_deref(), Some("www.example.com"));
//! assert_eq!(www.routes[0].url.as_deref(), Some("http://198.18.0.21:8080/app/"));
//! ```

mod convert;
mod model;
mod source;

use std::path::{Path, PathBuf};

pub use source::{APACHE_LOG_DIR, Files, Filesystem, InMemory};

use super::{ImportError, ImportProblem, Imported, Location, Note};

/// How to read the files.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Names defined as by `httpd -D NAME`, for `<IfDefine NAME>`.
    pub defines: Vec<String>,
}

/// Problems and notes gathered while importing.
#[derive(Debug, Default)]
struct Report {
    problems: Vec<ImportProblem>,
    notes: Vec<Note>,
    /// The files in the order they were read, to sort by.
    files: Vec<PathBuf>,
}

impl Report {
    fn problem(&mut self, at: &Location, message: impl Into<String>) {
        let p = ImportProblem {
            at: at.clone(),
            message: message.into(),
        };
        // A main-server line inherited by several hosts is said once.
        if !self.problems.contains(&p) {
            self.problems.push(p);
        }
    }

    fn note(&mut self, at: &Location, directive: impl Into<String>, message: impl Into<String>) {
        let n = Note {
            at: at.clone(),
            directive: directive.into(),
            message: message.into(),
        };
        if !self.notes.contains(&n) {
            self.notes.push(n);
        }
    }

    fn finish(mut self, config: crate::config::Config) -> Result<Imported, ImportError> {
        let files = std::mem::take(&mut self.files);
        let order = |at: &Location| {
            (
                files
                    .iter()
                    .position(|f| *f == at.file)
                    .unwrap_or(usize::MAX),
                at.line,
            )
        };
        self.notes.sort_by_key(|n| order(&n.at));
        self.problems.sort_by_key(|p| order(&p.at));
        if self.problems.is_empty() {
            Ok(Imported {
                config,
                notes: self.notes,
            })
        } else {
            Err(ImportError::Invalid {
                problems: self.problems,
                notes: self.notes,
            })
        }
    }
}

/// Imports an Apache configuration file and what it includes.
///
/// # Errors
/// The file cannot be read, or it cannot be imported (every problem with
/// its line, and the notes gathered).
pub fn import_file(path: impl AsRef<Path>) -> Result<Imported, ImportError> {
    import_file_with(path, &Options::default(), &Filesystem)
}

/// Imports `path`, reading it and its includes from `files`.
///
/// # Errors
/// As [`import_file`].
pub fn import_file_with(
    path: impl AsRef<Path>,
    options: &Options,
    files: &dyn Files,
) -> Result<Imported, ImportError> {
    let path = path.as_ref();
    let text = files.read(path).map_err(|source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    import_text(&text, path, options, files)
}

/// Imports Apache configuration text as if read from `name`; its includes
/// come from the filesystem.
///
/// # Errors
/// As [`import_file`].
pub fn import_str(text: &str, name: impl AsRef<Path>) -> Result<Imported, ImportError> {
    import_text(text, name, &Options::default(), &Filesystem)
}

/// Imports Apache configuration text as if read from `name`, its includes
/// read from `files`.
///
/// # Errors
/// As [`import_file`].
pub fn import_text(
    text: &str,
    name: impl AsRef<Path>,
    options: &Options,
    files: &dyn Files,
) -> Result<Imported, ImportError> {
    let name = name.as_ref();
    let mut report = Report {
        files: vec![name.to_path_buf()],
        ..Report::default()
    };
    let source = source::read(name, text, files, &options.defines, &mut report);
    let model = model::build(
        &source.nodes,
        name,
        source.server_root.as_deref(),
        &mut report,
    );
    let start = Location {
        file: name.to_path_buf(),
        line: 1,
    };
    if model.recognised + source.recognised == 0 {
        let problem = match &model.first {
            Some(d) => ImportProblem {
                at: d.at.clone(),
                message: format!(
                    "does not look like an Apache configuration: none of its lines is a directive or section of Apache's (this one is `{}`)",
                    d.text()
                ),
            },
            None => ImportProblem {
                at: start,
                message: "nothing to import: the file holds no directive".into(),
            },
        };
        return Err(ImportError::Invalid {
            problems: vec![problem],
            notes: Vec::new(),
        });
    }
    let config = convert::convert(&model, &mut report);
    if config.proxy.is_empty() && report.problems.is_empty() {
        report.problem(
            &start,
            "nothing to import: no <VirtualHost> (nor the main server) has a ProxyPass, Redirect, Alias, DocumentRoot or RewriteRule [P] that had can serve",
        );
    }
    report.finish(config)
}
