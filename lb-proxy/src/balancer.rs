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

use arc_swap::{ArcSwap, ArcSwapOption};
use http::{Request, Response, StatusCode};
use tower::{Layer, Service, ServiceExt};

use crate::body::{ProxyBody, RequestBody, local_response};
use crate::config::LbMethod;
use crate::forward::{ForwardError, Routed};
use crate::member::{Member, now_ms};

/// The set of members in force, swapped as a whole on reload.
#[derive(Debug)]
pub struct Members {
    pub(crate) list: Vec<Arc<Member>>,
    method: LbMethod,
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
    /// A member list scheduled with `method`, failing over to at most
    /// `max_attempts` other members (`None`: every usable one).
    pub fn new(list: Vec<Arc<Member>>, method: LbMethod, max_attempts: Option<u32>) -> Self {
        Self {
            list,
            method,
            max_attempts,
            counter: AtomicUsize::new(0),
            schedule: ArcSwapOption::empty(),
        }
    }

    /// The members, in configuration order.
    pub fn list(&self) -> &[Arc<Member>] {
        &self.list
    }

    /// Bit set of the members usable now; hot standbys count only when no
    /// regular member is usable (Apache `status=+H`).
    fn usable_set(&self, exclude: u64) -> u64 {
        let mut now = None;
        let (mut regular, mut standby) = (0u64, 0u64);
        for (i, m) in self.list.iter().enumerate() {
            if m.usable(&mut now) {
                if m.hot_standby.load(Ordering::Relaxed) {
                    standby |= 1 << i;
                } else {
                    regular |= 1 << i;
                }
            }
        }
        let regular = regular & !exclude;
        if regular != 0 {
            regular
        } else {
            standby & !exclude
        }
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
        };
        self.list.get(index).map(|m| (index, m))
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

/// Layer for [`Balance`].
#[derive(Debug, Clone)]
pub struct BalanceLayer {
    members: Arc<ArcSwap<Members>>,
}

impl BalanceLayer {
    /// Balances over the member list in `members` (read on every request).
    pub fn new(members: Arc<ArcSwap<Members>>) -> Self {
        Self { members }
    }
}

impl<S> Layer<S> for BalanceLayer {
    type Service = Balance<S>;
    fn layer(&self, inner: S) -> Balance<S> {
        Balance {
            members: self.members.clone(),
            inner,
        }
    }
}

/// Picks a member per request and fails over: a connect failure puts the
/// member in error and the request goes to the next member; other failures
/// are retried only for idempotent requests without a body.
#[derive(Debug, Clone)]
pub struct Balance<S> {
    members: Arc<ArcSwap<Members>>,
    inner: S,
}

impl<S> Service<Request<RequestBody>> for Balance<S>
where
    S: Service<Routed, Response = Response<ProxyBody>, Error = ForwardError>
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

    fn call(&mut self, req: Request<RequestBody>) -> Self::Future {
        let members = self.members.load_full();
        let inner = self.inner.clone();
        Box::pin(balance(members, inner, req))
    }
}

/// Not an `async fn`, which would hold its arguments twice in the
/// request's future (see `forward::forward`).
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice in its state"
)]
fn balance<S>(
    members: Arc<Members>,
    mut inner: S,
    req: Request<RequestBody>,
) -> impl Future<Output = Result<Response<ProxyBody>, std::convert::Infallible>>
where
    S: Service<Routed, Response = Response<ProxyBody>, Error = ForwardError>,
{
    async move {
        let mut pending = Some(req);
        let mut tried = 0u64;
        let mut last_was_connect = true;
        loop {
            let failovers = tried.count_ones();
            let exhausted = failovers > 0 && members.max_attempts.is_some_and(|m| failovers > m);
            let picked = if exhausted { None } else { members.pick(tried) };
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
                    svc.call(Routed {
                        member: member.clone(),
                        request: req,
                    })
                    .await
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(resp) => return Ok(resp),
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
