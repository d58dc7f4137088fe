//! What a request must satisfy before the proxy does anything with it, in
//! the order it is checked: Apache's size limits ([`limits`]), unambiguous
//! framing ([`framing`]), a request-target and `Host` RFC 9112 §3 allows
//! ([`target`]), and the proxy's path ([`crate::route`]). Each rule is a
//! pure function over the request head; [`admit`] runs them and
//! [`crate::layer::admission`] answers a [`Refusal`] itself.

pub mod framing;
pub mod limits;
pub mod target;

use http::header::ALLOW;
use http::{HeaderValue, Request, StatusCode};

use crate::body::{ProxyBody, local_response, refusal};
use crate::route::{PathPrefix, Routed, WholePrefix, route};
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
    /// Outside the proxy's path.
    NotFound,
    /// A path whose `..` climbs above the root.
    InvalidPath,
}

impl Refusal {
    /// The status the client gets.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Limit(LimitProblem::Line) => StatusCode::URI_TOO_LONG,
            Self::Limit(LimitProblem::Fields) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::Framing(FramingProblem::OtherCoding) => StatusCode::NOT_IMPLEMENTED,
            Self::Framing(_) | Self::InvalidPath => StatusCode::BAD_REQUEST,
            Self::Target(t) => t.status(),
            Self::NotFound => StatusCode::NOT_FOUND,
        }
    }

    /// The body the client gets (and the log's reason).
    pub fn text(self) -> &'static str {
        match self {
            Self::Limit(LimitProblem::Line) => "request line too long\n",
            Self::Limit(LimitProblem::Fields) => "request header fields too large\n",
            Self::Framing(f) => f.text(),
            Self::Target(t) => t.text(),
            Self::NotFound => "not found\n",
            Self::InvalidPath => "invalid path\n",
        }
    }

    /// Whether the client connection closes after the answer: everything but
    /// a well-formed request for a path that is not ours, since what follows
    /// a request the proxy could not frame or address is not trusted (RFC
    /// 9112 §6.3, §9.6).
    pub fn closes(self) -> bool {
        !matches!(self, Self::NotFound | Self::InvalidPath)
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

/// The rules a proxy admits requests by.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Size limits.
    pub limits: Limits,
    /// The proxy's path.
    pub path: std::sync::Arc<PathPrefix>,
}

/// Checks `req` against `rules`, in order, and rewrites what the checks
/// normalise: an absolute-form target to origin-form with its authority as
/// `Host`, `Expect: 100-continue` removed, the path with dot segments removed
/// and the proxy's prefix dropped.
///
/// # Errors
/// The first rule it breaks.
pub fn admit<B>(req: &mut Request<B>, rules: &Rules) -> Result<(), Refusal> {
    limits::check(req, rules.limits).map_err(Refusal::Limit)?;
    framing::check(req.headers()).map_err(Refusal::Framing)?;
    target::check(req).map_err(Refusal::Target)?;
    match route(&rules.path, req.uri()) {
        Routed::Unchanged => Ok(()),
        Routed::Rewritten(uri, whole) => {
            *req.uri_mut() = uri;
            if whole {
                req.extensions_mut().insert(WholePrefix);
            }
            Ok(())
        }
        Routed::NotFound => Err(Refusal::NotFound),
        Routed::Invalid => Err(Refusal::InvalidPath),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(path: &str) -> Rules {
        Rules {
            limits: Limits {
                field_size: 8190,
                fields: 100,
                line: 8190,
            },
            path: std::sync::Arc::new(PathPrefix::parse(path).expect("path")),
        }
    }

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
            (Refusal::NotFound, 404, false),
            (Refusal::InvalidPath, 400, false),
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
        assert_eq!(admit(&mut r, &rules("/api")), Ok(()));
        assert_eq!(r.uri(), "/y?q");
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
            admit(&mut r, &rules("/")),
            Err(Refusal::Framing(FramingProblem::OtherCoding))
        );
        let mut r = Request::builder()
            .uri("/other")
            .body(())
            .unwrap_or_default();
        assert_eq!(
            admit(&mut r, &rules("/api")),
            Err(Refusal::Target(TargetProblem::MissingHost))
        );
        let mut r = Request::builder()
            .uri("/other")
            .header("host", "a")
            .body(())
            .unwrap_or_default();
        assert_eq!(admit(&mut r, &rules("/api")), Err(Refusal::NotFound));
    }
}
