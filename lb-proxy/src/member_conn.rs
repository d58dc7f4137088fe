//! The member side of the proxy: one HTTP/1.1 keep-alive connection to a
//! member, driven by the task that serves the client's request.
//!
//! hyper's client runs each connection as its own task and hands requests
//! and responses over channels; under callgrind that hand-off plus hyper's
//! general-purpose client codec was a third of the instructions per proxied
//! request (lb-proxy/README.md). A proxy needs far less: write one request
//! head (it has already been checked by hyper's server and our layers), parse
//! one response head with `httparse` (what hyper uses too), and frame the
//! body by RFC 9112 §6.3. The request's own task does all of it, so nothing
//! crosses a channel and no task is woken in between.
//!
//! What the connection guarantees:
//! - A request whose head could not be written comes back untouched
//!   ([`ExchangeError::NotSent`]): safe to send elsewhere.
//! - A reused connection the member closed before answering is reported as
//!   [`ExchangeError::ClosedBeforeResponse`], so the caller can resend a
//!   bodiless request once on a fresh connection.
//! - A connection goes back to the pool only when its response was read to
//!   its framed end, neither side asked to close, and the request was sent
//!   whole.
//!
//! The connection's bytes travel over [`MemberIo`]: plain TCP, or TLS for
//! `https://` and `wss://` members. It is an enum, not a trait object or a
//! type parameter: plain TCP pays one well-predicted branch per I/O call
//! (no box, no virtual call, no generic spreading to the pool, the body and
//! the layers), and its idle check and reads are the same system calls as
//! before TLS existed. The TLS stream is boxed (rustls's state is a few
//! KiB; the enum stays the size of a `TcpStream` in every request's future).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::body::{BoxError, ClientBodyError, RequestBody};
use crate::h1::{self, BodyFraming, ChunkState, ChunkStep, RequestFraming, ResponseHead};
use crate::member_tls::Connector;

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 16 * 1024;

/// The byte stream of a member connection.
#[derive(Debug)]
pub(crate) enum MemberIo {
    /// `http://`, `ws://`.
    Plain(TcpStream),
    /// `https://`, `wss://`.
    Tls(Box<TlsStream<TcpStream>>),
}

impl MemberIo {
    /// Connects to `addr`, with a TLS handshake when `tls` is given, all
    /// within `connect_timeout`: a member that accepts TCP but never
    /// completes its handshake is a connect failure like a refused one.
    pub(crate) async fn connect(
        addr: SocketAddr,
        tls: Option<&Connector>,
        connect_timeout: Duration,
    ) -> io::Result<Self> {
        let open = async {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            Ok(match tls {
                None => Self::Plain(tcp),
                Some(tls) => Self::Tls(Box::new(tls.handshake(tcp).await?)),
            })
        };
        tokio::time::timeout(connect_timeout, open)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))?
    }

    /// Whether the member sent nothing since the last response: not a close,
    /// not bytes nobody asked for. No system call unless the socket reports
    /// something readable.
    fn idle_and_open(&mut self) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match self {
            Self::Plain(tcp) => match tcp.poll_read_ready(&mut cx) {
                Poll::Pending => true,
                Poll::Ready(Err(_)) => false,
                Poll::Ready(Ok(())) => {
                    let mut probe = [0u8; 1];
                    // WouldBlock: nothing there after all (readiness was stale);
                    // 0: closed; data: a response nobody asked for.
                    matches!(tcp.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
                }
            },
            // A read through rustls, not a peek at the socket: rustls
            // consumes what is not application data itself (TLS 1.3 session
            // tickets, key updates), and may hold decrypted bytes the socket
            // no longer shows. Only a close (close_notify or EOF), an error or
            // unasked bytes make it ready; the socket is read only when it
            // reports readable.
            Self::Tls(tls) => {
                let mut probe = [0u8; 1];
                let mut probe = ReadBuf::new(&mut probe);
                Pin::new(&mut **tls)
                    .poll_read(&mut cx, &mut probe)
                    .is_pending()
            }
        }
    }

    /// Reads what is there into `buf`'s spare capacity (at least one byte of
    /// which must be reserved); `Ok(0)`: closed.
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        match self {
            Self::Plain(tcp) => loop {
                ready!(tcp.poll_read_ready(cx))?;
                match tcp.try_read_buf(buf) {
                    Ok(n) => return Poll::Ready(Ok(n)),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Poll::Ready(Err(e)),
                }
            },
            Self::Tls(_) => {
                // tokio's `read_buf` future keeps no state between polls, so
                // one made for this poll and dropped after is a plain poll.
                let read = std::pin::pin!(self.read_buf(buf));
                read.poll(cx)
            }
        }
    }
}

impl AsyncRead for MemberIo {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Self::Tls(tls) => {
                // Records a write left in rustls go out before waiting for an
                // answer to them (see `poll_write`).
                if let Poll::Ready(Err(e)) = Pin::new(&mut **tls).poll_flush(cx) {
                    return Poll::Ready(Err(e));
                }
                Pin::new(&mut **tls).poll_read(cx, buf)
            }
        }
    }
}

impl AsyncWrite for MemberIo {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Self::Tls(tls) => poll_write_tls(tls, cx, buf),
        }
    }

    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Self::Tls(tls) => Pin::new(&mut **tls).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            // Sends close_notify, then shuts the socket's sending side.
            Self::Tls(tls) => Pin::new(&mut **tls).poll_shutdown(cx),
        }
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            // One slice at a time, as tokio's default does.
            Self::Tls(tls) => {
                let buf = bufs
                    .iter()
                    .find(|b| !b.is_empty())
                    .map_or(&[][..], |b| &**b);
                poll_write_tls(tls, cx, buf)
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        matches!(self, Self::Plain(_))
    }
}

/// Writes `buf` into the TLS session and sends its records.
///
/// tokio-rustls may keep encrypted records after a write that met a full
/// socket, until a flush. The request path and the tunnel write and then
/// read without flushing (a no-op on TCP), so each write pushes them out:
/// first what an earlier write left, then its own records, as far as the
/// socket takes them (the rest goes with the next read or write).
fn poll_write_tls(
    tls: &mut TlsStream<TcpStream>,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    let mut tls = Pin::new(tls);
    ready!(tls.as_mut().poll_flush(cx))?;
    let n = ready!(tls.as_mut().poll_write(cx, buf))?;
    if let Poll::Ready(Err(e)) = tls.poll_flush(cx) {
        return Poll::Ready(Err(e));
    }
    Poll::Ready(Ok(n))
}

/// An open HTTP/1.1 connection to a member.
#[derive(Debug)]
pub(crate) struct MemberConn {
    io: MemberIo,
    /// Bytes read from the member and not consumed yet.
    buf: BytesMut,
    /// How long it may sit idle in the pool.
    pub(crate) idle_timeout: Duration,
}

/// Why an exchange failed, by what the caller may still do.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExchangeError {
    /// The request head could not be written: nothing usable reached the
    /// member, and the request comes back.
    #[error("sending the request: {source}")]
    NotSent {
        /// The request, as it was given.
        request: Box<Request<RequestBody>>,
        /// The write error.
        source: io::Error,
    },
    /// The member closed the connection without a byte of response after the
    /// request went out (on a reused connection: it was closing it as idle).
    #[error("member closed the connection before answering")]
    ClosedBeforeResponse {
        /// The request as sent, when it had no streamed body: sending these
        /// bytes again is sending the same request.
        resend: Option<Bytes>,
        /// The request itself in that case, for another member.
        request: Option<Box<Request<RequestBody>>>,
    },
    /// The client's body broke while it streamed to the member (malformed
    /// chunked framing, an oversized trailer section, the client gone): the
    /// member connection was closed at once, mid-request, and never pooled.
    #[error("request body from the client: {source}")]
    ClientBody {
        /// What went wrong on the client's side.
        source: ClientBodyError,
    },
    /// Anything else: the request went out (at least partly) and no usable
    /// response came back.
    #[error("{source}")]
    Failed {
        /// What went wrong.
        source: BoxError,
        /// The request, when it had no streamed body (nothing of it was
        /// consumed, so it can go to another member).
        request: Option<Box<Request<RequestBody>>>,
    },
}

impl ExchangeError {
    fn failed(source: impl Into<BoxError>) -> Self {
        Self::Failed {
            source: source.into(),
            request: None,
        }
    }

    /// The request, when this error gives it back unconsumed.
    pub(crate) fn into_request(self) -> Option<Box<Request<RequestBody>>> {
        match self {
            Self::NotSent { request, .. } => Some(request),
            Self::ClosedBeforeResponse { request, .. } | Self::Failed { request, .. } => request,
            Self::ClientBody { .. } => None,
        }
    }
}

/// Which side broke a streamed request body.
#[derive(Debug)]
enum BodyError {
    /// The client's body (read from hyper) failed, stalled, or did not match
    /// its framing.
    Client(ClientBodyError),
    /// Writing to the member failed.
    Member(io::Error),
}

/// A member's response that switched protocols: the raw connection and the
/// bytes the member already sent after its 101 head, for the tunnel.
#[derive(Debug)]
pub(crate) struct Upgraded {
    pub(crate) io: MemberIo,
    pub(crate) read_ahead: Bytes,
}

/// Carries an [`Upgraded`] connection in a response's extensions (which must
/// be `Clone`); the tunnel takes it out once.
#[derive(Debug, Clone)]
pub(crate) struct UpgradeSlot(pub(crate) std::sync::Arc<std::sync::Mutex<Option<Upgraded>>>);

impl UpgradeSlot {
    /// The connection, the first time it is asked for.
    pub(crate) fn take(&self) -> Option<Upgraded> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

impl MemberConn {
    /// A connection over `io`, kept at most `idle_timeout` in the pool.
    pub(crate) fn new(io: MemberIo, idle_timeout: Duration) -> Self {
        Self {
            io,
            buf: BytesMut::new(),
            idle_timeout,
        }
    }

    /// Whether an idle connection may still carry a request: the member has
    /// not closed it and sent nothing unasked. Costs a system call only when
    /// the socket reports something readable.
    pub(crate) fn usable_when_idle(&mut self) -> bool {
        self.buf.is_empty() && self.io.idle_and_open()
    }

    /// Sends `req` and reads the response head; the body is read through the
    /// returned response, which owns the connection until its end.
    ///
    /// The request is encoded before the returned future exists, so the
    /// future (boxed and moved with every request) carries only the bytes.
    ///
    /// A streamed body that sends nothing for `body_idle` aborts the exchange.
    pub(crate) fn exchange(
        self,
        req: Request<RequestBody>,
        body_idle: Duration,
    ) -> impl Future<Output = Result<Response<MemberBody>, ExchangeError>> + Send {
        let head_only = req.method() == Method::HEAD;
        let framing = request_framing(&req);
        let mut out = BytesMut::with_capacity(512);
        encode_head(&req, framing, &mut out);
        // A fixed body goes out with the head, in one write.
        let streamed = match req.body() {
            RequestBody::Full(data) => {
                let data = data.as_deref().unwrap_or_default();
                match framing {
                    RequestFraming::Chunked => {
                        h1::encode_chunk(&mut out, data);
                        out.extend_from_slice(h1::LAST_CHUNK);
                    }
                    _ => out.extend_from_slice(data),
                }
                false
            }
            RequestBody::Incoming(_) | RequestBody::ReadAhead(_) => framing != RequestFraming::None,
        };
        self.send(
            out.freeze(),
            Some(req),
            streamed,
            framing,
            head_only,
            body_idle,
        )
    }

    /// Writes the encoded request bytes again on this (fresh) connection:
    /// the resend of a bodiless request the member closed on.
    pub(crate) async fn resend(
        self,
        bytes: Bytes,
        head_only: bool,
    ) -> Result<Response<MemberBody>, ExchangeError> {
        self.send(
            bytes,
            None,
            false,
            RequestFraming::None,
            head_only,
            Duration::ZERO,
        )
        .await
    }

    // Not an `async fn`: see `forward::forward` (arguments held once).
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn keeps its arguments twice in its state"
    )]
    fn send(
        mut self,
        out: Bytes,
        req: Option<Request<RequestBody>>,
        streamed: bool,
        framing: RequestFraming,
        head_only: bool,
        body_idle: Duration,
    ) -> impl Future<Output = Result<Response<MemberBody>, ExchangeError>> + Send {
        async move {
            if let Err(source) = self.io.write_all(&out).await {
                return Err(match req {
                    Some(request) => ExchangeError::NotSent {
                        request: Box::new(request),
                        source,
                    },
                    None => ExchangeError::failed(source),
                });
            }
            // Without a streamed body, the bytes written are the whole request,
            // and the request itself is intact for another member.
            let (resend, kept) = match req {
                Some(req) if streamed => {
                    match Box::pin(self.send_body(req.into_body(), framing, body_idle)).await {
                        Ok(()) => {}
                        // The client's side broke: drop (close) the member
                        // connection now, mid-request, rather than wait for an
                        // answer to a request that will never be complete.
                        Err(BodyError::Client(source)) => {
                            return Err(ExchangeError::ClientBody { source });
                        }
                        Err(BodyError::Member(e)) => {
                            // The member may have answered early (413, 401)
                            // and closed; its answer is still worth reading.
                            // If there is none, the send error is the story.
                            tracing::debug!(error = %e, "request body not sent whole");
                            return match Box::pin(self.read_head(head_only)).await {
                                Ok(Some(resp)) => Ok(resp.not_reusable()),
                                _ => Err(ExchangeError::failed(e)),
                            };
                        }
                    }
                    (None, None)
                }
                req => (Some(out), req.map(Box::new)),
            };
            match self.read_head(head_only).await {
                Ok(Some(resp)) => Ok(resp),
                Ok(None) => Err(ExchangeError::ClosedBeforeResponse {
                    resend,
                    request: kept,
                }),
                Err(ExchangeError::Failed { source, .. }) => Err(ExchangeError::Failed {
                    source,
                    request: kept,
                }),
                Err(other) => Err(other),
            }
        }
    }

    async fn send_body(
        &mut self,
        mut body: RequestBody,
        framing: RequestFraming,
        idle: Duration,
    ) -> Result<(), BodyError> {
        let mut sent: u64 = 0;
        loop {
            let frame = match tokio::time::timeout(idle, body.frame()).await {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(_) => return Err(BodyError::Client(ClientBodyError::Idle(idle))),
            };
            let frame = frame.map_err(|e| BodyError::Client(ClientBodyError::Broken(e)))?;
            let Ok(data) = frame.into_data() else {
                // Trailers: not forwarded (hyper's server hands them over
                // only for chunked bodies, and members rarely use them).
                continue;
            };
            if data.is_empty() {
                continue;
            }
            sent += data.len() as u64;
            match framing {
                RequestFraming::Chunked => {
                    let mut out = BytesMut::with_capacity(data.len() + 16);
                    h1::encode_chunk(&mut out, &data);
                    self.io.write_all(&out).await.map_err(BodyError::Member)?;
                }
                RequestFraming::Length(n) => {
                    if sent > n {
                        return Err(BodyError::Client(ClientBodyError::Broken(
                            "request body longer than its Content-Length".into(),
                        )));
                    }
                    self.io.write_all(&data).await.map_err(BodyError::Member)?;
                }
                RequestFraming::None => {
                    return Err(BodyError::Client(ClientBodyError::Broken(
                        "request body where none was framed".into(),
                    )));
                }
            }
        }
        match framing {
            RequestFraming::Chunked => self
                .io
                .write_all(h1::LAST_CHUNK)
                .await
                .map_err(BodyError::Member)?,
            RequestFraming::Length(n) if sent != n => {
                return Err(BodyError::Client(ClientBodyError::Broken(
                    "request body shorter than its Content-Length".into(),
                )));
            }
            _ => {}
        }
        Ok(())
    }

    /// Reads until a final response head is parsed (1xx other than 101 are
    /// skipped). `None`: the member closed before sending a byte.
    async fn read_head(
        mut self,
        head_only: bool,
    ) -> Result<Option<Response<MemberBody>>, ExchangeError> {
        let mut got_any = false;
        loop {
            if !self.buf.is_empty() {
                got_any = true;
                match h1::parse_response_head(&mut self.buf).map_err(ExchangeError::failed)? {
                    Some(head)
                        if head.status.is_informational()
                            && head.status != StatusCode::SWITCHING_PROTOCOLS =>
                    {
                        continue;
                    }
                    Some(head) => return self.into_response(head, head_only).map(Some),
                    None if self.buf.len() > h1::MAX_HEAD => {
                        return Err(ExchangeError::failed(format!(
                            "member response head larger than {} bytes",
                            h1::MAX_HEAD
                        )));
                    }
                    None => {}
                }
            }
            self.buf.reserve(READ_CHUNK);
            let n = self
                .io
                .read_buf(&mut self.buf)
                .await
                .map_err(ExchangeError::failed)?;
            if n == 0 {
                return if got_any {
                    Err(ExchangeError::failed(
                        "member closed the connection mid-head",
                    ))
                } else {
                    Ok(None)
                };
            }
        }
    }

    fn into_response(
        self,
        mut head: ResponseHead,
        head_only: bool,
    ) -> Result<Response<MemberBody>, ExchangeError> {
        let (framing, keep_alive) = head.body_framing(head_only);
        let ResponseHead {
            status,
            version,
            headers,
            ..
        } = head;
        let mut resp = Response::new(MemberBody::empty());
        *resp.status_mut() = status;
        *resp.version_mut() = version;
        if status == StatusCode::SWITCHING_PROTOCOLS {
            let upgraded = Upgraded {
                io: self.io,
                read_ahead: self.buf.freeze(),
            };
            *resp.headers_mut() = headers;
            resp.extensions_mut()
                .insert(UpgradeSlot(std::sync::Arc::new(std::sync::Mutex::new(
                    Some(upgraded),
                ))));
            return Ok(resp);
        }
        *resp.headers_mut() = headers;
        *resp.body_mut() = MemberBody {
            conn: Some(self),
            framing,
            keep_alive,
        };
        Ok(resp)
    }
}

/// How the request body is framed towards the member: none, its exact
/// length when known, else chunked.
fn request_framing(req: &Request<RequestBody>) -> RequestFraming {
    let body = req.body();
    if body.is_end_stream() {
        return RequestFraming::None;
    }
    match body.size_hint().exact() {
        Some(n) => RequestFraming::Length(n),
        None => RequestFraming::Chunked,
    }
}

/// The request line and fields, with the body's framing.
fn encode_head(req: &Request<RequestBody>, framing: RequestFraming, out: &mut BytesMut) {
    let target = req
        .uri()
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    h1::encode_request_head(req.method(), target, req.headers(), framing, out);
}

/// A member's response body; the connection goes back to the pool when the
/// body ends cleanly and both sides allow reuse.
#[derive(Debug)]
pub(crate) struct MemberBody {
    conn: Option<MemberConn>,
    framing: BodyFraming,
    keep_alive: bool,
}

/// What a finished body leaves behind.
pub(crate) enum Ended {
    /// The connection, fit for the pool.
    Reusable(MemberConn),
    /// Not reusable (or already taken).
    Closed,
}

impl MemberBody {
    fn empty() -> Self {
        Self {
            conn: None,
            framing: BodyFraming::Done,
            keep_alive: false,
        }
    }

    /// The connection, if the body is complete and reuse is allowed.
    pub(crate) fn take_if_done(&mut self) -> Ended {
        // A body of length 0 (204, 304, HEAD) may be dropped unpolled.
        self.settle();
        if self.framing == BodyFraming::Done
            && self.keep_alive
            && let Some(conn) = self.conn.take()
        {
            return Ended::Reusable(conn);
        }
        Ended::Closed
    }

    /// Marks a zero-length body complete: there is nothing to read.
    fn settle(&mut self) {
        if self.framing == BodyFraming::Length(0) {
            self.framing = BodyFraming::Done;
        }
    }

    /// The whole body if it is framed by a length of at most `limit` bytes,
    /// read now; the connection then comes back through [`Self::take_if_done`].
    pub(crate) async fn read_small(&mut self, limit: u64) -> Option<Result<Bytes, BoxError>> {
        self.settle();
        let BodyFraming::Length(n) = self.framing else {
            return None;
        };
        if n > limit {
            return None;
        }
        let conn = self.conn.as_mut()?;
        let want = usize::try_from(n).ok()?;
        while conn.buf.len() < want {
            conn.buf.reserve(want - conn.buf.len());
            match conn.io.read_buf(&mut conn.buf).await {
                Ok(0) => {
                    self.conn = None;
                    return Some(Err("member closed the connection mid-body".into()));
                }
                Ok(_) => {}
                Err(e) => {
                    self.conn = None;
                    return Some(Err(e.into()));
                }
            }
        }
        let data = conn.buf.split_to(want).freeze();
        self.framing = BodyFraming::Done;
        Some(Ok(data))
    }

    fn poll_read_more(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some(conn) = self.conn.as_mut() else {
            return Poll::Ready(Err(io::Error::other("member connection gone")));
        };
        conn.buf.reserve(READ_CHUNK);
        conn.io.poll_read_buf(cx, &mut conn.buf)
    }

    fn buffered(&self) -> usize {
        self.conn.as_ref().map_or(0, |c| c.buf.len())
    }

    fn take_buffered(&mut self, at_most: usize) -> Bytes {
        self.conn.as_mut().map_or_else(Bytes::new, |c| {
            let n = at_most.min(c.buf.len());
            c.buf.split_to(n).freeze()
        })
    }

    fn fail(&mut self, why: impl Into<BoxError>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.conn = None;
        self.framing = BodyFraming::Done;
        self.keep_alive = false;
        Poll::Ready(Some(Err(why.into())))
    }

    /// Steps the chunked decoder over buffered bytes; `Ok(None)`: needs more.
    fn step_chunked(&mut self, state: ChunkState) -> Result<Option<ChunkStep>, BoxError> {
        let Some(conn) = self.conn.as_mut() else {
            return Err("member connection gone".into());
        };
        h1::step_chunked(state, &mut conn.buf).map_err(Into::into)
    }
}

impl Body for MemberBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        this.settle();
        loop {
            match this.framing {
                BodyFraming::Done => return Poll::Ready(None),
                BodyFraming::Length(left) => {
                    if this.buffered() > 0 {
                        let n = usize::try_from(left).unwrap_or(usize::MAX);
                        let data = this.take_buffered(n);
                        let left = left - data.len() as u64;
                        this.framing = if left == 0 {
                            BodyFraming::Done
                        } else {
                            BodyFraming::Length(left)
                        };
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    match ready!(this.poll_read_more(cx)) {
                        Ok(0) => return this.fail("member closed the connection mid-body"),
                        Ok(_) => {}
                        Err(e) => return this.fail(e),
                    }
                }
                BodyFraming::Close => {
                    if this.buffered() > 0 {
                        let data = this.take_buffered(usize::MAX);
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    match ready!(this.poll_read_more(cx)) {
                        Ok(0) => {
                            this.framing = BodyFraming::Done;
                            this.conn = None;
                            return Poll::Ready(None);
                        }
                        Ok(_) => {}
                        Err(e) => return this.fail(e),
                    }
                }
                BodyFraming::Chunked(state) => match this.step_chunked(state) {
                    Ok(Some(ChunkStep::State(next))) => this.framing = BodyFraming::Chunked(next),
                    Ok(Some(ChunkStep::Data(data, next))) => {
                        this.framing = BodyFraming::Chunked(next);
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    Ok(Some(ChunkStep::End)) => {
                        this.framing = BodyFraming::Done;
                        return Poll::Ready(None);
                    }
                    Ok(None) => match ready!(this.poll_read_more(cx)) {
                        Ok(0) => return this.fail("member closed the connection mid-body"),
                        Ok(_) => {}
                        Err(e) => return this.fail(e),
                    },
                    Err(e) => return this.fail(e),
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.framing, BodyFraming::Done | BodyFraming::Length(0))
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing {
            BodyFraming::Done => SizeHint::with_exact(0),
            BodyFraming::Length(n) => SizeHint::with_exact(n),
            _ => SizeHint::default(),
        }
    }
}

/// Marks a response's connection as not to be reused.
trait NotReusable {
    fn not_reusable(self) -> Self;
}

impl NotReusable for Response<MemberBody> {
    fn not_reusable(mut self) -> Self {
        self.body_mut().keep_alive = false;
        self
    }
}
