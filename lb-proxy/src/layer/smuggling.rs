//! Rejects requests whose framing is ambiguous (RFC 9112 §6.1, §6.3): both
//! `Content-Length` and `Transfer-Encoding`, several differing
//! `Content-Length`s, or a `Transfer-Encoding` whose last coding is not
//! `chunked`. hyper's parser already resolves the wire cases safely (it drops
//! `Content-Length` when `Transfer-Encoding` is present); this layer makes
//! the rule explicit for any front end feeding the stack, so a member never
//! sees two framings it might read differently from us.

use std::task::{Context, Poll};

use futures_util::future::Either;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, Request, Response, StatusCode};
use tower::{Layer, Service};

use super::OrReject;
use crate::body::{ProxyBody, local_response};

/// Layer for [`RejectSmuggling`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RejectSmugglingLayer;

impl<S> Layer<S> for RejectSmugglingLayer {
    type Service = RejectSmuggling<S>;
    fn layer(&self, inner: S) -> RejectSmuggling<S> {
        RejectSmuggling { inner }
    }
}

/// Answers 400 (and closes) on conflicting or duplicate framing headers.
#[derive(Debug, Clone)]
pub struct RejectSmuggling<S> {
    inner: S,
}

/// Why the framing is refused, or `None` when it is unambiguous.
fn framing_problem(headers: &HeaderMap) -> Option<&'static str> {
    let mut lengths = headers.get_all(CONTENT_LENGTH).iter();
    let first_len = lengths.next();
    if let Some(first) = first_len
        && lengths.any(|v| v != first)
    {
        return Some("conflicting Content-Length headers\n");
    }
    let mut codings = headers.get_all(TRANSFER_ENCODING).iter().peekable();
    if codings.peek().is_some() {
        if first_len.is_some() {
            return Some("both Content-Length and Transfer-Encoding\n");
        }
        let last = codings
            .last()
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.rsplit(',').next())
            .map(str::trim);
        if !last.is_some_and(|c| c.eq_ignore_ascii_case("chunked")) {
            return Some("Transfer-Encoding must end with chunked\n");
        }
    }
    None
}

impl<S, B> Service<Request<B>> for RejectSmuggling<S>
where
    S: Service<Request<B>, Response = Response<ProxyBody>>,
{
    type Response = Response<ProxyBody>;
    type Error = S::Error;
    type Future = OrReject<S::Future, ProxyBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if let Some(why) = framing_problem(req.headers()) {
            tracing::warn!(
                reason = why.trim_end(),
                "request with ambiguous framing refused"
            );
            let mut resp = local_response(StatusCode::BAD_REQUEST, why);
            // RFC 9112 §6.3: the connection must be closed after such a request.
            resp.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
            return Either::Left(std::future::ready(Ok(resp)));
        }
        Either::Right(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;
    use tower_test::mock;

    async fn status(req: Request<()>) -> StatusCode {
        let (svc, mut handle) = mock::pair::<Request<()>, Response<ProxyBody>>();
        tokio::spawn(async move {
            if let Some((_, send)) = handle.next_request().await {
                send.send_response(Response::new(ProxyBody::local("ok")));
            }
        });
        let svc = RejectSmugglingLayer.layer(svc);
        svc.oneshot(req)
            .await
            .map_or(StatusCode::INTERNAL_SERVER_ERROR, |r| r.status())
    }

    fn req(headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::builder().method("POST");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap_or_default()
    }

    #[tokio::test]
    async fn cl_and_te_together_are_refused() {
        assert_eq!(
            status(req(&[
                ("content-length", "6"),
                ("transfer-encoding", "chunked")
            ]))
            .await,
            StatusCode::BAD_REQUEST
        );
    }

    #[tokio::test]
    async fn differing_lengths_are_refused() {
        assert_eq!(
            status(req(&[("content-length", "6"), ("content-length", "7")])).await,
            StatusCode::BAD_REQUEST
        );
    }

    #[tokio::test]
    async fn te_not_ending_in_chunked_is_refused() {
        assert_eq!(
            status(req(&[("transfer-encoding", "chunked, gzip")])).await,
            StatusCode::BAD_REQUEST
        );
    }

    #[tokio::test]
    async fn clean_framing_passes() {
        assert_eq!(
            status(req(&[("content-length", "6")])).await,
            StatusCode::OK
        );
        assert_eq!(
            status(req(&[("transfer-encoding", "gzip, chunked")])).await,
            StatusCode::OK
        );
        assert_eq!(status(req(&[])).await, StatusCode::OK);
    }
}
