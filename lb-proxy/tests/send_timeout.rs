//! `send_timeout` over HTTP/1.1: a client that stops reading its response
//! is closed once it has taken nothing for that long, and the member's
//! connection with it; a client that reads, fast or slowly but steadily,
//! gets the whole response however long it takes. (HTTP/2's zero-window
//! client is in `hostile_h2.rs`.)

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{full, member};
use http::{Request, Response};
use hyper::body::Incoming;
use lb_proxy::{ProxyConfig, ProxyHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The member's answer: larger than every socket buffer on the way (the
/// proxy's send buffer grows to `tcp_wmem`'s 4 MiB, the client's receive
/// buffer to `tcp_rmem`'s 6 MiB).
const BIG: usize = 32 << 20;

const LIMIT: Duration = Duration::from_secs(1);

async fn start() -> (common::Member, ProxyHandle) {
    let m = member(|_: Request<Incoming>| async { Response::new(full(vec![b'x'; BIG])) }).await;
    let cfg = ProxyConfig {
        send_timeout: LIMIT,
        ..common::config(&[&m])
    };
    let proxy = ProxyHandle::start(cfg).expect("proxy starts");
    (m, proxy)
}

/// A client that has sent `GET /big`; with `small`, a 4 KiB receive buffer.
async fn client(addr: SocketAddr, small: bool) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    if small {
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    }
    let mut s = socket.connect(addr).await.expect("connect");
    s.write_all(b"GET /big HTTP/1.1\r\nHost: front.test\r\n\r\n")
        .await
        .expect("send");
    s
}

fn in_flight(proxy: &ProxyHandle) -> u64 {
    proxy.stats().members.iter().map(|m| m.in_flight).sum()
}

/// Reads everything left, up to `bound`: bytes read and whether the
/// connection ended.
async fn drain(s: &mut TcpStream, bound: Duration) -> (usize, bool) {
    let until = Instant::now() + bound;
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return (total, false),
            Ok(Ok(0) | Err(_)) => return (total, true),
            Ok(Ok(n)) => total += n,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_and_frees_its_member() {
    let (_m, proxy) = start().await;
    let mut s = client(proxy.local_addrs()[0], true).await;
    // The response starts; the client reads nothing.
    let started = Instant::now();
    while in_flight(&proxy) == 0 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(in_flight(&proxy), 1, "the response is under way");
    tokio::time::sleep(LIMIT / 2).await;
    assert_eq!(in_flight(&proxy), 1, "not before send_timeout");
    let deadline = Instant::now() + LIMIT * 5;
    while in_flight(&proxy) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(in_flight(&proxy), 0, "the member's connection is let go");
    let (got, ended) = drain(&mut s, Duration::from_secs(5)).await;
    assert!(ended, "the client connection is closed");
    assert!(got < BIG, "the client got {got} of {BIG} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_slowly_but_steadily_gets_everything() {
    let (_m, proxy) = start().await;
    let mut s = client(proxy.local_addrs()[0], false).await;
    // 3 s of slower reading, 256 KiB every 50 ms: three send_timeouts
    // long, never a full one without progress. (Progress is what the
    // kernel reports: the proxy's socket is writable again once the client
    // has taken about half of its send buffer, up to 2 MiB with Linux's
    // defaults, so a steady reader must take that much per send_timeout,
    // as with nginx's send_timeout.)
    let mut buf = vec![0u8; 256 << 10];
    let mut total = 0;
    let mut head = None;
    let slow_until = Instant::now() + LIMIT * 3;
    while Instant::now() < slow_until {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("data keeps coming")
            .expect("read");
        assert!(
            n > 0,
            "closed after {total} bytes while the client was reading"
        );
        if head.is_none() {
            let end = buf[..n].windows(4).position(|w| w == b"\r\n\r\n");
            head = Some(end.expect("the head in the first read") + 4);
        }
        total += n;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Then it reads at full speed to the end.
    let want = head.expect("a head") + BIG;
    while total < want {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("data keeps coming")
            .expect("read");
        assert!(n > 0, "closed after {total} of {want} bytes");
        total += n;
    }
    assert_eq!(total, want, "the whole body and nothing more");
    assert_eq!(in_flight(&proxy), 0);
}
