//! The proxy's member-side HTTP/1.1 client against members that answer with
//! scripted bytes: every framing of RFC 9112 §6.3, interim responses, broken
//! answers, connections closed under the proxy, upgrades and early answers.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{config, full, start};
use http::Request;
use lb_proxy::{MemberConfig, ProxyConfig, ProxyHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a scripted member does with one request.
#[derive(Clone, Debug)]
enum Act {
    /// Write these bytes, keep the connection.
    Reply(&'static [u8]),
    /// Write these bytes, then close.
    ReplyClose(&'static [u8]),
    /// Close without a byte.
    Close,
    /// Write these bytes, then echo whatever comes (an upgraded protocol).
    ReplyEcho(&'static [u8]),
    /// Answer right after the head, without reading the body, then close.
    ReplyBeforeBody(&'static [u8]),
}

/// A member whose answer is chosen by (connection index, request index on
/// that connection); it records every request head it read.
struct Scripted {
    addr: SocketAddr,
    conns: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Scripted {
    async fn start(script: fn(usize, usize) -> Act) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let conns = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (c, h) = (conns.clone(), heads.clone());
        let task = tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                let index = c.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(s, index, script, h.clone()));
            }
        });
        Scripted {
            addr,
            conns,
            heads,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn conns(&self) -> usize {
        self.conns.load(Ordering::SeqCst)
    }
}

/// Reads requests (head + Content-Length body) and plays the script.
async fn serve(
    mut s: TcpStream,
    conn: usize,
    script: fn(usize, usize) -> Act,
    heads: Arc<Mutex<Vec<String>>>,
) {
    let mut got: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    for request in 0..100 {
        // The head.
        let head_end = loop {
            if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        };
        let head = String::from_utf8_lossy(&got[..head_end]).into_owned();
        heads.lock().expect("heads").push(head.clone());
        got.drain(..head_end);
        let act = script(conn, request);
        if let Act::ReplyBeforeBody(bytes) = act {
            let _ = s.write_all(bytes).await;
            return;
        }
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        while got.len() < length {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        got.drain(..length);
        match act {
            Act::Reply(bytes) => {
                if s.write_all(bytes).await.is_err() {
                    return;
                }
            }
            Act::ReplyClose(bytes) => {
                let _ = s.write_all(bytes).await;
                return;
            }
            Act::Close | Act::ReplyBeforeBody(_) => return,
            Act::ReplyEcho(bytes) => {
                if s.write_all(bytes).await.is_err() {
                    return;
                }
                // Echo for at most 5 s.
                let _ = tokio::time::timeout(Duration::from_secs(5), async {
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if s.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                })
                .await;
                return;
            }
        }
    }
}

fn proxy_for(member: &Scripted) -> ProxyHandle {
    let mut cfg: ProxyConfig = config(&[]);
    cfg.members = vec![MemberConfig::new(member.url())];
    // One worker: one pool, so reuse is deterministic.
    cfg.workers = Some(1);
    start(cfg)
}

/// Sends `req` on a fresh client connection; status and body.
async fn send(proxy: &ProxyHandle, req: Request<common::TestBody>) -> (u16, Bytes) {
    let mut c = common::Conn::open(proxy.local_addrs()[0]).await;
    let (resp, body) = c.send(req).await;
    (resp.status().as_u16(), body)
}

fn get(path: &str) -> Request<common::TestBody> {
    Request::get(path)
        .header("host", "front.test")
        .body(full(""))
        .expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_delimited_body_is_relayed_whole_and_the_connection_not_reused() {
    let m = Scripted::start(|_, _| {
        Act::ReplyClose(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
    })
    .await;
    let proxy = proxy_for(&m);
    for _ in 0..2 {
        let (status, body) = send(&proxy, get("/")).await;
        assert_eq!((status, &body[..]), (200, &b"until the end"[..]));
    }
    assert_eq!(m.conns(), 2);
    assert_eq!(proxy.stats().members[0].failures, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_body_with_extensions_and_trailers_is_decoded_and_the_connection_reused() {
    let m = Scripted::start(|_, _| {
        Act::Reply(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
              5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
        )
    })
    .await;
    let proxy = proxy_for(&m);
    for _ in 0..3 {
        let (status, body) = send(&proxy, get("/")).await;
        assert_eq!((status, &body[..]), (200, &b"hello world"[..]));
    }
    assert_eq!(
        m.conns(),
        1,
        "a complete chunked body leaves the connection reusable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_close_from_the_member_is_honoured() {
    // The member says close but keeps the socket open: the proxy must not
    // send a second request on it.
    let m = Scripted::start(|_, _| {
        Act::Reply(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    })
    .await;
    let proxy = proxy_for(&m);
    for _ in 0..2 {
        assert_eq!(send(&proxy, get("/")).await.0, 200);
    }
    assert_eq!(m.conns(), 2);
    // HTTP/1.0 without keep-alive: same.
    let m10 =
        Scripted::start(|_, _| Act::Reply(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")).await;
    let proxy = proxy_for(&m10);
    for _ in 0..2 {
        assert_eq!(send(&proxy, get("/")).await.0, 200);
    }
    assert_eq!(m10.conns(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interim_responses_are_skipped() {
    let m = Scripted::start(|_, _| {
        Act::Reply(
            b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n\
              HTTP/1.1 100 Continue\r\n\r\n\
              HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal",
        )
    })
    .await;
    let proxy = proxy_for(&m);
    let (status, body) = send(&proxy, get("/")).await;
    assert_eq!((status, &body[..]), (200, &b"final"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_member_answers_are_502() {
    // Each is caught before the head goes to the client (conflicting
    // lengths, no HTTP at all, a short body read whole).
    let cases: [fn(usize, usize) -> Act; 3] = [
        |_, _| {
            Act::ReplyClose(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok")
        },
        |_, _| Act::ReplyClose(b"HELLO there\r\n\r\n"),
        |_, _| Act::ReplyClose(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
    ];
    for (i, script) in cases.into_iter().enumerate() {
        let m = Scripted::start(script).await;
        let proxy = proxy_for(&m);
        let (status, _) = send(&proxy, get("/")).await;
        assert_eq!(status, 502, "case {i}");
        assert_eq!(proxy.stats().members[0].failures, 1, "case {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_broken_after_the_head_went_out_is_cut_not_completed() {
    // A streamed body goes wrong after the head left the member side: the
    // client must see a closed connection and never a clean end.
    let m = Scripted::start(|_, _| {
        Act::ReplyClose(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n")
    })
    .await;
    let proxy = proxy_for(&m);
    let (text, closed) = common::raw(
        proxy.local_addrs()[0],
        b"GET / HTTP/1.1\r\nHost: front.test\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    // hyper drops what it had not flushed when a body fails, so the client
    // may see nothing at all: either way, no complete message.
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 200"),
        "{text}"
    );
    assert!(closed, "connection left open: {text}");
    assert!(
        !text.ends_with("0\r\n\r\n"),
        "the broken body was completed: {text:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_connection_closed_as_the_request_arrives_is_retried_once_if_safe() {
    // Connection 0 answers its first request, then reads the second and
    // hangs up without a byte: the race of a member closing an idle
    // connection just as the proxy reuses it. Every other connection answers.
    fn script(conn: usize, request: usize) -> Act {
        match (conn, request) {
            (0, 0) => Act::Reply(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst"),
            (0, _) => Act::Close,
            _ => Act::Reply(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh"),
        }
    }
    let m = Scripted::start(script).await;
    let proxy = proxy_for(&m);
    assert_eq!(&send(&proxy, get("/")).await.1[..], b"first");
    // GET: resent on a fresh connection, the client never knows.
    let (status, body) = send(&proxy, get("/")).await;
    assert_eq!((status, &body[..]), (200, &b"fresh"[..]));
    assert_eq!(m.conns(), 2);
    assert_eq!(proxy.stats().members[0].failures, 0);
    assert_eq!(m.heads.lock().expect("heads").len(), 3);

    // POST with a body: the member may have acted on it; never resent.
    let m = Scripted::start(script).await;
    let proxy = proxy_for(&m);
    assert_eq!(&send(&proxy, get("/")).await.1[..], b"first");
    let post = Request::post("/order")
        .header("host", "front.test")
        .body(full("item=1"))
        .expect("request");
    assert_eq!(send(&proxy, post).await.0, 502);
    assert_eq!(
        m.heads.lock().expect("heads").len(),
        2,
        "the POST went out once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_after_a_101_reach_the_client_and_the_tunnel_echoes() {
    let m = Scripted::start(|_, _| {
        Act::ReplyEcho(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\nHELLO",
        )
    })
    .await;
    let proxy = proxy_for(&m);
    let mut s = TcpStream::connect(proxy.local_addrs()[0])
        .await
        .expect("connect");
    s.write_all(
        b"GET /chat HTTP/1.1\r\nHost: front.test\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
    )
    .await
    .expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let read_until =
        |want: &'static [u8]| move |got: &Vec<u8>| got.windows(want.len()).any(|w| w == want);
    let hello = read_until(b"HELLO");
    tokio::time::timeout(Duration::from_secs(5), async {
        while !hello(&got) {
            let n = s.read(&mut buf).await.expect("read");
            assert_ne!(n, 0, "closed early: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("101 and the member's first bytes in time");
    assert!(
        got.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    s.write_all(b"ping").await.expect("write");
    let mut echo = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        while echo.len() < 4 {
            let n = s.read(&mut buf).await.expect("read");
            assert_ne!(n, 0, "tunnel closed early");
            echo.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("echo in time");
    assert_eq!(&echo[..], b"ping");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_answer_to_an_upload_reaches_the_client() {
    // The member refuses a 4 MiB upload after its head, without reading it.
    let m = Scripted::start(|_, _| {
        Act::ReplyBeforeBody(
            b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large",
        )
    })
    .await;
    let proxy = proxy_for(&m);
    // A raw client that reads while it uploads, as curl and browsers do: the
    // proxy may close (or reset) the client connection once it answered, so
    // the upload's writes are allowed to fail; the answer must still arrive.
    // The write half stays open until the answer is read, as a real
    // uploader's does (on loopback the whole upload can fit in socket buffers
    // before the member answers; half-closing clients have their own test in
    // http.rs).
    let s = TcpStream::connect(proxy.local_addrs()[0])
        .await
        .expect("connect");
    let (mut rd, mut wr) = s.into_split();
    let upload = tokio::spawn(async move {
        let size = 4 * 1024 * 1024;
        let head =
            format!("PUT /file HTTP/1.1\r\nHost: front.test\r\nContent-Length: {size}\r\n\r\n");
        if wr.write_all(head.as_bytes()).await.is_err() {
            return wr;
        }
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..size / chunk.len() {
            if wr.write_all(&chunk).await.is_err() {
                break;
            }
        }
        wr
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while !got.ends_with(b"too large") {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    // Only now may the client's write half close (dropped with the task).
    upload.abort();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 413"), "{text:?}");
    assert!(text.ends_with("too large"), "{text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_framing_towards_the_member() {
    let m = Scripted::start(|_, _| Act::Reply(b"HTTP/1.1 204 No Content\r\n\r\n")).await;
    let proxy = proxy_for(&m);
    // A bodiless POST says Content-Length: 0; a GET says nothing.
    let post = Request::post("/p")
        .header("host", "front.test")
        .body(full(""))
        .expect("request");
    assert_eq!(send(&proxy, post).await.0, 204);
    assert_eq!(send(&proxy, get("/g?q=1")).await.0, 204);
    let heads = m.heads.lock().expect("heads").clone();
    assert!(heads[0].starts_with("POST /p HTTP/1.1\r\n"), "{}", heads[0]);
    assert!(heads[0].contains("content-length: 0\r\n"), "{}", heads[0]);
    assert!(
        heads[1].starts_with("GET /g?q=1 HTTP/1.1\r\n"),
        "{}",
        heads[1]
    );
    assert!(
        !heads[1].to_ascii_lowercase().contains("content-length"),
        "{}",
        heads[1]
    );
    assert!(
        !heads[1].to_ascii_lowercase().contains("transfer-encoding"),
        "{}",
        heads[1]
    );
    assert_eq!(m.conns(), 1, "a 204 leaves the connection reusable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_failed_over_is_addressed_as_the_client_sent_it() {
    // Member A (prefix /a) refuses connections; the request moves to B
    // (prefix /b, another host) and must carry only B's prefix and Host.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = closed.local_addr().expect("addr");
    drop(closed);
    let b =
        Scripted::start(|_, _| Act::Reply(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB")).await;
    let mut cfg: ProxyConfig = config(&[]);
    cfg.members = vec![
        MemberConfig::new(format!("http://{dead}/a")),
        MemberConfig::new(format!("{}/b", b.url())),
    ];
    cfg.workers = Some(1);
    let proxy = start(cfg);
    let (status, body) = send(&proxy, get("/x?y=1")).await;
    assert_eq!((status, &body[..]), (200, &b"B"[..]));
    let head = b.heads.lock().expect("heads")[0].clone();
    assert!(head.starts_with("GET /b/x?y=1 HTTP/1.1\r\n"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("host: {}\r\n", b.addr)),
        "{head}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_members_connection_fields_stay_on_the_member_side() {
    // Connection, the fields it names, Keep-Alive and Proxy-Connection are
    // about the member connection; the client gets the rest.
    let m = Scripted::start(|_, _| {
        Act::Reply(
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Internal\r\nKeep-Alive: timeout=5\r\n\
              X-Internal: secret\r\nProxy-Connection: keep-alive\r\nX-Kept: yes\r\n\
              Content-Length: 2\r\n\r\nok",
        )
    })
    .await;
    let proxy = proxy_for(&m);
    let mut c = common::Conn::open(proxy.local_addrs()[0]).await;
    for _ in 0..2 {
        let (resp, body) = c.get("/").await;
        assert_eq!(&body[..], b"ok");
        let h = resp.headers();
        assert_eq!(
            h.get("x-kept").map(http::HeaderValue::as_bytes),
            Some(&b"yes"[..])
        );
        for gone in ["x-internal", "keep-alive", "proxy-connection"] {
            assert!(h.get(gone).is_none(), "{gone} reached the client: {h:?}");
        }
    }
    assert_eq!(m.conns(), 1, "keep-alive honoured");
}
