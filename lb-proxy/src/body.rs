//! The body types that flow through the stack: what goes to a member
//! ([`RequestBody`]) and what comes back to the client ([`ProxyBody`]).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use crate::member::Member;
use crate::member_conn::MemberBody;
use crate::pool;
use crate::send_watch;
use std::sync::Arc;

/// Boxed error carried by bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a client's request body could not be read: the client's fault, never
/// the member's.
#[derive(Debug, thiserror::Error)]
pub enum ClientBodyError {
    /// Malformed framing (a bad chunk line, trailer section or length), or the
    /// client closed mid-body.
    #[error("malformed or incomplete request body: {0}")]
    Broken(BoxError),
    /// No byte of body for this long (`body_read_timeout`).
    #[error("no request body for {0:?}")]
    Idle(std::time::Duration),
}

impl ClientBodyError {
    /// The answer, when the client can still get one: 400 or 408, and the
    /// connection closed (the rest of what it sends is not trusted).
    pub(crate) fn refusal(&self) -> http::Response<ProxyBody> {
        match self {
            Self::Broken(_) => refusal(
                http::StatusCode::BAD_REQUEST,
                "malformed or incomplete request body\n",
            ),
            Self::Idle(_) => refusal(
                http::StatusCode::REQUEST_TIMEOUT,
                "request body timed out\n",
            ),
        }
    }
}

/// A request body: the client's streamed body, or a fixed one (a replayed
/// bodiless request, a test, a health check, a body read ahead whole).
#[derive(Debug)]
pub enum RequestBody {
    /// Streamed from the client connection.
    Incoming(Incoming),
    /// Fixed bytes (`None` or empty = no body).
    Full(Option<Bytes>),
    /// The part read ahead before a member was chosen
    /// ([`crate::layer::read_ahead`]), then the rest as it streams. Boxed:
    /// the rare case (bodies over 16 KiB) should not grow every request.
    ReadAhead(Box<ReadAheadBody>),
}

/// A body of which the start was read ahead.
#[derive(Debug)]
pub struct ReadAheadBody {
    /// Bytes already read (taken by the first poll).
    pub head: Option<Bytes>,
    /// The rest of the client's body.
    pub rest: Incoming,
}

impl RequestBody {
    /// An empty body.
    pub fn empty() -> Self {
        Self::Full(None)
    }
}

impl From<Bytes> for RequestBody {
    fn from(b: Bytes) -> Self {
        Self::Full(Some(b))
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Self::Incoming(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
            Self::Full(data) => Poll::Ready(
                data.take()
                    .filter(|d| !d.is_empty())
                    .map(|d| Ok(Frame::data(d))),
            ),
            Self::ReadAhead(b) => match b.head.take() {
                Some(d) => Poll::Ready(Some(Ok(Frame::data(d)))),
                None => Pin::new(&mut b.rest).poll_frame(cx).map_err(Into::into),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Incoming(b) => b.is_end_stream(),
            Self::Full(data) => data.as_ref().is_none_or(Bytes::is_empty),
            Self::ReadAhead(b) => b.head.is_none() && b.rest.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Incoming(b) => b.size_hint(),
            Self::Full(data) => SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64)),
            Self::ReadAhead(b) => {
                let read = b.head.as_ref().map_or(0, |d| d.len() as u64);
                let rest = b.rest.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(rest.lower() + read);
                if let Some(upper) = rest.upper() {
                    hint.set_upper(upper + read);
                }
                hint
            }
        }
    }
}

/// Counts a request in flight on a member until dropped (response finished,
/// client gone, or timeout), so `bybusyness` and stats stay right on every path.
#[derive(Debug)]
pub(crate) struct InFlight(pub(crate) Arc<Member>);

impl InFlight {
    pub(crate) fn new(member: Arc<Member>) -> Self {
        member.begin();
        Self(member)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// A member's response body; when it ends cleanly (and both sides allow it)
/// the connection goes back to the member's pool, otherwise it is closed.
#[derive(Debug)]
pub struct BackendBody {
    body: MemberBody,
    in_flight: InFlight,
}

impl BackendBody {
    pub(crate) fn new(body: MemberBody, in_flight: InFlight) -> Self {
        // hyper owes the new response its first poll (`send_timeout`).
        send_watch::owe();
        Self { body, in_flight }
    }

    fn release(&mut self) {
        pool::release(&self.in_flight.0, &mut self.body);
    }
}

impl Drop for BackendBody {
    fn drop(&mut self) {
        self.release();
    }
}

/// The response body the proxy sends to clients.
#[derive(Debug)]
pub enum ProxyBody {
    /// Streamed from a member.
    Backend(BackendBody),
    /// Produced by the proxy itself (errors, rejections).
    Local(Option<Bytes>),
    /// Streamed by a local service (a file from a directory route).
    Stream(http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>),
}

impl ProxyBody {
    /// A body with fixed content.
    pub fn local(text: &'static str) -> Self {
        Self::Local(Some(Bytes::from_static(text.as_bytes())))
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Self::Backend(b) => {
                let polled = Pin::new(&mut b.body).poll_frame(cx);
                match &polled {
                    Poll::Ready(None) => b.release(),
                    Poll::Ready(Some(Ok(frame))) => {
                        if let Some(data) = frame.data_ref() {
                            b.in_flight.0.add_traffic(data.len() as u64);
                        }
                        if b.body.is_end_stream() {
                            b.release();
                        }
                    }
                    _ => {}
                }
                owed_after(&polled, b.body.is_end_stream());
                polled.map_err(Into::into)
            }
            Self::Local(data) => Poll::Ready(
                data.take()
                    .filter(|d| !d.is_empty())
                    .map(|d| Ok(Frame::data(d))),
            ),
            Self::Stream(b) => {
                let polled = Pin::new(&mut *b).poll_frame(cx);
                owed_after(&polled, b.is_end_stream());
                polled
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Backend(b) => b.body.is_end_stream(),
            Self::Local(data) => data.as_ref().is_none_or(Bytes::is_empty),
            Self::Stream(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Backend(b) => b.body.size_hint(),
            Self::Local(data) => SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64)),
            Self::Stream(b) => b.size_hint(),
        }
    }
}

/// Whether hyper owes a streamed body its next poll (`send_timeout`): after
/// a piece that was not the last. Waiting on the source (`Pending`) and
/// the end owe nothing.
fn owed_after<T, E>(polled: &Poll<Option<Result<T, E>>>, ended: bool) {
    if matches!(polled, Poll::Ready(Some(Ok(_)))) && !ended {
        send_watch::owe();
    } else {
        send_watch::settle();
    }
}

/// A refusal of a request the proxy will not read further: a local response
/// with `Connection: close`, so the client connection ends after it (RFC 9112
/// §6.3, §9.6: what follows a malformed request cannot be trusted).
pub(crate) fn refusal(status: http::StatusCode, text: &'static str) -> http::Response<ProxyBody> {
    let mut resp = local_response(status, text);
    resp.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    resp
}

/// A response made by the proxy itself, with a short text body.
pub(crate) fn local_response(
    status: http::StatusCode,
    text: &'static str,
) -> http::Response<ProxyBody> {
    let mut resp = http::Response::new(ProxyBody::local(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
