//! The one place the request path is assembled; it reads top to bottom in the
//! order a request travels.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;

use http::{Request, Response};
use hyper::body::Incoming;
use tower::{Service, ServiceBuilder};

use crate::balancer::BalanceLayer;
use crate::body::{ProxyBody, RequestBody};
use crate::forward::{Forward, ForwardSettings};
use crate::layer::access_log::AccessLogWriter;
use crate::layer::access_log::{AccessLogLayer, LoggedBody};
use crate::layer::admission::AdmissionLayer;
use crate::layer::forwarded::ForwardedHeadersLayer;
use crate::layer::read_ahead::ReadAheadLayer;
use crate::layer::router::RouterLayer;
use crate::layer::timeout::ResponseTimeoutLayer;
use crate::layer::tunnel::TunnelLayer;
use crate::settings::{Front, Settings};
use crate::sites::Sites;

/// What every connection's stack shares: the sites (swapped on reload)
/// and the access log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parts<'a> {
    pub(crate) sites: &'a Arc<ArcSwap<Sites>>,
    pub(crate) access_log: Option<&'a Arc<AccessLogWriter>>,
}

/// The service serving one client connection from `client` on listener
/// `listener` (`front`: over TLS or not, on which port), with the settings
/// in force when it was accepted.
pub(crate) fn build(
    shared: Parts<'_>,
    s: &Settings,
    listener: usize,
    client: SocketAddr,
    front: Front,
) -> impl Service<
    Request<Incoming>,
    Response = Response<LoggedBody<ProxyBody>>,
    Error = Infallible,
    Future: Send,
> + Clone
+ Send
+ 'static {
    ServiceBuilder::new()
        .map_request(|req: Request<Incoming>| req.map(RequestBody::Incoming))
        // Log every answer, including the proxy's own rejections.
        .layer(AccessLogLayer::new(shared.access_log.cloned(), client.ip()))
        // Refuse what a member must never see: oversized lines (414) and
        // heads (431), ambiguous or foreign framing (400, 501), targets and
        // Hosts RFC 9112 §3 forbids (400, 405, 417), paths above the root.
        .layer(AdmissionLayer::new(s.limits))
        // Bound the wait for response headers (504).
        .layer(ResponseTimeoutLayer::new(s.outer_timeout))
        // Drop hop-by-hop headers, then add X-Forwarded-* (CVE-2022-31813 order).
        .layer(ForwardedHeadersLayer::new(
            client.ip(),
            &front,
            s.client_subject_header.clone(),
        ))
        // Join client and member after a 101.
        .layer(TunnelLayer::new(s.tunnel_idle_timeout))
        // Read what has arrived of the body: a malformed one is refused (400)
        // before any member connection is opened.
        .layer(ReadAheadLayer::new(s.body_read_timeout))
        // The virtual host and its route: a balancer, a directory, a
        // redirect or 404; member redirects pointed back at the front URL.
        .layer(RouterLayer::new(shared.sites.clone(), listener))
        // Pick a member of the route's balancer (sticky sessions first), fail
        // over, 503 when none is usable.
        .layer(BalanceLayer)
        // Send over a pooled connection.
        .service(Forward::new(ForwardSettings {
            connect_timeout: s.connect_timeout,
            pool_idle_timeout: s.pool_idle_timeout,
            timeout: s.timeout,
            outer_timeout: s.outer_timeout,
            body_read_timeout: s.body_read_timeout,
        }))
}
