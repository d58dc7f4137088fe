//! `ProxyPassReverse PATH balancer://NAME/TO`: a `Location`,
//! `Content-Location` or `URI` response header that points at a member of
//! the route's balancer (its URL, then `TO`) is rewritten to the front URL
//! the client used, under the route's path, so redirects keep the client on
//! the proxy. The router applies it to the routes that ask for it.

use std::sync::Arc;

use http::header::{CONTENT_LOCATION, LOCATION};
use http::{HeaderName, HeaderValue, Response};

use super::OnResponse;
use crate::balancer::Members;
use crate::sites::Reverse;

static URI_HEADER: HeaderName = HeaderName::from_static("uri");

/// The router's response step for one request.
#[derive(Debug)]
pub enum Rewrite {
    /// Nothing to do.
    Off,
    /// Rewrite to `http://{host}` and the route's path.
    Front {
        /// The balancer whose members' URLs are recognised.
        members: Arc<Members>,
        /// The client's `Host`.
        host: HeaderValue,
        /// The route's mapping.
        reverse: Arc<Reverse>,
    },
}

/// `value` with a member's URL and the route's member-side path replaced by
/// the front origin and the route's path. With had's own `path` join (no
/// member-side path) the match must end at a path boundary; with Apache's
/// literal one it is a plain prefix, as Apache compares.
fn rewrite(value: &str, members: &Members, host: &str, reverse: &Reverse) -> Option<String> {
    members.list().iter().find_map(|m| {
        let base = format!(
            "{}{}{}",
            m.target.origin, m.target.prefix, reverse.member_path
        );
        let rest = value.strip_prefix(base.as_str())?;
        let boundary = !reverse.member_path.is_empty()
            || rest.is_empty()
            || rest.starts_with('/')
            || rest.starts_with('?');
        boundary.then(|| format!("http://{host}{}{rest}", reverse.front_path))
    })
}

impl<B> OnResponse<B> for Rewrite {
    type Body = B;
    fn on_response(self, mut resp: Response<B>) -> Response<B> {
        let Rewrite::Front {
            members,
            host,
            reverse,
        } = self
        else {
            return resp;
        };
        let Ok(host) = host.to_str() else { return resp };
        for name in [&LOCATION, &CONTENT_LOCATION, &URI_HEADER] {
            let new = resp
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| rewrite(v, &members, host, &reverse));
            if let Some(v) = new.and_then(|v| HeaderValue::from_str(&v).ok()) {
                resp.headers_mut().insert(name.clone(), v);
            }
        }
        resp
    }
}
