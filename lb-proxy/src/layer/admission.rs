//! The admission rules of [`crate::admission`] as one layer: a request that
//! breaks one is answered by the proxy itself (414, 431, 400, 501, 405,
//! 417), the others go on normalised. One layer rather than one per rule:
//! each layer's future wraps the next, and the request path's futures are
//! moved whole at every level (four such layers cost 1.4k instructions per
//! request under callgrind, one costs a quarter of it).

use std::task::{Context, Poll};

use futures_util::future::Either;
use http::{Request, Response};
use tower::{Layer, Service};

use super::OrReject;
use crate::admission::admit;
use crate::admission::limits::Limits;
use crate::body::ProxyBody;

/// Layer for [`Admission`].
#[derive(Debug, Clone, Copy)]
pub struct AdmissionLayer {
    limits: Limits,
}

impl AdmissionLayer {
    /// Admits requests within `limits` that follow the rules.
    pub fn new(limits: Limits) -> Self {
        Self { limits }
    }
}

impl<S> Layer<S> for AdmissionLayer {
    type Service = Admission<S>;
    fn layer(&self, inner: S) -> Admission<S> {
        Admission {
            limits: self.limits,
            inner,
        }
    }
}

/// Answers requests that break an admission rule; normalises the others.
#[derive(Debug, Clone)]
pub struct Admission<S> {
    limits: Limits,
    inner: S,
}

impl<S, B> Service<Request<B>> for Admission<S>
where
    S: Service<Request<B>, Response = Response<ProxyBody>>,
{
    type Response = Response<ProxyBody>;
    type Error = S::Error;
    type Future = OrReject<S::Future, ProxyBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        if let Err(refusal) = admit(&mut req, self.limits) {
            tracing::debug!(
                reason = refusal.text().trim_end(),
                status = refusal.status().as_u16(),
                "request refused"
            );
            return Either::Left(std::future::ready(Ok(refusal.response())));
        }
        Either::Right(self.inner.call(req))
    }
}
