//! `ProxyPassReverse / balancer://cluster/`: a `Location`, `Content-Location`
//! or `URI` response header that points at any member is rewritten to the
//! front URL the client used, so redirects keep the client on the proxy.

use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::ArcSwap;
use http::header::{CONTENT_LOCATION, HOST, LOCATION};
use http::{HeaderName, HeaderValue, Request, Response};
use tower::{Layer, Service};

use super::{Mapped, OnResponse};
use crate::balancer::Members;

static URI_HEADER: HeaderName = HeaderName::from_static("uri");

/// Layer for [`ReverseLocation`].
#[derive(Debug, Clone)]
pub struct ReverseLocationLayer {
    members: Option<Arc<ArcSwap<Members>>>,
    front: Arc<str>,
}

impl ReverseLocationLayer {
    /// Rewrites against the members in `members`, to the front path
    /// `front` (the proxy's path without its trailing slash, empty for
    /// `/`); `None` turns the layer off.
    pub fn new(members: Option<Arc<ArcSwap<Members>>>, front: Arc<str>) -> Self {
        Self { members, front }
    }
}

impl<S> Layer<S> for ReverseLocationLayer {
    type Service = ReverseLocation<S>;
    fn layer(&self, inner: S) -> ReverseLocation<S> {
        ReverseLocation {
            members: self.members.clone(),
            front: self.front.clone(),
            inner,
        }
    }
}

/// Rewrites member URLs in redirect headers to the client's front URL.
#[derive(Debug, Clone)]
pub struct ReverseLocation<S> {
    members: Option<Arc<ArcSwap<Members>>>,
    front: Arc<str>,
    inner: S,
}

impl<S, B, RB> Service<Request<B>> for ReverseLocation<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = Mapped<S::Future, Rewrite>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let step = match (&self.members, req.headers().get(HOST)) {
            (Some(members), Some(host)) => Rewrite::Front {
                members: members.clone(),
                host: host.clone(),
                front: self.front.clone(),
            },
            _ => Rewrite::Off,
        };
        Mapped::new(self.inner.call(req), step)
    }
}

/// Response step of [`ReverseLocation`].
#[derive(Debug)]
pub enum Rewrite {
    /// Nothing to do.
    Off,
    /// Rewrite to `http://{host}`.
    Front {
        /// Members whose URLs are recognised.
        members: Arc<ArcSwap<Members>>,
        /// The client's `Host`.
        host: HeaderValue,
        /// The proxy's path without its trailing slash.
        front: Arc<str>,
    },
}

/// `value` with a member origin (and path prefix) replaced by the front
/// origin and the proxy's path.
fn rewrite(value: &str, members: &Members, host: &str, front: &str) -> Option<String> {
    members.list().iter().find_map(|m| {
        let base = format!("{}{}", m.target.origin, m.target.prefix);
        let rest = value.strip_prefix(base.as_str())?;
        (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
            .then(|| format!("http://{host}{front}{rest}"))
    })
}

impl<B> OnResponse<B> for Rewrite {
    type Body = B;
    fn on_response(self, mut resp: Response<B>) -> Response<B> {
        let Rewrite::Front {
            members,
            host,
            front,
        } = self
        else {
            return resp;
        };
        let Ok(host) = host.to_str() else { return resp };
        let members = members.load();
        for name in [&LOCATION, &CONTENT_LOCATION, &URI_HEADER] {
            let new = resp
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| rewrite(v, &members, host, &front));
            if let Some(v) = new.and_then(|v| HeaderValue::from_str(&v).ok()) {
                resp.headers_mut().insert(name.clone(), v);
            }
        }
        resp
    }
}
