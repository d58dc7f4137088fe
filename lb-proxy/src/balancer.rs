//! The member list and Apache's scheduling over it, plus the [`Balance`]
//! layer: pick a member, fail over on connect errors, answer 503 when none is
//! usable.
//!
//! `byrequests` is Apache's smooth weighted round-robin: on every pick each
//! usable member gains its loadfactor, the highest wins and loses the total.
//! That sequence is periodic (period = sum of loadfactors) for a given set of
//! usable members, so it is computed once per set and then indexed by an
//! atomic counter: no lock on the request path, and the exact Apache order.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use arc_swap::ArcSwapOption;
use http::{HeaderValue, Request, Response, StatusCode};
use tower::{Layer, Service, ServiceExt};

use crate::body::{ProxyBody, RequestBody, local_response};
use crate::config::{LbMethod, StickyConfig};
use crate::forward::{Assigned, ForwardError};
use crate::member::{Member, now_ms};
use crate::sites::Routed;

/// One balancer's members and scheduling (Apache `balancer://NAME`),
/// replaced as a whole on reload.
#[derive(Debug)]
pub struct Members {
    /// The balancer's name.
    pub(crate) name: String,
    pub(crate) list: Vec<Arc<Member>>,
    method: LbMethod,
    /// Sticky sessions.
    pub(crate) sticky: Option<StickyConfig>,
    /// Apache `maxattempts`: members tried after the first failed; `None` = all.
    max_attempts: Option<u32>,
    counter: AtomicUsize,
    schedule: ArcSwapOption<Schedule>,
}

/// The smooth weighted sequence for one set of usable members.
#[derive(Debug)]
struct Schedule {
    set: u64,
    order: Box<[u8]>,
}

impl Members {
    /// Balancer `name` over `list` scheduled with `method`, failing over to
    /// at most `max_attempts` other members (`None`: every usable one).
    pub fn new(
        name: String,
        list: Vec<Arc<Member>>,
        method: LbMethod,
        max_attempts: Option<u32>,
        sticky: Option<StickyConfig>,
    ) -> Self {
        Self {
            name,
            list,
            method,
            sticky,
            max_attempts,
            counter: AtomicUsize::new(0),
            schedule: ArcSwapOption::empty(),
        }
    }

    /// The members, in configuration order.
    pub fn list(&self) -> &[Arc<Member>] {
        &self.list
    }

    /// Bit set of the members the balancer may pick now, as Apache's
    /// lbmethods walk them: the lowest `lbset` that has a usable member
    /// wins; within it, regular members, or its hot standbys (`+H`) when no
    /// regular one is usable. Draining members (`+N`) take sticky requests
    /// only, never a pick.
    fn usable_set(&self, exclude: u64) -> u64 {
        let mut now = None;
        // The lowest lbset with a usable member, and its regular and standby
        // members: one pass (the lowest set seen so far restarts the bits).
        let mut lowest: Option<u32> = None;
        let (mut regular, mut standby) = (0u64, 0u64);
        for (i, m) in self.list.iter().enumerate() {
            if exclude & (1 << i) != 0 || m.drain.load(Ordering::Relaxed) || !m.usable(&mut now) {
                continue;
            }
            let lbset = m.lbset.load(Ordering::Relaxed);
            match lowest {
                Some(l) if lbset > l => continue,
                Some(l) if lbset == l => {}
                _ => {
                    lowest = Some(lbset);
                    (regular, standby) = (0, 0);
                }
            }
            if m.hot_standby.load(Ordering::Relaxed) {
                standby |= 1 << i;
            } else {
                regular |= 1 << i;
            }
        }
        if regular != 0 { regular } else { standby }
    }

    /// Picks a member not in `exclude` (a bit set of indexes already tried).
    pub fn pick(&self, exclude: u64) -> Option<(usize, &Arc<Member>)> {
        let set = self.usable_set(exclude);
        if set == 0 {
            return None;
        }
        let tick = self.counter.fetch_add(1, Ordering::Relaxed);
        let index = match self.method {
            LbMethod::ByRequests => self.by_requests(set, tick),
            LbMethod::ByBusyness => self.by_busyness(set, tick),
            LbMethod::ByTraffic => self.by_traffic(set),
        };
        self.list.get(index).map(|m| (index, m))
    }

    /// The member a sticky request names, when it may take it: usable
    /// (draining members too) and not in `exclude`.
    pub(crate) fn pick_route(&self, route: &str, exclude: u64) -> Option<(usize, &Arc<Member>)> {
        let mut now = None;
        self.list
            .iter()
            .enumerate()
            .find(|(_, m)| m.has_route(route))
            .filter(|(i, m)| exclude & (1 << i) == 0 && m.usable(&mut now))
    }

    /// Apache `bytraffic`: the fewest bytes moved per unit of loadfactor;
    /// ties go to the first.
    fn by_traffic(&self, set: u64) -> usize {
        let mut best: Option<(u64, usize)> = None;
        for (i, m) in self.list.iter().enumerate() {
            if set & (1 << i) == 0 {
                continue;
            }
            let t = m.traffic_per_weight();
            if best.is_none_or(|(b, _)| t < b) {
                best = Some((t, i));
            }
        }
        best.map_or(0, |(_, i)| i)
    }

    fn by_requests(&self, set: u64, tick: usize) -> usize {
        if let Some(s) = &*self.schedule.load()
            && s.set == set
            && let Some(&i) = s.order.get(tick % s.order.len().max(1))
        {
            return usize::from(i);
        }
        let weights: Vec<u32> = self
            .list
            .iter()
            .map(|m| m.loadfactor.load(Ordering::Relaxed))
            .collect();
        let order = smooth_weighted(&weights, set);
        // Loadfactors are validated to be at least 1, so the period is never
        // empty; fall back to the lowest usable index all the same.
        let fallback = usize::try_from(set.trailing_zeros()).unwrap_or(0);
        let index = order
            .get(tick % order.len().max(1))
            .map_or(fallback, |&i| usize::from(i));
        self.schedule.store(Some(Arc::new(Schedule { set, order })));
        index
    }

    /// Fewest in flight; ties go round-robin from the rotating `tick`.
    fn by_busyness(&self, set: u64, tick: usize) -> usize {
        let n = self.list.len();
        let mut best: Option<(u64, usize)> = None;
        for k in 0..n {
            let i = (tick + k) % n;
            if set & (1 << i) == 0 {
                continue;
            }
            let busy = self.list[i].in_flight();
            if best.is_none_or(|(b, _)| busy < b) {
                best = Some((busy, i));
            }
        }
        best.map_or(0, |(_, i)| i)
    }

    /// Apache `forcerecovery`: when every member is in error, clear their
    /// error state so the next requests try them again.
    pub(crate) fn force_recovery(&self) {
        let now = now_ms();
        if self.list.iter().all(|m| !m.usable(&mut Some(now))) {
            for m in &self.list {
                if m.is_in_error(now) {
                    m.clear_error();
                }
            }
        }
    }

    /// Finds a member by URL.
    pub fn get(&self, url: &str) -> Option<&Arc<Member>> {
        self.list.iter().find(|m| m.url == url)
    }
}

/// One period of Apache's smooth weighted round-robin over the members in
/// `set` (indexes into `weights`). Ties go to the first member, as in
/// mod_lbmethod_byrequests.
fn smooth_weighted(weights: &[u32], set: u64) -> Box<[u8]> {
    let members: Vec<usize> = (0..weights.len()).filter(|i| set & (1 << i) != 0).collect();
    let total: i64 = members.iter().map(|&i| i64::from(weights[i])).sum();
    let mut status = vec![0i64; weights.len()];
    let mut order = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for _ in 0..total {
        let mut best: Option<usize> = None;
        for &i in &members {
            status[i] += i64::from(weights[i]);
            if best.is_none_or(|b| status[i] > status[b]) {
                best = Some(i);
            }
        }
        if let Some(b) = best {
            status[b] -= total;
            order.push(u8::try_from(b).unwrap_or(0));
        }
    }
    order.into_boxed_slice()
}

/// The session route a request names for a sticky balancer, as Apache's
/// `find_session_route` reads it: first `NAME=` in the URL (path parameter
/// or query, the value ending at `?` or `&`, and `;` with
/// `scolonpathdelim`), then the cookie; the route is what follows the
/// value's first `.` (`JSESSIONID=abc.node1` → `node1`). No `.`, no route.
/// Read as bytes, as Apache reads them (a route is then UTF-8 or none).
pub(crate) fn session_route(req: &Request<RequestBody>, sticky: &StickyConfig) -> Option<String> {
    let from_url = sticky.url_param.as_deref().and_then(|name| {
        let target = req
            .uri()
            .path_and_query()
            .map(http::uri::PathAndQuery::as_str)?;
        url_param(target.as_bytes(), name.as_bytes(), sticky.scolon_path_delim)
    });
    let value = from_url.or_else(|| {
        let name = sticky.cookie.as_deref().or(sticky.set_cookie.as_deref())?;
        req.headers()
            .get_all(http::header::COOKIE)
            .iter()
            .find_map(|cookies| cookie(cookies.as_bytes(), name.as_bytes()))
    })?;
    let dot = value.iter().position(|&b| b == b'.')?;
    let route = value.get(dot + 1..).filter(|r| !r.is_empty())?;
    std::str::from_utf8(route).ok().map(str::to_owned)
}

/// Apache's `get_path_param`: the value after the first `NAME=` anywhere in
/// the URL, up to a delimiter.
fn url_param<'a>(url: &'a [u8], name: &[u8], scolon: bool) -> Option<&'a [u8]> {
    let mut from = 0;
    while let Some(at) = find(url.get(from..)?, name) {
        let after = from + at + name.len();
        if let Some(value) = url.get(after..).and_then(|v| v.strip_prefix(b"=")) {
            let end = value
                .iter()
                .position(|&c| c == b'?' || c == b'&' || (scolon && c == b';'))
                .unwrap_or(value.len());
            if end > 0 {
                return Some(&value[..end]);
            }
        }
        from += at + 1;
    }
    None
}

/// Apache's `get_cookie_param`: `NAME=value` in a `Cookie` header where the
/// name starts the header or follows `;`, `,` or a space; the value ends at
/// `;` or `,`.
/// Where `needle` first occurs in `hay`: a scan for its first byte and a
/// comparison there (cookie headers and names are short; `str::find`'s
/// two-way searcher costs more to set up than this whole scan).
fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    let &first = n.first()?;
    let mut i = 0;
    while let Some(off) = h.get(i..)?.iter().position(|&b| b == first) {
        let at = i + off;
        if h[at..].starts_with(n) {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

fn cookie<'a>(cookies: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut from = 0;
    while let Some(at) = find(cookies.get(from..)?, name) {
        let start = from + at;
        let before = start.checked_sub(1).and_then(|i| cookies.get(i)).copied();
        if before.is_none_or(|c| c == b';' || c == b',' || c.is_ascii_whitespace()) {
            let rest = cookies.get(start + name.len()..)?.trim_ascii_start();
            if let Some(value) = rest.strip_prefix(b"=")
                && !value.is_empty()
            {
                let end = value
                    .iter()
                    .position(|&c| c == b';' || c == b',')
                    .unwrap_or(value.len());
                return Some(&value[..end]);
            }
        }
        from = start + 1;
    }
    None
}

/// Layer for [`Balance`].
#[derive(Debug, Clone, Copy, Default)]
pub struct BalanceLayer;

impl<S> Layer<S> for BalanceLayer {
    type Service = Balance<S>;
    fn layer(&self, inner: S) -> Balance<S> {
        Balance { inner }
    }
}

/// Picks a member of the request's balancer and fails over: a connect
/// failure puts the member in error and the request goes to the next member;
/// other failures are retried only for idempotent requests without a body.
/// Sticky requests go to the member of their route while it is usable.
#[derive(Debug, Clone)]
pub struct Balance<S> {
    inner: S,
}

impl<S> Service<Routed> for Balance<S>
where
    S: Service<Assigned, Response = Response<ProxyBody>, Error = ForwardError>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = Response<ProxyBody>;
    type Error = std::convert::Infallible;
    type Future =
        Pin<Box<dyn Future<Output = Result<Response<ProxyBody>, std::convert::Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, routed: Routed) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(balance(inner, routed))
    }
}

/// The `Set-Cookie` that sticks a client to `member` (had's `sticky_cookie`),
/// when the request did not already name its route.
fn stick(
    sticky: Option<&StickyConfig>,
    session: Option<&str>,
    member: &Member,
) -> Option<HeaderValue> {
    let name = sticky?.set_cookie.as_deref()?;
    let route = member.route()?;
    if session == Some(&*route) {
        return None;
    }
    HeaderValue::from_str(&format!("{name}=.{route}; Path=/")).ok()
}

/// Not an `async fn`, which would hold its arguments twice in the
/// request's future (see `forward::forward`).
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice in its state"
)]
fn balance<S>(
    mut inner: S,
    routed: Routed,
) -> impl Future<Output = Result<Response<ProxyBody>, std::convert::Infallible>>
where
    S: Service<Assigned, Response = Response<ProxyBody>, Error = ForwardError>,
{
    async move {
        let Routed { request, target } = routed;
        let members = target.balancer;
        let sticky = members.sticky.as_ref();
        let session = sticky.and_then(|s| session_route(&request, s));
        let mut pending = Some(request);
        let mut tried = 0u64;
        let mut last_was_connect = true;
        let path: Arc<str> = Arc::from(target.path);
        loop {
            let failovers = tried.count_ones();
            let exhausted = failovers > 0 && members.max_attempts.is_some_and(|m| failovers > m);
            let by_session = session
                .as_deref()
                .and_then(|route| members.pick_route(route, tried));
            if by_session.is_none()
                && let (Some(route), Some(s)) = (session.as_deref(), sticky)
                && s.nofailover
                && members.list().iter().any(|m| m.has_route(route))
            {
                // Apache `nofailover=On`: the session breaks rather than move.
                tracing::warn!(balancer = %members.name, route, "the member of a sticky session is unusable (nofailover)");
                return Ok(local_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the member of this session is unavailable\n",
                ));
            }
            let picked = if exhausted {
                None
            } else {
                by_session.or_else(|| members.pick(tried))
            };
            let Some((index, member)) = picked else {
                if tried == 0 {
                    members.force_recovery();
                }
                return Ok(if last_was_connect {
                    local_response(StatusCode::SERVICE_UNAVAILABLE, "no member is available\n")
                } else {
                    local_response(StatusCode::BAD_GATEWAY, "member failed\n")
                });
            };
            tried |= 1 << index;
            let Some(req) = pending.take() else {
                return Ok(local_response(StatusCode::BAD_GATEWAY, "member failed\n"));
            };
            let result = match inner.ready().await {
                Ok(svc) => {
                    svc.call(Assigned {
                        member: member.clone(),
                        request: req,
                        path: path.clone(),
                        preserve_host: target.preserve_host,
                    })
                    .await
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(mut resp) => {
                    if let Some(cookie) = stick(sticky, session.as_deref(), member) {
                        resp.headers_mut().append(http::header::SET_COOKIE, cookie);
                    }
                    return Ok(resp);
                }
                Err(ForwardError::Connect { request, source }) => {
                    tracing::warn!(member = %member.url, error = %source, "connect failed, trying the next member");
                    member.record_failure();
                    member.mark_error();
                    pending = Some(*request);
                    last_was_connect = true;
                }
                Err(ForwardError::Client(e)) => {
                    // The client's body broke or stalled mid-stream; the member
                    // connection is closed already and the member is not to blame.
                    tracing::debug!(member = %member.url, error = %e, "request body failed while streaming");
                    return Ok(e.refusal());
                }
                Err(ForwardError::Target(why)) => {
                    tracing::warn!(balancer = %members.name, %why, "request not forwarded");
                    return Ok(local_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the route maps this request to an invalid URL\n",
                    ));
                }
                Err(ForwardError::Timeout(after)) => {
                    tracing::warn!(member = %member.url, ?after, "member did not answer in time");
                    member.record_failure();
                    return Ok(local_response(
                        StatusCode::GATEWAY_TIMEOUT,
                        "member did not answer in time\n",
                    ));
                }
                Err(ForwardError::Exchange { source, request }) => {
                    tracing::warn!(member = %member.url, error = %source, "member failed");
                    member.record_failure();
                    last_was_connect = false;
                    // RFC 9110 §9.2.2: only an idempotent request, and only one
                    // whose body was not streamed (it came back whole), is
                    // replayed on another member.
                    match request {
                        Some(request) if crate::forward::is_idempotent(request.method()) => {
                            pending = Some(*request);
                        }
                        _ => {
                            return Ok(local_response(StatusCode::BAD_GATEWAY, "member failed\n"));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sticky(cookie: Option<&str>, url: Option<&str>, scolon: bool) -> StickyConfig {
        StickyConfig {
            cookie: cookie.map(str::to_owned),
            url_param: url.map(str::to_owned),
            nofailover: false,
            scolon_path_delim: scolon,
            set_cookie: None,
        }
    }

    fn request(target: &str, cookies: &[&str]) -> Request<RequestBody> {
        let mut b = Request::builder().uri(target);
        for c in cookies {
            b = b.header("cookie", *c);
        }
        b.body(RequestBody::empty())
            .unwrap_or_else(|_| Request::new(RequestBody::empty()))
    }

    #[test]
    fn session_routes_as_apache_reads_them() {
        let s = sticky(Some("JSESSIONID"), Some("jsessionid"), false);
        let r = |t: &str, c: &[&str]| session_route(&request(t, c), &s);
        assert_eq!(r("/", &["JSESSIONID=abc.node1"]), Some("node1".into()));
        // Bytes, as Apache reads them: obs-text in another cookie does not
        // hide the session's; a route that is not UTF-8 is none.
        let mut raw = request("/", &[]);
        raw.headers_mut().insert(
            http::header::COOKIE,
            http::HeaderValue::from_bytes(b"pref=caf\xe9; JSESSIONID=abc.node7")
                .unwrap_or_else(|_| http::HeaderValue::from_static("")),
        );
        assert_eq!(session_route(&raw, &s), Some("node7".into()));
        raw.headers_mut().insert(
            http::header::COOKIE,
            http::HeaderValue::from_bytes(b"JSESSIONID=abc.n\xe9")
                .unwrap_or_else(|_| http::HeaderValue::from_static("")),
        );
        assert_eq!(session_route(&raw, &s), None);
        assert_eq!(
            r("/", &["a=1; JSESSIONID=abc.node2; b=2"]),
            Some("node2".into())
        );
        assert_eq!(r("/", &["a=1,JSESSIONID=x.n3"]), Some("n3".into()));
        // No dot: no route.
        assert_eq!(r("/", &["JSESSIONID=abc"]), None);
        // The name must start a cookie.
        assert_eq!(r("/", &["XJSESSIONID=abc.node1"]), None);
        // The URL first: path parameter or query.
        assert_eq!(
            r("/app;jsessionid=abc.node4", &["JSESSIONID=abc.node1"]),
            Some("node4".into())
        );
        assert_eq!(
            r("/app?x=1&jsessionid=abc.node5&y=2", &[]),
            Some("node5".into())
        );
        // `;` ends the value only with scolonpathdelim.
        assert_eq!(
            r("/a;jsessionid=q.n6;other=1", &[]),
            Some("n6;other=1".into())
        );
        let s2 = sticky(Some("JSESSIONID"), Some("jsessionid"), true);
        assert_eq!(
            session_route(&request("/a;jsessionid=q.n6;other=1", &[]), &s2),
            Some("n6".into())
        );
        // A route is whatever follows the first dot.
        assert_eq!(r("/", &["JSESSIONID=a.b.c"]), Some("b.c".into()));
    }

    #[test]
    fn weights_3_1_interleave() {
        let order = smooth_weighted(&[3, 1], 0b11);
        assert_eq!(&*order, &[0, 0, 1, 0]);
    }

    #[test]
    fn weights_5_1_1_match_apache_sequence() {
        // The well-known smooth weighted sequence for 5:1:1 (nginx/Apache).
        let order = smooth_weighted(&[5, 1, 1], 0b111);
        assert_eq!(&*order, &[0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn unusable_members_are_left_out() {
        let order = smooth_weighted(&[2, 7, 1], 0b101);
        assert_eq!(&*order, &[0, 2, 0]);
    }
}
