//! Reading Apache configuration text the way httpd's own parser reads it,
//! into a tree of directives and sections with the file and line of each:
//! continuation lines, `#` comments, arguments split by `ap_getword_conf`
//! (double and single quotes stripped, `\"` and `\\` inside them), `${NAME}`
//! replaced on the whole line before it is split, `Define`/`UnDefine`,
//! `Include`/`IncludeOptional` (globs, directories, relative to `ServerRoot`
//! or else to the including file's directory), and the conditional sections
//! (`<IfModule>`, `<IfDefine>`, `<IfVersion>`, `<IfDirective>`,
//! `<IfSection>`, `<IfFile>`) evaluated as they are read, so a `Define`
//! inside a section that is not taken has no effect, as in httpd.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Report;
use crate::import::Location;

/// Debian's `APACHE_LOG_DIR` (from `/etc/apache2/envvars`), the one
/// environment variable Apache configurations commonly use that the
/// importer knows without a `Define`.
pub const APACHE_LOG_DIR: &str = "/var/log/apache2";

/// The Apache version `<IfVersion>` is evaluated against: the 2.4 series
/// the importer follows.
const APACHE_VERSION: [u32; 3] = [2, 4, 62];

/// Deepest chain of `Include`s followed (httpd stops at 128).
const MAX_INCLUDE_DEPTH: usize = 64;

/// Most included files read in one import: files that include each other
/// several times (no loop, so the depth limit does not stop them) would
/// otherwise be read an exponential number of times.
const MAX_INCLUDED_FILES: usize = 1000;

pub use crate::import::files::{Files, Filesystem, InMemory};

/// One directive (or a section's opening line) as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Directive {
    /// The name as written (`ProxyPass`; `VirtualHost` for a section).
    pub name: String,
    /// The arguments, unquoted and with `${NAME}` replaced.
    pub args: Vec<String>,
    /// Where it is.
    pub at: Location,
}

impl Directive {
    /// The name in lower case: directive names are case-insensitive.
    pub fn key(&self) -> String {
        self.name.to_ascii_lowercase()
    }

    /// The argument at `i`, or "".
    pub fn arg(&self, i: usize) -> &str {
        self.args.get(i).map_or("", String::as_str)
    }

    /// The directive as a person reads it in a note: name and arguments,
    /// an argument with spaces (or none at all) in double quotes.
    pub fn text(&self) -> String {
        let mut out = self.name.clone();
        for a in &self.args {
            out.push(' ');
            if a.is_empty() || a.contains(char::is_whitespace) {
                out.push('"');
                out.push_str(a);
                out.push('"');
            } else {
                out.push_str(a);
            }
        }
        out
    }

    /// A section's opening line as a person reads it: `<Location /x>`.
    pub fn section_text(&self) -> String {
        format!("<{}>", self.text())
    }
}

/// A directive, or a section with what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Node {
    /// A directive.
    Directive(Directive),
    /// A section: its opening line and its content.
    Section(Section),
}

/// A section (`<VirtualHost>`, `<Proxy>`, `<Location>`...), the
/// conditional sections already resolved away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Section {
    /// Its opening line (`name` without the `<`).
    pub head: Directive,
    /// What it holds.
    pub children: Vec<Node>,
}

/// What the reader made of the files.
#[derive(Debug, Default)]
pub(super) struct Source {
    /// The tree, includes spliced in where they were.
    pub nodes: Vec<Node>,
    /// The last `ServerRoot`.
    pub server_root: Option<PathBuf>,
    /// Lines the reader itself recognised as Apache's (`Define`,
    /// `Include`, `ServerRoot`, conditional sections).
    pub recognised: usize,
}

/// Reads the main file `file` (whose text is `text`) and what it includes.
pub(super) fn read(
    file: &Path,
    text: &str,
    files: &dyn Files,
    defines: &[String],
    report: &mut Report,
) -> Source {
    let mut reader = Reader {
        files,
        report,
        defines: defines.iter().map(|d| (d.clone(), None)).collect(),
        server_root: None,
        chain: vec![file.to_path_buf()],
        included: 0,
        recognised: 0,
    };
    let nodes = reader.read_text(file, text);
    Source {
        nodes,
        server_root: reader.server_root,
        recognised: reader.recognised,
    }
}

struct Reader<'a> {
    files: &'a dyn Files,
    report: &'a mut Report,
    /// `Define NAME [VALUE]` (and the names given to the importer, as
    /// `httpd -D NAME`).
    defines: BTreeMap<String, Option<String>>,
    server_root: Option<PathBuf>,
    /// The files being read, outermost first (to refuse a loop).
    chain: Vec<PathBuf>,
    /// Included files read so far (at most [`MAX_INCLUDED_FILES`]).
    included: usize,
    recognised: usize,
}

/// An open section while reading.
struct Frame {
    head: Option<Directive>,
    /// A conditional section that held: its content belongs to its parent.
    transparent: bool,
    children: Vec<Node>,
}

/// A conditional section that did not hold, skipped to its end.
struct Skip {
    head: Directive,
    depth: usize,
}

/// The logical lines of `text`: (first line number, text), a line ending
/// in one `\` continued on the next with a space between, as httpd does.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start: Option<usize> = None;
    for (i, raw) in text.lines().enumerate() {
        let first = *start.get_or_insert(i + 1);
        match raw.strip_suffix('\\') {
            Some(body) if !body.ends_with('\\') => {
                current.push_str(body);
                current.push(' ');
            }
            _ => {
                current.push_str(raw);
                out.push((first, std::mem::take(&mut current)));
                start = None;
            }
        }
    }
    if let Some(first) = start {
        out.push((first, current));
    }
    out
}

/// httpd's `ap_getword_conf`, repeated: words separated by white space; a
/// word that starts with `"` or `'` runs to the same quote, inside which
/// `\` escapes that quote or a `\`; outside quotes `\\` is one `\`.
pub(super) fn words(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while at(i).is_some_and(char::is_whitespace) {
            i += 1;
        }
        let Some(first) = at(i) else {
            break;
        };
        let mut word = String::new();
        if first == '"' || first == '\'' {
            i += 1;
            while let Some(c) = at(i) {
                if c == first {
                    break;
                }
                match at(i + 1) {
                    Some(next) if c == '\\' && (next == first || next == '\\') => {
                        word.push(next);
                        i += 2;
                    }
                    _ => {
                        word.push(c);
                        i += 1;
                    }
                }
            }
            // The closing quote (or the end of the line).
            i += 1;
        } else {
            while let Some(c) = at(i) {
                if c.is_whitespace() {
                    break;
                }
                if c == '\\' && at(i + 1) == Some('\\') {
                    word.push('\\');
                    i += 2;
                } else {
                    word.push(c);
                    i += 1;
                }
            }
        }
        out.push(word);
    }
    out
}

/// `<IfVersion [[!]operator] version>` against [`APACHE_VERSION`].
fn version_holds(args: &[String]) -> Option<bool> {
    let (op, version) = match args {
        [v] => ("=", v.as_str()),
        [op, v] => (op.as_str(), v.as_str()),
        _ => return None,
    };
    let (negated, op) = match op.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, op),
    };
    let current = format!(
        "{}.{}.{}",
        APACHE_VERSION[0], APACHE_VERSION[1], APACHE_VERSION[2]
    );
    let holds = if op == "~" || (version.starts_with('/') && version.ends_with('/')) {
        let re = version.trim_matches('/');
        lb_proxy::route::PathRegex::parse(re)
            .ok()?
            .is_match(&current)
    } else {
        let mut wanted = [0u32; 3];
        for (slot, part) in wanted.iter_mut().zip(version.split('.')) {
            *slot = part.parse().ok()?;
        }
        // `2.4` compares only the parts written.
        let parts = version.split('.').count().min(3);
        let have = APACHE_VERSION.get(..parts)?;
        let want = wanted.get(..parts)?;
        match op {
            "=" | "==" => have == want,
            ">" => have > want,
            ">=" => have >= want,
            "<" => have < want,
            "<=" => have <= want,
            _ => return None,
        }
    };
    Some(holds != negated)
}

impl Reader<'_> {
    fn read_text(&mut self, file: &Path, text: &str) -> Vec<Node> {
        let mut frames = vec![Frame {
            head: None,
            transparent: false,
            children: Vec::new(),
        }];
        let mut skipping: Option<Skip> = None;
        for (line, logical) in logical_lines(text) {
            let at = Location {
                file: file.to_path_buf(),
                line,
            };
            let trimmed = logical.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if let Some(skip) = &mut skipping {
                // Only the nesting counts inside a section not taken.
                if trimmed.starts_with("</") {
                    skip.depth -= 1;
                    if skip.depth == 0 {
                        skipping = None;
                    }
                } else if trimmed.starts_with('<') {
                    skip.depth += 1;
                }
                continue;
            }
            let expanded = self.expand(trimmed, &at);
            if let Some(close) = expanded.strip_prefix("</") {
                let name = close.split('>').next().unwrap_or_default().trim();
                self.close(&mut frames, name, &at);
            } else if let Some(open) = expanded.strip_prefix('<') {
                self.open(&mut frames, &mut skipping, open, at);
            } else {
                let mut w = words(&expanded).into_iter();
                let Some(name) = w.next() else {
                    continue;
                };
                let d = Directive {
                    name,
                    args: w.collect(),
                    at,
                };
                self.directive(&mut frames, d);
            }
        }
        if let Some(skip) = skipping {
            self.report.problem(
                &skip.head.at,
                format!("<{}> is never closed", skip.head.name),
            );
        }
        // Unclosed sections are reported and kept, so their content is
        // still read.
        while frames.len() > 1 {
            let Some(frame) = frames.pop() else {
                break;
            };
            if let Some(head) = &frame.head {
                self.report
                    .problem(&head.at, format!("<{}> is never closed", head.name));
            }
            Self::attach(&mut frames, frame);
        }
        frames.pop().map(|f| f.children).unwrap_or_default()
    }

    fn attach(frames: &mut [Frame], frame: Frame) {
        let Some(parent) = frames.last_mut() else {
            return;
        };
        match frame.head {
            Some(head) if !frame.transparent => parent.children.push(Node::Section(Section {
                head,
                children: frame.children,
            })),
            _ => parent.children.extend(frame.children),
        }
    }

    fn close(&mut self, frames: &mut Vec<Frame>, name: &str, at: &Location) {
        if frames.len() <= 1 {
            self.report
                .problem(at, format!("</{name}> closes no section"));
            return;
        }
        let Some(frame) = frames.pop() else {
            return;
        };
        if let Some(head) = &frame.head
            && !head.name.eq_ignore_ascii_case(name)
        {
            self.report.problem(
                at,
                format!(
                    "</{name}> closes <{}> opened at line {}; expected </{}>",
                    head.name, head.at.line, head.name
                ),
            );
        }
        Self::attach(frames, frame);
    }

    fn open(
        &mut self,
        frames: &mut Vec<Frame>,
        skipping: &mut Option<Skip>,
        inner: &str,
        at: Location,
    ) {
        // httpd: a section's arguments end at the last `>` of the line.
        let body = match inner.rfind('>') {
            Some(end) => inner.get(..end).unwrap_or_default(),
            None => {
                self.report.problem(
                    &at,
                    format!("<{}: the section lacks its closing `>`", inner.trim()),
                );
                inner
            }
        };
        let mut w = words(body).into_iter();
        let name = w.next().unwrap_or_default();
        let head = Directive {
            name,
            args: w.collect(),
            at,
        };
        let holds = match head.key().as_str() {
            "ifmodule" => {
                self.recognised += 1;
                // The importer takes every module as loaded: the
                // directives it imports need theirs.
                let negated = head.arg(0).starts_with('!');
                if negated {
                    self.report.note(
                        &head.at,
                        head.section_text(),
                        format!(
                            "skipped: the importer takes every module as loaded, so {} is false",
                            head.arg(0)
                        ),
                    );
                }
                Some(!negated)
            }
            "ifdefine" => {
                self.recognised += 1;
                let arg = head.arg(0);
                let (negated, name) = match arg.strip_prefix('!') {
                    Some(n) => (true, n),
                    None => (false, arg),
                };
                let holds = self.defines.contains_key(name) != negated;
                if !holds {
                    let why = if negated {
                        format!("{name} is defined")
                    } else {
                        format!(
                            "{name} is not defined in these files (a name given to httpd with -D is not known to the importer)"
                        )
                    };
                    self.report
                        .note(&head.at, head.section_text(), format!("skipped: {why}"));
                }
                Some(holds)
            }
            "ifversion" => {
                self.recognised += 1;
                let holds = version_holds(&head.args);
                match holds {
                    Some(false) => self.report.note(
                        &head.at,
                        head.section_text(),
                        format!(
                            "skipped: the importer follows Apache {}.{}.{}",
                            APACHE_VERSION[0], APACHE_VERSION[1], APACHE_VERSION[2]
                        ),
                    ),
                    None => self.report.problem(
                        &head.at,
                        format!(
                            "{}: not a version test the importer reads",
                            head.section_text()
                        ),
                    ),
                    Some(true) => {}
                }
                Some(holds.unwrap_or(false))
            }
            "ifdirective" | "ifsection" => {
                self.recognised += 1;
                let negated = head.arg(0).starts_with('!');
                if negated {
                    self.report.note(
                        &head.at,
                        head.section_text(),
                        "skipped: the importer takes every directive and section as known",
                    );
                }
                Some(!negated)
            }
            "iffile" => {
                self.recognised += 1;
                let arg = head.arg(0);
                let (negated, path) = match arg.strip_prefix('!') {
                    Some(p) => (true, p),
                    None => (false, arg),
                };
                let exists = self.files.read(&self.resolve(path, &head.at.file)).is_ok();
                let holds = exists != negated;
                if !holds {
                    self.report.note(
                        &head.at,
                        head.section_text(),
                        format!(
                            "skipped: {path} {}",
                            if exists {
                                "exists"
                            } else {
                                "cannot be read here"
                            }
                        ),
                    );
                }
                Some(holds)
            }
            _ => None,
        };
        match holds {
            Some(false) => *skipping = Some(Skip { head, depth: 1 }),
            Some(true) => frames.push(Frame {
                head: Some(head),
                transparent: true,
                children: Vec::new(),
            }),
            None => frames.push(Frame {
                head: Some(head),
                transparent: false,
                children: Vec::new(),
            }),
        }
    }

    fn directive(&mut self, frames: &mut [Frame], d: Directive) {
        match d.key().as_str() {
            "define" => {
                self.recognised += 1;
                if d.args.is_empty() || d.args.len() > 2 || d.arg(0).contains(':') {
                    self.report
                        .problem(&d.at, "Define takes a NAME and an optional VALUE");
                } else {
                    self.defines
                        .insert(d.arg(0).to_owned(), d.args.get(1).cloned());
                }
            }
            "undefine" => {
                self.recognised += 1;
                self.defines.remove(d.arg(0));
            }
            "serverroot" => {
                self.recognised += 1;
                self.server_root = Some(PathBuf::from(d.arg(0)));
            }
            "include" | "includeoptional" => {
                self.recognised += 1;
                let nodes = self.include(&d);
                if let Some(top) = frames.last_mut() {
                    top.children.extend(nodes);
                }
            }
            _ => {
                if let Some(top) = frames.last_mut() {
                    top.children.push(Node::Directive(d));
                }
            }
        }
    }

    /// `path` as httpd finds it: absolute, or under `ServerRoot`, or (when
    /// the files do not set one) beside the including file.
    fn resolve(&self, path: &str, including: &Path) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            return p.to_path_buf();
        }
        match &self.server_root {
            Some(root) => root.join(p),
            None => including.parent().unwrap_or(Path::new("")).join(p),
        }
    }

    fn include(&mut self, d: &Directive) -> Vec<Node> {
        let optional = d.key() == "includeoptional";
        if d.args.len() != 1 {
            self.report
                .problem(&d.at, format!("{} takes one path", d.name));
            return Vec::new();
        }
        let pattern = self.resolve(d.arg(0), &d.at.file);
        let paths = match self.files.expand(&pattern) {
            Ok(paths) if !paths.is_empty() => paths,
            Ok(_) | Err(_) if optional => {
                self.report
                    .note(&d.at, d.text(), "matched no file: nothing included");
                return Vec::new();
            }
            Ok(_) => {
                self.report.problem(
                    &d.at,
                    format!(
                        "Include {}: no file matches (IncludeOptional accepts that)",
                        pattern.display()
                    ),
                );
                return Vec::new();
            }
            Err(e) => {
                self.report.problem(
                    &d.at,
                    format!("Include {}: cannot read: {e}", pattern.display()),
                );
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for path in paths {
            if self.chain.contains(&path) {
                self.report.problem(
                    &d.at,
                    format!("Include {}: includes itself", path.display()),
                );
                continue;
            }
            if self.chain.len() >= MAX_INCLUDE_DEPTH {
                self.report.problem(
                    &d.at,
                    format!("Include {}: includes nest too deep", path.display()),
                );
                continue;
            }
            self.included += 1;
            if self.included > MAX_INCLUDED_FILES {
                if self.included == MAX_INCLUDED_FILES + 1 {
                    self.report.problem(
                        &d.at,
                        format!(
                            "Include {}: more than {MAX_INCLUDED_FILES} included files read (files that include each other many times?): the rest is not read",
                            path.display()
                        ),
                    );
                }
                continue;
            }
            match self.files.read(&path) {
                Ok(text) => {
                    if !self.report.files.contains(&path) {
                        self.report.files.push(path.clone());
                    }
                    self.chain.push(path.clone());
                    out.extend(self.read_text(&path, &text));
                    self.chain.pop();
                }
                Err(e) => self.report.problem(
                    &d.at,
                    format!("Include {}: cannot read: {e}", path.display()),
                ),
            }
        }
        out
    }

    /// `${NAME}` replaced by its `Define`d value (Debian's
    /// `APACHE_LOG_DIR` known besides); an unknown one is kept as written,
    /// with a note, as httpd warns and keeps it.
    fn expand(&mut self, text: &str, at: &Location) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(rest.get(..start).unwrap_or_default());
            let after = rest.get(start + 2..).unwrap_or_default();
            let Some(end) = after.find('}') else {
                out.push_str(rest.get(start..).unwrap_or_default());
                rest = "";
                break;
            };
            let name = after.get(..end).unwrap_or_default();
            match self.defines.get(name) {
                Some(Some(value)) => out.push_str(value),
                _ if name == "APACHE_LOG_DIR" => out.push_str(APACHE_LOG_DIR),
                _ => {
                    self.report.note(
                        at,
                        text.to_owned(),
                        format!("${{{name}}} is not defined in these files: kept as written"),
                    );
                    out.push_str("${");
                    out.push_str(name);
                    out.push('}');
                }
            }
            rest = after.get(end + 1..).unwrap_or_default();
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_strip_both_quotes_as_ap_getword_conf() {
        assert_eq!(
            // ap_getword_conf ends a quoted word at its closing quote: the
            // `>` after it is a word of its own (sections drop it first).
            words(r#"<Proxy "balancer://my cluster">"#),
            ["<Proxy", "balancer://my cluster", ">"]
        );
        assert_eq!(
            words(r"BalancerMember 'http://172.17.0.2:80' route=1"),
            ["BalancerMember", "http://172.17.0.2:80", "route=1"]
        );
        assert_eq!(
            words(r#"Header set X "say \"hi\"" 'it\'s' a\\b"#),
            ["Header", "set", "X", "say \"hi\"", "it's", r"a\b"]
        );
        // A quote inside an unquoted word is a character; a word that starts
        // with a quote runs to the next one, spaces included.
        assert_eq!(
            words(r#"ProxyPass "/manager "balancer://tomcat/manager" x=1"#),
            [
                "ProxyPass",
                "/manager ",
                "balancer://tomcat/manager\"",
                "x=1"
            ]
        );
        assert_eq!(words(r#"a "" b"#), ["a", "", "b"]);
    }

    #[test]
    fn continuation_lines_keep_the_first_line_number() {
        assert_eq!(
            logical_lines("a \\\n  b\nc\\\\\nd\\"),
            [
                (1, "a    b".to_owned()),
                (3, "c\\\\".to_owned()),
                (4, "d ".to_owned())
            ]
        );
    }

    #[test]
    fn version_tests() {
        let v = |a: &[&str]| version_holds(&a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(v(&[">=", "2.4"]), Some(true));
        assert_eq!(v(&["<", "2.4"]), Some(false));
        assert_eq!(v(&["2.4"]), Some(true));
        assert_eq!(v(&["!=", "2.4"]), Some(false));
        assert_eq!(v(&["~", "^2\\.2"]), Some(false));
        assert_eq!(v(&["/^2\\.4/"]), Some(true));
        assert_eq!(v(&["=>", "2"]), None);
    }

    #[test]
    fn in_memory_globs_match_like_files() {
        let files = InMemory::new()
            .with("/etc/a/sites/b.conf", "")
            .with("/etc/a/sites/a.conf", "")
            .with("/etc/a/sites/sub/c.conf", "")
            .with("/etc/a/other.txt", "");
        let names = |p: &str| {
            files.expand(Path::new(p)).map(|v| {
                v.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            names("/etc/a/sites/*.conf").ok(),
            Some(vec![
                "/etc/a/sites/a.conf".into(),
                "/etc/a/sites/b.conf".into()
            ])
        );
        assert_eq!(names("/etc/a/sites").map(|v| v.len()).ok(), Some(3));
        assert_eq!(names("/etc/a/nope/*.conf").ok(), Some(vec![]));
        assert!(names("/etc/a/nope.conf").is_err());
    }
}
