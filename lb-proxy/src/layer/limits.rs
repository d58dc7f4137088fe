//! Apache's request limits: `LimitRequestLine` (8190 bytes of method,
//! target and version; beyond it 414, RFC 9112 §3), `LimitRequestFieldSize`
//! (8190 bytes per field) and `LimitRequestFields` (100 fields); beyond
//! those, 431 (RFC 6585 §5).

use std::task::{Context, Poll};

use futures_util::future::Either;
use http::{Request, Response, StatusCode, Uri};
use tower::{Layer, Service};

use super::OrReject;
use crate::body::{ProxyBody, refusal};

/// Layer for [`HeaderLimits`].
#[derive(Debug, Clone, Copy)]
pub struct HeaderLimitsLayer {
    max_field_size: usize,
    max_fields: usize,
    max_line: usize,
}

impl HeaderLimitsLayer {
    /// Limits of `max_field_size` bytes per field (name, ": " and value),
    /// `max_fields` fields and `max_line` bytes of request line (without its CRLF).
    pub fn new(max_field_size: usize, max_fields: usize, max_line: usize) -> Self {
        Self {
            max_field_size,
            max_fields,
            max_line,
        }
    }
}

/// Length of the request-target as it was on the request line.
fn target_len(uri: &Uri) -> usize {
    let pq = uri.path_and_query().map_or(0, |p| p.as_str().len());
    match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(a)) => scheme.len() + 3 + a.as_str().len() + pq,
        (None, Some(a)) => a.as_str().len(),
        _ => pq,
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

/// Answers 414 to a request line, 431 to header fields, beyond the limits.
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
        // "METHOD SP target SP HTTP/1.1"
        let line = req.method().as_str().len() + 1 + target_len(req.uri()) + 9;
        if line > self.limits.max_line {
            return Either::Left(std::future::ready(Ok(refusal(
                StatusCode::URI_TOO_LONG,
                "request line too long\n",
            ))));
        }
        let headers = req.headers();
        let too_many = headers.len() > self.limits.max_fields;
        let too_long = || {
            headers
                .iter()
                .any(|(n, v)| n.as_str().len() + 2 + v.len() > self.limits.max_field_size)
        };
        if too_many || too_long() {
            return Either::Left(std::future::ready(Ok(refusal(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "request header fields too large\n",
            ))));
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
        let svc = HeaderLimitsLayer::new(64, 3, 40).layer(svc);
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
    async fn too_long_request_line_is_414() {
        // "GET " + target + " HTTP/1.1": 4 + 27 + 9 = 40 bytes fits.
        let fits = format!("/{}", "a".repeat(26));
        let req = Request::builder()
            .uri(fits.as_str())
            .body(())
            .unwrap_or_default();
        assert_eq!(status(req).await, (StatusCode::OK, true));
        let over = format!("/{}", "a".repeat(27));
        let req = Request::builder()
            .uri(over.as_str())
            .body(())
            .unwrap_or_default();
        assert_eq!(status(req).await, (StatusCode::URI_TOO_LONG, false));
        let absolute = format!("http://h/{}", "a".repeat(20));
        let req = Request::builder()
            .uri(absolute.as_str())
            .body(())
            .unwrap_or_default();
        assert_eq!(status(req).await, (StatusCode::URI_TOO_LONG, false));
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
