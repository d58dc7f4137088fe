//! `ProxyPass PATH …`: the proxy serves the requests under its path and
//! hands the member the rest of the path ([`crate::route::PathPrefix`]).
//! A request outside the path gets 404 (Apache, with no `DocumentRoot` file
//! to serve, answers the same). Dot segments are removed first, as Apache
//! and nginx do before matching, so `/api/../admin` is `/admin` and cannot
//! reach a member under `/api`'s mapping; a path climbing above the root is
//! answered 400.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::Either;
use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode, Uri};
use tower::{Layer, Service};

use super::OrReject;
use crate::body::{ProxyBody, local_response};
use crate::route::{PathPrefix, remove_dot_segments};

/// Layer for [`PathRoute`].
#[derive(Debug, Clone)]
pub struct PathRouteLayer {
    prefix: Arc<PathPrefix>,
}

impl PathRouteLayer {
    /// Serves the paths under `prefix`.
    pub fn new(prefix: Arc<PathPrefix>) -> Self {
        Self { prefix }
    }
}

impl<S> Layer<S> for PathRouteLayer {
    type Service = PathRoute<S>;
    fn layer(&self, inner: S) -> PathRoute<S> {
        PathRoute {
            prefix: self.prefix.clone(),
            inner,
        }
    }
}

/// Answers 404 outside the path, rewrites the target inside it.
#[derive(Debug, Clone)]
pub struct PathRoute<S> {
    prefix: Arc<PathPrefix>,
    inner: S,
}

/// Marks a request whose whole path was the proxy's prefix: the member is
/// sent its own URL path as the target, without a slash added
/// (`crate::forward`).
#[derive(Debug, Clone, Copy)]
pub struct WholePrefix;

/// What the route does with a request path.
#[derive(Debug, PartialEq, Eq)]
pub enum Routed {
    /// Forward it as it is.
    Unchanged,
    /// Forward it with this origin-form target; `true` when the whole path
    /// was the prefix ([`WholePrefix`]).
    Rewritten(Uri, bool),
    /// Not this proxy's: 404.
    NotFound,
    /// A path that climbs above the root: 400.
    Invalid,
}

/// Routes an origin-form `uri` under `prefix`.
pub fn route(prefix: &PathPrefix, uri: &Uri) -> Routed {
    let path = uri.path();
    // `OPTIONS *` addresses the server, not a path.
    if path == "*" {
        return Routed::Unchanged;
    }
    let Ok(normal) = remove_dot_segments(path) else {
        return Routed::Invalid;
    };
    let changed = matches!(normal, std::borrow::Cow::Owned(_));
    if prefix.is_root() && !changed {
        return Routed::Unchanged;
    }
    let Some(rest) = prefix.strip(&normal) else {
        return Routed::NotFound;
    };
    let target = match uri.query() {
        Some(q) => format!("{}?{q}", rest.path),
        None => rest.path.into_owned(),
    };
    match PathAndQuery::try_from(target).map(Uri::from) {
        Ok(uri) => Routed::Rewritten(uri, rest.whole),
        Err(_) => Routed::Invalid,
    }
}

impl<S, B> Service<Request<B>> for PathRoute<S>
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
        match route(&self.prefix, req.uri()) {
            Routed::Unchanged => {}
            Routed::Rewritten(uri, whole) => {
                *req.uri_mut() = uri;
                if whole {
                    req.extensions_mut().insert(WholePrefix);
                }
            }
            Routed::NotFound => {
                return Either::Left(std::future::ready(Ok(local_response(
                    StatusCode::NOT_FOUND,
                    "not found\n",
                ))));
            }
            Routed::Invalid => {
                return Either::Left(std::future::ready(Ok(local_response(
                    StatusCode::BAD_REQUEST,
                    "invalid path\n",
                ))));
            }
        }
        Either::Right(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(prefix: &str, target: &str) -> Routed {
        let prefix = PathPrefix::parse(prefix).expect("prefix");
        route(&prefix, &target.parse().expect("uri"))
    }

    fn rewritten(to: &str) -> Routed {
        Routed::Rewritten(to.parse().expect("uri"), false)
    }

    #[test]
    fn root_forwards_unchanged() {
        assert_eq!(r("/", "/a/b?c=d"), Routed::Unchanged);
        assert_eq!(r("/", "*"), Routed::Unchanged);
        assert_eq!(r("/", "/a/../b"), rewritten("/b"));
        assert_eq!(r("/", "/../b"), Routed::Invalid);
    }

    #[test]
    fn a_prefix_is_stripped_and_the_query_kept() {
        assert_eq!(r("/api", "/api/x?q=1"), rewritten("/x?q=1"));
        assert_eq!(
            r("/api", "/api"),
            Routed::Rewritten("/".parse().expect("uri"), true)
        );
        assert_eq!(
            r("/api", "/api?q"),
            Routed::Rewritten("/?q".parse().expect("uri"), true)
        );
        assert_eq!(r("/api", "/apix"), Routed::NotFound);
        assert_eq!(r("/api", "/other/page"), Routed::NotFound);
        assert_eq!(r("/api/", "/api/x"), rewritten("/x"));
    }

    #[test]
    fn dot_segments_cannot_leave_the_prefix() {
        assert_eq!(r("/api", "/api/../admin"), Routed::NotFound);
        assert_eq!(r("/api", "/api/%2e%2e/admin"), Routed::NotFound);
        assert_eq!(r("/api", "/x/../api/y"), rewritten("/y"));
    }
}
