//! A request body that breaks, arriving with its head or later, costs the
//! proxy no waiting: the client gets 400 at once, and no member connection is
//! opened for it or held open after it (issue 17).

mod common;

use std::time::{Duration, Instant};

use common::recording::Recording;
use common::{config, raw, start};
use lb_proxy::{MemberConfig, ProxyConfig, ProxyHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn proxy_for(member: &Recording) -> ProxyHandle {
    start(ProxyConfig {
        members: vec![MemberConfig::new(member.url())],
        ..config(&[])
    })
}

const HEAD: &str =
    "POST /upload HTTP/1.1\r\nHost: front.test\r\nTransfer-Encoding: chunked\r\n\r\n";

/// Bad chunked bodies of every kind the issue lists, each sent with its head.
fn malformed_bodies() -> Vec<(&'static str, String)> {
    let ext = format!("1;{}\r\nx\r\n", "e".repeat(1024));
    vec![
        ("hex prefix", "0x5\r\nhello\r\n0\r\n\r\n".into()),
        ("plus sign", "+5\r\nhello\r\n0\r\n\r\n".into()),
        ("minus zero", "-0\r\n\r\n".into()),
        ("leading space", " 5\r\nhello\r\n0\r\n\r\n".into()),
        ("trailing junk", "5z\r\nhello\r\n0\r\n\r\n".into()),
        (
            "overflowing size",
            "fffffffffffffffff\r\nhello\r\n0\r\n\r\n".into(),
        ),
        ("size smaller than data", "2\r\nhello\r\n0\r\n\r\n".into()),
        ("bare LF in chunk line", "5\nhello\r\n0\r\n\r\n".into()),
        ("bare CR in chunk line", "5\rhello\r\n0\r\n\r\n".into()),
        ("CR inside extension", "5;a\rb\r\nhello\r\n0\r\n\r\n".into()),
        ("LF inside extension", "5;a\nb\r\nhello\r\n0\r\n\r\n".into()),
        ("no CRLF after data", "5\r\nhelloXX0\r\n\r\n".into()),
        (
            "malformed trailer",
            "5\r\nhello\r\n0\r\nno colon here\r\n\r\n".into(),
        ),
        (
            "oversized trailer section",
            format!("5\r\nhello\r\n0\r\nx-big: {}\r\n\r\n", "t".repeat(20_000)),
        ),
        (
            "chunk extensions past 16 KiB",
            format!("{}0\r\n\r\n", ext.repeat(20)),
        ),
    ]
}

/// Sends `bytes`, shuts down the sending side (the client is done), reads
/// until the proxy closes or `wait` passes.
async fn send_and_half_close(
    addr: std::net::SocketAddr,
    bytes: &[u8],
    wait: Duration,
) -> (String, bool) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(bytes).await.expect("write");
    s.shutdown().await.expect("shutdown");
    let mut out = Vec::new();
    let closed = matches!(
        tokio::time::timeout(wait, s.read_to_end(&mut out)).await,
        Ok(Ok(_))
    );
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_shorter_than_announced_is_400_once_the_client_is_done() {
    let member = Recording::start(Duration::ZERO).await;
    let proxy = proxy_for(&member);
    let addr = proxy.local_addrs()[0];
    for (name, req) in [
        (
            "chunk larger than its data",
            format!("{HEAD}10\r\nhello\r\n0\r\n\r\n"),
        ),
        ("no last chunk", format!("{HEAD}5\r\nhello\r\n")),
        (
            "Content-Length larger than the body",
            "POST /u HTTP/1.1\r\nHost: front.test\r\nContent-Length: 100\r\n\r\nabc".to_owned(),
        ),
    ] {
        let started = Instant::now();
        let (answer, closed) =
            send_and_half_close(addr, req.as_bytes(), Duration::from_secs(2)).await;
        let took = started.elapsed();
        assert!(answer.starts_with("HTTP/1.1 400"), "{name}: {answer:?}");
        assert!(closed, "{name}: closed");
        assert!(
            took < Duration::from_secs(1),
            "{name}: answered in {took:?}"
        );
    }
    assert_eq!(member.accepted(), 0, "no member connection was opened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_waits_without_a_member_and_gets_408() {
    let member = Recording::start(Duration::ZERO).await;
    let proxy = start(ProxyConfig {
        members: vec![MemberConfig::new(member.url())],
        body_read_timeout: Duration::from_millis(300),
        ..config(&[])
    });
    let addr = proxy.local_addrs()[0];
    let started = Instant::now();
    let (answer, closed) = raw(
        addr,
        format!("{HEAD}10\r\nhello").as_bytes(),
        Duration::from_secs(3),
    )
    .await;
    let took = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(closed);
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert_eq!(
        member.accepted(),
        0,
        "no member was held while the body stalled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_body_sent_with_its_head_is_400_at_once_and_no_member_is_contacted() {
    let member = Recording::start(Duration::ZERO).await;
    let proxy = proxy_for(&member);
    let addr = proxy.local_addrs()[0];
    for (name, body) in malformed_bodies() {
        let started = Instant::now();
        let (answer, closed) = raw(
            addr,
            format!("{HEAD}{body}").as_bytes(),
            Duration::from_secs(2),
        )
        .await;
        let took = started.elapsed();
        assert!(answer.starts_with("HTTP/1.1 400"), "{name}: {answer:?}");
        assert!(closed, "{name}: the client connection is closed");
        assert!(
            took < Duration::from_secs(1),
            "{name}: answered in {took:?}"
        );
    }
    assert_eq!(member.accepted(), 0, "no member connection was opened");
    // A well-formed chunked request still goes through.
    let (answer, _) = raw(
        addr,
        format!("{HEAD}5;name=value\r\nhello\r\n0\r\nx-trailer: 1\r\n\r\n").as_bytes(),
        Duration::from_millis(500),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    let got = member.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, b"hello");
}

/// A first chunk larger than the read-ahead, so the head goes to the member
/// before the rest of the body is sent.
fn big_chunk() -> String {
    let n = 20 * 1024;
    format!("{n:x}\r\n{}\r\n", "b".repeat(n))
}

/// Sends the head and a first chunk past the read-ahead, waits until the
/// member has them on a new connection, then sends `rest`; returns the answer
/// and how long it took after `rest`.
async fn send_in_two(
    addr: std::net::SocketAddr,
    member: &Recording,
    rest: &[u8],
    close: bool,
) -> (String, Duration) {
    let before = member.accepted();
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("{HEAD}{}", big_chunk()).as_bytes())
        .await
        .expect("write head");
    let deadline = Instant::now() + Duration::from_secs(5);
    while member.accepted() == before
        || !member
            .conns()
            .last()
            .is_some_and(|c| c.bytes.ends_with(b"b\r\n"))
    {
        assert!(Instant::now() < deadline, "the member never saw the head");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    s.write_all(rest).await.expect("write rest");
    if close {
        let _ = s.shutdown().await;
    }
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut out)).await;
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_breaks_after_the_head_went_out_closes_the_member_connection_at_once() {
    let member = Recording::start(Duration::ZERO).await;
    let proxy = proxy_for(&member);
    let addr = proxy.local_addrs()[0];
    for rest in [
        &b"0x5\r\nhello\r\n0\r\n\r\n"[..],
        b"5z\r\nhello\r\n",
        b"5\r\nhelloXX0\r\n\r\n",
    ] {
        let (answer, took) = send_in_two(addr, &member, rest, false).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");
        assert!(took < Duration::from_secs(1), "answered in {took:?}");
        assert!(
            member.wait_all_closed(Duration::from_secs(1)).await,
            "the member connection was closed"
        );
    }
    let conns = member.conns();
    assert_eq!(conns.len(), 3);
    for c in &conns {
        assert!(c.requests.is_empty(), "no request completed: {c:?}");
        assert!(c.cut_mid_request, "the member saw the request cut: {c:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disappears_mid_body_frees_the_member_connection_at_once() {
    let member = Recording::start(Duration::ZERO).await;
    let proxy = proxy_for(&member);
    let addr = proxy.local_addrs()[0];
    // In one packet: Content-Length 100, 3 bytes, then the client closes:
    // the read-ahead sees the end and no member is contacted.
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"POST /upload HTTP/1.1\r\nHost: front.test\r\nContent-Length: 100\r\n\r\nabc")
        .await
        .expect("write");
    drop(s);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(member.accepted(), 0);
    // After the head reached the member: its connection closes at once.
    let (_, _) = send_in_two(addr, &member, b"", true).await;
    assert!(
        member.wait_all_closed(Duration::from_secs(1)).await,
        "the member connection was closed after {:?}",
        started.elapsed()
    );
    let conns = member.conns();
    assert!(
        conns.iter().all(|c| c.requests.is_empty() && c.closed),
        "{conns:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_malformed_requests_hold_nothing_and_do_not_delay_a_good_one() {
    let member = Recording::start(Duration::ZERO).await;
    let proxy = proxy_for(&member);
    let addr = proxy.local_addrs()[0];
    let started = Instant::now();
    let mut bad = Vec::new();
    for i in 0..50 {
        let body = if i % 2 == 0 {
            "5z\r\nhello\r\n0\r\n\r\n"
        } else {
            "2\r\nhello\r\n0\r\n\r\n"
        };
        let req = format!("{HEAD}{body}");
        bad.push(tokio::spawn(async move {
            raw(addr, req.as_bytes(), Duration::from_secs(3)).await
        }));
    }
    let good_started = Instant::now();
    let (good, _) = raw(
        addr,
        b"GET /fine HTTP/1.1\r\nHost: front.test\r\nConnection: close\r\n\r\n",
        Duration::from_secs(3),
    )
    .await;
    let good_took = good_started.elapsed();
    assert!(good.starts_with("HTTP/1.1 200"), "{good:?}");
    for b in bad {
        let (answer, closed) = b.await.expect("task");
        assert!(answer.starts_with("HTTP/1.1 400") && closed, "{answer:?}");
    }
    assert!(
        good_took < Duration::from_secs(1),
        "the good request took {good_took:?}"
    );
    // The good request's pooled connection may stay open; nothing else.
    tokio::time::sleep(Duration::from_secs(1).saturating_sub(started.elapsed())).await;
    assert!(
        member.open() <= 1,
        "{} member connections open after a second",
        member.open()
    );
    // Only the good request ever reached the member.
    let got = member.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].target, "/fine");
    assert!(
        member.accepted() <= 1,
        "{} member connections",
        member.accepted()
    );
}
