//! Which requests a proxy serves and the path a member sees: Apache
//! `ProxyPass PATH URL`'s prefix match, and the canonical path that comes
//! before it.
//!
//! Pure functions over strings: path prefixes and regular expressions as
//! routes match them ([`crate::sites`]), host name patterns as virtual hosts
//! match them, and the canonical path every request gets first
//! ([`crate::admission`]), as Apache makes it before matching: escapes
//! decoded, slashes merged, dot segments removed, so `/api/../admin` is
//! `/admin` and cannot reach a member under `/api`'s mapping; a path
//! climbing above the root is answered 400.

use std::borrow::Cow;

/// The local path a proxy serves (the first argument of `ProxyPass`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPrefix {
    prefix: String,
    /// No run of `/` in the prefix: against a path without one either, a
    /// match is a plain byte comparison.
    plain: bool,
}

impl PathPrefix {
    /// Checks `prefix`: it starts with `/` and carries neither a query, a
    /// fragment, whitespace nor control characters.
    ///
    /// # Errors
    /// Says what is wrong with it.
    pub fn parse(prefix: &str) -> Result<Self, String> {
        if !prefix.starts_with('/') {
            return Err(format!("{prefix:?} does not start with /"));
        }
        if let Some(c) = prefix
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#'))
        {
            return Err(format!("{prefix:?} contains {c:?}"));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
            plain: !has_slash_run(prefix.as_bytes()),
        })
    }

    /// No run of `/` in the prefix.
    pub fn is_plain(&self) -> bool {
        self.plain
    }

    /// `/`: every path matches and is forwarded unchanged.
    pub fn is_root(&self) -> bool {
        self.prefix.bytes().all(|b| b == b'/')
    }

    /// The prefix as configured.
    pub fn as_str(&self) -> &str {
        &self.prefix
    }

    /// What a member URL is replaced by in `ProxyPassReverse`: the prefix
    /// without its trailing slashes (empty for `/`).
    pub fn front(&self) -> &str {
        self.prefix.trim_end_matches('/')
    }

    /// How many bytes at the start of `path` the prefix matches, as Apache's
    /// `alias_match` counts them: a `/` in the prefix matches one or more `/`
    /// in the path, other bytes match literally, and the match must end at
    /// a segment boundary unless the prefix ends with `/` (`/api` matches
    /// `/api` and `/api/x`, not `/apix`). `None`: no match.
    pub fn matched_len(&self, path: &str) -> Option<usize> {
        self.matched_len_in(path, !has_slash_run(path.as_bytes()))
    }

    /// [`matched_len`](Self::matched_len) for a path the caller knows has
    /// (`plain_path`) or may have runs of `/`, so that a request tried
    /// against many routes scans its path once.
    pub fn matched_len_in(&self, path: &str, plain_path: bool) -> Option<usize> {
        let alias = self.prefix.as_bytes();
        let uri = path.as_bytes();
        // The usual case (request paths are canonical, slashes merged): a
        // byte comparison, and a mismatch costs no more than `memcmp`.
        if self.plain && plain_path {
            if !uri.starts_with(alias) {
                return None;
            }
            let ends_in_slash = alias.last() == Some(&b'/');
            return match uri.get(alias.len()) {
                Some(&b) if !ends_in_slash && b != b'/' => None,
                _ => Some(alias.len()),
            };
        }
        let (mut a, mut u) = (0, 0);
        while a < alias.len() && u < uri.len() {
            if alias[a] == b'/' {
                if uri[u] != b'/' {
                    return None;
                }
                while alias.get(a) == Some(&b'/') {
                    a += 1;
                }
                while uri.get(u) == Some(&b'/') {
                    u += 1;
                }
            } else {
                if uri[u] != alias[a] {
                    return None;
                }
                a += 1;
                u += 1;
            }
        }
        // The path ended before the prefix did (`/` against `/examples`).
        if a < alias.len() {
            return None;
        }
        // The last segment of the prefix must have matched a whole segment.
        let ends_in_slash = alias.last() == Some(&b'/');
        if !ends_in_slash && u < uri.len() && uri[u] != b'/' {
            return None;
        }
        Some(u)
    }

    /// What of `path` a member's URL path is joined with: the matched prefix
    /// is dropped and what remains starts with `/`; `whole` when nothing
    /// remained (`/api` under `/api`: the member's own path is the target,
    /// as Apache's `ProxyPass /api http://m/v1` sends `/v1`). `None` when the
    /// prefix does not match.
    pub fn strip<'a>(&self, path: &'a str) -> Option<Remainder<'a>> {
        self.strip_in(path, !has_slash_run(path.as_bytes()))
    }

    /// [`strip`](Self::strip) with what the caller knows of `path` (see
    /// [`matched_len_in`](Self::matched_len_in)).
    pub fn strip_in<'a>(&self, path: &'a str, plain_path: bool) -> Option<Remainder<'a>> {
        if self.is_root() {
            return Some(Remainder {
                path: Cow::Borrowed(path),
                whole: false,
            });
        }
        let rest = path.get(self.matched_len_in(path, plain_path)?..)?;
        Some(Remainder {
            whole: rest.is_empty(),
            path: if rest.starts_with('/') {
                Cow::Borrowed(rest)
            } else {
                Cow::Owned(format!("/{rest}"))
            },
        })
    }
}

/// The part of a request path that goes to a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remainder<'a> {
    /// The rest of the path, starting with `/`.
    pub path: Cow<'a, str>,
    /// The whole path was the prefix: nothing of it remains, and the member's
    /// own path is sent without a slash added.
    pub whole: bool,
}

/// Whether `bytes` holds `//`.
pub fn has_slash_run(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"//")
}

/// Why a request path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// `..` segments climb above the root (`/a/../../etc`).
    #[error("the path climbs above the root")]
    AboveRoot,
    /// A `%` not followed by two hex digits.
    #[error("the path has a % without two hex digits")]
    BadEscape,
    /// `%2F` or `%00`: Apache (`AllowEncodedSlashes Off`, its default)
    /// answers 404 rather than guess which `/` is meant.
    #[error("the path encodes a / or a NUL")]
    EncodedSlashOrNul,
}

impl PathError {
    /// The status Apache answers with: 404 for an encoded `/` or NUL, 400
    /// otherwise.
    pub fn status(self) -> http::StatusCode {
        match self {
            Self::EncodedSlashOrNul => http::StatusCode::NOT_FOUND,
            Self::AboveRoot | Self::BadEscape => http::StatusCode::BAD_REQUEST,
        }
    }
}

/// Whether a byte stands for itself in a canonical path: RFC 3986 `pchar`
/// without `%` (unreserved and sub-delims, `:` `@`), and `/`. Apache's
/// `ap_proxy_canonenc` leaves exactly these unencoded in a path.
const fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'/'
        )
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The canonical form of an origin-form path, as Apache makes it before it
/// matches `ProxyPass` and forwards the rest (`ProxyPass` without
/// `nocanon`): percent-escapes decoded, runs of `/` merged to one
/// (`MergeSlashes On`), `.` and `..` segments removed (RFC 3986 §5.2.4,
/// after decoding, so `%2e%2e` is `..`), and what is not a plain path
/// character escaped again in upper case. So `/%7Euser` is `/~user`,
/// `/caf%c3%a9` is `/caf%C3%A9`, `/a%3bb` is `/a;b`, `/a//b` is `/a/b`, and
/// a member sees the same path behind had as behind Apache.
///
/// Borrowed when nothing changes: the usual path costs one byte scan.
///
/// # Errors
/// A `..` above the root, a bad escape, or an escaped `/` or NUL.
pub fn canonical_path(path: &str) -> Result<Cow<'_, str>, PathError> {
    let bytes = path.as_bytes();
    let clean = bytes.iter().all(|&b| plain(b))
        && !bytes.windows(2).any(|w| w == b"//")
        && (!bytes.contains(&b'.') || !path.split('/').any(|s| s == "." || s == ".."));
    if clean {
        return Ok(Cow::Borrowed(path));
    }
    // Decode.
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) else {
                return Err(PathError::BadEscape);
            };
            let c = hi << 4 | lo;
            if c == b'/' || c == 0 {
                return Err(PathError::EncodedSlashOrNul);
            }
            decoded.push(c);
            i += 3;
        } else {
            decoded.push(b);
            i += 1;
        }
    }
    // Merge slashes, then remove dot segments, segment by segment.
    let mut out: Vec<&[u8]> = Vec::new();
    let segments: Vec<&[u8]> = decoded
        .split(|&b| b == b'/')
        .skip(1)
        .filter(|s| !s.is_empty())
        .collect();
    let mut trailing_slash = decoded.ends_with(b"/");
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            b"." => trailing_slash |= i == last,
            b".." => {
                if out.pop().is_none() {
                    return Err(PathError::AboveRoot);
                }
                trailing_slash |= i == last;
            }
            _ => out.push(seg),
        }
    }
    // Encode again.
    let mut s = String::with_capacity(path.len());
    let mut push = |b: u8| {
        if plain(b) {
            s.push(char::from(b));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            s.push('%');
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 15)]));
        }
    };
    for seg in &out {
        push(b'/');
        seg.iter().copied().for_each(&mut push);
    }
    if trailing_slash || out.is_empty() {
        push(b'/');
    }
    Ok(Cow::Owned(s))
}

/// A `ProxyPassMatch` / `RedirectMatch` regular expression over the path.
#[derive(Debug, Clone)]
pub struct PathRegex {
    re: regex::Regex,
}

impl PathRegex {
    /// Compiles `pattern`.
    ///
    /// # Errors
    /// Why it does not compile.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        regex::Regex::new(pattern)
            .map(|re| Self { re })
            .map_err(|e| format!("{pattern:?} is not a regular expression: {e}"))
    }

    /// `template` with Apache's `ap_pregsub` substitutions for `path`: `$0`
    /// to `$9` are the groups (`$0` and `&` the whole match), `\$` and `\&`
    /// are literal. `None` when the expression does not match.
    pub fn expand(&self, path: &str, template: &str) -> Option<String> {
        let caps = self.re.captures(path)?;
        let group = |n: usize| caps.get(n).map_or("", |m| m.as_str());
        let mut out = String::with_capacity(template.len() + path.len());
        let mut chars = template.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '&' => out.push_str(group(0)),
                '$' if chars.peek().is_some_and(char::is_ascii_digit) => {
                    let n = chars.next().and_then(|d| d.to_digit(10)).unwrap_or(0);
                    out.push_str(group(n as usize));
                }
                '\\' if matches!(chars.peek(), Some('$' | '&')) => {
                    out.extend(chars.next());
                }
                c => out.push(c),
            }
        }
        Some(out)
    }

    /// Whether `path` matches.
    pub fn is_match(&self, path: &str) -> bool {
        self.re.is_match(path)
    }
}

/// A `ServerName` or `ServerAlias`: exact, or with `*` and `?` wildcards as
/// Apache's fnmatch has them; compared without case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    pattern: String,
    kind: PatternKind,
}

/// How a [`HostPattern`] is matched: most are exact names or `*.domain`,
/// which need no glob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatternKind {
    Exact,
    /// `*` then a suffix without wildcards (`*.example.com`).
    StarSuffix,
    Glob,
}

impl HostPattern {
    /// A pattern for `name` (validated by the config).
    pub fn new(name: &str) -> Self {
        let pattern = name.to_ascii_lowercase();
        let wild = |s: &str| s.contains(['*', '?']);
        let kind = match pattern.strip_prefix('*') {
            _ if !wild(&pattern) => PatternKind::Exact,
            Some(rest) if !wild(rest) => PatternKind::StarSuffix,
            _ => PatternKind::Glob,
        };
        Self { pattern, kind }
    }

    /// Whether `host` (a `Host` value without its port) matches.
    pub fn matches(&self, host: &str) -> bool {
        let (p, h) = (self.pattern.as_bytes(), host.as_bytes());
        match self.kind {
            PatternKind::Exact => h.eq_ignore_ascii_case(p),
            PatternKind::StarSuffix => {
                let suffix = &p[1..];
                h.len() >= suffix.len() && h[h.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
            }
            PatternKind::Glob => glob(p, h),
        }
    }
}

/// fnmatch without case over bytes: `*` any run, `?` one byte.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t].to_ascii_lowercase() => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

/// The host part of a `Host` value: without its port, and for an IPv6
/// literal, the brackets kept (`[2001:db8::1]:80` → `[2001:db8::1]`).
pub fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathPrefix {
        PathPrefix::parse(s).expect("valid prefix")
    }

    #[test]
    fn prefixes_match_whole_segments_as_apache_does() {
        assert_eq!(p("/api").matched_len("/api"), Some(4));
        assert_eq!(p("/api").matched_len("/api/x"), Some(4));
        assert_eq!(p("/api").matched_len("/apix"), None);
        assert_eq!(p("/api").matched_len("/ap"), None);
        assert_eq!(p("/api/").matched_len("/api/x"), Some(5));
        assert_eq!(p("/api/").matched_len("/api"), None);
        assert_eq!(p("/api/").matched_len("/api/"), Some(5));
        // Runs of slashes match one slash of the prefix, either way round.
        assert_eq!(p("/api/v1").matched_len("//api///v1/x"), Some(10));
        assert_eq!(p("//api").matched_len("/api/x"), Some(4));
        assert_eq!(p("/").matched_len("/anything"), Some(1));
        assert_eq!(p("/api").matched_len("/API"), None);
        // The byte-comparison path and the slash-merging one agree.
        for (prefix, path) in [
            ("/api/", "/api/x"),
            ("/api", "/api"),
            ("/api", "/apix"),
            ("/api/", "/api"),
            ("/api", "/api//x"),
            ("/a/b", "/a//b/c"),
            ("/", "/"),
        ] {
            let slow = PathPrefix {
                prefix: prefix.into(),
                plain: false,
            };
            assert_eq!(
                p(prefix).matched_len(path),
                slow.matched_len(path),
                "{prefix} {path}"
            );
        }
    }

    #[test]
    fn stripping_leaves_a_path_starting_with_slash() {
        let s = |prefix: &str, path: &str| {
            p(prefix)
                .strip(path)
                .map(|r| (r.path.into_owned(), r.whole))
        };
        assert_eq!(s("/api", "/api/x"), Some(("/x".into(), false)));
        assert_eq!(s("/api", "/api"), Some(("/".into(), true)));
        assert_eq!(s("/api", "/api/"), Some(("/".into(), false)));
        assert_eq!(s("/api/", "/api/x/y"), Some(("/x/y".into(), false)));
        assert_eq!(s("/api/", "/api/"), Some(("/".into(), true)));
        assert_eq!(s("/api", "/api//x"), Some(("//x".into(), false)));
        assert_eq!(s("/", "/a/b"), Some(("/a/b".into(), false)));
        assert_eq!(s("/api", "/other"), None);
        assert_eq!(p("/api").front(), "/api");
        assert_eq!(p("/api/").front(), "/api");
        assert_eq!(p("/").front(), "");
    }

    #[test]
    fn bad_prefixes_are_refused() {
        assert!(PathPrefix::parse("api").is_err());
        assert!(PathPrefix::parse("/a?b").is_err());
        assert!(PathPrefix::parse("/a b").is_err());
        assert!(PathPrefix::parse("/a\u{7}").is_err());
        assert!(PathPrefix::parse("").is_err());
    }

    #[test]
    fn regex_substitution_is_apaches() {
        let re = PathRegex::parse("^/app/(.*)\\.(gif|png)$").expect("regex");
        assert_eq!(
            re.expand("/app/a/b.png", "/img/$1.$2").as_deref(),
            Some("/img/a/b.png")
        );
        assert_eq!(
            re.expand("/app/x.gif", "/all$0").as_deref(),
            Some("/all/app/x.gif")
        );
        assert_eq!(
            re.expand("/app/x.gif", "/w&").as_deref(),
            Some("/w/app/x.gif")
        );
        assert_eq!(
            re.expand("/app/x.gif", "/a\\$1\\&").as_deref(),
            Some("/a$1&")
        );
        assert_eq!(re.expand("/app/x.gif", "/$9").as_deref(), Some("/"));
        assert_eq!(re.expand("/other", "/$1"), None);
        assert!(PathRegex::parse("(").is_err());
    }

    #[test]
    fn host_patterns_are_fnmatch_without_case() {
        let h = |p: &str, host: &str| HostPattern::new(p).matches(host);
        assert!(h("www.example.com", "WWW.Example.com"));
        assert!(!h("www.example.com", "example.com"));
        assert!(h("*.example.com", "a.example.com"));
        assert!(h("*.example.com", "a.b.example.com"));
        assert!(!h("*.example.com", "example.com"));
        assert!(h("www?.example.com", "www1.example.com"));
        assert!(!h("www?.example.com", "www.example.com"));
        assert!(h("*", "anything"));
        assert!(h("*.example.com", "A.EXAMPLE.com"));
        assert!(h("*example.com", "example.com"));
        assert!(!h("*.example.com", ".example.co"));
        assert!(h("w*w.example.com", "wxyzw.example.com"));
        assert!(!h("www.example.com", "www.example.co"));
        assert_eq!(host_without_port("a.example:8080"), "a.example");
        assert_eq!(host_without_port("a.example"), "a.example");
        assert_eq!(host_without_port("[2001:db8::1]:80"), "[2001:db8::1]");
        assert_eq!(host_without_port("[2001:db8::1]"), "[2001:db8::1]");
    }

    #[test]
    fn paths_are_made_canonical_as_apache_makes_them() {
        let n = |s| canonical_path(s).map(Cow::into_owned);
        assert_eq!(n("/a/b"), Ok("/a/b".into()));
        assert!(matches!(
            canonical_path("/a/b-c_d~e;f=g/x.css"),
            Ok(Cow::Borrowed(_))
        ));
        // Dot segments, plain or escaped.
        assert_eq!(n("/a/./b"), Ok("/a/b".into()));
        assert_eq!(n("/a/../b"), Ok("/b".into()));
        assert_eq!(n("/api/../admin"), Ok("/admin".into()));
        assert_eq!(n("/api/%2e%2e/admin"), Ok("/admin".into()));
        assert_eq!(n("/api/.%2E/admin"), Ok("/admin".into()));
        assert_eq!(n("/a/b/.."), Ok("/a/".into()));
        assert_eq!(n("/a/."), Ok("/a/".into()));
        assert_eq!(n("/.."), Err(PathError::AboveRoot));
        assert_eq!(n("/a/../../etc/passwd"), Err(PathError::AboveRoot));
        assert_eq!(n("/a/..b/c.d/.../x"), Ok("/a/..b/c.d/.../x".into()));
        assert_eq!(n("/."), Ok("/".into()));
        assert_eq!(n("/a.html"), Ok("/a.html".into()));
        // Slashes merged, before the dots are counted.
        assert_eq!(n("/a//b///c/"), Ok("/a/b/c/".into()));
        assert_eq!(n("//"), Ok("/".into()));
        assert_eq!(n("/a//../b"), Ok("/b".into()));
        // Escapes decoded, and what is not plain escaped again in upper case.
        assert_eq!(n("/%7Euser/%41bc"), Ok("/~user/Abc".into()));
        assert_eq!(n("/a%3bb%3Dc"), Ok("/a;b=c".into()));
        assert_eq!(n("/caf%c3%a9"), Ok("/caf%C3%A9".into()));
        assert_eq!(n("/a%2520b"), Ok("/a%2520b".into()));
        assert_eq!(n("/a%20b%22%3c"), Ok("/a%20b%22%3C".into()));
        assert_eq!(n("/a%2Bb+c"), Ok("/a+b+c".into()));
        assert_eq!(n("/caf\u{e9}"), Ok("/caf%C3%A9".into()));
        assert_eq!(n("/a%2Fb"), Err(PathError::EncodedSlashOrNul));
        assert_eq!(n("/a%2fb"), Err(PathError::EncodedSlashOrNul));
        assert_eq!(n("/a%00b"), Err(PathError::EncodedSlashOrNul));
        assert_eq!(n("/a%zzb"), Err(PathError::BadEscape));
        assert_eq!(n("/a%2"), Err(PathError::BadEscape));
        assert_eq!(PathError::EncodedSlashOrNul.status(), 404);
        assert_eq!(PathError::BadEscape.status(), 400);
        assert_eq!(PathError::AboveRoot.status(), 400);
    }
}
