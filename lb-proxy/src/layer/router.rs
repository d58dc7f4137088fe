//! Virtual hosts and routes: which host a request is for (by listener and
//! `Host`), which of its routes matches, and what happens then — a member
//! of a balancer, a file from a directory, a redirect, or 404. On the way
//! back, `ProxyPassReverse` for the route that forwarded it.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::ArcSwap;
use futures_util::future::Either;
use http::header::{HOST, LOCATION};
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::BodyExt as _;
use tower::{Layer, Service, ServiceExt as _};

use super::reverse::Rewrite;
use super::{Mapped, OrReject};
use crate::body::{ProxyBody, RequestBody, local_response};
use crate::sites::{Resolved, Routed, Sites};

/// Layer for [`Router`].
#[derive(Debug, Clone)]
pub struct RouterLayer {
    sites: Arc<ArcSwap<Sites>>,
    listener: usize,
}

impl RouterLayer {
    /// Routes requests that came in on listener `listener` (its index in
    /// the proxy's `listen`) by the sites in force.
    pub(crate) fn new(sites: Arc<ArcSwap<Sites>>, listener: usize) -> Self {
        Self { sites, listener }
    }
}

impl<S> Layer<S> for RouterLayer {
    type Service = Router<S>;
    fn layer(&self, inner: S) -> Router<S> {
        Router {
            sites: self.sites.clone(),
            listener: self.listener,
            inner,
        }
    }
}

/// Routes each request; see the module.
#[derive(Debug, Clone)]
pub struct Router<S> {
    sites: Arc<ArcSwap<Sites>>,
    listener: usize,
    inner: S,
}

/// A file served from a directory route (the rare path, boxed).
type FileFuture = Pin<Box<dyn Future<Output = Result<Response<ProxyBody>, Infallible>> + Send>>;

impl<S> Service<Request<RequestBody>> for Router<S>
where
    S: Service<Routed, Response = Response<ProxyBody>, Error = Infallible>,
{
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = Either<OrReject<Mapped<S::Future, Rewrite>, ProxyBody, Infallible>, FileFuture>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<RequestBody>) -> Self::Future {
        let sites = self.sites.load();
        let host_header = req.headers().get(HOST).cloned();
        let Some(host) = sites.host(
            self.listener,
            host_header.as_ref().and_then(|h| h.to_str().ok()),
        ) else {
            return answer(local_response(StatusCode::NOT_FOUND, "not found\n"));
        };
        match Sites::resolve(host, req.uri()) {
            Resolved::Proxy(target) => {
                let rewrite = match (&target.reverse, host_header) {
                    (Some(reverse), Some(front)) => Rewrite::Front {
                        members: target.balancer.clone(),
                        host: front,
                        reverse: reverse.clone(),
                    },
                    _ => Rewrite::Off,
                };
                Either::Left(Either::Right(Mapped::new(
                    self.inner.call(Routed {
                        request: req,
                        target,
                    }),
                    rewrite,
                )))
            }
            Resolved::Redirect { status, location } => {
                let mut resp = local_response(status, "moved\n");
                match HeaderValue::from_str(&location) {
                    Ok(v) => {
                        resp.headers_mut().insert(LOCATION, v);
                        answer(resp)
                    }
                    Err(_) => answer(local_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "invalid redirect\n",
                    )),
                }
            }
            Resolved::Directory { directory, rest } => {
                Either::Right(Box::pin(serve_file(directory.clone(), req, rest)))
            }
            Resolved::NotFound => {
                tracing::debug!(vhost = %host.name, path = req.uri().path(), "no route for the path");
                answer(local_response(StatusCode::NOT_FOUND, "not found\n"))
            }
        }
    }
}

/// A local answer.
fn answer<F>(resp: Response<ProxyBody>) -> Either<OrReject<F, ProxyBody, Infallible>, FileFuture> {
    Either::Left(Either::Left(std::future::ready(Ok(resp))))
}

/// Serves `rest` (the path inside the directory) with tower-http's
/// `ServeDir`: GET and HEAD, ranges, conditional requests, no way out of the
/// directory.
async fn serve_file(
    directory: std::path::PathBuf,
    req: Request<RequestBody>,
    rest: String,
) -> Result<Response<ProxyBody>, Infallible> {
    let (mut parts, _body) = req.into_parts();
    let path = if rest.starts_with('/') {
        rest
    } else {
        format!("/{rest}")
    };
    parts.uri = match path.parse::<Uri>() {
        Ok(uri) => uri,
        Err(_) => return Ok(local_response(StatusCode::NOT_FOUND, "not found\n")),
    };
    let req = Request::from_parts(parts, http_body_util::Empty::<bytes::Bytes>::new());
    let Ok(resp) = tower_http::services::ServeDir::new(directory)
        .append_index_html_on_directories(true)
        .oneshot(req)
        .await;
    Ok(resp.map(|body| ProxyBody::Stream(body.map_err(Into::into).boxed_unsync())))
}
