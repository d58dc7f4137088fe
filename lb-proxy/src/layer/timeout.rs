//! Apache's `timeout` for a member's response headers; on expiry the client
//! gets 504 Gateway Timeout (RFC 9110 §15.6.5) rather than Apache's 502.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use tower::{Layer, Service};

use crate::body::{ProxyBody, local_response};

/// Layer for [`ResponseTimeout`].
#[derive(Debug, Clone, Copy)]
pub struct ResponseTimeoutLayer {
    timeout: Duration,
}

impl ResponseTimeoutLayer {
    /// Response headers must arrive within `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> Layer<S> for ResponseTimeoutLayer {
    type Service = ResponseTimeout<S>;
    fn layer(&self, inner: S) -> ResponseTimeout<S> {
        ResponseTimeout {
            timeout: self.timeout,
            inner,
        }
    }
}

/// Answers 504 when the inner service has not answered in time.
#[derive(Debug, Clone)]
pub struct ResponseTimeout<S> {
    timeout: Duration,
    inner: S,
}

impl<S, B> Service<Request<B>> for ResponseTimeout<S>
where
    S: Service<Request<B>, Response = Response<ProxyBody>>,
{
    type Response = Response<ProxyBody>;
    type Error = S::Error;
    type Future = TimeoutFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        TimeoutFuture {
            inner: tokio::time::timeout(self.timeout, self.inner.call(req)),
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner future raced against the deadline.
    pub struct TimeoutFuture<F> {
        #[pin]
        inner: tokio::time::Timeout<F>,
    }
}

impl<F, E> Future for TimeoutFuture<F>
where
    F: Future<Output = Result<Response<ProxyBody>, E>>,
{
    type Output = Result<Response<ProxyBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match ready!(self.project().inner.poll(cx)) {
            Ok(out) => Poll::Ready(out),
            Err(_elapsed) => {
                tracing::warn!("member response timed out");
                Poll::Ready(Ok(local_response(
                    StatusCode::GATEWAY_TIMEOUT,
                    "member timed out\n",
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;
    use tower_test::mock;

    #[tokio::test(start_paused = true)]
    async fn late_answer_is_504() {
        let (svc, mut handle) = mock::pair::<Request<()>, Response<ProxyBody>>();
        tokio::spawn(async move {
            if let Some((_, send)) = handle.next_request().await {
                tokio::time::sleep(Duration::from_secs(10)).await;
                send.send_response(Response::new(ProxyBody::local("late")));
            }
        });
        let svc = ResponseTimeoutLayer::new(Duration::from_secs(2)).layer(svc);
        let resp = svc.oneshot(Request::new(())).await.map(|r| r.status());
        assert_eq!(resp.ok(), Some(StatusCode::GATEWAY_TIMEOUT));
    }

    #[tokio::test(start_paused = true)]
    async fn timely_answer_passes() {
        let (svc, mut handle) = mock::pair::<Request<()>, Response<ProxyBody>>();
        tokio::spawn(async move {
            if let Some((_, send)) = handle.next_request().await {
                tokio::time::sleep(Duration::from_secs(1)).await;
                send.send_response(Response::new(ProxyBody::local("ok")));
            }
        });
        let svc = ResponseTimeoutLayer::new(Duration::from_secs(2)).layer(svc);
        let resp = svc.oneshot(Request::new(())).await.map(|r| r.status());
        assert_eq!(resp.ok(), Some(StatusCode::OK));
    }
}
