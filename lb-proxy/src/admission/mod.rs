//! What a request must satisfy before the proxy does anything with it, in
//! the order it is checked: Apache's size limits ([`limits`]), unambiguous
//! framing ([`framing`]), a request-target and `Host` RFC 9112 §3 allows
//! ([`target`]), and a canonical path ([`crate::route`]). Each
//! rule is a pure function over the request head; [`admit`] runs them and
//! [`crate::layer::admission`] answers a [`Refusal`] itself.

pub mod framing;
pub mod limits;
pub mod target;

use std::borrow::Cow;

use http::header::ALLOW;
use http::uri::PathAndQuery;
use http::{HeaderValue, Request, StatusCode, Uri};

use crate::body::{ProxyBody, local_response, refusal};
use crate::route::{PathError, canonical_path};
use framing::FramingProblem;
use limits::{LimitProblem, Limits};
use target::TargetProblem;

/// Why the proxy answers a request itself instead of forwarding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Over a size limit.
    Limit(LimitProblem),
    /// Ambiguous or foreign framing.
    Framing(FramingProblem),
    /// A method, request-target or `Host` not allowed.
    Target(TargetProblem),
    /// A path that has no canonical form.
    Path(PathError),
}

impl Refusal {
    /// The status the client gets.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Limit(LimitProblem::Line) => StatusCode::URI_TOO_LONG,
            Self::Limit(LimitProblem::Fields) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::Framing(FramingProblem::OtherCoding) => StatusCode::NOT_IMPLEMENTED,
            Self::Framing(_) => StatusCode::BAD_REQUEST,
            Self::Path(p) => p.status(),
            Self::Target(t) => t.status(),
        }
    }

    /// The body the client gets (and the log's reason).
    pub fn text(self) -> &'static str {
        match self {
            Self::Limit(LimitProblem::Line) => "request line too long\n",
            Self::Limit(LimitProblem::Fields) => "request header fields too large\n",
            Self::Framing(f) => f.text(),
            Self::Target(t) => t.text(),
            Self::Path(PathError::EncodedSlashOrNul) => "not found\n",
            Self::Path(_) => "invalid path\n",
        }
    }

    /// Whether the client connection closes after the answer: everything but
    /// a well-formed request with a path that has no canonical form, since
    /// what follows a request the proxy could not frame or address is not
    /// trusted (RFC 9112 §6.3, §9.6).
    pub fn closes(self) -> bool {
        !matches!(self, Self::Path(_))
    }

    /// The answer.
    pub fn response(self) -> http::Response<ProxyBody> {
        let mut resp = if self.closes() {
            refusal(self.status(), self.text())
        } else {
            local_response(self.status(), self.text())
        };
        if self == Self::Target(TargetProblem::Connect) {
            // RFC 9110 §15.5.6: a 405 lists what the resource allows.
            resp.headers_mut().insert(
                ALLOW,
                HeaderValue::from_static("GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"),
            );
        }
        resp
    }
}

/// Checks `req` against `limits` and the rules, in order, and rewrites what
/// the checks normalise: an absolute-form target to origin-form with its
/// authority as `Host`, `Expect: 100-continue` removed, the path canonical
/// ([`canonical_path`]).
///
/// # Errors
/// The first rule it breaks.
pub fn admit<B>(req: &mut Request<B>, limits: Limits) -> Result<(), Refusal> {
    limits::check(req, limits).map_err(Refusal::Limit)?;
    framing::check(req.headers()).map_err(Refusal::Framing)?;
    target::check(req).map_err(Refusal::Target)?;
    normalise_path(req)
}

/// Makes an origin-form path canonical (`OPTIONS *` has no path).
fn normalise_path<B>(req: &mut Request<B>) -> Result<(), Refusal> {
    let path = req.uri().path();
    if path == "*" {
        return Ok(());
    }
    let normal = match canonical_path(path) {
        Ok(Cow::Borrowed(_)) => return Ok(()),
        Ok(Cow::Owned(normal)) => normal,
        Err(e) => return Err(Refusal::Path(e)),
    };
    let target = match req.uri().query() {
        Some(q) => format!("{normal}?{q}"),
        None => normal,
    };
    let uri = PathAndQuery::try_from(target)
        .map(Uri::from)
        .map_err(|_| Refusal::Path(PathError::BadEscape))?;
    *req.uri_mut() = uri;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        field_size: 8190,
        fields: 100,
        line: 8190,
    };

    #[test]
    fn statuses_and_closing() {
        let cases = [
            (Refusal::Limit(LimitProblem::Line), 414, true),
            (Refusal::Limit(LimitProblem::Fields), 431, true),
            (Refusal::Framing(FramingProblem::OtherCoding), 501, true),
            (Refusal::Framing(FramingProblem::ChunkedTwice), 400, true),
            (Refusal::Target(TargetProblem::Connect), 405, true),
            (Refusal::Target(TargetProblem::Expectation), 417, true),
            (Refusal::Target(TargetProblem::SeveralHosts), 400, true),
            (Refusal::Path(PathError::AboveRoot), 400, false),
        ];
        for (refusal, status, closes) in cases {
            let resp = refusal.response();
            assert_eq!(resp.status().as_u16(), status, "{refusal:?}");
            assert_eq!(
                resp.headers().get("connection").is_some(),
                closes,
                "{refusal:?}"
            );
        }
        assert!(
            Refusal::Target(TargetProblem::Connect)
                .response()
                .headers()
                .contains_key("allow")
        );
    }

    #[test]
    fn rules_apply_in_order_and_normalise() {
        let mut r = Request::builder()
            .uri("http://a.example/api/x/../y?q")
            .header("host", "b.example")
            .header("expect", "100-continue")
            .body(())
            .unwrap_or_default();
        assert_eq!(admit(&mut r, LIMITS), Ok(()));
        assert_eq!(r.uri(), "/api/y?q");
        assert_eq!(r.headers()["host"], "a.example");
        assert!(r.headers().get("expect").is_none());
        // Framing is judged before the target, the target before the path.
        let mut r = Request::builder()
            .method("CONNECT")
            .uri("h:443")
            .header("transfer-encoding", "gzip, chunked")
            .body(())
            .unwrap_or_default();
        assert_eq!(
            admit(&mut r, LIMITS),
            Err(Refusal::Framing(FramingProblem::OtherCoding))
        );
        let mut r = Request::builder()
            .uri("/other")
            .body(())
            .unwrap_or_default();
        assert_eq!(
            admit(&mut r, LIMITS),
            Err(Refusal::Target(TargetProblem::MissingHost))
        );
        let mut r = Request::builder()
            .uri("/a/../../etc")
            .header("host", "a")
            .body(())
            .unwrap_or_default();
        assert_eq!(
            admit(&mut r, LIMITS),
            Err(Refusal::Path(PathError::AboveRoot))
        );
        let mut r = Request::builder()
            .uri("/a/./b/../c?q=1")
            .header("host", "a")
            .body(())
            .unwrap_or_default();
        assert_eq!(admit(&mut r, LIMITS), Ok(()));
        assert_eq!(r.uri(), "/a/c?q=1");
    }
}
