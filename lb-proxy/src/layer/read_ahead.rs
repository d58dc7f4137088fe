//! Reads the start of a request body before a member is chosen, as
//! Apache's mod_proxy_http does by default (it reads up to 16 KiB, or the
//! whole body if shorter, before it connects to the backend).
//!
//! What it buys:
//! - a malformed body (a bad chunk size or line, an oversized trailer
//!   section, a body the client cut short) is answered 400 and no member
//!   connection is ever opened for it; a member never sees a head whose
//!   body will not follow;
//! - a client that sends its (small) body slowly or not at all ties up no
//!   member: it waits here, and after `body_read_timeout` without a byte it
//!   gets 408 (Apache's `RequestReadTimeout body=`);
//! - a small body goes to the member with the head in one write, framed by
//!   `Content-Length`.
//!
//! A body longer than [`READ_AHEAD_LIMIT`] is streamed once that much has
//! arrived: what comes later is checked as it streams (`member_conn`), and a
//! malformed or stalled rest then aborts the member exchange and closes both
//! connections.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::future::Either;
use http::{Request, Response};
use http_body::Body;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use tower::{Layer, Service};

use crate::body::{ClientBodyError, ProxyBody, ReadAheadBody, RequestBody};

/// Most bytes read ahead (Apache: 16 KiB less one byte).
pub const READ_AHEAD_LIMIT: usize = 16 * 1024;

/// Layer for [`ReadAhead`].
#[derive(Debug, Clone, Copy)]
pub struct ReadAheadLayer {
    idle_timeout: Duration,
}

impl ReadAheadLayer {
    /// Gives up (408) after `idle_timeout` without a byte of body.
    pub fn new(idle_timeout: Duration) -> Self {
        Self { idle_timeout }
    }
}

impl<S> Layer<S> for ReadAheadLayer {
    type Service = ReadAhead<S>;
    fn layer(&self, inner: S) -> ReadAhead<S> {
        ReadAhead {
            idle_timeout: self.idle_timeout,
            inner,
        }
    }
}

/// Reads the start of a request body, then calls the inner service.
#[derive(Debug, Clone)]
pub struct ReadAhead<S> {
    idle_timeout: Duration,
    inner: S,
}

/// The outcome of reading ahead.
#[derive(Debug)]
pub enum Ahead {
    /// The whole body.
    Whole(Bytes),
    /// What had arrived (possibly nothing), and the rest to stream.
    Partial(Option<Bytes>, Incoming),
}

/// The bytes read so far, kept as one `Bytes` while there is one frame.
#[derive(Debug, Default)]
struct Collected {
    first: Option<Bytes>,
    more: Option<BytesMut>,
}

impl Collected {
    fn len(&self) -> usize {
        self.more
            .as_ref()
            .map_or_else(|| self.first.as_ref().map_or(0, Bytes::len), BytesMut::len)
    }

    fn push(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        match (&mut self.more, self.first.take()) {
            (Some(more), _) => more.extend_from_slice(&data),
            (None, None) => self.first = Some(data),
            (None, Some(first)) => {
                let mut more = BytesMut::with_capacity(first.len() + data.len());
                more.extend_from_slice(&first);
                more.extend_from_slice(&data);
                self.more = Some(more);
            }
        }
    }

    fn into_bytes(self) -> Option<Bytes> {
        match self.more {
            Some(more) => Some(more.freeze()),
            None => self.first,
        }
    }
}

/// Reads `body` until it ends or `limit` bytes have arrived, waiting at
/// most `idle_timeout` for each frame.
///
/// # Errors
/// The body is malformed or cut short ([`ClientBodyError::Broken`]), or
/// stalled ([`ClientBodyError::Idle`]).
pub async fn read_ahead(
    mut body: Incoming,
    limit: usize,
    idle_timeout: Duration,
) -> Result<Ahead, ClientBodyError> {
    let mut read = Collected::default();
    while read.len() < limit {
        if body.is_end_stream() {
            return Ok(Ahead::Whole(read.into_bytes().unwrap_or_default()));
        }
        match tokio::time::timeout(idle_timeout, body.frame()).await {
            Err(_) => return Err(ClientBodyError::Idle(idle_timeout)),
            Ok(None) => return Ok(Ahead::Whole(read.into_bytes().unwrap_or_default())),
            Ok(Some(Err(e))) => return Err(ClientBodyError::Broken(e.into())),
            // Trailers are not forwarded (member_conn drops them too).
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    read.push(data);
                }
            }
        }
    }
    Ok(Ahead::Partial(read.into_bytes(), body))
}

impl<S> Service<Request<RequestBody>> for ReadAhead<S>
where
    S: Service<Request<RequestBody>, Response = Response<ProxyBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
{
    type Response = Response<ProxyBody>;
    type Error = S::Error;
    type Future = Either<
        S::Future,
        Pin<Box<dyn Future<Output = Result<Response<ProxyBody>, S::Error>> + Send>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<RequestBody>) -> Self::Future {
        let streamed = matches!(req.body(), RequestBody::Incoming(b) if !b.is_end_stream());
        if !streamed {
            return Either::Left(self.inner.call(req));
        }
        // The inner service was made ready for this call; a clone takes its
        // place for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (parts, body) = req.into_parts();
        let RequestBody::Incoming(body) = body else {
            return Either::Left(inner.call(Request::from_parts(parts, body)));
        };
        let idle_timeout = self.idle_timeout;
        Either::Right(Box::pin(async move {
            let body = match read_ahead(body, READ_AHEAD_LIMIT, idle_timeout).await {
                Ok(Ahead::Whole(data)) => RequestBody::Full(Some(data)),
                Ok(Ahead::Partial(head, rest)) => {
                    RequestBody::ReadAhead(Box::new(ReadAheadBody { head, rest }))
                }
                Err(e) => {
                    tracing::debug!(error = %e, "request body refused before any member was chosen");
                    return Ok(e.refusal());
                }
            };
            inner.call(Request::from_parts(parts, body)).await
        }))
    }
}
