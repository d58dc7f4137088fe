//! Header handling, framing, limits, upgrades and bodies, through the proxy
//! to real HTTP members.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Conn, config, full, member, raw, start};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A member that records the request heads it receives and answers "ok".
async fn recorder() -> (common::Member, Arc<Mutex<Vec<(String, HeaderMap)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let m = member(move |req| {
        let log = log.clone();
        async move {
            let target = req.uri().to_string();
            let headers = req.headers().clone();
            let body = req
                .into_body()
                .collect()
                .await
                .map(http_body_util::Collected::to_bytes)
                .unwrap_or_default();
            log.lock()
                .expect("lock")
                .push((format!("{target} {}", body.len()), headers));
            Response::new(full("ok"))
        }
    })
    .await;
    (m, seen)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cve_2022_31813_connection_cannot_strip_x_forwarded() {
    let (m, seen) = recorder().await;
    let proxy = start(config(&[&m]));
    let mut c = Conn::open(proxy.local_addrs()[0]).await;
    let req = Request::get("/x")
        .header("host", "front.test")
        .header(
            "connection",
            "keep-alive, X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto, X-Private",
        )
        .header("x-private", "secret")
        .header("x-forwarded-for", "203.0.113.9")
        .body(full(""))
        .expect("request");
    assert_eq!(c.send(req).await.0.status(), 200);
    let seen = seen.lock().expect("lock");
    let h = &seen[0].1;
    assert_eq!(
        header(h, "x-forwarded-for"),
        Some("127.0.0.1"),
        "the client's XFF was hop-by-hop, ours is added after"
    );
    assert_eq!(header(h, "x-forwarded-host"), Some("front.test"));
    assert_eq!(header(h, "x-forwarded-proto"), Some("http"));
    assert_eq!(header(h, "x-private"), None);
    assert_eq!(header(h, "connection"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_forwarded_for_appends_and_host_follows_preserve_host() {
    let (m, seen) = recorder().await;
    let mut cfg = config(&[&m]);
    let proxy = start(cfg.clone());
    let mut c = Conn::open(proxy.local_addrs()[0]).await;
    let req = Request::get("/")
        .header("host", "front.test")
        .header("x-forwarded-for", "203.0.113.9")
        .body(full(""))
        .expect("request");
    c.send(req).await;
    cfg.preserve_host = true;
    let proxy2 = start(cfg);
    let mut c2 = Conn::open(proxy2.local_addrs()[0]).await;
    c2.get("/").await;
    let seen = seen.lock().expect("lock");
    assert_eq!(
        header(&seen[0].1, "x-forwarded-for"),
        Some("203.0.113.9, 127.0.0.1")
    );
    assert_eq!(
        header(&seen[0].1, "host"),
        Some(m.addr.to_string().as_str()),
        "ProxyPreserveHost Off sends the member's host"
    );
    assert_eq!(
        header(&seen[1].1, "host"),
        Some("front.test"),
        "ProxyPreserveHost On keeps the client's host"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_reverse_rewrites_member_urls_in_redirects() {
    let m = member(|req| async move {
        let own = format!(
            "http://{}",
            req.headers()
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
        );
        Response::builder()
            .status(302)
            .header("location", format!("{own}/login?next=%2F"))
            .header("content-location", format!("{own}/page"))
            .header("uri", own.clone())
            .header("link", format!("{own}/not-rewritten"))
            .body(full(""))
            .expect("response")
    })
    .await;
    let mut cfg = config(&[&m]);
    cfg.pass_reverse = true;
    let proxy = start(cfg.clone());
    let (resp, _) = Conn::open(proxy.local_addrs()[0]).await.get("/").await;
    assert_eq!(resp.status(), 302);
    assert_eq!(
        header(resp.headers(), "location"),
        Some("http://front.test/login?next=%2F")
    );
    assert_eq!(
        header(resp.headers(), "content-location"),
        Some("http://front.test/page")
    );
    assert_eq!(header(resp.headers(), "uri"), Some("http://front.test"));
    assert_eq!(
        header(resp.headers(), "link"),
        Some(format!("{}/not-rewritten", m.url()).as_str())
    );
    cfg.pass_reverse = false;
    let off = start(cfg);
    let (resp, _) = Conn::open(off.local_addrs()[0]).await.get("/").await;
    assert_eq!(
        header(resp.headers(), "location"),
        Some(format!("{}/login?next=%2F", m.url()).as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_path_prefix_is_prepended() {
    let (m, seen) = recorder().await;
    let mut cfg = config(&[]);
    cfg.members = vec![lb_proxy::MemberConfig::new(format!("{}/app/", m.url()))];
    let proxy = start(cfg);
    Conn::open(proxy.local_addrs()[0]).await.get("/a?b=1").await;
    assert_eq!(seen.lock().expect("lock")[0].0, "/app/a?b=1 0");
}

/// A member that echoes the request body back, streaming, with the framing it got.
async fn echo() -> common::Member {
    member(|req| async move {
        let framing = if req.headers().contains_key("transfer-encoding") {
            "chunked"
        } else {
            "sized"
        };
        let mut resp = Response::new(req.into_body().boxed());
        resp.headers_mut()
            .insert("x-framing", framing.parse().expect("value"));
        resp
    })
    .await
}

fn pattern(len: usize) -> Bytes {
    (0..len)
        .map(|i| u8::try_from(i % 251).unwrap_or(0))
        .collect::<Vec<u8>>()
        .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_mib_sized_body_both_ways() {
    let m = echo().await;
    let proxy = start(config(&[&m]));
    let body = pattern(5 * 1024 * 1024);
    let req = Request::post("/upload")
        .header("host", "front.test")
        .body(full(body.clone()))
        .expect("request");
    let (resp, got) = Conn::open(proxy.local_addrs()[0]).await.send(req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(resp.headers(), "x-framing"), Some("sized"));
    assert_eq!(got.len(), body.len());
    assert!(got == body, "body changed on the way");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_body_both_ways() {
    let m = echo().await;
    let proxy = start(config(&[&m]));
    let chunks: Vec<Result<Frame<Bytes>, hyper::Error>> = (0..80)
        .map(|i| Ok(Frame::data(pattern(64 * 1024 + i))))
        .collect();
    let expected: usize = (0..80).map(|i| 64 * 1024 + i).sum();
    let body = StreamBody::new(futures_util::stream::iter(chunks)).boxed();
    let req = Request::post("/stream")
        .header("host", "front.test")
        .body(body)
        .expect("request");
    let (resp, got) = Conn::open(proxy.local_addrs()[0]).await.send(req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(resp.headers(), "x-framing"),
        Some("chunked"),
        "the member saw a chunked request"
    );
    assert_eq!(
        header(resp.headers(), "transfer-encoding"),
        Some("chunked"),
        "the client got a chunked response"
    );
    assert_eq!(got.len(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cl_te_smuggling_attempt_goes_nowhere() {
    let (m, seen) = recorder().await;
    let proxy = start(config(&[&m]));
    // CL.TE: a front end trusting Content-Length would forward "0\r\n\r\nGET /smuggled…"
    // as one body; one trusting Transfer-Encoding would see a second request.
    let attack = b"POST /a HTTP/1.1\r\nHost: front.test\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: front.test\r\n\r\n";
    let (answer, closed) = raw(proxy.local_addrs()[0], attack, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        closed,
        "the connection is closed after a CL+TE request (RFC 9112 §6.3)"
    );
    assert_eq!(
        answer.matches("HTTP/1.1").count(),
        1,
        "only one response: {answer}"
    );
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.len(), 1, "the member saw exactly one request");
    assert_eq!(seen[0].0, "/a 0");
    // The empty body was read whole before a member was chosen, so it goes
    // out framed by its real length: one framing, not the client's 44.
    assert_eq!(
        header(&seen[0].1, "content-length"),
        Some("0"),
        "the member saw the body's own length"
    );
    assert_eq!(
        header(&seen[0].1, "transfer-encoding"),
        None,
        "no second framing reached the member"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn te_not_chunked_and_duplicate_lengths_are_400() {
    let (m, seen) = recorder().await;
    let proxy = start(config(&[&m]));
    let addr = proxy.local_addrs()[0];
    let (a, _) = raw(
        addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    assert!(a.starts_with("HTTP/1.1 400"), "{a}");
    let (b, _) = raw(
        addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        Duration::from_secs(2),
    )
    .await;
    assert!(b.starts_with("HTTP/1.1 400"), "{b}");
    assert!(seen.lock().expect("lock").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_limits_answer_431() {
    let (m, seen) = recorder().await;
    let proxy = start(config(&[&m]));
    let addr = proxy.local_addrs()[0];
    let long = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(8200)
    );
    let (a, _) = raw(addr, long.as_bytes(), Duration::from_secs(2)).await;
    assert!(a.starts_with("HTTP/1.1 431"), "{a}");
    let many: String = (0..101).map(|i| format!("X-H{i}: v\r\n")).collect();
    let (b, _) = raw(
        addr,
        format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
        Duration::from_secs(2),
    )
    .await;
    assert!(b.starts_with("HTTP/1.1 431"), "{b}");
    let fits = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(8000)
    );
    let (c, _) = raw(addr, fits.as_bytes(), Duration::from_secs(2)).await;
    assert!(c.starts_with("HTTP/1.1 200"), "{c}");
    assert_eq!(seen.lock().expect("lock").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_is_cut_by_the_header_timeout() {
    let (m, seen) = recorder().await;
    let mut cfg = config(&[&m]);
    cfg.header_read_timeout = Duration::from_millis(300);
    let proxy = start(cfg);
    let t0 = Instant::now();
    let (answer, closed) = raw(
        proxy.local_addrs()[0],
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(closed, "connection closed");
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "closed after the header timeout"
    );
    assert!(!answer.contains("200"), "{answer}");
    assert!(seen.lock().expect("lock").is_empty());
    // An idle keep-alive connection is closed by the same timer.
    let mut c = Conn::open(proxy.local_addrs()[0]).await;
    assert_eq!(c.get("/").await.0.status(), 200);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(proxy.stats().active_connections, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_half_closes_after_its_request_still_gets_the_answer() {
    // The member takes its time, so the client's FIN arrives while the
    // request is in flight (as with `printf 'GET ...' | nc host 80`).
    let m = member(|_req| async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Response::new(full("late answer"))
    })
    .await;
    let proxy = start(config(&[&m]));
    let mut s = tokio::net::TcpStream::connect(proxy.local_addrs()[0])
        .await
        .expect("connect");
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: front.test\r\n\r\n")
        .await
        .expect("write");
    s.shutdown().await.expect("half-close");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(answer.ends_with("late answer"), "{answer:?}");
    assert!(
        matches!(read, Ok(Ok(_))),
        "the proxy closes once it answered a half-closed client: {read:?}"
    );
    assert_eq!(m.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_holds_extra_clients_back() {
    let (m, _) = recorder().await;
    let mut cfg = config(&[&m]);
    cfg.max_connections = 1;
    let proxy = start(cfg);
    let addr = proxy.local_addrs()[0];
    let mut first = Conn::open(addr).await;
    assert_eq!(first.get("/").await.0.status(), 200);
    let second = tokio::spawn(async move { Conn::open(addr).await.get("/").await.0.status() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !second.is_finished(),
        "the second client waits while the first holds the only slot"
    );
    drop(first);
    let status = tokio::time::timeout(Duration::from_secs(3), second).await;
    assert!(matches!(status, Ok(Ok(StatusCode::OK))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_204_304_and_100_continue_keep_the_connection_usable() {
    let m = member(|req| async move {
        let status = match req.uri().path() {
            "/204" => 204,
            "/304" => 304,
            _ => 200,
        };
        let body = req
            .into_body()
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
            .unwrap_or_default();
        let mut r = Response::new(full(if status == 200 {
            format!("len={}", body.len())
        } else {
            String::new()
        }));
        *r.status_mut() = StatusCode::from_u16(status).expect("status");
        r
    })
    .await;
    let proxy = start(config(&[&m]));
    let mut c = Conn::open(proxy.local_addrs()[0]).await;
    let head = Request::head("/")
        .header("host", "h")
        .body(full(""))
        .expect("request");
    let (r, body) = c.send(head).await;
    assert_eq!((r.status().as_u16(), body.len()), (200, 0));
    assert_eq!(
        header(r.headers(), "content-length"),
        Some("5"),
        "HEAD keeps the GET's length"
    );
    let (r, body) = c.get("/204").await;
    assert_eq!((r.status().as_u16(), body.len()), (204, 0));
    let (r, body) = c.get("/304").await;
    assert_eq!((r.status().as_u16(), body.len()), (304, 0));
    let (r, body) = c.get("/").await;
    assert_eq!((r.status().as_u16(), &body[..]), (200, &b"len=0"[..]));
    // Expect: 100-continue gets the interim response before the body is sent.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(proxy.local_addrs()[0])
        .await
        .expect("connect");
    s.write_all(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        .await
        .expect("write");
    let mut buf = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf))
        .await
        .expect("interim in time")
        .expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 100 Continue"));
    s.write_all(b"abcd").await.expect("write body");
    let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf))
        .await
        .expect("final in time")
        .expect("read");
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(
        text.starts_with("HTTP/1.1 200") && text.ends_with("len=4"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_echo_through_the_proxy() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let m = member(|mut req| async move {
        if req.headers().get("upgrade").and_then(|v| v.to_str().ok()) != Some("websocket") {
            return Response::new(full("plain"));
        }
        let on = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(up) = on.await {
                let mut io = hyper_util::rt::TokioIo::new(up);
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
    })
    .await;
    let proxy = start(config(&[&m]));
    let mut s = tokio::net::TcpStream::connect(proxy.local_addrs()[0])
        .await
        .expect("connect");
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
    assert!(
        head.contains("upgrade: websocket") && head.contains("sec-websocket-accept"),
        "{head}"
    );
    // A masked text frame "Hello" (RFC 6455 §5.7), echoed byte for byte by the member.
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
    // A refused upgrade stays plain HTTP on a usable connection.
    let mut c = Conn::open(proxy.local_addrs()[0]).await;
    let req = Request::get("/")
        .header("host", "h")
        .header("upgrade", "h2c")
        .header("connection", "upgrade")
        .body(full(""))
        .expect("request");
    let (r, body) = c.send(req).await;
    assert_eq!((r.status().as_u16(), &body[..]), (200, &b"plain"[..]));
    assert_eq!(c.get("/").await.0.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_is_written_in_combined_format() {
    let (m, _) = recorder().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("access.log");
    let mut cfg = config(&[&m]);
    cfg.access_log = Some(path.clone());
    let proxy = start(cfg);
    let mut c = Conn::open(proxy.local_addrs()[0]).await;
    let req = Request::get("/page?q=1")
        .header("host", "front.test")
        .header("referer", "http://ref.test/")
        .header("user-agent", "tester/1.0 \"quoted\"")
        .body(full(""))
        .expect("request");
    c.send(req).await;
    drop(c);
    let report = proxy.drain(Duration::from_secs(2)).await;
    assert_eq!(report.unfinished_connections, 0);
    let log = std::fs::read_to_string(&path).expect("log file");
    let line = log.lines().next().expect("one line");
    let (prefix, rest) = line.split_once(" [").expect("time field");
    assert_eq!(prefix, "127.0.0.1 - -");
    let (time, rest) = rest.split_once("] ").expect("time end");
    assert_eq!(time.len(), "10/Oct/2000:13:55:36 +0000".len(), "{time}");
    assert!(time.ends_with(" +0000"));
    assert_eq!(
        rest,
        r#""GET /page?q=1 HTTP/1.1" 200 2 "http://ref.test/" "tester/1.0 \"quoted\"""#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_finishes_in_flight_and_stops_accepting() {
    let m = member(|_req| async {
        tokio::time::sleep(Duration::from_millis(600)).await;
        Response::new(full("done"))
    })
    .await;
    let proxy = start(config(&[&m]));
    let addr = proxy.local_addrs()[0];
    let mut c = Conn::open(addr).await;
    let in_flight = tokio::spawn(async move { c.get("/").await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let report = proxy.drain(Duration::from_secs(5)).await;
    assert_eq!(report.unfinished_connections, 0);
    let (resp, body) = in_flight.await.expect("request task");
    assert_eq!((resp.status().as_u16(), &body[..]), (200, &b"done"[..]));
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_deadline_cuts_what_is_left() {
    let m = member(|_req| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Response::new(full("late"))
    })
    .await;
    let proxy = start(config(&[&m]));
    let mut c = Conn::open(proxy.local_addrs()[0]).await;
    let _in_flight = tokio::spawn(async move { c.get("/").await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let t0 = Instant::now();
    let report = proxy.drain(Duration::from_millis(300)).await;
    assert_eq!(report.unfinished_connections, 1);
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_1_0_client_is_served_and_closed() {
    let (m, seen) = recorder().await;
    let proxy = start(config(&[&m]));
    let (answer, closed) = raw(
        proxy.local_addrs()[0],
        b"GET /old HTTP/1.0\r\n\r\n",
        Duration::from_secs(3),
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"),
        "{answer}"
    );
    assert!(answer.ends_with("ok"), "{answer}");
    assert!(
        closed,
        "an HTTP/1.0 request without keep-alive closes the connection"
    );
    assert_eq!(seen.lock().expect("lock")[0].0, "/old 0");
}
