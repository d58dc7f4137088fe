//! The request line and `Host` by RFC 9112 §3: which request-target forms
//! are accepted for which methods, and which `Host` a member sees.
//!
//! - `CONNECT` is answered 405: the proxy is a gateway to its members, not
//!   a tunnel to anywhere (Apache without `ProxyRequests`, nginx).
//! - asterisk-form (`*`) only with `OPTIONS` (§3.2.4); authority-form only
//!   with `CONNECT` (§3.2.3); an origin-form path starts with `/` (§3.2.1).
//! - absolute-form (§3.2.2): `http` or `https` only, no userinfo (RFC 9110
//!   §4.2.4); its authority replaces any `Host` and the member is sent the
//!   origin-form path, as nginx and Apache do.
//! - `Host` (§3.2): an HTTP/1.1 request without one, with more than one, or
//!   with a value that is not `host[:port]` is answered 400.
//! - HTTP/2 (RFC 9113 §8.3.1): a `Host` that names another host or port
//!   than `:authority` is answered 400 (the RFC's "SHOULD treat as
//!   malformed"): one layer must not route by one name while a member is
//!   told the other.
//! - `Expect` (RFC 9110 §10.1.1): `100-continue` is honoured here (hyper
//!   sends the 100 when the body is first read) and not passed on; any other
//!   expectation is answered 417.
//!
//! Every refusal closes the connection: what follows a request the proxy
//! could not address is not trusted.

use std::net::Ipv6Addr;

use http::header::{EXPECT, HOST};
use http::{HeaderValue, Method, Request, StatusCode, Uri, Version};

/// Why a request is refused, with the status it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetProblem {
    /// `CONNECT`: 405.
    Connect,
    /// A request-target form the method does not allow: 400.
    Form,
    /// An absolute-form scheme other than http/https: 400.
    Scheme,
    /// Userinfo in the authority: 400.
    Userinfo,
    /// No `Host` in an HTTP/1.1 request: 400.
    MissingHost,
    /// Several `Host` fields: 400.
    SeveralHosts,
    /// A `Host` (or absolute-form authority) that is not `host[:port]`: 400.
    InvalidHost,
    /// An HTTP/2 `Host` that differs from `:authority`: 400.
    AuthorityMismatch,
    /// An expectation other than `100-continue`: 417.
    Expectation,
}

impl TargetProblem {
    /// The status the client gets.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Connect => StatusCode::METHOD_NOT_ALLOWED,
            Self::Expectation => StatusCode::EXPECTATION_FAILED,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The body text the client gets (and the log's reason).
    pub fn text(self) -> &'static str {
        match self {
            Self::Connect => "CONNECT is not allowed here\n",
            Self::Form => "request-target not allowed for this method\n",
            Self::Scheme => "absolute-form target must be http or https\n",
            Self::Userinfo => "userinfo is not allowed in the request-target\n",
            Self::MissingHost => "HTTP/1.1 request without Host\n",
            Self::SeveralHosts => "more than one Host field\n",
            Self::InvalidHost => "invalid Host\n",
            Self::AuthorityMismatch => "Host differs from :authority\n",
            Self::Expectation => "only 100-continue can be expected\n",
        }
    }
}

/// Whether `value` is `host[:port]` (RFC 9110 §7.2, RFC 3986 §3.2.2): an
/// IPv6 literal in brackets, or a name of letters, digits, `-`, `.`, `_` and
/// `~`, then an optional decimal port up to 65535. Stricter than RFC 3986's
/// reg-name (no sub-delims, no percent-encoding), as Apache is: no real
/// host name needs them and each is a way to confuse a member.
pub fn valid_host(value: &[u8]) -> bool {
    let (host_ok, port) = if let Some(rest) = value.strip_prefix(b"[") {
        let Some(close) = rest.iter().position(|&b| b == b']') else {
            return false;
        };
        let literal = std::str::from_utf8(&rest[..close])
            .ok()
            .and_then(|s| s.parse::<Ipv6Addr>().ok());
        match &rest[close + 1..] {
            [] => (literal.is_some(), None),
            [b':', port @ ..] => (literal.is_some(), Some(port)),
            _ => return false,
        }
    } else {
        // One pass: name bytes up to an optional `:port`.
        let mut name_len = 0;
        let mut port = None;
        for (i, &b) in value.iter().enumerate() {
            if b == b':' {
                port = value.get(i + 1..);
                break;
            }
            if !NAME_BYTE[usize::from(b)] {
                return false;
            }
            name_len += 1;
        }
        (name_len > 0, port)
    };
    // RFC 3986 allows an empty port after the colon.
    host_ok && port.is_none_or(valid_port)
}

/// Bytes a host name may hold: letters, digits, `-`, `.`, `_`, `~`.
const NAME_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~');
        b += 1;
    }
    t
};

/// Up to five digits whose value fits a port (empty is allowed).
fn valid_port(port: &[u8]) -> bool {
    if port.len() > 5 {
        return false;
    }
    let mut n: u32 = 0;
    for &d in port {
        if !d.is_ascii_digit() {
            return false;
        }
        n = n * 10 + u32::from(d - b'0');
    }
    n <= u32::from(u16::MAX)
}

/// Whether a `Host` value names the same host and port as `authority`
/// (both already valid `host[:port]`): the host case-insensitively, a
/// missing port as the scheme's default (RFC 9110 §4.2.3).
fn same_authority(host: &[u8], authority: &str, scheme: &str) -> bool {
    let default = if scheme.eq_ignore_ascii_case("https") {
        "443"
    } else {
        "80"
    };
    let split = |v: &[u8]| -> (Vec<u8>, Vec<u8>) {
        // The port follows the last ':' after any IPv6 literal's ']'.
        let tail = v.iter().rposition(|&b| b == b']').map_or(0, |i| i + 1);
        match v[tail..].iter().position(|&b| b == b':') {
            Some(i) => (
                v[..tail + i].to_ascii_lowercase(),
                v[tail + i + 1..].to_vec(),
            ),
            None => (v.to_ascii_lowercase(), Vec::new()),
        }
    };
    let port = |p: Vec<u8>| {
        if p.is_empty() {
            default.as_bytes().to_vec()
        } else {
            p
        }
    };
    let (h1, p1) = split(host);
    let (h2, p2) = split(authority.as_bytes());
    h1 == h2 && port(p1) == port(p2)
}

/// Checks `req` and rewrites an absolute-form target to origin-form with its
/// authority as `Host`; the problem when it is refused.
pub fn check<B>(req: &mut Request<B>) -> Result<(), TargetProblem> {
    if req.method() == Method::CONNECT {
        return Err(TargetProblem::Connect);
    }
    // §3.2: one Host, valid, whatever the form of the target.
    let mut hosts = req.headers().get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => return Err(TargetProblem::SeveralHosts),
        (Some(h), None) if !valid_host(h.as_bytes()) => return Err(TargetProblem::InvalidHost),
        (None, _) if req.version() == Version::HTTP_11 && req.uri().authority().is_none() => {
            return Err(TargetProblem::MissingHost);
        }
        _ => {}
    }
    let uri = req.uri();
    match (uri.scheme_str(), uri.authority()) {
        // authority-form: CONNECT only, refused above.
        (None, Some(_)) => return Err(TargetProblem::Form),
        (None, None) => {
            let path = uri.path();
            if path == "*" {
                if req.method() != Method::OPTIONS {
                    return Err(TargetProblem::Form);
                }
            } else if !path.starts_with('/') {
                return Err(TargetProblem::Form);
            }
        }
        (Some(scheme), authority) => {
            if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
                return Err(TargetProblem::Scheme);
            }
            let Some(authority) = authority else {
                return Err(TargetProblem::InvalidHost);
            };
            if authority.as_str().contains('@') {
                return Err(TargetProblem::Userinfo);
            }
            if !valid_host(authority.as_str().as_bytes()) {
                return Err(TargetProblem::InvalidHost);
            }
            if req.version() == Version::HTTP_2
                && req
                    .headers()
                    .get(HOST)
                    .is_some_and(|h| !same_authority(h.as_bytes(), authority.as_str(), scheme))
            {
                return Err(TargetProblem::AuthorityMismatch);
            }
            // §3.2.2: the target's authority wins over any Host field.
            let host = HeaderValue::from_str(authority.as_str())
                .map_err(|_| TargetProblem::InvalidHost)?;
            let origin = uri
                .path_and_query()
                .map_or("/", http::uri::PathAndQuery::as_str);
            let origin = if origin.starts_with('/') { origin } else { "/" };
            let origin = Uri::try_from(origin).map_err(|_| TargetProblem::Form)?;
            req.headers_mut().insert(HOST, host);
            *req.uri_mut() = origin;
        }
    }
    // RFC 9110 §10.1.1.
    if let Some(expect) = req.headers().get(EXPECT) {
        if !expect.as_bytes().eq_ignore_ascii_case(b"100-continue")
            || req.headers().get_all(EXPECT).iter().count() > 1
        {
            return Err(TargetProblem::Expectation);
        }
        req.headers_mut().remove(EXPECT);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, target: &str, version: Version, hosts: &[&str]) -> Request<()> {
        let mut b = Request::builder()
            .method(method)
            .uri(target)
            .version(version);
        for h in hosts {
            b = b.header("host", *h);
        }
        b.body(()).unwrap_or_default()
    }

    fn run(method: &str, target: &str, hosts: &[&str]) -> Result<(String, String), TargetProblem> {
        let mut r = req(method, target, Version::HTTP_11, hosts);
        check(&mut r)?;
        let host = r
            .headers()
            .get(HOST)
            .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
            .unwrap_or_default();
        Ok((r.uri().to_string(), host))
    }

    #[test]
    fn hosts() {
        for ok in [
            "a",
            "front.example",
            "front.example:8080",
            "198.18.0.1",
            "198.18.0.1:80",
            "[2001:db8::1]",
            "[2001:db8::1]:443",
            "a:",
            "under_score.example",
            "A.EXAMPLE",
        ] {
            assert!(valid_host(ok.as_bytes()), "{ok} should be valid");
        }
        for bad in [
            "",
            "a, b",
            "a b",
            "a/b",
            "a:99999x",
            "a:99999",
            "a:65536",
            "a:-1",
            "u@a",
            "[2001:db8::1",
            "[zz]",
            "[2001:db8::1]x",
            ":80",
            "a\\b",
            "a%2fb",
            "é",
            "a;b",
        ] {
            assert!(!valid_host(bad.as_bytes()), "{bad:?} should be invalid");
        }
        assert!(valid_host(b"a:65535"));
    }

    #[test]
    fn host_rules() {
        assert_eq!(
            run("GET", "/x", &["a"]),
            Ok(("/x".to_owned(), "a".to_owned()))
        );
        assert_eq!(run("GET", "/x", &[]), Err(TargetProblem::MissingHost));
        assert_eq!(
            run("GET", "/x", &["a", "b"]),
            Err(TargetProblem::SeveralHosts)
        );
        assert_eq!(
            run("GET", "/x", &["a", "a"]),
            Err(TargetProblem::SeveralHosts)
        );
        assert_eq!(run("GET", "/x", &[""]), Err(TargetProblem::InvalidHost));
        assert_eq!(
            run("GET", "/x", &["a:99999x"]),
            Err(TargetProblem::InvalidHost)
        );
        // HTTP/1.0 may leave Host out.
        let mut r = req("GET", "/x", Version::HTTP_10, &[]);
        assert_eq!(check(&mut r), Ok(()));
    }

    #[test]
    fn absolute_form_authority_wins() {
        assert_eq!(
            run("GET", "http://evil.example/x?q=1", &["good.example"]),
            Ok(("/x?q=1".to_owned(), "evil.example".to_owned()))
        );
        assert_eq!(
            run("GET", "HTTPS://Evil.example:8443", &["good.example"]),
            Ok(("/".to_owned(), "Evil.example:8443".to_owned()))
        );
        // No Host needed when the target carries the authority.
        assert_eq!(
            run("GET", "http://evil.example/x", &[]),
            Ok(("/x".to_owned(), "evil.example".to_owned()))
        );
        assert_eq!(
            run("GET", "http://u:p@evil.example/x", &["good"]),
            Err(TargetProblem::Userinfo)
        );
        assert_eq!(
            run("GET", "ftp://evil.example/x", &["good"]),
            Err(TargetProblem::Scheme)
        );
        // Several Host fields are refused even with an absolute-form target.
        assert_eq!(
            run("GET", "http://evil.example/x", &["a", "b"]),
            Err(TargetProblem::SeveralHosts)
        );
    }

    #[test]
    fn http2_host_must_name_the_authority() {
        let h2 = |target: &str, host: &str| {
            let mut r = req("GET", target, Version::HTTP_2, &[host]);
            check(&mut r).map(|()| r.headers()[HOST].to_str().unwrap_or("").to_owned())
        };
        assert_eq!(
            h2("https://front.test/x", "other.test"),
            Err(TargetProblem::AuthorityMismatch)
        );
        assert_eq!(
            h2("https://front.test/x", "front.test:8443"),
            Err(TargetProblem::AuthorityMismatch)
        );
        assert_eq!(
            h2("https://[2001:db8::1]/x", "[2001:db8::2]"),
            Err(TargetProblem::AuthorityMismatch)
        );
        // The same name in another case, or with the scheme's default port.
        assert_eq!(
            h2("https://front.test/x", "Front.TEST"),
            Ok("front.test".to_owned())
        );
        assert_eq!(
            h2("https://front.test/x", "front.test:443"),
            Ok("front.test".to_owned())
        );
        assert_eq!(
            h2("http://front.test:80/x", "front.test"),
            Ok("front.test:80".to_owned())
        );
        assert_eq!(
            h2("https://[2001:db8::1]:443/x", "[2001:DB8::1]"),
            Ok("[2001:db8::1]:443".to_owned())
        );
        // HTTP/1.1 absolute-form keeps RFC 9112 §3.2.2: the target wins.
        assert_eq!(
            run("GET", "https://front.test/x", &["other.test"]),
            Ok(("/x".to_owned(), "front.test".to_owned()))
        );
    }

    #[test]
    fn forms_by_method() {
        assert_eq!(
            run("CONNECT", "h:443", &["h:443"]),
            Err(TargetProblem::Connect)
        );
        assert_eq!(run("GET", "abc", &["a"]), Err(TargetProblem::Form));
        assert_eq!(run("GET", "*", &["a"]), Err(TargetProblem::Form));
        assert_eq!(
            run("OPTIONS", "*", &["a"]),
            Ok(("*".to_owned(), "a".to_owned()))
        );
    }

    #[test]
    fn expectations() {
        let mut r = req("POST", "/", Version::HTTP_11, &["a"]);
        r.headers_mut()
            .insert(EXPECT, HeaderValue::from_static("100-Continue"));
        assert_eq!(check(&mut r), Ok(()));
        assert!(r.headers().get(EXPECT).is_none());
        let mut r = req("POST", "/", Version::HTTP_11, &["a"]);
        r.headers_mut()
            .insert(EXPECT, HeaderValue::from_static("teapot"));
        assert_eq!(check(&mut r), Err(TargetProblem::Expectation));
        assert_eq!(
            TargetProblem::Expectation.status(),
            StatusCode::EXPECTATION_FAILED
        );
        assert_eq!(
            TargetProblem::Connect.status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
