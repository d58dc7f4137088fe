//! The bottom of the stack: address the request to the chosen member and send
//! it over a pooled keep-alive connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::header::HOST;
use http::{Request, Response, StatusCode, Uri, Version};
use tower::Service;

use crate::body::{BackendBody, BoxError, InFlight, ProxyBody, RequestBody};
use crate::member::Member;
use crate::pool::Pooled;
use bytes::Bytes;
use http_body::Body as _;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;

/// A request with the member it goes to.
#[derive(Debug)]
pub struct Routed {
    /// The chosen member.
    pub member: Arc<Member>,
    /// The request, still addressed as the client sent it.
    pub request: Request<RequestBody>,
}

/// Why forwarding failed, split by what the balancer may do next.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// No connection could be made; the request was not sent and comes back.
    #[error("connect failed: {source}")]
    Connect {
        /// The unsent request, for the next member.
        request: Box<Request<RequestBody>>,
        /// The cause.
        source: BoxError,
    },
    /// The request was (at least partly) sent and no response came back.
    #[error("exchange failed: {source}")]
    Exchange {
        /// The cause.
        source: BoxError,
    },
}

/// Settings of [`Forward`].
#[derive(Debug, Clone, Copy)]
pub struct ForwardSettings {
    /// Keep the client's `Host` (`ProxyPreserveHost On`).
    pub preserve_host: bool,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Idle lifetime of pooled connections.
    pub pool_idle_timeout: Duration,
}

/// Sends a [`Routed`] request to its member.
#[derive(Debug, Clone, Copy)]
pub struct Forward {
    settings: ForwardSettings,
}

impl Forward {
    /// A forwarder with these settings.
    pub fn new(settings: ForwardSettings) -> Self {
        Self { settings }
    }
}

impl Service<Routed> for Forward {
    type Response = Response<ProxyBody>;
    type Error = ForwardError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ProxyBody>, ForwardError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ForwardError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, routed: Routed) -> Self::Future {
        let Routed {
            member,
            mut request,
        } = routed;
        address(&member, &mut request, self.settings.preserve_host);
        Box::pin(forward(member, request, self.settings))
    }
}

/// Rewrites the request target to origin-form under the member's prefix and
/// sets `Host` unless the client's is preserved.
fn address(member: &Member, req: &mut Request<RequestBody>, preserve_host: bool) {
    let target = &member.target;
    let needs_rewrite = !target.prefix.is_empty()
        || req.uri().scheme().is_some()
        || req.uri().authority().is_some();
    if needs_rewrite {
        let pq = req
            .uri()
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        let joined = if target.prefix.is_empty() {
            pq.to_owned()
        } else {
            format!("{}{pq}", target.prefix)
        };
        if let Ok(uri) = Uri::try_from(joined) {
            *req.uri_mut() = uri;
        }
    }
    if !preserve_host || !req.headers().contains_key(HOST) {
        req.headers_mut().insert(HOST, target.authority.clone());
    }
    *req.version_mut() = Version::HTTP_11;
}

/// Responses with a known length up to this size are read whole before the
/// head is passed up, so the client gets head and body in one write instead
/// of two (the body otherwise arrives one task wake-up after the head).
const BUFFER_UP_TO: u64 = 16 * 1024;

async fn buffered(
    resp: Response<Incoming>,
    member: &Arc<Member>,
    conn: Pooled,
) -> Result<Response<ProxyBody>, ForwardError> {
    let (parts, mut body) = resp.into_parts();
    let mut data: Option<Bytes> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ForwardError::Exchange { source: e.into() })?;
        if let Ok(chunk) = frame.into_data() {
            data = Some(match data {
                None => chunk,
                Some(prev) => [prev, chunk].concat().into(),
            });
        }
    }
    crate::pool::checkin(member, conn);
    Ok(Response::from_parts(parts, ProxyBody::Local(data)))
}

async fn forward(
    member: Arc<Member>,
    req: Request<RequestBody>,
    settings: ForwardSettings,
) -> Result<Response<ProxyBody>, ForwardError> {
    let in_flight = InFlight::new(member.clone());
    let start = Instant::now();
    let (mut conn, mut reused) = match member.pool.checkout() {
        Some(conn) => (conn, true),
        None => match member
            .pool
            .connect(settings.connect_timeout, settings.pool_idle_timeout)
            .await
        {
            Ok(conn) => (conn, false),
            Err(e) => {
                return Err(ForwardError::Connect {
                    request: Box::new(req),
                    source: e.into(),
                });
            }
        },
    };
    let mut req = req;
    loop {
        match conn.sender.try_send_request(req).await {
            Ok(resp) => {
                member.record_latency(start.elapsed());
                if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
                    // An upgraded connection belongs to the tunnel, never to the pool.
                    return Ok(resp
                        .map(|body| ProxyBody::Backend(BackendBody::new(body, None, in_flight))));
                }
                let small = resp
                    .body()
                    .size_hint()
                    .exact()
                    .is_some_and(|n| n > 0 && n <= BUFFER_UP_TO);
                if small {
                    return buffered(resp, &member, conn).await;
                }
                return Ok(resp.map(|body| {
                    ProxyBody::Backend(BackendBody::new(body, Some(conn), in_flight))
                }));
            }
            Err(mut e) => match e.take_message() {
                // The pooled connection was closed under us before the request
                // went out: retry once on a fresh connection.
                Some(unsent) if reused => {
                    reused = false;
                    req = unsent;
                    conn = match member
                        .pool
                        .connect(settings.connect_timeout, settings.pool_idle_timeout)
                        .await
                    {
                        Ok(c) => c,
                        Err(e) => {
                            return Err(ForwardError::Connect {
                                request: Box::new(req),
                                source: e.into(),
                            });
                        }
                    };
                }
                Some(unsent) => {
                    return Err(ForwardError::Connect {
                        request: Box::new(unsent),
                        source: e.into_error().into(),
                    });
                }
                None => {
                    return Err(ForwardError::Exchange {
                        source: e.into_error().into(),
                    });
                }
            },
        }
    }
}
