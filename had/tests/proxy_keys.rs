//! Every `[proxy.NAME]` key does what the README says: one test per key.
//!
//! Each test writes the key in had.toml text, loads and plans it as the
//! daemon does (`config::parse_str`, then `plan::from_config`), starts the
//! resulting `lb_proxy::ProxyConfig` on 127.0.0.1 in front of members the
//! test runs itself, and shows the key's effect: a limit rejects, a timeout
//! fires, a flag changes which member answers. Were the planner to drop the
//! key again, lb-proxy's default would apply and the test would fail.
//!
//! Every wait is bounded; the timeouts under test are a few hundred
//! milliseconds against defaults of seconds.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use lb_proxy::{MemberStatus, ProxyConfig, ProxyHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Longest wait for anything that should happen; the effects under test
/// come after a few hundred milliseconds, the defaults they replace after
/// seconds.
const BOUND: Duration = Duration::from_millis(2500);

// ---------------------------------------------------------------- the proxy

/// Proxies share the worker-thread names (`lb-proxy-N`), so the test that
/// counts them runs alone: it takes this lock for writing, every other
/// proxy holds it for reading.
static THREAD_NAMES: RwLock<()> = RwLock::new(());

/// A running proxy, holding [`THREAD_NAMES`] for reading while it runs.
struct Running {
    handle: ProxyHandle,
    _threads: RwLockReadGuard<'static, ()>,
}

impl std::ops::Deref for Running {
    type Target = ProxyHandle;
    fn deref(&self) -> &ProxyHandle {
        &self.handle
    }
}

impl Running {
    fn addr(&self) -> SocketAddr {
        self.handle.local_addrs()[0]
    }

    fn status(&self, member: usize) -> MemberStatus {
        self.handle.stats().members[member].status
    }
}

/// `[proxy.t]` with `listen = ["127.0.0.1:0"]` and `body`, loaded, validated
/// and planned the way the daemon does it. One worker unless `body` says.
fn planned(body: &str) -> ProxyConfig {
    let workers = if body.contains("workers") {
        ""
    } else {
        "workers = 1\n"
    };
    let text = format!("[proxy.t]\nlisten = [\"127.0.0.1:0\"]\n{workers}{body}");
    let loaded = had::config::parse_str(&text, "had.toml")
        .unwrap_or_else(|e| panic!("valid config:\n{text}\n{e}"));
    let plan = had::plan::from_config(&loaded).unwrap_or_else(|e| panic!("plan: {e}"));
    let [(name, config)] = <[_; 1]>::try_from(plan.proxies).expect("one proxy");
    assert_eq!(name, "t");
    config
}

/// Starts the proxy `body` describes.
fn start(body: &str) -> Running {
    let threads = THREAD_NAMES.read().unwrap_or_else(PoisonError::into_inner);
    Running {
        handle: ProxyHandle::start(planned(body)).expect("proxy starts"),
        _threads: threads,
    }
}

/// `members = [...]` with one plain entry per member.
fn members(ms: &[&Member]) -> String {
    let list: Vec<String> = ms
        .iter()
        .map(|m| format!("{{ url = \"{}\" }}", m.url()))
        .collect();
    format!("members = [{}]\n", list.join(", "))
}

// ---------------------------------------------------------------- members

/// A member's answer.
type Body = Full<Bytes>;

fn text(status: u16, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = StatusCode::from_u16(status).expect("status");
    r
}

/// An HTTP/1.1 member on 127.0.0.1; dropping it closes its listener and
/// every connection.
struct Member {
    addr: SocketAddr,
    /// Requests received.
    hits: Arc<AtomicUsize>,
    /// Connections accepted.
    conns: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Member {
    /// Stops the member and returns once its listener and every connection
    /// are closed.
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(BOUND, &mut self.task).await;
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn conns(&self) -> usize {
        self.conns.load(Ordering::SeqCst)
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A member on `addr` (port 0 = any) answering with `handler`.
async fn member_on<F, Fut>(addr: SocketAddr, handler: F) -> Member
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let listener = TcpListener::bind(addr).await.expect("bind member");
    let addr = listener.local_addr().expect("member address");
    let hits = Arc::new(AtomicUsize::new(0));
    let conns = Arc::new(AtomicUsize::new(0));
    let (hit, conn) = (hits.clone(), conns.clone());
    let (stop, mut stopped) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let mut open = JoinSet::new();
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => continue,
                },
                _ = &mut stopped => break,
            };
            conn.fetch_add(1, Ordering::SeqCst);
            let (handler, hit) = (handler.clone(), hit.clone());
            open.spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    hit.fetch_add(1, Ordering::SeqCst);
                    let answer = handler(req);
                    async move { Ok::<_, Infallible>(answer.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .with_upgrades()
                    .await;
            });
        }
        drop(listener);
        open.shutdown().await;
    });
    Member {
        addr,
        hits,
        conns,
        stop: Some(stop),
        task,
    }
}

/// A member on any port.
async fn member<F, Fut>(handler: F) -> Member
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    member_on(SocketAddr::from(([127, 0, 0, 1], 0)), handler).await
}

/// A member answering 200 with its name.
async fn named(name: &'static str) -> Member {
    member(move |_req| async move { text(200, name) }).await
}

/// A member answering `status` to everything.
async fn answering(status: u16) -> Member {
    member(move |_req| async move { text(status, "") }).await
}

/// A member that records each request's target and `Host`.
async fn recorder() -> (Member, Arc<Mutex<Vec<(String, String)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let m = member(move |req| {
        let log = log.clone();
        async move {
            let host = req
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            log.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((req.uri().to_string(), host));
            text(200, "recorded")
        }
    })
    .await;
    (m, seen)
}

/// An address nothing listens on (a connect is refused).
async fn dead_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    l.local_addr().expect("address")
}

/// A member that accepts connections and reads requests but never answers.
async fn silent() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let task = tokio::spawn(async move {
        let mut open = JoinSet::new();
        while let Ok((mut s, _)) = listener.accept().await {
            open.spawn(async move {
                let mut buf = [0u8; 4096];
                while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    (addr, task)
}

// ---------------------------------------------------------------- clients

/// A response as the client saw it.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn parse(raw: &[u8]) -> Option<Answer> {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = text.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some(Answer {
            status,
            head: head.to_ascii_lowercase(),
            body: body.to_owned(),
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}: ");
        self.head
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
    }
}

/// Sends `request` on a new connection and reads until the proxy closes
/// it; `None` if it does not within [`BOUND`].
async fn exchange(addr: SocketAddr, request: &[u8]) -> Option<Answer> {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    let mut raw = Vec::new();
    match tokio::time::timeout(BOUND, s.read_to_end(&mut raw)).await {
        Ok(Ok(_)) => Answer::parse(&raw),
        _ => None,
    }
}

/// `GET path` with `Host: front.test` and `Connection: close`.
async fn get(addr: SocketAddr, path: &str) -> Answer {
    let req = format!("GET {path} HTTP/1.1\r\nHost: front.test\r\nConnection: close\r\n\r\n");
    exchange(addr, req.as_bytes())
        .await
        .unwrap_or_else(|| panic!("GET {path}: no complete answer within {BOUND:?}"))
}

/// Reads one response with a `Content-Length` from a keep-alive connection.
async fn read_response(s: &mut TcpStream) -> Answer {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(a) = Answer::parse(&raw) {
            let len: usize = a
                .header("content-length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            if a.body.len() >= len {
                return a;
            }
        }
        let n = s.read(&mut buf).await.expect("read");
        assert!(
            n > 0,
            "closed mid-response: {:?}",
            String::from_utf8_lossy(&raw)
        );
        raw.extend_from_slice(&buf[..n]);
    }
}

/// Waits until `cond` holds, at most [`BOUND`].
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < BOUND, "{what}: not within {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// How many of `n` sequential requests each member name answered.
async fn tally(addr: SocketAddr, n: usize) -> std::collections::BTreeMap<String, usize> {
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..n {
        let a = get(addr, "/").await;
        assert_eq!(a.status, 200, "{a:?}");
        *seen.entry(a.body).or_default() += 1;
    }
    seen
}

// ---------------------------------------------------------------- routing

#[tokio::test]
async fn listen_is_where_the_proxy_serves() {
    let m = named("A").await;
    let proxy = start(&members(&[&m]));
    assert_eq!(proxy.addr().ip(), std::net::Ipv4Addr::LOCALHOST);
    assert_eq!(get(proxy.addr(), "/").await.body, "A");
}

#[tokio::test]
async fn path_serves_its_prefix_and_replaces_it_by_the_member_path() {
    let (m, seen) = recorder().await;
    let bare = start(&format!("path = \"/api\"\n{}", members(&[&m])));
    assert_eq!(get(bare.addr(), "/api/x").await.status, 200);
    assert_eq!(get(bare.addr(), "/other").await.status, 404);
    assert_eq!(get(bare.addr(), "/apix").await.status, 404);
    let prefixed = start(&format!(
        "path = \"/api\"\nmembers = [{{ url = \"{}/v1\" }}]\n",
        m.url()
    ));
    assert_eq!(get(prefixed.addr(), "/api/x").await.status, 200);
    let targets: Vec<String> = seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|(t, _)| t.clone())
        .collect();
    assert_eq!(targets, ["/x", "/v1/x"], "404s never reach the member");
}

#[tokio::test]
async fn preserve_host_forwards_the_clients_host() {
    let (m, seen) = recorder().await;
    let on = start(&format!("preserve_host = true\n{}", members(&[&m])));
    get(on.addr(), "/").await;
    let off = start(&members(&[&m]));
    get(off.addr(), "/").await;
    let hosts: Vec<String> = seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|(_, h)| h.clone())
        .collect();
    assert_eq!(hosts, ["front.test".to_owned(), m.addr.to_string()]);
}

#[tokio::test]
async fn pass_reverse_rewrites_a_member_redirect_to_the_front() {
    let m = member(|req| async move {
        let own = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Response::builder()
            .status(302)
            .header("location", format!("http://{own}/login"))
            .body(Full::new(Bytes::new()))
            .expect("response")
    })
    .await;
    let on = start(&format!("pass_reverse = true\n{}", members(&[&m])));
    let a = get(on.addr(), "/").await;
    assert_eq!(a.status, 302);
    assert_eq!(a.header("location"), Some("http://front.test/login"));
    let off = start(&members(&[&m]));
    let b = get(off.addr(), "/").await;
    assert_eq!(
        b.header("location"),
        Some(format!("{}/login", m.url()).as_str())
    );
}

// ---------------------------------------------------------------- balancing

/// A member that holds `/slow` for a second and answers its name.
async fn slow_on_demand(name: &'static str) -> Member {
    member(move |req| async move {
        if req.uri().path() == "/slow" {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        text(200, name)
    })
    .await
}

/// While one member holds a slow request, how the next four are spread.
async fn spread_while_one_is_busy(lbmethod: &str) -> (usize, usize) {
    let (a, b) = (slow_on_demand("A").await, slow_on_demand("B").await);
    let proxy = start(&format!(
        "lbmethod = \"{lbmethod}\"\n{}",
        members(&[&a, &b])
    ));
    let addr = proxy.addr();
    let slow = tokio::spawn(async move { get(addr, "/slow").await.body });
    eventually("the slow request reaches a member", || {
        a.hits() + b.hits() == 1
    })
    .await;
    let busy = if a.hits() == 1 { "A" } else { "B" };
    let fast = tally(addr, 4).await;
    assert_eq!(slow.await.ok().as_deref(), Some(busy));
    let to_busy = fast.get(busy).copied().unwrap_or(0);
    (to_busy, 4 - to_busy)
}

#[tokio::test]
async fn lbmethod_bybusyness_avoids_the_busy_member() {
    assert_eq!(spread_while_one_is_busy("bybusyness").await, (0, 4));
    // byrequests keeps its rotation, busy or not.
    assert_eq!(spread_while_one_is_busy("byrequests").await, (2, 2));
}

#[tokio::test]
async fn loadfactor_weights_the_rotation() {
    let (a, b) = (named("A").await, named("B").await);
    let proxy = start(&format!(
        "members = [{{ url = \"{}\", loadfactor = 3 }}, {{ url = \"{}\" }}]\n",
        a.url(),
        b.url()
    ));
    let seen = tally(proxy.addr(), 8).await;
    assert_eq!((seen.get("A"), seen.get("B")), (Some(&6), Some(&2)));
}

#[tokio::test]
async fn member_status_h_is_a_hot_standby_and_d_is_disabled() {
    let (a, b, c) = (named("A").await, named("B").await, named("C").await);
    let proxy = start(&format!(
        "members = [{{ url = \"{}\" }}, {{ url = \"{}\", status = \"+H\" }}, \
         {{ url = \"{}\", status = \"+D\" }}]\n",
        a.url(),
        b.url(),
        c.url()
    ));
    let seen = tally(proxy.addr(), 6).await;
    assert_eq!(seen.get("A"), Some(&6), "{seen:?}");
    assert_eq!(proxy.status(2), MemberStatus::Disabled);
    a.stop().await;
    // With A gone the hot standby serves; the disabled member still not.
    let seen = tally(proxy.addr(), 4).await;
    assert_eq!(seen.get("B"), Some(&4), "{seen:?}");
    assert_eq!(c.hits(), 0);
}

#[tokio::test]
async fn maxattempts_0_answers_503_instead_of_failing_over() {
    let dead = dead_addr().await;
    let live = named("live").await;
    let list = format!(
        "members = [{{ url = \"http://{dead}\" }}, {{ url = \"{}\" }}]\n",
        live.url()
    );
    // byrequests sends the first request to the first (dead) member.
    let none = start(&format!("maxattempts = 0\n{list}"));
    assert_eq!(get(none.addr(), "/").await.status, 503);
    let default = start(&list);
    assert_eq!(get(default.addr(), "/").await.body, "live");
}

/// A dead first member, a live second one; the first request fails over
/// and puts the first member in error. The first member then comes to
/// life: how many of the next four requests it gets after `wait`.
async fn back_after(settings: &str, member_settings: &str, wait: Duration) -> usize {
    let dead = dead_addr().await;
    let live = named("live").await;
    let proxy = start(&format!(
        "{settings}\nmembers = [{{ url = \"http://{dead}\" {member_settings} }}, {{ url = \"{}\" }}]\n",
        live.url()
    ));
    assert_eq!(get(proxy.addr(), "/").await.body, "live");
    assert_eq!(proxy.status(0), MemberStatus::Error);
    let revived = member_on(dead, |_req| async { text(200, "revived") }).await;
    tokio::time::sleep(wait).await;
    tally(proxy.addr(), 4).await;
    revived.hits()
}

#[tokio::test]
async fn retry_is_how_long_a_failed_member_stays_out() {
    let wait = Duration::from_millis(500);
    assert!(back_after("retry = \"200ms\"", "", wait).await > 0);
    assert_eq!(back_after("retry = \"1h\"", "", wait).await, 0);
}

#[tokio::test]
async fn member_retry_overrides_the_proxys() {
    let wait = Duration::from_millis(500);
    assert!(back_after("retry = \"1h\"", ", retry = \"200ms\"", wait).await > 0);
}

#[tokio::test]
async fn max_connections_holds_extra_clients_back() {
    let m = named("A").await;
    let proxy = start(&format!("max_connections = 1\n{}", members(&[&m])));
    let request = b"GET / HTTP/1.1\r\nHost: front.test\r\n\r\n";
    let mut first = TcpStream::connect(proxy.addr()).await.expect("connect");
    first.write_all(request).await.expect("write");
    assert_eq!(read_response(&mut first).await.status, 200);
    // The kernel completes the second handshake; the proxy does not serve it.
    let mut second = TcpStream::connect(proxy.addr()).await.expect("connect");
    second.write_all(request).await.expect("write");
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(300), second.read(&mut byte)).await;
    assert!(early.is_err(), "the second client waits: {early:?}");
    drop(first);
    let answer = tokio::time::timeout(BOUND, read_response(&mut second))
        .await
        .expect("served once the first client left");
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn access_log_writes_a_combined_line_per_request() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("access.log");
    let m = named("A").await;
    let proxy = start(&format!(
        "access_log = \"{}\"\n{}",
        log.display(),
        members(&[&m])
    ));
    assert_eq!(get(proxy.addr(), "/logged?x=1").await.status, 200);
    drop(proxy);
    let line = "\"GET /logged?x=1 HTTP/1.1\" 200";
    eventually("the access log line", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains(line))
    })
    .await;
}

// ---------------------------------------------------------------- limits

/// A request for `/` with `fields` extra header fields of `value_len` bytes.
fn request_with_fields(fields: usize, value_len: usize) -> Vec<u8> {
    let mut req = String::from("GET / HTTP/1.1\r\nHost: front.test\r\nConnection: close\r\n");
    for i in 0..fields {
        req.push_str(&format!("X-F{i}: {}\r\n", "v".repeat(value_len)));
    }
    req.push_str("\r\n");
    req.into_bytes()
}

async fn status_of(addr: SocketAddr, request: &[u8]) -> u16 {
    exchange(addr, request).await.map_or(0, |a| a.status)
}

#[tokio::test]
async fn limit_request_fields_answers_431_beyond_it() {
    let m = named("A").await;
    let proxy = start(&format!("limit_request_fields = 10\n{}", members(&[&m])));
    // Host and Connection count: 2 + 3 fits, 2 + 18 does not.
    assert_eq!(
        status_of(proxy.addr(), &request_with_fields(3, 1)).await,
        200
    );
    assert_eq!(
        status_of(proxy.addr(), &request_with_fields(18, 1)).await,
        431
    );
    assert_eq!(m.hits(), 1);
}

#[tokio::test]
async fn limit_request_field_size_answers_431_beyond_it() {
    let m = named("A").await;
    let proxy = start(&format!(
        "limit_request_field_size = 100\n{}",
        members(&[&m])
    ));
    assert_eq!(
        status_of(proxy.addr(), &request_with_fields(1, 50)).await,
        200
    );
    assert_eq!(
        status_of(proxy.addr(), &request_with_fields(1, 500)).await,
        431
    );
    assert_eq!(m.hits(), 1);
}

#[tokio::test]
async fn limit_request_line_answers_414_beyond_it() {
    let m = named("A").await;
    let proxy = start(&format!("limit_request_line = 100\n{}", members(&[&m])));
    let line = |target_len: usize| {
        format!(
            "GET /{} HTTP/1.1\r\nHost: front.test\r\nConnection: close\r\n\r\n",
            "a".repeat(target_len)
        )
    };
    assert_eq!(status_of(proxy.addr(), line(50).as_bytes()).await, 200);
    assert_eq!(status_of(proxy.addr(), line(200).as_bytes()).await, 414);
    assert_eq!(m.hits(), 1);
}

// ---------------------------------------------------------------- timeouts

/// How long until the proxy answers (or closes) `request`, and the status.
async fn timed(addr: SocketAddr, request: &[u8]) -> (Duration, Option<u16>) {
    let t0 = Instant::now();
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    let mut raw = Vec::new();
    let done = tokio::time::timeout(BOUND, s.read_to_end(&mut raw)).await;
    assert!(
        matches!(done, Ok(Ok(_))),
        "no answer and no close within {BOUND:?}: {:?}",
        String::from_utf8_lossy(&raw)
    );
    (t0.elapsed(), Answer::parse(&raw).map(|a| a.status))
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: front.test\r\nConnection: close\r\n\r\n";

/// At least the configured 300 ms, well before lb-proxy's defaults.
fn about_300ms(took: Duration) {
    assert!(
        (Duration::from_millis(250)..BOUND).contains(&took),
        "took {took:?}"
    );
}

#[tokio::test]
async fn timeout_answers_504_when_a_member_does_not_answer() {
    let (addr, _task) = silent().await;
    let proxy = start(&format!(
        "timeout = \"300ms\"\nmembers = [{{ url = \"http://{addr}\" }}]\n"
    ));
    let (took, status) = timed(proxy.addr(), GET).await;
    assert_eq!(status, Some(504));
    about_300ms(took);
}

#[tokio::test]
async fn member_timeout_answers_504_from_that_member() {
    let (addr, _task) = silent().await;
    let proxy = start(&format!(
        "members = [{{ url = \"http://{addr}\", timeout = \"300ms\" }}]\n"
    ));
    let (took, status) = timed(proxy.addr(), GET).await;
    assert_eq!(status, Some(504));
    about_300ms(took);
}

#[tokio::test]
async fn connect_timeout_gives_up_on_a_member_that_does_not_accept() {
    // A listener with a backlog of 0 that never accepts: once one
    // connection waits in its queue, the kernel drops further SYNs, so a
    // connect neither succeeds nor is refused.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("bind");
    let full = socket.listen(0).expect("listen");
    let addr = full.local_addr().expect("address");
    let mut queued = Vec::new();
    for _ in 0..2 {
        if let Ok(Ok(s)) =
            tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await
        {
            queued.push(s);
        }
    }
    assert!(!queued.is_empty(), "one connection fills the queue");
    let proxy = start(&format!(
        "connect_timeout = \"300ms\"\nmembers = [{{ url = \"http://{addr}\" }}]\n"
    ));
    let (took, status) = timed(proxy.addr(), GET).await;
    assert_eq!(status, Some(503));
    about_300ms(took);
}

#[tokio::test]
async fn header_read_timeout_closes_a_client_that_sends_half_a_head() {
    let m = named("A").await;
    let proxy = start(&format!(
        "header_read_timeout = \"300ms\"\n{}",
        members(&[&m])
    ));
    let (took, status) = timed(proxy.addr(), b"GET / HTTP/1.1\r\nHost: front.test\r\n").await;
    assert_ne!(status, Some(200));
    about_300ms(took);
    assert_eq!(m.hits(), 0);
}

#[tokio::test]
async fn body_read_timeout_answers_408_to_a_stalled_body() {
    let m = named("A").await;
    let proxy = start(&format!(
        "body_read_timeout = \"300ms\"\n{}",
        members(&[&m])
    ));
    let (took, status) = timed(
        proxy.addr(),
        b"POST / HTTP/1.1\r\nHost: front.test\r\nContent-Length: 10\r\n\r\nabc",
    )
    .await;
    assert_eq!(status, Some(408));
    about_300ms(took);
    assert_eq!(m.hits(), 0);
}

/// A client that asks for 32 MiB and reads none of it: bytes it gets once
/// it starts reading a second later, and whether the proxy closed it.
async fn stalled_download(settings: &str) -> (usize, bool) {
    const BIG: usize = 32 << 20;
    let m = member(|_req| async { text(200, vec![b'x'; BIG]) }).await;
    let proxy = start(&format!("{settings}\n{}", members(&[&m])));
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let mut s = socket.connect(proxy.addr()).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: front.test\r\n\r\n")
        .await
        .expect("send");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0;
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return (got, false),
            Ok(Ok(0) | Err(_)) => return (got, true),
            Ok(Ok(n)) => {
                got += n;
                if got > BIG {
                    // The whole answer (head and body) came: the proxy
                    // waited for the client.
                    return (got, false);
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_timeout_closes_a_client_that_stops_reading() {
    let (got, closed) = stalled_download("send_timeout = \"300ms\"").await;
    assert!(
        closed && got < 32 << 20,
        "got {got} bytes, closed: {closed}"
    );
    // lb-proxy's 60 s default waits for a client one second behind.
    let (got, closed) = stalled_download("").await;
    assert!(
        !closed && got > 32 << 20,
        "got {got} bytes, closed: {closed}"
    );
}

/// Two requests 500 ms apart: how many connections the member saw.
async fn member_connections_for_two_requests(settings: &str) -> usize {
    let m = named("A").await;
    let proxy = start(&format!("{settings}\n{}", members(&[&m])));
    assert_eq!(get(proxy.addr(), "/").await.status, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(get(proxy.addr(), "/").await.status, 200);
    m.conns()
}

#[tokio::test]
async fn pool_idle_timeout_retires_an_idle_member_connection() {
    assert_eq!(
        member_connections_for_two_requests("pool_idle_timeout = \"200ms\"").await,
        2
    );
    // lb-proxy's 4 s default keeps the first connection for the second request.
    assert_eq!(member_connections_for_two_requests("").await, 1);
}

#[tokio::test]
async fn tunnel_idle_timeout_closes_an_idle_upgraded_connection() {
    let m = member(|mut req| async move {
        let upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(up) = upgrade.await {
                let mut io = TokioIo::new(up);
                let mut buf = [0u8; 1024];
                while let Ok(n) = io.read(&mut buf).await {
                    if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        });
        Response::builder()
            .status(101)
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .body(Full::new(Bytes::new()))
            .expect("response")
    })
    .await;
    let proxy = start(&format!(
        "tunnel_idle_timeout = \"300ms\"\n{}",
        members(&[&m])
    ));
    let mut s = TcpStream::connect(proxy.addr()).await.expect("connect");
    s.write_all(
        b"GET /chat HTTP/1.1\r\nHost: front.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    )
    .await
    .expect("write");
    let head = tokio::time::timeout(BOUND, read_response(&mut s))
        .await
        .expect("101 in time");
    assert_eq!(head.status, 101);
    s.write_all(b"ping").await.expect("write");
    let mut echo = [0u8; 4];
    tokio::time::timeout(BOUND, s.read_exact(&mut echo))
        .await
        .expect("echo in time")
        .expect("echo");
    assert_eq!(&echo, b"ping");
    let t0 = Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(BOUND, s.read_to_end(&mut rest)).await;
    assert!(matches!(closed, Ok(Ok(0))), "closed when idle: {closed:?}");
    about_300ms(t0.elapsed());
}

// ---------------------------------------------------------------- health checks

/// A proxy over `m` with `health_check = { check }`.
fn checked(m: &Member, check: &str) -> Running {
    start(&format!(
        "health_check = {{ interval = \"50ms\", {check} }}\n{}",
        members(&[m])
    ))
}

/// Waits for `n` more checks (requests or connections, per `count`) and
/// returns the member's status then.
async fn status_after(proxy: &Running, count: impl Fn() -> usize, n: usize) -> MemberStatus {
    let start = count();
    eventually("health checks arrive", || count() >= start + n).await;
    proxy.status(0)
}

#[tokio::test]
async fn health_check_expect_status_is_the_healthy_answer() {
    let m = answering(204).await;
    let ok = checked(&m, "expect_status = 204");
    assert_eq!(status_after(&ok, || m.hits(), 3).await, MemberStatus::Up);
    // With the default 200, the same member is out.
    let strict = checked(&m, "fails = 1");
    eventually("member out", || {
        strict.status(0) == MemberStatus::HealthFailed
    })
    .await;
}

#[tokio::test]
async fn health_check_uri_is_the_path_checked() {
    let m = member(|req| async move {
        text(
            if req.uri().path() == "/healthz" {
                200
            } else {
                404
            },
            "",
        )
    })
    .await;
    let ok = checked(&m, "uri = \"/healthz\"");
    assert_eq!(status_after(&ok, || m.hits(), 3).await, MemberStatus::Up);
    let root = checked(&m, "fails = 1");
    eventually("member out", || {
        root.status(0) == MemberStatus::HealthFailed
    })
    .await;
}

#[tokio::test]
async fn health_check_method_tcp_connects_and_head_asks() {
    let m = answering(500).await;
    let tcp = checked(&m, "method = \"TCP\"");
    assert_eq!(status_after(&tcp, || m.conns(), 3).await, MemberStatus::Up);
    assert_eq!(m.hits(), 0, "a TCP check sends no request");
    drop(tcp);
    let methods = Arc::new(Mutex::new(Vec::new()));
    let seen = methods.clone();
    let h = member(move |req| {
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(req.method().clone());
        async { text(200, "") }
    })
    .await;
    let head = checked(&h, "method = \"HEAD\"");
    assert_eq!(status_after(&head, || h.hits(), 2).await, MemberStatus::Up);
    let methods = methods.lock().unwrap_or_else(PoisonError::into_inner);
    assert!(
        methods.iter().all(|m| m == http::Method::HEAD),
        "{methods:?}"
    );
}

#[tokio::test]
async fn health_check_interval_sets_the_pace() {
    let checks_in_600ms = |interval: &'static str| async move {
        let m = answering(200).await;
        let _proxy = start(&format!(
            "health_check = {{ interval = \"{interval}\" }}\n{}",
            members(&[&m])
        ));
        tokio::time::sleep(Duration::from_millis(600)).await;
        m.hits()
    };
    assert!(checks_in_600ms("50ms").await >= 4);
    // The first check is at start; the next one an hour later.
    assert_eq!(checks_in_600ms("1h").await, 1);
}

#[tokio::test]
async fn health_check_timeout_fails_a_slow_answer() {
    let m = member(|_req| async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        text(200, "")
    })
    .await;
    let patient = checked(&m, "timeout = \"2s\"");
    assert_eq!(
        status_after(&patient, || m.hits(), 2).await,
        MemberStatus::Up
    );
    let hasty = checked(&m, "timeout = \"100ms\"");
    eventually("member out", || {
        hasty.status(0) == MemberStatus::HealthFailed
    })
    .await;
}

#[tokio::test]
async fn health_check_fails_is_the_failures_that_take_a_member_out() {
    let m = answering(500).await;
    let tolerant = checked(&m, "fails = 1000");
    assert_eq!(
        status_after(&tolerant, || m.hits(), 4).await,
        MemberStatus::Up
    );
    let strict = checked(&m, "fails = 1");
    eventually("member out", || {
        strict.status(0) == MemberStatus::HealthFailed
    })
    .await;
}

#[tokio::test]
async fn health_check_passes_is_the_passes_that_bring_a_member_back() {
    let healthy = Arc::new(AtomicBool::new(false));
    let state = healthy.clone();
    let m = member(move |_req| {
        let ok = state.load(Ordering::SeqCst);
        async move { text(if ok { 200 } else { 500 }, "") }
    })
    .await;
    let slow_back = checked(&m, "passes = 1000");
    let quick_back = checked(&m, "passes = 1");
    eventually("both out", || {
        slow_back.status(0) == MemberStatus::HealthFailed
            && quick_back.status(0) == MemberStatus::HealthFailed
    })
    .await;
    healthy.store(true, Ordering::SeqCst);
    eventually("back after one pass", || {
        quick_back.status(0) == MemberStatus::Up
    })
    .await;
    assert_eq!(
        status_after(&slow_back, || m.hits(), 4).await,
        MemberStatus::HealthFailed
    );
}

// ---------------------------------------------------------------- workers

/// Threads of this process named `lb-proxy-N` (lb-proxy's workers).
fn proxy_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .filter(|name| {
            name.trim_end()
                .strip_prefix("lb-proxy-")
                .is_some_and(|n| n.parse::<usize>().is_ok())
        })
        .count()
}

#[test]
fn workers_is_the_number_of_worker_threads() {
    // Alone: no other proxy's `lb-proxy-N` threads while this one counts.
    let _alone = THREAD_NAMES.write().unwrap_or_else(PoisonError::into_inner);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let m = named("A").await;
        for n in [1, 3] {
            // Workers of proxies stopped before this one finish on their own.
            eventually("earlier proxies' workers gone", || proxy_threads() == 0).await;
            let proxy = ProxyHandle::start(planned(&format!("workers = {n}\n{}", members(&[&m]))))
                .expect("proxy starts");
            assert_eq!(proxy_threads(), n);
            assert_eq!(get(proxy.local_addrs()[0], "/").await.body, "A");
            drop(proxy);
        }
    });
}

// ---------------------------------------------------------------- refused

#[tokio::test]
async fn error_log_is_refused_with_its_reason() {
    let err = had::config::parse_str(
        "[proxy.web]\nlisten = [\"127.0.0.1:0\"]\nmembers = [{ url = \"http://127.0.0.1:1\" }]\n\
         error_log = \"/var/log/had/error.log\"\n",
        "had.toml",
    )
    .expect_err("refused");
    assert_eq!(
        err.errors(),
        [
            "had.toml:4: proxy.web.error_log: not supported: had keeps no per-proxy error log, \
          proxy errors go to the daemon's log (stderr, journald); remove the key"
        ]
    );
}
