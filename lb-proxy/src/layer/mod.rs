//! The small layers of the request path, each one concern, tested alone.

pub mod access_log;
pub mod admission;
pub mod forwarded;
pub mod read_ahead;
pub mod reverse;
pub mod router;
pub mod timeout;
pub mod tunnel;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;

/// Work a layer does on the response once its inner service answered.
pub trait OnResponse<B> {
    /// The response body after this step.
    type Body;
    /// Adjusts (or rewraps) the response.
    fn on_response(self, resp: Response<B>) -> Response<Self::Body>;
}

pin_project_lite::pin_project! {
    /// The inner service's future followed by an [`OnResponse`] step; no
    /// allocation, unlike a boxed async block.
    pub struct Mapped<F, M> {
        #[pin]
        inner: F,
        step: Option<M>,
    }
}

impl<F, M> Mapped<F, M> {
    /// Runs `step` on the response `inner` produces.
    pub fn new(inner: F, step: M) -> Self {
        Self {
            inner,
            step: Some(step),
        }
    }
}

impl<F, M, B, E> Future for Mapped<F, M>
where
    F: Future<Output = Result<Response<B>, E>>,
    M: OnResponse<B>,
{
    type Output = Result<Response<M::Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let out = ready!(this.inner.poll(cx));
        // `step` is only taken here, and a completed future is not polled again.
        let Some(step) = this.step.take() else {
            return Poll::Pending;
        };
        Poll::Ready(out.map(|resp| step.on_response(resp)))
    }
}

/// A future that is either an immediate answer (a rejection) or the inner one.
pub type OrReject<F, B, E> =
    futures_util::future::Either<std::future::Ready<Result<Response<B>, E>>, F>;
