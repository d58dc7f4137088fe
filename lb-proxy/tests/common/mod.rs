//! Real HTTP members and clients for the integration tests: hyper servers on
//! 127.0.0.1 started by each test, and a plain keep-alive client.

#![allow(dead_code, clippy::missing_panics_doc)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use lb_proxy::{MemberConfig, ProxyConfig, ProxyHandle};

pub mod recording;
pub mod tls;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// Response body of test members.
pub type TestBody = BoxBody<Bytes, hyper::Error>;

/// A fixed body.
pub fn full(b: impl Into<Bytes>) -> TestBody {
    Full::new(b.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

/// A member server; dropping or `kill`ing it closes the listener and every connection.
pub struct Member {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
    pub conns: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Member {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests served so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Stops the member at once: listener and open connections closed.
    pub fn kill(&self) {
        self.task.abort();
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a member on `addr` (port 0 = any) answering with `handler`.
pub async fn member_on<F, Fut>(addr: SocketAddr, handler: F) -> Member
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<TestBody>> + Send + 'static,
{
    let listener = TcpListener::bind(addr).await.expect("bind member");
    let addr = listener.local_addr().expect("member addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let conns = Arc::new(AtomicUsize::new(0));
    let conn_counter = conns.clone();
    let task = tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            conn_counter.fetch_add(1, Ordering::SeqCst);
            let handler = handler.clone();
            let counter = counter.clone();
            conns.spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let fut = handler(req);
                    async move { Ok::<_, Infallible>(fut.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
    Member {
        addr,
        hits,
        conns,
        task,
    }
}

/// Starts a member on any port.
pub async fn member<F, Fut>(handler: F) -> Member
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<TestBody>> + Send + 'static,
{
    member_on(SocketAddr::from(([127, 0, 0, 1], 0)), handler).await
}

/// A member that answers its own name.
pub async fn named(name: &'static str) -> Member {
    member(move |_req| async move { Response::new(full(name)) }).await
}

/// A config listening on a free loopback port with these members.
pub fn config(members: &[&Member]) -> ProxyConfig {
    ProxyConfig {
        listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        members: members.iter().map(|m| MemberConfig::new(m.url())).collect(),
        workers: Some(2),
        ..ProxyConfig::default()
    }
}

/// Starts the proxy.
pub fn start(cfg: ProxyConfig) -> ProxyHandle {
    ProxyHandle::start(cfg).expect("proxy starts")
}

/// `http://ADDR` of the proxy's first listener.
pub fn front(proxy: &ProxyHandle) -> String {
    format!("http://{}", proxy.local_addrs()[0])
}

/// A pooled keep-alive client.
pub type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

/// A new client.
pub fn client() -> Client {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http()
}

/// GET `url`; status and body text.
pub async fn get(client: &Client, url: &str) -> (u16, String) {
    let resp = tokio::time::timeout(
        Duration::from_secs(10),
        client.get(url.parse().expect("url")),
    )
    .await
    .expect("response in time")
    .expect("response");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Sends raw bytes on a new connection and reads until the peer closes or `wait` passes.
pub async fn raw(addr: SocketAddr, bytes: &[u8], wait: Duration) -> (String, bool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(bytes).await.expect("write");
    let mut out = Vec::new();
    let closed = matches!(
        tokio::time::timeout(wait, s.read_to_end(&mut out)).await,
        Ok(Ok(_))
    );
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

/// One client connection, for tests that care which connection carries what.
pub struct Conn {
    sender: hyper::client::conn::http1::SendRequest<TestBody>,
}

impl Conn {
    /// Connects to `addr`.
    pub async fn open(addr: SocketAddr) -> Conn {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn.with_upgrades());
        Conn { sender }
    }

    /// Sends `req`, returns the response with its body collected.
    pub async fn send(&mut self, req: Request<TestBody>) -> (Response<()>, Bytes) {
        self.sender.ready().await.expect("connection ready");
        let resp = tokio::time::timeout(Duration::from_secs(10), self.sender.send_request(req))
            .await
            .expect("response in time")
            .expect("response");
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        (Response::from_parts(parts, ()), body)
    }

    /// GET `path` with a Host header.
    pub async fn get(&mut self, path: &str) -> (Response<()>, Bytes) {
        let req = Request::get(path)
            .header("host", "front.test")
            .body(full(""))
            .expect("request");
        self.send(req).await
    }
}
