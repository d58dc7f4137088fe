//! The bottom of the stack: address the request to the chosen member and send
//! it over a pooled keep-alive connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::header::HOST;
use http::{Method, Request, Response, Uri, Version};
use http_body::Body as _;
use tower::Service;

use crate::body::{BackendBody, BoxError, ClientBodyError, InFlight, ProxyBody, RequestBody};
use crate::member::Member;
use crate::member_conn::ExchangeError;

/// A request with the member it goes to.
#[derive(Debug)]
pub struct Assigned {
    /// The chosen member.
    pub member: Arc<Member>,
    /// The request, still addressed as the client sent it.
    pub request: Request<RequestBody>,
    /// The path (and query) that follows the member's URL path: what the
    /// route made of the request's (empty or starting with `?`: the
    /// member's own path).
    pub path: Arc<str>,
    /// Keep the client's `Host` (`ProxyPreserveHost On`).
    pub preserve_host: bool,
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
    /// The client's request body broke while it streamed (malformed framing,
    /// the client gone); the member connection was closed, and the member is
    /// not to blame.
    #[error("request body from the client: {0}")]
    Client(ClientBodyError),
    /// The route maps the request to something that is not a URL.
    #[error("the route maps the request to an invalid target: {0}")]
    Target(String),
    /// The member's response (its head, and a body of up to 16 KiB) did not
    /// come within its own `timeout`.
    #[error("no response within {0:?}")]
    Timeout(Duration),
    /// The request was (at least partly) sent and no response came back.
    #[error("exchange failed: {source}")]
    Exchange {
        /// The cause.
        source: BoxError,
        /// The request, when no body of it was streamed: as the client sent
        /// it, for a replay on another member if its method allows.
        request: Option<Box<Request<RequestBody>>>,
    },
}

/// Settings of [`Forward`].
#[derive(Debug, Clone, Copy)]
pub struct ForwardSettings {
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Idle lifetime of pooled connections.
    pub pool_idle_timeout: Duration,
    /// The proxy's response timeout, for members without their own.
    pub timeout: Duration,
    /// The response timeout the stack above already enforces: a member's
    /// deadline is only armed here when it is shorter.
    pub outer_timeout: Duration,
    /// Longest wait for the next piece of a streamed request body.
    pub body_read_timeout: Duration,
}

/// Sends an [`Assigned`] request to its member.
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

impl Service<Assigned> for Forward {
    type Response = Response<ProxyBody>;
    type Error = ForwardError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ProxyBody>, ForwardError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ForwardError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, assigned: Assigned) -> Self::Future {
        let Assigned {
            member,
            mut request,
            path,
            preserve_host,
        } = assigned;
        let original = match address(&member, &mut request, &path, preserve_host) {
            Ok(original) => original,
            Err(why) => return Box::pin(std::future::ready(Err(ForwardError::Target(why)))),
        };
        let deadline = member
            .own_timeout()
            .unwrap_or(self.settings.timeout)
            .min(self.settings.outer_timeout);
        let forward = forward(member, request, original, self.settings);
        if deadline < self.settings.outer_timeout {
            // A member with a shorter timeout than the one the stack above
            // enforces: the rare path gets its own timer, the common future
            // carries none.
            Box::pin(async move {
                tokio::time::timeout(deadline, forward)
                    .await
                    .unwrap_or(Err(ForwardError::Timeout(deadline)))
            })
        } else {
            Box::pin(forward)
        }
    }
}

/// What [`address`] changed in a request, to give it back as the client sent
/// it when it goes to another member (whose prefix and host differ).
#[derive(Debug, Default)]
struct Original {
    uri: Option<Uri>,
    host: Option<Option<http::HeaderValue>>,
    version: Version,
}

impl Original {
    fn restore(self, req: &mut Request<RequestBody>) {
        if let Some(uri) = self.uri {
            *req.uri_mut() = uri;
        }
        match self.host {
            Some(Some(host)) => {
                req.headers_mut().insert(HOST, host);
            }
            Some(None) => {
                req.headers_mut().remove(HOST);
            }
            None => {}
        }
        *req.version_mut() = self.version;
    }

    fn restored(self, mut req: Box<Request<RequestBody>>) -> Box<Request<RequestBody>> {
        self.restore(&mut req);
        req
    }
}

/// Addresses the request to `member`: the target is the member's URL path
/// followed by `path` (what the route left of the client's path; `*` for
/// `OPTIONS *` stays as it is), and `Host` is the member's unless the
/// client's is preserved; returns what it replaced.
fn address(
    member: &Member,
    req: &mut Request<RequestBody>,
    path: &str,
    preserve_host: bool,
) -> Result<Original, String> {
    let mut original = Original {
        version: req.version(),
        ..Original::default()
    };
    let prefix = member.target.prefix.as_str();
    let unchanged = prefix.is_empty()
        && req.uri().scheme().is_none()
        && req
            .uri()
            .path_and_query()
            .is_some_and(|pq| pq.as_str() == path);
    if !unchanged {
        let head = if path == "*" {
            // `OPTIONS *` addresses the member itself, whatever its path.
            ""
        } else if prefix.is_empty() && (path.is_empty() || path.starts_with('?')) {
            // The request was the route's whole prefix and the member has no
            // path of its own: its root.
            "/"
        } else {
            prefix
        };
        // Exactly as long as it needs: `Bytes` takes a full vector as it is,
        // and allocates again for one with spare capacity.
        let mut joined = String::with_capacity(head.len() + path.len());
        joined.push_str(head);
        joined.push_str(path);
        // Apache's literal join can make a URL that is none (`ProxyPass
        // /app/ http://b:8080` sends `/app/x` to `http://b:8080x`): refused.
        // The string becomes the URI's bytes, not copied again.
        let uri = Uri::from_maybe_shared(bytes::Bytes::from(joined.into_bytes()))
            .ok()
            .filter(|u| u.path().starts_with('/') || u.path() == "*")
            .ok_or_else(|| format!("{}{head}{path} is not a URL", member.target.origin))?;
        original.uri = Some(std::mem::replace(req.uri_mut(), uri));
    }
    if !preserve_host || !req.headers().contains_key(HOST) {
        original.host = Some(
            req.headers_mut()
                .insert(HOST, member.target.authority.clone()),
        );
    }
    *req.version_mut() = Version::HTTP_11;
    Ok(original)
}

/// Responses with a known length up to this size are read whole before the
/// head is passed up, so the client gets head and body in one write instead
/// of two (the body otherwise arrives one task wake-up after the head).
const BUFFER_UP_TO: u64 = 16 * 1024;

/// A plain function returning an `async move` block rather than an `async
/// fn`: an `async fn` copies its arguments into locals of its state, so the
/// request (264 bytes) and the rest were held twice in every request's
/// future (`-Zprint-type-sizes`: 2616 bytes as an `async fn`, 1768 now).
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice in its state"
)]
fn forward(
    member: Arc<Member>,
    req: Request<RequestBody>,
    original: Original,
    settings: ForwardSettings,
) -> impl Future<Output = Result<Response<ProxyBody>, ForwardError>> + Send {
    async move {
        let in_flight = InFlight::new(member.clone());
        let start = Instant::now();
        // `bytraffic`: what is known of the body now (all of it when read
        // ahead or framed by a length); the response counts as it streams.
        member.add_traffic(req.body().size_hint().lower());
        let head_only = req.method() == Method::HEAD;
        let idempotent = is_idempotent(req.method());
        // Boxed: opening a connection is the rare path, and its future (address,
        // timer) would otherwise be carried, and copied, with every request's.
        let connect = || {
            Box::pin(
                member
                    .pool
                    .connect(settings.connect_timeout, settings.pool_idle_timeout),
            )
        };
        let (conn, reused) = match member.pool.checkout() {
            Some(conn) => (conn, true),
            None => match connect().await {
                Ok(conn) => (conn, false),
                Err(e) => {
                    return Err(ForwardError::Connect {
                        request: original.restored(Box::new(req)),
                        source: e.into(),
                    });
                }
            },
        };
        let body_idle = settings.body_read_timeout;
        let result = match conn.exchange(req, body_idle).await {
            // A pooled connection the member had closed: once more on a fresh
            // one. Unsent requests always; sent ones only when bodiless and
            // idempotent (the member may have seen them, RFC 9110 §9.2.2).
            Err(ExchangeError::NotSent { request, .. }) if reused => match connect().await {
                Ok(fresh) => Box::pin(fresh.exchange(*request, body_idle)).await,
                Err(e) => {
                    return Err(ForwardError::Connect {
                        request: original.restored(request),
                        source: e.into(),
                    });
                }
            },
            Err(ExchangeError::ClosedBeforeResponse {
                resend: Some(bytes),
                request,
            }) if reused && idempotent => {
                let again = match connect().await {
                    Ok(fresh) => Box::pin(fresh.resend(bytes, head_only)).await,
                    Err(e) => Err(ExchangeError::Failed {
                        source: e.into(),
                        request: None,
                    }),
                };
                // The resend carried only bytes; the request stays with us.
                again.map_err(|e| ExchangeError::Failed {
                    source: e.into(),
                    request,
                })
            }
            other => other,
        };
        let mut resp = match result {
            Ok(resp) => resp,
            Err(ExchangeError::NotSent { request, source }) => {
                return Err(ForwardError::Connect {
                    request: original.restored(request),
                    source: source.into(),
                });
            }
            Err(ExchangeError::ClientBody { source }) => {
                return Err(ForwardError::Client(source));
            }
            Err(e) => {
                let source = e.to_string().into();
                let request = e.into_request().map(|r| original.restored(r));
                return Err(ForwardError::Exchange { source, request });
            }
        };
        member.record_latency(start.elapsed());
        if let Some(read) = resp.body_mut().read_small(BUFFER_UP_TO).await {
            let data = read.map_err(|source| ForwardError::Exchange {
                source,
                request: None,
            })?;
            member.add_traffic(data.len() as u64);
            crate::pool::release(&member, resp.body_mut());
            return Ok(resp.map(|_| ProxyBody::Local(Some(data))));
        }
        // Streamed (or empty) bodies hand the connection back when they end; an
        // upgraded connection belongs to the tunnel (the body is empty and holds
        // none).
        Ok(resp.map(|body| ProxyBody::Backend(BackendBody::new(body, in_flight))))
    }
}

/// RFC 9110 §9.2.2.
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}
