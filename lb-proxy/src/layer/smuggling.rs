//! Rejects requests whose framing is ambiguous or not ours to decode (RFC
//! 9112 §6.1, §6.3): both `Content-Length` and `Transfer-Encoding`, several
//! differing `Content-Length`s, or a `Transfer-Encoding` that is not one
//! final `chunked` — 400 when `chunked` is missing, not last or repeated,
//! 501 when another coding (`gzip, chunked`) comes before it: the proxy
//! decodes chunked itself and would otherwise hand the member a body with
//! its coding silently lost. hyper's parser already resolves the wire cases
//! safely (it drops `Content-Length` when `Transfer-Encoding` is present);
//! this layer makes the rule explicit for any front end feeding the stack,
//! so a member never sees two framings it might read differently from us.

use std::task::{Context, Poll};

use futures_util::future::Either;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, Request, Response, StatusCode};
use tower::{Layer, Service};

use super::OrReject;
use crate::body::{ProxyBody, refusal};

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

/// Why the framing is refused (status and reason), or `None` when it is
/// unambiguous.
fn framing_problem(headers: &HeaderMap) -> Option<(StatusCode, &'static str)> {
    let bad = |why| Some((StatusCode::BAD_REQUEST, why));
    let mut lengths = headers.get_all(CONTENT_LENGTH).iter();
    let first_len = lengths.next();
    if let Some(first) = first_len
        && lengths.any(|v| v != first)
    {
        return bad("conflicting Content-Length headers\n");
    }
    let mut fields = headers.get_all(TRANSFER_ENCODING).iter().peekable();
    // No Transfer-Encoding: the lengths (if any) agree.
    fields.peek()?;
    if first_len.is_some() {
        return bad("both Content-Length and Transfer-Encoding\n");
    }
    let (mut codings, mut chunked, mut last_chunked) = (0usize, 0usize, false);
    for field in fields {
        let Ok(text) = field.to_str() else {
            return bad("Transfer-Encoding is not text\n");
        };
        for coding in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            codings += 1;
            // A coding may carry parameters (`gzip;q=1` is not one, but
            // `chunked;x=y` would still be chunked to a lax parser).
            last_chunked = coding.eq_ignore_ascii_case("chunked");
            chunked += usize::from(last_chunked);
        }
    }
    if !last_chunked {
        return bad("Transfer-Encoding must end with chunked\n");
    }
    if chunked > 1 {
        return bad("chunked applied more than once\n");
    }
    if codings > 1 {
        return Some((
            StatusCode::NOT_IMPLEMENTED,
            "only the chunked transfer coding is supported\n",
        ));
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
        if let Some((status, why)) = framing_problem(req.headers()) {
            tracing::warn!(
                reason = why.trim_end(),
                "request with ambiguous framing refused"
            );
            // RFC 9112 §6.3: the connection must be closed after such a request.
            return Either::Left(std::future::ready(Ok(refusal(status, why))));
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
    async fn codings_other_than_chunked_are_not_implemented() {
        for te in [
            &[("transfer-encoding", "gzip, chunked")][..],
            &[
                ("transfer-encoding", "gzip"),
                ("transfer-encoding", "chunked"),
            ],
        ] {
            assert_eq!(status(req(te)).await, StatusCode::NOT_IMPLEMENTED);
        }
    }

    #[tokio::test]
    async fn chunked_twice_or_missing_is_refused() {
        for te in ["chunked, chunked", "chunked,chunked", "", " , ", "identity"] {
            assert_eq!(
                status(req(&[("transfer-encoding", te)])).await,
                StatusCode::BAD_REQUEST,
                "{te:?}"
            );
        }
        assert_eq!(
            status(req(&[
                ("transfer-encoding", "chunked"),
                ("transfer-encoding", "chunked")
            ]))
            .await,
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
            status(req(&[("content-length", "6"), ("content-length", "6")])).await,
            StatusCode::OK
        );
        assert_eq!(
            status(req(&[("transfer-encoding", "Chunked")])).await,
            StatusCode::OK
        );
        assert_eq!(status(req(&[])).await, StatusCode::OK);
    }
}
