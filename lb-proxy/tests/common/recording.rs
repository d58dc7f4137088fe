//! A member that records every byte it receives and parses it strictly, for
//! tests that assert exactly what reached a member: nothing, or well-formed
//! requests with known boundaries. It answers each complete request with
//! `200 ok` on the same keep-alive connection, and closes a connection whose
//! bytes it cannot parse (recording why). It sends `100 Continue` to a head
//! that expects it while the body has not arrived, as an origin server does
//! (RFC 9110 §10.1.1).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How a received request's body was framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// No body framing at all.
    None,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// How strictly the member reads what a proxy sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strictness {
    /// had's contract: HTTP/1.1 only, `chunked` in lower case, chunked
    /// bodies without extensions or trailers.
    #[default]
    Proxy,
    /// What RFC 9112 lets any proxy send: HTTP/1.0 too (Host optional
    /// there), `chunked` in any case, chunk extensions and trailer fields
    /// (recorded in [`Received::trailers`]). For comparing other proxies.
    Rfc,
}

/// One complete request as the member parsed it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Method.
    pub method: String,
    /// Request-target as sent.
    pub target: String,
    /// Header fields in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body framing.
    pub framing: Framing,
    /// Decoded body.
    pub body: Vec<u8>,
    /// HTTP minor version (1 for HTTP/1.1, 0 for HTTP/1.0).
    pub version: u8,
    /// Trailer fields of a chunked body, names lower-cased.
    pub trailers: Vec<(String, String)>,
    /// Arrival order over all of this member's connections (0, 1, 2, …).
    pub seq: u64,
}

impl Received {
    /// Every value of `name` (lower-case).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The single value of `name`, if present once.
    pub fn one(&self, name: &str) -> Option<&str> {
        match self.all(name).as_slice() {
            [v] => Some(v),
            _ => None,
        }
    }
}

/// What happened on one member connection.
#[derive(Debug, Clone, Default)]
pub struct ConnLog {
    /// Every byte received, in order.
    pub bytes: Vec<u8>,
    /// Complete requests parsed from them.
    pub requests: Vec<Received>,
    /// How many of `bytes` those requests used (the rest is an incomplete request).
    pub consumed: usize,
    /// Set when the bytes could not be parsed (the member then closed).
    pub malformed: Option<String>,
    /// The proxy closed the connection with a request incomplete.
    pub cut_mid_request: bool,
    /// The connection is closed.
    pub closed: bool,
}

/// A recording member on 127.0.0.1.
pub struct Recording {
    /// Its address.
    pub addr: SocketAddr,
    open: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    conns: Arc<Mutex<Vec<ConnLog>>>,
    task: tokio::task::JoinHandle<()>,
}

/// What every connection of one member shares.
#[derive(Clone, Copy)]
struct Serving<'a> {
    conns: &'a Mutex<Vec<ConnLog>>,
    arrivals: &'a AtomicU64,
    delay: Duration,
    strictness: Strictness,
}

impl Drop for Recording {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Recording {
    /// Starts a recording member; `delay` is how long it waits before each answer.
    pub async fn start(delay: Duration) -> Self {
        Self::start_with(delay, Strictness::Proxy).await
    }

    /// Starts a recording member that reads requests with `strictness`.
    pub async fn start_with(delay: Duration, strictness: Strictness) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let open = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (o, a, c) = (open.clone(), accepted.clone(), conns.clone());
        let arrivals = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                a.fetch_add(1, Ordering::SeqCst);
                o.fetch_add(1, Ordering::SeqCst);
                let index = {
                    let mut all = c.lock().expect("lock");
                    all.push(ConnLog::default());
                    all.len() - 1
                };
                let (o, c, arrivals) = (o.clone(), c.clone(), arrivals.clone());
                tokio::spawn(async move {
                    let serving = Serving {
                        conns: &c,
                        arrivals: &arrivals,
                        delay,
                        strictness,
                    };
                    serve(stream, index, serving).await;
                    if let Some(log) = c.lock().expect("lock").get_mut(index) {
                        log.closed = true;
                    }
                    o.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            addr,
            open,
            accepted,
            conns,
            task,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Member connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Member connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// What each connection saw so far.
    pub fn conns(&self) -> Vec<ConnLog> {
        self.conns.lock().expect("lock").clone()
    }

    /// Every complete request, over all connections, in connection order.
    pub fn requests(&self) -> Vec<Received> {
        self.conns().into_iter().flat_map(|c| c.requests).collect()
    }

    /// Waits until no member connection is open, up to `limit`; whether it got there.
    pub async fn wait_all_closed(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.open() > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }
}

/// Parse outcome of the bytes buffered on a connection.
enum Parsed {
    /// A complete request and how many bytes it used.
    Request(Received, usize),
    /// Need more bytes.
    Partial,
    /// Cannot be parsed.
    Malformed(String),
}

async fn serve(mut stream: TcpStream, index: usize, serving: Serving<'_>) {
    let Serving {
        conns,
        arrivals,
        delay,
        strictness,
    } = serving;
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    // Whether the request at the start of `buf` was sent its 100 Continue.
    let mut continued = false;
    loop {
        // Answer every complete request already buffered.
        loop {
            match parse(&buf, strictness) {
                Parsed::Request(mut req, used) => {
                    buf.drain(..used);
                    continued = false;
                    req.seq = arrivals.fetch_add(1, Ordering::SeqCst);
                    if let Some(log) = conns.lock().expect("lock").get_mut(index) {
                        log.requests.push(req);
                        log.consumed += used;
                    }
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if stream.write_all(answer).await.is_err() {
                        return;
                    }
                }
                Parsed::Partial => {
                    if !continued && expects_continue(&buf) {
                        continued = true;
                        if stream
                            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    break;
                }
                Parsed::Malformed(why) => {
                    if let Some(log) = conns.lock().expect("lock").get_mut(index) {
                        log.malformed = Some(why);
                    }
                    return;
                }
            }
        }
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => {
                if !buf.is_empty()
                    && let Some(log) = conns.lock().expect("lock").get_mut(index)
                {
                    log.cut_mid_request = true;
                }
                return;
            }
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        if let Some(log) = conns.lock().expect("lock").get_mut(index) {
            log.bytes.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Whether `buf` starts with a complete head that carries `Expect:
/// 100-continue` (its body then has not arrived whole).
fn expects_continue(buf: &[u8]) -> bool {
    let mut fields = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut fields);
    matches!(req.parse(buf), Ok(httparse::Status::Complete(_)))
        && req.headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case("expect") && h.value.eq_ignore_ascii_case(b"100-continue")
        })
}

/// Strict RFC 9112 parsing of one request at the start of `buf`.
fn parse(buf: &[u8], strictness: Strictness) -> Parsed {
    if buf.is_empty() {
        return Parsed::Partial;
    }
    let mut fields = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut fields);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(e) => return Parsed::Malformed(format!("head: {e}")),
    };
    // The proxy must only ever send CRLF line ends.
    let head = &buf[..head_len];
    if head
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || head[i - 1] != b'\r'))
    {
        return Parsed::Malformed("bare LF in head".into());
    }
    let version = req.version.unwrap_or(0);
    if version != 1 && !(strictness == Strictness::Rfc && version == 0) {
        return Parsed::Malformed(format!("HTTP/1.{version}, not HTTP/1.1"));
    }
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let mut received = Received {
        method: req.method.unwrap_or_default().to_owned(),
        target: req.path.unwrap_or_default().to_owned(),
        headers,
        framing: Framing::None,
        body: Vec::new(),
        version,
        trailers: Vec::new(),
        seq: 0,
    };
    let lengths = received.all("content-length");
    let codings = received.all("transfer-encoding");
    if !lengths.is_empty() && !codings.is_empty() {
        return Parsed::Malformed("both Content-Length and Transfer-Encoding".into());
    }
    // RFC 9112 §3.2: one Host in HTTP/1.1; HTTP/1.0 may leave it out.
    let hosts = received.all("host").len();
    if hosts > 1 || (hosts == 0 && version == 1) {
        return Parsed::Malformed(format!("{hosts} Host fields"));
    }
    let rest = &buf[head_len..];
    if !codings.is_empty() {
        let chunked = match strictness {
            Strictness::Proxy => codings == ["chunked"],
            Strictness::Rfc => {
                matches!(codings.as_slice(), [c] if c.eq_ignore_ascii_case("chunked"))
            }
        };
        if !chunked {
            return Parsed::Malformed(format!("Transfer-Encoding {codings:?}"));
        }
        received.framing = Framing::Chunked;
        match dechunk(rest, strictness) {
            Ok(Some((body, trailers, used))) => {
                received.body = body;
                received.trailers = trailers;
                Parsed::Request(received, head_len + used)
            }
            Ok(None) => Parsed::Partial,
            Err(e) => Parsed::Malformed(e),
        }
    } else if !lengths.is_empty() {
        let [len] = lengths.as_slice() else {
            return Parsed::Malformed("several Content-Length fields".into());
        };
        let Ok(n) = len.parse::<u64>() else {
            return Parsed::Malformed(format!("Content-Length {len:?}"));
        };
        if !len.bytes().all(|b| b.is_ascii_digit()) {
            return Parsed::Malformed(format!("Content-Length {len:?}"));
        }
        received.framing = Framing::Length(n);
        let Ok(n) = usize::try_from(n) else {
            return Parsed::Malformed("Content-Length too large".into());
        };
        if rest.len() < n {
            return Parsed::Partial;
        }
        received.body = rest[..n].to_vec();
        Parsed::Request(received, head_len + n)
    } else {
        Parsed::Request(received, head_len)
    }
}

/// A decoded chunked body, its trailer fields and the bytes it used.
type Dechunked = (Vec<u8>, Vec<(String, String)>, usize);

/// Decodes a chunked body strictly (hex sizes, CRLF everywhere; with
/// [`Strictness::Proxy`] no extensions or trailers, which a proxy that
/// re-chunks does not send); `Ok(None)`: incomplete.
fn dechunk(mut rest: &[u8], strictness: Strictness) -> Result<Option<Dechunked>, String> {
    let start = rest.len();
    let mut body = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let mut line = &rest[..eol];
        if strictness == Strictness::Rfc
            && let Some(semi) = line.iter().position(|&b| b == b';')
        {
            // RFC 9112 §7.1.1: chunk-ext, visible text and whitespace only.
            if line[semi..]
                .iter()
                .any(|&b| b.is_ascii_control() && b != b'\t')
            {
                return Err(format!(
                    "chunk extension {:?}",
                    String::from_utf8_lossy(line)
                ));
            }
            line = line[..semi].trim_ascii_end();
        }
        if line.is_empty() || !line.iter().all(u8::is_ascii_hexdigit) || line.len() > 16 {
            return Err(format!(
                "chunk-size line {:?}",
                String::from_utf8_lossy(line)
            ));
        }
        let size = usize::from_str_radix(std::str::from_utf8(line).unwrap_or("x"), 16)
            .map_err(|e| format!("chunk size: {e}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            if strictness == Strictness::Rfc {
                let mut fields = [httparse::EMPTY_HEADER; 64];
                return match httparse::parse_headers(rest, &mut fields) {
                    Ok(httparse::Status::Complete((used, fields))) => {
                        let trailers = fields
                            .iter()
                            .map(|h| {
                                (
                                    h.name.to_ascii_lowercase(),
                                    String::from_utf8_lossy(h.value).into_owned(),
                                )
                            })
                            .collect();
                        Ok(Some((body, trailers, start - rest.len() + used)))
                    }
                    Ok(httparse::Status::Partial) => Ok(None),
                    Err(e) => Err(format!("trailer section: {e}")),
                };
            }
            if rest.len() < 2 {
                return Ok(None);
            }
            if &rest[..2] != b"\r\n" {
                return Err("trailer section from the proxy".into());
            }
            rest = &rest[2..];
            return Ok(Some((body, Vec::new(), start - rest.len())));
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&rest[..size]);
        if &rest[size..size + 2] != b"\r\n" {
            return Err("chunk data not followed by CRLF".into());
        }
        rest = &rest[size + 2..];
    }
}
