//! Hostile HTTP/2 against had's TLS listener: malformed heads (RFC 9113
//! §8.1.1, §8.2), heads that would smuggle a second request into the
//! HTTP/1.1 a member reads, bodies that disagree with their
//! `Content-Length`, and the floods of the HTTP/2 CVEs — rapid reset
//! (CVE-2023-44487), CONTINUATION (CVE-2024-27316), an HPACK bomb, streams
//! past `SETTINGS_MAX_CONCURRENT_STREAMS`, empty DATA frames, and a client
//! that opens no flow-control window.
//!
//! The client writes frames by hand (HPACK literals without Huffman, which
//! any decoder must take), so it can send what no HTTP/2 library would; it
//! decodes the proxy's answers with loona-hpack. The member is the strict
//! recording member: every test asserts exactly what reached it, and that a
//! well-behaved client on its own connection is still served.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::recording::Recording;
use common::tls::{Ca, connect, tls};
use lb_proxy::{MemberConfig, ProxyConfig, ProxyHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// How long any one answer may take.
const BOUND: Duration = Duration::from_secs(5);

// Frame types (RFC 9113 §6).
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const CONTINUATION: u8 = 0x9;
// Flags.
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
// Error codes (RFC 9113 §7).
const PROTOCOL_ERROR: u32 = 0x1;
const CANCEL: u32 = 0x8;
const REFUSED_STREAM: u32 = 0x7;
const ENHANCE_YOUR_CALM: u32 = 0xb;
// SETTINGS_INITIAL_WINDOW_SIZE.
const INITIAL_WINDOW_SIZE: u16 = 0x4;

// ---------------------------------------------------------------- HPACK by hand

/// An HPACK integer with an `n`-bit prefix whose high bits are `flags`
/// (RFC 7541 §5.1).
fn int(out: &mut Vec<u8>, n: u8, flags: u8, value: usize) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(flags | u8::try_from(value).expect("fits the prefix"));
        return;
    }
    out.push(flags | u8::try_from(max).expect("prefix"));
    let mut rest = value - max;
    while rest >= 128 {
        out.push(u8::try_from(rest % 128).expect("7 bits") | 0x80);
        rest /= 128;
    }
    out.push(u8::try_from(rest).expect("7 bits"));
}

/// A literal field with a new name, `flags` 0x00 (without indexing) or
/// 0x40 (added to the dynamic table); raw octets, no Huffman.
fn literal(out: &mut Vec<u8>, flags: u8, name: &[u8], value: &[u8]) {
    out.push(flags);
    int(out, 7, 0, name.len());
    out.extend_from_slice(name);
    int(out, 7, 0, value.len());
    out.extend_from_slice(value);
}

/// A header block of literals without indexing, in order.
fn block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        literal(&mut out, 0x00, name.as_bytes(), value.as_bytes());
    }
    out
}

/// The pseudo-header fields of `GET path` to front.test, then `extra`.
fn get(path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut fields = vec![
        (":method", "GET"),
        (":scheme", "https"),
        (":path", path),
        (":authority", "front.test"),
    ];
    fields.extend_from_slice(extra);
    block(&fields)
}

// ---------------------------------------------------------------- the client

/// What the proxy said on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    /// A response head on a stream.
    Head { stream: u32, status: u16 },
    /// The end of a stream's response, with the body's length.
    End { stream: u32, body: usize },
    /// RST_STREAM.
    Reset { stream: u32, code: u32 },
    /// GOAWAY.
    GoAway { code: u32 },
    /// The connection closed (or failed) without a GOAWAY.
    Closed,
}

/// How a stream ended, as the tests assert it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// A complete response.
    Answered(u16),
    /// RST_STREAM with this code.
    Reset(u32),
    /// GOAWAY with this code before the stream got an answer.
    GoAway(u32),
    /// Closed without either.
    Closed,
    /// Nothing within [`BOUND`].
    Silent,
}

/// An HTTP/2 connection over TLS written frame by frame.
struct Raw {
    io: TlsStream<TcpStream>,
    input: Vec<u8>,
    hpack: loona_hpack::Decoder<'static>,
    /// A header block being continued: stream and bytes so far.
    partial: Option<(u32, Vec<u8>, bool)>,
    bodies: HashMap<u32, usize>,
    events: Vec<Event>,
    closed: bool,
}

impl Raw {
    /// Connects with ALPN `h2` and sends the preface with `settings`.
    async fn open(addr: SocketAddr, settings: &[(u16, u32)]) -> Raw {
        let io = connect(addr, Some("front.test"), &[b"h2"])
            .await
            .expect("TLS handshake");
        assert_eq!(io.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let mut raw = Raw {
            io,
            input: Vec::new(),
            hpack: loona_hpack::Decoder::new(),
            partial: None,
            bodies: HashMap::new(),
            events: Vec::new(),
            closed: false,
        };
        let mut payload = Vec::new();
        for (id, value) in settings {
            payload.extend_from_slice(&id.to_be_bytes());
            payload.extend_from_slice(&value.to_be_bytes());
        }
        let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        frame(&mut out, SETTINGS, 0, 0, &payload);
        raw.send(&out).await.expect("preface");
        raw
    }

    /// Writes bytes (frames built with [`frame`]).
    async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.io.write_all(bytes).await?;
        self.io.flush().await
    }

    /// Sends one frame.
    async fn frame(
        &mut self,
        kind: u8,
        flags: u8,
        stream: u32,
        payload: &[u8],
    ) -> std::io::Result<()> {
        let mut out = Vec::new();
        frame(&mut out, kind, flags, stream, payload);
        self.send(&out).await
    }

    /// Reads until `done` holds of the events so far, the connection
    /// closes, or `until` passes.
    async fn read_until(&mut self, until: Instant, done: impl Fn(&[Event]) -> bool) {
        let mut chunk = vec![0u8; 64 * 1024];
        while !done(&self.events) && !self.closed {
            let left = until.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.io.read(&mut chunk)).await {
                Err(_) => return,
                Ok(Ok(0) | Err(_)) => {
                    self.closed = true;
                    if !self
                        .events
                        .iter()
                        .any(|e| matches!(e, Event::GoAway { .. }))
                    {
                        self.events.push(Event::Closed);
                    }
                }
                Ok(Ok(n)) => {
                    self.input.extend_from_slice(&chunk[..n]);
                    self.parse().await;
                }
            }
        }
    }

    /// Turns whole frames of the input into events, answering SETTINGS
    /// and PING as a client must.
    async fn parse(&mut self) {
        while self.input.len() >= 9 {
            let len = usize::from(self.input[0]) << 16
                | usize::from(self.input[1]) << 8
                | usize::from(self.input[2]);
            if self.input.len() < 9 + len {
                return;
            }
            let kind = self.input[3];
            let flags = self.input[4];
            let stream =
                u32::from_be_bytes(self.input[5..9].try_into().expect("4 bytes")) & 0x7fff_ffff;
            let payload: Vec<u8> = self.input[9..9 + len].to_vec();
            self.input.drain(..9 + len);
            match kind {
                DATA => {
                    *self.bodies.entry(stream).or_default() += payload.len();
                    if flags & END_STREAM != 0 {
                        let body = self.bodies[&stream];
                        self.events.push(Event::End { stream, body });
                    }
                }
                HEADERS => {
                    // Skip padding and priority; the proxy sends neither.
                    self.partial = Some((stream, payload, flags & END_STREAM != 0));
                    if flags & END_HEADERS != 0 {
                        self.head();
                    }
                }
                CONTINUATION => {
                    if let Some((_, bytes, _)) = &mut self.partial {
                        bytes.extend_from_slice(&payload);
                    }
                    if flags & END_HEADERS != 0 {
                        self.head();
                    }
                }
                RST_STREAM => {
                    let code = u32::from_be_bytes(payload[..4].try_into().expect("4 bytes"));
                    self.events.push(Event::Reset { stream, code });
                }
                GOAWAY => {
                    let code = u32::from_be_bytes(payload[4..8].try_into().expect("4 bytes"));
                    self.events.push(Event::GoAway { code });
                }
                SETTINGS if flags & ACK == 0 => {
                    let _ = self.frame(SETTINGS, ACK, 0, &[]).await;
                }
                PING if flags & ACK == 0 => {
                    let _ = self.frame(PING, ACK, 0, &payload).await;
                }
                _ => {}
            }
        }
    }

    /// A complete header block from the proxy: decoded, so the dynamic
    /// table stays in step; a response head or trailers.
    fn head(&mut self) {
        let Some((stream, bytes, end)) = self.partial.take() else {
            return;
        };
        let fields = self
            .hpack
            .decode(&bytes)
            .expect("the proxy's HPACK decodes");
        if let Some((_, status)) = fields.iter().find(|(n, _)| n == b":status") {
            let status = std::str::from_utf8(status)
                .ok()
                .and_then(|s| s.parse().ok())
                .expect("a numeric :status");
            self.events.push(Event::Head { stream, status });
        }
        if end {
            let body = self.bodies.get(&stream).copied().unwrap_or(0);
            self.events.push(Event::End { stream, body });
        }
    }

    /// Waits for `stream` to end and says how.
    async fn outcome(&mut self, stream: u32) -> Outcome {
        let ended = |events: &[Event]| {
            events.iter().any(|e| match e {
                Event::End { stream: s, .. } | Event::Reset { stream: s, .. } => *s == stream,
                Event::GoAway { .. } | Event::Closed => true,
                Event::Head { .. } => false,
            })
        };
        self.read_until(Instant::now() + BOUND, ended).await;
        let status = self.events.iter().find_map(|e| match e {
            Event::Head { stream: s, status } if *s == stream && *status >= 200 => Some(*status),
            _ => None,
        });
        for e in &self.events {
            match e {
                Event::End { stream: s, .. } if *s == stream => {
                    return Outcome::Answered(status.expect("a head before the end"));
                }
                Event::Reset { stream: s, code } if *s == stream => return Outcome::Reset(*code),
                _ => {}
            }
        }
        for e in &self.events {
            match e {
                Event::GoAway { code } => return Outcome::GoAway(*code),
                Event::Closed => return Outcome::Closed,
                _ => {}
            }
        }
        Outcome::Silent
    }

    /// Reads until the proxy ends the connection (GOAWAY then close, or a
    /// close) or `limit` passes; the GOAWAY code if one came.
    async fn goaway(&mut self, limit: Duration) -> Option<u32> {
        self.read_until(Instant::now() + limit, |_| false).await;
        self.events.iter().find_map(|e| match e {
            Event::GoAway { code } => Some(*code),
            _ => None,
        })
    }
}

/// Appends one frame.
fn frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    let len = u32::try_from(payload.len()).expect("frame length");
    assert!(len < 1 << 24, "a frame's length fits 24 bits");
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
}

// ---------------------------------------------------------------- the proxy

/// A TLS proxy for front.test before a strict recording member.
struct Site {
    proxy: ProxyHandle,
    member: Recording,
    _dir: tempfile::TempDir,
}

impl Site {
    async fn start(tune: impl FnOnce(&mut ProxyConfig)) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = Ca::new();
        let leaf = ca.leaf(dir.path(), "front", &["front.test"], false);
        let member = Recording::start(Duration::ZERO).await;
        let mut cfg = ProxyConfig {
            members: vec![MemberConfig::new(member.url())],
            preserve_host: true,
            workers: Some(1),
            ..common::config(&[])
        };
        cfg.tls = Some(tls(&[&leaf], false));
        tune(&mut cfg);
        let proxy = ProxyHandle::start(cfg).expect("proxy starts");
        Site {
            proxy,
            member,
            _dir: dir,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.proxy.local_addrs()[0]
    }

    /// A well-behaved client on its own connection is answered 200 by the member.
    async fn still_serves(&self) {
        let before = self.member.requests().len();
        let mut c = Raw::open(self.addr(), &[]).await;
        c.frame(HEADERS, END_HEADERS | END_STREAM, 1, &get("/after", &[]))
            .await
            .expect("send");
        assert_eq!(c.outcome(1).await, Outcome::Answered(200));
        let requests = self.member.requests();
        assert_eq!(requests.len(), before + 1);
        assert_eq!(requests[before].target, "/after");
    }

    /// Every request the member got, as `METHOD TARGET`.
    fn received(&self) -> Vec<String> {
        self.member
            .requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.target))
            .collect()
    }

    /// The member never saw a byte it could not parse or a cut request.
    fn member_clean(&self) {
        for (i, c) in self.member.conns().iter().enumerate() {
            assert!(
                c.malformed.is_none(),
                "member connection {i}: {:?}",
                c.malformed
            );
            assert_eq!(
                c.consumed,
                c.bytes.len(),
                "member connection {i} has leftover bytes"
            );
        }
    }
}

// ---------------------------------------------------------------- the cases

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_request_reaches_the_member_as_http11() {
    let site = Site::start(|_| {}).await;
    let mut c = Raw::open(site.addr(), &[]).await;
    c.frame(
        HEADERS,
        END_HEADERS | END_STREAM,
        1,
        &get("/a?b=1", &[("accept", "*/*")]),
    )
    .await
    .expect("send");
    assert_eq!(c.outcome(1).await, Outcome::Answered(200));
    let requests = site.member.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.target.as_str(), r.version),
        ("GET", "/a?b=1", 1)
    );
    assert_eq!(r.one("host"), Some("front.test"));
    assert_eq!(r.one("accept"), Some("*/*"));
    assert_eq!(r.one("x-forwarded-proto"), Some("https"));
    site.member_clean();
}

/// Heads RFC 9113 calls malformed (§8.1.1, §8.2, §8.3), and fields that
/// would turn into a second request or a second framing in the HTTP/1.1
/// the member reads: each refused on its own connection (a 4xx, a stream
/// reset or the connection's end), none reaching the member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_heads_are_refused_and_never_reach_the_member() {
    let site = Site::start(|_| {}).await;
    let base = |skip: &str| -> Vec<(&'static str, &'static str)> {
        [
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/x"),
            (":authority", "front.test"),
        ]
        .into_iter()
        .filter(|(n, _)| *n != skip)
        .collect()
    };
    let with = |fields: &[(&'static str, &'static str)]| {
        let mut f = base("");
        f.extend_from_slice(fields);
        block(&f)
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("no :path", block(&base(":path"))),
        ("no :method", block(&base(":method"))),
        ("no :scheme", block(&base(":scheme"))),
        (
            "empty :path",
            block(&[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", ""),
                (":authority", "front.test"),
            ]),
        ),
        ("two :path", with(&[(":path", "/smuggled")])),
        (
            "a pseudo-header after a field",
            block(&[
                (":method", "GET"),
                (":scheme", "https"),
                ("accept", "*/*"),
                (":path", "/x"),
                (":authority", "front.test"),
            ]),
        ),
        ("an unknown pseudo-header", with(&[(":smuggle", "1")])),
        ("a response pseudo-header", with(&[(":status", "200")])),
        ("an upper-case field name", with(&[("X-Upper", "1")])),
        ("a field name with a space", with(&[("x a", "1")])),
        ("a field name with a colon", with(&[("x:a", "1")])),
        (
            "CR LF in a value",
            with(&[(
                "x-a",
                "1\r\nGET /smuggled HTTP/1.1\r\nhost: front.test\r\n\r\n",
            )]),
        ),
        ("a bare LF in a value", with(&[("x-a", "1\nx-b: 2")])),
        ("NUL in a value", with(&[("x-a", "1\0")])),
        ("connection", with(&[("connection", "close")])),
        ("keep-alive", with(&[("keep-alive", "timeout=5")])),
        (
            "proxy-connection",
            with(&[("proxy-connection", "keep-alive")]),
        ),
        (
            "transfer-encoding",
            with(&[("transfer-encoding", "chunked")]),
        ),
        ("upgrade", with(&[("upgrade", "websocket")])),
        ("te other than trailers", with(&[("te", "gzip")])),
        (
            "two content-length values",
            block(&[
                (":method", "POST"),
                (":scheme", "https"),
                (":path", "/x"),
                (":authority", "front.test"),
                ("content-length", "1"),
                ("content-length", "2"),
            ]),
        ),
        (
            "a host that differs from :authority",
            with(&[("host", "other.test")]),
        ),
        (
            "CONNECT",
            block(&[(":method", "CONNECT"), (":authority", "member.test:80")]),
        ),
        (
            ":path with no leading slash",
            block(&[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "x"),
                (":authority", "front.test"),
            ]),
        ),
        (
            "a space in :path",
            block(&[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/x HTTP/1.1\r\nhost: a\r\n\r\nGET /smuggled"),
                (":authority", "front.test"),
            ]),
        ),
        (
            "a space in :method",
            block(&[
                (":method", "GET /smuggled HTTP/1.1\r\n"),
                (":scheme", "https"),
                (":path", "/x"),
                (":authority", "front.test"),
            ]),
        ),
        (
            "CR LF in :authority",
            block(&[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/x"),
                (":authority", "front.test\r\nx-a: 1"),
            ]),
        ),
    ];
    let mut failures = Vec::new();
    for (name, head) in cases {
        let mut c = Raw::open(site.addr(), &[]).await;
        c.frame(HEADERS, END_HEADERS | END_STREAM, 1, &head)
            .await
            .expect("send");
        let outcome = c.outcome(1).await;
        let refused = match outcome {
            Outcome::Answered(status) => (400..500).contains(&status),
            Outcome::Reset(code) | Outcome::GoAway(code) => code == PROTOCOL_ERROR,
            Outcome::Closed | Outcome::Silent => false,
        };
        if !refused {
            failures.push(format!("{name}: {outcome:?}"));
        }
    }
    assert!(failures.is_empty(), "not refused: {failures:#?}");
    assert_eq!(
        site.received(),
        Vec::<String>::new(),
        "the member got none of them"
    );
    site.still_serves().await;
    site.member_clean();
}

/// A body longer or shorter than its `Content-Length` (RFC 9113 §8.1.1:
/// malformed) is never passed on whole: the member gets no byte past the
/// declared length and no request made of the excess, and no cut request
/// holds its connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_disagrees_with_its_content_length_smuggles_nothing() {
    let site = Site::start(|_| {}).await;
    let post = |len: &'static str| {
        block(&[
            (":method", "POST"),
            (":scheme", "https"),
            (":path", "/upload"),
            (":authority", "front.test"),
            ("content-length", len),
        ])
    };
    let smuggled = b"helloGET /smuggled HTTP/1.1\r\nhost: front.test\r\n\r\n";
    // Longer than declared, in one DATA frame and then in two.
    for split in [smuggled.len(), 5] {
        let mut c = Raw::open(site.addr(), &[]).await;
        c.frame(HEADERS, END_HEADERS, 1, &post("5"))
            .await
            .expect("send");
        if split < smuggled.len() {
            c.frame(DATA, 0, 1, &smuggled[..split]).await.expect("send");
            c.frame(DATA, END_STREAM, 1, &smuggled[split..])
                .await
                .expect("send");
        } else {
            c.frame(DATA, END_STREAM, 1, smuggled).await.expect("send");
        }
        let outcome = c.outcome(1).await;
        assert!(
            matches!(
                outcome,
                Outcome::Reset(PROTOCOL_ERROR) | Outcome::Answered(400)
            ),
            "longer body, split at {split}: {outcome:?}"
        );
    }
    // Shorter than declared.
    let mut c = Raw::open(site.addr(), &[]).await;
    c.frame(HEADERS, END_HEADERS, 1, &post("10"))
        .await
        .expect("send");
    c.frame(DATA, END_STREAM, 1, b"hello").await.expect("send");
    let outcome = c.outcome(1).await;
    assert!(
        matches!(
            outcome,
            Outcome::Reset(PROTOCOL_ERROR) | Outcome::Answered(400)
        ),
        "shorter body: {outcome:?}"
    );
    assert!(
        site.member.wait_all_closed(BOUND).await || site.member.open() <= 1,
        "no member connection is held by a cut request"
    );
    for r in site.member.requests() {
        assert_ne!(
            r.target, "/smuggled",
            "a smuggled request reached the member"
        );
        assert!(
            r.body.len() <= 5,
            "the member got {} body bytes",
            r.body.len()
        );
    }
    site.still_serves().await;
    site.member_clean();
}

/// Rapid reset (CVE-2023-44487): streams opened and cancelled at once, in
/// one write. The proxy ends the connection (GOAWAY ENHANCE_YOUR_CALM)
/// long before it has opened a member request for each, and another
/// client is still served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rapid_reset_is_cut_off_and_costs_other_clients_nothing() {
    let site = Site::start(|_| {}).await;
    let mut c = Raw::open(site.addr(), &[]).await;
    const STREAMS: u32 = 2000;
    let mut burst = Vec::new();
    for i in 0..STREAMS {
        let id = 2 * i + 1;
        frame(
            &mut burst,
            HEADERS,
            END_HEADERS | END_STREAM,
            id,
            &get("/reset", &[]),
        );
        frame(&mut burst, RST_STREAM, 0, id, &CANCEL.to_be_bytes());
    }
    // The proxy may close mid-burst; what it said is what counts.
    let _ = c.send(&burst).await;
    assert_eq!(
        c.goaway(BOUND).await,
        Some(ENHANCE_YOUR_CALM),
        "{:?}",
        c.events.last()
    );
    let reached = site.member.requests().len();
    assert!(
        reached < 200,
        "{reached} of {STREAMS} cancelled streams reached the member"
    );
    site.still_serves().await;
    site.member_clean();
}

/// CONTINUATION flood (CVE-2024-27316): a header block that never ends.
/// The proxy ends the connection without buffering it, and no request
/// reaches the member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuation_flood_ends_the_connection() {
    let site = Site::start(|_| {}).await;
    let mut c = Raw::open(site.addr(), &[]).await;
    c.frame(HEADERS, 0, 1, &get("/flood", &[]))
        .await
        .expect("send");
    let filler = "f".repeat(1000);
    let mut sent = 0usize;
    for i in 0..5000 {
        let name = format!("x-flood-{i}");
        let payload = block(&[(name.as_str(), filler.as_str())]);
        if c.frame(CONTINUATION, 0, 1, &payload).await.is_err() {
            break;
        }
        sent += 1;
    }
    let code = c.goaway(BOUND).await;
    assert!(
        matches!(code, Some(ENHANCE_YOUR_CALM | PROTOCOL_ERROR)) || c.closed,
        "after {sent} CONTINUATION frames: {:?}",
        c.events
    );
    assert!(c.closed, "the connection is closed");
    assert_eq!(site.received(), Vec::<String>::new());
    site.still_serves().await;
}

/// An HPACK bomb: one 4 KB field put in the dynamic table, then a head
/// that names it thousands of times (a few bytes on the wire, tens of MB
/// decoded). Refused against `LimitRequestFields` × `LimitRequestFieldSize`
/// (431 or a reset), never decoded whole into a request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hpack_bomb_is_refused() {
    let site = Site::start(|_| {}).await;
    let mut c = Raw::open(site.addr(), &[]).await;
    let mut first = get("/seed", &[]);
    literal(&mut first, 0x40, b"x-bomb", "b".repeat(4000).as_bytes());
    c.frame(HEADERS, END_HEADERS | END_STREAM, 1, &first)
        .await
        .expect("send");
    assert_eq!(c.outcome(1).await, Outcome::Answered(200));
    // Index 62: the newest entry of the dynamic table, x-bomb.
    let mut bomb = get("/bomb", &[]);
    bomb.extend(std::iter::repeat_n(0x80 | 62, 5000));
    c.frame(HEADERS, END_HEADERS | END_STREAM, 3, &bomb)
        .await
        .expect("send");
    let outcome = c.outcome(3).await;
    assert!(
        matches!(
            outcome,
            Outcome::Answered(431) | Outcome::Reset(_) | Outcome::GoAway(_)
        ),
        "{outcome:?}"
    );
    assert_eq!(site.received(), vec!["GET /seed".to_owned()]);
    site.still_serves().await;
}

/// Streams past `SETTINGS_MAX_CONCURRENT_STREAMS` (100) are refused
/// (REFUSED_STREAM), and the hundred whose bodies never come hold no
/// member connection: each is answered 408 when `body_read_timeout`
/// passes, without reaching the member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_past_the_limit_are_refused_and_stalled_bodies_time_out() {
    let site = Site::start(|cfg| cfg.body_read_timeout = Duration::from_millis(500)).await;
    let mut c = Raw::open(site.addr(), &[]).await;
    let post = block(&[
        (":method", "POST"),
        (":scheme", "https"),
        (":path", "/stall"),
        (":authority", "front.test"),
        ("content-length", "10"),
    ]);
    let mut burst = Vec::new();
    for i in 0..101 {
        frame(&mut burst, HEADERS, END_HEADERS, 2 * i + 1, &post);
    }
    c.send(&burst).await.expect("send");
    assert_eq!(c.outcome(201).await, Outcome::Reset(REFUSED_STREAM));
    assert_eq!(
        site.member.open(),
        0,
        "no member connection for a body not yet read"
    );
    for i in 0..100 {
        assert_eq!(
            c.outcome(2 * i + 1).await,
            Outcome::Answered(408),
            "stream {}",
            2 * i + 1
        );
    }
    assert_eq!(site.received(), Vec::<String>::new());
    site.still_serves().await;
}

/// Empty DATA frames, thousands on one stream: each is framing with no
/// payload to read; the proxy ends the connection (ENHANCE_YOUR_CALM).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_empty_data_frames_ends_the_connection() {
    let site = Site::start(|_| {}).await;
    let mut c = Raw::open(site.addr(), &[]).await;
    let mut burst = Vec::new();
    frame(
        &mut burst,
        HEADERS,
        END_HEADERS,
        1,
        &block(&[
            (":method", "POST"),
            (":scheme", "https"),
            (":path", "/empty"),
            (":authority", "front.test"),
        ]),
    );
    for _ in 0..20_000 {
        frame(&mut burst, DATA, 0, 1, &[]);
    }
    let _ = c.send(&burst).await;
    assert_eq!(
        c.goaway(BOUND).await,
        Some(ENHANCE_YOUR_CALM),
        "{:?}",
        c.events.last()
    );
    assert!(site.received().len() <= 1);
    site.still_serves().await;
    site.member_clean();
}

/// A client that opens no flow-control window (SETTINGS_INITIAL_WINDOW_SIZE
/// 0) can never be sent its response body, and costs nothing on the wire
/// while it waits. Each such stream holds a member connection only until
/// `send_timeout`: then it is reset (CANCEL) and the member's connection
/// closed, while the client's connection and its other streams go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_opens_no_window_holds_a_member_only_until_send_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let leaf = Ca::new().leaf(dir.path(), "front", &["front.test"], false);
    let m = common::member(|_: http::Request<hyper::body::Incoming>| async {
        http::Response::new(common::full(vec![b'x'; 1 << 20]))
    })
    .await;
    let limit = Duration::from_secs(1);
    let mut cfg = common::config(&[&m]);
    cfg.tls = Some(tls(&[&leaf], false));
    cfg.send_timeout = limit;
    let proxy = ProxyHandle::start(cfg).expect("proxy starts");
    let in_flight = || -> u64 { proxy.stats().members.iter().map(|m| m.in_flight).sum() };
    let mut clients = Vec::new();
    for _ in 0..5 {
        let mut c = Raw::open(proxy.local_addrs()[0], &[(INITIAL_WINDOW_SIZE, 0)]).await;
        c.frame(HEADERS, END_HEADERS | END_STREAM, 1, &get("/big", &[]))
            .await
            .expect("send");
        c.read_until(Instant::now() + BOUND, |e| {
            e.iter().any(|e| matches!(e, Event::Head { stream: 1, .. }))
        })
        .await;
        assert!(
            c.events.contains(&Event::Head {
                stream: 1,
                status: 200
            }),
            "{:?}",
            c.events
        );
        clients.push(c);
    }
    let started = Instant::now();
    assert_eq!(
        in_flight(),
        5,
        "five member connections held while the windows are shut"
    );
    for c in &mut clients {
        assert_eq!(c.outcome(1).await, Outcome::Reset(CANCEL));
    }
    assert!(
        started.elapsed() < limit * 3,
        "reset after {:?}",
        started.elapsed()
    );
    assert_eq!(in_flight(), 0, "the member connections are let go");
    // The connection itself goes on: a request with a body that fits the
    // (zero) window, a 204-sized answer, is still served.
    let c = &mut clients[0];
    c.frame(
        HEADERS,
        END_HEADERS | END_STREAM,
        3,
        &block(&[
            (":method", "HEAD"),
            (":scheme", "https"),
            (":path", "/big"),
            (":authority", "front.test"),
        ]),
    )
    .await
    .expect("send");
    assert_eq!(c.outcome(3).await, Outcome::Answered(200));
}
