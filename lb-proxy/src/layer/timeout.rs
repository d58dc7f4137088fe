//! Apache's `timeout` for a member's response headers; on expiry the client
//! gets 504 Gateway Timeout (RFC 9110 §15.6.5) rather than Apache's 502.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use tokio::time::Instant;
use tower::{Layer, Service};

use crate::body::{ProxyBody, local_response};
use crate::timer::{ConnTimer, Lease};

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
            timer: ConnTimer::new(),
            inner,
        }
    }
}

/// Answers 504 when the inner service has not answered in time.
///
/// Built once per client connection: its clones (one per request) share one
/// timer, re-armed for each request ([`crate::timer`]).
#[derive(Debug, Clone)]
pub struct ResponseTimeout<S> {
    timeout: Duration,
    timer: ConnTimer,
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
            deadline: self.timer.sleep_until(Instant::now() + self.timeout),
            inner: self.inner.call(req),
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner future raced against the deadline.
    pub struct TimeoutFuture<F> {
        #[pin]
        inner: F,
        deadline: Lease,
    }
}

impl<F, E> Future for TimeoutFuture<F>
where
    F: Future<Output = Result<Response<ProxyBody>, E>>,
{
    type Output = Result<Response<ProxyBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.inner.poll(cx) {
            return Poll::Ready(out);
        }
        ready!(Pin::new(this.deadline).poll(cx));
        tracing::warn!("member response timed out");
        Poll::Ready(Ok(local_response(
            StatusCode::GATEWAY_TIMEOUT,
            "member timed out\n",
        )))
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

    #[tokio::test(start_paused = true)]
    async fn each_request_on_a_connection_gets_its_full_timeout() {
        // One service per connection, cloned per request (as hyper-util's
        // glue does): the second request reuses the first one's timer, which
        // must not fire at the first request's deadline.
        let (svc, mut handle) = mock::pair::<Request<()>, Response<ProxyBody>>();
        tokio::spawn(async move {
            for delay in [1_000, 1_900, 2_100] {
                if let Some((_, send)) = handle.next_request().await {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    send.send_response(Response::new(ProxyBody::local("ok")));
                }
            }
        });
        let svc = ResponseTimeoutLayer::new(Duration::from_secs(2)).layer(svc);
        let status = |r: Result<Response<ProxyBody>, _>| r.ok().map(|r| r.status());
        let start = tokio::time::Instant::now();
        assert_eq!(
            status(svc.clone().oneshot(Request::new(())).await),
            Some(StatusCode::OK)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        // Starts at 1.5 s, answered at 3.4 s: inside its own 2 s.
        assert_eq!(
            status(svc.clone().oneshot(Request::new(())).await),
            Some(StatusCode::OK)
        );
        assert_eq!(start.elapsed(), Duration::from_millis(3_400));
        // Answered after 2.1 s: 504 at exactly 2 s.
        let third = tokio::time::Instant::now();
        assert_eq!(
            status(svc.clone().oneshot(Request::new(())).await),
            Some(StatusCode::GATEWAY_TIMEOUT)
        );
        assert_eq!(third.elapsed(), Duration::from_secs(2));
    }
}
