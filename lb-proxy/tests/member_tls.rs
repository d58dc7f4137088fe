//! Member schemes: `https://` and `wss://` members behind the proxy (real
//! rustls servers on 127.0.0.1 whose CA and certificates rcgen makes at test
//! time; no private key is ever written to disk, only the CA's certificate
//! goes to a temporary `member_tls.ca_file`), `ws://` members, and the
//! schemes had refuses.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Conn, TestBody, full, member};
use http::{Request, Response};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use lb_proxy::config::MemberTls;
use lb_proxy::{
    Error, HealthCheckConfig, HealthCheckKind, MemberConfig, MemberStatus, ProxyConfig, ProxyHandle,
};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// A certificate authority made for one test.
struct Ca {
    cert: CertificateDer<'static>,
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("CA certificate");
        Self {
            cert: cert.der().clone(),
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf certificate for `names` (DNS names or IP addresses), with its chain and key.
    fn leaf(&self, names: &[&str]) -> Leaf {
        let key = KeyPair::generate().expect("leaf key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let cert = CertificateParams::new(names)
            .expect("leaf params")
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        Leaf {
            chain: vec![cert.der().clone(), self.cert.clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        }
    }

    /// The CA's certificate in a PEM file under `dir`.
    fn file(&self, dir: &tempfile::TempDir) -> PathBuf {
        let path = dir.path().join(format!("ca-{}.pem", rand_suffix()));
        std::fs::write(&path, &self.pem).expect("write CA file");
        path
    }
}

fn rand_suffix() -> usize {
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A member's certificate chain and key.
struct Leaf {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

/// A member served over TLS.
struct TlsMember {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    /// TCP connections accepted.
    conns: Arc<AtomicUsize>,
    /// The SNI of each completed handshake.
    names: Arc<Mutex<Vec<Option<String>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsMember {
    fn url(&self, scheme: &str, host: &str) -> String {
        format!("{scheme}://{host}:{}", self.addr.port())
    }

    fn names(&self) -> Vec<Option<String>> {
        self.names.lock().expect("names").clone()
    }
}

impl Drop for TlsMember {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a TLS member presenting `leaf` and answering with `handler`.
async fn tls_member<F, Fut>(leaf: Leaf, handler: F) -> TlsMember
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<TestBody>> + Send + 'static,
{
    tls_member_closing_idle(leaf, None, handler).await
}

/// The same, closing a connection that waits `idle` for its next request.
async fn tls_member_closing_idle<F, Fut>(
    leaf: Leaf,
    idle: Option<Duration>,
    handler: F,
) -> TlsMember
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<TestBody>> + Send + 'static,
{
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(leaf.chain, leaf.key)
    .expect("server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind member");
    let addr = listener.local_addr().expect("member addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let conns = Arc::new(AtomicUsize::new(0));
    let names = Arc::new(Mutex::new(Vec::new()));
    let (counter, conn_counter, seen) = (hits.clone(), conns.clone(), names.clone());
    let task = tokio::spawn(async move {
        let mut tasks = JoinSet::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            conn_counter.fetch_add(1, Ordering::SeqCst);
            let (acceptor, handler, counter, seen) = (
                acceptor.clone(),
                handler.clone(),
                counter.clone(),
                seen.clone(),
            );
            tasks.spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                seen.lock()
                    .expect("names")
                    .push(tls.get_ref().1.server_name().map(str::to_owned));
                let svc = hyper::service::service_fn(move |req| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let fut = handler(req);
                    async move { Ok::<_, std::convert::Infallible>(fut.await) }
                });
                let mut server = hyper::server::conn::http1::Builder::new();
                if let Some(idle) = idle {
                    server
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(idle);
                }
                let _ = server
                    .serve_connection(TokioIo::new(tls), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
    TlsMember {
        addr,
        hits,
        conns,
        names,
        task,
    }
}

/// `GET /` answers "hello"; `POST /echo` collects the body and sends it
/// back in 16 KiB frames (chunked, no length).
async fn hello_or_echo(req: Request<Incoming>) -> Response<TestBody> {
    if req.method() != http::Method::POST {
        return Response::new(full("hello"));
    }
    let body = req
        .into_body()
        .collect()
        .await
        .expect("request body")
        .to_bytes();
    let frames: Vec<Result<Frame<Bytes>, hyper::Error>> = body
        .chunks(16 * 1024)
        .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    Response::new(StreamBody::new(futures_util::stream::iter(frames)).boxed())
}

/// Answers a WebSocket upgrade with 101 and echoes what follows; anything
/// else with "plain".
async fn websocket_echo(mut req: Request<Incoming>) -> Response<TestBody> {
    if req.headers().get("upgrade").and_then(|v| v.to_str().ok()) != Some("websocket") {
        return Response::new(full("plain"));
    }
    let on = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        if let Ok(up) = on.await {
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
        .header("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        .body(full(""))
        .expect("response")
}

/// A proxy config with one member at `url` and `tls`.
fn config(url: &str, tls: MemberTls) -> ProxyConfig {
    ProxyConfig {
        listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        members: vec![MemberConfig::new(url)],
        workers: Some(2),
        member_tls: tls,
        ..ProxyConfig::default()
    }
}

fn trusting(ca_file: PathBuf) -> MemberTls {
    MemberTls {
        ca_file: Some(ca_file),
        verify: true,
    }
}

fn start(cfg: ProxyConfig) -> ProxyHandle {
    ProxyHandle::start(cfg).expect("proxy starts")
}

fn proxy_addr(proxy: &ProxyHandle) -> SocketAddr {
    proxy.local_addrs()[0]
}

fn status_of(proxy: &ProxyHandle) -> MemberStatus {
    proxy.stats().members[0].status
}

/// Warnings and errors logged by the proxy, for the whole test binary.
fn logged() -> &'static Mutex<Vec<u8>> {
    static LOG: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || Capture(log))
            .try_init();
        log
    })
}

struct Capture(&'static Mutex<Vec<u8>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Waits up to 5 s for `done`.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    done()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_member_serves_get_and_a_streamed_post_over_one_pooled_connection() {
    let ca = Ca::new("had test CA");
    let dir = tempfile::tempdir().expect("tempdir");
    let m = tls_member(ca.leaf(&["localhost"]), hello_or_echo).await;
    let proxy = start(config(
        &m.url("https", "localhost"),
        trusting(ca.file(&dir)),
    ));
    let mut c = Conn::open(proxy_addr(&proxy)).await;
    for _ in 0..5 {
        let (resp, body) = c.get("/").await;
        assert_eq!((resp.status().as_u16(), &body[..]), (200, &b"hello"[..]));
    }
    // 1 MiB in 64 frames without a length: chunked to the member, and
    // chunked back from it.
    let sent: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let frames: Vec<Result<Frame<Bytes>, hyper::Error>> = sent
        .chunks(16 * 1024)
        .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    let req = Request::post("/echo")
        .header("host", "front.test")
        .body(StreamBody::new(futures_util::stream::iter(frames)).boxed())
        .expect("request");
    let (resp, body) = c.send(req).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("content-length").is_none());
    assert!(body[..] == sent[..], "echo differs: {} bytes", body.len());
    let (resp, body) = c.get("/").await;
    assert_eq!((resp.status().as_u16(), &body[..]), (200, &b"hello"[..]));
    // One client connection is served by one worker, whose pool kept the
    // one member connection.
    assert_eq!(m.hits.load(Ordering::SeqCst), 7);
    assert_eq!(m.conns.load(Ordering::SeqCst), 1);
    // SNI is the URL's host name.
    assert_eq!(m.names(), vec![Some("localhost".to_owned())]);
    assert_eq!(status_of(&proxy), MemberStatus::Up);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_tls_connection_the_member_closed_is_not_reused() {
    let ca = Ca::new("had test CA");
    let dir = tempfile::tempdir().expect("tempdir");
    let m = tls_member_closing_idle(
        ca.leaf(&["localhost"]),
        Some(Duration::from_millis(200)),
        hello_or_echo,
    )
    .await;
    let proxy = start(config(
        &m.url("https", "localhost"),
        trusting(ca.file(&dir)),
    ));
    let mut c = Conn::open(proxy_addr(&proxy)).await;
    assert_eq!(c.get("/").await.0.status(), 200);
    tokio::time::sleep(Duration::from_millis(600)).await;
    // A POST with a streamed body is never resent: had the closed pooled
    // connection been taken, it would have failed.
    let frames: Vec<Result<Frame<Bytes>, hyper::Error>> = (0..3)
        .map(|_| Ok(Frame::data(Bytes::from_static(b"one,"))))
        .collect();
    let req = Request::post("/echo")
        .header("host", "front.test")
        .body(StreamBody::new(futures_util::stream::iter(frames)).boxed())
        .expect("request");
    let (resp, body) = c.send(req).await;
    assert_eq!(
        (resp.status().as_u16(), &body[..]),
        (200, &b"one,one,one,"[..])
    );
    assert_eq!(m.conns.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ip_address_url_sends_no_sni_and_needs_the_address_in_the_certificate() {
    let ca = Ca::new("had test CA");
    let dir = tempfile::tempdir().expect("tempdir");
    let m = tls_member(ca.leaf(&["127.0.0.1"]), hello_or_echo).await;
    let proxy = start(config(
        &m.url("https", "127.0.0.1"),
        trusting(ca.file(&dir)),
    ));
    let mut c = Conn::open(proxy_addr(&proxy)).await;
    let (resp, body) = c.get("/").await;
    assert_eq!((resp.status().as_u16(), &body[..]), (200, &b"hello"[..]));
    // RFC 6066 §3: SNI carries host names only.
    assert_eq!(m.names(), vec![None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_signed_by_an_unknown_ca_is_refused_and_put_in_error() {
    let ca = Ca::new("had test CA");
    let other = Ca::new("another CA");
    let dir = tempfile::tempdir().expect("tempdir");
    let m = tls_member(ca.leaf(&["localhost"]), hello_or_echo).await;
    let url = m.url("https", "localhost");
    // Against the configured CA file, and against the system's trust store.
    for tls in [trusting(other.file(&dir)), MemberTls::default()] {
        let proxy = start(config(&url, tls));
        let mut c = Conn::open(proxy_addr(&proxy)).await;
        let (resp, _) = c.get("/").await;
        assert_eq!(resp.status(), 503);
        assert_eq!(status_of(&proxy), MemberStatus::Error);
    }
    assert_eq!(m.hits.load(Ordering::SeqCst), 0, "never served unverified");
    assert_eq!(m.names().len(), 0, "no handshake completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_host_name_is_refused() {
    let ca = Ca::new("had test CA");
    let dir = tempfile::tempdir().expect("tempdir");
    let m = tls_member(ca.leaf(&["other.test"]), hello_or_echo).await;
    let proxy = start(config(
        &m.url("https", "localhost"),
        trusting(ca.file(&dir)),
    ));
    let mut c = Conn::open(proxy_addr(&proxy)).await;
    let (resp, _) = c.get("/").await;
    assert_eq!(resp.status(), 503);
    assert_eq!(status_of(&proxy), MemberStatus::Error);
    assert_eq!(m.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_verification_off_any_certificate_is_accepted_with_a_warning() {
    let log = logged();
    let ca = Ca::new("had test CA");
    let m = tls_member(ca.leaf(&["other.test"]), hello_or_echo).await;
    let url = m.url("https", "localhost");
    let off = MemberTls {
        ca_file: None,
        verify: false,
    };
    let proxy = start(config(&url, off));
    let mut c = Conn::open(proxy_addr(&proxy)).await;
    let (resp, body) = c.get("/").await;
    assert_eq!((resp.status().as_u16(), &body[..]), (200, &b"hello"[..]));
    let text = String::from_utf8_lossy(&log.lock().expect("log")).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains(&url))
        .unwrap_or_else(|| panic!("no warning names {url}: {text}"));
    assert!(
        line.contains("WARN") && line.contains("verification is off"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_applies_new_member_tls_settings() {
    let ca = Ca::new("had test CA");
    let other = Ca::new("another CA");
    let dir = tempfile::tempdir().expect("tempdir");
    let m = tls_member(ca.leaf(&["localhost"]), hello_or_echo).await;
    let mut cfg = config(&m.url("https", "localhost"), trusting(other.file(&dir)));
    cfg.retry = Duration::from_millis(50);
    let proxy = start(cfg.clone());
    let mut c = Conn::open(proxy_addr(&proxy)).await;
    assert_eq!(c.get("/").await.0.status(), 503);
    cfg.member_tls = trusting(ca.file(&dir));
    proxy.reload(&cfg).expect("reload");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (resp, body) = c.get("/").await;
    assert_eq!((resp.status().as_u16(), &body[..]), (200, &b"hello"[..]));
}

/// Sends a WebSocket upgrade through the proxy at `addr`, expects the 101,
/// then echoes a frame three times; the stream is returned open.
async fn websocket_through(addr: SocketAddr) -> tokio::net::TcpStream {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(
        b"GET /chat HTTP/1.1\r\nHost: front.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tokio::time::timeout(Duration::from_secs(3), s.read_exact(&mut byte))
            .await
            .expect("101 in time")
            .expect("read");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    // A masked text frame "Hello" (RFC 6455 §5.7), echoed byte for byte.
    let frame = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    for _ in 0..3 {
        s.write_all(&frame).await.expect("write frame");
        let mut back = [0u8; 11];
        tokio::time::timeout(Duration::from_secs(3), s.read_exact(&mut back))
            .await
            .expect("echo in time")
            .expect("read");
        assert_eq!(back, frame);
    }
    // A larger message, more than one TLS record each way.
    let big: Vec<u8> = (0..100_000).map(|i| (i % 253) as u8).collect();
    s.write_all(&big).await.expect("write big");
    let mut back = vec![0u8; big.len()];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut back))
        .await
        .expect("big echo in time")
        .expect("read");
    assert!(back == big, "big echo differs");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wss_member_tunnels_a_websocket_over_tls() {
    let ca = Ca::new("had test CA");
    let dir = tempfile::tempdir().expect("tempdir");
    let m = tls_member(ca.leaf(&["localhost"]), websocket_echo).await;
    let proxy = start(config(&m.url("wss", "localhost"), trusting(ca.file(&dir))));
    let s = websocket_through(proxy_addr(&proxy)).await;
    drop(s);
    assert_eq!(m.names(), vec![Some("localhost".to_owned())]);
    // A plain request to a wss member is HTTP over TLS.
    let mut c = Conn::open(proxy_addr(&proxy)).await;
    let (resp, body) = c.get("/").await;
    assert_eq!((resp.status().as_u16(), &body[..]), (200, &b"plain"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ws_member_tunnels_a_websocket_in_plain_text() {
    let m = member(websocket_echo).await;
    let url = format!("ws://{}", m.addr);
    let proxy = start(config(&url, MemberTls::default()));
    let s = websocket_through(proxy_addr(&proxy)).await;
    drop(s);
    assert_eq!(m.hits(), 1);
}

#[test]
fn other_member_schemes_are_refused_in_one_line_naming_the_scheme() {
    for scheme in ["ajp", "fcgi", "uwsgi", "h2c", "h2"] {
        let cfg = config(&format!("{scheme}://127.0.0.1:8009/"), MemberTls::default());
        let err = cfg.validate().expect_err(scheme);
        let Error::Config { field, reason } = &err else {
            panic!("{err}");
        };
        assert_eq!(field, "members[0].url");
        assert!(
            reason.starts_with(&format!("scheme \"{scheme}\" ("))
                && reason.contains("not supported"),
            "{reason}"
        );
        assert!(!err.to_string().contains('\n'), "{err}");
    }
}

#[test]
fn member_tls_ca_file_must_exist_and_hold_a_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").expect("write");
    let ca = Ca::new("had test CA").file(&dir);
    let cases = [
        (trusting(dir.path().join("missing.pem")), "cannot be read"),
        (trusting(empty), "holds no certificate"),
        (
            MemberTls {
                ca_file: Some(ca.clone()),
                verify: false,
            },
            "no effect with member_tls.verify = false",
        ),
    ];
    for (tls, want) in cases {
        let err = config("https://localhost:8443", tls)
            .validate()
            .expect_err(want);
        let Error::Config { field, reason } = &err else {
            panic!("{err}");
        };
        assert_eq!(field, "member_tls.ca_file");
        assert!(reason.contains(want), "{reason}");
    }
    config("https://localhost:8443", trusting(ca))
        .validate()
        .expect("a CA file with a certificate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_reach_https_members_through_tls() {
    let ca = Ca::new("had test CA");
    let other = Ca::new("another CA");
    let dir = tempfile::tempdir().expect("tempdir");
    let checks = Arc::new(AtomicUsize::new(0));
    let seen = checks.clone();
    let m = tls_member(ca.leaf(&["localhost"]), move |req: Request<Incoming>| {
        let seen = seen.clone();
        async move {
            if req.uri().path() == "/health" {
                seen.fetch_add(1, Ordering::SeqCst);
            }
            Response::new(full("ok"))
        }
    })
    .await;
    let url = m.url("https", "localhost");
    let http_check = HealthCheckConfig {
        kind: HealthCheckKind::Http {
            method: http::Method::GET,
            uri: "/health".into(),
            expect_status: http::StatusCode::OK,
        },
        interval: Duration::from_millis(50),
        timeout: Duration::from_secs(2),
        passes: 1,
        fails: 1,
    };
    let tcp_check = HealthCheckConfig {
        kind: HealthCheckKind::Tcp,
        ..http_check.clone()
    };
    // Trusted: an HTTP check over TLS reaches /health, the member stays up.
    let mut cfg = config(&url, trusting(ca.file(&dir)));
    cfg.health_check = Some(http_check.clone());
    let proxy = start(cfg);
    assert!(eventually(|| checks.load(Ordering::SeqCst) >= 2).await);
    assert_eq!(status_of(&proxy), MemberStatus::Up);
    drop(proxy);
    // A TCP check of a trusted member passes too.
    let mut cfg = config(&url, trusting(ca.file(&dir)));
    cfg.health_check = Some(tcp_check.clone());
    let proxy = start(cfg);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status_of(&proxy), MemberStatus::Up);
    drop(proxy);
    // Untrusted: both checks fail at the handshake.
    for check in [http_check, tcp_check] {
        let before = checks.load(Ordering::SeqCst);
        let mut cfg = config(&url, trusting(other.file(&dir)));
        cfg.health_check = Some(check);
        let proxy = start(cfg);
        assert!(eventually(|| status_of(&proxy) == MemberStatus::HealthFailed).await);
        assert_eq!(checks.load(Ordering::SeqCst), before);
    }
}
