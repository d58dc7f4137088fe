//! Apache's request header limits: `LimitRequestFieldSize` (8190 bytes per
//! field) and `LimitRequestFields` (100 fields); beyond them, 431 (RFC 6585 §5).

use std::task::{Context, Poll};

use futures_util::future::Either;
use http::{Request, Response, StatusCode};
use tower::{Layer, Service};

use super::OrReject;
use crate::body::{ProxyBody, local_response};

/// Layer for [`HeaderLimits`].
#[derive(Debug, Clone, Copy)]
pub struct HeaderLimitsLayer {
    max_field_size: usize,
    max_fields: usize,
}

impl HeaderLimitsLayer {
    /// Limits of `max_field_size` bytes per field (name, ": " and value) and `max_fields` fields.
    pub fn new(max_field_size: usize, max_fields: usize) -> Self {
        Self {
            max_field_size,
            max_fields,
        }
    }
}

impl<S> Layer<S> for HeaderLimitsLayer {
    type Service = HeaderLimits<S>;
    fn layer(&self, inner: S) -> HeaderLimits<S> {
        HeaderLimits {
            limits: *self,
            inner,
        }
    }
}

/// Answers 431 to a request whose header fields exceed the limits.
#[derive(Debug, Clone)]
pub struct HeaderLimits<S> {
    limits: HeaderLimitsLayer,
    inner: S,
}

impl<S, B> Service<Request<B>> for HeaderLimits<S>
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
        let headers = req.headers();
        let too_many = headers.len() > self.limits.max_fields;
        let too_long = || {
            headers
                .iter()
                .any(|(n, v)| n.as_str().len() + 2 + v.len() > self.limits.max_field_size)
        };
        if too_many || too_long() {
            let mut resp = local_response(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "request header fields too large\n",
            );
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

    async fn status(req: Request<()>) -> (StatusCode, bool) {
        let (svc, mut handle) = mock::pair::<Request<()>, Response<ProxyBody>>();
        let svc = HeaderLimitsLayer::new(64, 3).layer(svc);
        let answer = tokio::spawn(async move {
            if let Some((_, send)) = handle.next_request().await {
                send.send_response(Response::new(ProxyBody::local("ok")));
                true
            } else {
                false
            }
        });
        let resp = svc
            .oneshot(req)
            .await
            .unwrap_or_else(|_| Response::new(ProxyBody::local("")));
        let forwarded = tokio::time::timeout(std::time::Duration::from_millis(100), answer)
            .await
            .is_ok_and(|r| r.unwrap_or(false));
        (resp.status(), forwarded)
    }

    #[tokio::test]
    async fn within_limits_passes() {
        let req = Request::builder()
            .header("a", "1")
            .header("b", "2")
            .body(())
            .unwrap_or_default();
        assert_eq!(status(req).await, (StatusCode::OK, true));
    }

    #[tokio::test]
    async fn too_many_fields_is_431() {
        let req = Request::builder()
            .header("a", "1")
            .header("b", "2")
            .header("c", "3")
            .header("d", "4")
            .body(())
            .unwrap_or_default();
        assert_eq!(
            status(req).await,
            (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, false)
        );
    }

    #[tokio::test]
    async fn too_long_field_is_431() {
        let req = Request::builder()
            .header("a", "x".repeat(62))
            .body(())
            .unwrap_or_default();
        assert_eq!(
            status(req).await,
            (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, false)
        );
        let req = Request::builder()
            .header("a", "x".repeat(61))
            .body(())
            .unwrap_or_default();
        assert_eq!(status(req).await.0, StatusCode::OK);
    }
}
